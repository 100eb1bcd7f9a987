//! Built-in functions (`print`, `len`, `range`, `sorted`...), the built-in type classes (`int`,
//! `str`, `list`...) and the built-in exception classes, installed into a new VM.
//! (Stub: signatures fixed; bodies filled in by the library work.)

use crate::value::{ExcKind, Value};
use crate::Vm;

/// Create the built-in classes (filling `vm.exc_classes` and `vm.type_classes`) and register
/// every built-in function and class in `vm.builtins`.
pub fn install(vm: &mut Vm) { let _ = vm; todo!() }

/// A new instance of a built-in exception class with `args = (msg,)` (or `()` when `msg` is empty
/// and `kind` is not `KeyError`).
pub fn exception_instance(vm: &mut Vm, kind: ExcKind, msg: &str) -> Value { let _ = (vm, kind, msg); todo!() }
