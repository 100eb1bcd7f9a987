//! Compiled code (stub; owned by the interpreter work).
pub struct Closure;
