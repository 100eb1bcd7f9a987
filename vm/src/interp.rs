//! The register interpreter: frames, calls, exception unwinding, tasks and generators.
//!
//! Design:
//! - Each [`Task`] owns one contiguous register stack (`Vec<Value>`) and a frame stack. An Ask
//!   call pushes a [`Frame`] whose registers start right above the caller's (`base + nregs`);
//!   arguments are moved into the callee's first registers. No Rust recursion per Ask call, so
//!   deep Ask recursion hits `Limits::max_depth` (RecursionError), never the Rust stack.
//! - Invariant: the stack always extends at least [`WINDOW`] slots above the running frame's
//!   base, so any 8-bit register operand (and `A + B` argument ranges) is in bounds; registers
//!   above a frame's `nregs` are `None` (a returning frame clears its registers).
//! - Natives receive `&mut Vm` and argument slices borrowed from the task's stack: the running
//!   task is *taken out* of the VM while it runs, so natives cannot reach (or reallocate) it.
//!   A native that calls back into Ask (`call_value`) runs a nested loop on a fresh task.
//! - Exceptions travel as `Err(Exc)`. The handler stack is per task (each handler records its
//!   frame); caught exceptions live on the task's *caught* stack while their `except`/`finally`
//!   block runs, so `raise` (re-raise) keeps the original traceback.
//! - Generators (generator expressions) are tasks of their own, parked at `Yield`.
//! - The bytecode is verified once at load time ([`verify`]) so the loop can fetch instructions
//!   and constants without bounds checks.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use crate::code::{Capture, Closure, Func, FuncProto, Namespace, Program};
use crate::error::{Exc, ExcData, LimitKind, TraceEntry, VmResult};
use crate::opcode::{Instr, Op, K_EXTRA};
use crate::ops::{self, ArithOp, CmpOp};
use crate::value::{
    BoundMethod, BuiltinType, Class, ExcKind, Instance, IterObj, NativeFunc, NativeIter, StrObj, Value,
};
use crate::vm::{RunOutcome, TaskId, Vm, MAX_NESTING};

/// Registers guaranteed to exist above the running frame's base (256 single registers plus
/// `A + B` ranges of up to 255 more, plus slack).
pub(crate) const WINDOW: usize = 520;

/// One activation of an Ask function.
pub(crate) struct Frame {
    closure: Rc<Closure>,
    /// Next instruction to execute (saved while another frame runs), as a pointer into
    /// `closure.func.code` (which the frame's `closure` keeps alive): resuming a caller is one
    /// load, not closure → function → code plus an index.
    ip: *const Instr,
    /// Absolute stack index of R[0].
    base: usize,
    /// Absolute stack index the result is written to.
    ret: usize,
    /// `__init__` frame: the result must be None and the instance (already in `ret`) stays.
    is_init: bool,
    /// A `try` block was entered in this frame: its return must go through `pop_frame`'s
    /// handler cleanup. One flag, so the fast return path tests a byte instead of the
    /// handler and caught-exception stacks.
    guarded: bool,
}

impl Frame {
    fn new(closure: Rc<Closure>, base: usize, ret: usize, is_init: bool) -> Frame {
        let ip = closure.func.code;
        Frame { closure, ip, base, ret, is_init, guarded: false }
    }

    /// Index of the next instruction.
    fn pc(&self) -> usize {
        // SAFETY: `ip` points into (or one past) this frame's code (see the field).
        unsafe { self.ip.offset_from(self.closure.func.code) as usize }
    }

    /// Continue at instruction `pc` (a verified index into this frame's code).
    fn set_pc(&mut self, pc: usize) {
        self.ip = unsafe { self.closure.func.code.add(pc) };
    }
}

struct Handler {
    /// Index of the frame that installed it.
    frame: usize,
    target: usize,
    kind: HandlerKind,
    caught_depth: usize,
}

/// What a handler catches.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HandlerKind {
    /// `except`: exceptions only.
    Except,
    /// `finally`: exceptions and the respond signal.
    Finally,
    /// `inner()`: the respond signal only.
    Respond,
}

/// A task's execution state: register stack, frames, handlers, caught exceptions.
#[derive(Default)]
pub struct Task {
    pub(crate) stack: Vec<Value>,
    frames: Vec<Frame>,
    handlers: Vec<Handler>,
    /// Exceptions being handled, with the index of the frame handling them.
    caught: Vec<(usize, Exc)>,
    /// Where the result of a suspended host call goes (absolute stack index).
    pending: Option<usize>,
    /// A task started on a callable that needs no frame (a native): run on first `run`.
    entry: Option<(Value, Vec<Value>)>,
    /// The innermost running `run_loop`'s arguments (see there), kept here rather than in
    /// locals so that the dispatch loop has two fewer values competing for registers.
    stop: usize,
    can_suspend: bool,
}

impl Task {
    fn with_stack() -> Task {
        Task { stack: vec![Value::None; WINDOW * 2], ..Default::default() }
    }
}

/// Why `run_loop` stopped without an error.
enum Exit {
    Return(Value),
    Yield(Value),
}

// ---------------------------------------------------------------------------------------------
// Loading and verification.

pub(crate) fn load_program(vm: &mut Vm, program: Arc<Program>) {
    let files: Rc<[Rc<str>]> = program.files.iter().map(|(n, _)| Rc::from(n.as_str())).collect();
    let old_main = vm.namespaces.first().cloned();
    let mut namespaces = Vec::new();
    for m in &program.modules {
        let names: Vec<Rc<str>> = m.globals.iter().map(|g| Rc::from(g.as_str())).collect();
        let mut values = vec![None; names.len()];
        if namespaces.is_empty() {
            // Hot reload: keep main-module globals by name (top-level code reassigns them).
            if let Some(old) = &old_main {
                let old_vals = old.values.borrow();
                for (i, n) in names.iter().enumerate() {
                    if let Some(j) = old.slot_of(n) {
                        values[i] = old_vals.get(j).cloned().flatten();
                    }
                }
            }
        }
        namespaces.push(Rc::new(Namespace {
            name: Rc::from(m.name.as_str()),
            names,
            values: RefCell::new(values),
            module_obj: RefCell::new(None),
        }));
    }
    vm.load_error = None;
    for (i, m) in program.modules.iter().enumerate() {
        if let Err(e) = verify(&m.main, None, &program, i) {
            vm.load_error = Some(e);
        }
    }
    vm.module_funcs = if vm.load_error.is_none() {
        program.modules.iter().map(|m| Func::new(&m.main, &namespaces, &files)).collect()
    } else {
        Vec::new()
    };
    vm.namespaces = namespaces;
    vm.files = files;
    vm.route_handlers = vec![None; program.routes.len()];
    vm.program = Some(program);
}

