//! Code generation: a resolved AST ([`crate::scope`]) → register bytecode ([`FuncProto`]).
//!
//! Register allocation: a function's parameters occupy `R[0..n]` (the VM's calling
//! convention), then every other local and cell of the function gets a fixed register; above them,
//! temporaries are allocated in a stack discipline (`alloc`, then `free_to(mark)` when the
//! expression is done). Inline scopes (comprehensions) take their variables from the temporary
//! area while they run. Class bodies run inline too, storing class attributes on the class object.
//!
//! Every emitted instruction gets the source location of the expression or statement being
//! compiled (1-based line and column), which the VM uses for tracebacks.
//!
//! `try`/`finally`: the VM has no "pending action" state, so leaving a protected region with
//! `return`/`break`/`continue` pops the handlers it leaves and inlines the `finally` bodies on
//! the way out (see [`Block`]). The normal and exceptional paths get their own copy of the
//! `finally` body too.
//!
//! Statements live here; expressions are in `codegen_expr.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use ask_vm::code::{Capture, Const, FuncProto, Loc, Params as ProtoParams};
use ask_vm::opcode::{Instr, Op};
use ask_vm::route::{DecoratorInfo, RouteInfo};

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::flow::{CheckKind, Flow};
use crate::scope::{self, ScopeId, ScopeKind, ScopeTree, SymKind, CLASS_CELL, DECO_FN};

/// Global slots of one module namespace (shared by the module's own file and its includes).
#[derive(Debug, Default, Clone)]
pub struct GlobalTable {
    pub names: Vec<String>,
    index: HashMap<String, u16>,
}

impl GlobalTable {
    pub fn slot(&mut self, name: &str) -> Option<u16> {
        if let Some(&s) = self.index.get(name) {
            return Some(s);
        }
        if self.names.len() >= u16::MAX as usize {
            return None;
        }
        let s = self.names.len() as u16;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), s);
        Some(s)
    }
}

/// What code generation asks of the multi-file driver (`compile.rs`).
pub trait Driver {
    /// Compile the file named by `include name` (relative to `from_file`) into a proto sharing
    /// `globals`. `None`: already included (nothing to run) or an error (reported by the driver).
    fn include(&mut self, from_file: &str, name: &DottedName, globals: &mut GlobalTable) -> Option<FuncProto>;
    /// Compile the module named by `extend name`; returns its index in `Program::modules`.
    fn extend(&mut self, from_file: &str, name: &DottedName) -> Option<u16>;
    /// Record a route; returns its index in `Program::routes`.
    fn add_route(&mut self, info: RouteInfo) -> u16;
}

/// One source file being compiled.
pub struct Unit<'a> {
    pub file: &'a str,
    pub file_idx: u32,
    pub module_idx: u32,
    pub src: &'a str,
    pub tree: &'a ScopeTree,
}

/// Where a name lives at the point of use.
#[derive(Clone, Copy, Debug)]
pub(crate) enum NameLoc {
    Reg(u8),
    CellReg(u8),
    Upval(u8),
    Global(u16),
    /// A class attribute of the class object in this register.
    ClassAttr(u8),
}

