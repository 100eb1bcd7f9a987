//! `import base64` (in progress).
use crate::value::Value;
pub fn module() -> Value { super::util::module("base64", vec![]) }
