//! The `ask` command line: `ask run FILE`, `ask check FILE`, `ask disasm FILE`, `ask FILE`,
//! `ask start|dev [FILE]` (serving, wired to the server crate), `--version`, `--help`.
//!
//! This is also the embedder of the VM for scripts: [`CliHost`] gives the VM buffered stdout
//! (flushed at exit and before anything is written to stderr, so output and tracebacks appear in
//! order), the system clocks, environment variables, a seeded PRNG and blocking sleeps.

use std::cell::RefCell;
use std::io::Write;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ask_compiler::compile::{compile_program, compile_program_here, render_diagnostics, COMPILE_STACK_HERE};
use ask_compiler::diagnostic::{Diagnostic, Severity};
use ask_vm::code::Program;
use ask_vm::error::{Exc, ExcData};
use ask_vm::value::ExcKind;
use ask_vm::{Host, HostCall, Limits, Value, Vm, VmResult};

mod alloc;

/// See `alloc.rs` for why the binary does not use the system allocator.
#[global_allocator]
static ALLOC: alloc::Mimalloc = alloc::Mimalloc;

const USAGE: &str = "\
Ask — a small Python-like language for REST back-ends

Usage:
  ask FILE                 run FILE (a program with routes is served)
  ask run FILE             run a script once (exit 1 with a traceback on an uncaught error)
  ask check FILE           report compile errors and warnings without running
  ask disasm FILE          print the compiled bytecode
  ask start [FILE]         serve FILE (default main.ask) in production mode
  ask dev [FILE]           serve FILE with hot reload
  ask --version            print the version
  ask --help               print this help

Options for start/dev/FILE: --host HOST  --port PORT
";

fn main() -> ExitCode {
    // The process starts with small pages (and keeps them for small scripts); see `alloc.rs`.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = run_cli(&args);
    ExitCode::from(code)
}

fn run_cli(args: &[String]) -> u8 {
    let Some(first) = args.first() else {
        eprint!("{USAGE}");
        return 2;
    };
    match first.as_str() {
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            0
        }
        "-v" | "-V" | "--version" | "version" => {
            println!("ask {}", env!("CARGO_PKG_VERSION"));
            0
        }
        "run" => match file_arg(&args[1..]) {
            Some(f) => cmd_run(&f),
            None => usage_error("ask run: missing FILE"),
        },
        "check" => match file_arg(&args[1..]) {
            Some(f) => cmd_check(&f),
            None => usage_error("ask check: missing FILE"),
        },
        "disasm" => match file_arg(&args[1..]) {
            Some(f) => cmd_disasm(&f),
            None => usage_error("ask disasm: missing FILE"),
        },
        "dev" => {
            // `ask dev` compiles inside the server: a program that is broken at start-up is still
            // served (503 naming the error) and picked up as soon as it compiles.
            let opts = ServeOptions::parse(&args[1..], true);
            let file = opts.file.clone().unwrap_or_else(|| "main.ask".to_string());
            flush_stdout();
            alloc::huge_pages(true);
            let dev = ask_server::dev::DevOptions { host: opts.host.clone(), port: opts.port, poll: opts.poll };
            ask_server::dev::run(std::path::Path::new(&file), dev, false).clamp(0, 255) as u8
        }
        "start" => {
            let opts = ServeOptions::parse(&args[1..], false);
            let file = opts.file.clone().unwrap_or_else(|| "main.ask".to_string());
            match compile_or_report(&file) {
                Some(program) => serve(program, &file, &opts),
                None => 1,
            }
        }
        s if s.starts_with('-') => usage_error(&format!("ask: unknown option '{s}'")),
        _ => {
            let opts = ServeOptions::parse(args, false);
            let file = opts.file.clone().unwrap_or_else(|| first.clone());
            let Some(program) = compile_or_report(&file) else { return 1 };
            if program.routes.is_empty() {
                run_program(program)
            } else {
                serve(program, &file, &opts)
            }
        }
    }
}

