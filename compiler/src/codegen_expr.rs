//! Code generation for expressions and conditions (a part of `codegen.rs`).
//!
//! `expr_to(e, dst)` computes `e` into a given register; `expr_any(e)` returns a register that
//! holds it (a local's own register when `e` is a plain local, so reading a variable costs no
//! move). When `dst` is a named variable, only expressions that write `dst` once, at the very end,
//! target it directly: `x = x.y or x` must not clobber `x` half-way.
//!
//! Conditions (`if`, `while`, `assert`, comprehension filters) compile to the VM's fused
//! test-and-jump instructions rather than materialising booleans.

use ask_vm::code::Const;
use ask_vm::opcode::{Instr, Op};

use crate::ast::*;
use crate::codegen::{Codegen, FnBody, NameLoc};
use crate::scope::{ScopeKind, SymKind, CLASS_CELL, DECO_ARGS, DECO_FN, DECO_KWARGS};

/// Displays larger than this are built incrementally (bounded register use).
const MAX_INLINE_ITEMS: usize = 48;

fn small_int(e: &Expr) -> Option<i8> {
    match e.kind {
        ExprKind::Int(i) if (-128..=127).contains(&i) => Some(i as i8),
        _ => None,
    }
}

impl<'a, 'd> Codegen<'a, 'd> {
    /// A register holding the value of `e`.
    pub(crate) fn expr_any(&mut self, e: &'a Expr) -> u8 {
        if let ExprKind::Name(n) = &e.kind {
            if let NameLoc::Reg(r) = self.name_loc(n) {
                self.check_read(e, n);
                return r;
            }
        }
        let r = self.alloc();
        self.expr_to(e, r);
        r
    }

    /// The register of `e` when it is a local variable held in a register (no code needed).
    fn plain_local(&mut self, e: &Expr) -> Option<u8> {
        match &e.kind {
            ExprKind::Name(n) => match self.name_loc(n) {
                NameLoc::Reg(r) => Some(r),
                _ => None,
            },
            _ => None,
        }
    }

    /// Compute `e` into `dst`.
    pub(crate) fn expr_to(&mut self, e: &'a Expr, dst: u8) {
        let saved = self.fr().span;
        self.f().span = e.span;
        let mark = self.mark();
        if self.is_var(dst) && !single_write(e) {
            let t = self.alloc();
            self.expr_inner(e, t);
            self.emit(Instr::abc(Op::Move, dst, t, 0));
        } else {
            self.expr_inner(e, dst);
        }
        self.free_to(mark);
        self.f().span = saved;
    }

