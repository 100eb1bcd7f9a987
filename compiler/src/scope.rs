//! Scope resolution: decides, before any code is generated, where every name of a module lives.
//!
//! Python's rules, applied to Ask's extra constructs:
//! - a name bound anywhere in a function (assignment, loop/with/except target, import, `def`,
//!   `class`, `del`, parameter) is local to that function for the whole body; locals live in
//!   registers;
//! - a local that an inner function, lambda or generator expression refers to becomes a *cell*
//!   (the inner function captures the cell, so both see later assignments);
//! - `global` / `nonlocal` redirect a name; module-level names and names found nowhere are global
//!   slots (unresolved ones fall back to the built-ins at run time);
//! - class bodies bind class attributes, which the methods do not see;
//! - list/set/dict comprehensions have their own scope but run inline in the enclosing frame
//!   (their variables get registers of that frame, so they do not leak and cost no call), while
//!   generator expressions are lazy and therefore run in a frame of their own;
//! - route handlers are functions whose parameters are the path parameters; a `decorator name:`
//!   block is a function taking the decorated function and returning a wrapper whose body is the
//!   block (`inner()` calls the decorated function with the wrapper's own arguments).
//!
//! The resolver runs in two passes: [`Collector`] records per scope what is bound, declared and
//! used; then every symbol is resolved top-down, marking captured locals as cells and threading
//! captured names through the frames in between. Scopes are keyed by the address of their AST
//! node, so the code generator (which walks the same, unmoved tree) finds them again.

use std::collections::HashMap;

use crate::ast::*;
use crate::diagnostic::Diagnostic;

pub type ScopeId = usize;

/// Hidden parameter of a `decorator` block's outer function: the decorated function.
pub const DECO_FN: &str = " fn";
/// Hidden `*args` / `**kwargs` of a `decorator` block's wrapper.
pub const DECO_ARGS: &str = " args";
pub const DECO_KWARGS: &str = " kwargs";
/// Hidden parameter of a generator expression: the already-evaluated first iterable.
pub const GEN_ITER: &str = " iter";
/// The implicit cell holding the class being defined (zero-argument `super()`).
pub const CLASS_CELL: &str = "__class__";

/// Ask built-in names that `ask check` warns about when a user binding shadows them.
pub const ASK_BUILTIN_NAMES: &[&str] = &[
    "body", "form", "args", "files", "req", "headers", "respond", "status", "auth", "env", "hash",
    "random", "mail", "db", "datetime", "request", "quick_set", "deep", "serialize", "require_keys",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeKind {
    Module,
    Function,
    Lambda,
    /// List/set/dict comprehension: inline in the enclosing frame.
    Comprehension,
    /// Generator expression: a frame of its own, run lazily.
    Generator,
    /// Class or model body: inline in the enclosing frame.
    Class,
    Route,
    /// The outer function of a `decorator` block (takes the decorated function).
    DecoratorFactory,
    /// The wrapper of a `decorator` block (its body is the block).
    DecoratorWrapper,
}

impl ScopeKind {
    /// Does code of this scope run in a frame of its own?
    pub fn is_frame(self) -> bool {
        !matches!(self, ScopeKind::Comprehension | ScopeKind::Class)
    }
}

/// Where a name lives, from the point of view of one scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymKind {
    /// A register of the frame (not captured by anyone).
    Local,
    /// A register of the frame holding a cell (captured by an inner frame).
    Cell,
    /// Captured from an enclosing frame: a register (filled at entry) holding the cell.
    Free,
    /// A module global slot (falls back to the built-ins when unset).
    Global,
    /// A class attribute being defined (class bodies only).
    ClassName,
    /// Same frame, bound by the given enclosing inline-or-frame scope: use its binding.
    Enclosing(ScopeId),
}

#[derive(Clone, Debug)]
pub struct Symbol {
    pub name: String,
    pub kind: SymKind,
    pub bound: bool,
    pub used: bool,
    pub param: bool,
    pub global_decl: bool,
    pub nonlocal_decl: bool,
    /// Where a `nonlocal` declaration named it (for error messages).
    pub decl_span: Span,
}

