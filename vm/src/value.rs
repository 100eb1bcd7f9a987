//! Runtime values of the Ask VM and the heap objects they point to.
//!
//! Why `Rc` + `RefCell` and not `Arc` + locks: one program's heap is owned by one [`crate::Vm`],
//! and only the thread that currently holds that VM (the server guards it with a mutex, like
//! CPython's GIL) touches any value in it. Reference counts therefore need no atomics and
//! interior mutability needs no locks, which keeps the hot paths (register moves, list appends,
//! dict lookups) as cheap as in a single-threaded interpreter. Requests still run concurrently:
//! a handler that waits in a host call (database, sleep) releases the VM while it waits.
//! See ARCHITECTURE.md, "Values and concurrency".
//!
//! `Value` is 16 bytes: a tag and either an immediate (`None`, `bool`, `i64`, `f64`) or one
//! thin pointer. Every variant that points into the heap uses a thin `Rc` for that reason.
//!
//! Invariant: no `RefCell` borrow is held across a call back into the VM (a user function, a
//! `__eq__`, a `key=` callback): such a call can touch the same object, and a second borrow would
//! panic. Code that must call back copies what it needs out of the cell first.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use indexmap::{IndexMap, IndexSet};
use num_bigint::BigInt;
use rustc_hash::FxBuildHasher;

use crate::error::VmResult;

/// A dynamically typed Ask value.
///
/// `repr(u8)` fixes the layout the interpreter's fast paths rely on (Rust promises it for
/// primitive-representation enums): the discriminant is byte 0, numbered in declaration order
/// (so the immediates `None`, `Bool`, `Int`, `Float` are tags 0..=3 and every refcounted
/// variant is >= 4), and an 8-byte payload sits at offset 8.
#[derive(Clone, Default)]
#[repr(u8)]
pub enum Value {
    #[default]
    None,
    Bool(bool),
    /// The fast path for integers; arithmetic that overflows promotes to `BigInt`.
    Int(i64),
    Float(f64),
    /// Only ever holds values outside the i64 range (normalise with `Value::from_bigint`).
    BigInt(Rc<BigInt>),
    Str(Rc<StrObj>),
    Bytes(Rc<Vec<u8>>),
    List(Rc<RefCell<ListVec>>),
    Tuple(Rc<TupleVec>),
    Dict(Rc<RefCell<Dict>>),
    Set(Rc<RefCell<Set>>),
    /// An immutable set (`frozenset`); hashable.
    FrozenSet(Rc<Set>),
    Range(Rc<RangeObj>),
    /// A user function or closure (compiled Ask code plus captured cells).
    Function(Rc<crate::code::Closure>),
    /// A function implemented in Rust, optionally bound to a receiver.
    Native(Rc<NativeFunc>),
    /// `obj.method` looked up on an instance: calling it prepends `obj`.
    BoundMethod(Rc<BoundMethod>),
    /// A class: user classes, built-in exception classes and the built-in types (`int`, `str`…).
    Class(Rc<Class>),
    Instance(Rc<Instance>),
    Module(Rc<ModuleObj>),
    /// A one-shot iterator (list/dict/str iterators, `map`, `zip`, generator expressions…).
    Iter(Rc<RefCell<IterObj>>),
    /// A captured variable shared between a function and its closures. Never visible to Ask
    /// code as a value; it lives in registers and closure environments only.
    Cell(Rc<RefCell<Value>>),
    /// An object implemented by the host or a native module (a `re.Match`, a `datetime`, an
    /// uploaded file, a database row...).
    /// (Boxed twice so that `Value` stays 16 bytes: `Rc<dyn _>` would be a fat pointer.)
    Object(Rc<Box<dyn NativeObject>>),
    /// The state of a local variable that has no value yet (read before its first assignment,
    /// or after `del`). Never a value Ask code can hold: only `Op::Unbind` writes it (into a
    /// register or a cell), and the compiler puts an `Op::CheckBound` before every read that
    /// could see it, so it never reaches a list, a call or `print`. Declared last so the tags
    /// of the other variants stay put.
    Unbound,
}

const _: () = assert!(std::mem::size_of::<Value>() == 16);

/// An immutable string with a cached hash.
///
/// `s += x` appends in place when the VM holds the only reference (the interpreter moves the
/// left operand out of its register first), so building a string in a loop is linear, as in
/// CPython.
pub struct StrObj {
    pub s: String,
    /// 0 = not computed yet.
    pub hash: Cell<u64>,
}