/// Check a proto (and its children) so the interpreter can skip bounds checks: valid opcodes,
/// in-range jumps, constants, protos, upvalues and globals, tests followed by `Jmp`, and code
/// that cannot run off its end.
pub fn verify(p: &FuncProto, parent: Option<&FuncProto>, program: &Program, module: usize) -> Result<(), String> {
    let err = |pc: usize, m: &str| Err(format!("invalid bytecode in {} at {pc}: {m}", p.name));
    let n = p.code.len();
    if p.nregs as usize > 256 || (p.nregs as usize) < p.params.nparams() {
        return err(0, "bad register count");
    }
    if p.module as usize != module && (p.module as usize) >= program.modules.len() {
        return err(0, "bad module index");
    }
    let nglobals = program.modules.get(p.module as usize).map(|m| m.globals.len()).unwrap_or(0);
    let Some(last) = p.code.last() else { return err(0, "empty code") };
    match last.op() {
        Some(Op::Return | Op::ReturnNone | Op::Jmp | Op::Raise | Op::Reraise | Op::RaiseAssert | Op::RaiseFrom) => {}
        _ => return err(n - 1, "code does not end with return/jump/raise"),
    }
    for c in &p.captures {
        match (c, parent) {
            (Capture::Local(r), Some(par)) if (*r as usize) < par.nregs as usize => {}
            (Capture::Upval(u), Some(par)) if (*u as usize) < par.captures.len() => {}
            _ => return err(0, "bad capture"),
        }
    }
    let is_str = |i: usize| matches!(p.consts.get(i), Some(crate::code::Const::Str(_)));
    let mut pc = 0;
    while pc < n {
        let ins = p.code[pc];
        let Some(op) = ins.op() else { return err(pc, "bad opcode") };
        let jump_ok = |off: isize| {
            let t = pc as isize + 1 + off;
            t >= 0 && (t as usize) < n
        };
        if op.is_test() {
            match p.code.get(pc + 1) {
                Some(j) if j.op() == Some(Op::Jmp) => {}
                _ => return err(pc, "test not followed by Jmp"),
            }
        }
        match op {
            Op::Jmp | Op::SetupExcept | Op::SetupFinally | Op::SetupRespond => {
                if !jump_ok(ins.sj_off()) {
                    return err(pc, "jump out of range");
                }
            }
            Op::LoadK | Op::GetBuiltin | Op::Import => {
                if ins.bx() >= p.consts.len() || (op != Op::LoadK && !is_str(ins.bx())) {
                    return err(pc, "bad constant");
                }
            }
            Op::GetGlobal | Op::SetGlobal | Op::DelGlobal => {
                if ins.bx() >= nglobals {
                    return err(pc, "bad global slot");
                }
            }
            Op::CallGlobal => {
                if ins.c() >= nglobals {
                    return err(pc, "bad global slot");
                }
            }
            Op::GetUpval | Op::SetUpval => {
                if ins.b() >= p.captures.len() {
                    return err(pc, "bad upvalue");
                }
            }
            Op::CheckBound | Op::Unbind => {
                if ins.c() & 3 == 3 || (ins.c() & 3 == 2 && ins.a() >= p.captures.len()) {
                    return err(pc, "bad local operand");
                }
            }
            Op::Closure => {
                let Some(child) = p.protos.get(ins.bx()) else { return err(pc, "bad proto") };
                if ins.a() + child.params.ndefault_values() >= 256 {
                    return err(pc, "bad defaults");
                }
            }
            Op::LoadModule => {
                if ins.bx() >= program.modules.len() {
                    return err(pc, "bad module");
                }
            }
            Op::CallMethodR => {
                match p.code.get(pc + 1) {
                    Some(x) if x.op() == Some(Op::ExtraArg) && is_str(x.ax()) => {}
                    _ => return err(pc, "bad CallMethodR"),
                }
                if ins.a() >= 255 {
                    return err(pc, "bad CallMethodR window");
                }
                pc += 1;
            }
            Op::AugGlobal => {
                match p.code.get(pc + 1) {
                    Some(x) if x.op() == Some(Op::ExtraArg) && x.ax() < nglobals => {}
                    _ => return err(pc, "bad AugGlobal"),
                }
                if Op::arith_op_from_code(ins.c() as u8).is_none() {
                    return err(pc, "bad AugGlobal operator");
                }
                pc += 1;
            }
            Op::RegisterRoute => {
                if ins.bx() >= program.routes.len() {
                    return err(pc, "bad route");
                }
            }
            _ => {}
        }
        if let Some(which) = op.k8_operand() {
            let mut k = if which == 'B' { ins.b() } else { ins.c() };
            if k == K_EXTRA as usize {
                match p.code.get(pc + 1) {
                    Some(x) if x.op() == Some(Op::ExtraArg) => k = x.ax(),
                    _ => return err(pc, "missing ExtraArg"),
                }
                pc += 1;
            }
            let ok = match op {
                Op::CallKw => matches!(p.consts.get(k), Some(crate::code::Const::Names(_))),
                _ => is_str(k),
            };
            if !ok {
                return err(pc, "bad constant operand");
            }
        }
        pc += 1;
    }
    for child in &p.protos {
        verify(child, Some(p), program, child.module as usize)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Entry points.

fn take_task(vm: &mut Vm) -> Task {
    vm.spare_tasks.pop().unwrap_or_else(Task::with_stack)
}

/// The error of `CheckBound`: a local read before it has a value, with CPython 3.11's wording.
#[cold]
fn unbound_error(name: &str, free: bool) -> Exc {
    if free {
        Exc::new(
            ExcKind::NameError,
            format!("cannot access free variable '{name}' where it is not associated with a value in enclosing scope"),
        )
    } else {
        Exc::new(ExcKind::UnboundLocalError, format!("cannot access local variable '{name}' where it is not associated with a value"))
    }
}

#[cold]
fn recursion_error() -> Exc {
    Exc::new(ExcKind::RecursionError, "maximum recursion depth exceeded")
}

/// `Vm::call_value` for Ask callables: a nested loop on a fresh task, run to completion.
pub(crate) fn call_nested(vm: &mut Vm, f: &Value, args: &[Value], kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    if vm.nesting >= MAX_NESTING {
        return Err(recursion_error());
    }
    let mut task = take_task(vm);
    vm.nesting += 1;
    let r = (|| {
        match invoke(vm, &mut task, f.clone(), args.to_vec(), kw.to_vec(), 0)? {
            Some(v) => Ok(v),
            None => match run_loop(vm, &mut task, 0, false)? {
                Exit::Return(v) => Ok(v),
                Exit::Yield(_) => Err(Exc::new(ExcKind::RuntimeError, "yield outside a generator")),
            },
        }
    })();
    vm.nesting -= 1;
    recycle_task(vm, task);
    r
}

fn main_closure(vm: &Vm, module: usize) -> Option<Value> {
    let f = vm.module_funcs.get(module)?.clone();
    Some(Value::Function(Rc::new(Closure { func: f, upvals: Vec::new(), defaults: Vec::new(), attrs: Default::default() })))
}

pub(crate) fn run_main(vm: &mut Vm) -> VmResult<Value> {
    if let Some(e) = &vm.load_error {
        return Err(Exc::new(ExcKind::RuntimeError, e.clone()));
    }
    let Some(main) = main_closure(vm, 0) else {
        return Err(Exc::new(ExcKind::RuntimeError, "no program loaded"));
    };
    vm.budget = vm.limits.instruction_budget;
    let saved_task = vm.current_task.take();
    let r = call_nested(vm, &main, &[], &[]);
    vm.current_task = saved_task;
    if let Some(ns) = vm.namespaces.first() {
        *ns.module_obj.borrow_mut() = None;
    }
    r
}

pub(crate) fn start_task(vm: &mut Vm, f: &Value, args: Vec<Value>) -> TaskId {
    let id = vm.next_task;
    vm.next_task = vm.next_task.wrapping_add(1).max(1);
    // A pooled task: a fresh 1,040-slot stack per request was the largest single cost of
    // serving a small handler (filling and dropping it), so finished tasks are recycled.
    let mut task = take_task(vm);
    task.entry = Some((f.clone(), args));
    vm.tasks.insert(id, task);
    TaskId(id)
}

pub(crate) fn run_task(vm: &mut Vm, t: TaskId, resume: Option<VmResult<Value>>) -> RunOutcome {
    let Some(mut task) = vm.tasks.remove(&t.0) else {
        return RunOutcome::Failed(Exc::new(ExcKind::RuntimeError, "no such task"));
    };
    vm.budget = vm.limits.instruction_budget;
    let saved_task = vm.current_task.replace(t);
    let saved_depth = vm.depth;
    vm.depth += task.frames.len();
    let r: VmResult<Exit> = (|| {
        if let Some((f, args)) = task.entry.take() {
            match invoke(vm, &mut task, f, args, Vec::new(), 0)? {
                Some(v) => return Ok(Exit::Return(v)),
                None => {}
            }
        } else if let Some(res) = resume {
            let dest = task.pending.take();
            match res {
                Ok(v) => {
                    if let Some(d) = dest {
                        task.stack[d] = v;
                    }
                }
                Err(e) => {
                    // Raise the host call's error at the suspended instruction.
                    if task.frames.is_empty() {
                        return Err(e);
                    }
                    unwind(vm, &mut task, e, 0, false)?;
                }
            }
        }
        if task.frames.is_empty() {
            return Ok(Exit::Return(std::mem::take(&mut task.stack[0])));
        }
        run_loop(vm, &mut task, 0, true)
    })();
    vm.current_task = saved_task;
    let out = match r {
        Ok(Exit::Return(v)) | Ok(Exit::Yield(v)) => RunOutcome::Done(v),
        Err(e) => match *e.0 {
            ExcData::Suspend(call) if !task.frames.is_empty() => {
                vm.depth -= task.frames.len();
                vm.tasks.insert(t.0, task);
                vm.depth = saved_depth;
                return RunOutcome::Suspended(call);
            }
            data => RunOutcome::Failed(Exc(Box::new(data))),
        },
    };
    vm.depth = saved_depth;
    recycle_task(vm, task);
    out
}

/// Return a finished task to the pool without touching its whole stack: popping a frame clears
/// exactly that frame's registers, so only the frames still on the task (after an error or a
/// limit) and the entry's result slot can hold values.
fn recycle_task(vm: &mut Vm, mut t: Task) {
    if vm.spare_tasks.len() >= 8 || t.stack.len() > WINDOW * 8 {
        return;
    }
    for f in std::mem::take(&mut t.frames) {
        let end = (f.base + f.closure.func.proto.nregs as usize).min(t.stack.len());
        for v in &mut t.stack[f.base.min(end)..end] {
            *v = Value::None;
        }
    }
    t.stack[0] = Value::None;
    t.handlers.clear();
    t.caught.clear();
    t.pending = None;
    t.entry = None;
    debug_assert!(t.stack.iter().all(|v| matches!(v, Value::None)), "a recycled task kept a value");
    vm.spare_tasks.push(t);
}

// ---------------------------------------------------------------------------------------------
// Calls.

/// Ensure the stack extends `WINDOW` slots above `base`.
#[inline(always)]
fn reserve(task: &mut Task, base: usize) {
    if task.stack.len() < base + WINDOW {
        grow(task, base);
    }
}

#[cold]
fn grow(task: &mut Task, base: usize) {
    let n = (base + WINDOW).max(task.stack.len() * 2);
    task.stack.resize(n, Value::None);
}

/// Base for a new frame on `task`.
#[inline(always)]
fn next_base(task: &Task) -> usize {
    match task.frames.last() {
        Some(f) => f.base + f.closure.func.nregs,
        None => 1,
    }
}

/// Call `f` with owned arguments. A pushed frame (`Ok(None)`) will write its result to
/// `task.stack[ret]`; an immediate result is returned as `Ok(Some(v))`.
fn invoke(
    vm: &mut Vm,
    task: &mut Task,
    f: Value,
    mut args: Vec<Value>,
    kw: Vec<(Rc<StrObj>, Value)>,
    ret: usize,
) -> VmResult<Option<Value>> {
    match f {
        Value::Function(c) => {
            if c.func.proto.is_generator {
                return make_generator(vm, &c, args, kw).map(Some);
            }
            push_frame(vm, task, c, args, kw, ret, false)?;
            Ok(None)
        }
        Value::Native(n) => {
            if let Some(inner) = crate::code::staticmethod_func(&Value::Native(n.clone())) {
                return invoke(vm, task, inner.clone(), args, kw, ret);
            }
            let r = match &n.bound {
                None => (n.func)(vm, &args, &kw),
                Some(recv) => {
                    args.insert(0, recv.clone());
                    (n.func)(vm, &args, &kw)
                }
            };
            r.map(Some)
        }
        Value::BoundMethod(bm) => {
            args.insert(0, bm.receiver.clone());
            invoke(vm, task, bm.func.clone(), args, kw, ret)
        }
        Value::Class(cls) => instantiate(vm, task, cls, args, kw, ret),
        other => {
            if let Value::Instance(inst) = &other {
                if let Some(call) = inst.class.lookup("__call__") {
                    args.insert(0, other.clone());
                    return invoke(vm, task, call, args, kw, ret);
                }
            }
            Err(Exc::type_error(format!("'{}' object is not callable", ops::type_name(&other))))
        }
    }
}

fn push_frame(
    vm: &mut Vm,
    task: &mut Task,
    c: Rc<Closure>,
    args: Vec<Value>,
    kw: Vec<(Rc<StrObj>, Value)>,
    ret: usize,
    is_init: bool,
) -> VmResult<()> {
    if vm.depth >= vm.limits.max_depth {
        return Err(recursion_error());
    }
    let base = next_base(task);
    reserve(task, base);
    let nregs = c.func.proto.nregs as usize;
    bind_args(&c, args, kw, &mut task.stack[base..base + nregs])?;
    task.frames.push(Frame::new(c, base, ret, is_init));
    vm.depth += 1;
    Ok(())
}

fn func_label(c: &Closure) -> String {
    let q = c.qualname();
    if q.is_empty() { c.name().to_string() } else { q.to_string() }
}

fn name_list(names: &[&str]) -> String {
    let q: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    match q.len() {
        0 => String::new(),
        1 => q[0].clone(),
        2 => format!("{} and {}", q[0], q[1]),
        _ => format!("{}, and {}", q[..q.len() - 1].join(", "), q[q.len() - 1]),
    }
}

/// Bind call arguments to parameter registers (`dst` = the callee's registers, all `None`).
fn bind_args(c: &Closure, args: Vec<Value>, kw: Vec<(Rc<StrObj>, Value)>, dst: &mut [Value]) -> VmResult<()> {
    let p = &c.func.proto.params;
    let npos = args.len();
    // Fast path: exact positional call of a plain function.
    if kw.is_empty() && npos == p.nargs && !p.vararg && p.nkwonly == 0 && !p.kwarg {
        for (d, a) in dst.iter_mut().zip(args) {
            *d = a;
        }
        return Ok(());
    }
    if npos > p.nargs && !p.vararg {
        let given = npos;
        let label = func_label(c);
        let takes = if p.ndefaults > 0 {
            format!("from {} to {} positional arguments", p.nargs - p.ndefaults, p.nargs)
        } else if p.nargs == 1 {
            "1 positional argument".to_string()
        } else {
            format!("{} positional arguments", p.nargs)
        };
        let was = if given == 1 { "was" } else { "were" };
        return Err(Exc::type_error(format!("{label}() takes {takes} but {given} {was} given")));
    }
    let nparams = p.nparams();
    let mut filled = vec![false; nparams];
    let mut args = args.into_iter();
    for i in 0..npos.min(p.nargs) {
        dst[i] = args.next().unwrap_or_default();
        filled[i] = true;
    }
    if let Some(r) = p.vararg_reg() {
        dst[r] = Value::tuple(args.collect());
        filled[r] = true;
    }
    let kwreg = p.kwarg_reg();
    let mut kwdict = crate::value::Dict::default();
    let kwstart = p.kwonly_start();
    for (k, v) in kw {
        let name = k.as_str();
        let idx = p.names[..p.nargs]
            .iter()
            .position(|n| n == name)
            .or_else(|| p.names[kwstart..kwstart + p.nkwonly].iter().position(|n| n == name).map(|i| i + kwstart));
        match idx {
            Some(i) => {
                if filled[i] {
                    return Err(Exc::type_error(format!("{}() got multiple values for argument '{}'", func_label(c), name)));
                }
                dst[i] = v;
                filled[i] = true;
            }
            None if kwreg.is_some() => {
                kwdict.insert(crate::value::HKey(Value::Str(k)), v);
            }
            None => {
                return Err(Exc::type_error(format!("{}() got an unexpected keyword argument '{}'", func_label(c), name)));
            }
        }
    }
    if let Some(r) = kwreg {
        dst[r] = Value::dict(kwdict);
    }
    // Defaults.
    let first_default = p.nargs - p.ndefaults;
    let mut missing: Vec<&str> = Vec::new();
    for i in 0..p.nargs {
        if !filled[i] {
            if i >= first_default {
                dst[i] = c.defaults.get(i - first_default).cloned().unwrap_or_default();
            } else {
                missing.push(&p.names[i]);
            }
        }
    }
    if !missing.is_empty() {
        let s = if missing.len() == 1 { "" } else { "s" };
        return Err(Exc::type_error(format!(
            "{}() missing {} required positional argument{s}: {}",
            func_label(c),
            missing.len(),
            name_list(&missing)
        )));
    }
    let mut di = p.ndefaults;
    for j in 0..p.nkwonly {
        let i = kwstart + j;
        let has_default = p.kwonly_defaults.get(j).copied().unwrap_or(false);
        if !filled[i] {
            if has_default {
                dst[i] = c.defaults.get(di).cloned().unwrap_or_default();
            } else {
                missing.push(&p.names[i]);
            }
        }
        if has_default {
            di += 1;
        }
    }
    if !missing.is_empty() {
        let s = if missing.len() == 1 { "" } else { "s" };
        return Err(Exc::type_error(format!(
            "{}() missing {} required keyword-only argument{s}: {}",
            func_label(c),
            missing.len(),
            name_list(&missing)
        )));
    }
    Ok(())
}

fn is_exception_class(cls: &Rc<Class>) -> bool {
    let mut cur = Some(cls.clone());
    while let Some(c) = cur {
        if matches!(c.builtin, Some(BuiltinType::Exc(_))) {
            return true;
        }
        cur = c.base.clone();
    }
    false
}

fn instantiate(
    vm: &mut Vm,
    task: &mut Task,
    cls: Rc<Class>,
    mut args: Vec<Value>,
    kw: Vec<(Rc<StrObj>, Value)>,
    ret: usize,
) -> VmResult<Option<Value>> {
    if let Some(b) = cls.builtin {
        if let BuiltinType::Exc(_) = b {
            if !kw.is_empty() {
                return Err(Exc::type_error(format!("{}() takes no keyword arguments", cls.name.as_str())));
            }
            let inst = Instance { class: cls.clone(), attrs: Default::default() };
            inst.attrs.borrow_mut().insert(Rc::from("args"), Value::tuple(args));
            return Ok(Some(Value::Instance(Rc::new(inst))));
        }
        let ctor = cls.attrs.borrow().get("__new__").cloned();
        if let Some(ctor) = ctor {
            return invoke(vm, task, ctor, args, kw, ret);
        }
        return crate::builtins::construct_builtin(vm, b, &args, &kw).map(Some);
    }
    // A class implemented natively (no built-in tag) builds its object with a native `__new__`
    // (called with the call's arguments, like the tagged ones above).
    let native_new = match cls.attrs.borrow().get("__new__") {
        Some(v @ Value::Native(n)) if n.name != "staticmethod" => Some(v.clone()),
        _ => None,
    };
    if let Some(ctor) = native_new {
        return invoke(vm, task, ctor, args, kw, ret);
    }
    let inst = Value::Instance(Rc::new(Instance { class: cls.clone(), attrs: Default::default() }));
    let is_exc = is_exception_class(&cls);
    if is_exc {
        if let Value::Instance(i) = &inst {
            i.attrs.borrow_mut().insert(Rc::from("args"), Value::tuple(args.clone()));
        }
    }
    match cls.lookup("__init__") {
        Some(Value::Function(init)) => {
            args.insert(0, inst.clone());
            task.stack[ret] = inst;
            push_frame(vm, task, init, args, kw, ret, true)?;
            Ok(None)
        }
        Some(other) => {
            args.insert(0, inst.clone());
            let r = call_value_any(vm, &other, &args, &kw)?;
            if !r.is_none() {
                return Err(Exc::type_error(format!("__init__() should return None, not '{}'", ops::type_name(&r))));
            }
            Ok(Some(inst))
        }
        None => {
            if !is_exc && (!args.is_empty() || !kw.is_empty()) {
                return Err(Exc::type_error(format!("{}() takes no arguments", cls.name.as_str())));
            }
            Ok(Some(inst))
        }
    }
}

fn call_value_any(vm: &mut Vm, f: &Value, args: &[Value], kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    vm.call_value(f, args, kw)
}

// ---------------------------------------------------------------------------------------------
// Generators.

struct Generator {
    task: Task,
    done: bool,
}

fn make_generator(vm: &mut Vm, c: &Rc<Closure>, args: Vec<Value>, kw: Vec<(Rc<StrObj>, Value)>) -> VmResult<Value> {
    let _ = vm;
    let mut task = Task { stack: vec![Value::None; WINDOW + 64], ..Default::default() };
    let base = 1;
    let nregs = c.func.proto.nregs as usize;
    bind_args(c, args, kw, &mut task.stack[base..base + nregs])?;
    task.frames.push(Frame::new(c.clone(), base, 0, false));
    let g = Generator { task, done: false };
    Ok(Value::Iter(Rc::new(RefCell::new(IterObj::Native(crate::value::NativeBox::new(g))))))
}

impl NativeIter for Generator {
    fn next(&mut self, vm: &mut Vm) -> VmResult<Option<Value>> {
        if self.done {
            return Ok(None);
        }
        if vm.nesting >= MAX_NESTING || vm.depth + self.task.frames.len() >= vm.limits.max_depth {
            return Err(recursion_error());
        }
        vm.nesting += 1;
        vm.depth += self.task.frames.len();
        let r = run_loop(vm, &mut self.task, 0, false);
        vm.nesting -= 1;
        match r {
            Ok(Exit::Yield(v)) => {
                vm.depth -= self.task.frames.len();
                Ok(Some(v))
            }
            Ok(Exit::Return(_)) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Exceptions.

fn trace_entry(f: &Frame, pc: usize) -> TraceEntry {
    let func = &f.closure.func;
    let loc = func.proto.loc(pc.saturating_sub(1));
    TraceEntry { file: func.file_name(loc.file), line: loc.line, col: loc.col, function: func.name_rc() }
}

impl Func {
    fn name_rc(&self) -> Rc<str> {
        Rc::from(self.proto.name.as_str())
    }
}

/// Pop the top frame, clearing its registers.
#[inline(always)]
fn pop_frame(vm: &mut Vm, task: &mut Task) -> Frame {
    let f = task.frames.pop().expect("frame");
    let nregs = f.closure.func.proto.nregs as usize;
    for v in &mut task.stack[f.base..f.base + nregs] {
        set_reg(v, Value::None);
    }
    let idx = task.frames.len();
    while task.handlers.last().is_some_and(|h| h.frame >= idx) {
        task.handlers.pop();
    }
    while task.caught.last().is_some_and(|c| c.0 >= idx) {
        task.caught.pop();
    }
    vm.depth -= 1;
    f
}

/// Unwind `task` to the innermost handler that takes `e`. `Ok(())`: a handler was found and
/// the top frame's pc points at it. `Err(e)`: the exception left frame `stop`.
/// `reraise`: the top frame already has a traceback entry for this exception.
fn unwind(vm: &mut Vm, task: &mut Task, mut e: Exc, stop: usize, mut reraise: bool) -> Result<(), Exc> {
    let is_exc = e.is_exception();
    let is_respond = matches!(*e.0, ExcData::Respond(_));
    loop {
        let top = task.frames.len() - 1;
        if !reraise {
            if let Some(tb) = e.traceback_mut() {
                let f = &task.frames[top];
                tb.push(trace_entry(f, f.pc()));
            }
        }
        reraise = false;
        while let Some(h) = task.handlers.last() {
            if h.frame != top {
                break;
            }
            let h = task.handlers.pop().expect("handler");
            let catches = match h.kind {
                HandlerKind::Except => is_exc,
                HandlerKind::Finally => is_exc || is_respond,
                HandlerKind::Respond => is_respond,
            };
            if catches {
                task.caught.truncate(h.caught_depth);
                task.caught.push((top, e));
                task.frames[top].set_pc(h.target);
                return Ok(());
            }
        }
        pop_frame(vm, task);
        if task.frames.len() <= stop {
            return Err(e);
        }
    }
}

/// Does exception `e` match `cls` (a class or a tuple of classes)?
fn exc_matches(e: &Exc, cls: &Value) -> VmResult<bool> {
    match cls {
        Value::Tuple(t) => {
            for c in t.iter() {
                if exc_matches(e, c)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Value::Class(c) => {
            if !is_exception_class(c) {
                return Err(Exc::type_error("catching classes that do not inherit from BaseException is not allowed"));
            }
            Ok(match &*e.0 {
                ExcData::Builtin { kind, .. } => {
                    let Some(BuiltinType::Exc(target)) = c.builtin else { return Ok(false) };
                    let mut k = Some(*kind);
                    let mut found = false;
                    while let Some(kk) = k {
                        if kk == target {
                            found = true;
                            break;
                        }
                        k = kk.parent();
                    }
                    found
                }
                ExcData::Raised { value: Value::Instance(i), .. } => {
                    if i.class.is_subclass_of(c) {
                        true
                    } else {
                        // Classes may come from a replaced built-in table: compare builtin kinds.
                        match c.builtin {
                            Some(BuiltinType::Exc(target)) => {
                                let mut cur = Some(i.class.clone());
                                let mut found = false;
                                while let Some(cc) = cur {
                                    if cc.builtin == Some(BuiltinType::Exc(target)) {
                                        found = true;
                                        break;
                                    }
                                    cur = cc.base.clone();
                                }
                                found
                            }
                            _ => false,
                        }
                    }
                }
                _ => false,
            })
        }
        _ => Err(Exc::type_error("catching classes that do not inherit from BaseException is not allowed")),
    }
}

/// `raise v`.
fn make_raise(vm: &mut Vm, v: Value) -> Exc {
    match &v {
        Value::Class(c) if is_exception_class(c) => match vm.call_value(&v, &[], &[]) {
            Ok(inst) => Exc(Box::new(ExcData::Raised { value: inst, traceback: Vec::new() })),
            Err(e) => e,
        },
        Value::Instance(i) if is_exception_class(&i.class) => {
            Exc(Box::new(ExcData::Raised { value: v, traceback: Vec::new() }))
        }
        _ => Exc::type_error("exceptions must derive from BaseException"),
    }
}

pub(crate) fn format_traceback(vm: &mut Vm, exc: &Exc) -> String {
    let (tb, head) = match &*exc.0 {
        ExcData::Builtin { kind, msg, traceback } => {
            let head = if msg.is_empty() { kind.name().to_string() } else { format!("{}: {}", kind.name(), msg) };
            (traceback.clone(), head)
        }
        ExcData::Raised { value, traceback } => {
            let name = match value {
                Value::Instance(i) => i.class.name.as_str().to_string(),
                other => ops::type_name(other),
            };
            let msg = exc_message(vm, value);
            let head = if msg.is_empty() { name } else { format!("{name}: {msg}") };
            (traceback.clone(), head)
        }
        ExcData::Respond(_) => return "respond() outside a route handler".to_string(),
        ExcData::Suspend(c) => return format!("host call {c:?} could not be performed"),
        ExcData::Limit(LimitKind::Instructions) => return "LimitError: instruction budget exhausted".to_string(),
        ExcData::Limit(LimitKind::Memory) => return "MemoryError: size limit exceeded".to_string(),
    };
    let mut out = String::from("Traceback (most recent call last):\n");
    // Like CPython, collapse runs of identical entries (deep recursion) after three.
    let mut last: Option<&TraceEntry> = None;
    let mut repeats = 0usize;
    let flush = |out: &mut String, repeats: usize| {
        if repeats > 3 {
            let n = repeats - 3;
            out.push_str(&format!("  [Previous line repeated {n} more time{}]\n", if n == 1 { "" } else { "s" }));
        }
    };
    for e in tb.iter().rev() {
        if last.is_some_and(|l| l.file == e.file && l.line == e.line && l.function == e.function) {
            repeats += 1;
            if repeats > 3 {
                continue;
            }
        } else {
            flush(&mut out, repeats);
            repeats = 1;
        }
        last = Some(e);
        out.push_str(&format!("  {}:{} in {}\n", e.file, e.line, e.function));
        if let Some(line) = source_line(vm, &e.file, e.line) {
            out.push_str("    ");
            out.push_str(line.trim());
            out.push('\n');
        }
    }
    flush(&mut out, repeats);
    out.push_str(&head);
    out
}

/// `str(exc)` as CPython prints it after the type name.
fn exc_message(vm: &mut Vm, value: &Value) -> String {
    crate::format::to_str(vm, value).unwrap_or_default()
}

fn source_line(vm: &Vm, file: &str, line: u32) -> Option<String> {
    let p = vm.program.as_ref()?;
    let (_, src) = p.files.iter().find(|(n, _)| n == file)?;
    src.lines().nth(line.checked_sub(1)? as usize).map(|s| s.to_string())
}

// ---------------------------------------------------------------------------------------------
// Helpers used by the loop (slow paths).

#[inline(always)]
fn truthy(vm: &mut Vm, v: &Value) -> VmResult<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Int(i) => Ok(*i != 0),
        Value::None => Ok(false),
        _ => truthy_slow(vm, v),
    }
}

#[cold]
#[inline(never)]
fn truthy_slow(vm: &mut Vm, v: &Value) -> VmResult<bool> {
    match v {
        Value::Str(s) => Ok(!s.s.is_empty()),
        Value::List(l) => Ok(!l.borrow().is_empty()),
        Value::Float(f) => Ok(*f != 0.0),
        _ => ops::truthy(vm, v),
    }
}

#[cold]
#[inline(never)]
fn arith_slow(vm: &mut Vm, op: ArithOp, a: &Value, b: &Value) -> VmResult<Value> {
    ops::arith(vm, op, a, b)
}

#[inline(always)]
fn cmp_fast(op: CmpOp, a: &Value, b: &Value) -> Option<bool> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(match op {
            CmpOp::Lt => x < y,
            CmpOp::Le => x <= y,
            CmpOp::Gt => x > y,
            CmpOp::Ge => x >= y,
            CmpOp::Eq => x == y,
            CmpOp::Ne => x != y,
        }),
        (Value::Float(x), Value::Float(y)) => Some(match op {
            CmpOp::Lt => x < y,
            CmpOp::Le => x <= y,
            CmpOp::Gt => x > y,
            CmpOp::Ge => x >= y,
            CmpOp::Eq => x == y,
            CmpOp::Ne => x != y,
        }),
        (Value::Str(x), Value::Str(y)) => match op {
            CmpOp::Eq => Some(Rc::ptr_eq(x, y) || x.s == y.s),
            CmpOp::Ne => Some(!(Rc::ptr_eq(x, y) || x.s == y.s)),
            _ => None,
        },
        _ => None,
    }
}

#[cold]
#[inline(never)]
fn compare_slow(vm: &mut Vm, op: CmpOp, a: &Value, b: &Value) -> VmResult<bool> {
    ops::compare(vm, op, a, b)
}

fn cmp_of(op: Op) -> CmpOp {
    match op {
        Op::Lt | Op::TestLt | Op::TestLtI => CmpOp::Lt,
        Op::Le | Op::TestLe | Op::TestLeI => CmpOp::Le,
        Op::Gt | Op::TestGt | Op::TestGtI => CmpOp::Gt,
        Op::Ge | Op::TestGe | Op::TestGeI => CmpOp::Ge,
        Op::Eq | Op::TestEq | Op::TestEqI => CmpOp::Eq,
        _ => CmpOp::Ne,
    }
}

fn arith_of(op: Op) -> ArithOp {
    match op {
        Op::Add | Op::AddI => ArithOp::Add,
        Op::Sub | Op::SubI => ArithOp::Sub,
        Op::Mul => ArithOp::Mul,
        Op::Div => ArithOp::Div,
        Op::FloorDiv => ArithOp::FloorDiv,
        Op::Mod => ArithOp::Mod,
        Op::Pow => ArithOp::Pow,
        Op::LShift => ArithOp::LShift,
        Op::RShift => ArithOp::RShift,
        Op::BitAnd => ArithOp::BitAnd,
        Op::BitOr => ArithOp::BitOr,
        Op::BitXor => ArithOp::BitXor,
        _ => ArithOp::MatMul,
    }
}

/// `Aug`'s operator codes for `+=` and `-=`, which it runs without the general dispatch.
const AUG_ADD: usize = Op::arith_op_code(ArithOp::Add) as usize;
const AUG_SUB: usize = Op::arith_op_code(ArithOp::Sub) as usize;

/// Int fast path of binary arithmetic (None: take the slow path).
#[inline(always)]
fn arith_fast(op: ArithOp, a: &Value, b: &Value) -> Option<Value> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => int_arith(op, *x, *y).map(Value::Int),
        (Value::Float(x), Value::Float(y)) => float_arith(op, *x, *y).map(Value::Float),
        _ => None,
    }
}

/// The i64 results `arith_fast` computes without leaving the fast path (`None`: overflow, a
/// negative divisor, or an operator that needs the general path).
#[inline(always)]
fn int_arith(op: ArithOp, x: i64, y: i64) -> Option<i64> {
    match op {
        ArithOp::Add => x.checked_add(y),
        ArithOp::Sub => x.checked_sub(y),
        ArithOp::Mul => x.checked_mul(y),
        ArithOp::FloorDiv if y > 0 => Some(x.div_euclid(y)),
        ArithOp::Mod if y > 0 => Some(x.rem_euclid(y)),
        ArithOp::BitAnd => Some(x & y),
        ArithOp::BitOr => Some(x | y),
        ArithOp::BitXor => Some(x ^ y),
        _ => None,
    }
}

#[inline(always)]
fn float_arith(op: ArithOp, x: f64, y: f64) -> Option<f64> {
    match op {
        ArithOp::Add => Some(x + y),
        ArithOp::Sub => Some(x - y),
        ArithOp::Mul => Some(x * y),
        ArithOp::Div if y != 0.0 => Some(x / y),
        _ => None,
    }
}

/// Compute `x <op> y` straight into `slot` when both are ints or both floats and the fast path
/// applies; false otherwise (nothing written). Why not `set_reg(slot, arith_fast(..)?)`: the
/// `Option<Value>` is built in a stack slot with a one-byte tag store and an eight-byte payload
/// store, then copied with one sixteen-byte load, which misses store forwarding (a ~12-cycle
/// stall per arithmetic instruction in tight loops).
#[inline(always)]
fn arith_into(slot: *mut Value, op: ArithOp, x: &Value, y: &Value) -> bool {
    match (x, y) {
        (Value::Int(x), Value::Int(y)) => match int_arith(op, *x, *y) {
            Some(z) => {
                write_int(unsafe { &mut *slot }, z);
                true
            }
            None => false,
        },
        (Value::Float(x), Value::Float(y)) => match float_arith(op, *x, *y) {
            Some(z) => {
                write_float(unsafe { &mut *slot }, z);
                true
            }
            None => false,
        },
        _ => false,
    }
}

fn lookup_builtin(vm: &Vm, name: &str) -> VmResult<Value> {
    if let Some(t) = vm.current_task {
        if let Some(locals) = vm.task_locals.get(&t.0) {
            if let Some((_, v)) = locals.iter().find(|(n, _)| *n == name) {
                return Ok(v.clone());
            }
        }
    }
    match vm.builtins.get(name) {
        Some(v) => Ok(v.clone()),
        None => Err(Exc::new(ExcKind::NameError, format!("name '{name}' is not defined"))),
    }
}

fn const_str(v: &Value) -> &str {
    match v {
        Value::Str(s) => s.as_str(),
        _ => "",
    }
}

fn unpack_values(vm: &mut Vm, v: &Value) -> VmResult<Vec<Value>> {
    match v {
        Value::Tuple(t) => Ok(t.to_vec()),
        Value::List(l) => Ok(l.borrow().clone()),
        Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::BigInt(_) | Value::Function(_)
        | Value::Native(_) | Value::Class(_) => Err(Exc::type_error(format!(
            "cannot unpack non-iterable {} object",
            ops::type_name(v)
        ))),
        _ => ops::collect(vm, v),
    }
}

pub(crate) fn ascii_escape(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        let c = ch as u32;
        if c < 0x80 {
            out.push(ch);
        } else if c < 0x100 {
            out.push_str(&format!("\\x{c:02x}"));
        } else if c < 0x10000 {
            out.push_str(&format!("\\u{c:04x}"));
        } else {
            out.push_str(&format!("\\U{c:08x}"));
        }
    }
    out
}

