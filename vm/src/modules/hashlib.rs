//! `import hashlib` (in progress).
use crate::value::Value;
pub fn module() -> Value { super::util::module("hashlib", vec![]) }