#[derive(Clone, Debug)]
pub struct Scope {
    pub kind: ScopeKind,
    pub name: String,
    pub parent: Option<ScopeId>,
    /// The frame scope whose code runs this scope (itself for frame scopes).
    pub frame: ScopeId,
    pub symbols: Vec<Symbol>,
    index: HashMap<String, usize>,
    /// Frame scopes: names captured from enclosing frames, in closure-environment order.
    pub frees: Vec<String>,
    /// Frame scopes: parameter names in order (positional, `*args`, keyword-only, `**kwargs`).
    pub params: Vec<String>,
    pub span: Span,
}

impl Scope {
    pub fn lookup(&self, name: &str) -> Option<&Symbol> {
        self.index.get(name).map(|&i| &self.symbols[i])
    }
    fn lookup_mut(&mut self, name: &str) -> Option<&mut Symbol> {
        match self.index.get(name) {
            Some(&i) => Some(&mut self.symbols[i]),
            None => None,
        }
    }
    fn sym(&mut self, name: &str) -> &mut Symbol {
        let i = match self.index.get(name) {
            Some(&i) => i,
            None => {
                self.symbols.push(Symbol {
                    name: name.to_string(),
                    kind: SymKind::Global,
                    bound: false,
                    used: false,
                    param: false,
                    global_decl: false,
                    nonlocal_decl: false,
                    decl_span: Span::default(),
                });
                self.index.insert(name.to_string(), self.symbols.len() - 1);
                self.symbols.len() - 1
            }
        };
        &mut self.symbols[i]
    }
    /// The resolved kind of `name` in this scope (`Global` when the scope never mentions it).
    pub fn kind_of(&self, name: &str) -> SymKind {
        self.lookup(name).map(|s| s.kind).unwrap_or(SymKind::Global)
    }
}

/// All scopes of one module.
#[derive(Debug, Default)]
pub struct ScopeTree {
    pub scopes: Vec<Scope>,
    by_node: HashMap<usize, ScopeId>,
}

impl ScopeTree {
    /// The scope created for an AST node (a `FuncDef`, `ClassDef`, `RouteDef`, `DecoratorDef`,
    /// `ModelDef` or a lambda/comprehension `Expr`), by address.
    pub fn scope_of<T>(&self, node: &T) -> Option<ScopeId> {
        self.by_node.get(&(node as *const T as usize)).copied()
    }
    /// The wrapper scope of a decorator block (the child of its factory scope).
    pub fn decorator_wrapper(&self, factory: ScopeId) -> Option<ScopeId> {
        // The wrapper is created right after its factory.
        let w = factory + 1;
        (w < self.scopes.len() && self.scopes[w].parent == Some(factory)).then_some(w)
    }
}

/// Resolve every scope of `module`. Errors (bad `nonlocal` and the like) come back as
/// diagnostics; warnings (shadowed Ask built-ins) are appended to `warnings`.
pub fn resolve(module: &Module, file: &str, warnings: &mut Vec<Diagnostic>) -> Result<ScopeTree, Vec<Diagnostic>> {
    let (tree, errors) = resolve_with_errors(module, file, warnings);
    if errors.is_empty() {
        Ok(tree)
    } else {
        Err(errors)
    }
}

/// Like [`resolve`], but always returns a complete tree (names in error resolve as globals), so
/// that code generation can still run and report further errors in the same pass.
pub fn resolve_with_errors(module: &Module, file: &str, warnings: &mut Vec<Diagnostic>) -> (ScopeTree, Vec<Diagnostic>) {
    let mut c = Collector { tree: ScopeTree::default(), cur: 0, file, errors: Vec::new(), warnings, class_stack: Vec::new() };
    let root = c.new_scope(ScopeKind::Module, "<module>", None, 0, Span::default());
    c.cur = root;
    c.stmts(&module.body);
    let Collector { mut tree, mut errors, .. } = c;
    resolve_all(&mut tree, file, &mut errors);
    (tree, errors)
}

/// Pass 1: what each scope binds, declares and uses.
struct Collector<'a> {
    tree: ScopeTree,
    cur: ScopeId,
    file: &'a str,
    errors: Vec<Diagnostic>,
    warnings: &'a mut Vec<Diagnostic>,
    /// Enclosing class scopes (for `super()`), innermost last.
    class_stack: Vec<ScopeId>,
}

