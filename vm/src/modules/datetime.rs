//! `import datetime` (in progress).
use crate::value::Value;
use crate::Vm;
pub fn module(_vm: &mut Vm) -> Value { super::util::module("datetime", vec![]) }