fn super_attr(vm: &mut Vm, cls: &Value, this: &Value, name: &str) -> VmResult<Value> {
    let Value::Class(c) = cls else {
        return Err(Exc::new(ExcKind::RuntimeError, "super(): __class__ cell not found"));
    };
    let found = c.base.as_ref().and_then(|b| b.lookup(name));
    match found {
        Some(Value::Function(f)) => Ok(Value::BoundMethod(Rc::new(BoundMethod { receiver: this.clone(), func: Value::Function(f) }))),
        Some(v) => {
            if let Some(inner) = crate::code::staticmethod_func(&v) {
                return Ok(inner.clone());
            }
            if let Some(getter) = crate::code::property_getter(&v) {
                let g = getter.clone();
                return vm.call_value(&g, std::slice::from_ref(this), &[]);
            }
            if let Value::Native(n) = &v {
                if n.bound.is_none() {
                    return Ok(Value::Native(Rc::new(NativeFunc { name: n.name, func: n.func, bound: Some(this.clone()), data: n.data.clone() })));
                }
            }
            Ok(v)
        }
        None if name == "__init__" => {
            // object.__init__ / BaseException.__init__: set `args` on exceptions.
            fn base_init(_vm: &mut Vm, args: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
                if let Some(Value::Instance(i)) = args.first() {
                    if is_exception_class(&i.class) {
                        i.attrs.borrow_mut().insert(Rc::from("args"), Value::tuple(args[1..].to_vec()));
                    }
                }
                Ok(Value::None)
            }
            Ok(Value::Native(Rc::new(NativeFunc { name: "__init__", func: base_init, bound: Some(this.clone()), data: None })))
        }
        None => Err(Exc::attribute_error(format!("'super' object has no attribute '{name}'"))),
    }
}

