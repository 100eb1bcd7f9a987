//! Auth and route security (issue 5): the `ask-auth` crate wired into the server.
//!
//! - [`decorators`]: `&protected` and `&limit(rule)` as natives that return wrappers (the compiled
//!   program applies `&name` decorators as ordinary function wrappers, top = outermost), plus
//!   [`decorators::peel`], which the engine uses to run the built-in wrappers at the *outside* of
//!   a route's chain directly in Rust before the handler task starts (the common case: no VM call
//!   per check, and the handler still runs as a suspendable task). A built-in below a custom
//!   decorator runs when the custom decorator calls `inner()`: the same check, reading the
//!   current request. Either way the semantics are the same: every decorator applies, outermost
//!   first (`&limit` above `&protected` counts requests that `&protected` then rejects).
//! - [`auth`]: the `auth` object. A program-level one (module level: `auth.secret_key = …`) and
//!   one per request, bound as the task local `auth`/`_auth` (so two concurrent requests never
//!   see each other's token); a `&protected` check hands its decoded claims to it (no second
//!   decode in the VM).
//! - [`hashing`]: the `hash` built-in — still Python's `hash(x)` when called, with Ask's
//!   `hash.hash/check/sha256`. Argon2 runs off the async workers: the native suspends the task
//!   with `HostCall::Op`, the engine runs the job in `spawn_blocking` behind a semaphore
//!   ([`Job`]), then resumes the task with the result.
//! - [`convert`]: JSON claims ⇄ Ask values.
//!
//! **The secret** ([`finalize`], after the top level ran): `auth.secret_key = …` in the program,
//! else `ASK_SECRET` (the `.env` file counts), else `[auth] secret`; otherwise `ask dev` keeps a
//! generated secret in `.ask/secret` beside the program, and `ask start` generates one per
//! process and warns. `ask start` refuses a secret shorter than 32 bytes; `ask dev` warns. The
//! secret itself is never printed: messages name where it came from.
//!
//! **Rate limits are per process**: the counters live in memory ([`ask_auth::limit`]); several
//! server processes behind a balancer each count separately. The registry is process-wide and
//! keyed by program folder + handler + rule text, so `ask dev` reloads keep the counters of
//! unchanged rules.
//!
//! `&basic` is the database issue's model decorator (generated constructor and `s()`, see the
//! reference §9.6), not HTTP Basic auth: it is not part of this module.

pub mod auth;
pub mod convert;
pub mod decorators;
pub mod hashing;

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use ask_auth::jwt::Validator;
use ask_auth::secret::{self, Mode, SecretSource};
use ask_vm::value::{NativeObject, Value};
use ask_vm::vm::{TaskId, Vm};

use crate::request::RequestData;

pub use hashing::{is_offloaded, run_blocking, Job};

/// Per-VM security state: the validator for the current secret and the request being run.
pub struct Sec {
    /// `auth.secret_key` as the program set it (text), if it did.
    program_secret: RefCell<Option<String>>,
    validator: RefCell<Option<Arc<Validator>>>,
    leeway: Cell<u64>,
    dev: Cell<bool>,
    finalized: Cell<bool>,
    /// Program folder (the `.ask/` directory and the limiter scope).
    dir: RefCell<PathBuf>,
    /// Number of `&limit` applications seen per handler name (a stable limiter id).
    limit_seen: RefCell<rustc_hash::FxHashMap<String, u32>>,
    /// Limiter keys created by this program (for pruning the registry after a reload).
    limit_keys: RefCell<Vec<(String, String)>>,
    /// Whether the program reads `auth` at all (else no per-request object is built).
    auth_used: Cell<bool>,
    /// The request of the task now running, and its `auth` object.
    cur_req: RefCell<Option<Arc<RequestData>>>,
    cur_auth: RefCell<Option<Value>>,
    /// Each live task's `auth` object.
    tasks: RefCell<rustc_hash::FxHashMap<u32, Value>>,
}