impl StrObj {
    pub fn new(s: String) -> StrObj {
        StrObj { s, hash: Cell::new(0) }
    }
    pub fn as_str(&self) -> &str {
        &self.s
    }
    pub fn hash_value(&self) -> u64 {
        let h = self.hash.get();
        if h != 0 {
            return h;
        }
        let mut hasher = rustc_hash::FxHasher::default();
        self.s.hash(&mut hasher);
        let h = hasher.finish() | 1;
        self.hash.set(h);
        h
    }
}

/// Dict storage: insertion-ordered, keyed by Python equality/hashing (see [`HKey`]).
/// A newtype (deref to the `IndexMap`) so that dropping deeply nested dicts stays iterative.
#[derive(Default, Clone)]
pub struct Dict(pub IndexMap<HKey, Value, FxBuildHasher>);

impl std::ops::Deref for Dict {
    type Target = IndexMap<HKey, Value, FxBuildHasher>;
    #[inline(always)]
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Dict {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// `IndexMap`'s constructors, so code written against the former `type Dict = IndexMap<..>`
/// keeps compiling.
impl Dict {
    pub fn with_hasher(h: FxBuildHasher) -> Dict {
        Dict(IndexMap::with_hasher(h))
    }
    pub fn with_capacity_and_hasher(n: usize, h: FxBuildHasher) -> Dict {
        Dict(IndexMap::with_capacity_and_hasher(n, h))
    }
    pub fn with_capacity(n: usize) -> Dict {
        Dict(IndexMap::with_capacity_and_hasher(n, FxBuildHasher))
    }
    pub fn new() -> Dict {
        Dict::default()
    }
}

impl From<IndexMap<HKey, Value, FxBuildHasher>> for Dict {
    fn from(m: IndexMap<HKey, Value, FxBuildHasher>) -> Dict {
        Dict(m)
    }
}

impl FromIterator<(HKey, Value)> for Dict {
    fn from_iter<I: IntoIterator<Item = (HKey, Value)>>(iter: I) -> Dict {
        Dict(IndexMap::from_iter(iter))
    }
}

impl IntoIterator for Dict {
    type Item = (HKey, Value);
    type IntoIter = indexmap::map::IntoIter<HKey, Value>;
    fn into_iter(mut self) -> Self::IntoIter {
        std::mem::take(&mut self.0).into_iter()
    }
}

impl<'a> IntoIterator for &'a Dict {
    type Item = (&'a HKey, &'a Value);
    type IntoIter = indexmap::map::Iter<'a, HKey, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl Drop for Dict {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            deep_drop::drop_items(std::mem::take(&mut self.0).into_values());
        }
    }
}
/// Set storage: insertion-ordered (iteration order is deterministic, which CPython's is only
/// for small ints; programs must not rely on either). A newtype (deref to the `IndexSet`) so
/// that dropping it goes through [`deep_drop`]: `frozenset([frozenset([...])])` nested a
/// million deep must not overflow the Rust stack when it is freed.
///
/// The second field caches a frozenset's hash (0 = not computed): building
/// `frozenset([frozenset([...])])` level by level hashes each inner set once, not the whole
/// chain again at every level. Mutable access clears it.
#[derive(Clone, Default)]
pub struct Set(pub IndexSet<HKey, FxBuildHasher>, Cell<u64>);

impl std::ops::Deref for Set {
    type Target = IndexSet<HKey, FxBuildHasher>;
    #[inline(always)]
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Set {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.1.set(0);
        &mut self.0
    }
}

impl FromIterator<HKey> for Set {
    fn from_iter<I: IntoIterator<Item = HKey>>(iter: I) -> Set {
        Set(iter.into_iter().collect(), Cell::new(0))
    }
}

impl IntoIterator for Set {
    type Item = HKey;
    type IntoIter = indexmap::set::IntoIter<HKey>;
    fn into_iter(mut self) -> Self::IntoIter {
        std::mem::take(&mut self.0).into_iter()
    }
}

impl<'a> IntoIterator for &'a Set {
    type Item = &'a HKey;
    type IntoIter = indexmap::set::Iter<'a, HKey>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl Drop for Set {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            deep_drop::drop_items(std::mem::take(&mut self.0).into_iter().map(|k| k.0));
        }
    }
}