/// `getattr` with an instance fast path (no bound-method allocation for plain attributes).
#[inline]
fn get_attr(vm: &mut Vm, obj: &Value, name: &str) -> VmResult<Value> {
    if let Value::Instance(i) = obj {
        if let Some(v) = i.attrs.borrow().get(name) {
            return Ok(v.clone());
        }
    }
    ops::get_attr(vm, obj, name)
}

/// Look up a method for `CallMethod` on an instance: `(callable, pass_self)`.
fn instance_method(vm: &mut Vm, obj: &Value, i: &Rc<Instance>, name: &str) -> VmResult<(Value, bool)> {
    if let Some(v) = i.attrs.borrow().get(name) {
        return Ok((v.clone(), false));
    }
    match i.class.lookup(name) {
        Some(Value::Function(f)) => Ok((Value::Function(f), true)),
        Some(v) => {
            if let Some(inner) = crate::code::staticmethod_func(&v) {
                return Ok((inner.clone(), false));
            }
            Ok((ops::get_attr(vm, obj, name)?, false))
        }
        None => Ok((ops::get_attr(vm, obj, name)?, false)),
    }
}

// ---------------------------------------------------------------------------------------------
// The loop.

/// Make room for one more frame (out of line: the frame stack grows rarely).
#[cold]
#[inline(never)]
fn grow_frames(frames: &mut Vec<Frame>) {
    frames.reserve(64);
}

/// Push a plain call's frame, `Vec::push` kept inline (the generic one is an out-of-line call
/// on the hottest path). The caller has made room with [`grow_frames`] first: with no
/// allocation (nor its unwind path) between building the fields and storing them, they go
/// straight from registers into the slot instead of through a `Frame` on the stack.
#[inline(always)]
fn push_plain_frame(frames: &mut Vec<Frame>, closure: Rc<Closure>, ip: *const Instr, base: usize, ret: usize) {
    debug_assert!(frames.len() < frames.capacity());
    // SAFETY: capacity > len (see above); the slot is initialised field by field before
    // `set_len`. Field by field also because building the `Frame` on the stack and copying it
    // wide reloads the just-stored flag bytes as a word (a store-forwarding stall per call).
    unsafe {
        let len = frames.len();
        let p = frames.as_mut_ptr().add(len);
        std::ptr::addr_of_mut!((*p).closure).write(closure);
        std::ptr::addr_of_mut!((*p).ip).write(ip);
        std::ptr::addr_of_mut!((*p).base).write(base);
        std::ptr::addr_of_mut!((*p).ret).write(ret);
        std::ptr::addr_of_mut!((*p).is_init).write(false);
        std::ptr::addr_of_mut!((*p).guarded).write(false);
        frames.set_len(len + 1);
    }
}

/// Clone with the immediates inlined (the derived `clone` is an out-of-line call).
#[inline(always)]
fn fast_clone(v: &Value) -> Value {
    match v {
        // SAFETY: immediates own nothing, so a bitwise copy is a valid clone. Copying all 16
        // bytes at once (instead of rebuilding the variant field by field) also avoids a
        // store-forwarding stall when the copy is read back right away.
        Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_) => unsafe { std::ptr::read(v) },
        // Refcounted: bump the count, then copy the 16 bytes wide (rebuilding the variant
        // as tag byte + pointer and reading it back as a whole stalls store forwarding).
        // SAFETY: the forgotten clone accounts for the extra owner the bitwise copy creates.
        Value::Function(f) => unsafe {
            std::mem::forget(Rc::clone(f));
            std::ptr::read(v)
        },
        Value::Str(x) => unsafe {
            std::mem::forget(Rc::clone(x));
            std::ptr::read(v)
        },
        Value::List(x) => unsafe {
            std::mem::forget(Rc::clone(x));
            std::ptr::read(v)
        },
        Value::Dict(x) => unsafe {
            std::mem::forget(Rc::clone(x));
            std::ptr::read(v)
        },
        Value::Instance(x) => unsafe {
            std::mem::forget(Rc::clone(x));
            std::ptr::read(v)
        },
        _ => v.clone(),
    }
}

/// Store into a register. Overwriting an immediate (the common case in arithmetic loops) needs no
/// destructor call, so skip the out-of-line `drop_in_place`.
#[inline(always)]
fn set_reg(slot: &mut Value, v: Value) {
    match slot {
        Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_) => unsafe {
            // SAFETY: the old value owns no heap memory, so not dropping it leaks nothing.
            std::ptr::write(slot, v)
        },
        _ => replace_heap(slot, v),
    }
}

/// `set_reg`'s path for a slot that owns heap memory, out of line and marked cold so that its
/// destructor call does not make the dispatch loop spill its hot state around every store.
#[cold]
#[inline(never)]
fn replace_heap(slot: &mut Value, v: Value) {
    *slot = v;
}

/// Tag byte of `Value::Int` (`Value` is `repr(u8)`: the discriminant is byte 0).
const INT_TAG: u8 = unsafe { *(&Value::Int(0) as *const Value as *const u8) };
const _: () = assert!(std::mem::size_of::<Value>() == 16);

/// Store an int result into a register with one 16-byte store when the old value is an
/// immediate. Writing the tag byte and the payload separately makes the next wide read of the
/// register (a move, an argument copy, a return) miss store forwarding and stall.
#[inline(always)]
fn write_int(slot: &mut Value, i: i64) {
    #[cfg(target_arch = "x86_64")]
    if matches!(slot, Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_)) {
        use std::arch::x86_64::{__m128i, _mm_set_epi64x, _mm_storeu_si128};
        // SAFETY: the old value owns nothing; the written bytes are the tag in byte 0 (rest of
        // the first word zero padding) and the i64 payload in the second word, which is the
        // `repr(u8)` layout of `Value::Int` (also checked by the `write_int_layout` test).
        // SSE2 is baseline.
        unsafe {
            _mm_storeu_si128(slot as *mut Value as *mut __m128i, _mm_set_epi64x(i, INT_TAG as i64));
        }
        return;
    }
    set_reg(slot, Value::Int(i));
}

/// Tag byte of `Value::Float` (see `INT_TAG`).
const FLOAT_TAG: u8 = unsafe { *(&Value::Float(0.0) as *const Value as *const u8) };

/// `write_int` for float results: one 16-byte store of the tag and the f64 bits.
#[inline(always)]
fn write_float(slot: &mut Value, f: f64) {
    #[cfg(target_arch = "x86_64")]
    if matches!(slot, Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_)) {
        use std::arch::x86_64::{__m128i, _mm_set_epi64x, _mm_storeu_si128};
        // SAFETY: as in `write_int`, with `Value::Float`'s layout (tag byte 0, f64 in word 1).
        unsafe {
            _mm_storeu_si128(slot as *mut Value as *mut __m128i, _mm_set_epi64x(f.to_bits() as i64, FLOAT_TAG as i64));
        }
        return;
    }
    set_reg(slot, Value::Float(f));
}

/// Tag byte of `Value::None` (see `INT_TAG`).
const NONE_TAG: u8 = unsafe { *(&Value::None as *const Value as *const u8) };

/// Reset `n` registers from `regs` to None, dropping what they own (every return does this to
/// keep the invariant that a new frame's registers are all None). Four registers at a time: the
/// OR of their tag bytes is an immediate's tag only if all four are immediates (their tags
/// are 0..=3, and every heap variant's tag is >= 4), and then four one-byte stores suffice:
/// cheaper than a test-and-branch per register on the hottest path of every call.
///
/// `n` is rounded up to a multiple of four, so there is no one-at-a-time tail: the registers
/// past a frame's window are None (the same invariant) and lie inside the stack (it extends
/// `WINDOW` slots past every base), so clearing them again changes nothing.
#[inline(always)]
fn clear_regs(regs: *mut Value, n: usize) {
    // nregs <= 256 (`verify`), so the rounded-up count stays inside the window.
    const _: () = assert!(NONE_TAG == 0 && INT_TAG < 4 && WINDOW >= 256 + 4);
    let tag = |p: *mut Value, i: usize| unsafe { p.add(i) as *mut u8 };
    let mut p = regs;
    // SAFETY: `end` and every group start lie inside the window (see above).
    let end = unsafe { regs.add(n) };
    // A do-while: every frame has at least one register, and the common case (up to four
    // registers) is then one pass without a loop test up front.
    loop {
        // SAFETY: as above; the four registers are initialised values.
        unsafe {
            if *tag(p, 0) | *tag(p, 1) | *tag(p, 2) | *tag(p, 3) < 4 {
                // All four are immediates (own nothing): writing the None tag byte turns each
                // into a valid `Value::None` (its payload bytes are padding).
                *tag(p, 0) = NONE_TAG;
                *tag(p, 1) = NONE_TAG;
                *tag(p, 2) = NONE_TAG;
                *tag(p, 3) = NONE_TAG;
            } else {
                for j in 0..4 {
                    set_reg(&mut *p.add(j), Value::None);
                }
            }
            p = p.add(4);
        }
        if p >= end {
            break;
        }
    }
}

/// Defines the dispatch loop's helper macros over the cached frame state, for both `run_loop`
/// (the hot instructions) and `cold_step` (the rest), which name that state alike. `$d` is a
/// literal `$` so the generated macros can take parameters; the identifiers are passed in
/// because `macro_rules!` hygiene would not let the macros see them otherwise.
macro_rules! frame_macros {
    ($d:tt $task:ident $ip:ident $regs:ident $func:ident) => {
        #[allow(unused_macros)]
        macro_rules! load_frame {
            () => {{
                let f = $task.frames.last().expect("frame");
                let fu: &Func = &f.closure.func;
                $func = fu as *const Func;
                $ip = f.ip;
                $regs = unsafe { $task.stack.as_mut_ptr().add(f.base) };
            }};
        }
        // Index of the next instruction in the running function.
        #[allow(unused_macros)]
        macro_rules! pc {
            () => {{
                #[allow(unused_unsafe)] // also expanded inside `unsafe` blocks
                let pc = unsafe { $ip.offset_from((*$func).code) as usize };
                pc
            }};
        }
        #[allow(unused_macros)]
        macro_rules! r {
            ($d i:expr) => {
                (*unsafe { &mut *$regs.add($d i) })
            };
        }
        #[allow(unused_macros)]
        macro_rules! k {
            ($d i:expr) => {
                (*unsafe { (&(*$func).consts).get_unchecked($d i) })
            };
        }
        #[allow(unused_macros)]
        macro_rules! save_pc {
            () => {
                unsafe { $task.frames.last_mut().unwrap_unchecked().ip = $ip };
            };
        }
    };
}

/// The dispatch loop's control-flow macros: `tri!` and `budget!` leave the `$inner` loop or
/// block with an exception. Invoked inside it (a label is only visible to tokens written there).
macro_rules! flow_macros {
    ($d:tt $vm:ident $ip:ident $inner:lifetime) => {
        #[allow(unused_macros)]
        macro_rules! tri {
            ($d e:expr) => {
                match $d e {
                    Ok(v) => v,
                    Err(e) => break $inner e,
                }
            };
        }
        // A constant index operand, or the following ExtraArg's when it is `K_EXTRA`.
        #[allow(unused_macros)]
        macro_rules! k8 {
            ($d v:expr) => {{
                let v = $d v;
                if v == K_EXTRA as usize {
                    let x = unsafe { *$ip };
                    $ip = unsafe { $ip.add(1) };
                    x.ax()
                } else {
                    v
                }
            }};
        }
        #[allow(unused_macros)]
        macro_rules! budget {
            () => {
                // One `sub` and a branch on its borrow: the budget is 0 only when exhausted.
                let (left, out) = $vm.budget.overflowing_sub(1);
                $vm.budget = left;
                if out {
                    $vm.budget = 0;
                    break $inner Exc::limit(LimitKind::Instructions);
                }
            };
        }
        // Take the following Jmp when `$cond` is false.
        #[allow(unused_macros)]
        macro_rules! test {
            ($d cond:expr) => {{
                let c: bool = $d cond;
                if c {
                    $ip = unsafe { $ip.add(1) };
                } else {
                    let off = unsafe { *$ip }.sj_off();
                    $ip = unsafe { $ip.offset(1 + off) };
                    if off < 0 {
                        budget!();
                    }
                }
            }};
        }
    };
}

/// The running frame's cached state, handed from `run_loop` to `cold_step` and back.
#[derive(Clone, Copy)]
struct LoopState {
    ip: *const Instr,
    regs: *mut Value,
    func: *const Func,
}

/// What `run_loop` does after `cold_step` executed one instruction.
enum Step {
    /// Dispatch the next instruction.
    Next,
    /// Unwind this exception.
    Err(Exc),
    /// Leave the loop with this result.
    Exit(VmResult<Exit>),
}

/// Run `task` until the frame at index `stop` returns (→ `Exit::Return`), a generator yields,
/// or an exception leaves it. `can_suspend`: a host call may park the task (top-level task
/// loops only); otherwise host calls are performed blocking.
fn run_loop(vm: &mut Vm, task: &mut Task, stop: usize, can_suspend: bool) -> VmResult<Exit> {
    let outer = (task.stop, task.can_suspend);
    (task.stop, task.can_suspend) = (stop, can_suspend);
    let r = dispatch(vm, task);
    (task.stop, task.can_suspend) = outer;
    r
}

