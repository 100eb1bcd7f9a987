//! The reloader: turns file events into at most one new program per edit, and swaps it in.
//!
//! One round: the first event naming a watched file starts the clock (the time printed is from
//! there to the new program serving) → wait until the folder has been quiet for [`DEBOUNCE`]
//! (editor save bursts, a script writing 20 times in 100 ms) → hash every watched file; when
//! nothing changed since the last attempt (`touch`, an editor rewriting the same bytes) stop here
//! → when a program file is missing or empty (a delete-then-create or a truncate-then-write
//! caught in the middle) wait up to [`INCOMPLETE_WAIT`] for the next event → build off the
//! request path (`spawn_blocking`: read the Askfile and `.env`, compile with a loader that records
//! every file it reads, run the new top level in a fresh VM, carry unchanged globals over) →
//! re-hash the files the build read; if any changed meanwhile, the build is discarded and the
//! round starts over (so a half-written file that happened to compile never goes live) → swap.
//!
//! The set of watched files is recomputed after every build from what the compiler read (the
//! entry, every `include`/`extend`ed file), plus `Askfile.toml`, `Askfile` and `.env`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ask_compiler::compile::{compile_program, render_diagnostics};
use ask_compiler::diagnostic::Severity;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::globals::{self, DefMap};
use super::watch::{self, FolderWatcher};
use super::{DevState, Spec};
use crate::config::{self, Config};
use crate::http::App;
use crate::vmapp::{self, VmEngine};

/// Quiet time after the last event before a build starts (`ASK_DEV_DEBOUNCE_MS` overrides).
pub const DEBOUNCE: Duration = Duration::from_millis(50);
/// How long a missing or empty program file is given to reappear or fill up.
pub const INCOMPLETE_WAIT: Duration = Duration::from_secs(2);

fn debounce() -> Duration {
    std::env::var("ASK_DEV_DEBOUNCE_MS").ok().and_then(|v| v.parse::<u64>().ok()).map(Duration::from_millis).unwrap_or(DEBOUNCE)
}

/// Content hash of each watched file (`None`: missing or unreadable).
pub type Fingerprint = BTreeMap<PathBuf, Option<u64>>;

fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    b.hash(&mut h);
    h.finish()
}

pub fn fingerprint(files: &BTreeSet<PathBuf>) -> Fingerprint {
    files.iter().map(|f| (f.clone(), std::fs::read(f).ok().map(|b| hash_bytes(&b)))).collect()
}


/// A program built and ready to swap in (not yet visible to requests).
pub struct Built {
    pub app: Arc<App>,
    pub engine: Arc<VmEngine>,
    pub defs: DefMap,
    pub cfg: Config,
    pub routes: usize,
    /// Globals whose values were carried over from the previous program.
    pub kept: Vec<String>,
}

/// One build attempt.
pub struct Attempt {
    pub result: Result<Built, String>,
    /// The files to watch from now on (absolute).
    pub files: BTreeSet<PathBuf>,
    /// Hashes of the contents the build used.
    pub fp: Fingerprint,
}

/// Read the settings the way `ask start` does (`Askfile*` + command-line overrides, `.env`).
pub fn load_config(spec: &Spec) -> Result<(Config, Vec<(String, String)>), String> {
    let mut cfg = config::load(&spec.dir).map_err(|e| format!("ask: {e}"))?;
    cfg.dev = true; // [authwire hook] weak secrets warn; the secret is kept in .ask/
    if let Some(h) = &spec.host {
        cfg.host = h.clone();
    }
    if let Some(p) = spec.port {
        cfg.port = p;
    }
    let env_path = spec.dir.join(".env");
    let mut dotenv = Vec::new();
    if let Ok(text) = std::fs::read_to_string(&env_path) {
        let (vars, bad) = crate::dotenv::parse(&text);
        for (line, msg) in bad {
            eprintln!("ask: {}:{line}: {msg}; line skipped", env_path.display());
        }
        dotenv = vars;
    }
    Ok((cfg, dotenv))
}

/// The settings files of the program's folder (watched whether or not they exist yet).
fn config_files(spec: &Spec) -> [PathBuf; 3] {
    [spec.abs_dir.join("Askfile.toml"), spec.abs_dir.join("Askfile"), spec.abs_dir.join(".env")]
}