impl NativeObject for Sec {
    fn type_name(&self) -> &str {
        "security"
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The [`Sec`] behind a value made by [`install`].
pub fn sec(v: &Value) -> &Sec {
    match v {
        Value::Object(o) => (***o).as_any().downcast_ref::<Sec>().expect("security state"),
        _ => panic!("security state expected"),
    }
}

fn try_sec(v: &Value) -> Option<&Sec> {
    match v {
        Value::Object(o) => (***o).as_any().downcast_ref::<Sec>(),
        _ => None,
    }
}

impl Sec {
    /// The validator for the current secret. Before [`finalize`] (top-level code issuing a
    /// token), the secret configured so far is used.
    pub fn validator(&self) -> Option<Arc<Validator>> {
        if let Some(v) = self.validator.borrow().as_ref() {
            return Some(v.clone());
        }
        None
    }

    /// The program assigned `auth.secret_key`.
    fn set_program_secret(&self, value: Option<String>) {
        let changed = *self.program_secret.borrow() != value;
        *self.program_secret.borrow_mut() = value.clone();
        if changed && self.finalized.get() {
            // Set by a handler at run time: takes effect at once (weak secrets only warn here;
            // the start-up check already ran).
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                if v.len() < secret::MIN_SECRET_BYTES {
                    eprintln!("ask: warning: the secret from auth.secret_key in the program is only {} bytes long", v.len());
                }
                if let Ok(val) = Validator::new(v.as_bytes(), self.leeway.get()) {
                    *self.validator.borrow_mut() = Some(Arc::new(val));
                }
            }
        }
    }

    /// Point the security state at the task about to run.
    pub fn enter(&self, t: TaskId, req: &Arc<RequestData>) {
        *self.cur_req.borrow_mut() = Some(req.clone());
        *self.cur_auth.borrow_mut() = self.tasks.borrow().get(&t.0).cloned();
    }

    /// No task is running any more.
    pub fn leave(&self) {
        self.cur_req.borrow_mut().take();
        self.cur_auth.borrow_mut().take();
    }

    /// Forget a finished task.
    pub fn end_task(&self, t: TaskId) {
        self.tasks.borrow_mut().remove(&t.0);
    }

    fn current_req(&self) -> Option<Arc<RequestData>> {
        self.cur_req.borrow().clone()
    }
}

/// Install `protected`, `limit`, `auth` and `hash` (and their `_` aliases) into a fresh VM.
/// Returns the security state value (kept by the engine's request context).
pub fn install(vm: &mut Vm, underscores: bool) -> Value {
    let state = Sec {
        program_secret: RefCell::new(None),
        validator: RefCell::new(None),
        leeway: Cell::new(0),
        dev: Cell::new(false),
        finalized: Cell::new(false),
        dir: RefCell::new(PathBuf::from(".")),
        limit_seen: RefCell::new(Default::default()),
        limit_keys: RefCell::new(Vec::new()),
        auth_used: Cell::new(true),
        cur_req: RefCell::new(None),
        cur_auth: RefCell::new(None),
        tasks: RefCell::new(Default::default()),
    };
    let sec_v = Value::Object(Rc::new(Box::new(state)));
    let original_hash = vm.builtins.get("hash").cloned();
    let natives: Vec<(&'static str, Value)> = vec![
        ("protected", decorators::protected_value(&sec_v)),
        ("limit", decorators::limit_value(&sec_v)),
        ("auth", auth::program_auth(&sec_v)),
        ("hash", hashing::hash_value(original_hash)),
    ];
    for (name, v) in natives {
        if underscores {
            vm.builtins.insert(Rc::from(format!("_{name}").as_str()), v.clone());
        }
        vm.builtins.insert(Rc::from(name), v);
    }
    sec_v
}

/// Settings known before the top level runs: leeway, mode, program folder.
pub fn configure(sec_v: &Value, cfg: &crate::config::Config) -> Result<(), String> {
    let s = sec(sec_v);
    let leeway = match cfg.auth.get("leeway") {
        None => 0,
        Some(toml::Value::Integer(i)) if *i >= 0 && *i <= 86_400 => *i as u64,
        Some(other) => return Err(format!("ask: [auth] leeway must be a number of seconds from 0 to 86400, not {other}")),
    };
    s.leeway.set(leeway);
    s.dev.set(cfg.dev);
    let dir = cfg.program_dir.clone().unwrap_or_else(|| PathBuf::from("."));
    *s.dir.borrow_mut() = std::fs::canonicalize(&dir).unwrap_or(dir);
    // Until `finalize`, tokens issued at top level use the environment's/Askfile's secret.
    Ok(())
}

/// After the top level ran: choose the secret (see the module docs), check its strength, build
/// the validator. `Err` (only for `ask start`) means: refuse to start.
pub fn finalize(vm: &mut Vm, sec_v: &Value, cfg: &crate::config::Config) -> Result<(), String> {
    let s = sec(sec_v);
    let program = s.program_secret.borrow().clone();
    let env = vm.host.env_var("ASK_SECRET");
    let askfile = match cfg.auth.get("secret") {
        None => None,
        Some(toml::Value::String(v)) => Some(v.clone()),
        Some(_) => return Err("ask: [auth] secret must be a string".into()),
    };
    let mode = if s.dev.get() { Mode::Dev } else { Mode::Start };
    let resolved = secret::resolve_secret(program.as_deref(), env.as_deref(), askfile.as_deref());
    let (secret, source) = match resolved {
        Some(x) => x,
        None => match mode {
            Mode::Dev => {
                let ask_dir = s.dir.borrow().join(".ask");
                match secret::load_or_create_dev_secret(&ask_dir) {
                    Ok((sec, src, status)) => {
                        if status != secret::DevSecretStatus::Loaded {
                            eprintln!("ask: generated a development secret in {} (tokens survive reloads and restarts)", ask_dir.join(secret::DEV_SECRET_FILE).display());
                        }
                        (sec, src)
                    }
                    Err(e) => {
                        eprintln!("ask: warning: cannot keep a development secret in {}: {e}; using one for this process", ask_dir.display());
                        secret::generated().map_err(|e| format!("ask: {e}"))?
                    }
                }
            }
            Mode::Start => secret::generated().map_err(|e| format!("ask: {e}"))?,
        },
    };
    match secret::check_strength(&secret, &source, mode) {
        Err(e) => return Err(format!("ask: refusing to start: {e}")),
        Ok(Some(w)) => eprintln!("ask: {w}"),
        Ok(None) => {}
    }
    let validator = Validator::new(secret.as_bytes(), s.leeway.get()).map_err(|e| format!("ask: cannot use the secret from {source}: {e}"))?;
    *s.validator.borrow_mut() = Some(Arc::new(validator));
    s.finalized.set(true);
    let _ = SecretSource::Program; // (sources are named in messages only)
    // Which programs read `auth` (per-request objects are built only for those).
    if let Some(p) = vm.program() {
        let used = p.modules.iter().any(|m| m.globals.iter().any(|g| g == "auth" || (cfg.underscores && g == "_auth")));
        s.auth_used.set(used);
    }
    // Limiters of rules this program no longer has are dropped (a reload changed them).
    let keys = s.limit_keys.borrow().clone();
    let scope = format!("{}|", s.dir.borrow().display());
    decorators::registry().retain(|route, rule| !route.starts_with(&scope) || keys.iter().any(|(r, t)| r == route && t == rule));
    Ok(())
}

/// Before the handler task of a request first runs: its `auth` object (with the claims of a
/// `&protected` check already done by [`decorators::peel`]) as the task locals `auth`/`_auth`.
pub fn begin_task(sec_v: &Value, vm: &mut Vm, t: TaskId, req: &Arc<RequestData>, pre: Option<ask_auth::jwt::Authenticated>, underscores: bool) {
    let s = sec(sec_v);
    if !s.auth_used.get() {
        return;
    }
    let a = auth::request_auth(sec_v, req.clone(), pre);
    if underscores {
        vm.set_task_local(t, "_auth", a.clone());
    }
    vm.set_task_local(t, "auth", a.clone());
    s.tasks.borrow_mut().insert(t.0, a);
}

/// Milliseconds on a process-wide monotonic clock (the limiters' time base).
pub fn monotonic_ms() -> u64 {
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_millis() as u64
}

/// `{"message": msg}` as an Ask dict (responses produced from inside the VM).
pub(crate) fn message_dict(msg: &str) -> Value {
    let mut d = ask_vm::value::Dict::with_hasher(rustc_hash::FxBuildHasher);
    d.insert(ask_vm::value::HKey(Value::str("message")), Value::str(msg));
    Value::dict(d)
}
