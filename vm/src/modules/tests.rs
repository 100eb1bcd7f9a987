//! Rust-level tests of the native modules against a deterministic test host: the entry points
//! other crates use (`to_json_compact`, `from_json`, the helper values), host-driven clocks and
//! environment, and hostile inputs that must become errors rather than crashes.

use super::*;
use crate::error::{ExcData, VmResult};
use crate::host::{Host, HostCall};
use crate::value::{ExcKind, Value};
use crate::{Limits, Vm};

struct TestHost {
    counter: u8,
}

impl Host for TestHost {
    fn write_stdout(&mut self, _text: &str) {}
    fn now(&mut self) -> f64 {
        1_700_000_000.5
    }
    fn monotonic(&mut self) -> f64 {
        42.0
    }
    fn local_offset(&mut self, _unix: f64) -> i64 {
        3600
    }
    fn random_bytes(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.counter = self.counter.wrapping_add(1);
            *b = self.counter;
        }
    }
    fn env_var(&mut self, name: &str) -> Option<String> {
        (name == "ASK_TEST").then(|| "yes".to_string())
    }
    fn env_vars(&mut self) -> Vec<(String, String)> {
        vec![("ASK_TEST".into(), "yes".into())]
    }
    fn call_blocking(&mut self, _vm: &mut Vm, _call: HostCall) -> VmResult<Value> {
        Ok(Value::None)
    }
}

fn vm() -> Vm {
    Vm::new(Box::new(TestHost { counter: 0 }), Limits::default())
}

fn attr(m: &Value, name: &str) -> Value {
    match m {
        Value::Module(m) => m.attrs.borrow().get(name).cloned().expect(name),
        _ => panic!("not a module"),
    }
}

fn call(vm: &mut Vm, m: &Value, name: &str, args: &[Value]) -> VmResult<Value> {
    let f = attr(m, name);
    vm.call_value(&f, args, &[])
}

fn kind_of(e: &crate::Exc) -> Option<ExcKind> {
    match &*e.0 {
        ExcData::Builtin { kind, .. } => Some(*kind),
        _ => None,
    }
}

#[test]
fn every_name_loads() {
    let mut vm = vm();
    for name in NAMES {
        assert!(matches!(load(&mut vm, name), Some(Ok(Value::Module(_)))), "{name}");
    }
    assert!(load(&mut vm, "nope").is_none());
    let mut sorted = NAMES.to_vec();
    sorted.sort();
    assert_eq!(sorted, NAMES);
}

#[test]
fn compact_json_for_responses() {
    let mut vm = vm();
    let v = json::from_json(&mut vm, r#"{"b": [1, 2.5, "caf\u00e9", null, true], "a": {"x": 12345678901234567890}}"#).unwrap();
    assert_eq!(
        json::to_json_compact(&mut vm, &v).unwrap(),
        r#"{"b":[1,2.5,"café",null,true],"a":{"x":12345678901234567890}}"#
    );
    let dtm = load(&mut vm, "datetime").unwrap().unwrap();
    let cls = attr(&dtm, "datetime");
    let d = vm.call_value(&cls, &[Value::Int(2024), Value::Int(1), Value::Int(2), Value::Int(3)], &[]).unwrap();
    let u = uuid::uuid4_string(&mut vm);
    assert_eq!(u.len(), 36);
    assert_eq!(json::to_json_compact(&mut vm, &Value::list(vec![d])).unwrap(), r#"["2024-01-02T03:00:00"]"#);
}

#[test]
fn hostile_json_nesting_is_an_error() {
    let mut vm = vm();
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    assert!(json::from_json(&mut vm, &deep).is_err());
    let mut v = Value::list(vec![]);
    for _ in 0..2000 {
        v = Value::list(vec![v]);
    }
    let e = json::to_json_compact(&mut vm, &v).unwrap_err();
    assert_eq!(kind_of(&e), Some(ExcKind::RecursionError));
    let l = Value::list(vec![]);
    if let Value::List(inner) = &l {
        inner.borrow_mut().push(l.clone());
    }
    let e = json::to_json_compact(&mut vm, &l).unwrap_err();
    assert_eq!(kind_of(&e), Some(ExcKind::ValueError));
    if let Value::List(inner) = &l {
        inner.borrow_mut().clear();
    }
    assert_eq!(json::from_json(&mut vm, "{\"a\" 1}").unwrap_err(), "Expecting ':' delimiter: line 1 column 6 (char 5)");
}

#[test]
fn clock_environment_and_sleep_come_from_the_host() {
    let mut vm = vm();
    let dtm = load(&mut vm, "datetime").unwrap().unwrap();
    let now = call(&mut vm, &dtm, "now", &[]).unwrap();
    assert_eq!(crate::format::to_str(&mut vm, &now).unwrap(), "2023-11-14 23:13:20.500000");
    let cls = datetime::datetime_class_value(&mut vm);
    assert!(matches!(cls, Value::Class(_)));
    let t = load(&mut vm, "time").unwrap().unwrap();
    assert!(matches!(call(&mut vm, &t, "monotonic", &[]), Ok(Value::Float(f)) if f == 42.0));
    let f = attr(&t, "sleep");
    let Value::Native(n) = &f else { panic!("sleep is a native") };
    let e = (n.func)(&mut vm, &[Value::Float(0.5)], &[]).unwrap_err();
    assert!(matches!(&*e.0, ExcData::Suspend(HostCall::Sleep(s)) if *s == 0.5));
    let os = load(&mut vm, "os").unwrap().unwrap();
    assert_eq!(json::to_json_compact(&mut vm, &attr(&os, "environ")).unwrap(), r#"{"ASK_TEST":"yes"}"#);
    assert!(matches!(call(&mut vm, &os, "getenv", &[Value::str("ASK_TEST")]), Ok(Value::Str(s)) if s.s == "yes"));
}

#[test]
fn random_helper_shares_the_module_generator() {
    let mut vm = vm();
    let h = random::helper_value(&mut vm).unwrap();
    let m = cached(&mut vm, "random").unwrap().unwrap();
    assert_eq!(crate::value::identity(&h), crate::value::identity(&m));
    call(&mut vm, &m, "seed", &[Value::Int(42)]).unwrap();
    assert!(matches!(call(&mut vm, &h, "random", &[]), Ok(Value::Float(f)) if f == 0.6394267984578837));
    let x = call(&mut vm, &h, "int", &[Value::Int(1), Value::Int(6)]).unwrap();
    assert!(matches!(x, Value::Int(1..=6)));
}