/// `run_loop`'s interpreter loop (its arguments are in `task`).
///
/// Only the hot instructions (moves, int arithmetic, compares and jumps, plain calls and
/// returns, indexing, augmented assignment, method calls) are executed here; the rest go
/// through the out-of-line `cold_step`. Why: with every instruction in one function, the
/// register allocator kept the hot state (instruction pointer, registers, `vm`, `task`) in
/// stack slots, adding store-to-load round trips to every instruction. Fewer live values
/// (no `stop`/`can_suspend`/constant-pool locals) serve the same purpose.
#[inline(never)]
#[allow(unused_assignments)]
fn dispatch(vm: &mut Vm, task: &mut Task) -> VmResult<Exit> {
    // Cached state of the running frame. SAFETY of the raw pointers:
    // - `ip` (the next instruction) and `func` point into the `Func` of the running frame's
    //   closure, which the frame keeps alive (`Rc<Closure>` in `task.frames`) until it is popped;
    //   they are reloaded whenever the running frame changes.
    // - `regs` points at `task.stack[base]`; the stack is only resized by `reserve` (when a
    //   frame is pushed), after which `regs` is reloaded. Natives never see `task`.
    // - Every instruction index is in bounds and every constant index valid (checked by
    //   `verify` at load time); every register operand is < 256 + 255 < WINDOW and the stack
    //   extends WINDOW slots past `base`.
    let mut ip: *const Instr;
    let mut regs: *mut Value;
    let mut func: *const Func;

    frame_macros!($ task ip regs func);
    load_frame!();
    loop {
        // Inner loop: runs instructions until an error needs unwinding.
        let err: Exc = 'inner: loop {
            flow_macros!($ vm ip 'inner);
            // Execute the current instruction out of line.
            macro_rules! cold {
                ($ins:expr, $op:expr) => {{
                    let mut st = LoopState { ip, regs, func };
                    let step = cold_step(vm, task, &mut st, $ins, $op);
                    LoopState { ip, regs, func } = st;
                    match step {
                        Step::Next => continue,
                        Step::Err(e) => break 'inner e,
                        Step::Exit(x) => return x,
                    }
                }};
            }
            // Enter the plain Ask function `$c` (exactly `$nargs` positional parameters) with
            // the arguments in R[$a+1..=$a+nargs]; its result will land in R[$a].
            macro_rules! enter_call {
                ($c:expr, $a:expr, $nargs:expr) => {{
                    let c: Rc<Closure> = $c;
                    let (a, nargs): (usize, usize) = ($a, $nargs);
                    if vm.depth >= vm.limits.max_depth {
                        break 'inner recursion_error();
                    }
                    if task.frames.len() == task.frames.capacity() {
                        grow_frames(&mut task.frames);
                    }
                    let fr = unsafe { task.frames.last_mut().unwrap_unchecked() };
                    fr.ip = ip;
                    let cur_base = fr.base;
                    let base = cur_base + unsafe { &*func }.nregs;
                    reserve(task, base);
                    let st = task.stack.as_mut_ptr();
                    // SAFETY: both windows lie inside the stack (`reserve`); the callee's
                    // registers are all None (invariant), so nothing is overwritten without a
                    // drop, and each moved-from argument is reset to None.
                    let (caller, callee) = unsafe { (st.add(cur_base + a + 1), st.add(base)) };
                    for i in 0..nargs {
                        unsafe {
                            std::ptr::copy_nonoverlapping(caller.add(i), callee.add(i), 1);
                            *(caller.add(i) as *mut u8) = NONE_TAG;
                        }
                    }
                    // Enter the callee without re-reading the frame just pushed.
                    let fu: *const Func = &*c.func;
                    func = fu;
                    ip = unsafe { (*fu).code };
                    regs = callee;
                    push_plain_frame(&mut task.frames, c, ip, base, cur_base + a);
                    vm.depth += 1;
                    continue;
                }};
            }
            let ins = unsafe { *ip };
            ip = unsafe { ip.add(1) };
            // SAFETY: verified opcode byte.
            let op: Op = unsafe { std::mem::transmute::<u8, Op>(ins.op_byte()) };
            let a = ins.a();
            // `if R[A] <op> R[B]` / `if R[A] <op> imm`, then the following Jmp as in `test!`.
            macro_rules! test_reg {
                ($cop:expr) => {{
                    let (x, y) = (&r!(a), &r!(ins.b()));
                    let t = match cmp_fast($cop, x, y) {
                        Some(t) => t,
                        None => tri!(compare_slow(vm, $cop, x, y)),
                    };
                    test!(t);
                }};
            }
            macro_rules! test_imm {
                ($cop:expr, $cmp:tt) => {{
                    let imm = ins.sb();
                    let t = match &r!(a) {
                        Value::Int(i) => *i $cmp imm,
                        x => tri!(compare_slow(vm, $cop, x, &Value::Int(imm))),
                    };
                    test!(t);
                }};
            }

            // `ForNext`/`ForLoop` share their body; a constant `back` per arm lets each
            // compile its own exit test.
            macro_rules! for_step {
                ($back:expr) => {{
                    // `ForLoop` takes its `Jmp` (back to the body) while there are items; the
                    // taken backward jump already counts against the budget.
                    let back: bool = $back;
                    if !back {
                        budget!();
                    }
                    let b = ins.b();
                    match &r!(a + 2) {
                        Value::Int(step) => {
                            let step = *step;
                            let (Value::Int(i), Value::Int(stop)) = (&r!(a), &r!(a + 1)) else {
                                test!(back);
                                continue;
                            };
                            let (i, stop) = (*i, *stop);
                            let more = if step > 0 { i < stop } else { i > stop };
                            if more {
                                write_int(&mut r!(a), i.checked_add(step).unwrap_or(stop));
                                write_int(&mut r!(b), i);
                            }
                            test!(more != back);
                        }
                        _ => match &r!(a + 1) {
                            Value::Int(idx) => {
                                let idx = *idx as usize;
                                // No `Option<Value>` in between: its niche layout made the
                                // item travel through odd-offset byte copies and a stalled
                                // wide reload. `fast_clone` copies the 16 bytes at once.
                                let mut item = Value::None;
                                let more = match &r!(a) {
                                    Value::List(l) => match l.borrow().get(idx) {
                                        Some(v) => {
                                            item = fast_clone(v);
                                            true
                                        }
                                        None => false,
                                    },
                                    Value::Tuple(t) => match t.get(idx) {
                                        Some(v) => {
                                            item = fast_clone(v);
                                            true
                                        }
                                        None => false,
                                    },
                                    _ => false,
                                };
                                if more {
                                    set_reg(&mut r!(b), item);
                                    write_int(&mut r!(a + 1), idx as i64 + 1);
                                }
                                test!(more != back);
                            }
                            _ => {
                                let it = r!(a).clone();
                                match tri!(iter_next(vm, &it)) {
                                    Some(v) => {
                                        set_reg(&mut r!(b), v);
                                        test!(!back);
                                    }
                                    None => test!(back),
                                }
                            }
                        },
                    }
                }};
            }

            macro_rules! binary_arith {
                ($aop:expr) => {{
                    let (x, y) = (&r!(ins.b()), &r!(ins.c()));
                    if !arith_into(unsafe { regs.add(a) }, $aop, x, y) {
                        let v = tri!(arith_slow(vm, $aop, x, y));
                        set_reg(&mut r!(a), v);
                    }
                }};
            }

            match op {
                Op::Move => {
                    let v = fast_clone(&r!(ins.b()));
                    set_reg(&mut r!(a), v);
                }
                Op::LoadK => {
                    set_reg(&mut r!(a), fast_clone(&k!(ins.bx())));
                }
                Op::LoadInt => {
                    write_int(&mut r!(a), ins.sbx());
                }
                Op::LoadNone => {
                    for i in a..=a + ins.b() {
                        set_reg(&mut r!(i), Value::None);
                    }
                }
                Op::LoadTrue => set_reg(&mut r!(a), Value::Bool(true)),
                Op::LoadFalse => set_reg(&mut r!(a), Value::Bool(false)),
                Op::GetGlobal => {
                    let f = unsafe { &*func };
                    let bx = ins.bx();
                    // SAFETY: no `borrow_mut` of a namespace is ever held across other code
                    // (SetGlobal/DelGlobal borrow for one statement), so reading is sound.
                    let vals = unsafe { f.ns.values.try_borrow_unguarded() };
                    match vals.ok().and_then(|v| v.get(bx)) {
                        // Functions first: a global read is usually the callee of a call, and
                        // testing the tag directly skips `fast_clone`'s jump table.
                        Some(Some(Value::Function(c))) => set_reg(&mut r!(a), Value::Function(c.clone())),
                        Some(Some(v)) => set_reg(&mut r!(a), fast_clone(v)),
                        _ => {
                            let v = tri!(global_value(vm, f, bx));
                            set_reg(&mut r!(a), v);
                        }
                    }
                }
                // One arm per operator, so each inlines `arith_into` for its own operator (a
                // shared arm tested the operator again at run time).
                Op::Add => binary_arith!(ArithOp::Add),
                Op::Sub => binary_arith!(ArithOp::Sub),
                Op::Mul => binary_arith!(ArithOp::Mul),
                Op::AddTmp => {
                    let (b, c) = (ins.b(), ins.c());
                    if let (Value::Int(x), Value::Int(y)) = (&r!(b), &r!(c)) {
                        if let Some(z) = x.checked_add(*y) {
                            write_int(&mut r!(a), z);
                            continue;
                        }
                    }
                    let v = match arith_fast(ArithOp::Add, &r!(b), &r!(c)) {
                        Some(v) => v,
                        None => {
                            if let (Value::Str(_), Value::Str(_)) = (&r!(b), &r!(c)) {
                                let x = std::mem::take(&mut r!(b));
                                tri!(ops::arith_inplace(vm, ArithOp::Add, x, &r!(c)))
                            } else {
                                tri!(arith_slow(vm, ArithOp::Add, &r!(b), &r!(c)))
                            }
                        }
                    };
                    set_reg(&mut r!(a), v);
                }
                Op::AddI | Op::SubI => {
                    let imm = ins.sc();
                    let x = &r!(ins.b());
                    if let Value::Int(i) = x {
                        if let Some(z) = if op == Op::AddI { i.checked_add(imm) } else { i.checked_sub(imm) } {
                            write_int(&mut r!(a), z);
                            continue;
                        }
                    }
                    let fast = match x {
                        Value::Int(i) => if op == Op::AddI { i.checked_add(imm) } else { i.checked_sub(imm) }.map(Value::Int),
                        _ => None,
                    };
                    let v = match fast {
                        Some(v) => v,
                        None => tri!(arith_slow(vm, arith_of(op), x, &Value::Int(imm))),
                    };
                    set_reg(&mut r!(a), v);
                }
                Op::Jmp => {
                    let off = ins.sj_off();
                    ip = unsafe { ip.offset(off) };
                    if off < 0 {
                        budget!();
                    }
                }
                Op::Test => {
                    let t = tri!(truthy(vm, &r!(a)));
                    test!(t);
                }
                Op::TestNot => {
                    let t = tri!(truthy(vm, &r!(a)));
                    test!(!t);
                }
                Op::TestNone => {
                    let t = r!(a).is_none();
                    test!(t);
                }
                // One arm per comparison (generated): with the operator a constant, the int fast
                // path is a single compare instead of a second jump table on a computed `CmpOp`.
                Op::TestLt => test_reg!(CmpOp::Lt),
                Op::TestLe => test_reg!(CmpOp::Le),
                Op::TestGt => test_reg!(CmpOp::Gt),
                Op::TestGe => test_reg!(CmpOp::Ge),
                Op::TestEq => test_reg!(CmpOp::Eq),
                Op::TestNe => test_reg!(CmpOp::Ne),
                Op::TestLtI => test_imm!(CmpOp::Lt, <),
                Op::TestLeI => test_imm!(CmpOp::Le, <=),
                Op::TestGtI => test_imm!(CmpOp::Gt, >),
                Op::TestGeI => test_imm!(CmpOp::Ge, >=),
                Op::TestEqI => test_imm!(CmpOp::Eq, ==),
                Op::TestNeI => test_imm!(CmpOp::Ne, !=),

                Op::ForPrep => {
                    let v = std::mem::take(&mut r!(a));
                    match v {
                        Value::Range(rg) => {
                            set_reg(&mut r!(a), Value::Int(rg.start));
                            set_reg(&mut r!(a + 1), Value::Int(rg.stop));
                            set_reg(&mut r!(a + 2), Value::Int(rg.step));
                        }
                        Value::List(_) | Value::Tuple(_) => {
                            set_reg(&mut r!(a), v);
                            set_reg(&mut r!(a + 1), Value::Int(0));
                            set_reg(&mut r!(a + 2), Value::None);
                        }
                        other => {
                            let it = tri!(ops::iter(vm, &other));
                            set_reg(&mut r!(a), it);
                            set_reg(&mut r!(a + 1), Value::None);
                            set_reg(&mut r!(a + 2), Value::None);
                        }
                    }
                }
                Op::ForNext => for_step!(false),
                Op::ForLoop => for_step!(true),
                Op::Call => {
                    let nargs = ins.b();
                    budget!();
                    // Fast path, tested before the general `match` (whose jump table on the
                    // callee's tag costs an extra indirect branch per call): a plain Ask function
                    // called with exactly its positional arguments.
                    if let Value::Function(c) = &r!(a) {
                        if c.func.simple_nargs == nargs {
                            // Move the closure out of R[A] into the frame (no refcount traffic);
                            // R[A] receives the result on return.
                            // SAFETY: `c` borrows R[A]'s `Rc`; after the bitwise copy the slot's
                            // tag byte becomes None's, so the `Rc` has exactly one owner again
                            // (the payload bytes of None are padding). Reading through the
                            // reference avoids copying the whole value through the stack.
                            let c: Rc<Closure> = unsafe {
                                let c = std::ptr::read(c as *const Rc<Closure>);
                                *(regs.add(a) as *mut u8) = NONE_TAG;
                                c
                            };
                            enter_call!(c, a, nargs);
                        }
                    }
                    cold!(ins, op);
                }
                Op::CallGlobal => {
                    let nargs = ins.b();
                    budget!();
                    // Fast path: the global is a plain Ask function taking exactly these
                    // arguments; the frame gets its own reference, R[A] is never written.
                    let f = unsafe { &*func };
                    // SAFETY: as for `GetGlobal`.
                    if let Ok(vals) = unsafe { f.ns.values.try_borrow_unguarded() } {
                        if let Some(Some(Value::Function(c))) = vals.get(ins.c()) {
                            if c.func.simple_nargs == nargs {
                                let c = c.clone();
                                enter_call!(c, a, nargs);
                            }
                        }
                    }
                    cold!(ins, op);
                }
                Op::Return | Op::ReturnNone => {
                    // Fast path: a plain call returning into an Ask caller of this loop, with no
                    // handler or caught exception of this frame to discard.
                    let nfr = task.frames.len();
                    if nfr > task.stop + 1 {
                        let top = unsafe { task.frames.get_unchecked(nfr - 1) };
                        if !top.is_init && !top.guarded {
                            // The result goes straight into the caller's slot (outside this
                            // frame's window) before the registers are cleared: no stack copy.
                            let ret = top.ret;
                            let st = task.stack.as_mut_ptr();
                            let v = if op == Op::Return { std::mem::take(&mut r!(a)) } else { Value::None };
                            set_reg(unsafe { &mut *st.add(ret) }, v);
                            clear_regs(regs, unsafe { &*func }.nregs);
                            // SAFETY: nfr >= 2 frames. Only the closure needs dropping (the other
                            // fields are plain integers), after the registers are cleared (they
                            // may hold its cells).
                            let closure = unsafe {
                                task.frames.set_len(nfr - 1);
                                std::ptr::read(std::ptr::addr_of!((*task.frames.as_ptr().add(nfr - 1)).closure))
                            };
                            vm.depth -= 1;
                            drop(closure);
                            // Resume the caller (still at least one frame: no emptiness check).
                            let f = unsafe { task.frames.get_unchecked(nfr - 2) };
                            func = &*f.closure.func as *const Func;
                            ip = f.ip;
                            regs = unsafe { st.add(f.base) };
                            continue;
                        }
                    }
                    cold!(ins, op);
                }
                Op::GetItem => {
                    let (o, key) = (&r!(ins.b()), &r!(ins.c()));
                    // The item goes straight into the register (no `Option<Value>` in between:
                    // see the list case of `ForNext`).
                    let mut item = Value::None;
                    let found = match (o, key) {
                        (Value::List(l), Value::Int(i)) => {
                            let l = l.borrow();
                            let n = l.len() as i64;
                            let j = if *i < 0 { *i + n } else { *i };
                            if j >= 0 && j < n {
                                item = fast_clone(unsafe { l.get_unchecked(j as usize) });
                                true
                            } else {
                                false
                            }
                        }
                        _ => false,
                    };
                    if !found {
                        save_pc!();
                        item = tri!(ops::get_item(vm, o, key));
                    }
                    set_reg(&mut r!(a), item);
                }
                Op::SetItem => {
                    let v = r!(ins.c()).clone();
                    let (o, key) = (&r!(a), &r!(ins.b()));
                    if let (Value::List(l), Value::Int(i)) = (o, key) {
                        let mut l = l.borrow_mut();
                        let n = l.len() as i64;
                        let j = if *i < 0 { *i + n } else { *i };
                        if j >= 0 && j < n {
                            let old = std::mem::replace(&mut l[j as usize], v);
                            drop(l);
                            drop(old);
                            continue;
                        }
                    }
                    save_pc!();
                    tri!(ops::set_item(vm, o, key, v));
                }
                Op::Aug => {
                    // `x += int` / `x -= int` on ints (counters, sums) without the general
                    // operator dispatch below.
                    if let (Value::Int(x), Value::Int(y), c @ (AUG_ADD | AUG_SUB)) = (&r!(a), &r!(ins.b()), ins.c()) {
                        let z = if c == AUG_ADD { x.checked_add(*y) } else { x.checked_sub(*y) };
                        if let Some(z) = z {
                            write_int(&mut r!(a), z);
                            continue;
                        }
                    }
                    let aop = Op::arith_op_from_code(ins.c() as u8).unwrap_or(ArithOp::Add);
                    let y = &r!(ins.b());
                    if !arith_into(unsafe { regs.add(a) }, aop, &r!(a), y) {
                        let x = std::mem::take(&mut r!(a));
                        let v = tri!(ops::arith_inplace(vm, aop, x, y));
                        set_reg(&mut r!(a), v);
                    }
                }
                Op::AddTmpR => {
                    let (b, c) = (ins.b(), ins.c());
                    let v = match arith_fast(ArithOp::Add, &r!(b), &r!(c)) {
                        Some(v) => v,
                        None => {
                            let mut y = std::mem::take(&mut r!(c));
                            let mut done = false;
                            if let (Value::Str(x), Value::Str(ys)) = (&r!(b), &mut y) {
                                if let Some(so) = Rc::get_mut(ys) {
                                    if so.s.len() + x.s.len() <= vm.limits.max_size {
                                        so.s.insert_str(0, &x.s);
                                        so.hash.set(0);
                                        done = true;
                                    }
                                }
                            }
                            if done {
                                y
                            } else {
                                tri!(arith_slow(vm, ArithOp::Add, &r!(b), &y))
                            }
                        }
                    };
                    set_reg(&mut r!(a), v);
                }
                Op::CallMethod | Op::CallMethodR => {
                    let (nargs, name) = if op == Op::CallMethodR {
                        let kx = unsafe { *ip }.ax();
                        ip = unsafe { ip.add(1) };
                        budget!();
                        let name = const_str(&k!(kx));
                        let (b, c) = (ins.b(), ins.c());
                        // Fast path: list.append straight from the registers, no call window.
                        if let Value::List(l) = &r!(b) {
                            if name == "append" {
                                let v = fast_clone(&r!(c));
                                l.borrow_mut().push(v);
                                set_reg(&mut r!(a), Value::None);
                                continue;
                            }
                        }
                        // Anything else: build the window `CallMethod` expects.
                        let (recv, arg) = (r!(b).clone(), r!(c).clone());
                        set_reg(&mut r!(a), recv);
                        set_reg(&mut r!(a + 1), arg);
                        (1, name)
                    } else {
                        let nargs = ins.b();
                        let kc = k8!(ins.c());
                        budget!();
                        let name = const_str(&k!(kc));
                        // Fast path: list.append.
                        if nargs == 1 {
                            if let Value::List(l) = &r!(a) {
                                if name == "append" {
                                    let v = std::mem::take(&mut r!(a + 1));
                                    l.borrow_mut().push(v);
                                    // Release the receiver copy the call set-up made: usually
                                    // just a refcount decrement (the list lives on in another
                                    // register), inlined instead of `set_reg`'s general drop.
                                    if let Value::List(l) = std::mem::take(&mut r!(a)) {
                                        drop(l);
                                    }
                                    continue;
                                }
                            }
                        }
                        (nargs, name)
                    };
                    save_pc!();
                    let obj = std::mem::take(&mut r!(a));
                    let target = match &obj {
                        Value::Instance(i) => Some(tri!(instance_method(vm, &obj, i, name))),
                        Value::Module(_) | Value::Class(_) | Value::Object(_) => {
                            Some((tri!(ops::get_attr(vm, &obj, name)), false))
                        }
                        _ => None,
                    };
                    match target {
                        None => {
                            let args = unsafe { std::slice::from_raw_parts(regs.add(a + 1), nargs) };
                            let r = ops::call_method(vm, &obj, name, args, &[]);
                            for i in 0..nargs {
                                set_reg(&mut r!(a + 1 + i), Value::None);
                            }
                            match r {
                                Ok(v) => set_reg(&mut r!(a), v),
                                Err(e) => break 'inner e,
                            }
                        }
                        Some((f, pass_self)) => {
                            let mut args = Vec::with_capacity(nargs + 1);
                            if pass_self {
                                args.push(obj);
                            }
                            for i in 0..nargs {
                                args.push(std::mem::take(&mut r!(a + 1 + i)));
                            }
                            let ret = task.frames.last().map(|f| f.base + a).unwrap_or(0);
                            match tri!(invoke(vm, task, f, args, Vec::new(), ret)) {
                                Some(v) => set_reg(&mut r!(a), v),
                                None => load_frame!(),
                            }
                        }
                    }
                }
                _ => cold!(ins, op),
            }
        };
        // Error path: record pc, deal with suspensions, then unwind.
        save_pc!();
        let err = match *err.0 {
            ExcData::Suspend(call) => {
                // The suspended instruction; when it had an `ExtraArg` word, `ip` is past that.
                let mut ins = unsafe { *ip.sub(1) };
                if ins.op() == Some(Op::ExtraArg) {
                    ins = unsafe { *ip.sub(2) };
                }
                let dest = task.frames.last().map(|f| f.base + ins.a()).unwrap_or(0);
                if task.can_suspend {
                    task.pending = Some(dest);
                    return Err(Exc(Box::new(ExcData::Suspend(call))));
                }
                match vm.call_host_blocking(call) {
                    Ok(v) => {
                        task.stack[dest] = v;
                        load_frame!();
                        continue;
                    }
                    Err(e) => e,
                }
            }
            data => Exc(Box::new(data)),
        };
        unwind(vm, task, err, task.stop, false)?;
        load_frame!();
    }
}