impl<'a> Collector<'a> {
    fn new_scope(&mut self, kind: ScopeKind, name: &str, parent: Option<ScopeId>, node: usize, span: Span) -> ScopeId {
        let id = self.tree.scopes.len();
        let frame = if kind.is_frame() { id } else { parent.map(|p| self.tree.scopes[p].frame).unwrap_or(id) };
        self.tree.scopes.push(Scope {
            kind,
            name: name.to_string(),
            parent,
            frame,
            symbols: Vec::new(),
            index: HashMap::new(),
            frees: Vec::new(),
            params: Vec::new(),
            span,
        });
        if node != 0 {
            self.tree.by_node.insert(node, id);
        }
        id
    }

    fn bind(&mut self, name: &str, span: Span) {
        if ASK_BUILTIN_NAMES.contains(&name) || (name.starts_with('_') && ASK_BUILTIN_NAMES.contains(&&name[1..])) {
            self.warnings.push(Diagnostic::warning(
                self.file,
                span,
                format!("'{name}' shadows the Ask built-in of the same name"),
            ));
        }
        self.bind_quiet(name);
    }

    fn bind_quiet(&mut self, name: &str) {
        let cur = self.cur;
        self.tree.scopes[cur].sym(name).bound = true;
    }

    fn use_name(&mut self, name: &str) {
        let cur = self.cur;
        self.tree.scopes[cur].sym(name).used = true;
    }

    fn param(&mut self, name: &str, span: Span) {
        self.bind(name, span);
        let cur = self.cur;
        self.tree.scopes[cur].sym(name).param = true;
        self.tree.scopes[cur].params.push(name.to_string());
    }

    fn params(&mut self, p: &Params) {
        for a in &p.args {
            self.param(&a.name.name, a.name.span);
        }
        if let Some(v) = &p.vararg {
            self.param(&v.name, v.span);
        }
        for a in &p.kwonly {
            self.param(&a.name.name, a.name.span);
        }
        if let Some(k) = &p.kwarg {
            self.param(&k.name, k.span);
        }
    }

    fn defaults(&mut self, p: &Params) {
        for a in p.args.iter().chain(p.kwonly.iter()) {
            if let Some(d) = &a.default {
                self.expr(d);
            }
        }
    }

    fn with_scope(&mut self, id: ScopeId, f: impl FnOnce(&mut Self)) {
        let saved = self.cur;
        self.cur = id;
        f(self);
        self.cur = saved;
    }

    fn stmts(&mut self, body: &[Stmt]) {
        for s in body {
            self.stmt(s);
        }
    }

    fn target(&mut self, t: &Expr) {
        match &t.kind {
            ExprKind::Name(n) => self.bind(n, t.span),
            ExprKind::Tuple(items) | ExprKind::List(items) => {
                for i in items {
                    self.target(i);
                }
            }
            ExprKind::Starred(inner) => self.target(inner),
            _ => self.expr(t),
        }
    }

    fn decorators(&mut self, ds: &[Decorator]) {
        for d in ds {
            self.expr(&d.expr);
        }
    }

