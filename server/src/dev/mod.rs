//! `ask dev [FILE]`: serve like `ask start` (same flags, same Askfile) and hot-swap the program
//! when its source changes, without restarting the process or dropping a connection (ASK.md §3).
//!
//! # Design
//!
//! **Swapping.** What serves is one `Arc<App>` (router, docs, settings and the `VmEngine` with
//! the program's VM) held in an `ArcSwapOption`. Every request takes one snapshot of it when it
//! arrives and runs to the end on that snapshot, so a request that started on the old program
//! finishes on it, and the next one sees the new one; the swap itself is one atomic store.
//! Routes, bytecode, globals and settings change together because they live in the same `App`.
//! `None` means "no program yet" (broken at start-up): requests get 503 JSON naming the error.
//!
//! **Reloading** (`reload`): file events (`watch`) → debounce → content hashes (skip when nothing
//! changed) → build on a blocking thread → re-check the hashes (discard a build of files that
//! changed while it ran) → publish. A failed build leaves the last good program serving, prints
//! the diagnostics as `ask check` does, and makes every response carry `X-Ask-Reload-Error: 1`
//! until a build succeeds. A change of `[server]` host/port rebinds the listener (connections on
//! the old one are kept until they close).
//!
//! **Globals** (`globals`): a module-level global whose top-level defining statements are
//! textually unchanged keeps its value: the new program's VM runs its own top level, then the
//! old VM's value is stored into the new VM's global slot.
//!
//! # Safety: one lock for every VM of the process
//!
//! VM values are `Rc`/`RefCell` (non-atomic). In `ask start` there is one VM and its mutex is the
//! GIL (see the crate docs). After a swap that carried globals over, the old and the new VM hold
//! the *same* `Rc` objects (the list in `items = []` is in both), and the old VM may still be
//! running requests that started before the swap. Two VMs sharing objects under two different
//! locks could touch one refcount from two threads at once. So in dev every `VmEngine` is given
//! the same process-wide `gil` (`VmEngine::with_gil`), which it takes before its own lock for
//! every run and resume; the reloader takes it to copy values between VMs. Sharing is
//! transitive (v1 shares with v2, v2 with v3), hence one lock for all rather than one per pair.
//! The remaining ways to touch a VM's refcounts are:
//! - *Running top-level code* of a new VM: done before it shares anything, on a private thread.
//! - *Moving* a VM (into an engine, across threads): moves do not touch refcounts.
//! - *Dropping* a VM: every engine that ever shared values (every one built by dev) is kept by
//!   the [`Keeper`]; it is dropped only by the keeper, under the gil, once the keeper holds the
//!   last reference (`Arc::strong_count == 1`, so no request can still reach it: new references
//!   are made only by cloning an existing one). In-flight requests therefore never drop a VM.
//!   If the keeper itself goes away (shutdown) while the gil is busy or an engine is still
//!   referenced, those engines are leaked rather than dropped unlocked.
//! No `Value` leaves the gil scope: replies are plain bytes, and the carried values go from one
//! VM to the other within one locked section.

pub mod globals;
pub mod reload;
pub mod watch;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, Response};
use tokio::net::TcpListener;

use crate::http::{self, App};
use crate::vmapp::VmEngine;
use globals::DefMap;
use reload::{Built, Reloader};

/// Command-line options of `ask dev`.
#[derive(Clone, Debug, Default)]
pub struct DevOptions {
    pub host: Option<String>,
    pub port: Option<u16>,
    /// `--poll`: poll the files instead of waiting for file-system events.
    pub poll: bool,
}

/// What is being served, fixed for the process.
pub struct Spec {
    /// The entry file as given (the compiler's path for it).
    pub name: String,
    pub abs_file: PathBuf,
    /// The program's folder (as given, for reading the Askfile) and absolute (for watching).
    pub dir: PathBuf,
    pub abs_dir: PathBuf,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub title: String,
}

