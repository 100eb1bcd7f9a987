//! Hand-assembled bytecode run on the interpreter (independent of the compiler).
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use ask_vm::code::{Const, FuncProto, Loc, Params, Program};
use ask_vm::opcode::{Instr, Op};
use ask_vm::value::{RangeObj, Value};
use ask_vm::{Exc, Host, HostCall, Limits, RunOutcome, Vm, VmResult};

struct TestHost(Rc<RefCell<String>>);
impl Host for TestHost {
    fn write_stdout(&mut self, t: &str) {
        self.0.borrow_mut().push_str(t)
    }
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
    fn call_blocking(&mut self, _vm: &mut Vm, call: HostCall) -> VmResult<Value> {
        match call {
            HostCall::Sleep(s) => Ok(Value::Float(s)),
            _ => Ok(Value::None),
        }
    }
}

fn vm_with(limits: Limits) -> Vm {
    let mut vm = Vm::new(Box::new(TestHost(Rc::new(RefCell::new(String::new())))), limits);
    vm.register_native("range", |_vm, args, _kw| {
        let (start, stop) = match args {
            [Value::Int(n)] => (0, *n),
            [Value::Int(a), Value::Int(b)] => (*a, *b),
            _ => return Err(Exc::type_error("range")),
        };
        Ok(Value::Range(Rc::new(RangeObj { start, stop, step: 1 })))
    });
    vm.register_native("sleep", |_vm, args, _kw| {
        let s = match args {
            [Value::Float(f)] => *f,
            _ => 0.0,
        };
        Err(Exc(Box::new(ask_vm::ExcData::Suspend(HostCall::Sleep(s)))))
    });
    vm
}

fn proto(name: &str, nparams: usize, nregs: u16, code: Vec<Instr>, consts: Vec<Const>) -> FuncProto {
    let locs = (0..code.len()).map(|i| Loc { file: 0, line: i as u32 + 1, col: 1 }).collect();
    FuncProto {
        name: name.into(),
        qualname: name.into(),
        params: Params { names: (0..nparams).map(|i| format!("p{i}")).collect(), nargs: nparams, ..Default::default() },
        nregs,
        code,
        locs,
        consts,
        ..Default::default()
    }
}

fn abc(op: Op, a: u8, b: u8, c: u8) -> Instr {
    Instr::abc(op, a, b, c)
}

fn fib_program(n: i16) -> Program {
    let fib = proto(
        "fib",
        1,
        4,
        vec![
            abc(Op::TestLtI, 0, 2, 0),
            Instr::jmp(1),
            abc(Op::Return, 0, 0, 0),
            Instr::abx(Op::GetGlobal, 1, 0),
            abc(Op::SubI, 2, 0, 1),
            abc(Op::Call, 1, 1, 0),
            Instr::abx(Op::GetGlobal, 2, 0),
            abc(Op::SubI, 3, 0, 2),
            abc(Op::Call, 2, 1, 0),
            abc(Op::Add, 1, 1, 2),
            abc(Op::Return, 1, 0, 0),
        ],
        vec![],
    );
    let mut main = proto(
        "<module>",
        0,
        2,
        vec![
            Instr::abx(Op::Closure, 0, 0),
            Instr::abx(Op::SetGlobal, 0, 0),
            Instr::abx(Op::GetGlobal, 0, 0),
            Instr::asbx(Op::LoadInt, 1, n),
            abc(Op::Call, 0, 1, 0),
            abc(Op::Return, 0, 0, 0),
        ],
        vec![],
    );
    main.protos.push(Arc::new(fib));
    Program::single(main, vec!["fib".into()], "fib.ask", "")
}