/// Build a program from what is on disk now. Runs on a blocking thread. `old` is the program
/// serving now (engine and its globals' defining texts), whose unchanged globals are carried over.
pub fn build(spec: &Spec, old: Option<(Arc<VmEngine>, DefMap)>, gil: &Arc<tokio::sync::Mutex<()>>, quiet_warnings: bool) -> Attempt {
    let mut files: BTreeSet<PathBuf> = BTreeSet::new();
    files.insert(spec.abs_file.clone());
    let mut fp = Fingerprint::new();
    for f in config_files(spec) {
        fp.insert(f.clone(), std::fs::read(&f).ok().map(|b| hash_bytes(&b)));
        files.insert(f);
    }
    let trace = std::env::var_os("ASK_DEV_TRACE").is_some();
    let t = Instant::now();
    let settings = load_config(spec);
    let mut loader = crate::compile::FsLoader::default();
    let compiled = compile_program(&spec.name, &mut loader);
    for (path, text) in &loader.files {
        let abs = watch::absolute(Path::new(path));
        fp.insert(abs.clone(), Some(hash_bytes(text.as_bytes())));
        files.insert(abs);
    }
    if !fp.contains_key(&spec.abs_file) {
        fp.insert(spec.abs_file.clone(), None);
    }
    if trace {
        eprintln!("ask dev: trace: config + compile {:.1} ms", t.elapsed().as_secs_f64() * 1000.0);
    }
    files.retain(|f| !watch::excluded(&spec.abs_dir, f));
    fp.retain(|f, _| files.contains(f));
    let result = (|| {
        let (cfg, dotenv) = settings?;
        let program = match compiled {
            Ok((program, warnings)) => {
                if !warnings.is_empty() && !quiet_warnings {
                    eprint!("{}", render_diagnostics(&warnings, &loader.files));
                }
                Arc::new(program)
            }
            Err(errors) => {
                let mut text = render_diagnostics(&errors, &loader.files);
                let n = errors.iter().filter(|d| d.severity == Severity::Error).count();
                if n > 1 {
                    text.push_str(&format!("{n} errors\n"));
                }
                return Err(text);
            }
        };
        let t = Instant::now();
        let sources: HashMap<String, String> = loader.files.iter().cloned().collect();
        let defs = globals::def_map(&spec.name, &sources);
        let routes = program.routes.clone();
        // The new VM is private to this thread until it is published, so its top level runs
        // without the lock.
        let (mut vm, ctx) = vmapp::boot(program, &cfg, Arc::new(dotenv))?;
        if trace {
            eprintln!("ask dev: trace: definitions + top level {:.1} ms", t.elapsed().as_secs_f64() * 1000.0);
        }
        let mut kept = Vec::new();
        if let Some((old_engine, old_defs)) = &old {
            let names = globals::unchanged(old_defs, &defs);
            if !names.is_empty() {
                // From here on the new VM shares values with the old one: both are only touched
                // under the process-wide lock (see `dev` module docs).
                let _gil = gil.blocking_lock();
                old_engine.with_vm_blocking(|ovm| {
                    for name in names {
                        if let Some(v) = ovm.global(name) {
                            if globals::carriable(&v) && vm.global(name).is_some() && vm.set_global(name, v) {
                                kept.push(name.to_string());
                            }
                        }
                    }
                });
            }
        }
        let engine = Arc::new(VmEngine::new(vm, ctx, &cfg, true).with_gil(gil.clone()));
        let app = Arc::new(App::new(engine.clone(), &routes, cfg.clone(), &spec.title, true));
        Ok(Built { app, engine, defs, cfg, routes: routes.len(), kept })
    })();
    Attempt { result, files, fp }
}

/// The reloader task's state.
pub struct Reloader {
    pub state: Arc<DevState>,
    pub spec: Arc<Spec>,
    pub rx: UnboundedReceiver<Vec<PathBuf>>,
    pub watcher: Option<FolderWatcher>,
    pub watched: BTreeSet<PathBuf>,
    /// Fingerprint of the last attempt (successful or not).
    pub last_fp: Fingerprint,
    pub rebind: UnboundedSender<String>,
    /// `host:port` the listener was last asked to use.
    pub bound: String,
}

enum Wait {
    Event(Vec<PathBuf>),
    Timeout,
    Closed,
}

impl Reloader {
    async fn next(&mut self, within: Option<Duration>) -> Wait {
        match within {
            None => match self.rx.recv().await {
                Some(p) => Wait::Event(p),
                None => Wait::Closed,
            },
            Some(d) => match tokio::time::timeout(d, self.rx.recv()).await {
                Ok(Some(p)) => Wait::Event(p),
                Ok(None) => Wait::Closed,
                Err(_) => Wait::Timeout,
            },
        }
    }

    fn relevant(&self, paths: &[PathBuf]) -> bool {
        paths.iter().any(|p| self.watched.contains(p))
    }

    /// Wait until no relevant event came for the debounce time. `false` when the channel closed.
    async fn quiet(&mut self) -> bool {
        let d = debounce();
        let mut last = Instant::now();
        loop {
            let left = d.saturating_sub(last.elapsed());
            if left.is_zero() {
                return true;
            }
            match self.next(Some(left)).await {
                Wait::Event(p) => {
                    if self.relevant(&p) {
                        last = Instant::now();
                    }
                }
                Wait::Timeout => return true,
                Wait::Closed => return false,
            }
        }
    }

