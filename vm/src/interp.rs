//! The register interpreter (work in progress: API skeleton so dependents compile).
use std::rc::Rc;
use std::sync::Arc;

use crate::code::Program;
use crate::error::{Exc, ExcData, VmResult};
use crate::value::{ExcKind, StrObj, Value};
use crate::vm::{RunOutcome, TaskId, Vm};

/// A task's execution state (register stack, frames, handlers).
#[derive(Default)]
pub struct Task {
    pub(crate) stack: Vec<Value>,
}

pub(crate) fn call_nested(_vm: &mut Vm, _f: &Value, _args: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    Err(Exc::new(ExcKind::NotImplementedError, "interpreter not implemented yet"))
}
pub(crate) fn builtin_exception_instance(vm: &mut Vm, kind: ExcKind, msg: &str) -> Value {
    crate::builtins::exception_instance(vm, kind, msg)
}
pub(crate) fn load_program(vm: &mut Vm, program: Arc<Program>) {
    vm.program = Some(program);
}
pub(crate) fn run_main(_vm: &mut Vm) -> VmResult<Value> {
    Err(Exc::new(ExcKind::NotImplementedError, "interpreter not implemented yet"))
}
pub(crate) fn start_task(vm: &mut Vm, _f: &Value, _args: Vec<Value>) -> TaskId {
    let id = vm.next_task;
    vm.next_task += 1;
    TaskId(id)
}
pub(crate) fn run_task(_vm: &mut Vm, _t: TaskId, _resume: Option<VmResult<Value>>) -> RunOutcome {
    RunOutcome::Failed(Exc::new(ExcKind::NotImplementedError, "interpreter not implemented yet"))
}
pub(crate) fn format_traceback(_vm: &mut Vm, exc: &Exc) -> String {
    match &*exc.0 {
        ExcData::Builtin { kind, msg, .. } => format!("{}: {}", kind.name(), msg),
        _ => format!("{exc:?}"),
    }
}
