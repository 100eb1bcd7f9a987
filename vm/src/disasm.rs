//! Human-readable listing of compiled programs (`ask disasm`, golden tests).
use crate::code::Program;

/// Every proto of the program, one instruction per line.
pub fn disassemble(program: &Program) -> String {
    let _ = program;
    String::new()
}
