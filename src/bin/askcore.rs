//! Local driver for the core helper (not committed): ask run FILE [--dis]
use std::sync::Arc;
use ask_vm::{Host, HostCall, Limits, Value, Vm, VmResult};
struct H;
impl Host for H {
    fn write_stdout(&mut self, t: &str) { use std::io::Write; let _ = std::io::stdout().write_all(t.as_bytes()); }
    fn now(&mut self) -> f64 { 0.0 }
    fn monotonic(&mut self) -> f64 { 0.0 }
    fn random_bytes(&mut self, b: &mut [u8]) { b.fill(7) }
    fn env_var(&mut self, _: &str) -> Option<String> { None }
    fn env_vars(&mut self) -> Vec<(String, String)> { vec![] }
    fn call_blocking(&mut self, _vm: &mut Vm, _c: HostCall) -> VmResult<Value> { Ok(Value::None) }
}
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let file = args.iter().skip(1).find(|a| *a != "run" && !a.starts_with("--")).unwrap();
    let src = std::fs::read_to_string(file).unwrap();
    match ask_compiler::compile::compile_source(file, &src) {
        Err(d) => { eprintln!("{}", ask_compiler::compile::render_diagnostics(&d, &[(file.clone(), src.clone())])); std::process::exit(1) }
        Ok((p, _)) => {
            if args.iter().any(|a| a == "--dis") { println!("{}", ask_vm::disasm::disassemble(&p)); return; }
            let mut vm = Vm::new(Box::new(H), Limits::default());
            vm.load(Arc::new(p));
            if let Err(e) = vm.run_main() { eprintln!("{}", vm.format_traceback(&e)); std::process::exit(1) }
        }
    }
}
