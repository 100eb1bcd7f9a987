//! Definite assignment: which reads of a local variable may run before it has a value.
//!
//! CPython raises `UnboundLocalError` when a function reads a local before assigning it (or
//! after `del`). Checking every read at run time would tax the hottest instructions (a register
//! read is free today), so this pass proves most reads safe at compile time and code generation
//! emits an `Op::CheckBound` only on the others, the *possibly unbound* reads. A variable with
//! such a read starts its life unbound (`Op::Unbind` at frame entry, or where its comprehension
//! starts); every other register keeps starting as `None`, so a function without possibly
//! unbound reads compiles exactly as before.
//!
//! The analysis is the classic forward "definitely assigned" data flow over the structured AST:
//! a state is the set of variables assigned on every path to the current point, and joins
//! intersect. Ask has no `:=`, so only statements change the state. Instead of iterating a loop
//! to a fixed point, its head gets the state before the loop minus every variable the loop may
//! unbind (`del`, the end of `except … as x`) — assignments only ever add — which is the fixed
//! point or a safe under-approximation of it, in one linear pass. The same argument gives the
//! state where an exception handler starts (the state before the `try` minus what the body may
//! unbind) and where a `finally` body runs on an exceptional or early exit.
//!
//! Captured variables (cells) are shared between frames, so their state in an inner frame
//! depends on when that frame's closure was made: a free variable counts as assigned on entry
//! when it is definitely assigned at every place where the closure is created and no scope ever
//! deletes it. Otherwise the inner frame checks its reads (until it assigns the variable itself).
//! A cell that some scope deletes is checked on every read, in every frame.
//!
//! Reads are identified by the address of their `Name` expression (the code generator walks the
//! same, unmoved tree, as with [`ScopeTree::scope_of`]); a node compiled twice (a `finally` body)
//! gets the union of both analyses, which is what both copies need.

use std::collections::{HashMap, HashSet};

use crate::ast::*;
use crate::scope::{ScopeId, ScopeKind, ScopeTree, SymKind, CLASS_CELL};

/// Which error a failed check raises (CPython 3.11 has two wordings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckKind {
    /// A variable of the running function (`UnboundLocalError: cannot access local variable`).
    Local,
    /// A variable of an enclosing function, read from an inner function, comprehension or class
    /// body (`NameError: cannot access free variable … in enclosing scope`).
    Free,
}

/// The result of the analysis for one module.
#[derive(Debug, Default)]
pub struct Flow {
    /// Reads (and `del`/augmented-assignment targets) that need a run-time check, by address of
    /// their `Name` expression.
    checks: HashMap<usize, CheckKind>,
    /// Variables, by defining scope and name, whose storage must hold the unbound marker until
    /// their first assignment because some read of them is checked.
    unbound: HashMap<ScopeId, HashSet<String>>,
}

impl Flow {
    /// The check the read `e` (a `Name` expression) needs, if any.
    pub fn check_of(&self, e: &Expr) -> Option<CheckKind> {
        if self.checks.is_empty() {
            return None;
        }
        self.checks.get(&(e as *const Expr as usize)).copied()
    }

    /// Must the variable `name` defined by `scope` start unbound (rather than `None`)?
    pub fn starts_unbound(&self, scope: ScopeId, name: &str) -> bool {
        self.unbound.get(&scope).is_some_and(|s| s.contains(name))
    }

    fn flag(&mut self, e: &Expr, kind: CheckKind, owner: ScopeId, name: &str) {
        self.checks.insert(e as *const Expr as usize, kind);
        let set = self.unbound.entry(owner).or_default();
        if !set.contains(name) {
            set.insert(name.to_string());
        }
    }
}

