//! Errors and non-local control flow inside the VM.
//!
//! Everything that unwinds Ask frames travels as `Err(Exc)`: Python exceptions, and three
//! signals that are not exceptions (Ask code cannot catch them with `except`):
//! - `Respond`: `respond(...)`/`status(...)` ending a route handler from any depth;
//! - `Suspend`: a host call that must wait (database, sleep) asking the driver to park the task;
//! - `Limit`: the instruction budget or a memory limit ran out (a `try/except` must not be able
//!   to swallow it and keep a runaway request alive).
//!
//! `Exc` is one pointer wide so that `VmResult<Value>` stays small on the hot path.

use std::rc::Rc;

use crate::value::{ExcKind, Value};

pub type VmResult<T> = Result<T, Exc>;

/// A boxed unwinding reason.
pub struct Exc(pub Box<ExcData>);

pub enum ExcData {
    /// A Python exception raised by Ask code (`raise`): `value` is the exception instance.
    Raised { value: Value, traceback: Vec<TraceEntry> },
    /// A built-in exception raised by Rust code. Materialised into an instance of the built-in
    /// class lazily (when Ask code binds it with `except ... as e` or inspects it), so that
    /// raising from deep inside an operation needs no access to the VM.
    Builtin { kind: ExcKind, msg: String, traceback: Vec<TraceEntry> },
    /// `respond`/`status` ending the current route handler. The payload is built by the host's
    /// `respond` native and read back by the host; the VM only carries it to the handler frame.
    Respond(Value),
    /// The current task must wait for the host: see [`crate::HostCall`].
    Suspend(crate::HostCall),
    /// A resource limit ran out. Not catchable by Ask code.
    Limit(LimitKind),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
    /// The per-run instruction budget was used up.
    Instructions,
    /// A string or collection would exceed the configured maximum size.
    Memory,
}

/// One line of an Ask traceback: `file:line in function`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEntry {
    pub file: Rc<str>,
    pub line: u32,
    pub col: u32,
    pub function: Rc<str>,
}

impl Exc {
    /// A built-in exception with a message, e.g. `Exc::new(ExcKind::TypeError, "...")`.
    #[cold]
    pub fn new(kind: ExcKind, msg: impl Into<String>) -> Exc {
        Exc(Box::new(ExcData::Builtin { kind, msg: msg.into(), traceback: Vec::new() }))
    }
    #[cold]
    pub fn type_error(msg: impl Into<String>) -> Exc {
        Exc::new(ExcKind::TypeError, msg)
    }
    #[cold]
    pub fn value_error(msg: impl Into<String>) -> Exc {
        Exc::new(ExcKind::ValueError, msg)
    }
    #[cold]
    pub fn index_error(msg: impl Into<String>) -> Exc {
        Exc::new(ExcKind::IndexError, msg)
    }
    #[cold]
    pub fn attribute_error(msg: impl Into<String>) -> Exc {
        Exc::new(ExcKind::AttributeError, msg)
    }
    #[cold]
    pub fn zero_division(msg: impl Into<String>) -> Exc {
        Exc::new(ExcKind::ZeroDivisionError, msg)
    }
    #[cold]
    pub fn limit(kind: LimitKind) -> Exc {
        Exc(Box::new(ExcData::Limit(kind)))
    }
    /// True for Python exceptions (which `except` may catch), false for signals.
    pub fn is_exception(&self) -> bool {
        matches!(*self.0, ExcData::Raised { .. } | ExcData::Builtin { .. })
    }
    pub fn traceback_mut(&mut self) -> Option<&mut Vec<TraceEntry>> {
        match &mut *self.0 {
            ExcData::Raised { traceback, .. } | ExcData::Builtin { traceback, .. } => Some(traceback),
            _ => None,
        }
    }
}

impl std::fmt::Debug for Exc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.0 {
            ExcData::Raised { value, .. } => write!(f, "Raised({value:?})"),
            ExcData::Builtin { kind, msg, .. } => write!(f, "{}: {}", kind.name(), msg),
            ExcData::Respond(v) => write!(f, "Respond({v:?})"),
            ExcData::Suspend(c) => write!(f, "Suspend({c:?})"),
            ExcData::Limit(k) => write!(f, "Limit({k:?})"),
        }
    }
}
