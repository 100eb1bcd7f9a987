//! The VM: one program's heap, globals, built-ins and the tasks (suspended or running
//! executions) that share them.
//!
//! Calling convention (stable API used by builtins, native modules and the server):
//! - [`Vm::call_value`] calls any callable (Ask function, native, bound method, class) from Rust
//!   and runs it to completion on a nested interpreter loop. Host calls inside it use
//!   `Host::call_blocking`.
//! - [`Vm::start`] / [`Vm::run`] / [`Vm::resume`] run a task that can be suspended at a host
//!   call: the server uses these for route handlers so that a handler waiting on I/O releases
//!   the VM.
//!
//! # Concurrency model
//!
//! One `Vm` owns one program's heap (every `Rc` reachable from a `Value`). The server keeps each
//! VM behind a mutex and only touches it (and any `Value` from it) while holding that lock, like
//! CPython's GIL; a request suspended in a host call releases the lock while it waits. Compiled
//! code (`code::Program`) is immutable `Send + Sync` data shared freely between threads; a VM
//! materialises its constants into its own heap when the program is loaded (`Vm::load`).
//!
//! Tasks: each task (a route handler execution, or `run_main`) has its own register stack and
//! frame stack, kept on the heap, so Ask-to-Ask calls never recurse on the Rust stack. Only
//! native→Ask callbacks (`call_value`) run a nested interpreter loop; their nesting is bounded
//! (`MAX_NESTING`) and their frames count towards `Limits::max_depth`.
//!
//! The `[interp]` part of this struct belongs to the interpreter (`interp.rs`).

use std::rc::Rc;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::code::{Func, Program};
use crate::error::{Exc, ExcData, VmResult};
use crate::host::{Host, HostCall};
use crate::interp::Task;
use crate::value::{BuiltinType, Class, ExcKind, StrObj, Value};

/// Resource limits that turn runaway programs into errors.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Maximum Ask call depth (RecursionError beyond it).
    pub max_depth: usize,
    /// Instructions one `start`/`resume` run (or one `run_main`) may execute; `u64::MAX` = none.
    pub instruction_budget: u64,
    /// Maximum length of one string in bytes and of one collection in items.
    pub max_size: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_depth: 1000, instruction_budget: u64::MAX, max_size: 1 << 30 }
    }
}

/// Identifies a task (one route handler execution) inside a VM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaskId(pub u32);

/// What a task run ended with.
#[derive(Debug)]
pub enum RunOutcome {
    /// The task's function returned this value.
    Done(Value),
    /// The task stopped with an uncaught exception or a signal (`Respond`, `Limit`).
    Failed(Exc),
    /// The task is parked waiting for the host; resume it with the call's result.
    Suspended(crate::HostCall),
}

/// Maximum nesting of interpreter loops (native → Ask callbacks). Each nesting uses Rust stack.
pub const MAX_NESTING: usize = 200;