    fn expr_inner(&mut self, e: &'a Expr, dst: u8) {
        match &e.kind {
            ExprKind::None => {
                self.emit(Instr::abc(Op::LoadNone, dst, 0, 0));
            }
            ExprKind::True => {
                self.emit(Instr::abc(Op::LoadTrue, dst, 0, 0));
            }
            ExprKind::False => {
                self.emit(Instr::abc(Op::LoadFalse, dst, 0, 0));
            }
            ExprKind::Int(i) => self.load_int(dst, *i),
            ExprKind::BigInt(b) => self.load_const(dst, Const::BigInt(b.clone())),
            ExprKind::Float(f) => self.load_const(dst, Const::Float(*f)),
            ExprKind::Str(s) => self.load_const(dst, Const::Str(s.clone())),
            ExprKind::Bytes(b) => self.load_const(dst, Const::Bytes(b.clone())),
            ExprKind::FString(parts) => self.fstring(parts, dst),
            ExprKind::Name(n) => {
                self.check_read(e, n);
                self.load_name(n, dst);
            }
            ExprKind::List(items) => self.seq_display(items, dst, Op::BuildList),
            ExprKind::Tuple(items) => self.seq_display(items, dst, Op::BuildTuple),
            ExprKind::Set(items) => self.seq_display(items, dst, Op::BuildSet),
            ExprKind::Dict(items) => self.dict_display(items, dst),
            ExprKind::Starred(_) => self.error(e.span, "can't use starred expression here"),
            ExprKind::Attr(obj, name) => {
                if let Some(()) = self.super_attr(obj, &name.name, dst) {
                    return;
                }
                let o = self.expr_any(obj);
                let k = self.str_const(&name.name);
                self.emit_abk(Op::GetAttr, dst, o, k);
            }
            ExprKind::Subscript(obj, idx) => {
                let o = self.expr_any(obj);
                let i = self.expr_any(idx);
                self.emit(Instr::abc(Op::GetItem, dst, o, i));
            }
            ExprKind::Slice { lower, upper, step } => {
                let base = self.alloc_n(3);
                for (i, part) in [lower, upper, step].into_iter().enumerate() {
                    match part {
                        Some(x) => self.expr_to(x, base + i as u8),
                        None => {
                            self.emit(Instr::abc(Op::LoadNone, base + i as u8, 0, 0));
                        }
                    }
                }
                self.emit(Instr::abc(Op::BuildSlice, dst, base, 0));
            }
            ExprKind::Call { func, args } => self.call_to(func, args, &[], dst, e.span),
            ExprKind::Unary(op, x) => {
                // Fold negative literals (`-1`, `-2.5`).
                if *op == UnaryOp::Neg {
                    match &x.kind {
                        ExprKind::Int(i) if *i != i64::MIN => return self.load_int(dst, -*i),
                        ExprKind::Float(f) => return self.load_const(dst, Const::Float(-*f)),
                        ExprKind::BigInt(b) => {
                            let n = -b.clone();
                            return match i64::try_from(&n) {
                                Ok(i) => self.load_int(dst, i),
                                Err(_) => self.load_const(dst, Const::BigInt(n)),
                            };
                        }
                        _ => {}
                    }
                }
                let r = self.expr_any(x);
                let op = match op {
                    UnaryOp::Neg => Op::Neg,
                    UnaryOp::Pos => Op::Pos,
                    UnaryOp::Invert => Op::Invert,
                    UnaryOp::Not => Op::Not,
                };
                self.emit(Instr::abc(op, dst, r, 0));
            }
            ExprKind::Binary(op, a, b) => {
                let mark = self.mark();
                // A left operand that needs computing goes straight into `dst` when that is a
                // temporary (no variable the right operand could read): one register fewer per
                // frame, and fewer registers to clear on every return.
                let into_dst = !self.is_var(dst) && self.plain_local(a).is_none();
                let ra = if into_dst {
                    self.expr_to(a, dst);
                    dst
                } else {
                    self.expr_any(a)
                };
                // The left operand computed into a temporary is dead after the addition:
                // `AddTmp` may extend a unique string in place.
                let left_tmp = into_dst || (ra as usize >= mark && !self.is_var(ra));
                if matches!(op, BinOp::Add | BinOp::Sub) {
                    if let Some(i) = small_int(b) {
                        let o = if *op == BinOp::Add { Op::AddI } else { Op::SubI };
                        self.emit(Instr::abc(o, dst, ra, i as u8));
                        return;
                    }
                }
                let mark_b = self.mark();
                let rb = self.expr_any(b);
                let right_tmp = rb as usize >= mark_b && !self.is_var(rb);
                let o = match op {
                    BinOp::Add if left_tmp && !matches!(a.kind, ExprKind::Str(_)) => Op::AddTmp,
                    BinOp::Add if right_tmp && !matches!(b.kind, ExprKind::Str(_)) => Op::AddTmpR,
                    BinOp::Add => Op::Add,
                    BinOp::Sub => Op::Sub,
                    BinOp::Mul => Op::Mul,
                    BinOp::Div => Op::Div,
                    BinOp::FloorDiv => Op::FloorDiv,
                    BinOp::Mod => Op::Mod,
                    BinOp::Pow => Op::Pow,
                    BinOp::LShift => Op::LShift,
                    BinOp::RShift => Op::RShift,
                    BinOp::BitAnd => Op::BitAnd,
                    BinOp::BitOr => Op::BitOr,
                    BinOp::BitXor => Op::BitXor,
                    BinOp::MatMul => Op::MatMul,
                };
                self.emit(Instr::abc(o, dst, ra, rb));
            }
            ExprKind::BoolOp(op, a, b) => {
                self.expr_to(a, dst);
                // `and`: stop at a falsy left operand; `or`: stop at a truthy one.
                let test = if *op == BoolOp::And { Op::Test } else { Op::TestNot };
                self.emit(Instr::abc(test, dst, 0, 0));
                let j = self.emit_jmp();
                self.expr_to(b, dst);
                self.patch_here(&[j]);
            }
            ExprKind::Compare(first, rest) => {
                let mut left = self.expr_any(first);
                let mut ends = Vec::new();
                for (i, (op, right)) in rest.iter().enumerate() {
                    let r = self.expr_any(right);
                    self.emit(Instr::abc(cmp_value_op(*op), dst, left, r));
                    if i + 1 < rest.len() {
                        self.emit(Instr::abc(Op::Test, dst, 0, 0));
                        ends.push(self.emit_jmp());
                        // The middle operand is evaluated once; keep it in a temporary that the
                        // next comparison's operand cannot clobber.
                        left = r;
                    }
                }
                self.patch_here(&ends);
            }
            ExprKind::IfExp { test, body, orelse } => {
                let jf = self.jump_if_false(test);
                self.expr_to(body, dst);
                let end = self.emit_jmp();
                self.patch_here(&jf);
                self.expr_to(orelse, dst);
                self.patch_here(&[end]);
            }
            ExprKind::Lambda(params, body) => {
                let Some(scope) = self.unit.tree.scope_of(e) else {
                    self.error(e.span, "internal compiler error: no scope for lambda");
                    return;
                };
                let top = self.top_or_alloc(dst);
                self.make_function(scope, top, "<lambda>", Some(params), FnBody::Expr(body), e.span);
                if top != dst {
                    self.emit(Instr::abc(Op::Move, dst, top, 0));
                }
            }
            ExprKind::ListComp(elt, gens) => self.comprehension(e, gens, CompKind::List(elt), dst),
            ExprKind::SetComp(elt, gens) => self.comprehension(e, gens, CompKind::Set(elt), dst),
            ExprKind::DictComp(k, v, gens) => self.comprehension(e, gens, CompKind::Dict(k, v), dst),
            ExprKind::GenExp(elt, gens) => {
                let Some(scope) = self.unit.tree.scope_of(e) else {
                    self.error(e.span, "internal compiler error: no scope for generator");
                    return;
                };
                let base = self.top_or_alloc(dst);
                self.make_function(scope, base, "<genexpr>", None, FnBody::GenExp { elt, gens }, e.span);
                let arg = self.alloc();
                if let Some(g) = gens.first() {
                    self.expr_to(&g.iter, arg);
                }
                self.emit(Instr::abc(Op::Call, base, 1, 0));
                if base != dst {
                    self.emit(Instr::abc(Op::Move, dst, base, 0));
                }
            }
        }
    }