/// The value of global slot `g` of `f`'s module, else the task local or built-in of that
/// name, else NameError (`GetGlobal`'s slow path and `CallGlobal`'s general one).
fn global_value(vm: &mut Vm, f: &Func, g: usize) -> VmResult<Value> {
    if let Some(Some(v)) = f.ns.values.borrow().get(g) {
        return Ok(v.clone());
    }
    lookup_builtin(vm, &f.ns.names[g])
}

/// Execute one instruction that is not on `run_loop`'s hot list (see there why they are
/// split). Works on a copy of the loop's cached state and writes it back.
#[inline(never)]
#[allow(unused_assignments)]
fn cold_step(vm: &mut Vm, task: &mut Task, st: &mut LoopState, ins: Instr, op: Op) -> Step {
    let LoopState { mut ip, mut regs, mut func } = *st;
    let a = ins.a();
    let step = 'step: {
        frame_macros!($ task ip regs func);
        let err: Exc = 'inner: {
            flow_macros!($ vm ip 'inner);
            match op {
                    Op::ExtraArg | Op::Nop => {}
                    Op::SetGlobal => {
                        let f = unsafe { &*func };
                        let v = r!(a).clone();
                        let old = std::mem::replace(&mut f.ns.values.borrow_mut()[ins.bx()], Some(v));
                        drop(old);
                    }
                    Op::DelGlobal => {
                        let f = unsafe { &*func };
                        let old = f.ns.values.borrow_mut()[ins.bx()].take();
                        if old.is_none() {
                            break 'inner Exc::new(ExcKind::NameError, format!("name '{}' is not defined", f.ns.names[ins.bx()]));
                        }
                    }
                    Op::GetBuiltin => {
                        let name = const_str(&k!(ins.bx()));
                        set_reg(&mut r!(a), tri!(lookup_builtin(vm, name)));
                    }
                    Op::MakeCell => {
                        let v = std::mem::take(&mut r!(a));
                        set_reg(&mut r!(a), Value::Cell(Rc::new(RefCell::new(v))));
                    }
                    Op::GetCell => {
                        let v = match &r!(ins.b()) {
                            Value::Cell(c) => c.borrow().clone(),
                            other => other.clone(),
                        };
                        set_reg(&mut r!(a), v);
                    }
                    Op::SetCell => {
                        let v = r!(ins.b()).clone();
                        match &r!(a) {
                            Value::Cell(c) => {
                                let old = std::mem::replace(&mut *c.borrow_mut(), v);
                                drop(old);
                            }
                            _ => set_reg(&mut r!(a), v),
                        }
                    }
                    Op::GetUpval => {
                        let f = unsafe { &*task.frames.last().unwrap_unchecked().closure };
                        let v = f.upvals[ins.b()].borrow().clone();
                        set_reg(&mut r!(a), v);
                    }
                    Op::SetUpval => {
                        let v = r!(a).clone();
                        let f = unsafe { &*task.frames.last().unwrap_unchecked().closure };
                        let old = std::mem::replace(&mut *f.upvals[ins.b()].borrow_mut(), v);
                        drop(old);
                    }
                    Op::Closure => {
                        let (child, upvals) = {
                            let fr = unsafe { task.frames.last().unwrap_unchecked() };
                            let child = fr.closure.func.children[ins.bx()].clone();
                            let mut upvals = Vec::with_capacity(child.proto.captures.len());
                            for cap in &child.proto.captures {
                                match cap {
                                    Capture::Local(r) => match &r!(*r as usize) {
                                        Value::Cell(c) => upvals.push(c.clone()),
                                        other => upvals.push(Rc::new(RefCell::new(other.clone()))),
                                    },
                                    Capture::Upval(u) => upvals.push(fr.closure.upvals[*u as usize].clone()),
                                }
                            }
                            (child, upvals)
                        };
                        let nd = child.proto.params.ndefault_values();
                        let mut defaults = Vec::with_capacity(nd);
                        for i in 0..nd {
                            defaults.push(r!(a + 1 + i).clone());
                        }
                        set_reg(&mut r!(a), Value::Function(Rc::new(Closure { func: child, upvals, defaults, attrs: Default::default() })));
                    }

                    Op::Div | Op::FloorDiv | Op::Mod | Op::Pow | Op::LShift | Op::RShift | Op::BitAnd | Op::BitOr
                    | Op::BitXor | Op::MatMul => {
                        let (x, y) = (&r!(ins.b()), &r!(ins.c()));
                        let aop = arith_of(op);
                        let v = match arith_fast(aop, x, y) {
                            Some(v) => v,
                            None => tri!(arith_slow(vm, aop, x, y)),
                        };
                        set_reg(&mut r!(a), v);
                    }
                    Op::AugGlobal => {
                        let gx = unsafe { *ip }.ax();
                        ip = unsafe { ip.add(1) };
                        let aop = Op::arith_op_from_code(ins.c() as u8).unwrap_or(ArithOp::Add);
                        let b = ins.b();
                        let f = unsafe { &*func };
                        let mut done = false;
                        if aop == ArithOp::Add {
                            if let (Value::Str(t), Value::Str(y)) = (&r!(a), &r!(b)) {
                                let mut vals = f.ns.values.borrow_mut();
                                if let Some(Some(Value::Str(g))) = vals.get_mut(gx) {
                                    if Rc::ptr_eq(g, t) {
                                        let ylen = y.s.len();
                                        // Drop the register's reference: the slot's may be unique.
                                        let _ = std::mem::take(&mut r!(a));
                                        let Value::Str(y) = &r!(b) else { break 'step Step::Next };
                                        if let Some(so) = Rc::get_mut(g) {
                                            if so.s.len() + ylen <= vm.limits.max_size {
                                                so.s.push_str(&y.s);
                                                so.hash.set(0);
                                                done = true;
                                            }
                                        }
                                        if !done {
                                            r!(a) = Value::Str(g.clone());
                                        }
                                    }
                                }
                            }
                        }
                        if !done {
                            let x = std::mem::take(&mut r!(a));
                            let v = match arith_fast(aop, &x, &r!(b)) {
                                Some(v) => v,
                                None => {
                                    save_pc!();
                                    tri!(ops::arith_inplace(vm, aop, x, &r!(b)))
                                }
                            };
                            let old = std::mem::replace(&mut f.ns.values.borrow_mut()[gx], Some(v));
                            drop(old);
                        }
                    }
                    Op::Neg => {
                        let x = &r!(ins.b());
                        let v = match x {
                            Value::Int(i) if *i != i64::MIN => Value::Int(-i),
                            Value::Float(f) => Value::Float(-f),
                            _ => tri!(ops::neg(vm, x)),
                        };
                        set_reg(&mut r!(a), v);
                    }
                    Op::Pos => {
                        let v = tri!(ops::pos(vm, &r!(ins.b())));
                        set_reg(&mut r!(a), v);
                    }
                    Op::Invert => {
                        let v = tri!(ops::invert(vm, &r!(ins.b())));
                        set_reg(&mut r!(a), v);
                    }
                    Op::Not => {
                        let t = tri!(truthy(vm, &r!(ins.b())));
                        set_reg(&mut r!(a), Value::Bool(!t));
                    }

                    Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge => {
                        let (x, y) = (&r!(ins.b()), &r!(ins.c()));
                        let cop = cmp_of(op);
                        let t = match cmp_fast(cop, x, y) {
                            Some(t) => t,
                            None => tri!(compare_slow(vm, cop, x, y)),
                        };
                        set_reg(&mut r!(a), Value::Bool(t));
                    }
                    Op::Is | Op::IsNot => {
                        let t = ops::is(&r!(ins.b()), &r!(ins.c()));
                        set_reg(&mut r!(a), Value::Bool(t == (op == Op::Is)));
                    }
                    Op::In | Op::NotIn => {
                        let t = tri!(ops::contains(vm, &r!(ins.c()), &r!(ins.b())));
                        set_reg(&mut r!(a), Value::Bool(t == (op == Op::In)));
                    }

                    Op::GetIter => {
                        let v = tri!(ops::iter(vm, &r!(ins.b())));
                        set_reg(&mut r!(a), v);
                    }
                    Op::IterNext => {
                        let it = r!(a).clone();
                        match tri!(iter_next(vm, &it)) {
                            Some(v) => {
                                set_reg(&mut r!(ins.b()), v);
                                test!(true);
                            }
                            None => test!(false),
                        }
                    }

                    Op::CallKw => {
                        let nargs = ins.b();
                        let kc = k8!(ins.c());
                        budget!();
                        let names = match &k!(kc) {
                            Value::Tuple(t) => t.clone(),
                            _ => Rc::new(crate::value::TupleVec::default()),
                        };
                        let f = std::mem::take(&mut r!(a));
                        let mut args = Vec::with_capacity(nargs);
                        for i in 0..nargs {
                            args.push(std::mem::take(&mut r!(a + 1 + i)));
                        }
                        let mut kw = Vec::with_capacity(names.len());
                        for (j, n) in names.iter().enumerate() {
                            let Value::Str(s) = n else { break 'step Step::Next };
                            kw.push((s.clone(), std::mem::take(&mut r!(a + 1 + nargs + j))));
                        }
                        save_pc!();
                        let ret = task.frames.last().map(|f| f.base + a).unwrap_or(0);
                        match tri!(invoke(vm, task, f, args, kw, ret)) {
                            Some(v) => set_reg(&mut r!(a), v),
                            None => load_frame!(),
                        }
                    }
                    Op::CallEx => {
                        budget!();
                        let f = std::mem::take(&mut r!(a));
                        let pos = std::mem::take(&mut r!(a + 1));
                        let kwv = std::mem::take(&mut r!(a + 2));
                        save_pc!();
                        let args = match &pos {
                            Value::Tuple(t) => t.to_vec(),
                            Value::List(l) => l.borrow().clone(),
                            Value::None => Vec::new(),
                            other => tri!(ops::collect(vm, other)),
                        };
                        let mut kw = Vec::new();
                        match &kwv {
                            Value::None => {}
                            Value::Dict(d) => {
                                for (k, v) in d.borrow().iter() {
                                    match &k.0 {
                                        Value::Str(s) => kw.push((s.clone(), v.clone())),
                                        _ => break 'inner Exc::type_error("keywords must be strings"),
                                    }
                                }
                            }
                            other => {
                                break 'inner Exc::type_error(format!(
                                    "argument after ** must be a mapping, not {}",
                                    ops::type_name(other)
                                ))
                            }
                        }
                        let ret = task.frames.last().map(|f| f.base + a).unwrap_or(0);
                        match tri!(invoke(vm, task, f, args, kw, ret)) {
                            Some(v) => set_reg(&mut r!(a), v),
                            None => load_frame!(),
                        }
                    }
                    Op::Yield => {
                        let v = std::mem::take(&mut r!(a));
                        save_pc!();
                        return Step::Exit(Ok(Exit::Yield(v)));
                    }

                    Op::GetAttr => {
                        let kc = k8!(ins.c());
                        save_pc!();
                        let v = tri!(get_attr(vm, &r!(ins.b()), const_str(&k!(kc))));
                        set_reg(&mut r!(a), v);
                    }
                    Op::SetAttr => {
                        let kb = k8!(ins.b());
                        save_pc!();
                        let name = const_str(&k!(kb));
                        let v = r!(ins.c()).clone();
                        let obj = &r!(a);
                        if let Value::Instance(i) = obj {
                            let is_prop = i.class.lookup(name).is_some_and(|p| crate::code::property_getter(&p).is_some());
                            if !is_prop {
                                let mut attrs = i.attrs.borrow_mut();
                                if let Some(slot) = attrs.get_mut(name) {
                                    let old = std::mem::replace(slot, v);
                                    drop(attrs);
                                    drop(old);
                                } else {
                                    attrs.insert(Rc::from(name), v);
                                }
                                break 'step Step::Next;
                            }
                        }
                        if let Value::Class(c) = obj {
                            c.attrs.borrow_mut().insert(Rc::from(name), v);
                            break 'step Step::Next;
                        }
                        tri!(ops::set_attr(vm, obj, name, v));
                    }
                    Op::DelAttr => {
                        let kb = k8!(ins.b());
                        save_pc!();
                        tri!(ops::del_attr(vm, &r!(a), const_str(&k!(kb))));
                    }
                    Op::DelItem => {
                        save_pc!();
                        tri!(ops::del_item(vm, &r!(a), &r!(ins.b())));
                    }
                    Op::BuildSlice => {
                        let b = ins.b();
                        let v = ops::make_slice(r!(b).clone(), r!(b + 1).clone(), r!(b + 2).clone());
                        set_reg(&mut r!(a), v);
                    }
                    Op::GetSuper => {
                        let kc = k8!(ins.c());
                        save_pc!();
                        let b = ins.b();
                        let v = tri!(super_attr(vm, &r!(b), &r!(b + 1), const_str(&k!(kc))));
                        set_reg(&mut r!(a), v);
                    }

                    Op::BuildList | Op::BuildTuple => {
                        let (b, c) = (ins.b(), ins.c());
                        let mut items = Vec::with_capacity(c);
                        for i in 0..c {
                            items.push(std::mem::take(&mut r!(b + i)));
                        }
                        set_reg(&mut r!(a), if op == Op::BuildList { Value::list(items) } else { Value::tuple(items) });
                    }
                    Op::BuildSet => {
                        let (b, c) = (ins.b(), ins.c());
                        let mut set = crate::value::Set::default();
                        save_pc!();
                        for i in 0..c {
                            let v = std::mem::take(&mut r!(b + i));
                            set.insert(tri!(ops::hkey(vm, v)));
                        }
                        set_reg(&mut r!(a), Value::Set(Rc::new(RefCell::new(set))));
                    }
                    Op::BuildDict => {
                        let (b, c) = (ins.b(), ins.c());
                        let mut d = crate::value::Dict::default();
                        save_pc!();
                        for i in 0..c {
                            let k = std::mem::take(&mut r!(b + 2 * i));
                            let v = std::mem::take(&mut r!(b + 2 * i + 1));
                            d.insert(tri!(ops::hkey(vm, k)), v);
                        }
                        set_reg(&mut r!(a), Value::dict(d));
                    }
                    Op::ListAppend => {
                        let v = std::mem::take(&mut r!(ins.b()));
                        if let Value::List(l) = &r!(a) {
                            l.borrow_mut().push(v);
                        }
                    }
                    Op::ListExtend => {
                        save_pc!();
                        let src = r!(ins.b()).clone();
                        let items = match &src {
                            Value::List(l) => l.borrow().clone(),
                            Value::Tuple(t) => t.to_vec(),
                            other => tri!(ops::collect(vm, other)),
                        };
                        if let Value::List(l) = &r!(a) {
                            l.borrow_mut().extend(items);
                        }
                    }
                    Op::ListToTuple => {
                        let v = match &r!(ins.b()) {
                            Value::List(l) => Value::tuple(l.borrow().clone()),
                            other => other.clone(),
                        };
                        set_reg(&mut r!(a), v);
                    }
                    Op::SetAdd => {
                        save_pc!();
                        let v = std::mem::take(&mut r!(ins.b()));
                        let k = tri!(ops::hkey(vm, v));
                        if let Value::Set(s) = &r!(a) {
                            s.borrow_mut().insert(k);
                        }
                    }
                    Op::DictSet => {
                        save_pc!();
                        let k = r!(ins.b()).clone();
                        let v = std::mem::take(&mut r!(ins.c()));
                        let k = tri!(ops::hkey(vm, k));
                        if let Value::Dict(d) = &r!(a) {
                            d.borrow_mut().insert(k, v);
                        }
                    }
                    Op::DictUpdate => {
                        save_pc!();
                        let src = r!(ins.b()).clone();
                        let pairs: Vec<(crate::value::HKey, Value)> = match &src {
                            Value::Dict(d) => d.borrow().iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                            other => {
                                break 'inner Exc::type_error(format!("'{}' object is not a mapping", ops::type_name(other)))
                            }
                        };
                        if let Value::Dict(d) = &r!(a) {
                            d.borrow_mut().extend(pairs);
                        }
                    }
                    Op::Unpack => {
                        let (b, c) = (ins.b(), ins.c());
                        save_pc!();
                        let src = r!(b).clone();
                        let exact = match &src {
                            Value::Tuple(t) if t.len() == c => Some(t.to_vec()),
                            _ => None,
                        };
                        let items = match exact {
                            Some(v) => v,
                            None => tri!(unpack_values(vm, &src)),
                        };
                        if items.len() < c {
                            break 'inner Exc::value_error(format!(
                                "not enough values to unpack (expected {c}, got {})",
                                items.len()
                            ));
                        }
                        if items.len() > c {
                            break 'inner Exc::value_error(format!("too many values to unpack (expected {c})"));
                        }
                        for (i, v) in items.into_iter().enumerate() {
                            set_reg(&mut r!(a + i), v);
                        }
                    }
                    Op::UnpackStar => {
                        let (b, c) = (ins.b(), ins.c());
                        let (before, after) = (c & 15, c >> 4);
                        save_pc!();
                        let src = r!(b).clone();
                        let mut items = tri!(unpack_values(vm, &src));
                        if items.len() < before + after {
                            break 'inner Exc::value_error(format!(
                                "not enough values to unpack (expected at least {}, got {})",
                                before + after,
                                items.len()
                            ));
                        }
                        let tail = items.split_off(items.len() - after);
                        let mid = items.split_off(before);
                        for (i, v) in items.into_iter().enumerate() {
                            set_reg(&mut r!(a + i), v);
                        }
                        set_reg(&mut r!(a + before), Value::list(mid));
                        for (i, v) in tail.into_iter().enumerate() {
                            set_reg(&mut r!(a + before + 1 + i), v);
                        }
                    }

                    Op::FormatValue => {
                        let (b, c) = (ins.b(), ins.c());
                        save_pc!();
                        let v = &r!(b);
                        let conv = c & 3;
                        let s = if conv == 0 && c & 4 == 0 {
                            match v {
                                Value::Str(_) => v.clone(),
                                _ => Value::str(tri!(crate::format::to_str(vm, v))),
                            }
                        } else {
                            let converted = match conv {
                                1 => Some(tri!(crate::format::to_str(vm, v))),
                                2 => Some(tri!(crate::format::repr(vm, v))),
                                3 => Some(ascii_escape(&tri!(crate::format::repr(vm, v)))),
                                _ => None,
                            };
                            if c & 4 != 0 {
                                let spec = match &r!(b + 1) {
                                    Value::Str(s) => s.clone(),
                                    _ => Rc::new(StrObj::new(String::new())),
                                };
                                match converted {
                                    Some(cs) => Value::str(tri!(crate::format::format_spec(vm, &Value::str(cs), spec.as_str()))),
                                    None => Value::str(tri!(crate::format::format_spec(vm, v, spec.as_str()))),
                                }
                            } else {
                                Value::str(converted.unwrap_or_default())
                            }
                        };
                        set_reg(&mut r!(a), s);
                    }
                    Op::BuildString => {
                        let (b, c) = (ins.b(), ins.c());
                        let mut out = String::new();
                        for i in 0..c {
                            match &r!(b + i) {
                                Value::Str(s) => out.push_str(s.as_str()),
                                other => {
                                    let o = other.clone();
                                    save_pc!();
                                    out.push_str(&tri!(crate::format::to_str(vm, &o)));
                                }
                            }
                        }
                        if vm.limits.max_size < out.len() {
                            break 'inner Exc::limit(LimitKind::Memory);
                        }
                        set_reg(&mut r!(a), Value::str(out));
                    }

                    Op::SetupExcept | Op::SetupFinally | Op::SetupRespond => {
                        let target = (pc!() as isize + ins.sj_off()) as usize;
                        let frame = task.frames.len() - 1;
                        task.frames[frame].guarded = true;
                        let kind = match op {
                            Op::SetupExcept => HandlerKind::Except,
                            Op::SetupFinally => HandlerKind::Finally,
                            _ => HandlerKind::Respond,
                        };
                        task.handlers.push(Handler { frame, target, kind, caught_depth: task.caught.len() });
                    }
                    Op::PopHandler => {
                        task.handlers.pop();
                    }
                    Op::ExcMatch => {
                        let t = match task.caught.last() {
                            Some((_, e)) => tri!(exc_matches(e, &r!(ins.b()))),
                            None => false,
                        };
                        set_reg(&mut r!(a), Value::Bool(t));
                    }
                    Op::GetExc => {
                        let v = match task.caught.last_mut() {
                            Some((_, e)) => vm.exception_value(e),
                            None => Value::None,
                        };
                        set_reg(&mut r!(a), v);
                    }
                    Op::EndExcept => {
                        task.caught.pop();
                    }
                    Op::Raise => {
                        save_pc!();
                        let v = r!(a).clone();
                        break 'inner make_raise(vm, v);
                    }
                    Op::RaiseFrom => {
                        save_pc!();
                        let v = r!(a).clone();
                        let e = make_raise(vm, v);
                        if let (ExcData::Raised { value: Value::Instance(i), .. }, cause) = (&*e.0, r!(ins.b()).clone()) {
                            i.attrs.borrow_mut().insert(Rc::from("__cause__"), cause);
                        }
                        break 'inner e;
                    }
                    Op::Reraise => {
                        save_pc!();
                        let cur = task.frames.len() - 1;
                        match task.caught.pop() {
                            Some((_, e)) => {
                                // Keep the traceback; the current frame already has its entry.
                                match unwind(vm, task, e, task.stop, true) {
                                    Ok(()) => {
                                        load_frame!();
                                        break 'step Step::Next;
                                    }
                                    Err(e) => return Step::Exit(Err(e)),
                                }
                            }
                            None => {
                                let _ = cur;
                                break 'inner Exc::new(ExcKind::RuntimeError, "No active exception to reraise");
                            }
                        }
                    }
                    Op::RaiseAssert => {
                        save_pc!();
                        let msg = if ins.b() != 0 { Some(r!(a).clone()) } else { None };
                        let cls = Value::Class(vm.exc_class(ExcKind::AssertionError));
                        let inst = match msg {
                            Some(m) => tri!(vm.call_value(&cls, &[m], &[])),
                            None => tri!(vm.call_value(&cls, &[], &[])),
                        };
                        break 'inner Exc(Box::new(ExcData::Raised { value: inst, traceback: Vec::new() }));
                    }

                    Op::NewClass => {
                        let kb = k8!(ins.b());
                        let name = match &k!(kb) {
                            Value::Str(s) => s.clone(),
                            _ => Rc::new(StrObj::new(String::new())),
                        };
                        let base = match &r!(ins.c()) {
                            Value::None => None,
                            Value::Class(c) => Some(c.clone()),
                            other => {
                                break 'inner Exc::type_error(format!(
                                    "class base must be a class, not '{}'",
                                    ops::type_name(other)
                                ))
                            }
                        };
                        let cls = Class { name, base, attrs: Default::default(), builtin: None };
                        set_reg(&mut r!(a), Value::Class(Rc::new(cls)));
                    }
                    Op::Import => {
                        save_pc!();
                        let name = const_str(&k!(ins.bx())).to_string();
                        let v = tri!(import_module(vm, &name));
                        set_reg(&mut r!(a), v);
                    }
                    Op::ImportFrom => {
                        let kc = k8!(ins.c());
                        save_pc!();
                        let name = const_str(&k!(kc));
                        let m = &r!(ins.b());
                        let v = match get_attr(vm, m, name) {
                            Ok(v) => v,
                            Err(_) => {
                                let mname = match m {
                                    Value::Module(mo) => mo.name.to_string(),
                                    _ => String::from("?"),
                                };
                                break 'inner Exc::new(
                                    ExcKind::ImportError,
                                    format!("cannot import name '{name}' from '{mname}'"),
                                );
                            }
                        };
                        set_reg(&mut r!(a), v);
                    }
                    Op::LoadModule => {
                        save_pc!();
                        let v = tri!(load_module(vm, ins.bx()));
                        set_reg(&mut r!(a), v);
                    }
                    Op::RegisterRoute => {
                        let v = r!(a).clone();
                        if let Some(slot) = vm.route_handlers.get_mut(ins.bx()) {
                            *slot = Some(v);
                        }
                    }
                    Op::Call | Op::CallGlobal => {
                        let nargs = ins.b();
                        // (The instruction budget was charged by the fast path in `run_loop`.)
                        if op == Op::CallGlobal {
                            // Not a plain Ask function: put the callee where `Call` has it.
                            let v = tri!(global_value(vm, unsafe { &*func }, ins.c()));
                            set_reg(&mut r!(a), v);
                        }
                        let f = &r!(a);
                        match f {
                            Value::Class(cls)
                                if nargs == 1
                                    && cls.builtin == Some(BuiltinType::Str)
                                    && matches!(r!(a + 1), Value::Int(_)) =>
                            {
                                // `str(i)`: format the int straight into a string of the right size.
                                let Value::Int(i) = r!(a + 1) else { break 'step Step::Next };
                                set_reg(&mut r!(a), Value::Str(Rc::new(StrObj::new(int_to_string(i)))));
                            }
                            Value::Class(cls)
                                if matches!(cls.builtin, Some(b) if !matches!(b, BuiltinType::Exc(_)))
                                    && !cls.attrs.borrow().contains_key("__new__") =>
                            {
                                let Some(bt) = cls.builtin else { break 'step Step::Next };
                                let args = unsafe { std::slice::from_raw_parts(regs.add(a + 1), nargs) };
                                save_pc!();
                                let r = crate::builtins::construct_builtin(vm, bt, args, &[]);
                                for i in 0..nargs {
                                    set_reg(&mut r!(a + 1 + i), Value::None);
                                }
                                match r {
                                    Ok(v) => set_reg(&mut r!(a), v),
                                    Err(e) => break 'inner e,
                                }
                            }
                            Value::Native(n) if n.bound.is_none() && n.name != "staticmethod" => {
                                let func_ptr = n.func;
                                let args = unsafe { std::slice::from_raw_parts(regs.add(a + 1), nargs) };
                                save_pc!();
                                let r = func_ptr(vm, args, &[]);
                                for i in 0..nargs {
                                    set_reg(&mut r!(a + 1 + i), Value::None);
                                }
                                match r {
                                    Ok(v) => set_reg(&mut r!(a), v),
                                    Err(e) => break 'inner e,
                                }
                            }
                            _ => {
                                let f = std::mem::take(&mut r!(a));
                                let mut args = Vec::with_capacity(nargs);
                                for i in 0..nargs {
                                    args.push(std::mem::take(&mut r!(a + 1 + i)));
                                }
                                save_pc!();
                                let ret = task.frames.last().map(|f| f.base + a).unwrap_or(0);
                                match tri!(invoke(vm, task, f, args, Vec::new(), ret)) {
                                    Some(v) => {
                                        set_reg(&mut r!(a), v);
                                    }
                                    None => {
                                        load_frame!();
                                    }
                                }
                            }
                        }
                    }
                    Op::Return | Op::ReturnNone => {
                        let v = if op == Op::Return { std::mem::take(&mut r!(a)) } else { Value::None };
                        let fr = pop_frame(vm, task);
                        if fr.is_init {
                            if !v.is_none() {
                                // Report in the caller (like CPython).
                                if task.frames.len() <= task.stop {
                                    return Step::Exit(Err(Exc::type_error(format!(
                                        "__init__() should return None, not '{}'",
                                        ops::type_name(&v)
                                    ))));
                                }
                                load_frame!();
                                break 'inner Exc::type_error(format!("__init__() should return None, not '{}'", ops::type_name(&v)));
                            }
                        } else {
                            set_reg(&mut task.stack[fr.ret], v);
                        }
                        if task.frames.len() <= task.stop {
                            return Step::Exit(Ok(Exit::Return(std::mem::take(&mut task.stack[fr.ret]))));
                        }
                        load_frame!();
                    }
                Op::CheckBound => {
                    let kb = k8!(ins.b());
                    let unbound = match ins.c() & 3 {
                        0 => matches!(r!(a), Value::Unbound),
                        1 => matches!(&r!(a), Value::Cell(c) if matches!(*c.borrow(), Value::Unbound)),
                        _ => {
                            let f = unsafe { &*task.frames.last().unwrap_unchecked().closure };
                            matches!(*f.upvals[a].borrow(), Value::Unbound)
                        }
                    };
                    if unbound {
                        break 'inner unbound_error(const_str(&k!(kb)), ins.c() & 4 != 0);
                    }
                }
                Op::Unbind => match ins.c() & 3 {
                    0 => set_reg(&mut r!(a), Value::Unbound),
                    1 => {
                        if let Value::Cell(c) = &r!(a) {
                            let old = std::mem::replace(&mut *c.borrow_mut(), Value::Unbound);
                            drop(old);
                        }
                    }
                    _ => {
                        let f = unsafe { &*task.frames.last().unwrap_unchecked().closure };
                        let old = std::mem::replace(&mut *f.upvals[a].borrow_mut(), Value::Unbound);
                        drop(old);
                    }
                },
                _ => unreachable!("hot instruction {op:?} dispatched to cold_step"),
            }
            break 'step Step::Next;
        };
        Step::Err(err)
    };
    *st = LoopState { ip, regs, func };
    step
}