impl Spec {
    fn new(file: &Path, opts: &DevOptions) -> Spec {
        let dir = file.parent().map(Path::to_path_buf).filter(|p| !p.as_os_str().is_empty()).unwrap_or_else(|| PathBuf::from("."));
        Spec {
            name: file.to_string_lossy().into_owned(),
            abs_file: watch::absolute(file),
            abs_dir: watch::absolute(&dir),
            dir,
            host: opts.host.clone(),
            port: opts.port,
            title: file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| "Ask API".into()),
        }
    }
}

/// Owns every engine dev ever built, and drops them only under the gil (module docs).
pub struct Keeper {
    gil: Arc<tokio::sync::Mutex<()>>,
    /// Retired or unpublished programs (the app is dropped first, then the engine).
    entries: Vec<(Option<Arc<App>>, Arc<VmEngine>)>,
    /// The program serving now, with its globals' defining texts (for the next carry-over).
    live: Option<(Arc<VmEngine>, DefMap)>,
}

impl Keeper {
    /// Drop what nobody else references. The caller holds the gil (`_proof`).
    fn reap(&mut self, _proof: &tokio::sync::MutexGuard<'_, ()>) {
        let live = self.live.as_ref().map(|(e, _)| Arc::as_ptr(e));
        self.entries.retain_mut(|(app, engine)| {
            if let Some(a) = app.as_ref().filter(|a| Arc::strong_count(a) == 1) {
                // Requests that finished on this program after the swap logged into its buffer.
                a.log.flush();
                *app = None;
            }
            !(app.is_none() && Some(Arc::as_ptr(engine)) != live && Arc::strong_count(engine) == 1)
        });
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        let gil = self.gil.clone();
        if let Ok(g) = gil.try_lock() {
            self.live = None;
            self.reap(&g);
        }
        // Whatever is still referenced (or could not be dropped under the lock) is leaked.
        for (app, engine) in self.entries.drain(..) {
            std::mem::forget(app);
            std::mem::forget(engine);
        }
        if let Some((e, _)) = self.live.take() {
            std::mem::forget(e);
        }
    }
}

/// The state shared by the server, the reloader and the test handle.
pub struct DevState {
    pub(crate) current: ArcSwapOption<App>,
    /// The last build's error (`Some` → responses carry `X-Ask-Reload-Error: 1`).
    pub(crate) error: ArcSwapOption<String>,
    pub(crate) gil: Arc<tokio::sync::Mutex<()>>,
    keeper: Mutex<Keeper>,
    pub(crate) reloads: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) skips: AtomicU64,
    addr: Mutex<Option<SocketAddr>>,
}

impl DevState {
    fn new() -> DevState {
        let gil = Arc::new(tokio::sync::Mutex::new(()));
        DevState {
            current: ArcSwapOption::empty(),
            error: ArcSwapOption::empty(),
            keeper: Mutex::new(Keeper { gil: gil.clone(), entries: Vec::new(), live: None }),
            gil,
            reloads: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            skips: AtomicU64::new(0),
            addr: Mutex::new(None),
        }
    }

    fn keeper(&self) -> std::sync::MutexGuard<'_, Keeper> {
        match self.keeper.lock() {
            Ok(k) => k,
            Err(p) => p.into_inner(),
        }
    }

    /// The serving program's engine and definitions (for carrying globals over).
    pub(crate) fn live(&self) -> Option<(Arc<VmEngine>, DefMap)> {
        self.keeper().live.clone()
    }

    /// Make `built` the program that serves the next request.
    pub(crate) fn publish(&self, built: Built) {
        {
            let mut k = self.keeper();
            k.entries.push((Some(built.app.clone()), built.engine.clone()));
            k.live = Some((built.engine.clone(), built.defs));
        }
        let old = self.current.swap(Some(built.app));
        self.error.store(None);
        if let Some(old) = old {
            old.log.flush();
            self.reloads.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A build that will never serve (its files changed while it ran).
    pub(crate) fn retire_unpublished(&self, built: Built) {
        self.keeper().entries.push((Some(built.app), built.engine));
    }

    pub(crate) fn fail(&self, msg: String) {
        self.error.store(Some(Arc::new(msg)));
        self.failures.fetch_add(1, Ordering::SeqCst);
    }

    /// Drop retired programs no request uses any more.
    pub(crate) async fn reap(&self) {
        let g = self.gil.lock().await;
        self.keeper().reap(&g);
    }
}

/// A running dev server (tests and embedders).
pub struct DevHandle {
    pub state: Arc<DevState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
    reloader: tokio::task::JoinHandle<()>,
}

impl DevHandle {
    /// The address the server listens on now (changes when the Askfile moves it).
    pub fn addr(&self) -> SocketAddr {
        self.state.addr.lock().ok().and_then(|a| *a).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
    }
    /// Programs swapped in since start (the first program is not counted).
    pub fn reloads(&self) -> u64 {
        self.state.reloads.load(Ordering::SeqCst)
    }
    /// Builds that failed (compile or top-level errors).
    pub fn failures(&self) -> u64 {
        self.state.failures.load(Ordering::SeqCst)
    }
    /// Rounds that ended because no watched file's content had changed.
    pub fn skips(&self) -> u64 {
        self.state.skips.load(Ordering::SeqCst)
    }
    /// Whether requests currently carry `X-Ask-Reload-Error: 1`.
    pub fn has_error(&self) -> bool {
        self.state.error.load().is_some()
    }
    /// Stop accepting, let in-flight requests finish (bounded), stop watching.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(d) = self.done.take() {
            let _ = d.await;
        }
        self.reloader.abort();
    }
}