/// An active protected region or handler, innermost last (for `return`/`break`/`continue`).
#[derive(Clone, Copy)]
pub(crate) enum Block<'a> {
    /// A `SetupExcept` handler is active.
    Except,
    /// A `SetupFinally` handler is active; its body must run when leaving.
    Finally(&'a [Stmt]),
    /// Inside an `except` clause or the exception path of `finally` (a caught exception is on
    /// the VM's caught stack), with the clause's `as` name (unbound when the clause is left).
    Handler(Option<&'a Ident>),
}

pub(crate) struct LoopCtx {
    /// Code index control continues at for `continue`; `None` while it is not emitted yet (the
    /// foot of a `for` loop), in which case the jumps collect in `continues`.
    continue_target: Option<usize>,
    /// `Jmp`s to patch to the continue target once it is known.
    continues: Vec<usize>,
    /// `Jmp`s to patch to the loop's end.
    breaks: Vec<usize>,
    /// `blocks.len()` when the loop started.
    block_depth: usize,
}

/// Code generation state of one function (frame) being compiled.
pub(crate) struct FuncState<'a> {
    pub proto: FuncProto,
    const_map: HashMap<ConstKey, u32>,
    /// The frame scope.
    pub scope: ScopeId,
    /// Active scopes of this frame, innermost last (the frame scope first).
    pub scopes: Vec<ScopeId>,
    /// Registers of named variables (locals and cells) by (scope, name).
    pub regs: HashMap<ScopeId, HashMap<String, u8>>,
    /// Upvalue index by name.
    pub upvals: HashMap<String, u8>,
    /// Class object register of each active inline class scope.
    pub class_regs: HashMap<ScopeId, u8>,
    /// First free register.
    pub next: usize,
    /// Registers that hold named variables (never used as scratch destinations).
    pub var_reg: [bool; 256],
    pub loops: Vec<LoopCtx>,
    pub blocks: Vec<Block<'a>>,
    /// Span of the construct being compiled (for the line table).
    pub span: Span,
    /// Cache for line/column computation: (offset, loc).
    loc_cache: (u32, Loc),
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum ConstKey {
    None,
    Bool(bool),
    Int(i64),
    Float(u64),
    Big(String),
    Str(String),
    Bytes(Vec<u8>),
    Names(Vec<String>),
}

fn const_key(c: &Const) -> ConstKey {
    match c {
        Const::None => ConstKey::None,
        Const::Bool(b) => ConstKey::Bool(*b),
        Const::Int(i) => ConstKey::Int(*i),
        Const::Float(f) => ConstKey::Float(f.to_bits()),
        Const::BigInt(b) => ConstKey::Big(b.to_string()),
        Const::Str(s) => ConstKey::Str(s.clone()),
        Const::Bytes(b) => ConstKey::Bytes(b.clone()),
        Const::Names(n) => ConstKey::Names(n.clone()),
    }
}

/// Result of compiling a function body: the proto plus what the parent needs to build it.
pub(crate) struct Compiled {
    pub proto: FuncProto,
}

pub struct Codegen<'a, 'd> {
    pub(crate) unit: &'a Unit<'a>,
    pub(crate) globals: &'d mut GlobalTable,
    pub(crate) driver: &'d mut dyn Driver,
    pub(crate) diags: Vec<Diagnostic>,
    pub(crate) fs: Vec<FuncState<'a>>,
    /// Which reads of locals need a run-time check (see `flow.rs`).
    pub(crate) flow: Flow,
    lines: crate::diagnostic::LineIndex<'a>,
    /// Comment lines of the module (for nothing yet; route docs come from the parser).
    _comments: (),
}

/// Compile a module's top-level code into a proto (its nested functions inside).
pub fn compile_module(
    module: &Module,
    unit: &Unit<'_>,
    globals: &mut GlobalTable,
    driver: &mut dyn Driver,
) -> Result<FuncProto, Vec<Diagnostic>> {
    let lines = crate::diagnostic::LineIndex::new(unit.src);
    let flow = crate::flow::analyze(module, unit.tree);
    let mut cg = Codegen { unit, globals, driver, diags: Vec::new(), fs: Vec::new(), flow, lines, _comments: () };
    cg.begin_func(0, "<module>", "<module>", 1);
    cg.stmts(&module.body);
    cg.emit(Instr::abc(Op::ReturnNone, 0, 0, 0));
    let proto = cg.end_func().proto;
    if cg.diags.is_empty() {
        Ok(proto)
    } else {
        Err(cg.diags)
    }
}

impl<'a, 'd> Codegen<'a, 'd> {
    // ------------------------------------------------------------------ function states

    pub(crate) fn f(&mut self) -> &mut FuncState<'a> {
        self.fs.last_mut().expect("a function is being compiled")
    }
    pub(crate) fn fr(&self) -> &FuncState<'a> {
        self.fs.last().expect("a function is being compiled")
    }

    pub(crate) fn error(&mut self, span: Span, msg: impl Into<String>) {
        let d = Diagnostic::error(self.unit.file, span, msg);
        // One message per place is enough (e.g. a register overflow inside a long expression).
        if !self.diags.iter().any(|x| x.span == d.span && x.message == d.message) {
            self.diags.push(d);
        }
    }

    /// Start compiling the frame scope `scope`: parameters get `R[0..]`, then every other local
    /// and cell of the scope a register.
    pub(crate) fn begin_func(&mut self, scope: ScopeId, name: &str, qualname: &str, line: u32) {
        let tree = self.unit.tree;
        let sc = &tree.scopes[scope];
        let mut st = FuncState {
            proto: FuncProto {
                name: name.to_string(),
                qualname: qualname.to_string(),
                file: self.unit.file_idx,
                module: self.unit.module_idx,
                line,
                ..Default::default()
            },
            const_map: HashMap::new(),
            scope,
            scopes: vec![scope],
            regs: HashMap::new(),
            upvals: HashMap::new(),
            class_regs: HashMap::new(),
            next: 0,
            var_reg: [false; 256],
            loops: Vec::new(),
            blocks: Vec::new(),
            span: sc.span,
            loc_cache: (u32::MAX, Loc::default()),
        };
        for (i, f) in sc.frees.iter().enumerate() {
            st.upvals.insert(f.clone(), i as u8);
            st.proto.upval_names.push(f.clone());
        }
        self.fs.push(st);
        let mut cells = Vec::new();
        // Parameters first, in the VM's order.
        for p in &sc.params {
            let r = self.alloc_var(scope, p);
            if sc.kind_of(p) == SymKind::Cell {
                cells.push(r);
            }
        }
        if sc.kind != ScopeKind::Module {
            for sym in &sc.symbols {
                if sym.param {
                    continue;
                }
                if matches!(sym.kind, SymKind::Local | SymKind::Cell) {
                    let r = self.alloc_var(scope, &sym.name);
                    if sym.kind == SymKind::Cell {
                        cells.push(r);
                    }
                    // Registers start as None; a local with checked reads must start unbound
                    // (a cell: boxed unbound by the `MakeCell` below).
                    if self.flow.starts_unbound(scope, &sym.name) {
                        self.emit(Instr::abc(Op::Unbind, r, 0, 0));
                    }
                }
            }
        }
        for r in cells {
            self.emit(Instr::abc(Op::MakeCell, r, 0, 0));
        }
    }

    pub(crate) fn end_func(&mut self) -> Compiled {
        let st = self.fs.pop().expect("function state");
        let mut proto = st.proto;
        proto.nregs = proto.nregs.max(st.next as u16).max(1);
        let mut names: Vec<(u8, String)> = st.regs.values().flat_map(|m| m.iter().map(|(n, r)| (*r, n.clone()))).collect();
        names.sort();
        proto.local_names = names;
        Compiled { proto }
    }

    /// Give a named variable of `scope` a register of the current frame.
    pub(crate) fn alloc_var(&mut self, scope: ScopeId, name: &str) -> u8 {
        let r = self.alloc();
        let f = self.f();
        f.var_reg[r as usize] = true;
        f.regs.entry(scope).or_default().insert(name.to_string(), r);
        r
    }

    // ------------------------------------------------------------------ registers

    /// The register of a named variable of `sid` in the current frame.
    pub(crate) fn reg_of(&self, sid: ScopeId, name: &str) -> Option<u8> {
        self.fr().regs.get(&sid).and_then(|m| m.get(name)).copied()
    }

    pub(crate) fn alloc(&mut self) -> u8 {
        let span = self.fr().span;
        let f = self.f();
        if f.next >= 250 {
            self.error(span, "expression or function too complex (more than 250 registers needed)");
            return 249;
        }
        let r = f.next as u8;
        f.next += 1;
        if f.next as u16 > f.proto.nregs {
            f.proto.nregs = f.next as u16;
        }
        r
    }

    pub(crate) fn alloc_n(&mut self, n: usize) -> u8 {
        let first = self.fr().next;
        for _ in 0..n {
            self.alloc();
        }
        first.min(249) as u8
    }

    pub(crate) fn mark(&self) -> usize {
        self.fr().next
    }

    pub(crate) fn free_to(&mut self, mark: usize) {
        let f = self.f();
        for r in mark..f.next {
            f.var_reg[r.min(255)] = false;
        }
        f.next = mark;
    }

    pub(crate) fn is_var(&self, r: u8) -> bool {
        self.fr().var_reg[r as usize]
    }

    // ------------------------------------------------------------------ emitting

    fn loc_of(&mut self, offset: u32) -> Loc {
        if self.fr().loc_cache.0 == offset {
            return self.fr().loc_cache.1;
        }
        let (line, col) = self.lines.line_col(offset as usize);
        let loc = Loc { file: self.unit.file_idx, line: line as u32, col: col as u32 };
        self.f().loc_cache = (offset, loc);
        loc
    }

    pub(crate) fn line_of(&mut self, span: Span) -> u32 {
        self.loc_of(span.lo).line
    }

    pub(crate) fn emit(&mut self, i: Instr) -> usize {
        let lo = self.fr().span.lo;
        let loc = self.loc_of(lo);
        let f = self.f();
        f.proto.code.push(i);
        f.proto.locs.push(loc);
        f.proto.code.len() - 1
    }

    pub(crate) fn here(&self) -> usize {
        self.fr().proto.code.len()
    }

    /// Emit `op A B K[C]` (8-bit constant operand in C, with `ExtraArg` when needed).
    pub(crate) fn emit_abk(&mut self, op: Op, a: u8, b: u8, k: u32) {
        let (c, extra) = Instr::k8(k);
        self.emit(Instr::abc(op, a, b, c));
        if let Some(e) = extra {
            self.emit(e);
        }
    }

    /// Emit `op A K[B] C` (8-bit constant operand in B).
    pub(crate) fn emit_akc(&mut self, op: Op, a: u8, k: u32, c: u8) {
        let (b, extra) = Instr::k8(k);
        self.emit(Instr::abc(op, a, b, c));
        if let Some(e) = extra {
            self.emit(e);
        }
    }

    pub(crate) fn emit_jmp(&mut self) -> usize {
        self.emit(Instr::jmp(0))
    }

    /// Point the jump-format instruction at `at` to `target`.
    pub(crate) fn patch(&mut self, at: usize, target: usize) {
        let off = target as i64 - (at as i64 + 1);
        let f = self.f();
        let i = f.proto.code[at];
        f.proto.code[at] = i.with_sj(off as i32);
    }

    pub(crate) fn patch_here(&mut self, jumps: &[usize]) {
        let h = self.here();
        for &j in jumps {
            self.patch(j, h);
        }
    }

    pub(crate) fn jmp_to(&mut self, target: usize) {
        let at = self.emit_jmp();
        self.patch(at, target);
    }

    pub(crate) fn konst(&mut self, c: Const) -> u32 {
        let key = const_key(&c);
        if let Some(&i) = self.fr().const_map.get(&key) {
            return i;
        }
        let f = self.f();
        let i = f.proto.consts.len() as u32;
        f.proto.consts.push(c);
        f.const_map.insert(key, i);
        i
    }

    pub(crate) fn str_const(&mut self, s: &str) -> u32 {
        self.konst(Const::Str(s.to_string()))
    }

    pub(crate) fn load_const(&mut self, dst: u8, c: Const) {
        let k = self.konst(c);
        if k > u16::MAX as u32 {
            let span = self.fr().span;
            self.error(span, "too many constants in one function");
            return;
        }
        self.emit(Instr::abx(Op::LoadK, dst, k as u16));
    }

    pub(crate) fn global_slot(&mut self, name: &str) -> u16 {
        match self.globals.slot(name) {
            Some(s) => s,
            None => {
                let span = self.fr().span;
                self.error(span, "too many global names");
                0
            }
        }
    }

    // ------------------------------------------------------------------ names

    /// Where `name` lives, seen from the innermost active scope.
    pub(crate) fn name_loc(&mut self, name: &str) -> NameLoc {
        let tree = self.unit.tree;
        let mut sid = *self.fr().scopes.last().expect("scope");
        loop {
            match tree.scopes[sid].kind_of(name) {
                SymKind::Local => {
                    if let Some(r) = self.reg_of(sid, name) {
                        return NameLoc::Reg(r);
                    }
                    // Module-level inline scope variables are registers too; anything else
                    // unexpected falls back to a global.
                    return NameLoc::Global(self.global_slot(name));
                }
                SymKind::Cell => {
                    if let Some(r) = self.reg_of(sid, name) {
                        return NameLoc::CellReg(r);
                    }
                    return NameLoc::Global(self.global_slot(name));
                }
                SymKind::Free => {
                    if let Some(&u) = self.fr().upvals.get(name) {
                        return NameLoc::Upval(u);
                    }
                    return NameLoc::Global(self.global_slot(name));
                }
                SymKind::Global => return NameLoc::Global(self.global_slot(name)),
                SymKind::ClassName => {
                    if let Some(&r) = self.fr().class_regs.get(&sid) {
                        return NameLoc::ClassAttr(r);
                    }
                    return NameLoc::Global(self.global_slot(name));
                }
                SymKind::Enclosing(a) => {
                    if a == sid {
                        return NameLoc::Global(self.global_slot(name));
                    }
                    sid = a;
                }
            }
        }
    }

    /// How a closure created here captures `name` (for a child frame's free variable).
    pub(crate) fn capture_of(&mut self, name: &str) -> Capture {
        let tree = self.unit.tree;
        let mut sid = *self.fr().scopes.last().expect("scope");
        loop {
            let sc = &tree.scopes[sid];
            let skip = sc.kind == ScopeKind::Class && name != CLASS_CELL;
            if !skip {
                if let Some(sym) = sc.lookup(name) {
                    match sym.kind {
                        SymKind::Cell => {
                            if let Some(r) = self.reg_of(sid, name) {
                                return Capture::Local(r);
                            }
                        }
                        SymKind::Free => {
                            if let Some(&u) = self.fr().upvals.get(name) {
                                return Capture::Upval(u as u16);
                            }
                        }
                        SymKind::Enclosing(a) if a != sid => {
                            sid = a;
                            continue;
                        }
                        _ => {}
                    }
                }
            }
            if sid == self.fr().scope {
                break;
            }
            match sc.parent {
                Some(p) => sid = p,
                None => break,
            }
        }
        let span = self.fr().span;
        self.error(span, format!("internal compiler error: cannot capture '{name}'"));
        Capture::Upval(0)
    }

    pub(crate) fn load_name(&mut self, name: &str, dst: u8) {
        match self.name_loc(name) {
            NameLoc::Reg(r) => {
                if r != dst {
                    self.emit(Instr::abc(Op::Move, dst, r, 0));
                }
            }
            NameLoc::CellReg(r) => {
                self.emit(Instr::abc(Op::GetCell, dst, r, 0));
            }
            NameLoc::Upval(u) => {
                self.emit(Instr::abc(Op::GetUpval, dst, u, 0));
            }
            NameLoc::Global(g) => {
                self.emit(Instr::abx(Op::GetGlobal, dst, g));
            }
            NameLoc::ClassAttr(c) => {
                let k = self.str_const(name);
                self.emit_abk(Op::GetAttr, dst, c, k);
            }
        }
    }

    pub(crate) fn store_name(&mut self, name: &str, src: u8) {
        match self.name_loc(name) {
            NameLoc::Reg(r) => {
                if r != src {
                    self.emit(Instr::abc(Op::Move, r, src, 0));
                }
            }
            NameLoc::CellReg(r) => {
                self.emit(Instr::abc(Op::SetCell, r, src, 0));
            }
            NameLoc::Upval(u) => {
                self.emit(Instr::abc(Op::SetUpval, src, u, 0));
            }
            NameLoc::Global(g) => {
                self.emit(Instr::abx(Op::SetGlobal, src, g));
            }
            NameLoc::ClassAttr(c) => {
                let k = self.str_const(name);
                self.emit_akc(Op::SetAttr, c, k, src);
            }
        }
    }

    /// Before a read of the local `name` by the `Name` expression `e`: the `CheckBound` the flow
    /// analysis asks for (none for reads it proved to see a value).
    pub(crate) fn check_read(&mut self, e: &Expr, name: &str) {
        let Some(kind) = self.flow.check_of(e) else { return };
        let (a, mode) = match self.name_loc(name) {
            NameLoc::Reg(r) => (r, 0),
            NameLoc::CellReg(r) => (r, 1),
            NameLoc::Upval(u) => (u, 2),
            NameLoc::Global(_) | NameLoc::ClassAttr(_) => return,
        };
        let k = self.str_const(name);
        let free = if kind == CheckKind::Free { 4 } else { 0 };
        self.emit_akc(Op::CheckBound, a, k, mode | free);
    }

    /// The scope of the current frame that defines the local `name` (None: not a local here).
    pub(crate) fn local_scope(&self, name: &str) -> Option<ScopeId> {
        let tree = self.unit.tree;
        let mut sid = *self.fr().scopes.last()?;
        loop {
            match tree.scopes[sid].kind_of(name) {
                SymKind::Local | SymKind::Cell => return Some(sid),
                SymKind::Enclosing(a) if a != sid => sid = a,
                _ => return None,
            }
        }
    }

    /// Does the end of `except E as name` have to do anything (see `unbind_handler_name`)?
    fn handler_name_needs_unbind(&mut self, name: &str) -> bool {
        match self.name_loc(name) {
            NameLoc::Reg(_) => self.local_scope(name).is_some_and(|s| self.flow.starts_unbound(s, name)),
            _ => true,
        }
    }

    /// The end of `except E as name`: CPython unbinds the name. A plain local needs it only when
    /// some read of it is checked (otherwise nothing reads it before it is assigned again).
    fn unbind_handler_name(&mut self, name: &str) {
        match self.name_loc(name) {
            NameLoc::Reg(r) => {
                if self.local_scope(name).is_some_and(|s| self.flow.starts_unbound(s, name)) {
                    self.emit(Instr::abc(Op::Unbind, r, 0, 0));
                }
            }
            NameLoc::CellReg(r) => {
                self.emit(Instr::abc(Op::Unbind, r, 0, 1));
            }
            NameLoc::Upval(u) => {
                self.emit(Instr::abc(Op::Unbind, u, 0, 2));
            }
            // `name = None; del name`, as CPython (the handler may have deleted it already).
            NameLoc::Global(g) => {
                let mark = self.mark();
                let t = self.alloc();
                self.emit(Instr::abc(Op::LoadNone, t, 0, 0));
                self.emit(Instr::abx(Op::SetGlobal, t, g));
                self.emit(Instr::abx(Op::DelGlobal, 0, g));
                self.free_to(mark);
            }
            NameLoc::ClassAttr(c) => {
                let mark = self.mark();
                let t = self.alloc();
                let k = self.str_const(name);
                self.emit(Instr::abc(Op::LoadNone, t, 0, 0));
                self.emit_akc(Op::SetAttr, c, k, t);
                self.emit_akc(Op::DelAttr, c, k, 0);
                self.free_to(mark);
            }
        }
    }

    // ------------------------------------------------------------------ statements

    pub(crate) fn stmts(&mut self, body: &'a [Stmt]) {
        for s in body {
            self.stmt(s);
        }
    }

    fn stmt(&mut self, s: &'a Stmt) {
        let saved = self.fr().span;
        self.f().span = s.span;
        let mark = self.mark();
        self.stmt_inner(s);
        self.free_to(mark);
        self.f().span = saved;
    }

    fn stmt_inner(&mut self, s: &'a Stmt) {
        match &s.kind {
            StmtKind::Expr(e) => {
                // The 1.5.0 form `respond(x), 201` means `respond(x, 201)`.
                if let ExprKind::Tuple(items) = &e.kind {
                    if let Some(first) = items.first() {
                        if let ExprKind::Call { func, args } = &first.kind {
                            if matches!(&func.kind, ExprKind::Name(n) if n == "respond" || n == "_respond") {
                                let r = self.alloc();
                                self.call_to(func, args, &items[1..], r, first.span);
                                return;
                            }
                        }
                    }
                }
                let r = self.expr_any(e);
                let _ = r;
            }
            StmtKind::Assign { targets, value } => self.assign(targets, value),
            StmtKind::AugAssign { target, op, value } => self.aug_assign(target, *op, value),
            StmtKind::If { test, body, orelse } => {
                let jf = self.jump_if_false(test);
                self.stmts(body);
                if orelse.is_empty() {
                    self.patch_here(&jf);
                } else {
                    let end = self.emit_jmp();
                    self.patch_here(&jf);
                    self.stmts(orelse);
                    self.patch_here(&[end]);
                }
            }
            StmtKind::While { test, body, orelse } => {
                let head = self.here();
                let always = matches!(test.kind, ExprKind::True) || matches!(test.kind, ExprKind::Int(n) if n != 0);
                let jf = if always { Vec::new() } else { self.jump_if_false(test) };
                let depth = self.fr().blocks.len();
                self.f().loops.push(LoopCtx { continue_target: Some(head), continues: Vec::new(), breaks: Vec::new(), block_depth: depth });
                self.stmts(body);
                self.jmp_to(head);
                let lp = self.f().loops.pop().expect("loop");
                self.patch_here(&jf);
                self.stmts(orelse);
                self.patch_here(&lp.breaks);
            }
            StmtKind::For { target, iter, body, orelse } => self.for_stmt(target, iter, body, orelse),
            StmtKind::Break => {
                let Some(lp) = self.fr().loops.last() else {
                    self.error(s.span, "'break' outside loop");
                    return;
                };
                let depth = lp.block_depth;
                self.unwind(depth);
                let j = self.emit_jmp();
                if let Some(lp) = self.f().loops.last_mut() {
                    lp.breaks.push(j);
                }
            }
            StmtKind::Continue => {
                let Some(lp) = self.fr().loops.last() else {
                    self.error(s.span, "'continue' not properly in loop");
                    return;
                };
                let (depth, target) = (lp.block_depth, lp.continue_target);
                self.unwind(depth);
                match target {
                    Some(t) => self.jmp_to(t),
                    None => {
                        let j = self.emit_jmp();
                        if let Some(lp) = self.f().loops.last_mut() {
                            lp.continues.push(j);
                        }
                    }
                }
            }
            StmtKind::Pass => {}
            StmtKind::Return(value) => {
                let kind = self.unit.tree.scopes[self.fr().scope].kind;
                if kind == ScopeKind::Module || self.in_class_body() {
                    self.error(s.span, "'return' outside function");
                    return;
                }
                match value {
                    None => {
                        self.unwind(0);
                        self.emit(Instr::abc(Op::ReturnNone, 0, 0, 0));
                    }
                    Some(v) => {
                        let r = if self.fr().blocks.is_empty() {
                            self.expr_any(v)
                        } else {
                            let r = self.alloc();
                            self.expr_to(v, r);
                            r
                        };
                        self.unwind(0);
                        self.emit(Instr::abc(Op::Return, r, 0, 0));
                    }
                }
            }
            StmtKind::FuncDef(fd) => self.func_def(fd),
            StmtKind::ClassDef(cd) => {
                let sid = self.unit.tree.scope_of(&**cd);
                self.class_def(sid, &cd.name, &cd.bases, &cd.body, &cd.decorators, cd.span);
            }
            StmtKind::Model(m) => {
                let sid = self.unit.tree.scope_of(&**m);
                self.class_def(sid, &m.name, &[], &m.body, &m.decorators, m.span);
            }
            StmtKind::Try { body, handlers, orelse, finalbody } => self.try_stmt(body, handlers, orelse, finalbody),
            StmtKind::Raise { exc, cause } => match (exc, cause) {
                (None, _) => {
                    self.emit(Instr::abc(Op::Reraise, 0, 0, 0));
                }
                (Some(e), None) => {
                    let r = self.expr_any(e);
                    self.emit(Instr::abc(Op::Raise, r, 0, 0));
                }
                (Some(e), Some(c)) => {
                    let r = self.expr_any(e);
                    let rc = self.expr_any(c);
                    self.emit(Instr::abc(Op::RaiseFrom, r, rc, 0));
                }
            },
            StmtKind::Assert { test, msg } => {
                let jt = self.jump_if_true(test);
                match msg {
                    Some(m) => {
                        let r = self.expr_any(m);
                        self.emit(Instr::abc(Op::RaiseAssert, r, 1, 0));
                    }
                    None => {
                        self.emit(Instr::abc(Op::RaiseAssert, 0, 0, 0));
                    }
                }
                self.patch_here(&jt);
            }
            StmtKind::Del(targets) => {
                for t in targets {
                    self.del_target(t);
                }
            }
            StmtKind::Global(_) | StmtKind::Nonlocal(_) => {}
            StmtKind::Import { module, alias } => {
                let name = module.joined();
                if !self.check_module(&name, module.span) {
                    return;
                }
                let r = self.alloc();
                let k = self.str_const(&name);
                self.emit(Instr::abx(Op::Import, r, k as u16));
                let bind = alias.as_ref().map(|a| a.name.clone()).unwrap_or_else(|| module.parts[0].clone());
                self.store_name(&bind, r);
            }
            StmtKind::ImportFrom { module, names } => {
                let name = module.joined();
                if !self.check_module(&name, module.span) {
                    return;
                }
                let m = self.alloc();
                let k = self.str_const(&name);
                self.emit(Instr::abx(Op::Import, m, k as u16));
                let r = self.alloc();
                for (n, alias) in names {
                    if n.name == "*" {
                        self.error(n.span, "'from module import *' is not supported; import the names you need");
                        continue;
                    }
                    let k = self.str_const(&n.name);
                    self.emit_abk(Op::ImportFrom, r, m, k);
                    let bind = alias.as_ref().unwrap_or(n);
                    self.store_name(&bind.name, r);
                }
            }
            StmtKind::Include(name) => {
                let file = self.unit.file;
                if let Some(proto) = self.driver.include(file, name, self.globals) {
                    let r = self.alloc();
                    let idx = self.add_child(proto);
                    self.emit(Instr::abx(Op::Closure, r, idx));
                    self.emit(Instr::abc(Op::Call, r, 0, 0));
                }
            }
            StmtKind::Extend { module, alias } => {
                let file = self.unit.file;
                if let Some(idx) = self.driver.extend(file, module) {
                    let r = self.alloc();
                    self.emit(Instr::abx(Op::LoadModule, r, idx));
                    let bind = alias.as_ref().map(|a| a.name.clone()).unwrap_or_else(|| module.parts.last().cloned().unwrap_or_default());
                    self.store_name(&bind, r);
                }
            }
            StmtKind::Route(r) => self.route_def(r),
            StmtKind::DecoratorDef(d) => self.decorator_def(d),
        }
    }

    fn in_class_body(&self) -> bool {
        let tree = self.unit.tree;
        self.fr().scopes.iter().any(|&s| tree.scopes[s].kind == ScopeKind::Class)
            && tree.scopes[*self.fr().scopes.last().expect("scope")].kind == ScopeKind::Class
    }

    fn check_module(&mut self, name: &str, span: Span) -> bool {
        if ask_vm::modules::NAMES.contains(&name) {
            return true;
        }
        let list = ask_vm::modules::NAMES.join(", ");
        self.error(span, format!("no module named '{name}' (available modules: {list})"));
        false
    }

    /// Leave every block above `depth`: pop handlers, end except clauses, run `finally` bodies.
    fn unwind(&mut self, depth: usize) {
        let mut i = self.fr().blocks.len();
        while i > depth {
            i -= 1;
            let b = self.fr().blocks[i];
            match b {
                Block::Except => {
                    self.emit(Instr::abc(Op::PopHandler, 0, 0, 0));
                }
                Block::Handler(name) => {
                    self.emit(Instr::abc(Op::EndExcept, 0, 0, 0));
                    if let Some(n) = name {
                        self.unbind_handler_name(&n.name);
                    }
                }
                Block::Finally(body) => {
                    self.emit(Instr::abc(Op::PopHandler, 0, 0, 0));
                    // The finally body runs outside the region it protects: compile it with the
                    // blocks (and loops) of its own position.
                    let saved_blocks = self.f().blocks.split_off(i);
                    let keep = self.fr().loops.iter().take_while(|l| l.block_depth <= i).count();
                    let saved_loops = self.f().loops.split_off(keep);
                    self.stmts(body);
                    self.f().loops.extend(saved_loops);
                    self.f().blocks.extend(saved_blocks);
                }
            }
        }
    }

    /// `for` compiles bottom-tested: `ForPrep; Jmp foot; body: …; foot: ForLoop; Jmp body`, so an
    /// iteration costs one loop dispatch (`ForLoop` plus its `Jmp`, decoded in place).
    fn for_stmt(&mut self, target: &'a Expr, iter: &'a Expr, body: &'a [Stmt], orelse: &'a [Stmt]) {
        let state = self.alloc_n(3);
        self.expr_to(iter, state);
        let saved = self.fr().span;
        self.f().span = iter.span;
        self.emit(Instr::abc(Op::ForPrep, state, 0, 0));
        let to_foot = self.emit_jmp();
        self.f().span = saved;
        let top = self.here();
        let (item, direct) = match self.simple_target_reg(target) {
            Some(r) => (r, true),
            None => (self.alloc(), false),
        };
        if !direct {
            self.store(target, item);
        }
        let depth = self.fr().blocks.len();
        self.f().loops.push(LoopCtx { continue_target: None, continues: Vec::new(), breaks: Vec::new(), block_depth: depth });
        self.stmts(body);
        let lp = self.f().loops.pop().expect("loop");
        self.patch_here(&lp.continues);
        self.patch_here(&[to_foot]);
        self.f().span = iter.span;
        self.emit(Instr::abc(Op::ForLoop, state, item, 0));
        self.jmp_to(top);
        self.f().span = saved;
        self.stmts(orelse);
        self.patch_here(&lp.breaks);
    }

    /// The register of a target that is a plain local variable (so a loop can write it directly).
    pub(crate) fn simple_target_reg(&mut self, target: &Expr) -> Option<u8> {
        if let ExprKind::Name(n) = &target.kind {
            if let NameLoc::Reg(r) = self.name_loc(n) {
                return Some(r);
            }
        }
        None
    }

    fn try_stmt(&mut self, body: &'a [Stmt], handlers: &'a [ExceptHandler], orelse: &'a [Stmt], finalbody: &'a [Stmt]) {
        let has_finally = !finalbody.is_empty();
        let setup_fin = if has_finally {
            let j = self.emit(Instr::sj(Op::SetupFinally, 0));
            self.f().blocks.push(Block::Finally(finalbody));
            Some(j)
        } else {
            None
        };
        let mut after_handlers = Vec::new();
        if handlers.is_empty() {
            self.stmts(body);
            self.stmts(orelse);
        } else {
            let setup = self.emit(Instr::sj(Op::SetupExcept, 0));
            self.f().blocks.push(Block::Except);
            self.stmts(body);
            self.f().blocks.pop();
            self.emit(Instr::abc(Op::PopHandler, 0, 0, 0));
            self.stmts(orelse);
            after_handlers.push(self.emit_jmp());
            self.patch_here(&[setup]);
            for h in handlers {
                let saved = self.fr().span;
                self.f().span = h.span;
                let mark = self.mark();
                let mut next = Vec::new();
                if let Some(t) = &h.typ {
                    let rt = self.expr_any(t);
                    let m = self.alloc();
                    self.emit(Instr::abc(Op::ExcMatch, m, rt, 0));
                    self.emit(Instr::abc(Op::Test, m, 0, 0));
                    next.push(self.emit_jmp());
                }
                self.free_to(mark);
                if let Some(n) = &h.name {
                    let r = self.alloc();
                    self.emit(Instr::abc(Op::GetExc, r, 0, 0));
                    self.store_name(&n.name, r);
                    self.free_to(mark);
                }
                self.f().span = saved;
                self.f().blocks.push(Block::Handler(h.name.as_ref()));
                // When the name must be unbound, an exception leaving the clause unbinds it too
                // (CPython wraps the clause in a `finally` for that).
                let guarded = h.name.as_ref().filter(|n| self.handler_name_needs_unbind(&n.name));
                let cleanup = guarded.map(|_| {
                    let j = self.emit(Instr::sj(Op::SetupFinally, 0));
                    self.f().blocks.push(Block::Finally(&[]));
                    j
                });
                self.stmts(&h.body);
                if cleanup.is_some() {
                    self.f().blocks.pop();
                    self.emit(Instr::abc(Op::PopHandler, 0, 0, 0));
                }
                self.f().blocks.pop();
                self.f().span = h.span;
                self.emit(Instr::abc(Op::EndExcept, 0, 0, 0));
                if let Some(n) = &h.name {
                    self.unbind_handler_name(&n.name);
                }
                after_handlers.push(self.emit_jmp());
                if let (Some(j), Some(n)) = (cleanup, guarded) {
                    self.patch_here(&[j]);
                    self.unbind_handler_name(&n.name);
                    self.emit(Instr::abc(Op::Reraise, 0, 0, 0));
                }
                self.patch_here(&next);
                self.f().span = saved;
            }
            // No clause matched: propagate.
            self.emit(Instr::abc(Op::Reraise, 0, 0, 0));
        }
        if let Some(setup) = setup_fin {
            self.patch_here(&after_handlers);
            after_handlers.clear();
            self.f().blocks.pop();
            // Normal path.
            self.emit(Instr::abc(Op::PopHandler, 0, 0, 0));
            self.stmts(finalbody);
            let end = self.emit_jmp();
            // Exceptional path (also `respond()` unwinding).
            self.patch_here(&[setup]);
            self.f().blocks.push(Block::Handler(None));
            self.stmts(finalbody);
            self.f().blocks.pop();
            self.emit(Instr::abc(Op::Reraise, 0, 0, 0));
            self.patch_here(&[end]);
        } else {
            self.patch_here(&after_handlers);
        }
    }

    fn del_target(&mut self, t: &'a Expr) {
        match &t.kind {
            ExprKind::Name(n) => match self.name_loc(n) {
                NameLoc::Global(g) => {
                    self.emit(Instr::abx(Op::DelGlobal, 0, g));
                }
                // `del x` of an unbound local fails like a read of it.
                NameLoc::Reg(r) => {
                    self.check_read(t, n);
                    self.emit(Instr::abc(Op::Unbind, r, 0, 0));
                }
                NameLoc::CellReg(c) => {
                    self.check_read(t, n);
                    self.emit(Instr::abc(Op::Unbind, c, 0, 1));
                }
                NameLoc::Upval(u) => {
                    self.check_read(t, n);
                    self.emit(Instr::abc(Op::Unbind, u, 0, 2));
                }
                NameLoc::ClassAttr(c) => {
                    let k = self.str_const(n);
                    self.emit_akc(Op::DelAttr, c, k, 0);
                }
            },
            ExprKind::Attr(obj, name) => {
                let o = self.expr_any(obj);
                let k = self.str_const(&name.name);
                self.emit_akc(Op::DelAttr, o, k, 0);
            }
            ExprKind::Subscript(obj, idx) => {
                let o = self.expr_any(obj);
                let i = self.expr_any(idx);
                self.emit(Instr::abc(Op::DelItem, o, i, 0));
            }
            ExprKind::Tuple(items) | ExprKind::List(items) => {
                for i in items {
                    self.del_target(i);
                }
            }
            _ => self.error(t.span, "cannot delete this expression"),
        }
    }

    // ------------------------------------------------------------------ assignment

    fn assign(&mut self, targets: &'a [Expr], value: &'a Expr) {
        if targets.len() == 1 {
            let t = &targets[0];
            // `x = expr` straight into a local's register.
            if let Some(r) = self.simple_target_reg(t) {
                self.expr_to(value, r);
                return;
            }
            // `a, b = b, a`: no tuple is built.
            if let (ExprKind::Tuple(ts) | ExprKind::List(ts), ExprKind::Tuple(vs) | ExprKind::List(vs)) = (&t.kind, &value.kind) {
                let plain = |xs: &[Expr]| xs.iter().all(|x| !matches!(x.kind, ExprKind::Starred(_)));
                if ts.len() == vs.len() && plain(ts) && plain(vs) && ts.len() < 16 {
                    let base = self.alloc_n(vs.len());
                    for (i, v) in vs.iter().enumerate() {
                        self.expr_to(v, base + i as u8);
                    }
                    for (i, t) in ts.iter().enumerate() {
                        self.store(t, base + i as u8);
                    }
                    return;
                }
            }
        }
        let r = self.expr_any(value);
        for t in targets {
            self.store(t, r);
        }
    }

    /// Store the value in register `src` into an assignment target.
    pub(crate) fn store(&mut self, target: &'a Expr, src: u8) {
        let saved = self.fr().span;
        self.f().span = target.span;
        let mark = self.mark();
        match &target.kind {
            ExprKind::Name(n) => self.store_name(n, src),
            ExprKind::Attr(obj, name) => {
                let o = self.expr_any(obj);
                let k = self.str_const(&name.name);
                self.emit_akc(Op::SetAttr, o, k, src);
            }
            ExprKind::Subscript(obj, idx) => {
                let o = self.expr_any(obj);
                let i = self.expr_any(idx);
                self.emit(Instr::abc(Op::SetItem, o, i, src));
            }
            ExprKind::Tuple(items) | ExprKind::List(items) => {
                let star = items.iter().position(|x| matches!(x.kind, ExprKind::Starred(_)));
                let n = items.len();
                if items.iter().filter(|x| matches!(x.kind, ExprKind::Starred(_))).count() > 1 {
                    self.error(target.span, "multiple starred expressions in assignment");
                } else if n > 200 {
                    self.error(target.span, "too many names to unpack");
                } else {
                    let base = self.alloc_n(n);
                    match star {
                        None => {
                            self.emit(Instr::abc(Op::Unpack, base, src, n as u8));
                        }
                        Some(si) => {
                            let after = n - si - 1;
                            if si > 15 || after > 15 {
                                self.error(target.span, "too many names around a starred target (at most 15 each side)");
                            }
                            self.emit(Instr::abc(Op::UnpackStar, base, src, (si as u8 & 15) | ((after as u8 & 15) << 4)));
                        }
                    }
                    for (i, t) in items.iter().enumerate() {
                        let t = match &t.kind {
                            ExprKind::Starred(inner) => &**inner,
                            _ => t,
                        };
                        self.store(t, base + i as u8);
                    }
                }
            }
            ExprKind::Starred(_) => self.error(target.span, "starred assignment target must be in a list or tuple"),
            _ => self.error(target.span, "cannot assign to expression"),
        }
        self.free_to(mark);
        self.f().span = saved;
    }

    fn aug_assign(&mut self, target: &'a Expr, op: BinOp, value: &'a Expr) {
        let code = Op::arith_op_code(arith_op(op));
        match &target.kind {
            ExprKind::Name(n) => match self.name_loc(n) {
                NameLoc::Reg(r) => {
                    let v = self.expr_any(value);
                    self.check_read(target, n);
                    self.emit(Instr::abc(Op::Aug, r, v, code));
                }
                NameLoc::Global(g) => {
                    // In place when the slot holds the only other reference (see `AugGlobal`).
                    let t = self.alloc();
                    self.load_name(n, t);
                    let v = self.expr_any(value);
                    self.emit(Instr::abc(Op::AugGlobal, t, v, code));
                    self.emit(Instr::extra(g as u32));
                }
                _ => {
                    let t = self.alloc();
                    self.check_read(target, n);
                    self.load_name(n, t);
                    let v = self.expr_any(value);
                    self.emit(Instr::abc(Op::Aug, t, v, code));
                    self.store_name(n, t);
                }
            },
            ExprKind::Attr(obj, name) => {
                let o = self.expr_any(obj);
                let k = self.str_const(&name.name);
                let t = self.alloc();
                self.emit_abk(Op::GetAttr, t, o, k);
                let v = self.expr_any(value);
                self.emit(Instr::abc(Op::Aug, t, v, code));
                self.emit_akc(Op::SetAttr, o, k, t);
            }
            ExprKind::Subscript(obj, idx) => {
                let o = self.expr_any(obj);
                let i = self.expr_any(idx);
                let t = self.alloc();
                self.emit(Instr::abc(Op::GetItem, t, o, i));
                let v = self.expr_any(value);
                self.emit(Instr::abc(Op::Aug, t, v, code));
                self.emit(Instr::abc(Op::SetItem, o, i, t));
            }
            _ => self.error(target.span, "illegal expression for augmented assignment"),
        }
    }

    // ------------------------------------------------------------------ functions

    /// Compile a child frame (function, lambda, route handler...) and emit the `Closure`
    /// instruction creating it into `dst`, with `defaults` evaluated into the registers after it.
    pub(crate) fn make_function(
        &mut self,
        scope: ScopeId,
        dst: u8,
        name: &str,
        params: Option<&'a Params>,
        body: FnBody<'a>,
        line_span: Span,
    ) {
        // Defaults are evaluated now, in the enclosing scope, into R[dst+1..].
        let mark = self.mark();
        if let Some(p) = params {
            self.check_params(p);
            let defaults: Vec<&'a Expr> =
                p.args.iter().chain(p.kwonly.iter()).filter_map(|a| a.default.as_ref()).collect();
            if !defaults.is_empty() {
                // dst must be the top register so the defaults follow it.
                let base = self.alloc_n(defaults.len());
                if base as usize != dst as usize + 1 {
                    let span = self.fr().span;
                    self.error(span, "internal compiler error: defaults not adjacent");
                }
                for (i, d) in defaults.iter().enumerate() {
                    self.expr_to(d, base + i as u8);
                }
            }
        }
        let line = self.line_of(line_span);
        let qual = self.qualname(name);
        self.begin_func(scope, name, &qual, line);
        self.f().span = line_span;
        if let Some(p) = params {
            self.f().proto.params = proto_params(p);
        }
        match body {
            FnBody::Stmts(b) => {
                self.stmts(b);
                self.emit(Instr::abc(Op::ReturnNone, 0, 0, 0));
            }
            FnBody::Expr(e) => {
                let saved = self.fr().span;
                self.f().span = e.span;
                let r = self.expr_any(e);
                self.emit(Instr::abc(Op::Return, r, 0, 0));
                self.f().span = saved;
            }
            FnBody::DecoratorFactory { wrapper, name, body, span } => {
                let w = self.alloc();
                self.make_function(wrapper, w, name, None, FnBody::Stmts(body), span);
                if let Some(child) = self.f().proto.protos.last_mut() {
                    if let Some(p) = Arc::get_mut(child) {
                        p.params = ProtoParams {
                            names: vec![scope::DECO_ARGS.to_string(), scope::DECO_KWARGS.to_string()],
                            vararg: true,
                            kwarg: true,
                            ..Default::default()
                        };
                    }
                }
                self.emit(Instr::abc(Op::Return, w, 0, 0));
            }
            FnBody::GenExp { elt, gens } => {
                self.f().proto.is_generator = true;
                self.genexp_body(elt, gens);
                self.emit(Instr::abc(Op::ReturnNone, 0, 0, 0));
            }
        }
        let mut child = self.end_func().proto;
        // Captures, in the child's upvalue order, as seen from here.
        let frees = self.unit.tree.scopes[scope].frees.clone();
        child.captures = frees.iter().map(|n| self.capture_of(n)).collect();
        if let Some(p) = params {
            child.params = proto_params(p);
        } else if child.params.names.is_empty() {
            let sc = &self.unit.tree.scopes[scope];
            child.params.names = sc.params.clone();
            child.params.nargs = sc.params.len();
        }
        let idx = self.add_child(child);
        self.emit(Instr::abx(Op::Closure, dst, idx));
        self.free_to(mark.max(dst as usize + 1));
    }

    /// Python's compile-time checks on a parameter list.
    fn check_params(&mut self, p: &Params) {
        let mut seen_default = false;
        for a in &p.args {
            if a.default.is_some() {
                seen_default = true;
            } else if seen_default {
                self.error(a.name.span, "non-default argument follows default argument");
            }
        }
        let mut names: Vec<&Ident> = p.args.iter().map(|a| &a.name).collect();
        names.extend(p.vararg.iter());
        names.extend(p.kwonly.iter().map(|a| &a.name));
        names.extend(p.kwarg.iter());
        for (i, n) in names.iter().enumerate() {
            if names[..i].iter().any(|m| m.name == n.name) {
                self.error(n.span, format!("duplicate argument '{}' in function definition", n.name));
            }
        }
    }

    fn qualname(&self, name: &str) -> String {
        let tree = self.unit.tree;
        let mut parts = vec![name.to_string()];
        for &s in self.fr().scopes.iter().rev() {
            let sc = &tree.scopes[s];
            match sc.kind {
                ScopeKind::Class => parts.push(sc.name.clone()),
                ScopeKind::Module => {}
                _ => {
                    parts.push("<locals>".into());
                    parts.push(sc.name.clone());
                }
            }
        }
        parts.reverse();
        parts.join(".")
    }

    pub(crate) fn add_child(&mut self, proto: FuncProto) -> u16 {
        let f = self.f();
        f.proto.protos.push(Arc::new(proto));
        (f.proto.protos.len() - 1) as u16
    }

    /// Evaluate decorator expressions (top first) into consecutive registers.
    fn eval_decorators(&mut self, ds: &'a [Decorator]) -> Vec<u8> {
        let mut regs = Vec::new();
        for d in ds {
            let saved = self.fr().span;
            self.f().span = d.span;
            let r = self.alloc();
            self.expr_to(&d.expr, r);
            self.f().span = saved;
            regs.push(r);
        }
        regs
    }

    /// Apply evaluated decorators (bottom-up) to the value in `val`; the result ends in `val`.
    fn apply_decorators(&mut self, decos: &[u8], ds: &'a [Decorator], val: u8) {
        for (i, &d) in decos.iter().enumerate().rev() {
            let saved = self.fr().span;
            self.f().span = ds[i].span;
            let mark = self.mark();
            let base = self.alloc_n(2);
            self.emit(Instr::abc(Op::Move, base, d, 0));
            self.emit(Instr::abc(Op::Move, base + 1, val, 0));
            self.emit(Instr::abc(Op::Call, base, 1, 0));
            self.emit(Instr::abc(Op::Move, val, base, 0));
            self.free_to(mark);
            self.f().span = saved;
        }
    }

    fn func_def(&mut self, fd: &'a FuncDef) {
        let Some(scope) = self.unit.tree.scope_of(fd) else {
            self.error(fd.span, "internal compiler error: no scope for function");
            return;
        };
        let decos = self.eval_decorators(&fd.decorators);
        let r = self.alloc();
        self.make_function(scope, r, &fd.name.name, Some(&fd.params), FnBody::Stmts(&fd.body), fd.name.span);
        self.apply_decorators(&decos, &fd.decorators, r);
        let in_class = self.unit.tree.scopes[*self.fr().scopes.last().expect("scope")].kind == ScopeKind::Class;
        let name = if in_class && (fd.name.name == "init" || fd.name.name == "_init") { "__init__" } else { fd.name.name.as_str() };
        self.store_name(name, r);
    }

    fn class_def(&mut self, sid: Option<ScopeId>, name: &'a Ident, bases: &'a [Expr], body: &'a [Stmt], decorators: &'a [Decorator], span: Span) {
        let Some(sid) = sid else {
            self.error(span, "internal compiler error: no scope for class");
            return;
        };
        let decos = self.eval_decorators(decorators);
        if bases.len() > 1 {
            self.error(bases[1].span, "multiple inheritance is not supported (one base class at most)");
        }
        let base = self.alloc();
        match bases.first() {
            Some(b) => self.expr_to(b, base),
            None => {
                self.emit(Instr::abc(Op::LoadNone, base, 0, 0));
            }
        }
        let cls = self.alloc();
        let k = self.str_const(&name.name);
        self.emit_akc(Op::NewClass, cls, k, base);
        // Class body runs inline with the class scope active.
        let class_cell = if self.unit.tree.scopes[sid].kind_of(CLASS_CELL) == SymKind::Cell {
            let c = self.alloc_var(sid, CLASS_CELL);
            self.emit(Instr::abc(Op::LoadNone, c, 0, 0));
            self.emit(Instr::abc(Op::MakeCell, c, 0, 0));
            Some(c)
        } else {
            None
        };
        self.f().scopes.push(sid);
        self.f().class_regs.insert(sid, cls);
        self.stmts(body);
        self.f().class_regs.remove(&sid);
        self.f().scopes.pop();
        if let Some(c) = class_cell {
            self.emit(Instr::abc(Op::SetCell, c, cls, 0));
            self.f().regs.remove(&sid);
        }
        self.apply_decorators(&decos, decorators, cls);
        self.store_name(&name.name, cls);
    }

    fn route_def(&mut self, r: &'a RouteDef) {
        let Some(scope) = self.unit.tree.scope_of(r) else {
            self.error(r.span, "internal compiler error: no scope for route");
            return;
        };
        let params = match ask_vm::route::parse_path_params(&r.path) {
            Ok(p) => p,
            Err(_) => return, // reported by the scope pass
        };
        let decos = self.eval_decorators(&r.decorators);
        let h = self.alloc();
        let name = scope::route_fn_name(r);
        let pnames: Vec<String> = params.iter().map(|p| p.name.clone()).collect();
        self.make_function(scope, h, &name, None, FnBody::Stmts(&r.body), r.span);
        // The handler's parameters are its path parameters.
        if let Some(child) = self.f().proto.protos.last_mut() {
            if let Some(p) = Arc::get_mut(child) {
                p.params = ProtoParams { names: pnames.clone(), nargs: pnames.len(), ..Default::default() };
            }
        }
        self.apply_decorators(&decos, &r.decorators, h);
        let line = self.line_of(r.method_span);
        let info = RouteInfo {
            method: r.method.as_str().to_string(),
            path: r.path.clone(),
            params,
            decorators: r.decorators.iter().map(|d| self.decorator_info(d)).collect(),
            doc: r.doc.clone(),
            file: self.unit.file.to_string(),
            line,
        };
        let idx = self.driver.add_route(info);
        self.emit(Instr::abx(Op::RegisterRoute, h, idx));
    }

    fn decorator_info(&self, d: &Decorator) -> DecoratorInfo {
        let (func, args) = match &d.expr.kind {
            ExprKind::Call { func, args } => (&**func, Some(args)),
            _ => (&d.expr, None),
        };
        let name = dotted(func).unwrap_or_else(|| "<expr>".into());
        let src = self.unit.src;
        let args_text = args.map(|_| {
            let whole = src.get(d.expr.span.lo as usize..d.expr.span.hi as usize).unwrap_or("");
            let fend = (func.span.hi - d.expr.span.lo) as usize;
            let rest = whole.get(fend..).unwrap_or("").trim();
            let rest = rest.strip_prefix('(').unwrap_or(rest);
            let rest = rest.strip_suffix(')').unwrap_or(rest);
            rest.trim().to_string()
        });
        let literal_args = args
            .map(|a| {
                a.iter()
                    .filter_map(|x| match x {
                        Arg::Pos(Expr { kind: ExprKind::Str(s), .. }) => Some(s.clone()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        DecoratorInfo { name, args: args_text, literal_args }
    }

    /// `decorator name:` → `def name(fn): def wrapper(*args, **kwargs): <body>; return wrapper`.
    fn decorator_def(&mut self, d: &'a DecoratorDef) {
        let Some(factory) = self.unit.tree.scope_of(d) else {
            self.error(d.span, "internal compiler error: no scope for decorator");
            return;
        };
        let Some(wrapper) = self.unit.tree.decorator_wrapper(factory) else {
            self.error(d.span, "internal compiler error: no wrapper scope");
            return;
        };
        let r = self.alloc();
        let name: &'a str = &d.name.name;
        let body = FnBody::DecoratorFactory { wrapper, name, body: &d.body, span: d.span };
        self.make_function(factory, r, name, None, body, d.name.span);
        if let Some(child) = self.f().proto.protos.last_mut() {
            if let Some(p) = Arc::get_mut(child) {
                p.params = ProtoParams { names: vec![DECO_FN.to_string()], nargs: 1, ..Default::default() };
            }
        }
        self.store_name(name, r);
    }
}

/// The body of a function being compiled.
pub(crate) enum FnBody<'a> {
    Stmts(&'a [Stmt]),
    Expr(&'a Expr),
    /// The outer function of a `decorator` block: creates and returns the wrapper.
    DecoratorFactory { wrapper: ScopeId, name: &'a str, body: &'a [Stmt], span: Span },
    /// A generator expression's body.
    GenExp { elt: &'a Expr, gens: &'a [Comprehension] },
}

pub(crate) fn proto_params(p: &Params) -> ProtoParams {
    let mut names: Vec<String> = p.args.iter().map(|a| a.name.name.clone()).collect();
    if let Some(v) = &p.vararg {
        names.push(v.name.clone());
    }
    names.extend(p.kwonly.iter().map(|a| a.name.name.clone()));
    if let Some(k) = &p.kwarg {
        names.push(k.name.clone());
    }
    let ndefaults = p.args.iter().rev().take_while(|a| a.default.is_some()).count();
    ProtoParams {
        names,
        nargs: p.args.len(),
        ndefaults,
        vararg: p.vararg.is_some(),
        nkwonly: p.kwonly.len(),
        kwonly_defaults: p.kwonly.iter().map(|a| a.default.is_some()).collect(),
        kwarg: p.kwarg.is_some(),
    }
}

pub(crate) fn arith_op(op: BinOp) -> ask_vm::ops::ArithOp {
    use ask_vm::ops::ArithOp as A;
    match op {
        BinOp::Add => A::Add,
        BinOp::Sub => A::Sub,
        BinOp::Mul => A::Mul,
        BinOp::Div => A::Div,
        BinOp::FloorDiv => A::FloorDiv,
        BinOp::Mod => A::Mod,
        BinOp::Pow => A::Pow,
        BinOp::LShift => A::LShift,
        BinOp::RShift => A::RShift,
        BinOp::BitAnd => A::BitAnd,
        BinOp::BitOr => A::BitOr,
        BinOp::BitXor => A::BitXor,
        BinOp::MatMul => A::MatMul,
    }
}

/// `a.b.c` of a name/attribute chain.
pub(crate) fn dotted(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Name(n) => Some(n.clone()),
        ExprKind::Attr(x, n) => Some(format!("{}.{}", dotted(x)?, n.name)),
        _ => None,
    }
}

#[path = "codegen_expr.rs"]
mod codegen_expr;