/// Decimal digits of an int (the `str(i)` fast path).
fn int_to_string(i: i64) -> String {
    let mut buf = [0u8; 20];
    let mut n = i.unsigned_abs();
    let mut pos = buf.len();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let digits = &buf[pos..];
    // Room for a short suffix (`str(i) + ";"`) within the allocator's smallest chunk.
    let mut s = String::with_capacity((digits.len() + 1).max(24));
    if i < 0 {
        s.push('-');
    }
    // SAFETY: ASCII digits.
    s.push_str(unsafe { std::str::from_utf8_unchecked(digits) });
    s
}

/// `next()` on an iterator value; generators are stepped with the iterator cell released.
fn iter_next(vm: &mut Vm, it: &Value) -> VmResult<Option<Value>> {
    if let Value::Iter(cell) = it {
        let mut b = cell.borrow_mut();
        match &mut *b {
            IterObj::Range { next, stop, step } => {
                let i = *next;
                let more = if *step > 0 { i < *stop } else { i > *stop };
                if !more {
                    return Ok(None);
                }
                *next = i.saturating_add(*step);
                return Ok(Some(Value::Int(i)));
            }
            IterObj::List { list, index } => {
                let v = list.borrow().get(*index).cloned();
                if v.is_some() {
                    *index += 1;
                }
                return Ok(v);
            }
            IterObj::Native(_) => {
                // Iterators of iterators (`map(f, map(f, ...))`) recurse here once per level.
                let _g = crate::ops::nest("")?;
                // Release the borrow while the native runs (it may call back into Ask code
                // that touches this iterator).
                let mut taken = std::mem::replace(&mut *b, IterObj::Exhausted);
                drop(b);
                let r = if let IterObj::Native(n) = &mut taken { n.next(vm) } else { Ok(None) };
                let mut b = cell.borrow_mut();
                if matches!(*b, IterObj::Exhausted) {
                    *b = taken;
                }
                return r;
            }
            _ => {}
        }
    }
    ops::next(vm, it)
}