/// One program's runtime: heap, globals, built-ins and tasks.
pub struct Vm {
    /// The embedder's services (stdout, clock, randomness, environment, waiting calls).
    pub host: Box<dyn Host>,
    pub limits: Limits,
    /// Built-in names (functions, classes, host-provided objects such as `respond`), looked up
    /// after globals. Filled by `builtins::install` and by the embedder.
    pub builtins: FxHashMap<Rc<str>, Value>,
    /// The built-in exception classes, indexed by `ExcKind as usize`.
    pub exc_classes: Vec<Rc<Class>>,
    /// The classes standing for built-in types (`int`, `str`...).
    pub type_classes: FxHashMap<BuiltinType, Rc<Class>>,
    /// Native modules already built by `modules::load`, by name.
    pub module_cache: FxHashMap<Rc<str>, Value>,
    // [interp] Interpreter state follows (owned by interp.rs).
    pub(crate) program: Option<Arc<Program>>,
    /// Runtime namespaces, one per `Program::modules` entry.
    pub(crate) namespaces: Vec<Rc<crate::code::Namespace>>,
    /// Prepared top-level code of each module.
    pub(crate) module_funcs: Vec<Rc<Func>>,
    /// File names of the loaded program (`Loc::file` indexes this).
    pub(crate) files: Rc<[Rc<str>]>,
    pub(crate) route_handlers: Vec<Option<Value>>,
    pub(crate) tasks: FxHashMap<u32, Task>,
    pub(crate) next_task: u32,
    /// Host-provided names of each task (`body`, `auth`, …): a few per task, scanned linearly.
    pub(crate) task_locals: FxHashMap<u32, Vec<(&'static str, Value)>>,
    /// Emptied `task_locals` lists kept for the next task (no allocation per request).
    spare_locals: Vec<Vec<(&'static str, Value)>>,
    /// The task whose code is running (for task-local built-in names).
    pub(crate) current_task: Option<TaskId>,
    /// Ask frames currently on the stacks of running (not parked) tasks: the call depth.
    pub(crate) depth: usize,
    /// Why the loaded program cannot run (failed bytecode verification), if so.
    pub(crate) load_error: Option<String>,
    /// Nested interpreter loops currently running.
    pub(crate) nesting: usize,
    /// Instructions left in the current run.
    pub(crate) budget: u64,
    /// Reusable task shells for nested loops (saves allocating a register stack per callback).
    pub(crate) spare_tasks: Vec<Task>,
}

/// A placeholder host used while the real one is lent to `Host::call_blocking`.
struct NullHost;

impl Host for NullHost {
    fn write_stdout(&mut self, _text: &str) {}
    fn now(&mut self) -> f64 {
        0.0
    }
    fn monotonic(&mut self) -> f64 {
        0.0
    }
    fn random_bytes(&mut self, buf: &mut [u8]) {
        buf.fill(0);
    }
    fn env_var(&mut self, _name: &str) -> Option<String> {
        None
    }
    fn env_vars(&mut self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn call_blocking(&mut self, _vm: &mut Vm, _call: HostCall) -> VmResult<Value> {
        Err(Exc::new(ExcKind::RuntimeError, "host call made while the host is busy"))
    }
}

impl Vm {
    /// A VM with the built-ins installed and no program loaded.
    ///
    /// `builtins::install` creates the built-in type and exception classes and functions.
    pub fn new(host: Box<dyn Host>, limits: Limits) -> Vm {
        let budget = limits.instruction_budget;
        let mut vm = Vm {
            host,
            limits,
            builtins: FxHashMap::default(),
            exc_classes: Vec::new(),
            type_classes: FxHashMap::default(),
            module_cache: FxHashMap::default(),
            program: None,
            namespaces: Vec::new(),
            module_funcs: Vec::new(),
            files: Rc::from(Vec::new()),
            route_handlers: Vec::new(),
            tasks: FxHashMap::default(),
            next_task: 1,
            task_locals: FxHashMap::default(),
            spare_locals: Vec::new(),
            current_task: None,
            depth: 0,
            load_error: None,
            nesting: 0,
            budget,
            spare_tasks: Vec::new(),
        };
        crate::builtins::install(&mut vm);
        vm
    }

    /// Register a native function as a built-in name.
    pub fn register_native(&mut self, name: &'static str, func: crate::value::NativeFnPtr) {
        let f = Value::Native(Rc::new(crate::value::NativeFunc { name, func, bound: None, data: None }));
        self.builtins.insert(Rc::from(name), f);
    }

    /// The class of a built-in exception kind.
    pub fn exc_class(&self, kind: ExcKind) -> Rc<Class> {
        self.exc_classes[kind as usize].clone()
    }

    /// Call any callable value from Rust and run it to completion.
    pub fn call_value(&mut self, f: &Value, args: &[Value], kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
        let r = match f {
            Value::Native(n) if crate::code::staticmethod_func(f).is_none() => {
                // Fast path: no interpreter loop needed.
                match &n.bound {
                    None => (n.func)(self, args, kw),
                    Some(recv) => {
                        let mut full = Vec::with_capacity(args.len() + 1);
                        full.push(recv.clone());
                        full.extend_from_slice(args);
                        (n.func)(self, &full, kw)
                    }
                }
            }
            _ => crate::interp::call_nested(self, f, args, kw),
        };
        // A call from Rust runs to completion: a host call that wanted to suspend is performed
        // blocking instead.
        match r {
            Err(e) if matches!(*e.0, ExcData::Suspend(_)) => match *e.0 {
                ExcData::Suspend(call) => self.call_host_blocking(call),
                data => Err(Exc(Box::new(data))),
            },
            r => r,
        }
    }

    /// Turn an exception into its instance value (materialising built-in exceptions).
    ///
    /// A built-in exception is replaced by `Raised` holding the new instance (traceback kept),
    /// so asking twice gives the same object. Signals (`Respond`...) have no instance: `None`.
    pub fn exception_value(&mut self, exc: &mut Exc) -> Value {
        match &mut *exc.0 {
            ExcData::Raised { value, .. } => value.clone(),
            // Caught only by a `SetupRespond` handler (`inner()`): the payload tuple.
            ExcData::Respond(payload) => payload.clone(),
            ExcData::Builtin { kind, msg, traceback } => {
                let (kind, msg, tb) = (*kind, std::mem::take(msg), std::mem::take(traceback));
                let value = crate::builtins::exception_instance(self, kind, &msg);
                *exc.0 = ExcData::Raised { value: value.clone(), traceback: tb };
                value
            }
            _ => Value::None,
        }
    }

    /// Perform a host call synchronously (lends the host to itself).
    pub fn call_host_blocking(&mut self, call: HostCall) -> VmResult<Value> {
        let mut host = std::mem::replace(&mut self.host, Box::new(NullHost));
        let r = host.call_blocking(self, call);
        self.host = host;
        r
    }

    /// Load (or hot-swap) a compiled program. Globals of the main module keep their values by
    /// name (a reload re-runs top-level code, which reassigns them); route handlers are reset.
    pub fn load(&mut self, program: Arc<Program>) {
        crate::interp::load_program(self, program)
    }

    /// The loaded program.
    pub fn program(&self) -> Option<&Arc<Program>> {
        self.program.as_ref()
    }

    /// Run the main module's top-level code to completion (host calls are blocking).
    pub fn run_main(&mut self) -> VmResult<Value> {
        crate::interp::run_main(self)
    }

    /// Create a task that will call `f(*args)`; run it with [`Vm::run`].
    pub fn start(&mut self, f: &Value, args: Vec<Value>) -> TaskId {
        crate::interp::start_task(self, f, args)
    }

    /// Run a task (with a fresh instruction budget) until it finishes or suspends.
    pub fn run(&mut self, t: TaskId) -> RunOutcome {
        crate::interp::run_task(self, t, None)
    }

    /// Resume a suspended task with the result of its host call.
    pub fn resume(&mut self, t: TaskId, result: VmResult<Value>) -> RunOutcome {
        crate::interp::run_task(self, t, Some(result))
    }

    /// Forget a task (finished or abandoned) and its task-local names.
    pub fn drop_task(&mut self, t: TaskId) {
        self.tasks.remove(&t.0);
        if let Some(mut locals) = self.task_locals.remove(&t.0) {
            if self.spare_locals.len() < 64 {
                locals.clear();
                self.spare_locals.push(locals);
            }
        }
    }

    /// Bind a request-scoped built-in name for one task (`body`, `args`, `auth`...). Looked up
    /// before `Vm::builtins` when code running in that task reads a name that is not a global.
    pub fn set_task_local(&mut self, t: TaskId, name: &'static str, v: Value) {
        let spare = &mut self.spare_locals;
        let locals = self.task_locals.entry(t.0).or_insert_with(|| spare.pop().unwrap_or_default());
        match locals.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = v,
            None => locals.push((name, v)),
        }
    }

    /// The handler closure registered for `program.routes[i]` (after `run_main`).
    pub fn route_handler(&self, i: usize) -> Option<Value> {
        self.route_handlers.get(i).cloned().flatten()
    }

    /// A global of the main module.
    pub fn global(&self, name: &str) -> Option<Value> {
        let ns = self.namespaces.first()?;
        let slot = ns.slot_of(name)?;
        ns.values.borrow().get(slot).cloned().flatten()
    }

    /// Set a global of the main module; `false` when the program has no such global slot.
    pub fn set_global(&mut self, name: &str, v: Value) -> bool {
        let Some(ns) = self.namespaces.first() else { return false };
        let Some(slot) = ns.slot_of(name) else { return false };
        let mut vals = ns.values.borrow_mut();
        if slot < vals.len() {
            vals[slot] = Some(v);
            true
        } else {
            false
        }
    }

    /// CPython-like traceback text for an uncaught exception, ending with `Type: message`.
    pub fn format_traceback(&mut self, exc: &Exc) -> String {
        crate::interp::format_traceback(self, exc)
    }
}

/// The built-in exception classes, indexed by `ExcKind as usize`, with CPython's hierarchy.
// SAFETY: a `Vm` owns every `Rc`/`RefCell` reachable from it: values live in its registers,
// globals, built-ins, tasks and caches, and compiled code it shares is `Arc<Program>` (plain
// `Send + Sync` data). The embedder (the server) only moves a `Vm` between threads as a whole,
// behind a mutex, and never lets a `Value` taken from it outlive the lock scope or cross to
// another thread on its own (host calls carry `Value`s only while the VM lock is held by the
// same logical task, and results come back through `Vm::resume` under the lock). The host is
// `Box<dyn Host>` and must itself be safe to move with the VM (the server's host is).
// Under that discipline no two threads ever touch the same non-atomic refcount, which is the
// only hazard `Rc` has; hence moving the whole VM is sound.
unsafe impl Send for Vm {}
