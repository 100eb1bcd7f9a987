//! The Ask virtual machine: runtime values, the bytecode format, the register interpreter, the
//! built-in functions and types, and the native modules (`math`, `json`, `re`...).
//!
//! This crate does no I/O: clocks, randomness, the environment, stdout and waiting operations all
//! go through the [`Host`] trait supplied by the embedder. Compiled programs ([`code::Program`])
//! are immutable, `Send + Sync`, and shared between threads; a [`Vm`] owns one program's heap.
//!
//! Module map:
//! - `value`, `error`, `host`: the data model shared by everything else.
//! - `opcode`, `code`, `disasm`: the instruction set, compiled functions, the disassembler.
//! - `vm`, `interp`: the VM state, calling convention and the interpreter loop.
//! - `ops`, `format`, `builtins`, `methods`: Python semantics of operators, `repr`/formatting,
//!   built-in functions and types, and methods of built-in values.
//! - `modules`: native modules importable with `import`.

pub mod builtins;
pub mod code;
pub mod disasm;
pub mod error;
pub mod format;
pub mod host;
pub mod interp;
pub mod lib_glue;
pub mod lib_num;
pub mod lib_str;
pub mod methods;
pub mod modules;
pub mod opcode;
pub mod ops;
pub mod route;
pub mod value;
pub mod vm;

pub use error::{Exc, ExcData, LimitKind, TraceEntry, VmResult};
pub use host::{Host, HostCall};
pub use value::Value;
pub use vm::{Limits, RunOutcome, TaskId, Vm};