    fn stmt(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::Expr(e) => self.expr(e),
            StmtKind::Assign { targets, value } => {
                self.expr(value);
                for t in targets {
                    self.target(t);
                }
            }
            StmtKind::AugAssign { target, value, .. } => {
                self.expr(value);
                if let ExprKind::Name(n) = &target.kind {
                    self.use_name(n);
                    self.bind_quiet(n);
                } else {
                    self.expr(target);
                }
            }
            StmtKind::If { test, body, orelse } | StmtKind::While { test, body, orelse } => {
                self.expr(test);
                self.stmts(body);
                self.stmts(orelse);
            }
            StmtKind::For { target, iter, body, orelse } => {
                self.expr(iter);
                self.target(target);
                self.stmts(body);
                self.stmts(orelse);
            }
            StmtKind::Break | StmtKind::Continue | StmtKind::Pass => {}
            StmtKind::Return(e) => {
                if let Some(e) = e {
                    self.expr(e);
                }
            }
            StmtKind::FuncDef(f) => {
                self.decorators(&f.decorators);
                self.defaults(&f.params);
                let in_class = self.tree.scopes[self.cur].kind == ScopeKind::Class;
                let name = if in_class && (f.name.name == "init" || f.name.name == "_init") { "__init__" } else { f.name.name.as_str() };
                self.bind(name, f.name.span);
                let id = self.new_scope(ScopeKind::Function, &f.name.name, Some(self.cur), &**f as *const FuncDef as usize, f.span);
                self.with_scope(id, |c| {
                    c.params(&f.params);
                    c.stmts(&f.body);
                });
            }
            StmtKind::ClassDef(cd) => {
                self.decorators(&cd.decorators);
                for b in &cd.bases {
                    self.expr(b);
                }
                self.bind(&cd.name.name, cd.name.span);
                let id = self.new_scope(ScopeKind::Class, &cd.name.name, Some(self.cur), &**cd as *const ClassDef as usize, cd.span);
                self.class_body(id, &cd.body);
            }
            StmtKind::Model(m) => {
                self.decorators(&m.decorators);
                self.bind(&m.name.name, m.name.span);
                let id = self.new_scope(ScopeKind::Class, &m.name.name, Some(self.cur), &**m as *const ModelDef as usize, m.span);
                self.class_body(id, &m.body);
            }
            StmtKind::Try { body, handlers, orelse, finalbody } => {
                self.stmts(body);
                for h in handlers {
                    if let Some(t) = &h.typ {
                        self.expr(t);
                    }
                    if let Some(n) = &h.name {
                        self.bind(&n.name, n.span);
                    }
                    self.stmts(&h.body);
                }
                self.stmts(orelse);
                self.stmts(finalbody);
            }
            StmtKind::Raise { exc, cause } => {
                if let Some(e) = exc {
                    self.expr(e);
                }
                if let Some(c) = cause {
                    self.expr(c);
                }
            }
            StmtKind::Assert { test, msg } => {
                self.expr(test);
                if let Some(m) = msg {
                    self.expr(m);
                }
            }
            StmtKind::Del(targets) => {
                for t in targets {
                    match &t.kind {
                        ExprKind::Name(n) => {
                            self.bind_quiet(n);
                            self.use_name(n);
                        }
                        _ => self.target(t),
                    }
                }
            }
            StmtKind::Global(names) => {
                let cur = self.cur;
                for n in names {
                    let sym = self.tree.scopes[cur].sym(&n.name);
                    if sym.param {
                        self.errors.push(Diagnostic::error(self.file, n.span, format!("name '{}' is parameter and global", n.name)));
                    } else {
                        self.tree.scopes[cur].sym(&n.name).global_decl = true;
                    }
                }
            }
            StmtKind::Nonlocal(names) => {
                let cur = self.cur;
                let kind = self.tree.scopes[cur].kind;
                for n in names {
                    if kind == ScopeKind::Module {
                        self.errors.push(Diagnostic::error(self.file, n.span, "nonlocal declaration not allowed at module level"));
                        continue;
                    }
                    let sym = self.tree.scopes[cur].sym(&n.name);
                    if sym.param {
                        self.errors.push(Diagnostic::error(self.file, n.span, format!("name '{}' is parameter and nonlocal", n.name)));
                    } else {
                        sym.nonlocal_decl = true;
                        sym.decl_span = n.span;
                    }
                }
            }
            StmtKind::Import { module, alias } => {
                let name = alias.as_ref().map(|a| a.name.clone()).unwrap_or_else(|| module.parts[0].clone());
                self.bind_quiet(&name);
            }
            StmtKind::ImportFrom { names, .. } => {
                for (n, alias) in names {
                    let name = alias.as_ref().unwrap_or(n);
                    self.bind_quiet(&name.name);
                }
            }
            StmtKind::Include(_) => {}
            StmtKind::Extend { module, alias } => {
                let name = alias.as_ref().map(|a| a.name.clone()).unwrap_or_else(|| module.parts.last().cloned().unwrap_or_default());
                self.bind_quiet(&name);
            }
            StmtKind::Route(r) => {
                self.decorators(&r.decorators);
                let id = self.new_scope(ScopeKind::Route, &route_fn_name(r), Some(self.cur), &**r as *const RouteDef as usize, r.span);
                let params = ask_vm::route::parse_path_params(&r.path);
                self.with_scope(id, |c| {
                    match params {
                        Ok(ps) => {
                            for p in ps {
                                c.param(&p.name, r.path_span);
                            }
                        }
                        Err(msg) => c.errors.push(Diagnostic::error(c.file, r.path_span, msg)),
                    }
                    c.stmts(&r.body);
                });
            }
            StmtKind::DecoratorDef(d) => {
                self.bind(&d.name.name, d.name.span);
                let f = self.new_scope(ScopeKind::DecoratorFactory, &d.name.name, Some(self.cur), &**d as *const DecoratorDef as usize, d.span);
                let w = self.new_scope(ScopeKind::DecoratorWrapper, &d.name.name, Some(f), 0, d.span);
                self.with_scope(f, |c| c.param(DECO_FN, d.name.span));
                self.with_scope(w, |c| {
                    c.param(DECO_ARGS, d.name.span);
                    c.param(DECO_KWARGS, d.name.span);
                    c.use_name(DECO_FN);
                    c.stmts(&d.body);
                });
            }
        }
    }

    fn class_body(&mut self, id: ScopeId, body: &[Stmt]) {
        self.class_stack.push(id);
        self.with_scope(id, |c| c.stmts(body));
        self.class_stack.pop();
    }

    fn comprehension(&mut self, e: &Expr, kind: ScopeKind, gens: &[Comprehension], elts: &[&Expr]) {
        // The first iterable is evaluated in the enclosing scope.
        if let Some(g) = gens.first() {
            self.expr(&g.iter);
        }
        let name = match kind {
            ScopeKind::Generator => "<genexpr>",
            _ => match &e.kind {
                ExprKind::SetComp(..) => "<setcomp>",
                ExprKind::DictComp(..) => "<dictcomp>",
                _ => "<listcomp>",
            },
        };
        let id = self.new_scope(kind, name, Some(self.cur), e as *const Expr as usize, e.span);
        self.with_scope(id, |c| {
            if kind == ScopeKind::Generator {
                c.param(GEN_ITER, e.span);
            }
            for (i, g) in gens.iter().enumerate() {
                if i > 0 {
                    c.expr(&g.iter);
                }
                c.target(&g.target);
                for cond in &g.ifs {
                    c.expr(cond);
                }
            }
            for el in elts {
                c.expr(el);
            }
        });
    }

    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Name(n) => self.use_name(n),
            ExprKind::Call { func, args } if args.is_empty() && matches!(&func.kind, ExprKind::Name(n) if n == "super") => {
                self.note_super();
                self.expr(func);
            }
            ExprKind::Lambda(params, body) => {
                self.defaults(params);
                let id = self.new_scope(ScopeKind::Lambda, "<lambda>", Some(self.cur), e as *const Expr as usize, e.span);
                self.with_scope(id, |c| {
                    c.params(params);
                    c.expr(body);
                });
            }
            ExprKind::ListComp(elt, gens) | ExprKind::SetComp(elt, gens) => {
                self.comprehension(e, ScopeKind::Comprehension, gens, &[elt])
            }
            ExprKind::DictComp(k, v, gens) => self.comprehension(e, ScopeKind::Comprehension, gens, &[k, v]),
            ExprKind::GenExp(elt, gens) => self.comprehension(e, ScopeKind::Generator, gens, &[elt]),
            other => other.for_each_operand(&mut |x| self.expr(x)),
        }
    }

    /// A zero-argument `super()`: the innermost class gets a `__class__` cell, this scope uses it.
    fn note_super(&mut self) {
        if let Some(&cls) = self.class_stack.last() {
            let sym = self.tree.scopes[cls].sym(CLASS_CELL);
            sym.bound = true;
            self.use_name(CLASS_CELL);
        }
    }
}

