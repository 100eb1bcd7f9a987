//! The VM: one program's heap, globals, built-ins and the tasks (suspended or running
//! executions) that share them.
//!
//! Calling convention (stable API used by builtins, native modules and the server):
//! - [`Vm::call_value`] calls any callable (Ask function, native, bound method, class) from Rust
//!   and runs it to completion on a nested interpreter loop. Host calls inside it use
//!   `Host::call_blocking`.
//! - [`Vm::start`] / [`Vm::resume`] run a task that can be suspended at a host call: the server
//!   uses these for route handlers so that a handler waiting on I/O releases the VM.
//!
//! The `[interp]` part of this struct belongs to the interpreter (`interp.rs`).

use std::rc::Rc;

use rustc_hash::FxHashMap;

use crate::error::{Exc, VmResult};
use crate::host::Host;
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
}

impl Vm {
    /// The class of a built-in exception kind.
    pub fn exc_class(&self, kind: ExcKind) -> Rc<Class> {
        self.exc_classes[kind as usize].clone()
    }

    /// Call any callable value from Rust and run it to completion.
    pub fn call_value(&mut self, f: &Value, args: &[Value], kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
        let _ = (f, args, kw);
        todo!()
    }

    /// Turn an exception into its instance value (materialising built-in exceptions).
    pub fn exception_value(&mut self, exc: &mut Exc) -> Value {
        let _ = exc;
        todo!()
    }
}