    /// Run forever (until the watcher's channel closes).
    pub async fn run(mut self) {
        let mut reap = tokio::time::interval(Duration::from_secs(1));
        loop {
            // Wait for the first relevant event (reaping retired programs meanwhile).
            let t0 = loop {
                tokio::select! {
                    w = self.next(None) => match w {
                        Wait::Event(p) if self.relevant(&p) => break Instant::now(),
                        Wait::Event(_) => continue,
                        _ => return,
                    },
                    _ = reap.tick() => self.state.reap().await,
                }
            };
            if !self.round(t0).await {
                return;
            }
            self.state.reap().await;
        }
    }

    /// One reload round started by an event at `t0`. `false` when the channel closed.
    async fn round(&mut self, t0: Instant) -> bool {
        loop {
            if !self.quiet().await {
                return false;
            }
            let fp = fingerprint(&self.watched);
            if fp == self.last_fp {
                self.state.skips.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return true;
            }
            if self.incomplete(&fp) {
                let deadline = Instant::now() + INCOMPLETE_WAIT;
                let mut more = false;
                while !more {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    match self.next(Some(left)).await {
                        Wait::Event(p) => more = self.relevant(&p),
                        Wait::Closed => return false,
                        Wait::Timeout => break,
                    }
                }
                if more {
                    continue;
                }
            }
            let t_quiet = t0.elapsed();
            let changed = self.changed_names(&fp);
            let spec = self.spec.clone();
            let gil = self.state.gil.clone();
            let old = self.state.live();
            let attempt = match tokio::task::spawn_blocking(move || build(&spec, old, &gil, false)).await {
                Ok(a) => a,
                Err(_) => {
                    eprintln!("ask dev: internal error while rebuilding; the last good program keeps serving");
                    return true;
                }
            };
            // Anything the build read that changed since: discard and start over.
            let now = fingerprint(&attempt.files);
            if now != attempt.fp {
                if let Ok(b) = attempt.result {
                    self.state.retire_unpublished(b);
                }
                self.set_watched(attempt.files);
                continue;
            }
            self.last_fp = attempt.fp.clone();
            self.set_watched(attempt.files.clone());
            let took = t0.elapsed();
            if std::env::var_os("ASK_DEV_TRACE").is_some() {
                eprintln!("ask dev: trace: quiet after {:.1} ms, built and checked at {:.1} ms", t_quiet.as_secs_f64() * 1000.0, took.as_secs_f64() * 1000.0);
            }
            match attempt.result {
                Ok(built) => {
                    let (routes, kept) = (built.routes, built.kept.clone());
                    let cfg = built.cfg.clone();
                    self.state.publish(built);
                    let kept = if kept.is_empty() { String::new() } else { format!("; kept {}", kept.join(", ")) };
                    println!("ask dev: {changed} changed: reloaded in {:.0} ms ({routes} route{}{kept})", took.as_secs_f64() * 1000.0, if routes == 1 { "" } else { "s" });
                    self.maybe_rebind(&cfg);
                }
                Err(msg) => {
                    self.state.fail(msg.clone());
                    let serving = if self.state.current.load().is_some() { "the last good program keeps serving" } else { "requests get 503 until it compiles" };
                    println!("ask dev: {changed} changed: reload failed ({serving})");
                    eprintln!("{}", msg.trim_end());
                }
            }
            use std::io::Write;
            let _ = std::io::stdout().flush();
            return true;
        }
    }

    /// A program file missing or empty: probably caught between a delete and a create, or a
    /// truncate and a write.
    fn incomplete(&self, fp: &Fingerprint) -> bool {
        let empty = hash_bytes(b"");
        fp.iter().any(|(p, h)| p.extension().is_some_and(|e| e == "ask") && (h.is_none() || *h == Some(empty)))
    }

    fn changed_names(&self, fp: &Fingerprint) -> String {
        let mut names: Vec<String> = fp
            .iter()
            .filter(|(p, h)| self.last_fp.get(*p) != Some(*h))
            .map(|(p, _)| p.strip_prefix(&self.spec.abs_dir).unwrap_or(p).display().to_string())
            .collect();
        if names.is_empty() {
            names.push(self.spec.name.clone());
        }
        names.join(", ")
    }

    fn set_watched(&mut self, files: BTreeSet<PathBuf>) {
        if files == self.watched {
            return;
        }
        if let Some(w) = &mut self.watcher {
            for (d, e) in w.set_files(&files) {
                eprintln!("ask dev: cannot watch {}: {e}", d.display());
            }
        }
        self.watched = files;
    }

    fn maybe_rebind(&mut self, cfg: &Config) {
        let want = format!("{}:{}", cfg.host, cfg.port);
        if want != self.bound {
            self.bound = want.clone();
            let _ = self.rebind.send(want);
        }
    }
}