/// Analyse every frame of `module` (its scopes already resolved into `tree`).
pub fn analyze(module: &Module, tree: &ScopeTree) -> Flow {
    let mut shared = Shared { tree, flow: Flow::default(), entry_ok: HashMap::new(), deleted: HashSet::new(), queued: HashSet::new() };
    collect_deleted(tree, 0, &module.body, &mut shared.deleted);
    let mut queue: Vec<(ScopeId, Body<'_>)> = vec![(0, Body::Stmts(&module.body))];
    let mut i = 0;
    // Parents before children: every place that creates a closure of a frame lies in its parent,
    // so a frame's entry state is complete when its turn comes.
    while i < queue.len() {
        let (frame, body) = queue[i];
        let mut an = Analyzer::new(&mut shared, frame);
        an.run(body);
        queue.extend(an.children);
        i += 1;
    }
    shared.flow
}

/// What a frame runs.
#[derive(Clone, Copy)]
enum Body<'a> {
    Stmts(&'a [Stmt]),
    Expr(&'a Expr),
    GenExp(&'a Expr, &'a [Comprehension]),
    /// A `decorator` block's factory: it creates the wrapper (scope, body) on entry.
    Factory(ScopeId, &'a [Stmt]),
}

/// State shared by the analyses of all frames of a module.
struct Shared<'t> {
    tree: &'t ScopeTree,
    flow: Flow,
    /// Per frame, per free variable: assigned at every place a closure of the frame is created.
    entry_ok: HashMap<ScopeId, HashMap<String, bool>>,
    /// Cells (defining scope, name) that some scope deletes (`del`, `except … as`).
    deleted: HashSet<(ScopeId, String)>,
    /// Frames already queued for analysis.
    queued: HashSet<ScopeId>,
}

/// The set of variables definitely assigned at a program point (bit i = variable i).
#[derive(Clone, Debug)]
struct State {
    bits: Vec<u64>,
    /// Unreachable code: everything counts as assigned (the identity of `meet`).
    dead: bool,
}

impl State {
    fn empty() -> State {
        State { bits: Vec::new(), dead: false }
    }
    fn dead() -> State {
        State { bits: Vec::new(), dead: true }
    }
    fn has(&self, i: usize) -> bool {
        self.dead || self.bits.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
    }
    fn set(&mut self, i: usize) {
        if self.bits.len() <= i / 64 {
            self.bits.resize(i / 64 + 1, 0);
        }
        self.bits[i / 64] |= 1 << (i % 64);
    }
    fn clear(&mut self, i: usize) {
        if let Some(w) = self.bits.get_mut(i / 64) {
            *w &= !(1 << (i % 64));
        }
    }
    fn clear_all(&mut self, vars: &[usize]) {
        for &i in vars {
            self.clear(i);
        }
    }
    /// Intersection (the join of two paths).
    fn meet(&mut self, o: &State) {
        if o.dead {
            return;
        }
        if self.dead {
            *self = o.clone();
            return;
        }
        for (i, w) in self.bits.iter_mut().enumerate() {
            *w &= o.bits.get(i).copied().unwrap_or(0);
        }
    }
}

/// A tracked variable as seen from the frame being analysed.
#[derive(Clone, Copy)]
struct Var {
    idx: usize,
    /// The scope whose name resolution bound it here (a scope of this frame).
    scope: ScopeId,
    /// A free variable of this frame (an upvalue).
    upval: bool,
    /// The scope that defines the variable (differs from `scope` for upvalues).
    owner: ScopeId,
    /// A deleted cell: every read is checked.
    always: bool,
}

struct LoopCtx {
    /// States at the `break`s (met together).
    breaks: State,
    /// `blocks.len()` when the loop started.
    depth: usize,
}

/// Analysis of one frame (its own scopes and the inline comprehension and class scopes in it).
struct Analyzer<'s, 't, 'a> {
    sh: &'s mut Shared<'t>,
    frame: ScopeId,
    /// Active scopes, innermost last.
    scopes: Vec<ScopeId>,
    vars: HashMap<ScopeId, HashMap<String, Var>>,
    nvars: usize,
    state: State,
    loops: Vec<LoopCtx>,
    /// What leaving each enclosing `finally` body or named `except` clause unbinds on a
    /// `break` (innermost last).
    blocks: Vec<Vec<usize>>,
    /// `finally` bodies being analysed twice, nested (bounds the doubling).
    fin_depth: usize,
    /// Child frames found (queued after this one).
    children: Vec<(ScopeId, Body<'a>)>,
}

/// Nesting of `finally` bodies beyond which they are analysed once, conservatively.
const MAX_PRECISE_FINALLY: usize = 6;

impl<'s, 't, 'a> Analyzer<'s, 't, 'a> {
    fn new(sh: &'s mut Shared<'t>, frame: ScopeId) -> Self {
        Analyzer {
            sh,
            frame,
            scopes: vec![frame],
            vars: HashMap::new(),
            nvars: 0,
            state: State::empty(),
            loops: Vec::new(),
            blocks: Vec::new(),
            fin_depth: 0,
            children: Vec::new(),
        }
    }

    fn tree(&self) -> &'t ScopeTree {
        self.sh.tree
    }

    fn run(&mut self, body: Body<'a>) {
        let tree = self.tree();
        let sc = &tree.scopes[self.frame];
        // Parameters are assigned on entry; free variables when every creation site says so.
        for p in &sc.params {
            if let Some(v) = self.var(p) {
                self.state.set(v.idx);
            }
        }
        for name in &sc.frees {
            let ok = self.sh.entry_ok.get(&self.frame).and_then(|m| m.get(name)).copied().unwrap_or(true);
            if ok {
                if let Some(v) = self.var(name) {
                    if v.upval && !v.always {
                        self.state.set(v.idx);
                    }
                }
            }
        }
        match body {
            Body::Stmts(b) => self.stmts(b),
            Body::Expr(e) => self.expr(e),
            Body::GenExp(elt, gens) => {
                // The first iterable was evaluated by the creator (it is the hidden parameter).
                self.comp_clauses(gens, true);
                self.expr(elt);
            }
            Body::Factory(wrapper, b) => self.site(wrapper, Body::Stmts(b)),
        }
    }

    // ------------------------------------------------------------------ variables

    /// The tracked variable `name` refers to in the innermost scope (None: a global, a class
    /// attribute, or the class cell, which are never locals).
    fn var(&mut self, name: &str) -> Option<Var> {
        if name == CLASS_CELL {
            return None;
        }
        let tree = self.tree();
        let mut s = *self.scopes.last().expect("scope");
        let upval = loop {
            match tree.scopes[s].kind_of(name) {
                SymKind::Local | SymKind::Cell => break false,
                SymKind::Free => break true,
                SymKind::Enclosing(a) if a != s => s = a,
                _ => return None,
            }
        };
        if let Some(v) = self.vars.get(&s).and_then(|m| m.get(name)) {
            return Some(*v);
        }
        let owner = if upval { owner_of_free(tree, s, name)? } else { s };
        let always = tree.scopes[owner].kind_of(name) == SymKind::Cell && self.sh.deleted.contains(&(owner, name.to_string()));
        let v = Var { idx: self.nvars, scope: s, upval, owner, always };
        self.nvars += 1;
        self.vars.entry(s).or_default().insert(name.to_string(), v);
        Some(v)
    }

    fn assign(&mut self, name: &str) {
        if let Some(v) = self.var(name) {
            self.state.set(v.idx);
        }
    }

    fn unassign(&mut self, name: &str) {
        if let Some(v) = self.var(name) {
            self.state.clear(v.idx);
        }
    }

    /// A read of `name` by the expression `e`: flag it when it may see no value.
    fn read(&mut self, e: &Expr, name: &str) {
        let Some(v) = self.var(name) else { return };
        if self.state.has(v.idx) && !v.always {
            return;
        }
        let inner = *self.scopes.last().expect("scope");
        let kind = if v.upval || v.scope != inner { CheckKind::Free } else { CheckKind::Local };
        self.sh.flow.flag(e, kind, v.owner, name);
    }

    /// Is the variable a closure created here captures as `name` definitely assigned? Follows
    /// `Codegen::capture_of` (class scopes are skipped).
    fn capture_assigned(&mut self, name: &str) -> bool {
        if name == CLASS_CELL {
            return true;
        }
        let tree = self.tree();
        let mut s = *self.scopes.last().expect("scope");
        loop {
            let sc = &tree.scopes[s];
            if sc.kind != ScopeKind::Class {
                if let Some(sym) = sc.lookup(name) {
                    match sym.kind {
                        SymKind::Cell | SymKind::Free => {
                            let saved = std::mem::replace(&mut self.scopes, vec![s]);
                            let v = self.var(name);
                            self.scopes = saved;
                            return v.is_some_and(|v| self.state.has(v.idx) && !v.always);
                        }
                        SymKind::Enclosing(a) if a != s => {
                            s = a;
                            continue;
                        }
                        _ => {}
                    }
                }
            }
            if s == self.frame {
                return true;
            }
            match sc.parent {
                Some(p) => s = p,
                None => return true,
            }
        }
    }

    /// A closure of frame `child` is created here.
    fn site(&mut self, child: ScopeId, body: Body<'a>) {
        let tree = self.tree();
        for name in &tree.scopes[child].frees {
            let ok = self.capture_assigned(name);
            let e = self.sh.entry_ok.entry(child).or_default().entry(name.clone()).or_insert(true);
            *e &= ok;
        }
        if self.sh.queued.insert(child) {
            self.children.push((child, body));
        }
    }

    /// Variables that `body` may unbind (for loop heads, handlers and `finally`).
    fn kills(&mut self, body: &[Stmt], out: &mut Vec<usize>) {
        for s in body {
            match &s.kind {
                StmtKind::If { body, orelse, .. } | StmtKind::While { body, orelse, .. } | StmtKind::For { body, orelse, .. } => {
                    self.kills(body, out);
                    self.kills(orelse, out);
                }
                StmtKind::Try { body, handlers, orelse, finalbody } => {
                    self.kills(body, out);
                    for h in handlers {
                        if let Some(n) = &h.name {
                            out.extend(self.var(&n.name).map(|v| v.idx));
                        }
                        self.kills(&h.body, out);
                    }
                    self.kills(orelse, out);
                    self.kills(finalbody, out);
                }
                StmtKind::Del(targets) => {
                    for t in targets {
                        self.del_kills(t, out);
                    }
                }
                _ => {}
            }
        }
    }

    fn del_kills(&mut self, t: &Expr, out: &mut Vec<usize>) {
        match &t.kind {
            ExprKind::Name(n) => out.extend(self.var(n).map(|v| v.idx)),
            ExprKind::Tuple(items) | ExprKind::List(items) => {
                for i in items {
                    self.del_kills(i, out);
                }
            }
            _ => {}
        }
    }

    // ------------------------------------------------------------------ statements

    fn stmts(&mut self, body: &'a [Stmt]) {
        for s in body {
            self.stmt(s);
        }
    }

    fn stmt(&mut self, s: &'a Stmt) {
        match &s.kind {
            StmtKind::Expr(e) => self.expr(e),
            StmtKind::Assign { targets, value } => {
                // `f = lambda n: … f(n - 1) …`: nothing runs between creating the closure and
                // binding the names, so the lambda may count them as assigned (its defaults
                // are read before).
                if let ExprKind::Lambda(params, body) = &value.kind {
                    if targets.iter().all(|t| matches!(t.kind, ExprKind::Name(_))) {
                        self.defaults(params);
                        for t in targets {
                            self.target(t);
                        }
                        if let Some(sid) = self.tree().scope_of(value) {
                            self.site(sid, Body::Expr(body));
                        }
                        return;
                    }
                }
                self.expr(value);
                for t in targets {
                    self.target(t);
                }
            }
            StmtKind::AugAssign { target, value, .. } => {
                self.expr(value);
                match &target.kind {
                    ExprKind::Name(n) => {
                        self.read(target, n);
                        self.assign(n);
                    }
                    _ => self.expr(target),
                }
            }
            StmtKind::If { test, body, orelse } => {
                self.expr(test);
                let before = self.state.clone();
                self.stmts(body);
                let then = std::mem::replace(&mut self.state, before);
                self.stmts(orelse);
                self.state.meet(&then);
            }
            StmtKind::While { test, body, orelse } => {
                let mut k = Vec::new();
                self.kills(body, &mut k);
                self.state.clear_all(&k);
                let head = self.state.clone();
                self.expr(test);
                let breaks = self.loop_body(body);
                let always = matches!(test.kind, ExprKind::True) || matches!(test.kind, ExprKind::Int(n) if n != 0);
                self.state = if always { State::dead() } else { head };
                self.stmts(orelse);
                self.state.meet(&breaks);
            }
            StmtKind::For { target, iter, body, orelse } => {
                self.expr(iter);
                let mut k = Vec::new();
                self.kills(body, &mut k);
                self.state.clear_all(&k);
                let head = self.state.clone();
                self.target(target);
                let breaks = self.loop_body(body);
                self.state = head;
                self.stmts(orelse);
                self.state.meet(&breaks);
            }
            StmtKind::Break => {
                if let Some(lp) = self.loops.last() {
                    let mut s = self.state.clone();
                    for b in &self.blocks[lp.depth..] {
                        s.clear_all(b);
                    }
                    if let Some(lp) = self.loops.last_mut() {
                        lp.breaks.meet(&s);
                    }
                }
                self.state = State::dead();
            }
            StmtKind::Continue => self.state = State::dead(),
            StmtKind::Pass | StmtKind::Global(_) | StmtKind::Nonlocal(_) | StmtKind::Include(_) => {}
            StmtKind::Return(value) => {
                if let Some(v) = value {
                    self.expr(v);
                }
                self.state = State::dead();
            }
            StmtKind::Raise { exc, cause } => {
                for e in [exc, cause].into_iter().flatten() {
                    self.expr(e);
                }
                self.state = State::dead();
            }
            StmtKind::Assert { test, msg } => {
                self.expr(test);
                if let Some(m) = msg {
                    self.expr(m);
                }
            }
            StmtKind::Del(targets) => {
                for t in targets {
                    self.del_target(t);
                }
            }
            StmtKind::FuncDef(fd) => {
                self.decorators(&fd.decorators);
                self.defaults(&fd.params);
                let in_class = self.tree().scopes[*self.scopes.last().expect("scope")].kind == ScopeKind::Class;
                let name = if in_class && (fd.name.name == "init" || fd.name.name == "_init") { "__init__" } else { fd.name.name.as_str() };
                // Without decorators nothing runs between creating the function and binding its
                // name, so a recursive inner function sees its own name as assigned. A decorator
                // could call the function before the name is bound.
                let bound_first = fd.decorators.is_empty();
                if bound_first {
                    self.assign(name);
                }
                if let Some(sid) = self.tree().scope_of(&**fd) {
                    self.site(sid, Body::Stmts(&fd.body));
                }
                self.assign(name);
            }
            StmtKind::ClassDef(cd) => {
                self.decorators(&cd.decorators);
                for b in &cd.bases {
                    self.expr(b);
                }
                self.class_body(self.tree().scope_of(&**cd), &cd.body);
                self.assign(&cd.name.name);
            }
            StmtKind::Model(m) => {
                self.decorators(&m.decorators);
                self.class_body(self.tree().scope_of(&**m), &m.body);
                self.assign(&m.name.name);
            }
            StmtKind::Try { body, handlers, orelse, finalbody } => self.try_stmt(body, handlers, orelse, finalbody),
            StmtKind::Import { module, alias } => {
                let bind = alias.as_ref().map(|a| a.name.as_str()).unwrap_or(module.parts[0].as_str());
                self.assign(bind);
            }
            StmtKind::ImportFrom { names, .. } => {
                for (n, alias) in names {
                    self.assign(&alias.as_ref().unwrap_or(n).name);
                }
            }
            StmtKind::Extend { module, alias } => {
                let bind = alias.as_ref().map(|a| a.name.clone()).unwrap_or_else(|| module.parts.last().cloned().unwrap_or_default());
                self.assign(&bind);
            }
            StmtKind::Route(r) => {
                self.decorators(&r.decorators);
                if let Some(sid) = self.tree().scope_of(&**r) {
                    self.site(sid, Body::Stmts(&r.body));
                }
            }
            StmtKind::DecoratorDef(d) => {
                let tree = self.tree();
                if let Some(f) = tree.scope_of(&**d) {
                    if let Some(w) = tree.decorator_wrapper(f) {
                        self.site(f, Body::Factory(w, &d.body));
                    }
                }
                self.assign(&d.name.name);
            }
        }
    }

    /// A loop body; returns the state of its `break`s.
    fn loop_body(&mut self, body: &'a [Stmt]) -> State {
        self.loops.push(LoopCtx { breaks: State::dead(), depth: self.blocks.len() });
        self.stmts(body);
        self.loops.pop().map(|l| l.breaks).unwrap_or_else(State::dead)
    }

    fn class_body(&mut self, sid: Option<ScopeId>, body: &'a [Stmt]) {
        let Some(sid) = sid else { return };
        self.scopes.push(sid);
        self.stmts(body);
        self.scopes.pop();
    }

    fn try_stmt(&mut self, body: &'a [Stmt], handlers: &'a [ExceptHandler], orelse: &'a [Stmt], finalbody: &'a [Stmt]) {
        let entry = self.state.clone();
        let has_finally = !finalbody.is_empty();
        if has_finally {
            let mut k = Vec::new();
            self.kills(finalbody, &mut k);
            self.blocks.push(k);
        }
        let mut body_kills = Vec::new();
        self.kills(body, &mut body_kills);
        self.stmts(body);
        self.stmts(orelse);
        if !handlers.is_empty() {
            let mut out = self.state.clone();
            // An exception may leave the body anywhere: only what it cannot unbind is certain.
            let mut at_raise = entry.clone();
            at_raise.clear_all(&body_kills);
            for h in handlers {
                self.state = at_raise.clone();
                if let Some(t) = &h.typ {
                    self.expr(t);
                }
                let name_var = h.name.as_ref().and_then(|n| self.var(&n.name));
                if let Some(v) = name_var {
                    self.state.set(v.idx);
                }
                // CPython unbinds the name when the clause ends (also on `break`/`continue`).
                self.blocks.push(name_var.map(|v| vec![v.idx]).unwrap_or_default());
                self.stmts(&h.body);
                self.blocks.pop();
                if let Some(v) = name_var {
                    self.state.clear(v.idx);
                }
                out.meet(&self.state);
            }
            self.state = out;
        }
        if has_finally {
            self.blocks.pop();
            // On an exception, `return`, `break` or `continue` the finally body may start
            // anywhere in the statement: from the state before it minus what it may unbind.
            let mut k = Vec::new();
            for h in handlers {
                if let Some(n) = &h.name {
                    k.extend(self.var(&n.name).map(|v| v.idx));
                }
                self.kills(&h.body, &mut k);
            }
            self.kills(body, &mut k);
            self.kills(orelse, &mut k);
            let mut early = entry;
            early.clear_all(&k);
            let normal = std::mem::replace(&mut self.state, early);
            if self.fin_depth >= MAX_PRECISE_FINALLY {
                // Deeply nested: one conservative pass. Its result is also a safe state after
                // the statement (the transfer is monotone and `early` is below `normal`).
                drop(normal);
                self.stmts(finalbody);
                return;
            }
            self.fin_depth += 1;
            self.stmts(finalbody);
            // The normal path, for the state after the statement.
            self.state = normal;
            self.stmts(finalbody);
            self.fin_depth -= 1;
        }
    }

    fn del_target(&mut self, t: &'a Expr) {
        match &t.kind {
            ExprKind::Name(n) => {
                self.read(t, n);
                self.unassign(n);
            }
            ExprKind::Tuple(items) | ExprKind::List(items) => {
                for i in items {
                    self.del_target(i);
                }
            }
            _ => self.target_parts(t),
        }
    }

    /// An assignment target.
    fn target(&mut self, t: &'a Expr) {
        match &t.kind {
            ExprKind::Name(n) => self.assign(n),
            ExprKind::Tuple(items) | ExprKind::List(items) => {
                for i in items {
                    self.target(i);
                }
            }
            ExprKind::Starred(inner) => self.target(inner),
            _ => self.target_parts(t),
        }
    }

    /// The reads of an attribute or subscript target.
    fn target_parts(&mut self, t: &'a Expr) {
        match &t.kind {
            ExprKind::Attr(obj, _) => self.expr(obj),
            ExprKind::Subscript(obj, idx) => {
                self.expr(obj);
                self.expr(idx);
            }
            _ => self.expr(t),
        }
    }

    fn decorators(&mut self, ds: &'a [Decorator]) {
        for d in ds {
            self.expr(&d.expr);
        }
    }

    fn defaults(&mut self, p: &'a Params) {
        for a in p.args.iter().chain(p.kwonly.iter()) {
            if let Some(d) = &a.default {
                self.expr(d);
            }
        }
    }

    // ------------------------------------------------------------------ expressions

    fn expr(&mut self, e: &'a Expr) {
        match &e.kind {
            ExprKind::Name(n) => self.read(e, n),
            ExprKind::Lambda(params, body) => {
                self.defaults(params);
                if let Some(sid) = self.tree().scope_of(e) {
                    self.site(sid, Body::Expr(body));
                }
            }
            ExprKind::ListComp(elt, gens) | ExprKind::SetComp(elt, gens) => self.comprehension(e, gens, &[elt]),
            ExprKind::DictComp(k, v, gens) => self.comprehension(e, gens, &[k, v]),
            ExprKind::GenExp(elt, gens) => {
                if let Some(g) = gens.first() {
                    self.expr(&g.iter);
                }
                if let Some(sid) = self.tree().scope_of(e) {
                    self.site(sid, Body::GenExp(elt, gens));
                }
            }
            other => other.for_each_operand(&mut |x| self.expr(x)),
        }
    }

    /// An inline comprehension: its variables start unbound every time it runs.
    fn comprehension(&mut self, e: &'a Expr, gens: &'a [Comprehension], elts: &[&'a Expr]) {
        if let Some(g) = gens.first() {
            self.expr(&g.iter);
        }
        let Some(sid) = self.tree().scope_of(e) else { return };
        self.scopes.push(sid);
        let tree = self.tree();
        for sym in &tree.scopes[sid].symbols {
            if matches!(sym.kind, SymKind::Local | SymKind::Cell) {
                self.unassign(&sym.name);
            }
        }
        self.comp_clauses(gens, true);
        for el in elts {
            self.expr(el);
        }
        self.scopes.pop();
    }

    /// The `for … in … if …` clauses (the first iterable already evaluated when `skip_first`).
    fn comp_clauses(&mut self, gens: &'a [Comprehension], skip_first: bool) {
        for (i, g) in gens.iter().enumerate() {
            if i > 0 || !skip_first {
                self.expr(&g.iter);
            }
            self.target(&g.target);
            for c in &g.ifs {
                self.expr(c);
            }
        }
    }
}

/// The scope defining the free variable `name` of frame `frame` (walking outwards like
/// `scope::resolve_free`).
fn owner_of_free(tree: &ScopeTree, frame: ScopeId, name: &str) -> Option<ScopeId> {
    let mut s = tree.scopes[frame].parent?;
    loop {
        let sc = &tree.scopes[s];
        if sc.kind != ScopeKind::Class || name == CLASS_CELL {
            if let Some(sym) = sc.lookup(name) {
                match sym.kind {
                    SymKind::Local | SymKind::Cell => return Some(s),
                    SymKind::Enclosing(a) if a != s => {
                        s = a;
                        continue;
                    }
                    SymKind::Free => {}
                    _ => return None,
                }
            }
        }
        s = sc.parent?;
    }
}

/// Cells that some statement deletes (`del x`, or the end of `except … as x`), found in every
/// scope of the module: such a cell can lose its value behind another frame's back.
fn collect_deleted(tree: &ScopeTree, sid: ScopeId, body: &[Stmt], out: &mut HashSet<(ScopeId, String)>) {
    let note = |name: &str, out: &mut HashSet<(ScopeId, String)>| {
        let mut s = sid;
        let owner = loop {
            match tree.scopes[s].kind_of(name) {
                SymKind::Cell => break Some(s),
                SymKind::Free => break owner_of_free(tree, s, name),
                SymKind::Enclosing(a) if a != s => s = a,
                _ => break None,
            }
        };
        if let Some(o) = owner {
            if tree.scopes[o].kind_of(name) == SymKind::Cell {
                out.insert((o, name.to_string()));
            }
        }
    };
    fn del_names<'e>(t: &'e Expr, names: &mut Vec<&'e str>) {
        match &t.kind {
            ExprKind::Name(n) => names.push(n),
            ExprKind::Tuple(items) | ExprKind::List(items) => {
                for i in items {
                    del_names(i, names);
                }
            }
            _ => {}
        }
    }
    for s in body {
        match &s.kind {
            StmtKind::If { body, orelse, .. } | StmtKind::While { body, orelse, .. } | StmtKind::For { body, orelse, .. } => {
                collect_deleted(tree, sid, body, out);
                collect_deleted(tree, sid, orelse, out);
            }
            StmtKind::Try { body, handlers, orelse, finalbody } => {
                collect_deleted(tree, sid, body, out);
                for h in handlers {
                    if let Some(n) = &h.name {
                        note(&n.name, out);
                    }
                    collect_deleted(tree, sid, &h.body, out);
                }
                collect_deleted(tree, sid, orelse, out);
                collect_deleted(tree, sid, finalbody, out);
            }
            StmtKind::Del(targets) => {
                let mut names = Vec::new();
                for t in targets {
                    del_names(t, &mut names);
                }
                for n in names {
                    note(n, out);
                }
            }
            StmtKind::FuncDef(fd) => {
                if let Some(c) = tree.scope_of(&**fd) {
                    collect_deleted(tree, c, &fd.body, out);
                }
            }
            StmtKind::ClassDef(cd) => {
                if let Some(c) = tree.scope_of(&**cd) {
                    collect_deleted(tree, c, &cd.body, out);
                }
            }
            StmtKind::Model(m) => {
                if let Some(c) = tree.scope_of(&**m) {
                    collect_deleted(tree, c, &m.body, out);
                }
            }
            StmtKind::Route(r) => {
                if let Some(c) = tree.scope_of(&**r) {
                    collect_deleted(tree, c, &r.body, out);
                }
            }
            StmtKind::DecoratorDef(d) => {
                if let Some(w) = tree.scope_of(&**d).and_then(|f| tree.decorator_wrapper(f)) {
                    collect_deleted(tree, w, &d.body, out);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names of the checked reads of `src`, in source order, with their kind.
    fn checked(src: &str) -> Vec<(String, CheckKind)> {
        let m = crate::parser::parse_module(src, "t.ask").expect("parses");
        let tree = crate::scope::resolve(&m, "t.ask", &mut Vec::new()).expect("resolves");
        let flow = analyze(&m, &tree);
        let mut out = Vec::new();
        fn walk_e(e: &Expr, flow: &Flow, out: &mut Vec<(u32, String, CheckKind)>) {
            if let ExprKind::Name(n) = &e.kind {
                if let Some(k) = flow.check_of(e) {
                    out.push((e.span.lo, n.clone(), k));
                }
            }
        }
        // Only the shapes the tests use: names directly in statements and call arguments.
        fn walk(body: &[Stmt], flow: &Flow, out: &mut Vec<(u32, String, CheckKind)>) {
            for s in body {
                match &s.kind {
                    StmtKind::Expr(e) | StmtKind::Return(Some(e)) => {
                        walk_e(e, flow, out);
                        if let ExprKind::Call { args, .. } = &e.kind {
                            for a in args {
                                if let Arg::Pos(x) = a {
                                    walk_e(x, flow, out);
                                }
                            }
                        }
                    }
                    StmtKind::AugAssign { target, .. } => walk_e(target, flow, out),
                    StmtKind::Del(ts) => ts.iter().for_each(|t| walk_e(t, flow, out)),
                    StmtKind::If { body, orelse, .. } | StmtKind::While { body, orelse, .. } | StmtKind::For { body, orelse, .. } => {
                        walk(body, flow, out);
                        walk(orelse, flow, out);
                    }
                    StmtKind::Try { body, handlers, orelse, finalbody } => {
                        walk(body, flow, out);
                        handlers.iter().for_each(|h| walk(&h.body, flow, out));
                        walk(orelse, flow, out);
                        walk(finalbody, flow, out);
                    }
                    StmtKind::FuncDef(f) => walk(&f.body, flow, out),
                    _ => {}
                }
            }
        }
        let mut v = Vec::new();
        walk(&m.body, &flow, &mut v);
        v.sort_by_key(|x| x.0);
        out.extend(v.into_iter().map(|(_, n, k)| (n, k)));
        out
    }

    fn names(src: &str) -> Vec<String> {
        checked(src).into_iter().map(|(n, _)| n).collect()
    }

    #[test]
    fn definitely_assigned_reads_need_no_check() {
        assert!(names("def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n").is_empty());
        assert!(names("def f(xs):\n    s = 0\n    for x in xs:\n        s += x\n    return s\n").is_empty());
        assert!(names("def f():\n    try:\n        v = 1\n    finally:\n        w = 2\n    return v + w\n").is_empty());
        assert!(names("def f(a):\n    if a:\n        b = 1\n    else:\n        b = 2\n    return b\n").is_empty());
        // Module-level names are globals: never checked here.
        assert!(names("print(x)\nx = 1\n").is_empty());
    }

    #[test]
    fn possibly_unbound_reads_are_checked() {
        assert_eq!(names("def f(a):\n    if a:\n        b = 1\n    return b\n"), ["b"]);
        assert_eq!(names("def f(xs):\n    for x in xs:\n        pass\n    return x\n"), ["x"]);
        // Assigned later in the loop body, read earlier: unbound on the first iteration.
        assert_eq!(names("def f():\n    while True:\n        print(p)\n        p = 1\n"), ["p"]);
        assert_eq!(names("def f():\n    x = 1\n    del x\n    return x\n"), ["x"]);
        assert_eq!(names("def f():\n    del y\n"), ["y"]);
        assert_eq!(names("def f():\n    n += 1\n"), ["n"]);
        // `except … as e` unbinds `e` when the clause ends.
        assert_eq!(names("def f():\n    try:\n        pass\n    except E as e:\n        print(e)\n    return e\n"), ["e"]);
        // A handler can start before anything in the body ran.
        assert_eq!(names("def f():\n    try:\n        r = g()\n    except E:\n        return r\n"), ["r"]);
    }

    #[test]
    fn free_variables_depend_on_where_the_closure_is_made() {
        let src = "def f():\n    def g():\n        return v\n    v = 1\n    return g()\n";
        assert_eq!(checked(src), [("v".to_string(), CheckKind::Free)]);
        assert!(names("def f():\n    v = 1\n    def g():\n        return v\n    return g()\n").is_empty());
        // A recursive inner function sees its own name (no decorator could call it early).
        assert!(names("def f():\n    def g(n):\n        return g(n - 1)\n    return g\n").is_empty());
        // A cell that another frame may delete is checked everywhere.
        let src = "def f():\n    v = 1\n    def g():\n        nonlocal v\n        del v\n    g()\n    return v\n";
        assert_eq!(checked(src), [("v".to_string(), CheckKind::Free), ("v".to_string(), CheckKind::Local)]);
    }
}