    /// `dst` itself when it is the newest temporary (so a call or closure can be built in
    /// place), else a fresh temporary.
    fn top_or_alloc(&mut self, dst: u8) -> u8 {
        if dst as usize + 1 == self.mark() && !self.is_var(dst) {
            dst
        } else {
            self.alloc()
        }
    }

    pub(crate) fn load_int(&mut self, dst: u8, i: i64) {
        if (i16::MIN as i64..=i16::MAX as i64).contains(&i) {
            self.emit(Instr::asbx(Op::LoadInt, dst, i as i16));
        } else {
            self.load_const(dst, Const::Int(i));
        }
    }

    /// `super().name` (zero-argument super in a method).
    fn super_attr(&mut self, obj: &'a Expr, name: &str, dst: u8) -> Option<()> {
        let ExprKind::Call { func, args } = &obj.kind else { return None };
        if !args.is_empty() || !matches!(&func.kind, ExprKind::Name(n) if n == "super") {
            return None;
        }
        let tree = self.unit.tree;
        let frame = self.fr().scope;
        let first = tree.scopes[frame].params.first().cloned();
        let Some(first) = first else {
            self.error(obj.span, "super(): no arguments");
            return Some(());
        };
        if matches!(self.name_loc("super"), NameLoc::Reg(_) | NameLoc::CellReg(_) | NameLoc::Upval(_)) {
            return None; // a user variable named `super`
        }
        let base = self.alloc_n(2);
        self.load_name(CLASS_CELL, base);
        // A `del`eted first parameter must not reach `GetSuper` as the unbound marker.
        if self.local_scope(&first).is_some_and(|s| self.flow.starts_unbound(s, &first)) {
            if let NameLoc::Reg(r) | NameLoc::CellReg(r) = self.name_loc(&first) {
                let mode = if matches!(self.name_loc(&first), NameLoc::CellReg(_)) { 1 } else { 0 };
                let k = self.str_const(&first);
                self.emit_akc(Op::CheckBound, r, k, mode);
            }
        }
        self.load_name(&first, base + 1);
        let k = self.str_const(name);
        self.emit_abk(Op::GetSuper, dst, base, k);
        Some(())
    }

    fn seq_display(&mut self, items: &'a [Expr], dst: u8, op: Op) {
        let starred = items.iter().any(|x| matches!(x.kind, ExprKind::Starred(_)));
        if !starred && items.len() <= MAX_INLINE_ITEMS {
            let base = self.alloc_n(items.len());
            for (i, x) in items.iter().enumerate() {
                self.expr_to(x, base + i as u8);
            }
            self.emit(Instr::abc(op, dst, base, items.len() as u8));
            return;
        }
        // Incremental: a list (or set) grown item by item.
        let acc = self.alloc();
        let build = if op == Op::BuildSet && !starred { Op::BuildSet } else { Op::BuildList };
        self.emit(Instr::abc(build, acc, 0, 0));
        for x in items {
            let mark = self.mark();
            match &x.kind {
                ExprKind::Starred(inner) => {
                    let r = self.expr_any(inner);
                    self.emit(Instr::abc(Op::ListExtend, acc, r, 0));
                }
                _ => {
                    let r = self.expr_any(x);
                    let add = if build == Op::BuildSet { Op::SetAdd } else { Op::ListAppend };
                    self.emit(Instr::abc(add, acc, r, 0));
                }
            }
            self.free_to(mark);
        }
        match op {
            Op::BuildTuple => {
                self.emit(Instr::abc(Op::ListToTuple, dst, acc, 0));
            }
            Op::BuildSet if build == Op::BuildList => {
                // `{*xs, y}`: set(list)
                let base = self.alloc_n(2);
                let k = self.str_const("set");
                self.emit(Instr::abx(Op::GetBuiltin, base, k as u16));
                self.emit(Instr::abc(Op::Move, base + 1, acc, 0));
                self.emit(Instr::abc(Op::Call, base, 1, 0));
                self.emit(Instr::abc(Op::Move, dst, base, 0));
            }
            _ => {
                if acc != dst {
                    self.emit(Instr::abc(Op::Move, dst, acc, 0));
                }
            }
        }
    }

