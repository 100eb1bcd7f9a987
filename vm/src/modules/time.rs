//! `import time` (in progress).
use crate::value::Value;
pub fn module() -> Value { super::util::module("time", vec![]) }
