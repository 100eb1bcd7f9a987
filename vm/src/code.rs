//! Compiled code.
//!
//! Two layers:
//! - **Immutable, thread-shareable** compiled data ([`Program`], [`ModuleInfo`], [`FuncProto`],
//!   [`Const`]): plain data, no `Rc`, no [`Value`], `Send + Sync`. The compiler produces it, the
//!   server keeps it in an `Arc` and can hand the same program to several VMs or swap it (hot
//!   reload) without touching any heap.
//! - **Runtime** objects of one VM ([`Func`], [`Namespace`], [`Closure`]): created by
//!   `Vm::load`, which materialises every proto's constants into `Value`s once (so `LoadK` is a
//!   clone of a ready value) and gives each module a global namespace.
//!
//! Marker values for `&staticmethod` and `&property` (used by `ops::get_attr` and the
//! built-ins `staticmethod`/`property`): see [`make_staticmethod`], [`make_property`],
//! [`property_getter`], [`staticmethod_func`]. A staticmethod is a `Native` named
//! `"staticmethod"` that forwards calls to the wrapped function (so binding rules that only bind
//! `Value::Function` leave it unbound); a property is a `Native` named `"property"` whose `data`
//! is the getter: `get_attr` on an instance must call the getter with the instance.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use num_bigint::BigInt;

use crate::error::VmResult;
use crate::opcode::Instr;
use crate::route::RouteInfo;
use crate::value::{NativeFunc, StrObj, Value};

/// A compiled constant.
#[derive(Clone, Debug, PartialEq)]
pub enum Const {
    None,
    Bool(bool),
    Int(i64),
    /// Outside the i64 range.
    BigInt(BigInt),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    /// Keyword names of a `CallKw` (materialised as a tuple of strings).
    Names(Vec<String>),
}

/// Source position of one instruction (1-based line and column in code points).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Loc {
    /// Index into `Program::files`.
    pub file: u32,
    pub line: u32,
    pub col: u32,
}

/// A function's parameters. Registers: `R[0..nargs]` positional params, then (if `vararg`) the
/// `*args` tuple, then the keyword-only params, then (if `kwarg`) the `**kwargs` dict.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params {
    /// Names of all parameters in register order (positional, *args, kw-only, **kwargs).
    pub names: Vec<String>,
    /// Number of positional-or-keyword parameters.
    pub nargs: usize,
    /// How many of the last positional parameters have defaults.
    pub ndefaults: usize,
    pub vararg: bool,
    /// Number of keyword-only parameters.
    pub nkwonly: usize,
    /// For each keyword-only parameter: whether it has a default. Defaults of keyword-only
    /// params follow the positional defaults in `Closure` operands, in parameter order.
    pub kwonly_defaults: Vec<bool>,
    pub kwarg: bool,
}

impl Params {
    /// Total number of parameter registers.
    pub fn nparams(&self) -> usize {
        self.nargs + self.vararg as usize + self.nkwonly + self.kwarg as usize
    }
    /// Number of default values a `Closure` instruction takes from `R[A+1..]`.
    pub fn ndefault_values(&self) -> usize {
        self.ndefaults + self.kwonly_defaults.iter().filter(|d| **d).count()
    }
    /// Register of the `*args` tuple.
    pub fn vararg_reg(&self) -> Option<usize> {
        self.vararg.then_some(self.nargs)
    }
    /// Register of the first keyword-only parameter.
    pub fn kwonly_start(&self) -> usize {
        self.nargs + self.vararg as usize
    }
    pub fn kwarg_reg(&self) -> Option<usize> {
        self.kwarg.then(|| self.nargs + self.vararg as usize + self.nkwonly)
    }
}

/// Where a closure's captured variable comes from when the `Closure` instruction runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capture {
    /// The enclosing function's register holding the cell (`MakeCell`ed).
    Local(u8),
    /// The enclosing function's own upvalue.
    Upval(u16),
}

/// One compiled function (or module top level, class-free: class bodies run inline).
#[derive(Clone, Debug, Default)]
pub struct FuncProto {
    /// `f`, `<lambda>`, `<module>`, `<genexpr>`, `<listcomp>`...
    pub name: String,
    /// Dotted name for reprs (`C.method`); may equal `name`.
    pub qualname: String,
    /// Index into `Program::files` of the defining file.
    pub file: u32,
    /// Index into `Program::modules` (whose globals this code reads and writes).
    pub module: u32,
    /// Line of the `def`.
    pub line: u32,
    pub params: Params,
    /// Number of registers used (≥ params, ≤ 256).
    pub nregs: u16,
    pub code: Vec<Instr>,
    /// One entry per instruction of `code`.
    pub locs: Vec<Loc>,
    pub consts: Vec<Const>,
    /// Nested functions (`Closure Bx` indexes this).
    pub protos: Vec<Arc<FuncProto>>,
    /// Captured variables, in upvalue order (`GetUpval B` indexes this).
    pub captures: Vec<Capture>,
    /// Names of the upvalues (for the disassembler and error messages).
    pub upval_names: Vec<String>,
    /// Names of registers holding named locals (`(register, name)`), for the disassembler and
    /// unbound-local messages; optional.
    pub local_names: Vec<(u8, String)>,
    /// A generator expression body: calling it returns a lazy iterator.
    pub is_generator: bool,
}

