//! Python semantics of operators on Ask values: arithmetic with i64→big-int promotion,
//! comparisons (rich comparison through `__eq__`/`__lt__` on instances), truthiness, membership,
//! subscripts and slices, attribute access, iteration and hashing.
//!
//! The interpreter inlines the commonest fast paths (int + int, float * float...) and calls into
//! this module for everything else, so these functions favour completeness over speed.
//! Numeric details live in `lib_num.rs`.

use std::any::Any;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::rc::Rc;

use num_bigint::BigInt;

use crate::error::{Exc, ExcData, VmResult};
use crate::lib_num::{self, op_symbol};
use crate::value::{
    num_of, BoundMethod, Class, Dict, ExcKind, HKey, IterObj, NativeIter, NativeObject, RangeObj, Set, StrObj,
    Value,
};
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

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
    fn dunder(self) -> &'static str {
        match self {
            CmpOp::Eq => "__eq__",
            CmpOp::Ne => "__ne__",
            CmpOp::Lt => "__lt__",
            CmpOp::Le => "__le__",
            CmpOp::Gt => "__gt__",
            CmpOp::Ge => "__ge__",
        }
    }
    fn swapped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            o => o,
        }
    }
    fn test(self, o: Ordering) -> bool {
        match self {
            CmpOp::Eq => o == Ordering::Equal,
            CmpOp::Ne => o != Ordering::Equal,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::Le => o != Ordering::Greater,
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::Ge => o != Ordering::Less,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helper objects: slices, dict views, NotImplemented.

/// A slice object `lo:hi:step` (only reaches Ask code as a subscript).
pub struct SliceObj {
    pub lo: Value,
    pub hi: Value,
    pub step: Value,
}

impl NativeObject for SliceObj {
    fn type_name(&self) -> &str {
        "slice"
    }
    fn repr(&self) -> String {
        let f = |v: &Value| match v {
            Value::None => "None".to_string(),
            Value::Int(i) => i.to_string(),
            other => format!("{:?}", other),
        };
        format!("slice({}, {}, {})", f(&self.lo), f(&self.hi), f(&self.step))
    }
    fn get_attr(&self, _vm: &mut Vm, _this: &Value, name: &str) -> VmResult<Option<Value>> {
        Ok(match name {
            "start" => Some(self.lo.clone()),
            "stop" => Some(self.hi.clone()),
            "step" => Some(self.step.clone()),
            _ => None,
        })
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ViewKind {
    Keys,
    Values,
    Items,
}

impl ViewKind {
    pub fn name(self) -> &'static str {
        match self {
            ViewKind::Keys => "dict_keys",
            ViewKind::Values => "dict_values",
            ViewKind::Items => "dict_items",
        }
    }
}

/// `d.keys()`, `d.values()`, `d.items()`: live views over a dict.
pub struct DictView {
    pub dict: Rc<RefCell<Dict>>,
    pub kind: ViewKind,
}

impl DictView {
    pub fn snapshot(&self) -> Vec<Value> {
        let d = self.dict.borrow();
        match self.kind {
            ViewKind::Keys => d.keys().map(|k| k.0.clone()).collect(),
            ViewKind::Values => d.values().cloned().collect(),
            ViewKind::Items => d.iter().map(|(k, v)| Value::tuple(vec![k.0.clone(), v.clone()])).collect(),
        }
    }
}

impl NativeObject for DictView {
    fn type_name(&self) -> &str {
        self.kind.name()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The `NotImplemented` singleton's type.
pub struct NotImplementedObj;

impl NativeObject for NotImplementedObj {
    fn type_name(&self) -> &str {
        "NotImplementedType"
    }
    fn repr(&self) -> String {
        "NotImplemented".into()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

pub fn is_not_implemented(v: &Value) -> bool {
    matches!(v, Value::Object(o) if o.as_any().is::<NotImplementedObj>())
}

fn as_view(v: &Value) -> Option<&DictView> {
    match v {
        Value::Object(o) => o.as_any().downcast_ref::<DictView>(),
        _ => None,
    }
}

fn as_slice(v: &Value) -> Option<&SliceObj> {
    match v {
        Value::Object(o) => o.as_any().downcast_ref::<SliceObj>(),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Recursion guard for operations that walk nested values (`==`, `<`, `repr`, hashing): a deeply
// nested list must raise RecursionError, not overflow the Rust stack.

thread_local! {
    static NEST: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Maximum nesting walked by one structural operation.
const MAX_NEST: usize = 1000;

pub struct NestGuard;

impl Drop for NestGuard {
    fn drop(&mut self) {
        NEST.with(|n| n.set(n.get().saturating_sub(1)));
    }
}

/// Enter one level of a structural walk (`what` completes CPython's message).
#[inline]
pub fn nest(what: &str) -> VmResult<NestGuard> {
    let depth = NEST.with(|n| {
        let d = n.get() + 1;
        n.set(d);
        d
    });
    let guard = NestGuard;
    if depth > MAX_NEST {
        return Err(Exc::new(ExcKind::RecursionError, format!("maximum recursion depth exceeded{}", what)));
    }
    Ok(guard)
}

// ---------------------------------------------------------------------------------------------
// Errors.

/// A `KeyError` carrying the key itself (so `str(e)` is the key's repr).
#[cold]
pub fn key_error(vm: &mut Vm, key: Value) -> Exc {
    let value = crate::builtins::exception_with_args(vm, ExcKind::KeyError, vec![key]);
    Exc(Box::new(ExcData::Raised { value, traceback: Vec::new() }))
}

/// Is this exception an instance of `kind` (or a subclass)?
pub fn exc_is(vm: &Vm, exc: &Exc, kind: ExcKind) -> bool {
    match &*exc.0 {
        ExcData::Builtin { kind: k, .. } => {
            let mut cur = Some(*k);
            while let Some(c) = cur {
                if c == kind {
                    return true;
                }
                cur = c.parent();
            }
            false
        }
        ExcData::Raised { value: Value::Instance(inst), .. } => match vm.exc_classes.get(kind as usize) {
            Some(cls) => inst.class.is_subclass_of(cls),
            None => false,
        },
        _ => false,
    }
}

#[cold]
fn unsupported(op: ArithOp, a: &Value, b: &Value) -> Exc {
    Exc::type_error(format!(
        "unsupported operand type(s) for {}: '{}' and '{}'",
        op_symbol(op),
        type_name(a),
        type_name(b)
    ))
}

// ---------------------------------------------------------------------------------------------
// Names.

/// Python's `type(v).__name__`.
pub fn type_name(v: &Value) -> String {
    match v {
        Value::Instance(i) => i.class.name.s.clone(),
        Value::Object(o) => o.type_name().to_string(),
        Value::Iter(it) => match it.try_borrow() {
            Ok(it) => match &*it {
                IterObj::List { .. } => "list_iterator",
                IterObj::Tuple { .. } => "tuple_iterator",
                IterObj::Str { .. } => "str_ascii_iterator",
                IterObj::Range { .. } => "range_iterator",
                IterObj::Values { .. } => "dict_keyiterator",
                _ => "generator",
            }
            .to_string(),
            Err(_) => "generator".to_string(),
        },
        other => other.kind_name().to_string(),
    }
}

/// The `__name__` of a function-like value.
pub fn function_name(v: &Value) -> String {
    match v {
        Value::Function(c) => crate::lib_glue::closure_name(c),
        Value::Native(n) => n.name.to_string(),
        Value::BoundMethod(b) => function_name(&b.func),
        Value::Class(c) => c.name.s.clone(),
        _ => "?".to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Instance protocol helpers.

/// Call `obj.name(*args)` if `obj` is an instance whose class defines `name`.
pub fn call_dunder(vm: &mut Vm, obj: &Value, name: &str, args: &[Value]) -> VmResult<Option<Value>> {
    if let Value::Instance(inst) = obj {
        if let Some(f) = inst.class.lookup(name) {
            if f.is_none() {
                return Ok(None);
            }
            let mut full = Vec::with_capacity(args.len() + 1);
            full.push(obj.clone());
            full.extend_from_slice(args);
            return vm.call_value(&f, &full, &[]).map(Some);
        }
    }
    if let Value::Object(o) = obj {
        // Native objects expose their dunders as bound methods through `get_attr`.
        if let Some(f) = o.get_attr(vm, obj, name)? {
            return vm.call_value(&f, args, &[]).map(Some);
        }
    }
    Ok(None)
}

fn has_dunder(obj: &Value, name: &str) -> bool {
    match obj {
        Value::Instance(inst) => inst.class.lookup(name).is_some_and(|v| !v.is_none()),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Truthiness.

/// `bool(v)` (calls `__bool__`/`__len__` on instances).
pub fn truthy(vm: &mut Vm, v: &Value) -> VmResult<bool> {
    Ok(match v {
        Value::None => false,
        Value::Bool(b) => *b,
        Value::Int(i) => *i != 0,
        Value::Float(f) => *f != 0.0,
        Value::BigInt(_) => true,
        Value::Str(s) => !s.s.is_empty(),
        Value::Bytes(b) => !b.is_empty(),
        Value::List(l) => !l.borrow().is_empty(),
        Value::Tuple(t) => !t.is_empty(),
        Value::Dict(d) => !d.borrow().is_empty(),
        Value::Set(s) => !s.borrow().is_empty(),
        Value::FrozenSet(s) => !s.is_empty(),
        Value::Range(r) => range_len(r) > 0,
        Value::Instance(_) => {
            if let Some(r) = call_dunder(vm, v, "__bool__", &[])? {
                match r {
                    Value::Bool(b) => b,
                    other => {
                        return Err(Exc::type_error(format!(
                            "__bool__ should return bool, returned {}",
                            type_name(&other)
                        )))
                    }
                }
            } else if let Some(r) = call_dunder(vm, v, "__len__", &[])? {
                match r {
                    Value::Int(n) => n != 0,
                    Value::Bool(b) => b,
                    other => {
                        return Err(Exc::type_error(format!(
                            "'{}' object cannot be interpreted as an integer",
                            type_name(&other)
                        )))
                    }
                }
            } else {
                true
            }
        }
        Value::Object(_) => match as_view(v) {
            Some(view) => !view.dict.borrow().is_empty(),
            None => match call_dunder(vm, v, "__bool__", &[])? {
                Some(r) => truthy(vm, &r)?,
                None => match call_dunder(vm, v, "__len__", &[])? {
                    Some(Value::Int(n)) => n != 0,
                    _ => true,
                },
            },
        },
        Value::Cell(c) => {
            let inner = c.borrow().clone();
            return truthy(vm, &inner);
        }
        _ => true,
    })
}

// ---------------------------------------------------------------------------------------------
// Arithmetic.

fn arith_dunders(op: ArithOp) -> (&'static str, &'static str, &'static str) {
    match op {
        ArithOp::Add => ("__add__", "__radd__", "__iadd__"),
        ArithOp::Sub => ("__sub__", "__rsub__", "__isub__"),
        ArithOp::Mul => ("__mul__", "__rmul__", "__imul__"),
        ArithOp::Div => ("__truediv__", "__rtruediv__", "__itruediv__"),
        ArithOp::FloorDiv => ("__floordiv__", "__rfloordiv__", "__ifloordiv__"),
        ArithOp::Mod => ("__mod__", "__rmod__", "__imod__"),
        ArithOp::Pow => ("__pow__", "__rpow__", "__ipow__"),
        ArithOp::LShift => ("__lshift__", "__rlshift__", "__ilshift__"),
        ArithOp::RShift => ("__rshift__", "__rrshift__", "__irshift__"),
        ArithOp::BitAnd => ("__and__", "__rand__", "__iand__"),
        ArithOp::BitOr => ("__or__", "__ror__", "__ior__"),
        ArithOp::BitXor => ("__xor__", "__rxor__", "__ixor__"),
        ArithOp::MatMul => ("__matmul__", "__rmatmul__", "__imatmul__"),
    }
}

fn is_intlike(v: &Value) -> bool {
    matches!(v, Value::Int(_) | Value::Bool(_) | Value::BigInt(_))
}

fn is_number(v: &Value) -> bool {
    matches!(v, Value::Int(_) | Value::Bool(_) | Value::BigInt(_) | Value::Float(_))
}

/// Repetition count for `seq * n`.
fn repeat_count(vm: &Vm, n: &Value, item_len: usize) -> VmResult<usize> {
    let n = match n {
        Value::Int(i) => *i,
        Value::Bool(b) => *b as i64,
        Value::BigInt(b) => {
            if b.sign() == num_bigint::Sign::Minus {
                0
            } else {
                return Err(Exc::new(ExcKind::OverflowError, "cannot fit 'int' into an index-sized integer"));
            }
        }
        _ => unreachable!(),
    };
    if n <= 0 {
        return Ok(0);
    }
    let n = n as usize;
    if item_len.saturating_mul(n) > vm.limits.max_size {
        return Err(Exc::limit(crate::error::LimitKind::Memory));
    }
    Ok(n)
}

fn set_op(op: ArithOp, a: &Set, b: &Set) -> Set {
    match op {
        ArithOp::BitOr => {
            let mut r = a.clone();
            for k in b.iter() {
                r.insert(k.clone());
            }
            r
        }
        ArithOp::BitAnd => a.iter().filter(|k| b.contains(*k)).cloned().collect(),
        ArithOp::Sub => a.iter().filter(|k| !b.contains(*k)).cloned().collect(),
        _ => {
            let mut r: Set = a.iter().filter(|k| !b.contains(*k)).cloned().collect();
            for k in b.iter() {
                if !a.contains(k) {
                    r.insert(k.clone());
                }
            }
            r
        }
    }
}

/// A set-like operand as an owned set (sets, frozensets, dict key views).
fn set_like(v: &Value) -> Option<Set> {
    match v {
        Value::Set(s) => Some(s.borrow().clone()),
        Value::FrozenSet(s) => Some((**s).clone()),
        Value::Object(_) => as_view(v).filter(|w| w.kind == ViewKind::Keys).map(|w| w.dict.borrow().keys().cloned().collect()),
        _ => None,
    }
}

/// `a op b`.
pub fn arith(vm: &mut Vm, op: ArithOp, a: &Value, b: &Value) -> VmResult<Value> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => return lib_num::int_arith(op, *x, *y),
        (Value::Float(x), Value::Float(y)) => return lib_num::float_arith(op, *x, *y),
        (Value::Str(x), Value::Str(y)) if op == ArithOp::Add => {
            // At least the allocator's smallest chunk: a following `+ ";"` appends in place.
            let mut s = String::with_capacity((x.s.len() + y.s.len()).max(24));
            s.push_str(&x.s);
            s.push_str(&y.s);
            check_size(vm, s.len())?;
            return Ok(Value::str(s));
        }
        _ => {}
    }
    arith_slow(vm, op, a, b)
}

#[inline]
fn check_size(vm: &Vm, n: usize) -> VmResult<()> {
    if n > vm.limits.max_size {
        return Err(Exc::limit(crate::error::LimitKind::Memory));
    }
    Ok(())
}

fn arith_slow(vm: &mut Vm, op: ArithOp, a: &Value, b: &Value) -> VmResult<Value> {
    // Numbers.
    if is_number(a) && is_number(b) {
        if matches!(a, Value::Float(_)) || matches!(b, Value::Float(_)) {
            if matches!(op, ArithOp::LShift | ArithOp::RShift | ArithOp::BitAnd | ArithOp::BitOr | ArithOp::BitXor | ArithOp::MatMul) {
                return Err(unsupported(op, a, b));
            }
            // int ** float and float ops: exact when possible.
            let x = lib_num::to_f64(a)?.unwrap_or(0.0);
            let y = lib_num::to_f64(b)?.unwrap_or(0.0);
            return lib_num::float_arith(op, x, y);
        }
        if let (Value::Bool(x), Value::Bool(y)) = (a, b) {
            match op {
                ArithOp::BitAnd => return Ok(Value::Bool(*x & *y)),
                ArithOp::BitOr => return Ok(Value::Bool(*x | *y)),
                ArithOp::BitXor => return Ok(Value::Bool(*x ^ *y)),
                _ => {}
            }
        }
        let small = |v: &Value| match v {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        };
        if let (Some(x), Some(y)) = (small(a), small(b)) {
            return lib_num::int_arith(op, x, y);
        }
        let x = lib_num::to_big(a).unwrap_or_default();
        let y = lib_num::to_big(b).unwrap_or_default();
        return lib_num::big_arith(op, &x, &y);
    }
    match (op, a, b) {
        (ArithOp::Add, Value::Str(x), Value::Str(y)) => {
            let mut s = String::with_capacity(x.s.len() + y.s.len());
            s.push_str(&x.s);
            s.push_str(&y.s);
            return Ok(Value::str(s));
        }
        (ArithOp::Add, Value::List(x), Value::List(y)) => {
            let mut v = x.borrow().clone();
            v.extend(y.borrow().iter().cloned());
            check_size(vm, v.len())?;
            return Ok(Value::list(v));
        }
        (ArithOp::Add, Value::Tuple(x), Value::Tuple(y)) => {
            let mut v = x.to_vec();
            v.extend(y.iter().cloned());
            return Ok(Value::tuple(v));
        }
        (ArithOp::Add, Value::Bytes(x), Value::Bytes(y)) => {
            let mut v = x.to_vec();
            v.extend_from_slice(y);
            return Ok(Value::Bytes(Rc::new(v)));
        }
        (ArithOp::Mul, Value::Str(_) | Value::List(_) | Value::Tuple(_) | Value::Bytes(_), n) if is_intlike(n) => {
            return repeat(vm, a, n);
        }
        (ArithOp::Mul, n, Value::Str(_) | Value::List(_) | Value::Tuple(_) | Value::Bytes(_)) if is_intlike(n) => {
            return repeat(vm, b, n);
        }
        (ArithOp::Mod, Value::Str(s), _) if !matches!(b, Value::Instance(_)) || !has_dunder(b, "__rmod__") => {
            return Ok(Value::str(crate::format::percent_format(vm, &s.s, b)?));
        }
        (ArithOp::BitOr, Value::Dict(x), Value::Dict(y)) => {
            let mut d = x.borrow().clone();
            for (k, v) in y.borrow().iter() {
                d.insert(k.clone(), v.clone());
            }
            return Ok(Value::dict(d));
        }
        (ArithOp::BitOr | ArithOp::BitAnd | ArithOp::Sub | ArithOp::BitXor, _, _) => {
            if let (Some(x), Some(y)) = (set_like(a), set_like(b)) {
                let r = set_op(op, &x, &y);
                return Ok(if matches!(a, Value::FrozenSet(_)) {
                    Value::FrozenSet(Rc::new(r))
                } else {
                    Value::Set(Rc::new(RefCell::new(r)))
                });
            }
        }
        _ => {}
    }
    // User classes and native objects.
    let (name, rname, _) = arith_dunders(op);
    if matches!(a, Value::Instance(_) | Value::Object(_)) {
        if let Some(r) = call_dunder(vm, a, name, &[b.clone()])? {
            if !is_not_implemented(&r) {
                return Ok(r);
            }
        }
    }
    if matches!(b, Value::Instance(_) | Value::Object(_)) {
        if let Some(r) = call_dunder(vm, b, rname, &[a.clone()])? {
            if !is_not_implemented(&r) {
                return Ok(r);
            }
        }
    }
    // Python's specific messages.
    match (op, a) {
        (ArithOp::Add, Value::Str(_)) => {
            return Err(Exc::type_error(format!("can only concatenate str (not \"{}\") to str", type_name(b))))
        }
        (ArithOp::Add, Value::List(_)) => {
            return Err(Exc::type_error(format!("can only concatenate list (not \"{}\") to list", type_name(b))))
        }
        (ArithOp::Add, Value::Tuple(_)) => {
            return Err(Exc::type_error(format!("can only concatenate tuple (not \"{}\") to tuple", type_name(b))))
        }
        (ArithOp::Mul, Value::Str(_) | Value::List(_) | Value::Tuple(_) | Value::Bytes(_)) => {
            if !matches!(b, Value::Instance(_)) {
                return Err(Exc::type_error(format!("can't multiply sequence by non-int of type '{}'", type_name(b))));
            }
        }
        (ArithOp::Mul, _) if matches!(b, Value::Str(_) | Value::List(_) | Value::Tuple(_) | Value::Bytes(_)) => {
            if !matches!(a, Value::Instance(_)) {
                return Err(Exc::type_error(format!("can't multiply sequence by non-int of type '{}'", type_name(a))));
            }
        }
        _ => {}
    }
    Err(unsupported(op, a, b))
}

fn repeat(vm: &mut Vm, seq: &Value, n: &Value) -> VmResult<Value> {
    Ok(match seq {
        Value::Str(s) => {
            let k = repeat_count(vm, n, s.s.len())?;
            Value::str(s.s.repeat(k))
        }
        Value::Bytes(b) => {
            let k = repeat_count(vm, n, b.len())?;
            Value::Bytes(Rc::new(b.repeat(k)))
        }
        Value::List(l) => {
            let items = l.borrow().clone();
            let k = repeat_count(vm, n, items.len())?;
            let mut v = Vec::with_capacity(items.len() * k);
            for _ in 0..k {
                v.extend(items.iter().cloned());
            }
            Value::list(v)
        }
        Value::Tuple(t) => {
            let k = repeat_count(vm, n, t.len())?;
            let mut v = Vec::with_capacity(t.len() * k);
            for _ in 0..k {
                v.extend(t.iter().cloned());
            }
            Value::tuple(v)
        }
        _ => unreachable!(),
    })
}

/// `a op= b` with `a` owned: may mutate a list in place (`+=` extends), or append to a string
/// buffer that nobody else references.
pub fn arith_inplace(vm: &mut Vm, op: ArithOp, a: Value, b: &Value) -> VmResult<Value> {
    match (op, a, b) {
        (ArithOp::Add, Value::Str(mut rc), Value::Str(y)) => {
            if let Some(so) = Rc::get_mut(&mut rc) {
                check_size(vm, so.s.len() + y.s.len())?;
                so.s.push_str(&y.s);
                so.hash.set(0);
                return Ok(Value::Str(rc));
            }
            let a = Value::Str(rc);
            arith(vm, op, &a, b)
        }
        (ArithOp::Add, Value::List(l), _) if !matches!(b, Value::Instance(_)) => {
            let items = match b {
                Value::List(y) if Rc::ptr_eq(&l, y) => l.borrow().clone(),
                _ => collect(vm, b)?,
            };
            let mut lb = l.borrow_mut();
            check_size(vm, lb.len() + items.len())?;
            lb.extend(items);
            drop(lb);
            Ok(Value::List(l))
        }
        (ArithOp::Mul, Value::List(l), n) if is_intlike(n) => {
            let items = l.borrow().clone();
            let k = repeat_count(vm, n, items.len())?;
            let mut lb = l.borrow_mut();
            lb.clear();
            for _ in 0..k {
                lb.extend(items.iter().cloned());
            }
            drop(lb);
            Ok(Value::List(l))
        }
        (ArithOp::BitOr | ArithOp::BitAnd | ArithOp::Sub | ArithOp::BitXor, Value::Set(s), _) if set_like(b).is_some() => {
            let other = set_like(b).unwrap_or_default();
            let r = set_op(op, &s.borrow(), &other);
            *s.borrow_mut() = r;
            Ok(Value::Set(s))
        }
        (ArithOp::BitOr, Value::Dict(d), Value::Dict(y)) => {
            let items: Vec<(HKey, Value)> = y.borrow().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            let mut db = d.borrow_mut();
            for (k, v) in items {
                db.insert(k, v);
            }
            drop(db);
            Ok(Value::Dict(d))
        }
        (_, a @ Value::Instance(_), _) => {
            let (_, _, iname) = arith_dunders(op);
            if let Some(r) = call_dunder(vm, &a, iname, &[b.clone()])? {
                if !is_not_implemented(&r) {
                    return Ok(r);
                }
            }
            arith(vm, op, &a, b)
        }
        (_, a, _) => arith(vm, op, &a, b),
    }
}

pub fn neg(vm: &mut Vm, v: &Value) -> VmResult<Value> {
    match v {
        Value::Int(i) => Ok(match i.checked_neg() {
            Some(r) => Value::Int(r),
            None => Value::from_bigint(-BigInt::from(*i)),
        }),
        Value::Bool(b) => Ok(Value::Int(-(*b as i64))),
        Value::Float(f) => Ok(Value::Float(-f)),
        Value::BigInt(b) => Ok(Value::from_bigint(-(**b).clone())),
        _ => match call_dunder(vm, v, "__neg__", &[])? {
            Some(r) => Ok(r),
            None => Err(Exc::type_error(format!("bad operand type for unary -: '{}'", type_name(v)))),
        },
    }
}

pub fn pos(vm: &mut Vm, v: &Value) -> VmResult<Value> {
    match v {
        Value::Int(_) | Value::Float(_) | Value::BigInt(_) => Ok(v.clone()),
        Value::Bool(b) => Ok(Value::Int(*b as i64)),
        _ => match call_dunder(vm, v, "__pos__", &[])? {
            Some(r) => Ok(r),
            None => Err(Exc::type_error(format!("bad operand type for unary +: '{}'", type_name(v)))),
        },
    }
}

pub fn invert(vm: &mut Vm, v: &Value) -> VmResult<Value> {
    match v {
        Value::Int(i) => Ok(Value::Int(!i)),
        Value::Bool(b) => Ok(Value::Int(!(*b as i64))),
        Value::BigInt(b) => Ok(Value::from_bigint(-(**b).clone() - 1)),
        _ => match call_dunder(vm, v, "__invert__", &[])? {
            Some(r) => Ok(r),
            None => Err(Exc::type_error(format!("bad operand type for unary ~: '{}'", type_name(v)))),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Comparison.

/// `a op b` for ordering and equality; returns Python's truth of the result.
pub fn compare(vm: &mut Vm, op: CmpOp, a: &Value, b: &Value) -> VmResult<bool> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => return Ok(op.test(x.cmp(y))),
        (Value::Float(x), Value::Float(y)) => {
            return Ok(match x.partial_cmp(y) {
                Some(o) => op.test(o),
                None => op == CmpOp::Ne,
            })
        }
        (Value::Str(x), Value::Str(y)) => return Ok(op.test(x.s.as_str().cmp(y.s.as_str()))),
        _ => {}
    }
    match op {
        CmpOp::Eq => return eq(vm, a, b),
        CmpOp::Ne => {
            if let Value::Instance(_) = a {
                if let Some(r) = call_dunder(vm, a, "__ne__", &[b.clone()])? {
                    if !is_not_implemented(&r) {
                        return truthy(vm, &r);
                    }
                }
            }
            return Ok(!eq(vm, a, b)?);
        }
        _ => {}
    }
    if let (Some(x), Some(y)) = (num_of(a), num_of(b)) {
        return Ok(match lib_num::num_cmp(&x, &y) {
            Some(o) => op.test(o),
            None => false,
        });
    }
    match (a, b) {
        (Value::List(x), Value::List(y)) => {
            let (x, y) = (x.borrow().clone(), y.borrow().clone());
            return seq_cmp(vm, op, &x, &y);
        }
        (Value::Tuple(x), Value::Tuple(y)) => {
            let (x, y) = (x.clone(), y.clone());
            return seq_cmp(vm, op, &x, &y);
        }
        (Value::Bytes(x), Value::Bytes(y)) => return Ok(op.test(x.as_slice().cmp(y.as_slice()))),
        _ => {}
    }
    if let (Some(x), Some(y)) = (set_like(a), set_like(b)) {
        let sub = |p: &Set, q: &Set| p.iter().all(|k| q.contains(k));
        return Ok(match op {
            CmpOp::Le => sub(&x, &y),
            CmpOp::Lt => x.len() < y.len() && sub(&x, &y),
            CmpOp::Ge => sub(&y, &x),
            _ => y.len() < x.len() && sub(&y, &x),
        });
    }
    if matches!(a, Value::Instance(_)) {
        if let Some(r) = call_dunder(vm, a, op.dunder(), &[b.clone()])? {
            if !is_not_implemented(&r) {
                return truthy(vm, &r);
            }
        }
    }
    if matches!(b, Value::Instance(_)) {
        if let Some(r) = call_dunder(vm, b, op.swapped().dunder(), &[a.clone()])? {
            if !is_not_implemented(&r) {
                return truthy(vm, &r);
            }
        }
    }
    if let (Value::Object(x), Value::Object(y)) = (a, b) {
        if x.type_name() == y.type_name() {
            let lt = |p: &Rc<Box<dyn NativeObject>>, q: &Rc<Box<dyn NativeObject>>| p.lt(q.as_ref().as_ref());
            let r = match op {
                CmpOp::Lt => lt(x, y),
                CmpOp::Gt => lt(y, x),
                CmpOp::Le => lt(y, x).map(|r| !r),
                _ => lt(x, y).map(|r| !r),
            };
            if let Some(r) = r {
                return Ok(r);
            }
        }
    }
    Err(Exc::type_error(format!(
        "'{}' not supported between instances of '{}' and '{}'",
        op.symbol(),
        type_name(a),
        type_name(b)
    )))
}

fn seq_cmp(vm: &mut Vm, op: CmpOp, x: &[Value], y: &[Value]) -> VmResult<bool> {
    let _g = nest(" in comparison")?;
    for (p, q) in x.iter().zip(y.iter()) {
        if !eq(vm, p, q)? {
            return compare(vm, op, p, q);
        }
    }
    Ok(op.test(x.len().cmp(&y.len())))
}

/// `a < b` (used by sorting, `min`, `max`).
pub fn lt(vm: &mut Vm, a: &Value, b: &Value) -> VmResult<bool> {
    compare(vm, CmpOp::Lt, a, b)
}

/// `a == b`.
pub fn eq(vm: &mut Vm, a: &Value, b: &Value) -> VmResult<bool> {
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => Rc::ptr_eq(x, y) || x.s == y.s,
        (Value::None, Value::None) => true,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            if Rc::ptr_eq(x, y) {
                return Ok(true);
            }
            if x.borrow().len() != y.borrow().len() {
                return Ok(false);
            }
            let (x, y) = (x.borrow().clone(), y.borrow().clone());
            seq_eq(vm, &x, &y)?
        }
        (Value::Tuple(x), Value::Tuple(y)) => {
            if Rc::ptr_eq(x, y) {
                return Ok(true);
            }
            x.len() == y.len() && seq_eq(vm, x, y)?
        }
        (Value::Dict(x), Value::Dict(y)) => {
            if Rc::ptr_eq(x, y) {
                return Ok(true);
            }
            if x.borrow().len() != y.borrow().len() {
                return Ok(false);
            }
            let _g = nest(" in comparison")?;
            let items: Vec<(HKey, Value)> = x.borrow().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            for (k, v) in items {
                let other = y.borrow().get(&k).cloned();
                match other {
                    Some(w) => {
                        if !eq(vm, &v, &w)? {
                            return Ok(false);
                        }
                    }
                    None => return Ok(false),
                }
            }
            true
        }
        (Value::Set(_) | Value::FrozenSet(_), Value::Set(_) | Value::FrozenSet(_)) => {
            let (x, y) = (set_like(a).unwrap_or_default(), set_like(b).unwrap_or_default());
            x.len() == y.len() && x.iter().all(|k| y.contains(k))
        }
        (Value::Range(x), Value::Range(y)) => {
            let (lx, ly) = (range_len(x), range_len(y));
            lx == ly && (lx == 0 || (x.start == y.start && (lx == 1 || x.step == y.step)))
        }
        (Value::Instance(_), _) | (_, Value::Instance(_)) => {
            if let Value::Instance(_) = a {
                if let Some(r) = call_dunder(vm, a, "__eq__", &[b.clone()])? {
                    if !is_not_implemented(&r) {
                        return truthy(vm, &r);
                    }
                }
            }
            if let Value::Instance(_) = b {
                if let Some(r) = call_dunder(vm, b, "__eq__", &[a.clone()])? {
                    if !is_not_implemented(&r) {
                        return truthy(vm, &r);
                    }
                }
            }
            is(a, b)
        }
        (Value::Object(_), Value::Object(_)) if as_view(a).is_some() && as_view(b).is_some() => {
            let (x, y) = (as_view(a).map(|v| v.snapshot()), as_view(b).map(|v| v.snapshot()));
            let (x, y) = (x.unwrap_or_default(), y.unwrap_or_default());
            x.len() == y.len() && seq_eq(vm, &x, &y)?
        }
        (Value::BoundMethod(x), Value::BoundMethod(y)) => is(&x.receiver, &y.receiver) && is(&x.func, &y.func),
        _ => crate::value::key_eq(a, b),
    })
}

fn seq_eq(vm: &mut Vm, x: &[Value], y: &[Value]) -> VmResult<bool> {
    let _g = nest(" in comparison")?;
    if x.len() != y.len() {
        return Ok(false);
    }
    for (p, q) in x.iter().zip(y.iter()) {
        if !(is(p, q) || eq(vm, p, q)?) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `a is b`.
pub fn is(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::None, Value::None) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Str(x), Value::Str(y)) => Rc::ptr_eq(x, y) || (x.s.len() <= 1 && x.s == y.s),
        _ => {
            if std::mem::discriminant(a) != std::mem::discriminant(b) {
                return false;
            }
            let ia = crate::value::identity(a);
            ia != 0 && ia == crate::value::identity(b)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Membership.

/// `item in container`.
pub fn contains(vm: &mut Vm, container: &Value, item: &Value) -> VmResult<bool> {
    match container {
        Value::Str(s) => match item {
            Value::Str(x) => Ok(s.s.contains(x.s.as_str())),
            _ => Err(Exc::type_error(format!(
                "'in <string>' requires string as left operand, not {}",
                type_name(item)
            ))),
        },
        Value::Dict(d) => {
            let k = dict_key(vm, d, item.clone())?;
            Ok(d.borrow().contains_key(&k))
        }
        Value::Set(s) => {
            let k = set_key_in(vm, s, item.clone())?;
            Ok(s.borrow().contains(&k))
        }
        Value::FrozenSet(s) => {
            let k = set_key(vm, s, item.clone())?;
            Ok(s.contains(&k))
        }
        Value::List(l) => {
            // Fast scan without calling user code, then the general path.
            let n = l.borrow().len();
            let mut i = 0;
            while i < n {
                let x = match l.borrow().get(i) {
                    Some(x) => x.clone(),
                    None => break,
                };
                if is(&x, item) || eq(vm, &x, item)? {
                    return Ok(true);
                }
                i += 1;
            }
            Ok(false)
        }
        Value::Tuple(t) => {
            for x in t.iter() {
                if is(x, item) || eq(vm, x, item)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Value::Range(r) => {
            let i = match item {
                Value::Int(i) => *i,
                Value::Bool(b) => *b as i64,
                Value::Float(f) if f.fract() == 0.0 && f.is_finite() => *f as i64,
                _ => return Ok(false),
            };
            Ok(range_index_of(r, i).is_some())
        }
        Value::Bytes(b) => match item {
            Value::Int(i) => Ok(*i >= 0 && *i < 256 && b.contains(&(*i as u8))),
            Value::Bytes(x) => Ok(x.is_empty() || b.windows(x.len()).any(|w| w == x.as_slice())),
            _ => Err(Exc::type_error(format!(
                "a bytes-like object is required, not '{}'",
                type_name(item)
            ))),
        },
        Value::Instance(_) => {
            if let Some(r) = call_dunder(vm, container, "__contains__", &[item.clone()])? {
                return truthy(vm, &r);
            }
            if has_dunder(container, "__iter__") || has_dunder(container, "__getitem__") {
                return contains_by_iter(vm, container, item);
            }
            Err(Exc::type_error(format!("argument of type '{}' is not iterable", type_name(container))))
        }
        Value::Iter(_) => contains_by_iter(vm, container, item),
        Value::Object(_) => {
            if let Some(view) = as_view(container) {
                if view.kind == ViewKind::Keys {
                    let k = hkey(vm, item.clone())?;
                    return Ok(view.dict.borrow().contains_key(&k));
                }
                return contains_by_iter(vm, container, item);
            }
            Err(Exc::type_error(format!("argument of type '{}' is not iterable", type_name(container))))
        }
        _ => Err(Exc::type_error(format!("argument of type '{}' is not iterable", type_name(container)))),
    }
}

fn contains_by_iter(vm: &mut Vm, container: &Value, item: &Value) -> VmResult<bool> {
    let it = iter(vm, container)?;
    while let Some(x) = next(vm, &it)? {
        if is(&x, item) || eq(vm, &x, item)? {
            return Ok(true);
        }
    }
    Ok(false)
}

// ---------------------------------------------------------------------------------------------
// Subscripts and slices.

pub fn range_len(r: &RangeObj) -> usize {
    let (start, stop, step) = (r.start as i128, r.stop as i128, r.step as i128);
    let n = if step > 0 && start < stop {
        (stop - start - 1) / step + 1
    } else if step < 0 && start > stop {
        (start - stop - 1) / (-step) + 1
    } else {
        0
    };
    n as usize
}

fn range_index_of(r: &RangeObj, i: i64) -> Option<usize> {
    let (start, step) = (r.start as i128, r.step as i128);
    let d = i as i128 - start;
    if d % step != 0 {
        return None;
    }
    let k = d / step;
    if k < 0 || k as usize >= range_len(r) {
        return None;
    }
    Some(k as usize)
}

pub fn range_get(r: &RangeObj, k: usize) -> i64 {
    (r.start as i128 + k as i128 * r.step as i128) as i64
}

/// An index value as i64 (`None` when the value is not an integer).
fn index_of(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Bool(b) => Some(*b as i64),
        Value::BigInt(b) => Some(if b.sign() == num_bigint::Sign::Minus { i64::MIN } else { i64::MAX }),
        _ => None,
    }
}

/// Normalise `i` for a sequence of length `len`; `None` when out of range.
#[inline]
fn norm_index(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { i.checked_add(len as i64)? } else { i };
    if i < 0 || i as usize >= len {
        None
    } else {
        Some(i as usize)
    }
}

/// `(start, step, count)` of a slice applied to a sequence of length `len`.
pub fn slice_indices(sl: &SliceObj, len: usize) -> VmResult<(i64, i64, usize)> {
    let get = |v: &Value| -> VmResult<Option<i64>> {
        match v {
            Value::None => Ok(None),
            other => index_of(other).map(Some).ok_or_else(|| {
                Exc::type_error("slice indices must be integers or None or have an __index__ method")
            }),
        }
    };
    let step = get(&sl.step)?.unwrap_or(1);
    if step == 0 {
        return Err(Exc::value_error("slice step cannot be zero"));
    }
    let len = len as i64;
    let adjust = |v: Option<i64>, default: i64| -> i64 {
        match v {
            None => default,
            Some(mut x) => {
                if x < 0 {
                    x = x.saturating_add(len);
                    if x < 0 {
                        x = if step < 0 { -1 } else { 0 };
                    }
                } else if x >= len {
                    x = if step < 0 { len - 1 } else { len };
                }
                x
            }
        }
    };
    let start = adjust(get(&sl.lo)?, if step < 0 { len - 1 } else { 0 });
    let stop = adjust(get(&sl.hi)?, if step < 0 { -1 } else { len });
    let count = if step < 0 {
        if stop < start {
            ((start - stop - 1) / (-step) + 1) as usize
        } else {
            0
        }
    } else if start < stop {
        ((stop - start - 1) / step + 1) as usize
    } else {
        0
    };
    Ok((start, step, count))
}

fn slice_vec<T: Clone>(items: &[T], start: i64, step: i64, count: usize) -> Vec<T> {
    if step == 1 {
        let s = start as usize;
        return items[s..s + count].to_vec();
    }
    let mut out = Vec::with_capacity(count);
    let mut i = start;
    for _ in 0..count {
        out.push(items[i as usize].clone());
        i += step;
    }
    out
}

fn bad_index_type(container: &str, key: &Value) -> Exc {
    Exc::type_error(format!(
        "{} indices must be integers or slices, not {}",
        container,
        type_name(key)
    ))
}

/// The code point at index `i` of `s` (an ASCII fast path, then a scan).
pub fn str_index(s: &str, i: i64) -> VmResult<Value> {
    if s.is_ascii() {
        return match norm_index(i, s.len()) {
            Some(k) => Ok(Value::str(&s[k..k + 1])),
            None => Err(Exc::index_error("string index out of range")),
        };
    }
    let n = s.chars().count();
    match norm_index(i, n) {
        Some(k) => {
            let c = s.chars().nth(k).unwrap_or(' ');
            Ok(Value::str(c.to_string()))
        }
        None => Err(Exc::index_error("string index out of range")),
    }
}

/// `obj[key]` (key may be a slice built by `make_slice`).
pub fn get_item(vm: &mut Vm, obj: &Value, key: &Value) -> VmResult<Value> {
    match obj {
        Value::List(l) => {
            if let Some(i) = index_of(key) {
                let l = l.borrow();
                return match norm_index(i, l.len()) {
                    Some(k) => Ok(l[k].clone()),
                    None => Err(Exc::index_error("list index out of range")),
                };
            }
            if let Some(sl) = as_slice(key) {
                let l = l.borrow();
                let (start, step, count) = slice_indices(sl, l.len())?;
                return Ok(Value::list(slice_vec(&l, start, step, count)));
            }
            Err(bad_index_type("list", key))
        }
        Value::Dict(d) => {
            if let Value::Str(_) | Value::Int(_) = key {
                if let Some(v) = d.borrow().get(&HKey(key.clone())) {
                    return Ok(v.clone());
                }
                return Err(key_error(vm, key.clone()));
            }
            let k = dict_key(vm, d, key.clone())?;
            let found = d.borrow().get(&k).cloned();
            match found {
                Some(v) => Ok(v),
                None => Err(key_error(vm, key.clone())),
            }
        }
        Value::Tuple(t) => {
            if let Some(i) = index_of(key) {
                return match norm_index(i, t.len()) {
                    Some(k) => Ok(t[k].clone()),
                    None => Err(Exc::index_error("tuple index out of range")),
                };
            }
            if let Some(sl) = as_slice(key) {
                let (start, step, count) = slice_indices(sl, t.len())?;
                return Ok(Value::tuple(slice_vec(t, start, step, count)));
            }
            Err(bad_index_type("tuple", key))
        }
        Value::Str(s) => {
            if let Some(i) = index_of(key) {
                return str_index(&s.s, i);
            }
            if let Some(sl) = as_slice(key) {
                if s.s.is_ascii() {
                    let (start, step, count) = slice_indices(sl, s.s.len())?;
                    if step == 1 {
                        let st = start as usize;
                        return Ok(Value::str(&s.s[st..st + count]));
                    }
                    let b = slice_vec(s.s.as_bytes(), start, step, count);
                    return Ok(Value::str(String::from_utf8(b).unwrap_or_default()));
                }
                let chars: Vec<char> = s.s.chars().collect();
                let (start, step, count) = slice_indices(sl, chars.len())?;
                return Ok(Value::str(slice_vec(&chars, start, step, count).into_iter().collect::<String>()));
            }
            Err(Exc::type_error(format!("string indices must be integers, not '{}'", type_name(key))))
        }
        Value::Bytes(b) => {
            if let Some(i) = index_of(key) {
                return match norm_index(i, b.len()) {
                    Some(k) => Ok(Value::Int(b[k] as i64)),
                    None => Err(Exc::index_error("index out of range")),
                };
            }
            if let Some(sl) = as_slice(key) {
                let (start, step, count) = slice_indices(sl, b.len())?;
                return Ok(Value::Bytes(Rc::new(slice_vec(b, start, step, count))));
            }
            Err(Exc::type_error(format!(
                "byte indices must be integers or slices, not {}",
                type_name(key)
            )))
        }
        Value::Range(r) => {
            if let Some(i) = index_of(key) {
                return match norm_index(i, range_len(r)) {
                    Some(k) => Ok(Value::Int(range_get(r, k))),
                    None => Err(Exc::index_error("range object index out of range")),
                };
            }
            if let Some(sl) = as_slice(key) {
                let (start, step, count) = slice_indices(sl, range_len(r))?;
                let new_start = r.start as i128 + start as i128 * r.step as i128;
                let new_step = r.step as i128 * step as i128;
                let new_stop = new_start + count as i128 * new_step;
                let clamp = |x: i128| x.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
                return Ok(Value::Range(Rc::new(RangeObj {
                    start: clamp(new_start),
                    stop: clamp(new_stop),
                    step: clamp(new_step),
                })));
            }
            Err(bad_index_type("range", key))
        }
        Value::Instance(_) => match call_dunder(vm, obj, "__getitem__", &[key.clone()])? {
            Some(v) => Ok(v),
            None => Err(Exc::type_error(format!("'{}' object is not subscriptable", type_name(obj)))),
        },
        Value::Class(c) => {
            if c.builtin.is_some() {
                // `list[int]` in annotations: the class itself is good enough.
                return Ok(obj.clone());
            }
            Err(Exc::type_error(format!("'type' object is not subscriptable")))
        }
        Value::Object(o) => {
            if let Some(f) = o.get_attr(vm, obj, "__getitem__")? {
                return vm.call_value(&f, &[key.clone()], &[]);
            }
            Err(Exc::type_error(format!("'{}' object is not subscriptable", type_name(obj))))
        }
        _ => Err(Exc::type_error(format!("'{}' object is not subscriptable", type_name(obj)))),
    }
}

pub fn set_item(vm: &mut Vm, obj: &Value, key: &Value, value: Value) -> VmResult<()> {
    match obj {
        Value::Dict(d) => {
            if let Value::Str(_) | Value::Int(_) = key {
                d.borrow_mut().insert(HKey(key.clone()), value);
                return Ok(());
            }
            let k = dict_key(vm, d, key.clone())?;
            d.borrow_mut().insert(k, value);
            Ok(())
        }
        Value::List(l) => {
            if let Some(i) = index_of(key) {
                let mut lb = l.borrow_mut();
                let n = lb.len();
                return match norm_index(i, n) {
                    Some(k) => {
                        lb[k] = value;
                        Ok(())
                    }
                    None => Err(Exc::index_error("list assignment index out of range")),
                };
            }
            if let Some(sl) = as_slice(key) {
                let items = collect(vm, &value).map_err(|e| {
                    if exc_is(vm, &e, ExcKind::TypeError) {
                        Exc::type_error("can only assign an iterable")
                    } else {
                        e
                    }
                })?;
                let n = l.borrow().len();
                let (start, step, count) = slice_indices(sl, n)?;
                let mut lb = l.borrow_mut();
                if step == 1 {
                    let st = start as usize;
                    lb.splice(st..st + count, items);
                    return Ok(());
                }
                if items.len() != count {
                    return Err(Exc::value_error(format!(
                        "attempt to assign sequence of size {} to extended slice of size {}",
                        items.len(),
                        count
                    )));
                }
                let mut i = start;
                for it in items {
                    lb[i as usize] = it;
                    i += step;
                }
                return Ok(());
            }
            Err(bad_index_type("list", key))
        }
        Value::Instance(_) => match call_dunder(vm, obj, "__setitem__", &[key.clone(), value])? {
            Some(_) => Ok(()),
            None => Err(Exc::type_error(format!("'{}' object does not support item assignment", type_name(obj)))),
        },
        _ => Err(Exc::type_error(format!("'{}' object does not support item assignment", type_name(obj)))),
    }
}

pub fn del_item(vm: &mut Vm, obj: &Value, key: &Value) -> VmResult<()> {
    match obj {
        Value::Dict(d) => {
            let k = dict_key(vm, d, key.clone())?;
            let removed = d.borrow_mut().shift_remove(&k);
            match removed {
                Some(_) => Ok(()),
                None => Err(key_error(vm, key.clone())),
            }
        }
        Value::List(l) => {
            if let Some(i) = index_of(key) {
                let mut lb = l.borrow_mut();
                let n = lb.len();
                return match norm_index(i, n) {
                    Some(k) => {
                        lb.remove(k);
                        Ok(())
                    }
                    None => Err(Exc::index_error("list assignment index out of range")),
                };
            }
            if let Some(sl) = as_slice(key) {
                let n = l.borrow().len();
                let (start, step, count) = slice_indices(sl, n)?;
                let mut lb = l.borrow_mut();
                if step == 1 {
                    let st = start as usize;
                    lb.drain(st..st + count);
                    return Ok(());
                }
                let mut idx: Vec<usize> = (0..count).map(|k| (start + k as i64 * step) as usize).collect();
                idx.sort_unstable();
                for k in idx.into_iter().rev() {
                    lb.remove(k);
                }
                return Ok(());
            }
            Err(bad_index_type("list", key))
        }
        Value::Instance(_) => match call_dunder(vm, obj, "__delitem__", &[key.clone()])? {
            Some(_) => Ok(()),
            None => Err(Exc::type_error(format!("'{}' object does not support item deletion", type_name(obj)))),
        },
        _ => Err(Exc::type_error(format!("'{}' object doesn't support item deletion", type_name(obj)))),
    }
}

/// Build a slice object for `obj[lo:hi:step]` (each part may be `None`).
pub fn make_slice(lo: Value, hi: Value, step: Value) -> Value {
    Value::Object(Rc::new(Box::new(SliceObj { lo, hi, step })))
}

// ---------------------------------------------------------------------------------------------
// Attributes.

/// Bind a value found on a class to an instance (functions become bound methods).
fn bind(vm: &mut Vm, found: Value, receiver: &Value) -> VmResult<Value> {
    if let Value::Native(_) = &found {
        if crate::code::staticmethod_func(&found).is_some() || crate::code::property_getter(&found).is_some() {
            return crate::lib_glue::bind_descriptor(vm, found, receiver);
        }
    }
    match found {
        Value::Function(_) | Value::Native(_) => {
            if let Value::Native(n) = &found {
                if n.bound.is_some() {
                    return Ok(found);
                }
            }
            Ok(Value::BoundMethod(Rc::new(BoundMethod { receiver: receiver.clone(), func: found })))
        }
        other => crate::lib_glue::bind_descriptor(vm, other, receiver),
    }
}

/// `obj.name` (binds methods: instance methods become `BoundMethod`, built-in methods bound
/// `Native`s).
pub fn get_attr(vm: &mut Vm, obj: &Value, name: &str) -> VmResult<Value> {
    match obj {
        Value::Instance(inst) => {
            if let Some(v) = inst.attrs.borrow().get(name) {
                return Ok(v.clone());
            }
            if let Some(v) = inst.class.lookup(name) {
                return bind(vm, v, obj);
            }
            match name {
                "__class__" => return Ok(Value::Class(inst.class.clone())),
                "__dict__" => {
                    let d: Dict = inst
                        .attrs
                        .borrow()
                        .iter()
                        .map(|(k, v)| (HKey(Value::str(k.to_string())), v.clone()))
                        .collect();
                    return Ok(Value::dict(d));
                }
                "args" if crate::format::exc_kind_of_class(&inst.class).is_some() => {
                    return Ok(Value::tuple(Vec::new()));
                }
                _ => {}
            }
            if let Some(f) = inst.class.lookup("__getattr__") {
                return vm.call_value(&f, &[obj.clone(), Value::str(name)], &[]);
            }
            Err(Exc::attribute_error(format!(
                "'{}' object has no attribute '{}'",
                inst.class.name.s, name
            )))
        }
        Value::Class(c) => class_attr(vm, c, name),
        Value::Module(m) => {
            // An `extend`ed module is a live namespace: read its global slot.
            if let Some(r) = crate::interp::module_global(vm, m, name) {
                return match r {
                    Some(v) => Ok(v),
                    None => Err(Exc::attribute_error(format!("module '{}' has no attribute '{}'", m.name, name))),
                };
            }
            if let Some(v) = m.attrs.borrow().get(name) {
                return Ok(v.clone());
            }
            if name == "__name__" {
                return Ok(Value::str(m.name.to_string()));
            }
            Err(Exc::attribute_error(format!("module '{}' has no attribute '{}'", m.name, name)))
        }
        Value::Object(o) => {
            if let Some(v) = o.get_attr(vm, obj, name)? {
                return Ok(v);
            }
            if let Some(v) = crate::methods::builtin_method_value(obj, name) {
                return Ok(v);
            }
            Err(Exc::attribute_error(format!("'{}' object has no attribute '{}'", o.type_name(), name)))
        }
        _ => {
            if let Some(v) = crate::methods::builtin_method_value(obj, name) {
                return Ok(v);
            }
            if let Some(v) = value_attr(vm, obj, name)? {
                return Ok(v);
            }
            Err(Exc::attribute_error(format!("'{}' object has no attribute '{}'", type_name(obj), name)))
        }
    }
}

/// Non-method attributes of built-in values.
fn value_attr(vm: &mut Vm, obj: &Value, name: &str) -> VmResult<Option<Value>> {
    Ok(match (obj, name) {
        (_, "__class__") => Some(crate::builtins::type_of(vm, obj)),
        (Value::Int(_) | Value::BigInt(_) | Value::Bool(_), "real" | "numerator") => Some(pos(vm, obj)?),
        (Value::Int(_) | Value::BigInt(_) | Value::Bool(_), "imag") => Some(Value::Int(0)),
        (Value::Int(_) | Value::BigInt(_) | Value::Bool(_), "denominator") => Some(Value::Int(1)),
        (Value::Float(f), "real") => Some(Value::Float(*f)),
        (Value::Float(_), "imag") => Some(Value::Float(0.0)),
        (Value::Range(r), "start") => Some(Value::Int(r.start)),
        (Value::Range(r), "stop") => Some(Value::Int(r.stop)),
        (Value::Range(r), "step") => Some(Value::Int(r.step)),
        (Value::Function(_) | Value::Native(_) | Value::BoundMethod(_), "__name__" | "__qualname__") => {
            Some(Value::str(function_name(obj)))
        }
        (Value::BoundMethod(b), "__self__") => Some(b.receiver.clone()),
        (Value::BoundMethod(b), "__func__") => Some(b.func.clone()),
        (Value::Function(_), _) => crate::lib_glue::function_attr(vm, obj, name)?,
        _ => None,
    })
}

fn class_attr(vm: &mut Vm, c: &Rc<Class>, name: &str) -> VmResult<Value> {
    if let Some(v) = c.lookup(name) {
        return crate::lib_glue::class_get(vm, v, c);
    }
    match name {
        "__name__" | "__qualname__" => return Ok(Value::Str(c.name.clone())),
        "__base__" => {
            return Ok(match &c.base {
                Some(b) => Value::Class(b.clone()),
                None => crate::builtins::object_class(vm),
            })
        }
        "__bases__" => {
            return Ok(Value::tuple(vec![match &c.base {
                Some(b) => Value::Class(b.clone()),
                None => crate::builtins::object_class(vm),
            }]))
        }
        "__mro__" => {
            let mut v = Vec::new();
            let mut cur = Some(c.clone());
            while let Some(k) = cur {
                v.push(Value::Class(k.clone()));
                cur = k.base.clone();
            }
            if !matches!(c.builtin, Some(crate::value::BuiltinType::Object)) {
                v.push(crate::builtins::object_class(vm));
            }
            return Ok(Value::tuple(v));
        }
        "__module__" => return Ok(Value::str(if c.builtin.is_some() { "builtins" } else { "__main__" })),
        "__dict__" => {
            let d: Dict =
                c.attrs.borrow().iter().map(|(k, v)| (HKey(Value::str(k.to_string())), v.clone())).collect();
            return Ok(Value::dict(d));
        }
        _ => {}
    }
    if let Some(ty) = c.builtin {
        if let Some(v) = crate::methods::builtin_type_attr(ty, name) {
            return Ok(v);
        }
    }
    Err(Exc::attribute_error(format!("type object '{}' has no attribute '{}'", c.name.s, name)))
}

pub fn set_attr(vm: &mut Vm, obj: &Value, name: &str, value: Value) -> VmResult<()> {
    match obj {
        Value::Instance(inst) => {
            if let Some(r) = crate::lib_glue::set_descriptor(vm, &inst.class, obj, name, &value)? {
                return Ok(r);
            }
            inst.attrs.borrow_mut().insert(Rc::from(name), value);
            Ok(())
        }
        Value::Class(c) => {
            c.attrs.borrow_mut().insert(Rc::from(name), value);
            Ok(())
        }
        Value::Module(m) => {
            crate::interp::set_module_global(vm, m, name, &value);
            m.attrs.borrow_mut().insert(Rc::from(name), value);
            Ok(())
        }
        Value::Object(o) => {
            if o.set_attr(vm, name, value)? {
                return Ok(());
            }
            Err(Exc::attribute_error(format!("'{}' object has no attribute '{}'", o.type_name(), name)))
        }
        Value::Function(_) => {
            if crate::lib_glue::set_function_attr(vm, obj, name, value)? {
                return Ok(());
            }
            Err(Exc::attribute_error(format!("'function' object has no attribute '{}'", name)))
        }
        _ => {
            if crate::methods::builtin_method_value(obj, name).is_some() {
                return Err(Exc::attribute_error(format!(
                    "'{}' object attribute '{}' is read-only",
                    type_name(obj),
                    name
                )));
            }
            Err(Exc::attribute_error(format!("'{}' object has no attribute '{}'", type_name(obj), name)))
        }
    }
}

pub fn del_attr(vm: &mut Vm, obj: &Value, name: &str) -> VmResult<()> {
    let _ = vm;
    let removed = match obj {
        Value::Instance(inst) => inst.attrs.borrow_mut().shift_remove(name).is_some(),
        Value::Class(c) => c.attrs.borrow_mut().shift_remove(name).is_some(),
        Value::Module(m) => m.attrs.borrow_mut().shift_remove(name).is_some(),
        _ => false,
    };
    if removed {
        Ok(())
    } else {
        Err(Exc::attribute_error(match obj {
            Value::Class(c) => format!("type object '{}' has no attribute '{}'", c.name.s, name),
            _ => format!("'{}' object has no attribute '{}'", type_name(obj), name),
        }))
    }
}

/// `obj.name(args...)` without allocating a bound method where possible.
pub fn call_method(vm: &mut Vm, obj: &Value, name: &str, args: &[Value], kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    match obj {
        Value::Instance(inst) => {
            let own = inst.attrs.borrow().get(name).cloned();
            if let Some(f) = own {
                return vm.call_value(&f, args, kw);
            }
            if let Some(f @ Value::Function(_)) = inst.class.lookup(name) {
                let mut full = Vec::with_capacity(args.len() + 1);
                full.push(obj.clone());
                full.extend_from_slice(args);
                return vm.call_value(&f, &full, kw);
            }
            let f = get_attr(vm, obj, name)?;
            vm.call_value(&f, args, kw)
        }
        Value::Class(_) | Value::Module(_) | Value::Object(_) | Value::Function(_) | Value::BoundMethod(_) => {
            if let Value::Object(_) = obj {
                if as_view(obj).is_some() {
                    if let Some(r) = crate::methods::call_builtin_method(vm, obj, name, args, kw)? {
                        return Ok(r);
                    }
                }
            }
            let f = get_attr(vm, obj, name)?;
            vm.call_value(&f, args, kw)
        }
        _ => match crate::methods::call_builtin_method(vm, obj, name, args, kw)? {
            Some(v) => Ok(v),
            None => {
                let f = get_attr(vm, obj, name)?;
                vm.call_value(&f, args, kw)
            }
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Iteration.

/// Iterates an instance through `__next__` (after `__iter__` returned a non-iterator value).
struct DunderNextIter {
    obj: Value,
}

impl NativeIter for DunderNextIter {
    fn next(&mut self, vm: &mut Vm) -> VmResult<Option<Value>> {
        match call_dunder(vm, &self.obj, "__next__", &[]) {
            Ok(Some(v)) => Ok(Some(v)),
            Ok(None) => Ok(None),
            Err(e) if exc_is(vm, &e, ExcKind::StopIteration) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Iterates an instance through `__getitem__(0), (1), ...` until IndexError.
struct GetItemIter {
    obj: Value,
    index: i64,
}

impl NativeIter for GetItemIter {
    fn next(&mut self, vm: &mut Vm) -> VmResult<Option<Value>> {
        match call_dunder(vm, &self.obj, "__getitem__", &[Value::Int(self.index)]) {
            Ok(v) => {
                self.index += 1;
                Ok(v)
            }
            Err(e) if exc_is(vm, &e, ExcKind::IndexError) || exc_is(vm, &e, ExcKind::StopIteration) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

pub fn new_iter(obj: IterObj) -> Value {
    Value::Iter(Rc::new(RefCell::new(obj)))
}

pub fn native_iter(it: impl NativeIter + 'static) -> Value {
    new_iter(IterObj::Native(crate::value::NativeBox::new(it)))
}

#[cold]
fn not_iterable(v: &Value) -> Exc {
    Exc::type_error(format!("'{}' object is not iterable", type_name(v)))
}

/// `iter(v)`: returns a `Value::Iter` (or the object itself for iterators / `__iter__` results).
pub fn iter(vm: &mut Vm, v: &Value) -> VmResult<Value> {
    Ok(match v {
        Value::List(l) => new_iter(IterObj::List { list: l.clone(), index: 0 }),
        Value::Tuple(t) => new_iter(IterObj::Tuple { tuple: t.clone(), index: 0 }),
        Value::Str(s) => new_iter(IterObj::Str { s: s.clone(), pos: 0 }),
        Value::Range(r) => new_iter(IterObj::Range { next: r.start, stop: r.stop, step: r.step }),
        Value::Dict(d) => {
            let keys: Vec<Value> = d.borrow().keys().map(|k| k.0.clone()).collect();
            new_iter(IterObj::Values { items: Rc::new(keys), index: 0 })
        }
        Value::Set(s) => {
            let keys = set_items(&s.borrow());
            new_iter(IterObj::Values { items: Rc::new(keys), index: 0 })
        }
        Value::FrozenSet(s) => {
            let keys = set_items(s);
            new_iter(IterObj::Values { items: Rc::new(keys), index: 0 })
        }
        Value::Bytes(b) => {
            let items: Vec<Value> = b.iter().map(|&c| Value::Int(c as i64)).collect();
            new_iter(IterObj::Values { items: Rc::new(items), index: 0 })
        }
        Value::Iter(_) => v.clone(),
        Value::Instance(_) => {
            if let Some(r) = call_dunder(vm, v, "__iter__", &[])? {
                match &r {
                    Value::Iter(_) => r,
                    Value::Instance(_) if has_dunder(&r, "__next__") => native_iter(DunderNextIter { obj: r }),
                    other => {
                        return Err(Exc::type_error(format!(
                            "iter() returned non-iterator of type '{}'",
                            type_name(other)
                        )))
                    }
                }
            } else if has_dunder(v, "__next__") {
                native_iter(DunderNextIter { obj: v.clone() })
            } else if has_dunder(v, "__getitem__") {
                native_iter(GetItemIter { obj: v.clone(), index: 0 })
            } else {
                return Err(not_iterable(v));
            }
        }
        Value::Object(o) => {
            if let Some(view) = as_view(v) {
                return Ok(new_iter(IterObj::Values { items: Rc::new(view.snapshot()), index: 0 }));
            }
            if let Some(f) = o.get_attr(vm, v, "__iter__")? {
                return vm.call_value(&f, &[], &[]);
            }
            return Err(not_iterable(v));
        }
        _ => return Err(not_iterable(v)),
    })
}

/// `next(it)`: `Ok(None)` when exhausted.
pub fn next(vm: &mut Vm, it: &Value) -> VmResult<Option<Value>> {
    match it {
        Value::Iter(cell) => {
            let mut b = cell.borrow_mut();
            match &mut *b {
                IterObj::List { list, index } => {
                    let l = list.borrow();
                    if *index < l.len() {
                        let v = l[*index].clone();
                        *index += 1;
                        Ok(Some(v))
                    } else {
                        drop(l);
                        *b = IterObj::Exhausted;
                        Ok(None)
                    }
                }
                IterObj::Tuple { tuple, index } => {
                    if *index < tuple.len() {
                        let v = tuple[*index].clone();
                        *index += 1;
                        Ok(Some(v))
                    } else {
                        *b = IterObj::Exhausted;
                        Ok(None)
                    }
                }
                IterObj::Str { s, pos } => match s.s[*pos..].chars().next() {
                    Some(c) => {
                        let n = c.len_utf8();
                        let v = Value::str(&s.s[*pos..*pos + n]);
                        *pos += n;
                        Ok(Some(v))
                    }
                    None => {
                        *b = IterObj::Exhausted;
                        Ok(None)
                    }
                },
                IterObj::Range { next, stop, step } => {
                    if (*step > 0 && *next < *stop) || (*step < 0 && *next > *stop) {
                        let v = *next;
                        match next.checked_add(*step) {
                            Some(n) => *next = n,
                            None => *next = *stop,
                        }
                        Ok(Some(Value::Int(v)))
                    } else {
                        Ok(None)
                    }
                }
                IterObj::Values { items, index } => {
                    if *index < items.len() {
                        let v = items[*index].clone();
                        *index += 1;
                        Ok(Some(v))
                    } else {
                        *b = IterObj::Exhausted;
                        Ok(None)
                    }
                }
                IterObj::Exhausted => Ok(None),
                IterObj::Native(_) => {
                    // Iterators of iterators (`map(f, map(f, ...))`) recurse here once per level.
                    let _g = nest("")?;
                    // Take the iterator out so that no borrow is held while it calls back into
                    // the VM.
                    let taken = std::mem::replace(&mut *b, IterObj::Exhausted);
                    drop(b);
                    let IterObj::Native(mut n) = taken else { return Ok(None) };
                    let r = n.next(vm);
                    let mut b = cell.borrow_mut();
                    if let IterObj::Exhausted = &*b {
                        if !matches!(r, Ok(None)) {
                            *b = IterObj::Native(n);
                        }
                    }
                    r
                }
            }
        }
        Value::Instance(_) => match call_dunder(vm, it, "__next__", &[]) {
            Ok(Some(v)) => Ok(Some(v)),
            Ok(None) => Err(Exc::type_error(format!("'{}' object is not an iterator", type_name(it)))),
            Err(e) if exc_is(vm, &e, ExcKind::StopIteration) => Ok(None),
            Err(e) => Err(e),
        },
        _ => Err(Exc::type_error(format!("'{}' object is not an iterator", type_name(it)))),
    }
}

/// Collect any iterable into a Vec.
pub fn collect(vm: &mut Vm, v: &Value) -> VmResult<Vec<Value>> {
    match v {
        Value::List(l) => Ok(l.borrow().clone()),
        Value::Tuple(t) => Ok(t.to_vec()),
        Value::Str(s) => {
            if s.s.is_ascii() {
                Ok((0..s.s.len()).map(|i| Value::str(&s.s[i..i + 1])).collect())
            } else {
                Ok(s.s.chars().map(|c| Value::str(c.to_string())).collect())
            }
        }
        Value::Range(r) => {
            let n = range_len(r);
            check_size(vm, n)?;
            Ok((0..n).map(|k| Value::Int(range_get(r, k))).collect())
        }
        Value::Dict(d) => Ok(d.borrow().keys().map(|k| k.0.clone()).collect()),
        Value::Set(s) => Ok(set_items(&s.borrow())),
        Value::FrozenSet(s) => Ok(set_items(s)),
        _ => {
            let it = iter(vm, v)?;
            let mut out = Vec::new();
            while let Some(x) = next(vm, &it)? {
                out.push(x);
                if out.len() > vm.limits.max_size {
                    return Err(Exc::limit(crate::error::LimitKind::Memory));
                }
            }
            Ok(out)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hashing and length.

/// CPython iterates a set in hash-table slot order. For sets of ints (whose hashes are the
/// values themselves) that order is reproducible: replay the insertions into a simulated CPython
/// table (same sizes, resizes and probe sequence), so that printing `{3, 1, 2}` shows
/// `{1, 2, 3}` and `{2, 3, 4} | {9}` shows `{9, 2, 3, 4}` as in CPython. Other sets keep
/// insertion order (CPython's order for strings changes from run to run anyway).
pub fn set_order(items: &mut [Value]) {
    if items.len() < 2 || items.len() > 1 << 20 {
        return;
    }
    let mut hashes = Vec::with_capacity(items.len());
    for v in items.iter() {
        match v {
            Value::Int(i) if i.unsigned_abs() < (1 << 61) - 1 => hashes.push(if *i == -1 { -2i64 } else { *i } as u64),
            _ => return,
        }
    }
    const LINEAR_PROBES: usize = 9;
    fn insert(table: &mut [Option<usize>], hashes: &[u64], idx: usize) {
        let mask = table.len() - 1;
        let h = hashes[idx];
        let mut perturb = h;
        let mut i = (h as usize) & mask;
        loop {
            if table[i].is_none() {
                table[i] = Some(idx);
                return;
            }
            if i + LINEAR_PROBES <= mask {
                for j in 1..=LINEAR_PROBES {
                    if table[i + j].is_none() {
                        table[i + j] = Some(idx);
                        return;
                    }
                }
            }
            perturb >>= 5;
            i = (i.wrapping_mul(5).wrapping_add(1).wrapping_add(perturb as usize)) & mask;
        }
    }
    let mut table: Vec<Option<usize>> = vec![None; 8];
    for (used, idx) in (0..items.len()).enumerate() {
        insert(&mut table, &hashes, idx);
        let fill = used + 1;
        let mask = table.len() - 1;
        if fill * 5 >= mask * 3 {
            let minused = if fill > 50000 { fill * 2 } else { fill * 4 };
            let mut ns = 8;
            while ns <= minused {
                ns <<= 1;
            }
            let old = std::mem::replace(&mut table, vec![None; ns]);
            for k in old.into_iter().flatten() {
                insert(&mut table, &hashes, k);
            }
        }
    }
    let order: Vec<usize> = table.into_iter().flatten().collect();
    let old: Vec<Value> = items.to_vec();
    for (dst, src) in items.iter_mut().zip(order) {
        *dst = old[src].clone();
    }
}

fn set_items(s: &Set) -> Vec<Value> {
    let mut v: Vec<Value> = s.iter().map(|k| k.0.clone()).collect();
    set_order(&mut v);
    v
}

/// Check that a value may be used as a dict key or set member.
pub fn check_hashable(v: &Value) -> VmResult<()> {
    match v {
        Value::List(_) | Value::Dict(_) | Value::Set(_) => {
            Err(Exc::type_error(format!("unhashable type: '{}'", type_name(v))))
        }
        Value::Tuple(t) => {
            let _g = nest(" while hashing")?;
            for x in t.iter() {
                check_hashable(x)?;
            }
            Ok(())
        }
        Value::Instance(inst) => {
            if inst.class.lookup("__eq__").is_some() {
                match inst.class.lookup("__hash__") {
                    Some(Value::None) | None => {
                        return Err(Exc::type_error(format!("unhashable type: '{}'", inst.class.name.s)))
                    }
                    _ => {}
                }
            }
            Ok(())
        }
        Value::Object(_) if as_view(v).is_some() || as_slice(v).is_some() => {
            Err(Exc::type_error(format!("unhashable type: '{}'", type_name(v))))
        }
        _ => Ok(()),
    }
}

/// Wrap a value as a dict key / set member (TypeError `unhashable type: 'list'`).
#[inline]
pub fn hkey(vm: &mut Vm, v: Value) -> VmResult<HKey> {
    let _ = vm;
    match &v {
        Value::Str(_) | Value::Int(_) | Value::None | Value::Bool(_) | Value::Float(_) => Ok(HKey(v)),
        _ => {
            check_hashable(&v)?;
            Ok(HKey(v))
        }
    }
}

/// Whether `v` is an instance whose class defines `__hash__`: such keys hash by identity in
/// `HKey` (which cannot call user code), so lookups first look for an equal stored key.
fn user_hashed(v: &Value) -> bool {
    match v {
        Value::Instance(i) => {
            i.class.lookup("__eq__").is_some() && i.class.lookup("__hash__").is_some_and(|h| !h.is_none())
        }
        _ => false,
    }
}

/// Among `candidates`, the stored key equal (by `__hash__` and `__eq__`) to `key`.
fn find_equal_key(vm: &mut Vm, key: &Value, candidates: Vec<Value>) -> VmResult<Option<Value>> {
    if candidates.is_empty() {
        return Ok(None);
    }
    let h = hash_value(vm, key)?;
    for c in candidates {
        if !user_hashed(&c) {
            continue;
        }
        let hc = hash_value(vm, &c)?;
        if eq(vm, &hc, &h)? && eq(vm, &c, key)? {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// `hkey` for a lookup in dict `d` (honours user `__hash__`/`__eq__`).
pub fn dict_key(vm: &mut Vm, d: &Rc<RefCell<Dict>>, v: Value) -> VmResult<HKey> {
    let k = hkey(vm, v)?;
    if user_hashed(&k.0) && !d.borrow().contains_key(&k) {
        let cands: Vec<Value> =
            d.borrow().keys().filter(|c| matches!(c.0, Value::Instance(_))).map(|c| c.0.clone()).collect();
        if let Some(c) = find_equal_key(vm, &k.0, cands)? {
            return Ok(HKey(c));
        }
    }
    Ok(k)
}

/// `hkey` for a lookup in a set (honours user `__hash__`/`__eq__`).
pub fn set_key(vm: &mut Vm, s: &Set, v: Value) -> VmResult<HKey> {
    let k = hkey(vm, v)?;
    if user_hashed(&k.0) && !s.contains(&k) {
        let cands: Vec<Value> = s.iter().filter(|c| matches!(c.0, Value::Instance(_))).map(|c| c.0.clone()).collect();
        if let Some(c) = find_equal_key(vm, &k.0, cands)? {
            return Ok(HKey(c));
        }
    }
    Ok(k)
}

/// `set_key` for a mutable set (no borrow held while user code runs).
pub fn set_key_in(vm: &mut Vm, s: &RefCell<Set>, v: Value) -> VmResult<HKey> {
    let k = hkey(vm, v)?;
    if user_hashed(&k.0) && !s.borrow().contains(&k) {
        let cands: Vec<Value> =
            s.borrow().iter().filter(|c| matches!(c.0, Value::Instance(_))).map(|c| c.0.clone()).collect();
        if let Some(c) = find_equal_key(vm, &k.0, cands)? {
            return Ok(HKey(c));
        }
    }
    Ok(k)
}

/// Python's `hash(v)`.
pub fn hash_value(vm: &mut Vm, v: &Value) -> VmResult<Value> {
    match v {
        Value::Int(i) => return Ok(Value::Int(if *i == -1 { -2 } else { *i })),
        Value::Bool(b) => return Ok(Value::Int(*b as i64)),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => return Ok(Value::Int(*f as i64)),
        Value::Instance(_) => {
            if let Some(r) = call_dunder(vm, v, "__hash__", &[])? {
                return Ok(r);
            }
        }
        _ => {}
    }
    check_hashable(v)?;
    Ok(Value::Int((crate::value::key_hash(v) >> 2) as i64))
}

/// `len(v)`.
pub fn len(vm: &mut Vm, v: &Value) -> VmResult<usize> {
    Ok(match v {
        Value::Str(s) => {
            if s.s.is_ascii() {
                s.s.len()
            } else {
                s.s.chars().count()
            }
        }
        Value::List(l) => l.borrow().len(),
        Value::Tuple(t) => t.len(),
        Value::Dict(d) => d.borrow().len(),
        Value::Set(s) => s.borrow().len(),
        Value::FrozenSet(s) => s.len(),
        Value::Bytes(b) => b.len(),
        Value::Range(r) => range_len(r),
        Value::Instance(_) => match call_dunder(vm, v, "__len__", &[])? {
            Some(Value::Int(n)) if n >= 0 => n as usize,
            Some(Value::Int(_)) => return Err(Exc::value_error("__len__() should return >= 0")),
            Some(Value::Bool(b)) => b as usize,
            Some(other) => {
                return Err(Exc::type_error(format!(
                    "'{}' object cannot be interpreted as an integer",
                    type_name(&other)
                )))
            }
            None => return Err(Exc::type_error(format!("object of type '{}' has no len()", type_name(v)))),
        },
        Value::Object(o) => {
            if let Some(view) = as_view(v) {
                return Ok(view.dict.borrow().len());
            }
            if let Some(f) = o.get_attr(vm, v, "__len__")? {
                let r = vm.call_value(&f, &[], &[])?;
                if let Value::Int(n) = r {
                    return Ok(n.max(0) as usize);
                }
            }
            return Err(Exc::type_error(format!("object of type '{}' has no len()", type_name(v))));
        }
        _ => return Err(Exc::type_error(format!("object of type '{}' has no len()", type_name(v)))),
    })
}

/// An integer argument (`int` or `bool`) as i64, with Python's TypeError otherwise.
pub fn as_index(v: &Value) -> VmResult<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Bool(b) => Ok(*b as i64),
        Value::BigInt(_) => Err(Exc::new(ExcKind::OverflowError, "Python int too large to convert to C ssize_t")),
        other => Err(Exc::type_error(format!(
            "'{}' object cannot be interpreted as an integer",
            type_name(other)
        ))),
    }
}