fn usage_error(msg: &str) -> u8 {
    eprintln!("{msg}\n");
    eprint!("{USAGE}");
    2
}

fn file_arg(rest: &[String]) -> Option<String> {
    rest.iter().find(|a| !a.starts_with('-')).cloned()
}

/// Options of the serving commands.
#[derive(Default, Clone, Debug)]
pub struct ServeOptions {
    pub file: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub dev: bool,
    pub poll: bool,
}

impl ServeOptions {
    fn parse(args: &[String], dev: bool) -> ServeOptions {
        let mut o = ServeOptions { dev, ..Default::default() };
        let mut i = 0;
        while i < args.len() {
            match args[i].as_str() {
                "--host" => {
                    o.host = args.get(i + 1).cloned();
                    i += 1;
                }
                "--port" => {
                    o.port = args.get(i + 1).and_then(|p| p.parse().ok());
                    i += 1;
                }
                "--poll" => o.poll = true,
                a if !a.starts_with('-') && o.file.is_none() => o.file = Some(a.to_string()),
                _ => {}
            }
            i += 1;
        }
        o
    }
}

// ================================================================================================
// SERVE HOOK — the server helper provides `ask_server` entry points; the lead wires them here
// (`ask start`, `ask dev`, and `ask FILE` for a program with routes).
// ================================================================================================
fn serve(program: Program, file: &str, opts: &ServeOptions) -> u8 {
    flush_stdout();
    alloc::huge_pages(true);
    let code = ask_server::serve_program(program, std::path::Path::new(file), opts.host.clone(), opts.port, opts.dev);
    code.clamp(0, 255) as u8
}

// ------------------------------------------------------------------------------------------------
// Compiling.


/// Compile `file`, printing warnings/errors to stderr; `None` on errors.
fn compile_or_report(file: &str) -> Option<Program> {
    compile_file(file, false).ok().map(|(p, _)| p)
}

fn compile_file(file: &str, show_warnings: bool) -> Result<(Program, Vec<Diagnostic>), ()> {
    if let Err(e) = std::fs::metadata(file) {
        eprintln!("ask: cannot open '{file}': {}", io_reason(&e));
        return Err(());
    }
    let mut loader = ask_server::compile::FsLoader::default();
    let compiled = if main_stack_allows_compiling() {
        compile_program_here(file, &mut loader)
    } else {
        compile_program(file, &mut loader)
    };
    match compiled {
        Ok((program, warnings)) => {
            if show_warnings && !warnings.is_empty() {
                eprint!("{}", render_diagnostics(&warnings, &loader.files));
            }
            Ok((program, warnings))
        }
        Err(errors) => {
            eprint!("{}", render_diagnostics(&errors, &loader.files));
            let n = errors.iter().filter(|d| d.severity == Severity::Error).count();
            if n > 1 {
                eprintln!("{n} errors");
            }
            Err(())
        }
    }
}

/// Whether the main thread (where the CLI compiles) may grow its stack to what
/// [`compile_program_here`] needs. Under a smaller `ulimit -s` the compiler gets its own
/// big-stack thread instead.
fn main_stack_allows_compiling() -> bool {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit only writes the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut lim) } != 0 {
        return false;
    }
    lim.rlim_cur == libc::RLIM_INFINITY || lim.rlim_cur as usize >= COMPILE_STACK_HERE
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "Permission denied".into(),
        _ => e.to_string(),
    }
}

fn cmd_check(file: &str) -> u8 {
    match compile_file(file, true) {
        Ok((program, warnings)) => {
            let routes = program.routes.len();
            println!(
                "{file}: ok ({} route{}, {} warning{})",
                routes,
                if routes == 1 { "" } else { "s" },
                warnings.len(),
                if warnings.len() == 1 { "" } else { "s" }
            );
            0
        }
        Err(()) => 1,
    }
}

fn cmd_disasm(file: &str) -> u8 {
    match compile_or_report(file) {
        Some(program) => {
            print!("{}", ask_vm::disasm::disassemble(&program));
            0
        }
        None => 1,
    }
}