/// A value used as a dict key or set member.
///
/// Only hashable values may be wrapped: check with `ops::check_hashable` (or use the helpers that
/// do) before constructing one. `Hash`/`Eq` follow Python for the built-in hashable types:
/// `1 == 1.0 == True` hash and compare equal, tuples compare element-wise, and instances, classes
/// and functions compare by identity.
#[derive(Clone)]
pub struct HKey(pub Value);

/// `range(start, stop, step)`.
pub struct RangeObj {
    pub start: i64,
    pub stop: i64,
    pub step: i64,
}

/// Signature of a native function: `(vm, positional args, keyword args)`.
///
/// For a bound native (a method of a built-in value or a native object), `args[0]` is the
/// receiver.
pub type NativeFnPtr = fn(&mut crate::Vm, &[Value], &[(Rc<StrObj>, Value)]) -> VmResult<Value>;

pub struct NativeFunc {
    pub name: &'static str,
    pub func: NativeFnPtr,
    /// When set, the value is passed as `args[0]` before the call's own arguments.
    pub bound: Option<Value>,
    /// Extra state captured by the native (e.g. the wrapped function of a native decorator).
    pub data: Option<Value>,
}

pub struct BoundMethod {
    pub receiver: Value,
    pub func: Value,
}

/// A class. User classes, built-in exception classes and built-in types share this shape.
pub struct Class {
    pub name: Rc<StrObj>,
    /// Single inheritance: the base class, if any (`object` is implicit).
    pub base: Option<Rc<Class>>,
    /// Class attributes and methods, in definition order.
    pub attrs: RefCell<IndexMap<Rc<str>, Value, FxBuildHasher>>,
    /// Which built-in type this class stands for (`int`, `str`, `ValueError`...), if any.
    pub builtin: Option<BuiltinType>,
}

impl Class {
    /// Look an attribute up along the inheritance chain.
    pub fn lookup(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.attrs.borrow().get(name) {
            return Some(v.clone());
        }
        let mut cur = self.base.clone();
        while let Some(c) = cur {
            if let Some(v) = c.attrs.borrow().get(name) {
                return Some(v.clone());
            }
            cur = c.base.clone();
        }
        None
    }
    /// True when `self` is `other` or inherits from it.
    pub fn is_subclass_of(self: &Rc<Class>, other: &Rc<Class>) -> bool {
        let mut cur = Some(self.clone());
        while let Some(c) = cur {
            if Rc::ptr_eq(&c, other) {
                return true;
            }
            cur = c.base.clone();
        }
        false
    }
}

/// The built-in types and exception classes that exist as [`Class`] values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BuiltinType {
    Object,
    NoneType,
    Bool,
    Int,
    Float,
    Str,
    Bytes,
    List,
    Tuple,
    Dict,
    Set,
    FrozenSet,
    Range,
    Function,
    Type,
    Module,
    Iterator,
    /// A built-in exception class.
    Exc(ExcKind),
}

/// Python's built-in exception classes that Ask provides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExcKind {
    BaseException,
    Exception,
    ArithmeticError,
    ZeroDivisionError,
    OverflowError,
    LookupError,
    KeyError,
    IndexError,
    ValueError,
    UnicodeError,
    UnicodeEncodeError,
    UnicodeDecodeError,
    TypeError,
    AttributeError,
    NameError,
    UnboundLocalError,
    RuntimeError,
    RecursionError,
    NotImplementedError,
    StopIteration,
    AssertionError,
    ImportError,
    OSError,
    MemoryError,
    KeyboardInterrupt,
    SystemExit,
}

