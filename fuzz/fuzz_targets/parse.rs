//! Fuzz target: arbitrary bytes (lossy UTF-8) through the lexer and parser. Any panic, stack
//! overflow, timeout or out-of-memory is a bug; errors must render without panicking too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    match ask_compiler::parser::parse_module(&src, "fuzz.ask") {
        Ok(m) => {
            let _ = ask_compiler::parser::dump_ast(&m);
        }
        Err(diags) => {
            for d in &diags {
                let _ = ask_compiler::diagnostic::render(d, &src);
            }
        }
    }
});