fn cmd_run(file: &str) -> u8 {
    match compile_or_report(file) {
        Some(program) => run_program(program),
        None => 1,
    }
}

// ------------------------------------------------------------------------------------------------
// Running scripts.

fn run_program(program: Program) -> u8 {
    let out = Rc::new(RefCell::new(Vec::with_capacity(1 << 14)));
    set_stdout(out.clone());
    let host = CliHost::new(out);
    let mut vm = Vm::new(Box::new(host), Limits::default());
    vm.load(Arc::new(program));
    let result = vm.run_main();
    let code = match result {
        Ok(_) => 0,
        Err(exc) => {
            let text = traceback_text(&mut vm, exc);
            flush_stdout();
            let stderr = std::io::stderr();
            let mut e = stderr.lock();
            let _ = writeln!(e, "{text}");
            1
        }
    };
    flush_stdout();
    // The process ends here: tearing down the heap value by value would only cost time (a
    // 200,000-item list is ~5 % of a short script's run) and Ask has no finalizers to run.
    std::mem::forget(vm);
    code
}

/// The Ask traceback (`file:line in function` lines, innermost last, then `Type: message`), as
/// the VM formats it.
fn traceback_text(vm: &mut Vm, exc: Exc) -> String {
    match &*exc.0 {
        ExcData::Respond(_) => "error: respond() used outside a route handler".to_string(),
        _ => vm.format_traceback(&exc),
    }
}

thread_local! {
    static STDOUT_BUF: RefCell<Option<Rc<RefCell<Vec<u8>>>>> = const { RefCell::new(None) };
}

fn set_stdout(buf: Rc<RefCell<Vec<u8>>>) {
    STDOUT_BUF.with(|b| *b.borrow_mut() = Some(buf));
}

/// Write out whatever `print` buffered.
fn flush_stdout() {
    STDOUT_BUF.with(|b| {
        if let Some(buf) = &*b.borrow() {
            write_out(&mut buf.borrow_mut());
        }
    });
    let _ = std::io::stdout().flush();
}

fn write_out(buf: &mut Vec<u8>) {
    if buf.is_empty() {
        return;
    }
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    let _ = lock.write_all(buf);
    let _ = lock.flush();
    buf.clear();
}

/// The VM's window on the world when running a script from the command line.
pub struct CliHost {
    out: Rc<RefCell<Vec<u8>>>,
    start: Instant,
    rng: u64,
}

impl CliHost {
    fn new(out: Rc<RefCell<Vec<u8>>>) -> CliHost {
        use std::hash::{BuildHasher, Hasher};
        // Seed from the clock and the process's hash-map keys (randomised per process by std).
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        h.write_u128(nanos);
        h.write_usize(&h as *const _ as usize);
        h.write_u32(std::process::id());
        CliHost { out, start: Instant::now(), rng: h.finish() | 1 }
    }

    fn next_u64(&mut self) -> u64 {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Host for CliHost {
    fn write_stdout(&mut self, text: &str) {
        let mut out = self.out.borrow_mut();
        out.extend_from_slice(text.as_bytes());
        if out.len() >= 1 << 16 {
            write_out(&mut out);
        }
    }
    fn now(&mut self) -> f64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
    }
    fn monotonic(&mut self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
    fn random_bytes(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let r = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
    }
    fn env_var(&mut self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn env_vars(&mut self) -> Vec<(String, String)> {
        std::env::vars().collect()
    }
    fn call_blocking(&mut self, _vm: &mut Vm, call: HostCall) -> VmResult<Value> {
        match call {
            HostCall::Sleep(secs) => {
                write_out(&mut self.out.borrow_mut());
                if secs.is_finite() && secs > 0.0 {
                    std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(1e9)));
                }
                Ok(Value::None)
            }
            HostCall::Op { name, .. } => Err(Exc::new(
                ExcKind::RuntimeError,
                format!("'{name}' is not available when running a script (it needs the server)"),
            )),
        }
    }
}