impl ExcKind {
    pub const ALL: &'static [ExcKind] = &[
        ExcKind::BaseException,
        ExcKind::Exception,
        ExcKind::ArithmeticError,
        ExcKind::ZeroDivisionError,
        ExcKind::OverflowError,
        ExcKind::LookupError,
        ExcKind::KeyError,
        ExcKind::IndexError,
        ExcKind::ValueError,
        ExcKind::UnicodeError,
        ExcKind::UnicodeEncodeError,
        ExcKind::UnicodeDecodeError,
        ExcKind::TypeError,
        ExcKind::AttributeError,
        ExcKind::NameError,
        ExcKind::UnboundLocalError,
        ExcKind::RuntimeError,
        ExcKind::RecursionError,
        ExcKind::NotImplementedError,
        ExcKind::StopIteration,
        ExcKind::AssertionError,
        ExcKind::ImportError,
        ExcKind::OSError,
        ExcKind::MemoryError,
        ExcKind::KeyboardInterrupt,
        ExcKind::SystemExit,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ExcKind::BaseException => "BaseException",
            ExcKind::Exception => "Exception",
            ExcKind::ArithmeticError => "ArithmeticError",
            ExcKind::ZeroDivisionError => "ZeroDivisionError",
            ExcKind::OverflowError => "OverflowError",
            ExcKind::LookupError => "LookupError",
            ExcKind::KeyError => "KeyError",
            ExcKind::IndexError => "IndexError",
            ExcKind::ValueError => "ValueError",
            ExcKind::UnicodeError => "UnicodeError",
            ExcKind::UnicodeEncodeError => "UnicodeEncodeError",
            ExcKind::UnicodeDecodeError => "UnicodeDecodeError",
            ExcKind::TypeError => "TypeError",
            ExcKind::AttributeError => "AttributeError",
            ExcKind::NameError => "NameError",
            ExcKind::UnboundLocalError => "UnboundLocalError",
            ExcKind::RuntimeError => "RuntimeError",
            ExcKind::RecursionError => "RecursionError",
            ExcKind::NotImplementedError => "NotImplementedError",
            ExcKind::StopIteration => "StopIteration",
            ExcKind::AssertionError => "AssertionError",
            ExcKind::ImportError => "ImportError",
            ExcKind::OSError => "OSError",
            ExcKind::MemoryError => "MemoryError",
            ExcKind::KeyboardInterrupt => "KeyboardInterrupt",
            ExcKind::SystemExit => "SystemExit",
        }
    }

    /// The direct base class, as in CPython's hierarchy.
    pub fn parent(self) -> Option<ExcKind> {
        use ExcKind::*;
        Some(match self {
            BaseException => return None,
            Exception | KeyboardInterrupt | SystemExit => BaseException,
            ArithmeticError | LookupError | ValueError | TypeError | AttributeError | NameError
            | RuntimeError | StopIteration | AssertionError | ImportError | OSError
            | MemoryError => Exception,
            ZeroDivisionError | OverflowError => ArithmeticError,
            KeyError | IndexError => LookupError,
            UnicodeError => ValueError,
            UnicodeEncodeError | UnicodeDecodeError => UnicodeError,
            UnboundLocalError => NameError,
            RecursionError | NotImplementedError => RuntimeError,
        })
    }
}

/// An instance of a user class (or of an exception class).
pub struct Instance {
    pub class: Rc<Class>,
    pub attrs: RefCell<IndexMap<Rc<str>, Value, FxBuildHasher>>,
}

/// A module object: `extend m`, or a native module bound by `import`.
pub struct ModuleObj {
    pub name: Rc<str>,
    pub attrs: RefCell<IndexMap<Rc<str>, Value, FxBuildHasher>>,
}

/// State of a one-shot iterator.
pub enum IterObj {
    /// Over a list (live: sees appends, like CPython).
    List { list: Rc<RefCell<ListVec>>, index: usize },
    /// Over a tuple.
    Tuple { tuple: Rc<TupleVec>, index: usize },
    /// Over the characters of a string (byte offset of the next char).
    Str { s: Rc<StrObj>, pos: usize },
    Range { next: i64, stop: i64, step: i64 },
    /// Over a snapshot of values (dict keys/values/items, sets): iterating a dict while changing
    /// its size is an error in Python; iterating a snapshot is the safe, simple approximation.
    Values { items: Rc<Vec<Value>>, index: usize },
    /// Any other iterator implemented in Rust (map, filter, zip, enumerate, generator
    /// expressions...). `next` returns `Ok(None)` when exhausted.
    Native(NativeBox),
    Exhausted,
}

/// A native iterator, boxed. Its own type so that dropping it goes through [`deep_drop`]:
/// iterators wrap iterators (`it = map(f, it)` in a loop), and freeing such a chain must not
/// recurse once per level on the Rust stack.
pub struct NativeBox(Box<dyn NativeIter>);

impl NativeBox {
    pub fn new(it: impl NativeIter + 'static) -> NativeBox {
        NativeBox(Box::new(it))
    }
}

impl std::ops::Deref for NativeBox {
    type Target = dyn NativeIter;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl std::ops::DerefMut for NativeBox {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut *self.0
    }
}

