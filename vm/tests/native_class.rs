//! A class implemented natively without a built-in tag (`Class::builtin == None`) is constructed
//! through its native `__new__`, and dropping deeply nested containers does not overflow the stack.
use std::cell::RefCell;
use std::rc::Rc;

use ask_vm::value::{Class, NativeFunc, StrObj, Value};
use ask_vm::{Host, HostCall, Limits, Vm, VmResult};

struct NoHost;
impl Host for NoHost {
    fn write_stdout(&mut self, _: &str) {}
    fn now(&mut self) -> f64 {
        0.0
    }
    fn monotonic(&mut self) -> f64 {
        0.0
    }
    fn random_bytes(&mut self, b: &mut [u8]) {
        b.fill(4)
    }
    fn env_var(&mut self, _: &str) -> Option<String> {
        None
    }
    fn env_vars(&mut self) -> Vec<(String, String)> {
        vec![]
    }
    fn call_blocking(&mut self, _vm: &mut Vm, _call: HostCall) -> VmResult<Value> {
        Ok(Value::None)
    }
}

fn new_point(_vm: &mut Vm, args: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    Ok(Value::tuple(vec![Value::str("point"), Value::Int(args.len() as i64)]))
}

#[test]
fn untagged_class_uses_native_new() {
    let mut vm = Vm::new(Box::new(NoHost), Limits::default());
    let cls = Class {
        name: Rc::new(StrObj::new("Point".into())),
        base: None,
        attrs: RefCell::new(Default::default()),
        builtin: None,
    };
    cls.attrs.borrow_mut().insert(
        Rc::from("__new__"),
        Value::Native(Rc::new(NativeFunc { name: "__new__", func: new_point, bound: None, data: None })),
    );
    let cls = Value::Class(Rc::new(cls));
    let v = vm.call_value(&cls, &[Value::Int(1), Value::Int(2)], &[]).ok().expect("constructed");
    match v {
        Value::Tuple(t) => assert!(matches!(t[1], Value::Int(2))),
        _ => panic!("__new__ was not used"),
    }
}

#[test]
fn deep_nesting_drops_iteratively() {
    let mut x = Value::list(vec![]);
    for _ in 0..1_000_000 {
        x = Value::list(vec![x]);
    }
    let mut t = Value::tuple(vec![]);
    for _ in 0..1_000_000 {
        t = Value::tuple(vec![t, Value::Int(1)]);
    }
    drop(x);
    drop(t);
}