    fn dict_display(&mut self, items: &'a [DictItem], dst: u8) {
        let splat = items.iter().any(|x| matches!(x, DictItem::Splat(_)));
        if !splat && items.len() * 2 <= MAX_INLINE_ITEMS {
            let base = self.alloc_n(items.len() * 2);
            for (i, it) in items.iter().enumerate() {
                if let DictItem::Pair(k, v) = it {
                    self.expr_to(k, base + 2 * i as u8);
                    self.expr_to(v, base + 2 * i as u8 + 1);
                }
            }
            self.emit(Instr::abc(Op::BuildDict, dst, base, items.len() as u8));
            return;
        }
        let acc = self.alloc();
        self.emit(Instr::abc(Op::BuildDict, acc, 0, 0));
        for it in items {
            let mark = self.mark();
            match it {
                DictItem::Pair(k, v) => {
                    let rk = self.expr_any(k);
                    let rv = self.expr_any(v);
                    self.emit(Instr::abc(Op::DictSet, acc, rk, rv));
                }
                DictItem::Splat(m) => {
                    let r = self.expr_any(m);
                    self.emit(Instr::abc(Op::DictUpdate, acc, r, 0));
                }
            }
            self.free_to(mark);
        }
        if acc != dst {
            self.emit(Instr::abc(Op::Move, dst, acc, 0));
        }
    }

    fn fstring(&mut self, parts: &'a [FPart], dst: u8) {
        // Expand `{x=}` into a literal plus the value.
        let mut n = 0usize;
        for p in parts {
            n += match p {
                FPart::Lit(_) => 1,
                FPart::Expr { debug: Some(_), .. } => 2,
                FPart::Expr { .. } => 1,
            };
        }
        if n == 0 {
            self.load_const(dst, Const::Str(String::new()));
            return;
        }
        if n == 1 {
            match &parts[0] {
                FPart::Lit(s) => self.load_const(dst, Const::Str(s.clone())),
                FPart::Expr { value, conv, spec, .. } => self.format_value(value, *conv, spec, dst),
            }
            return;
        }
        if n > 200 {
            // Join pieces in chunks to bound register use.
            let acc = self.alloc();
            self.load_const(acc, Const::Str(String::new()));
            for chunk in parts.chunks(100) {
                let mark = self.mark();
                let t = self.alloc();
                self.fstring(chunk, t);
                self.emit(Instr::abc(Op::Add, acc, acc, t));
                self.free_to(mark);
            }
            self.emit(Instr::abc(Op::Move, dst, acc, 0));
            return;
        }
        let base = self.alloc_n(n);
        let mut i = 0u8;
        for p in parts {
            match p {
                FPart::Lit(s) => {
                    self.load_const(base + i, Const::Str(s.clone()));
                    i += 1;
                }
                FPart::Expr { value, conv, spec, debug } => {
                    if let Some(text) = debug {
                        self.load_const(base + i, Const::Str(text.clone()));
                        i += 1;
                        // `{x=}` defaults to repr unless a spec or conversion is given.
                        let conv = if conv.is_none() && spec.is_empty() { Some('r') } else { *conv };
                        self.format_value(value, conv, spec, base + i);
                    } else {
                        self.format_value(value, *conv, spec, base + i);
                    }
                    i += 1;
                }
            }
        }
        self.emit(Instr::abc(Op::BuildString, dst, base, n as u8));
    }

    fn format_value(&mut self, value: &'a Expr, conv: Option<char>, spec: &'a [FPart], dst: u8) {
        let mark = self.mark();
        let v = self.alloc_n(if spec.is_empty() { 1 } else { 2 });
        self.expr_to(value, v);
        let mut c = match conv {
            None => 0,
            Some('s') => 1,
            Some('r') => 2,
            Some('a') => 3,
            Some(other) => {
                self.error(value.span, format!("invalid conversion character '{other}': expected 's', 'r', or 'a'"));
                0
            }
        };
        if !spec.is_empty() {
            self.fstring(spec, v + 1);
            c |= 4;
        }
        self.emit(Instr::abc(Op::FormatValue, dst, v, c));
        self.free_to(mark);
    }

    // ------------------------------------------------------------------ calls