fn import_module(vm: &mut Vm, name: &str) -> VmResult<Value> {
    if let Some(m) = vm.module_cache.get(name) {
        return Ok(m.clone());
    }
    match crate::modules::load(vm, name) {
        Some(Ok(v)) => {
            vm.module_cache.insert(Rc::from(name), v.clone());
            Ok(v)
        }
        Some(Err(e)) => Err(e),
        None => Err(Exc::new(ExcKind::ImportError, format!("No module named '{name}'"))),
    }
}

/// The namespace of the `extend`ed module whose module object is `m`, if any.
fn module_namespace(vm: &Vm, m: &Rc<crate::value::ModuleObj>) -> Option<Rc<Namespace>> {
    vm.namespaces
        .iter()
        .find(|ns| matches!(&*ns.module_obj.borrow(), Some(Value::Module(mm)) if Rc::ptr_eq(mm, m)))
        .cloned()
}

/// `m.name` on an `extend`ed module reads the module's global slot (Python modules are live
/// namespaces). `None`: not such a module (or no such global); `Some(None)`: the global is unset.
pub(crate) fn module_global(vm: &Vm, m: &Rc<crate::value::ModuleObj>, name: &str) -> Option<Option<Value>> {
    let ns = module_namespace(vm, m)?;
    let slot = ns.slot_of(name)?;
    let v = ns.values.borrow().get(slot).cloned().flatten();
    Some(v)
}

/// `m.name = v` on an `extend`ed module also updates the module's global slot.
pub(crate) fn set_module_global(vm: &Vm, m: &Rc<crate::value::ModuleObj>, name: &str, v: &Value) {
    if let Some(ns) = module_namespace(vm, m) {
        if let Some(slot) = ns.slot_of(name) {
            let old = ns.values.borrow_mut().get_mut(slot).map(|s| std::mem::replace(s, Some(v.clone())));
            drop(old);
        }
    }
}

fn load_module(vm: &mut Vm, idx: usize) -> VmResult<Value> {
    let Some(ns) = vm.namespaces.get(idx).cloned() else {
        return Err(Exc::new(ExcKind::ImportError, "no such module"));
    };
    if let Some(m) = ns.module_obj.borrow().clone() {
        return Ok(m);
    }
    let main = main_closure(vm, idx).ok_or_else(|| Exc::new(ExcKind::ImportError, "no such module"))?;
    call_nested(vm, &main, &[], &[])?;
    let mut attrs: indexmap::IndexMap<Rc<str>, Value, rustc_hash::FxBuildHasher> = Default::default();
    for (n, v) in ns.names.iter().zip(ns.values.borrow().iter()) {
        if let Some(v) = v {
            attrs.insert(n.clone(), v.clone());
        }
    }
    let m = Value::Module(Rc::new(crate::value::ModuleObj { name: ns.name.clone(), attrs: RefCell::new(attrs) }));
    *ns.module_obj.borrow_mut() = Some(m.clone());
    Ok(m)
}


#[cfg(test)]
mod write_int_tests {
    use super::*;

    #[test]
    fn immediate_tags_are_below_every_heap_tag() {
        let tag = |v: &Value| unsafe { *(v as *const Value as *const u8) };
        for v in [Value::None, Value::Bool(true), Value::Int(1), Value::Float(0.5)] {
            assert!(tag(&v) < 4);
        }
        for v in [Value::str("x"), Value::tuple(vec![]), Value::list(vec![]), Value::dict(Default::default())] {
            assert!(tag(&v) >= 4);
        }
        let mut regs = [Value::Int(3), Value::None, Value::str("a"), Value::Float(1.0), Value::Bool(false), Value::Int(9)];
        clear_regs(regs.as_mut_ptr(), regs.len());
        assert!(regs.iter().all(|v| matches!(v, Value::None)));
    }

    #[test]
    fn aug_codes_round_trip() {
        assert!(matches!(Op::arith_op_from_code(AUG_ADD as u8), Some(ArithOp::Add)));
        assert!(matches!(Op::arith_op_from_code(AUG_SUB as u8), Some(ArithOp::Sub)));
    }

    #[test]
    fn write_int_layout() {
        for i in [0i64, 1, -1, 42, i64::MIN, i64::MAX] {
            for old in [Value::None, Value::Bool(true), Value::Int(7), Value::Float(1.5)] {
                let mut slot = old;
                write_int(&mut slot, i);
                assert!(matches!(slot, Value::Int(j) if j == i));
            }
            let mut slot = Value::Str(Rc::new(StrObj::new("x".to_string())));
            write_int(&mut slot, i);
            assert!(matches!(slot, Value::Int(j) if j == i));
        }
    }
}