impl FuncProto {
    pub fn loc(&self, pc: usize) -> Loc {
        self.locs.get(pc).copied().unwrap_or(Loc { file: self.file, line: self.line, col: 1 })
    }
}

/// One module namespace: the main program (index 0) or an `extend`ed file.
#[derive(Clone, Debug, Default)]
pub struct ModuleInfo {
    /// `__main__` for the program; the module name (`helpers`) for `extend`.
    pub name: String,
    /// Index into `Program::files`.
    pub file: u32,
    /// Top-level code.
    pub main: Arc<FuncProto>,
    /// Global slot → name (`GetGlobal Bx` indexes this).
    pub globals: Vec<String>,
}

/// A compiled program: immutable and shareable across threads.
#[derive(Clone, Debug, Default)]
pub struct Program {
    /// Same as `modules[0].main`.
    pub main: Arc<FuncProto>,
    /// `modules[0]` is the program itself; others are `extend`ed files (`LoadModule Bx`).
    pub modules: Vec<ModuleInfo>,
    /// Routes in registration order (`RegisterRoute Bx` indexes this).
    pub routes: Vec<RouteInfo>,
    /// `(file name as given, source text)`; `Loc::file` indexes this.
    pub files: Vec<(String, String)>,
}

impl Program {
    /// Global names of the main module.
    pub fn globals(&self) -> &[String] {
        self.modules.first().map(|m| &m.globals[..]).unwrap_or(&[])
    }
    /// Build a program with a single module from a top-level proto (tests, simple embedders).
    pub fn single(main: FuncProto, globals: Vec<String>, file: &str, source: &str) -> Program {
        let main = Arc::new(main);
        Program {
            main: main.clone(),
            modules: vec![ModuleInfo { name: "__main__".into(), file: 0, main, globals }],
            routes: Vec::new(),
            files: vec![(file.to_string(), source.to_string())],
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Runtime (per VM) objects.

/// A module's global variables at runtime. `None` = unset (falls back to the built-ins).
pub struct Namespace {
    pub name: Rc<str>,
    pub names: Vec<Rc<str>>,
    pub values: RefCell<Vec<Option<Value>>>,
    /// The module object handed out by `extend` (built once, after its top level ran).
    pub module_obj: RefCell<Option<Value>>,
}

impl Namespace {
    pub fn slot_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| &**n == name)
    }
}

/// A proto prepared for one VM: constants materialised, children prepared, namespace bound.
pub struct Func {
    pub proto: Arc<FuncProto>,
    pub consts: Vec<Value>,
    pub children: Vec<Rc<Func>>,
    pub ns: Rc<Namespace>,
    pub name: Rc<StrObj>,
    /// File name for tracebacks (`Program::files[proto.file].0`).
    pub files: Rc<[Rc<str>]>,
    /// `proto.nregs` (read on every call and return).
    pub nregs: usize,
    /// `proto.code.as_ptr()`: entering or returning into a frame reads it without chasing
    /// `proto` (one dependent load less on every call and return). Valid while `proto` lives,
    /// which `self` guarantees; the code vector is never mutated after compilation.
    pub code: *const Instr,
    /// Number of positional arguments of a plain function (no `*args`, keyword-only params,
    /// `**kwargs`, not a generator): the interpreter's call fast path. `usize::MAX` otherwise.
    pub simple_nargs: usize,
}

impl Func {
    /// Prepare `proto` and its children for a VM.
    pub fn new(proto: &Arc<FuncProto>, namespaces: &[Rc<Namespace>], files: &Rc<[Rc<str>]>) -> Rc<Func> {
        let consts = proto.consts.iter().map(const_value).collect();
        let children = proto.protos.iter().map(|p| Func::new(p, namespaces, files)).collect();
        let ns = namespaces
            .get(proto.module as usize)
            .or_else(|| namespaces.first())
            .cloned()
            .unwrap_or_else(|| {
                Rc::new(Namespace {
                    name: "__main__".into(),
                    names: Vec::new(),
                    values: RefCell::new(Vec::new()),
                    module_obj: RefCell::new(None),
                })
            });
        Rc::new(Func {
            proto: proto.clone(),
            consts,
            children,
            ns,
            name: Rc::new(StrObj::new(proto.name.clone())),
            files: files.clone(),
            nregs: proto.nregs as usize,
            code: proto.code.as_ptr(),
            simple_nargs: {
                let p = &proto.params;
                if proto.is_generator || p.vararg || p.nkwonly != 0 || p.kwarg { usize::MAX } else { p.nargs }
            },
        })
    }
    pub fn file_name(&self, idx: u32) -> Rc<str> {
        self.files.get(idx as usize).cloned().unwrap_or_else(|| "<unknown>".into())
    }
}

/// Turn a compiled constant into a runtime value.
pub fn const_value(c: &Const) -> Value {
    match c {
        Const::None => Value::None,
        Const::Bool(b) => Value::Bool(*b),
        Const::Int(i) => Value::Int(*i),
        Const::BigInt(b) => Value::from_bigint(b.clone()),
        Const::Float(f) => Value::Float(*f),
        Const::Str(s) => Value::str(s.clone()),
        Const::Bytes(b) => Value::Bytes(Rc::new(b.clone())),
        Const::Names(ns) => Value::tuple(ns.iter().map(|n| Value::str(n.clone())).collect()),
    }
}

/// A user function value: compiled code plus captured cells and evaluated defaults
/// (`Value::Function(Rc<Closure>)`).
pub struct Closure {
    pub func: Rc<Func>,
    pub upvals: Vec<Rc<RefCell<Value>>>,
    /// Positional defaults, then keyword-only defaults (see `Params`).
    pub defaults: Vec<Value>,
    /// Attributes set on the function object (`wrapper.cache = {}`); empty (no allocation) for
    /// almost every function.
    pub attrs: RefCell<Vec<(Rc<str>, Value)>>,
}

impl Drop for Closure {
    fn drop(&mut self) {
        // Closures capture cells that hold closures (`f = wrap(f)` in a loop): the values this
        // closure alone owns are freed through `deep_drop`, not by recursion.
        let attrs = std::mem::take(self.attrs.get_mut());
        if self.upvals.is_empty() && self.defaults.is_empty() && attrs.is_empty() {
            return;
        }
        let cells = std::mem::take(&mut self.upvals).into_iter().filter_map(|c| Rc::try_unwrap(c).ok().map(RefCell::into_inner));
        let defaults = std::mem::take(&mut self.defaults);
        crate::value::deep_drop::drop_items(cells.chain(defaults).chain(attrs.into_iter().map(|(_, v)| v)));
    }
}

impl Closure {
    pub fn name(&self) -> &str {
        &self.func.proto.name
    }
    pub fn qualname(&self) -> &str {
        &self.func.proto.qualname
    }
}

// ---------------------------------------------------------------------------------------------
// `&staticmethod` / `&property` markers.

fn forward_call(vm: &mut crate::Vm, args: &[Value], kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    // Never reached through `NativeFunc::func` with `data` unavailable: the interpreter and
    // `Vm::call_value` unwrap staticmethods before calling. Kept for completeness.
    let _ = (vm, args, kw);
    Err(crate::Exc::type_error("'staticmethod' object is not callable"))
}

/// `staticmethod(f)`.
pub fn make_staticmethod(f: Value) -> Value {
    Value::Native(Rc::new(NativeFunc { name: "staticmethod", func: forward_call, bound: None, data: Some(f) }))
}

/// The wrapped function of a `staticmethod` marker.
pub fn staticmethod_func(v: &Value) -> Option<&Value> {
    match v {
        Value::Native(n) if n.name == "staticmethod" && n.bound.is_none() => n.data.as_ref(),
        _ => None,
    }
}

fn property_call(_vm: &mut crate::Vm, _args: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    Err(crate::Exc::type_error("'property' object is not callable"))
}

/// `property(getter)`.
pub fn make_property(getter: Value) -> Value {
    Value::Native(Rc::new(NativeFunc { name: "property", func: property_call, bound: None, data: Some(getter) }))
}

/// The getter of a `property` marker (call it with the instance).
pub fn property_getter(v: &Value) -> Option<&Value> {
    match v {
        Value::Native(n) if n.name == "property" && n.bound.is_none() => n.data.as_ref(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn assert_send_sync<T: Send + Sync>() {}
    #[test]
    fn program_is_send_sync() {
        assert_send_sync::<Program>();
        assert_send_sync::<Arc<FuncProto>>();
    }
}