    /// Compile a call into `dst`. `extra` are positional arguments appended after `args` (for
    /// the 1.5.0 form `respond(x), 201`).
    pub(crate) fn call_to(&mut self, func: &'a Expr, args: &'a [Arg], extra: &'a [Expr], dst: u8, span: Span) {
        let saved = self.fr().span;
        self.f().span = span;
        let mark = self.mark();
        // Call in place when `dst` is the newest temporary (saves a move).
        let base = self.top_or_alloc(dst);
        let simple = args.iter().all(|a| matches!(a, Arg::Pos(_)));
        let nkw = args.iter().filter(|a| matches!(a, Arg::Kw(..))).count();
        let stars = args.iter().any(|a| matches!(a, Arg::Star(_) | Arg::StarStar(_)));
        let npos = args.iter().filter(|a| matches!(a, Arg::Pos(_))).count() + extra.len();

        // `inner()` inside a `decorator` block.
        if let ExprKind::Name(n) = &func.kind {
            if n == "inner" && self.in_decorator_wrapper() && matches!(self.name_loc("inner"), NameLoc::Global(_)) {
                if args.is_empty() {
                    // `inner()` calls the wrapped function with the wrapper's own arguments as a
                    // plain call in the same task (so a host call in the handler suspends the
                    // task instead of blocking the VM), inside a handler for the respond signal:
                    //     SetupRespond H; R = fn(*args, **kwargs); PopHandler; Jmp END
                    //  H: R = __inner__(payload); EndExcept
                    //  END:
                    // The built-in `__inner__(payload)` gives `inner()` its route semantics: the
                    // server records the response (status and headers kept) and the responded
                    // value becomes the value of `inner()`.
                    let a = self.alloc_n(2);
                    let setup = self.emit(Instr::sj(Op::SetupRespond, 0));
                    self.load_name(DECO_FN, base);
                    self.load_name(DECO_ARGS, a);
                    self.load_name(DECO_KWARGS, a + 1);
                    self.f().span = span;
                    self.emit(Instr::abc(Op::CallEx, base, 0, 0));
                    self.emit(Instr::abc(Op::PopHandler, 0, 0, 0));
                    let end = self.emit_jmp();
                    self.patch_here(&[setup]);
                    self.emit(Instr::abc(Op::GetExc, a, 0, 0));
                    let k = self.str_const("__inner__");
                    self.emit(Instr::abx(Op::GetBuiltin, base, k as u16));
                    self.emit(Instr::abc(Op::Call, base, 1, 0));
                    self.emit(Instr::abc(Op::EndExcept, 0, 0, 0));
                    self.patch_here(&[end]);
                    self.finish_call(base, dst, mark, saved);
                    return;
                }
                self.load_name(DECO_FN, base);
                self.call_args(base, args, extra, simple, nkw, stars, npos);
                self.finish_call(base, dst, mark, saved);
                return;
            }
        }

        // `obj.method(args)` without a bound-method object.
        if let ExprKind::Attr(obj, name) = &func.kind {
            let is_super = matches!(&obj.kind, ExprKind::Call { func: f, args: a } if a.is_empty() && matches!(&f.kind, ExprKind::Name(n) if n == "super"));
            // `xs.append(x)` on a local receiver with one plain argument: `CallMethodR` reads
            // both registers in place (no moves into the call window). The argument is a
            // literal, a local or an operator over those, so evaluating it cannot rebind the
            // receiver (and `CallMethod` also looks the method up after the arguments).
            if simple && !is_super && npos == 1 && extra.is_empty() {
                if let (Some(rb), ExprKind::Name(recv_name), [Arg::Pos(arg)]) = (self.plain_local(obj), &obj.kind, args) {
                    if self.fusable_arg(arg, 2) {
                        self.check_read(obj, recv_name);
                        let window = self.alloc_n(1);
                        let rc = match (&arg.kind, self.plain_local(arg)) {
                            (ExprKind::Name(n), Some(r)) => {
                                self.check_read(arg, n);
                                r
                            }
                            _ => {
                                self.expr_to(arg, window);
                                window
                            }
                        };
                        let k = self.str_const(&name.name);
                        self.f().span = span;
                        self.emit(Instr::abc(Op::CallMethodR, base, rb, rc));
                        self.emit(Instr::extra(k));
                        self.finish_call(base, dst, mark, saved);
                        return;
                    }
                }
            }
            if simple && !is_super && npos < 200 {
                self.expr_to(obj, base);
                let argbase = self.alloc_n(npos);
                self.pos_args_to(args, extra, argbase);
                let k = self.str_const(&name.name);
                self.f().span = span;
                self.emit_abk(Op::CallMethod, base, npos as u8, k);
                self.finish_call(base, dst, mark, saved);
                return;
            }
        }
        // `f(x, n - 1)` with `f` a global: one `CallGlobal` instead of `GetGlobal` + `Call`.
        // Python looks the callee up before evaluating the arguments; fusing moves the lookup
        // after them, which is only unobservable when evaluating them cannot rebind globals
        // or fail differently: locals, literals and operators on those (a user `__sub__` that
        // rebinds the very function being called is the one case left out).
        if let ExprKind::Name(n) = &func.kind {
            if let NameLoc::Global(g) = self.name_loc(n) {
                let fusable = simple
                    && npos < 200
                    && args.iter().all(|a| matches!(a, Arg::Pos(x) if self.fusable_arg(x, 2)))
                    && extra.iter().all(|x| self.fusable_arg(x, 2));
                if g < 256 && fusable {
                    let first = self.alloc_n(npos);
                    self.pos_args_to(args, extra, first);
                    self.f().span = span;
                    self.emit(Instr::abc(Op::CallGlobal, base, npos as u8, g as u8));
                    self.finish_call(base, dst, mark, saved);
                    return;
                }
            }
        }
        self.expr_to(func, base);
        self.call_args(base, args, extra, simple, nkw, stars, npos);
        self.finish_call(base, dst, mark, saved);
    }

