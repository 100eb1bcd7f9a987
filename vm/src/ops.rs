//! Python semantics of operators on Ask values: arithmetic with i64→big-int promotion,
//! comparisons (rich comparison through `__eq__`/`__lt__` on instances), truthiness, membership,
//! subscripts and slices, attribute access, iteration and hashing.
//!
//! The interpreter inlines the commonest fast paths (int + int, float * float...) and calls into
//! this module for everything else, so these functions favour completeness over speed.
//! (Stub: signatures fixed; bodies filled in by the library work.)

use std::rc::Rc;

use crate::error::VmResult;
use crate::value::{HKey, StrObj, Value};
use crate::Vm;

/// Binary arithmetic and bitwise operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    LShift,
    RShift,
    BitAnd,
    BitOr,
    BitXor,
    MatMul,
}

/// Ordering/equality comparisons (`in`/`is` have their own functions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Python's `type(v).__name__`.
pub fn type_name(v: &Value) -> String { let _ = v; todo!() }
/// `bool(v)` (calls `__bool__`/`__len__` on instances).
pub fn truthy(vm: &mut Vm, v: &Value) -> VmResult<bool> { let _ = (vm, v); todo!() }
/// `a op b`.
pub fn arith(vm: &mut Vm, op: ArithOp, a: &Value, b: &Value) -> VmResult<Value> { let _ = (vm, op, a, b); todo!() }
/// `a op= b` with `a` owned: may mutate a list in place (`+=` extends), or append to a string
/// buffer that nobody else references.
pub fn arith_inplace(vm: &mut Vm, op: ArithOp, a: Value, b: &Value) -> VmResult<Value> { let _ = (vm, op, a, b); todo!() }
pub fn neg(vm: &mut Vm, v: &Value) -> VmResult<Value> { let _ = (vm, v); todo!() }
pub fn pos(vm: &mut Vm, v: &Value) -> VmResult<Value> { let _ = (vm, v); todo!() }
pub fn invert(vm: &mut Vm, v: &Value) -> VmResult<Value> { let _ = (vm, v); todo!() }
/// `a op b` for ordering and equality; returns Python's truth of the result.
pub fn compare(vm: &mut Vm, op: CmpOp, a: &Value, b: &Value) -> VmResult<bool> { let _ = (vm, op, a, b); todo!() }
/// `a == b`.
pub fn eq(vm: &mut Vm, a: &Value, b: &Value) -> VmResult<bool> { let _ = (vm, a, b); todo!() }
/// `a is b`.
pub fn is(a: &Value, b: &Value) -> bool { let _ = (a, b); todo!() }
/// `item in container`.
pub fn contains(vm: &mut Vm, container: &Value, item: &Value) -> VmResult<bool> { let _ = (vm, container, item); todo!() }
/// `obj[key]` (key may be a slice built by `make_slice`).
pub fn get_item(vm: &mut Vm, obj: &Value, key: &Value) -> VmResult<Value> { let _ = (vm, obj, key); todo!() }
pub fn set_item(vm: &mut Vm, obj: &Value, key: &Value, value: Value) -> VmResult<()> { let _ = (vm, obj, key, value); todo!() }
pub fn del_item(vm: &mut Vm, obj: &Value, key: &Value) -> VmResult<()> { let _ = (vm, obj, key); todo!() }
/// Build a slice object for `obj[lo:hi:step]` (each part may be `None`).
pub fn make_slice(lo: Value, hi: Value, step: Value) -> Value { let _ = (lo, hi, step); todo!() }
/// `obj.name` (binds methods: instance methods become `BoundMethod`, built-in methods bound
/// `Native`s).
pub fn get_attr(vm: &mut Vm, obj: &Value, name: &str) -> VmResult<Value> { let _ = (vm, obj, name); todo!() }
pub fn set_attr(vm: &mut Vm, obj: &Value, name: &str, value: Value) -> VmResult<()> { let _ = (vm, obj, name, value); todo!() }
pub fn del_attr(vm: &mut Vm, obj: &Value, name: &str) -> VmResult<()> { let _ = (vm, obj, name); todo!() }
/// `obj.name(args...)` without allocating a bound method where possible.
pub fn call_method(vm: &mut Vm, obj: &Value, name: &str, args: &[Value], kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> { let _ = (vm, obj, name, args, kw); todo!() }
/// `iter(v)`: returns a `Value::Iter` (or the object itself for iterators / `__iter__` results).
pub fn iter(vm: &mut Vm, v: &Value) -> VmResult<Value> { let _ = (vm, v); todo!() }
/// `next(it)`: `Ok(None)` when exhausted.
pub fn next(vm: &mut Vm, it: &Value) -> VmResult<Option<Value>> { let _ = (vm, it); todo!() }
/// Collect any iterable into a Vec.
pub fn collect(vm: &mut Vm, v: &Value) -> VmResult<Vec<Value>> { let _ = (vm, v); todo!() }
/// Wrap a value as a dict key / set member (TypeError `unhashable type: 'list'`).
pub fn hkey(vm: &mut Vm, v: Value) -> VmResult<HKey> { let _ = (vm, v); todo!() }
/// `len(v)`.
pub fn len(vm: &mut Vm, v: &Value) -> VmResult<usize> { let _ = (vm, v); todo!() }