#[test]
fn fib_runs() {
    let mut vm = vm_with(Limits::default());
    vm.load(Arc::new(fib_program(20)));
    match vm.run_main() {
        Ok(Value::Int(6765)) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn deep_recursion_is_recursion_error() {
    let mut vm = vm_with(Limits { max_depth: 50, ..Limits::default() });
    vm.load(Arc::new(fib_program(60)));
    let e = vm.run_main().unwrap_err();
    let tb = vm.format_traceback(&e);
    assert!(tb.contains("RecursionError: maximum recursion depth exceeded"), "{tb}");
    assert!(tb.contains("fib.ask:6 in fib"), "{tb}");
    assert!(tb.contains("[Previous line repeated"), "{tb}");
}

/// s = 0; for i in range(n): s += i * i; return s
fn loop_program(n: i16) -> Program {
    let main = proto(
        "<module>",
        0,
        8,
        vec![
            abc(Op::LoadInt, 0, 0, 0), // s = 0
            Instr::abx(Op::GetGlobal, 1, 0),
            Instr::asbx(Op::LoadInt, 2, n),
            abc(Op::Call, 1, 1, 0), // r1 = range(n)
            abc(Op::ForPrep, 1, 0, 0),
            abc(Op::ForNext, 1, 4, 0), // 5
            Instr::jmp(3),
            abc(Op::Mul, 5, 4, 4),
            abc(Op::Aug, 0, 5, 0),
            Instr::jmp(-5),
            abc(Op::Return, 0, 0, 0),
        ],
        vec![],
    );
    Program::single(main, vec!["range".into()], "loop.ask", "")
}

#[test]
fn range_loop() {
    let mut vm = vm_with(Limits::default());
    vm.load(Arc::new(loop_program(1000)));
    match vm.run_main() {
        Ok(Value::Int(v)) => assert_eq!(v, (0..1000i64).map(|i| i * i).sum::<i64>()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn budget_limit() {
    let mut vm = vm_with(Limits { instruction_budget: 100, ..Limits::default() });
    vm.load(Arc::new(loop_program(1000)));
    let e = vm.run_main().unwrap_err();
    assert!(matches!(*e.0, ask_vm::ExcData::Limit(ask_vm::LimitKind::Instructions)));
}

/// try: x = 1 // 0  except ZeroDivisionError as e: return e   (through a builtin exception)
#[test]
fn except_catches_builtin() {
    // 1 // 0 with ints goes to ops::arith (lib) — use raise of a class instead.
    let main = proto(
        "<module>",
        0,
        4,
        vec![
            Instr::sj(Op::SetupExcept, 3),
            Instr::abx(Op::GetGlobal, 0, 0), // ZeroDivisionError
            abc(Op::Raise, 0, 0, 0),
            abc(Op::PopHandler, 0, 0, 0),
            // handler (index 4)
            Instr::abx(Op::GetGlobal, 1, 1), // ArithmeticError
            abc(Op::ExcMatch, 2, 1, 0),
            abc(Op::Test, 2, 0, 0),
            Instr::jmp(3),
            abc(Op::GetExc, 3, 0, 0),
            abc(Op::EndExcept, 0, 0, 0),
            abc(Op::Return, 3, 0, 0),
            abc(Op::Reraise, 0, 0, 0),
        ],
        vec![],
    );
    let mut vm = vm_with(Limits::default());
    vm.load(Arc::new(Program::single(main, vec!["ZeroDivisionError".into(), "ArithmeticError".into()], "t.ask", "")));
    match vm.run_main() {
        Ok(Value::Instance(i)) => assert_eq!(i.class.name.as_str(), "ZeroDivisionError"),
        other => panic!("{other:?}"),
    }
}

/// A task that suspends on a host call and is resumed with the result.
#[test]
fn task_suspends_and_resumes() {
    // def h(): x = sleep(1.5); return x
    let h = proto(
        "h",
        0,
        3,
        vec![Instr::abx(Op::GetGlobal, 0, 0), Instr::abx(Op::LoadK, 1, 0), abc(Op::Call, 0, 1, 0), abc(Op::Return, 0, 0, 0)],
        vec![Const::Float(1.5)],
    );
    let mut main = proto(
        "<module>",
        0,
        1,
        vec![Instr::abx(Op::Closure, 0, 0), Instr::abx(Op::SetGlobal, 0, 1), abc(Op::ReturnNone, 0, 0, 0)],
        vec![],
    );
    main.protos.push(Arc::new(h));
    let mut vm = vm_with(Limits::default());
    vm.load(Arc::new(Program::single(main, vec!["sleep".into(), "h".into()], "t.ask", "")));
    vm.run_main().unwrap();
    let h = vm.global("h").unwrap();
    let t = vm.start(&h, vec![]);
    match vm.run(t) {
        RunOutcome::Suspended(HostCall::Sleep(s)) => assert_eq!(s, 1.5),
        other => panic!("{other:?}"),
    }
    match vm.resume(t, Ok(Value::Int(42))) {
        RunOutcome::Done(Value::Int(42)) => {}
        other => panic!("{other:?}"),
    }
    vm.drop_task(t);
}

#[test]
fn disassembles() {
    let text = ask_vm::disasm::disassemble(&fib_program(20));
    assert!(text.contains("GetGlobal"), "{text}");
    assert!(text.contains("; fib"), "{text}");
    assert!(text.contains("function <module>.fib"), "{text}");
}