/// What a dropped `NativeBox` leaves behind (a zero-sized box: no allocation).
struct Spent;

impl NativeIter for Spent {
    fn next(&mut self, _vm: &mut crate::Vm) -> VmResult<Option<Value>> {
        Ok(None)
    }
}

impl Drop for NativeBox {
    fn drop(&mut self) {
        deep_drop::drop_native(std::mem::replace(&mut self.0, Box::new(Spent)));
    }
}

/// An iterator implemented in Rust. It may call back into the VM (e.g. `map` calls a function).
pub trait NativeIter {
    fn next(&mut self, vm: &mut crate::Vm) -> VmResult<Option<Value>>;
}

/// An object implemented in Rust by a native module or the host.
///
/// The defaults make an opaque object; override what the type supports.
pub trait NativeObject: Any {
    /// Python's `type(x).__name__`.
    fn type_name(&self) -> &str;
    /// Names of the Python base classes of this type that `isinstance` should accept
    /// (`datetime` is a `date`).
    fn base_type_names(&self) -> &'static [&'static str] {
        &[]
    }
    /// `obj.name` (methods are returned as bound `Native` values).
    fn get_attr(&self, _vm: &mut crate::Vm, _this: &Value, _name: &str) -> VmResult<Option<Value>> {
        Ok(None)
    }
    /// `obj.name = value`; return `Ok(false)` when not supported.
    fn set_attr(&self, _vm: &mut crate::Vm, _name: &str, _value: Value) -> VmResult<bool> {
        Ok(false)
    }
    /// `repr(obj)`.
    fn repr(&self) -> String {
        format!("<{} object>", self.type_name())
    }
    /// `str(obj)`; defaults to `repr`.
    fn str(&self) -> String {
        self.repr()
    }
    /// `self == other` for two objects; defaults to identity (decided by the caller).
    fn eq(&self, _other: &dyn NativeObject) -> Option<bool> {
        None
    }
    /// A hash consistent with `eq`; `None` means hash by identity.
    fn hash(&self) -> Option<u64> {
        None
    }
    /// `a < b` between two objects of this type, when ordered.
    fn lt(&self, _other: &dyn NativeObject) -> Option<bool> {
        None
    }
    /// The JSON form used by `respond` and `json.dumps`, if any (e.g. a datetime's ISO string).
    fn to_json(&self) -> Option<Value> {
        None
    }
    fn as_any(&self) -> &dyn Any;
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(Rc::new(StrObj::new(s.into())))
    }
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Rc::new(RefCell::new(ListVec(items))))
    }
    pub fn tuple(items: Vec<Value>) -> Value {
        Value::Tuple(Rc::new(TupleVec(items)))
    }
    pub fn dict(d: Dict) -> Value {
        Value::Dict(Rc::new(RefCell::new(d)))
    }
    /// Normalise a big integer: values that fit in i64 become `Int`.
    pub fn from_bigint(b: BigInt) -> Value {
        use num_traits::ToPrimitive;
        match b.to_i64() {
            Some(i) => Value::Int(i),
            None => Value::BigInt(Rc::new(b)),
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(&s.s),
            _ => None,
        }
    }
    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::None => write!(f, "None"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::BigInt(b) => write!(f, "{b}"),
            Value::Str(s) => write!(f, "{:?}", s.s),
            Value::List(l) => match l.try_borrow() {
                Ok(l) => f.debug_list().entries(l.iter()).finish(),
                Err(_) => write!(f, "[...]"),
            },
            Value::Tuple(t) => f.debug_list().entries(t.iter()).finish(),
            other => write!(f, "<{}>", other.kind_name()),
        }
    }
}

impl Value {
    /// The static type name of the variant (`ops::type_name` refines instances, classes and
    /// native objects with their own names).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Dict(_) => "dict",
            Value::Set(_) => "set",
            Value::FrozenSet(_) => "frozenset",
            Value::Range(_) => "range",
            Value::Function(_) => "function",
            Value::Native(_) => "builtin_function_or_method",
            Value::BoundMethod(_) => "method",
            Value::Class(_) => "type",
            Value::Instance(_) => "object",
            Value::Module(_) => "module",
            Value::Iter(_) => "iterator",
            Value::Cell(_) => "cell",
            Value::Object(_) => "object",
            Value::Unbound => "unbound",
        }
    }
}