    /// The positional arguments (`args`' then `extra`) into consecutive registers from
    /// `first`; returns how many.
    fn pos_args_to(&mut self, args: &'a [Arg], extra: &'a [Expr], first: u8) -> u8 {
        let mut i = 0u8;
        for x in args.iter().filter_map(|a| if let Arg::Pos(x) = a { Some(x) } else { None }).chain(extra) {
            self.expr_to(x, first + i);
            i += 1;
        }
        i
    }

    /// Whether `e` may be evaluated after a call's global callee is looked up (see
    /// `call_to`): a literal, a local variable, or an operator over those (`depth` bounds it).
    fn fusable_arg(&mut self, e: &Expr, depth: u32) -> bool {
        match &e.kind {
            ExprKind::None | ExprKind::True | ExprKind::False | ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Str(_) => true,
            ExprKind::Name(_) => self.plain_local(e).is_some(),
            ExprKind::Unary(_, x) => depth > 0 && self.fusable_arg(x, depth - 1),
            ExprKind::Binary(_, x, y) => depth > 0 && self.fusable_arg(x, depth - 1) && self.fusable_arg(y, depth - 1),
            _ => false,
        }
    }

    fn finish_call(&mut self, base: u8, dst: u8, mark: usize, saved: Span) {
        if base != dst {
            self.emit(Instr::abc(Op::Move, dst, base, 0));
        }
        self.free_to(mark);
        self.f().span = saved;
    }

    /// Arguments after the callee in `R[base]`, then the call instruction.
    #[allow(clippy::too_many_arguments)]
    fn call_args(&mut self, base: u8, args: &'a [Arg], extra: &'a [Expr], simple: bool, nkw: usize, stars: bool, npos: usize) {
        let call_span = self.fr().span;
        if !stars && npos + nkw < 200 {
            let first = self.alloc_n(npos + nkw);
            let mut i = self.pos_args_to(args, extra, first);
            let mut names = Vec::new();
            for a in args {
                if let Arg::Kw(name, x) = a {
                    if names.contains(&name.name) {
                        self.error(name.span, format!("keyword argument repeated: {}", name.name));
                    }
                    names.push(name.name.clone());
                    self.expr_to(x, first + i);
                    i += 1;
                }
            }
            self.f().span = call_span;
            if simple || names.is_empty() {
                self.emit(Instr::abc(Op::Call, base, npos as u8, 0));
            } else {
                let k = self.konst(Const::Names(names));
                let (c, extra_word) = Instr::k8(k);
                self.emit(Instr::abc(Op::CallKw, base, npos as u8, c));
                if let Some(w) = extra_word {
                    self.emit(w);
                }
            }
            return;
        }
        // General form: f(*list, **dict).
        let lst = self.alloc();
        let kw = self.alloc();
        self.emit(Instr::abc(Op::BuildList, lst, 0, 0));
        let mut have_kw = false;
        for a in args {
            let mark = self.mark();
            match a {
                Arg::Pos(x) => {
                    let r = self.expr_any(x);
                    self.emit(Instr::abc(Op::ListAppend, lst, r, 0));
                }
                Arg::Star(x) => {
                    let r = self.expr_any(x);
                    self.emit(Instr::abc(Op::ListExtend, lst, r, 0));
                }
                Arg::Kw(name, x) => {
                    if !have_kw {
                        self.emit(Instr::abc(Op::BuildDict, kw, 0, 0));
                        have_kw = true;
                    }
                    let rk = self.alloc();
                    self.load_const(rk, Const::Str(name.name.clone()));
                    let r = self.expr_any(x);
                    self.emit(Instr::abc(Op::DictSet, kw, rk, r));
                }
                Arg::StarStar(x) => {
                    if !have_kw {
                        self.emit(Instr::abc(Op::BuildDict, kw, 0, 0));
                        have_kw = true;
                    }
                    let r = self.expr_any(x);
                    self.emit(Instr::abc(Op::DictUpdate, kw, r, 0));
                }
            }
            self.free_to(mark);
        }
        for x in extra {
            let mark = self.mark();
            let r = self.expr_any(x);
            self.emit(Instr::abc(Op::ListAppend, lst, r, 0));
            self.free_to(mark);
        }
        if !have_kw {
            self.emit(Instr::abc(Op::LoadNone, kw, 0, 0));
        }
        self.f().span = call_span;
        self.emit(Instr::abc(Op::CallEx, base, 0, 0));
    }

    fn in_decorator_wrapper(&self) -> bool {
        self.unit.tree.scopes[self.fr().scope].kind == ScopeKind::DecoratorWrapper
    }

    // ------------------------------------------------------------------ comprehensions