/// Start a dev server for `file` inside the current tokio runtime. `opts.port = Some(0)` picks a
/// free port. Fails only when the listener cannot be bound or the watcher cannot start; a program
/// that does not compile is served as 503 until it does.
pub async fn start(file: &Path, opts: DevOptions) -> Result<DevHandle, String> {
    start_with(file, opts, false, None).await
}

async fn start_with(file: &Path, opts: DevOptions, quiet_warnings: bool, signal: Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>>) -> Result<DevHandle, String> {
    let spec = Arc::new(Spec::new(file, &opts));
    let state = Arc::new(DevState::new());
    let first = {
        let spec = spec.clone();
        let gil = state.gil.clone();
        tokio::task::spawn_blocking(move || reload::build(&spec, None, &gil, quiet_warnings)).await.map_err(|_| "ask dev: internal error while building".to_string())?
    };
    let (cfg, routes) = match first.result {
        Ok(built) => {
            let (cfg, n) = (built.cfg.clone(), built.routes);
            state.publish(built);
            (cfg, Some(n))
        }
        Err(msg) => {
            eprintln!("{}", msg.trim_end());
            state.fail(msg);
            let cfg = match reload::load_config(&spec) {
                Ok((c, _)) => c,
                Err(_) => {
                    let mut c = crate::config::Config::default();
                    if let Some(h) = &spec.host {
                        c.host = h.clone();
                    }
                    if let Some(p) = spec.port {
                        c.port = p;
                    }
                    c
                }
            };
            (cfg, None)
        }
    };
    let bound = format!("{}:{}", cfg.host, cfg.port);
    let listener = TcpListener::bind(&bound).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse { " (is another server running? use --port)" } else { "" };
        format!("ask: cannot listen on {bound}: {e}{hint}")
    })?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    if let Ok(mut a) = state.addr.lock() {
        *a = Some(local);
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let watcher = watch::FolderWatcher::new(opts.poll, tx).map_err(|e| format!("ask dev: cannot watch files: {e}"))?;
    let kind = watcher.kind();
    let mut reloader = Reloader {
        state: state.clone(),
        spec: spec.clone(),
        rx,
        watcher: Some(watcher),
        watched: Default::default(),
        last_fp: first.fp,
        rebind: tokio::sync::mpsc::unbounded_channel().0,
        bound,
    };
    let (rebind_tx, rebind_rx) = tokio::sync::mpsc::unbounded_channel();
    reloader.rebind = rebind_tx;
    let files = first.files;
    let nfiles = files.iter().filter(|f| f.is_file()).count();
    if let Some(w) = &mut reloader.watcher {
        for (d, e) in w.set_files(&files) {
            eprintln!("ask dev: cannot watch {}: {e}", d.display());
        }
    }
    reloader.watched = files;
    match routes {
        Some(n) => println!("Ask serving {} (development mode): {n} route{}", spec.name, if n == 1 { "" } else { "s" }),
        None => println!("Ask serving {} (development mode): the program does not compile yet; requests get 503 until it does", spec.name),
    }
    println!("  * Running on http://{local}  (Ctrl+C to stop; API docs at /docs)");
    println!("  * Watching {nfiles} file{} for changes ({kind})", if nfiles == 1 { "" } else { "s" });
    {
        use std::io::Write;
        let _ = std::io::stdout().flush();
    }
    let reloader = tokio::spawn(reloader.run());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async move {
        match signal {
            Some(sig) => {
                tokio::select! {
                    _ = sig => {}
                    _ = stop_rx => {}
                }
            }
            None => {
                let _ = stop_rx.await;
            }
        }
    };
    let done = tokio::spawn(serve(state.clone(), listener, rebind_rx, stop));
    Ok(DevHandle { state, stop: Some(stop_tx), done: Some(done), reloader })
}