// Hashing and equality of dict keys. Kept here, next to `HKey`, because `IndexMap` calls these
// without access to the VM: they must not call user code, and only hashable values reach them.
impl Hash for HKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(key_hash(&self.0));
    }
}

impl PartialEq for HKey {
    fn eq(&self, other: &HKey) -> bool {
        key_eq(&self.0, &other.0)
    }
}

impl Eq for HKey {}

/// Python-compatible hash of a hashable value (numbers that compare equal hash equal).
pub fn key_hash(v: &Value) -> u64 {
    use num_traits::ToPrimitive;
    match v {
        Value::None => 0x9e37_79b9,
        Value::Bool(b) => int_hash(*b as i64),
        Value::Int(i) => int_hash(*i),
        Value::Float(x) => {
            if x.fract() == 0.0 && x.is_finite() && x.abs() < 9.2e18 {
                int_hash(*x as i64)
            } else {
                x.to_bits().wrapping_mul(0x9E37_79B9_7F4A_7C15)
            }
        }
        Value::BigInt(b) => {
            // Equal floats of this magnitude are rare; hash by the low digits.
            let low = (b.as_ref() & BigInt::from(u64::MAX)).to_u64().unwrap_or(0);
            low.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5555
        }
        Value::Str(s) => s.hash_value(),
        Value::Bytes(b) => {
            let mut h = rustc_hash::FxHasher::default();
            b.hash(&mut h);
            h.finish()
        }
        Value::Tuple(t) => {
            let Some(_level) = key_level() else { return 0x345678 ^ t.len() as u64 };
            let mut acc: u64 = 0x345678;
            for item in t.iter() {
                acc = (acc ^ key_hash(item)).wrapping_mul(1_000_003);
            }
            acc ^ t.len() as u64
        }
        Value::FrozenSet(s) => {
            if s.1.get() != 0 {
                return s.1.get();
            }
            let Some(_level) = key_level() else { return 0xF5 ^ s.len() as u64 };
            let outer = KEY_TRUNCATED.with(|t| t.replace(false));
            // Order-independent.
            let h = (s.iter().fold(0u64, |acc, k| acc ^ key_hash(&k.0).wrapping_mul(0x9E37_79B9)) ^ 0xF5).max(1);
            // A hash cut short by the depth limit depends on where hashing started: not cached.
            let cut = KEY_TRUNCATED.with(|t| t.replace(outer || t.get()));
            if !cut {
                s.1.set(h);
            }
            h
        }
        Value::Object(o) => o.hash().unwrap_or(Rc::as_ptr(o) as *const () as u64),
        other => identity(other) as u64,
    }
}

#[inline]
fn int_hash(i: i64) -> u64 {
    (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

// Depth limit of `key_hash`/`key_eq`, which walk nested tuples and frozensets on the Rust stack
// and cannot fail (they implement `Hash`/`Eq` for dict keys). Past it, hashing uses only the
// length (equal values still hash equal: a hash is always computed from the key itself), and
// equality falls back to identity, where CPython would raise RecursionError.
const MAX_KEY_DEPTH: u32 = 1000;

thread_local! {
    static KEY_DEPTH: Cell<u32> = const { Cell::new(0) };
    static KEY_TRUNCATED: Cell<bool> = const { Cell::new(false) };
}

struct KeyLevel;

impl Drop for KeyLevel {
    fn drop(&mut self) {
        KEY_DEPTH.with(|d| d.set(d.get() - 1));
    }
}

/// Enter one level of a key walk; `None` (and the truncation flag set) past the limit.
fn key_level() -> Option<KeyLevel> {
    let d = KEY_DEPTH.with(|d| d.get());
    if d >= MAX_KEY_DEPTH {
        KEY_TRUNCATED.with(|t| t.set(true));
        return None;
    }
    KEY_DEPTH.with(|c| c.set(d + 1));
    Some(KeyLevel)
}

/// Python `==` for hashable values, without calling user code.
pub fn key_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Rc::ptr_eq(x, y) || x.s == y.s,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::None, Value::None) => true,
        (Value::Tuple(x), Value::Tuple(y)) => {
            if Rc::ptr_eq(x, y) {
                return true;
            }
            let Some(_level) = key_level() else { return false };
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| key_eq(p, q))
        }
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::FrozenSet(x), Value::FrozenSet(y)) => {
            if Rc::ptr_eq(x, y) {
                return true;
            }
            let Some(_level) = key_level() else { return false };
            x.len() == y.len() && x.iter().all(|k| y.contains(k))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.eq(y.as_ref().as_ref()).unwrap_or_else(|| Rc::ptr_eq(x, y))
        }
        _ => match (num_of(a), num_of(b)) {
            (Some(x), Some(y)) => x.eq_num(&y),
            (None, None) => {
                let (ia, ib) = (identity(a), identity(b));
                ia != 0 && ia == ib
            }
            _ => false,
        },
    }
}