/// The function name shown in tracebacks for a route handler: `GET /path`.
pub fn route_fn_name(r: &RouteDef) -> String {
    format!("{} {}", r.method.as_str(), r.path)
}

/// Pass 2: resolve every symbol of every scope (parents first: scopes are numbered in pre-order).
fn resolve_all(tree: &mut ScopeTree, file: &str, errors: &mut Vec<Diagnostic>) {
    for sid in 0..tree.scopes.len() {
        let names: Vec<(String, bool, bool, bool, Span)> = tree.scopes[sid]
            .symbols
            .iter()
            .map(|s| (s.name.clone(), s.global_decl, s.nonlocal_decl, s.bound, s.decl_span))
            .collect();
        let kind = tree.scopes[sid].kind;
        for (name, global_decl, nonlocal_decl, bound, decl_span) in names {
            let k = if global_decl || kind == ScopeKind::Module {
                SymKind::Global
            } else if nonlocal_decl {
                match resolve_free(tree, sid, &name, true) {
                    Some(k) => k,
                    None => {
                        errors.push(Diagnostic::error(file, decl_span, format!("no binding for nonlocal '{name}' found")));
                        SymKind::Global
                    }
                }
            } else if bound {
                if kind == ScopeKind::Class {
                    SymKind::ClassName
                } else {
                    SymKind::Local
                }
            } else {
                resolve_free(tree, sid, &name, false).unwrap_or(SymKind::Global)
            };
            // Later (descendant) scopes may still upgrade this to `Cell` or add `Free`
            // pass-throughs; ancestors are final by now.
            let sym = tree.scopes[sid].lookup_mut(&name).expect("symbol exists");
            sym.kind = k;
        }
    }
}