    fn comprehension(&mut self, e: &'a Expr, gens: &'a [Comprehension], kind: CompKind<'a>, dst: u8) {
        let Some(sid) = self.unit.tree.scope_of(e) else {
            self.error(e.span, "internal compiler error: no scope for comprehension");
            return;
        };
        let acc = self.alloc();
        let build = match kind {
            CompKind::List(_) => Op::BuildList,
            CompKind::Set(_) => Op::BuildSet,
            CompKind::Dict(..) => Op::BuildDict,
        };
        self.emit(Instr::abc(build, acc, 0, 0));
        // The first iterable is evaluated in the enclosing scope.
        let state0 = self.alloc_n(3);
        if let Some(g) = gens.first() {
            self.expr_to(&g.iter, state0);
        }
        self.enter_inline(sid);
        self.comp_loops(gens, 0, state0, &mut |cg| match kind {
            CompKind::List(elt) | CompKind::Set(elt) => {
                let r = cg.expr_any(elt);
                let op = if matches!(kind, CompKind::List(_)) { Op::ListAppend } else { Op::SetAdd };
                cg.emit(Instr::abc(op, acc, r, 0));
            }
            CompKind::Dict(k, v) => {
                let rk = cg.expr_any(k);
                let rv = cg.expr_any(v);
                cg.emit(Instr::abc(Op::DictSet, acc, rk, rv));
            }
        });
        self.leave_inline(sid);
        if acc != dst {
            self.emit(Instr::abc(Op::Move, dst, acc, 0));
        }
    }

    /// Body of a generator expression's own function: loop over `R[0]` (the first iterable).
    pub(crate) fn genexp_body(&mut self, elt: &'a Expr, gens: &'a [Comprehension]) {
        let state0 = self.alloc_n(3);
        self.load_name(crate::scope::GEN_ITER, state0);
        self.comp_loops(gens, 0, state0, &mut |cg| {
            let r = cg.expr_any(elt);
            cg.emit(Instr::abc(Op::Yield, r, 0, 0));
        });
    }

    /// Activate an inline scope: its variables get registers (cells boxed).
    fn enter_inline(&mut self, sid: usize) {
        let tree = self.unit.tree;
        self.f().scopes.push(sid);
        for sym in &tree.scopes[sid].symbols {
            if matches!(sym.kind, SymKind::Local | SymKind::Cell) {
                let r = self.alloc_var(sid, &sym.name);
                // Inline variables live in reused temporaries: reset them (to unbound when a
                // read of them is checked, see `flow.rs`).
                let unbound = self.flow.starts_unbound(sid, &sym.name);
                if unbound {
                    self.emit(Instr::abc(Op::Unbind, r, 0, 0));
                }
                if sym.kind == SymKind::Cell {
                    if !unbound {
                        self.emit(Instr::abc(Op::LoadNone, r, 0, 0));
                    }
                    self.emit(Instr::abc(Op::MakeCell, r, 0, 0));
                }
            }
        }
    }

    fn leave_inline(&mut self, sid: usize) {
        self.f().scopes.pop();
        self.f().regs.remove(&sid);
    }

    /// One `for` clause of a comprehension, bottom-tested like a `for` statement; its `if`s
    /// jump to the foot.
    fn comp_loops(&mut self, gens: &'a [Comprehension], i: usize, state: u8, body: &mut dyn FnMut(&mut Self)) {
        let g = &gens[i];
        let saved = self.fr().span;
        self.f().span = g.iter.span;
        self.emit(Instr::abc(Op::ForPrep, state, 0, 0));
        let to_foot = self.emit_jmp();
        self.f().span = saved;
        let top = self.here();
        let mark = self.mark();
        let (item, direct) = match self.simple_target_reg(&g.target) {
            Some(r) => (r, true),
            None => (self.alloc(), false),
        };
        if !direct {
            self.store(&g.target, item);
        }
        let mut skips = Vec::new();
        for cond in &g.ifs {
            skips.extend(self.jump_if_false(cond));
        }
        if i + 1 < gens.len() {
            let next_state = self.alloc_n(3);
            self.expr_to(&gens[i + 1].iter, next_state);
            self.comp_loops(gens, i + 1, next_state, body);
        } else {
            let m = self.mark();
            body(self);
            self.free_to(m);
        }
        self.patch_here(&skips);
        self.patch_here(&[to_foot]);
        self.f().span = g.iter.span;
        self.emit(Instr::abc(Op::ForLoop, state, item, 0));
        self.jmp_to(top);
        self.f().span = saved;
        self.free_to(mark);
    }

    // ------------------------------------------------------------------ conditions

