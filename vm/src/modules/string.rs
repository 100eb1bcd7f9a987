//! `import string` (in progress).
use crate::value::Value;
pub fn module() -> Value { super::util::module("string", vec![]) }