/// Pointer identity of a heap value (0 for immediates).
pub fn identity(v: &Value) -> usize {
    match v {
        Value::BigInt(r) => Rc::as_ptr(r) as usize,
        Value::Str(r) => Rc::as_ptr(r) as usize,
        Value::Bytes(r) => Rc::as_ptr(r) as usize,
        Value::List(r) => Rc::as_ptr(r) as usize,
        Value::Tuple(r) => Rc::as_ptr(r) as usize,
        Value::Dict(r) => Rc::as_ptr(r) as usize,
        Value::Set(r) => Rc::as_ptr(r) as usize,
        Value::FrozenSet(r) => Rc::as_ptr(r) as usize,
        Value::Range(r) => Rc::as_ptr(r) as usize,
        Value::Function(r) => Rc::as_ptr(r) as usize,
        Value::Native(r) => Rc::as_ptr(r) as usize,
        Value::BoundMethod(r) => Rc::as_ptr(r) as usize,
        Value::Class(r) => Rc::as_ptr(r) as usize,
        Value::Instance(r) => Rc::as_ptr(r) as usize,
        Value::Module(r) => Rc::as_ptr(r) as usize,
        Value::Iter(r) => Rc::as_ptr(r) as usize,
        Value::Cell(r) => Rc::as_ptr(r) as usize,
        Value::Object(r) => Rc::as_ptr(r) as *const () as usize,
        Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Unbound => 0,
    }
}

/// A number viewed for cross-type comparison.
pub enum Num<'a> {
    I(i64),
    B(&'a BigInt),
    F(f64),
}

pub fn num_of(v: &Value) -> Option<Num<'_>> {
    match v {
        Value::Bool(b) => Some(Num::I(*b as i64)),
        Value::Int(i) => Some(Num::I(*i)),
        Value::BigInt(b) => Some(Num::B(b)),
        Value::Float(f) => Some(Num::F(*f)),
        _ => None,
    }
}

impl Num<'_> {
    /// Exact numeric equality across int, big int and float (as Python: `2**53 + 1 != 2.0**53`).
    pub fn eq_num(&self, other: &Num<'_>) -> bool {
        use num_traits::{FromPrimitive, ToPrimitive};
        match (self, other) {
            (Num::I(a), Num::I(b)) => a == b,
            (Num::F(a), Num::F(b)) => a == b,
            (Num::B(a), Num::B(b)) => a == b,
            (Num::I(_), Num::B(_)) | (Num::B(_), Num::I(_)) => false,
            (Num::I(i), Num::F(f)) | (Num::F(f), Num::I(i)) => {
                f.fract() == 0.0 && f.is_finite() && BigInt::from_f64(*f) == Some(BigInt::from(*i))
            }
            (Num::B(b), Num::F(f)) | (Num::F(f), Num::B(b)) => {
                f.fract() == 0.0 && f.is_finite() && BigInt::from_f64(*f).as_ref() == Some(*b)
                    && b.to_f64().is_some()
            }
        }
    }
}

/// The items of a list: a `Vec<Value>` (it derefs to one) whose `Drop` stays iterative however
/// deeply lists nest (`x = [x]` a million times must not overflow the Rust stack).
/// Deliberately not `Clone`: `list.borrow().clone()` derefs to the `Vec` and copies the items.
#[derive(Default)]
pub struct ListVec(pub Vec<Value>);

impl std::ops::Deref for ListVec {
    type Target = Vec<Value>;
    #[inline(always)]
    fn deref(&self) -> &Vec<Value> {
        &self.0
    }
}

impl std::ops::DerefMut for ListVec {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Vec<Value> {
        &mut self.0
    }
}

impl From<Vec<Value>> for ListVec {
    fn from(v: Vec<Value>) -> ListVec {
        ListVec(v)
    }
}

impl Drop for ListVec {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            deep_drop::drop_items(std::mem::take(&mut self.0));
        }
    }
}

