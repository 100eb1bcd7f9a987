//! Text forms of values: `repr`, `str`, format specs (`{x:.2f}`, `format(x, spec)`,
//! `str.format`), `%` formatting, and CPython-exact float printing (`1e+20`, `0.1`, `3.0`).
//! (Stub: signatures fixed; bodies filled in by the library work.)

use crate::error::VmResult;
use crate::value::Value;
use crate::Vm;

/// `repr(v)` (calls `__repr__` on instances).
pub fn repr(vm: &mut Vm, v: &Value) -> VmResult<String> { let _ = (vm, v); todo!() }
/// `str(v)` (calls `__str__`, falling back to `__repr__`).
pub fn to_str(vm: &mut Vm, v: &Value) -> VmResult<String> { let _ = (vm, v); todo!() }
/// `format(v, spec)`: the format-spec mini-language (`>10`, `,`, `.2f`, `08.3e`, `x`, `%`...).
pub fn format_spec(vm: &mut Vm, v: &Value, spec: &str) -> VmResult<String> { let _ = (vm, v, spec); todo!() }
/// CPython's `repr(float)`.
pub fn float_repr(x: f64) -> String { let _ = x; todo!() }
