//! Entry points: `ask start` ([`run_start`]) and the serving half of `ask dev` ([`run_dev`]),
//! plus [`start_in_process`] for tests (a server on a loopback port inside the test process).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ask_vm::code::Program;

use crate::config::{self, Config};
use crate::http::{self, App, ServerHandle};
use crate::vmapp;

/// Compile `file` (with its includes/extends) into a program; `Err` is the rendered diagnostics.
/// Warnings are printed to stderr.
pub fn compile_file(file: &Path) -> Result<Arc<Program>, String> {
    crate::compile::compile(file)
}

/// Everything needed to serve a program, prepared before the runtime starts.
pub struct Prepared {
    pub app: Arc<App>,
    pub cfg: Config,
    pub routes: usize,
}

/// Read the Askfile and `.env`, compile (unless `program` is given), run the top level, build
/// the app.
pub fn prepare(file: &Path, program: Option<Arc<Program>>, host: Option<String>, port: Option<u16>, dev: bool) -> Result<Prepared, String> {
    let dir = file.parent().map(Path::to_path_buf).filter(|p| !p.as_os_str().is_empty()).unwrap_or_else(|| PathBuf::from("."));
    if !file.is_file() {
        return Err(format!("ask: cannot open {}: no such file", file.display()));
    }
    let mut cfg = config::load(&dir).map_err(|e| format!("ask: {e}"))?;
    for n in &cfg.notices {
        eprintln!("ask: note: {n}");
    }
    if let Some(h) = host {
        cfg.host = h;
    }
    if let Some(p) = port {
        cfg.port = p;
    }
    cfg.dev = dev; // [authwire hook]
    let env_path = dir.join(".env");
    let mut dotenv = Vec::new();
    if env_path.is_file() {
        match std::fs::read_to_string(&env_path) {
            Ok(text) => {
                let (vars, bad) = crate::dotenv::parse(&text);
                for (line, msg) in bad {
                    eprintln!("ask: {}:{line}: {msg}; line skipped", env_path.display());
                }
                dotenv = vars;
            }
            Err(e) => eprintln!("ask: cannot read {}: {e}", env_path.display()),
        }
    }
    let program = match program {
        Some(p) => p,
        None => compile_file(file)?,
    };
    let title = file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| "Ask API".into());
    let routes = program.routes.clone();
    let (vm, ctx) = vmapp::boot(program, &cfg, Arc::new(dotenv))?;
    let engine = Arc::new(vmapp::VmEngine::new(vm, ctx, &cfg, dev));
    let app = Arc::new(App::new(engine, &routes, cfg.clone(), &title, dev));
    Ok(Prepared { app, cfg, routes: routes.len() })
}

/// Stack size of the runtime's worker threads. Handlers run on them, and the VM's recursion
/// through native code is bounded by counts (nested interpreter loops, structural walks such as
/// `repr` or iterators of iterators), not by bytes: tokio's 2 MiB default is too tight for the
/// deepest allowed case; the main thread's usual 8 MiB is enough. (Only touched pages cost
/// memory.)
const WORKER_STACK: usize = 8 << 20;

/// The tokio runtime: one worker per CPU this process may run on; with a single CPU (a small
/// container, or `taskset -c 0`) and `single_ok`, a current-thread runtime, which skips the
/// work-stealing machinery that cannot help there. (`ask dev` asks for workers: its reloader
/// blocks on threads of its own.)
pub(crate) fn runtime(single_ok: bool) -> std::io::Result<tokio::runtime::Runtime> {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    if cpus == 1 && single_ok {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(cpus).thread_stack_size(WORKER_STACK).enable_all().build()
    }
}

fn serve_blocking(file: &Path, program: Option<Arc<Program>>, host: Option<String>, port: Option<u16>, dev: bool) -> i32 {
    let prepared = match prepare(file, program, host, port, dev) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{}", e.trim_end());
            return 1;
        }
    };
    let rt = match runtime(true) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ask: cannot start the runtime: {e}");
            return 1;
        }
    };
    rt.block_on(async move {
        let cfg = &prepared.cfg;
        let addr = format!("{}:{}", cfg.host, cfg.port);
        let listener = match tokio::net::TcpListener::bind(&addr).await {
            Ok(l) => l,
            Err(e) => {
                let hint = if e.kind() == std::io::ErrorKind::AddrInUse { " (is another server running? use --port)" } else { "" };
                eprintln!("ask: cannot listen on {addr}: {e}{hint}");
                return 1;
            }
        };
        // Before the banner: a client that reads it may signal right away.
        let stop = http::shutdown_signal();
        let local = listener.local_addr().map(|a| a.to_string()).unwrap_or(addr);
        let mode = if dev { "development" } else { "production" };
        let n = prepared.routes;
        println!("Ask serving {} ({mode} mode): {n} route{}", file.display(), if n == 1 { "" } else { "s" });
        println!("  * Running on http://{local}  (Ctrl+C to stop; API docs at /docs)");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        http::serve(prepared.app.clone(), listener, stop).await;
        println!("Ask: stopped.");
        0
    })
}

/// `ask start [FILE] [--host H] [--port P]`: serve in production. Returns the exit status.
pub fn run_start(file: &Path, host: Option<String>, port: Option<u16>) -> i32 {
    serve_blocking(file, None, host, port, false)
}

/// Serve an already compiled program (the CLI compiles first to report errors its own way).
pub fn serve_program(program: Program, file: &Path, host: Option<String>, port: Option<u16>, dev: bool) -> i32 {
    if dev {
        // [dev hook] hot reload; the CLI compiled once already (warnings printed), so quiet.
        drop(program);
        return crate::dev::run(file, dev_options(host, port), true);
    }
    serve_blocking(file, Some(Arc::new(program)), host, port, dev)
}

/// `ask dev`'s serving: like `start`, but error responses carry the exception and traceback.
/// (Hot reload is the dev issue's part.)
pub fn run_dev(file: &Path, host: Option<String>, port: Option<u16>) -> i32 {
    crate::dev::run(file, dev_options(host, port), false) // [dev hook]
}

/// [dev hook] `--poll` is read from the process arguments (the CLI does not pass it through).
fn dev_options(host: Option<String>, port: Option<u16>) -> crate::dev::DevOptions {
    crate::dev::DevOptions { host, port, poll: std::env::args().any(|a| a == "--poll") }
}

/// Start a server for `file` on `127.0.0.1:0` inside the current tokio runtime (tests).
pub async fn start_in_process(file: &Path, dev: bool) -> Result<ServerHandle, String> {
    let prepared = prepare(file, None, Some("127.0.0.1".into()), Some(0), dev)?;
    start_app(prepared.app).await
}

/// Serve an already built app on `127.0.0.1:0` (tests with their own engines).
pub async fn start_app(app: Arc<App>) -> Result<ServerHandle, String> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.map_err(|e| e.to_string())?;
    Ok(http::spawn(app, listener))
}