/// The items of a tuple (see [`ListVec`]: same deref and iterative drop).
#[derive(Default)]
pub struct TupleVec(pub Vec<Value>);

impl std::ops::Deref for TupleVec {
    type Target = Vec<Value>;
    #[inline(always)]
    fn deref(&self) -> &Vec<Value> {
        &self.0
    }
}

impl std::ops::DerefMut for TupleVec {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Vec<Value> {
        &mut self.0
    }
}

impl From<Vec<Value>> for TupleVec {
    fn from(v: Vec<Value>) -> TupleVec {
        TupleVec(v)
    }
}

impl Drop for TupleVec {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            deep_drop::drop_items(std::mem::take(&mut self.0));
        }
    }
}

impl Drop for BoundMethod {
    fn drop(&mut self) {
        deep_drop::drop_items([std::mem::take(&mut self.receiver), std::mem::take(&mut self.func)]);
    }
}

impl Drop for Class {
    fn drop(&mut self) {
        // A long chain of subclasses (`class C(C)` in a loop) is unlinked one base at a time.
        let mut next = self.base.take();
        while let Some(b) = next {
            match Rc::try_unwrap(b) {
                Ok(mut c) => next = c.base.take(),
                Err(_) => break,
            }
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let attrs = self.attrs.get_mut();
        if !attrs.is_empty() {
            deep_drop::drop_items(std::mem::take(attrs).into_values());
        }
    }
}

/// Iterative dropping of deeply nested containers. Containers hand their items to
/// [`drop_items`](deep_drop::drop_items); past a nesting depth the items are parked on a
/// thread-local list instead of being dropped recursively, and the outermost drop drains that
/// list one value at a time.
pub mod deep_drop {
    use super::{NativeIter, Value};
    use std::cell::{Cell, RefCell};

    /// Nesting depth of container drops beyond which items are parked (each level costs a few
    /// hundred bytes of Rust stack).
    const MAX_DEPTH: u32 = 200;

    thread_local! {
        static DEPTH: Cell<u32> = const { Cell::new(0) };
        static PARKED: RefCell<Vec<Value>> = const { RefCell::new(Vec::new()) };
        /// Native iterators (`map(f, map(f, ...))`) hold their values out of reach: they are
        /// parked whole.
        static PARKED_ITERS: RefCell<Vec<Box<dyn NativeIter>>> = const { RefCell::new(Vec::new()) };
    }

    /// Drop `items` (the contents of a container being dropped).
    pub fn drop_items<I: IntoIterator<Item = Value>>(items: I) {
        at_level(|park| {
            if park {
                PARKED.with(|p| {
                    if let Ok(mut p) = p.try_borrow_mut() {
                        p.extend(items);
                    }
                });
            } else {
                // Immediates (ints, floats, bools, None) own nothing: skip their out-of-line
                // drop call (a 200,000-int list used to spend ~5 % of a short script here).
                for v in items {
                    if matches!(v, Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_)) {
                        std::mem::forget(v);
                    } else {
                        drop(v);
                    }
                }
            }
        });
    }

    /// Drop a native iterator (and the values it holds) under the same depth accounting.
    pub fn drop_native(it: Box<dyn NativeIter>) {
        at_level(|park| {
            if park {
                PARKED_ITERS.with(|p| {
                    if let Ok(mut p) = p.try_borrow_mut() {
                        p.push(it);
                    }
                });
            } else {
                drop(it);
            }
        });
    }

    /// Run `free(park)` one level deeper: `park` is true past `MAX_DEPTH`, where `free` must
    /// park what it holds instead of dropping it.
    fn at_level(free: impl FnOnce(bool)) {
        let d = DEPTH.with(|d| d.get());
        if d >= MAX_DEPTH {
            return free(true);
        }
        DEPTH.with(|c| c.set(d + 1));
        free(false);
        finish(d);
    }

    /// Leave a level entered at depth `d`; the outermost drains what deeper levels parked.
    fn finish(d: u32) {
        if d == 0 {
            loop {
                if let Some(v) = PARKED.with(|p| p.try_borrow_mut().ok().and_then(|mut p| p.pop())) {
                    drop(v);
                    continue;
                }
                match PARKED_ITERS.with(|p| p.try_borrow_mut().ok().and_then(|mut p| p.pop())) {
                    Some(it) => drop(it),
                    None => break,
                }
            }
        }
        DEPTH.with(|c| c.set(d));
    }
}