    /// Emit a test of `e`; returns the jumps taken when `e` is false.
    pub(crate) fn jump_if_false(&mut self, e: &'a Expr) -> Vec<usize> {
        let saved = self.fr().span;
        self.f().span = e.span;
        let mark = self.mark();
        let out = match &e.kind {
            ExprKind::Unary(UnaryOp::Not, x) => self.jump_if_true(x),
            ExprKind::BoolOp(BoolOp::And, a, b) => {
                let mut j = self.jump_if_false(a);
                j.extend(self.jump_if_false(b));
                j
            }
            ExprKind::BoolOp(BoolOp::Or, a, b) => {
                let jt = self.jump_if_true(a);
                let jf = self.jump_if_false(b);
                self.patch_here(&jt);
                jf
            }
            ExprKind::True => Vec::new(),
            ExprKind::Int(i) if *i != 0 => Vec::new(),
            ExprKind::False | ExprKind::None => vec![self.emit_jmp()],
            ExprKind::Compare(first, rest) if rest.iter().all(|(op, _)| test_op(*op).is_some() || *op == CmpOp::Is) => {
                let mut left = self.expr_any(first);
                let mut jumps = Vec::new();
                for (op, right) in rest {
                    if *op == CmpOp::Is {
                        if matches!(right.kind, ExprKind::None) {
                            self.emit(Instr::abc(Op::TestNone, left, 0, 0));
                            jumps.push(self.emit_jmp());
                            continue;
                        }
                        let r = self.expr_any(right);
                        let t = self.alloc();
                        self.emit(Instr::abc(Op::Is, t, left, r));
                        self.emit(Instr::abc(Op::Test, t, 0, 0));
                        jumps.push(self.emit_jmp());
                        left = r;
                        continue;
                    }
                    let (rop, iop) = test_op(*op).expect("checked");
                    if let (Some(imm), true) = (small_int(right), rest.len() == 1) {
                        self.emit(Instr::abc(iop, left, imm as u8, 0));
                    } else {
                        let r = self.expr_any(right);
                        self.emit(Instr::abc(rop, left, r, 0));
                        left = r;
                    }
                    jumps.push(self.emit_jmp());
                }
                jumps
            }
            _ => {
                let r = self.expr_any(e);
                self.emit(Instr::abc(Op::Test, r, 0, 0));
                vec![self.emit_jmp()]
            }
        };
        self.free_to(mark);
        self.f().span = saved;
        out
    }

    /// Emit a test of `e`; returns the jumps taken when `e` is true.
    pub(crate) fn jump_if_true(&mut self, e: &'a Expr) -> Vec<usize> {
        let saved = self.fr().span;
        self.f().span = e.span;
        let mark = self.mark();
        let out = match &e.kind {
            ExprKind::Unary(UnaryOp::Not, x) => self.jump_if_false(x),
            ExprKind::BoolOp(BoolOp::Or, a, b) => {
                let mut j = self.jump_if_true(a);
                j.extend(self.jump_if_true(b));
                j
            }
            ExprKind::BoolOp(BoolOp::And, a, b) => {
                let jf = self.jump_if_false(a);
                let jt = self.jump_if_true(b);
                self.patch_here(&jf);
                jt
            }
            ExprKind::True => vec![self.emit_jmp()],
            ExprKind::False | ExprKind::None => Vec::new(),
            ExprKind::Compare(..) => {
                // Exact semantics: test the condition, and jump when it held.
                let jf = self.jump_if_false(e);
                let jt = self.emit_jmp();
                self.patch_here(&jf);
                vec![jt]
            }
            _ => {
                let r = self.expr_any(e);
                self.emit(Instr::abc(Op::TestNot, r, 0, 0));
                vec![self.emit_jmp()]
            }
        };
        self.free_to(mark);
        self.f().span = saved;
        out
    }
}

#[derive(Clone, Copy)]
enum CompKind<'a> {
    List(&'a Expr),
    Set(&'a Expr),
    Dict(&'a Expr, &'a Expr),
}

fn cmp_value_op(op: CmpOp) -> Op {
    match op {
        CmpOp::Eq => Op::Eq,
        CmpOp::NotEq => Op::Ne,
        CmpOp::Lt => Op::Lt,
        CmpOp::LtE => Op::Le,
        CmpOp::Gt => Op::Gt,
        CmpOp::GtE => Op::Ge,
        CmpOp::In => Op::In,
        CmpOp::NotIn => Op::NotIn,
        CmpOp::Is => Op::Is,
        CmpOp::IsNot => Op::IsNot,
    }
}

/// The register-register and register-immediate test instructions of a comparison.
fn test_op(op: CmpOp) -> Option<(Op, Op)> {
    Some(match op {
        CmpOp::Eq => (Op::TestEq, Op::TestEqI),
        CmpOp::NotEq => (Op::TestNe, Op::TestNeI),
        CmpOp::Lt => (Op::TestLt, Op::TestLtI),
        CmpOp::LtE => (Op::TestLe, Op::TestLeI),
        CmpOp::Gt => (Op::TestGt, Op::TestGtI),
        CmpOp::GtE => (Op::TestGe, Op::TestGeI),
        _ => return None,
    })
}

/// Does computing `e` into a register write that register only once, after every operand has
/// been read? (Then a variable can be the destination directly.)
fn single_write(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::None
        | ExprKind::True
        | ExprKind::False
        | ExprKind::Int(_)
        | ExprKind::BigInt(_)
        | ExprKind::Float(_)
        | ExprKind::Str(_)
        | ExprKind::Bytes(_)
        | ExprKind::Name(_)
        | ExprKind::Attr(..)
        | ExprKind::Subscript(..)
        | ExprKind::Unary(..)
        | ExprKind::Binary(..)
        | ExprKind::FString(_) => true,
        ExprKind::Compare(_, rest) => rest.len() == 1,
        ExprKind::List(xs) | ExprKind::Tuple(xs) | ExprKind::Set(xs) => {
            xs.len() <= MAX_INLINE_ITEMS && xs.iter().all(|x| !matches!(x.kind, ExprKind::Starred(_)))
        }
        ExprKind::Dict(items) => items.len() * 2 <= MAX_INLINE_ITEMS && items.iter().all(|x| matches!(x, DictItem::Pair(..))),
        _ => false,
    }
}