/// Find `name` in the scopes enclosing `sid`. Returns the kind for `sid`, after marking the
/// defining local as a cell and threading the name through the frames in between. `None` when
/// the search reaches the module (or a `global` declaration) with `nonlocal` set.
fn resolve_free(tree: &mut ScopeTree, sid: ScopeId, name: &str, nonlocal: bool) -> Option<SymKind> {
    let mut path_frames: Vec<ScopeId> = Vec::new();
    if tree.scopes[sid].kind.is_frame() {
        path_frames.push(sid);
    }
    let mut cur = tree.scopes[sid].parent;
    while let Some(a) = cur {
        let sa = &tree.scopes[a];
        let skip_class = sa.kind == ScopeKind::Class && name != CLASS_CELL;
        if !skip_class {
            if sa.kind == ScopeKind::Module {
                return if nonlocal { None } else { Some(SymKind::Global) };
            }
            if let Some(sym) = sa.lookup(name) {
                if sym.global_decl {
                    return if nonlocal { None } else { Some(SymKind::Global) };
                }
                let found = sym.bound || sym.nonlocal_decl || sym.kind == SymKind::Free;
                if found {
                    if path_frames.is_empty() {
                        return Some(SymKind::Enclosing(a));
                    }
                    let sym = tree.scopes[a].lookup_mut(name).expect("symbol exists");
                    if matches!(sym.kind, SymKind::Local | SymKind::ClassName) {
                        sym.kind = SymKind::Cell;
                    }
                    for &f in &path_frames {
                        let scope = &mut tree.scopes[f];
                        if !scope.frees.iter().any(|n| n == name) {
                            scope.frees.push(name.to_string());
                        }
                        if f != sid {
                            let s = scope.sym(name);
                            s.kind = SymKind::Free;
                        }
                    }
                    let frame = tree.scopes[sid].frame;
                    return Some(if frame == sid { SymKind::Free } else { SymKind::Enclosing(frame) });
                }
            }
        }
        if sa.kind.is_frame() {
            path_frames.push(a);
        }
        cur = sa.parent;
    }
    if nonlocal {
        None
    } else {
        Some(SymKind::Global)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> Expr {
        Expr::new(ExprKind::Name(n.into()), Span::default())
    }
    fn ident(n: &str) -> Ident {
        Ident { name: n.into(), span: Span::default() }
    }
    fn st(kind: StmtKind) -> Stmt {
        Stmt { kind, span: Span::default() }
    }

    #[test]
    fn closure_makes_cell_and_free() {
        // def outer():
        //     x = 1
        //     def inner(): return x
        let inner = FuncDef {
            name: ident("inner"),
            params: Params::default(),
            body: vec![st(StmtKind::Return(Some(name("x"))))],
            decorators: vec![],
            span: Span::default(),
        };
        let outer = FuncDef {
            name: ident("outer"),
            params: Params::default(),
            body: vec![
                st(StmtKind::Assign { targets: vec![name("x")], value: Expr::new(ExprKind::Int(1), Span::default()) }),
                st(StmtKind::FuncDef(Box::new(inner))),
            ],
            decorators: vec![],
            span: Span::default(),
        };
        let m = Module { body: vec![st(StmtKind::FuncDef(Box::new(outer)))], comments: vec![] };
        let mut w = Vec::new();
        let t = resolve(&m, "t.ask", &mut w).unwrap();
        assert_eq!(t.scopes[0].kind_of("outer"), SymKind::Global);
        assert_eq!(t.scopes[1].kind_of("x"), SymKind::Cell);
        assert_eq!(t.scopes[1].kind_of("inner"), SymKind::Local);
        assert_eq!(t.scopes[2].kind_of("x"), SymKind::Free);
        assert_eq!(t.scopes[2].frees, vec!["x".to_string()]);
    }
}