/// `ask dev [FILE] [--host H] [--port P] [--poll]`. Returns the exit status.
pub fn run(file: &Path, opts: DevOptions, quiet_warnings: bool) -> i32 {
    if !file.is_file() {
        eprintln!("ask: cannot open {}: no such file", file.display());
        return 1;
    }
    let rt = match crate::serve::runtime(false) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ask: cannot start the runtime: {e}");
            return 1;
        }
    };
    rt.block_on(async move {
        match start_with(file, opts, quiet_warnings, Some(Box::pin(crate::http::shutdown_signal()))).await {
            Ok(mut h) => {
                if let Some(d) = h.done.take() {
                    let _ = d.await;
                }
                h.reloader.abort();
                println!("Ask: stopped.");
                0
            }
            Err(e) => {
                eprintln!("{e}");
                1
            }
        }
    })
}

type Body = Full<Bytes>;

/// One request: one snapshot of the serving program, then the ordinary pipeline.
async fn handle(state: Arc<DevState>, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    let mut resp = match state.current.load_full() {
        Some(app) => http::handle(app, req, peer).await,
        None => {
            let error = state.error.load_full().map(|e| e.to_string()).unwrap_or_default();
            let mut text = String::from("{\"message\":\"Service Unavailable: the program does not compile\",\"error\":");
            crate::json::write_str(&mut text, error.trim_end());
            text.push('}');
            let mut r = Response::new(Full::new(Bytes::from(text)));
            *r.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
            r.headers_mut().insert(hyper::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r
        }
    };
    if state.error.load().is_some() {
        resp.headers_mut().insert("x-ask-reload-error", HeaderValue::from_static("1"));
    }
    resp
}

/// The accept loop: like `http::serve`, with a snapshot per request and listener rebinding.
async fn serve(state: Arc<DevState>, mut listener: TcpListener, mut rebind: tokio::sync::mpsc::UnboundedReceiver<String>, stop: impl std::future::Future<Output = ()>) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let flusher = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut t = tokio::time::interval(Duration::from_millis(200));
            loop {
                t.tick().await;
                if let Some(app) = state.current.load_full() {
                    app.log.flush();
                }
            }
        })
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Some((stream, peer)) = http::accepted_or_backoff(accepted).await else { continue };
                let timeout = state.current.load().as_ref().map(|a| a.cfg.header_timeout).unwrap_or(Duration::from_secs(10));
                let st = state.clone();
                http::spawn_connection(&graceful, stream, peer, timeout, move |req, peer| handle(st.clone(), req, peer));
            }
            Some(addr) = rebind.recv() => {
                match TcpListener::bind(&addr).await {
                    Ok(l) => {
                        let local = l.local_addr().ok();
                        listener = l;
                        if let (Ok(mut a), Some(local)) = (state.addr.lock(), local) {
                            *a = Some(local);
                            println!("ask dev: [server] changed: now listening on http://{local}");
                        }
                    }
                    Err(e) => eprintln!("ask dev: cannot listen on {addr}: {e}; still listening on the old address"),
                }
            }
            _ = &mut stop => break,
        }
    }
    drop(listener);
    http::drain(graceful).await;
    flusher.abort();
    if let Some(app) = state.current.load_full() {
        app.log.flush();
    }
}
