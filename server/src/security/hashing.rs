//! The `hash` built-in: Python's `hash(x)` when called, and Ask's `hash.hash(text)` (Argon2id
//! PHC string), `hash.check(hashed, text)` (Argon2 and 1.5.0's SHA-256 hex digests),
//! `hash.sha256(text)`.
//!
//! `hash` is an instance of a small native class whose `__call__` forwards to the VM's built-in
//! `hash` (objects of native modules cannot be called; instances with `__call__` can).
//!
//! Argon2 costs tens of milliseconds of CPU and 19 MiB: it must not run on the async workers nor
//! while the VM lock is held. `hash.hash` and an Argon2 `hash.check` therefore suspend the task
//! with `HostCall::Op { name: "hash.hash" | "hash.check", .. }`; the engine turns the op into a
//! [`Job`] (plain data), releases the lock, runs it in `spawn_blocking` behind a semaphore of
//! `available_parallelism()` permits (a flood of logins queues there instead of occupying every
//! thread), and resumes the task with the result. Where a task cannot be parked (inside a
//! callback, or top-level code) the host runs the op in place ([`run_blocking`]).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use ask_auth::hash::{check_password, hash_password, sha256_hex, MAX_INPUT_BYTES};
use ask_vm::error::{Exc, ExcData, VmResult};
use ask_vm::host::HostCall;
use ask_vm::value::{Class, Instance, NativeFunc, StrObj, Value};
use ask_vm::vm::Vm;
use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;

type Kw<'a> = &'a [(Rc<StrObj>, Value)];

const OP_HASH: &str = "hash.hash";
const OP_CHECK: &str = "hash.check";

fn native(name: &'static str, func: ask_vm::value::NativeFnPtr) -> Value {
    Value::Native(Rc::new(NativeFunc { name, func, bound: None, data: None }))
}

/// The `hash` value: `original` is the VM's built-in `hash` function.
pub fn hash_value(original: Option<Value>) -> Value {
    let mut attrs = IndexMap::with_hasher(FxBuildHasher);
    attrs.insert(Rc::from("__call__"), native("hash", call));
    attrs.insert(Rc::from("hash"), native("hash", hash));
    attrs.insert(Rc::from("check"), native("check", check));
    attrs.insert(Rc::from("sha256"), native("sha256", sha256));
    if let Some(o) = original {
        attrs.insert(Rc::from("__builtin_hash__"), o);
    }
    let class = Rc::new(Class { name: Rc::new(StrObj::new("hash".to_string())), base: None, attrs: RefCell::new(attrs), builtin: None });
    Value::Instance(Rc::new(Instance { class, attrs: RefCell::new(IndexMap::with_hasher(FxBuildHasher)) }))
}

/// `hash(x)`: Python's built-in.
fn call(vm: &mut Vm, args: &[Value], kw: Kw) -> VmResult<Value> {
    let original = match args.first() {
        Some(Value::Instance(i)) => i.class.lookup("__builtin_hash__"),
        _ => None,
    };
    match original {
        Some(f) => vm.call_value(&f, &args[1..], kw),
        None => Err(Exc::type_error("'hash' object is not callable")),
    }
}

fn text_arg<'a>(args: &'a [Value], i: usize, what: &str) -> VmResult<&'a str> {
    match args.get(i) {
        Some(Value::Str(s)) => Ok(s.as_str()),
        Some(other) => Err(Exc::type_error(format!("{what}: expected a str, not {}", ask_vm::ops::type_name(other)))),
        None => Err(Exc::type_error(format!("{what} missing a required argument"))),
    }
}

fn too_long(what: &str) -> Exc {
    Exc::value_error(format!("{what}: the text is longer than {MAX_INPUT_BYTES} bytes"))
}

fn suspend(name: &'static str, args: Vec<Value>) -> Exc {
    Exc(Box::new(ExcData::Suspend(HostCall::Op { name, args })))
}

/// `hash.hash(text)`.
fn hash(_vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let text = text_arg(args, 1, "hash.hash()")?;
    if text.len() > MAX_INPUT_BYTES {
        return Err(too_long("hash.hash()"));
    }
    Err(suspend(OP_HASH, vec![args[1].clone()]))
}

/// `hash.check(hashed, text)`.
fn check(_vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let hashed = text_arg(args, 1, "hash.check()")?;
    let text = text_arg(args, 2, "hash.check()")?;
    if text.len() > MAX_INPUT_BYTES || hashed.len() > MAX_INPUT_BYTES {
        return Ok(Value::Bool(false));
    }
    if !hashed.starts_with("$argon2") {
        // A legacy SHA-256 digest (or garbage): microseconds, done in place.
        return Ok(Value::Bool(check_password(hashed, text)));
    }
    Err(suspend(OP_CHECK, vec![args[1].clone(), args[2].clone()]))
}

/// `hash.sha256(text)`.
fn sha256(_vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let text = text_arg(args, 1, "hash.sha256()")?;
    if text.len() > MAX_INPUT_BYTES {
        return Err(too_long("hash.sha256()"));
    }
    Ok(Value::str(sha256_hex(text)))
}

/// Ops this module performs for suspended tasks.
pub fn is_offloaded(name: &str) -> bool {
    name == OP_HASH || name == OP_CHECK
}

/// A hashing op as plain data (it crosses threads; Ask values do not).
pub enum Job {
    Hash(String),
    Check(String, String),
    Invalid,
}

/// What a [`Job`] produced.
pub enum JobOutput {
    Str(String),
    Bool(bool),
    Error(String),
}

fn arg_text(args: &[Value], i: usize) -> Option<String> {
    match args.get(i) {
        Some(Value::Str(s)) => Some(s.as_str().to_string()),
        _ => None,
    }
}

/// At most this many hashes run at once (process-wide).
fn permits() -> &'static Arc<tokio::sync::Semaphore> {
    static SEM: OnceLock<Arc<tokio::sync::Semaphore>> = OnceLock::new();
    SEM.get_or_init(|| Arc::new(tokio::sync::Semaphore::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2))))
}

impl Job {
    /// Under the VM lock: copy the op's arguments out of the VM.
    pub fn new(name: &str, args: &[Value]) -> Job {
        match name {
            OP_HASH => arg_text(args, 0).map(Job::Hash).unwrap_or(Job::Invalid),
            OP_CHECK => match (arg_text(args, 0), arg_text(args, 1)) {
                (Some(h), Some(t)) => Job::Check(h, t),
                _ => Job::Invalid,
            },
            _ => Job::Invalid,
        }
    }

    fn compute(self) -> JobOutput {
        match self {
            Job::Hash(t) => match hash_password(&t) {
                Ok(h) => JobOutput::Str(h),
                Err(e) => JobOutput::Error(format!("hash.hash(): {e}")),
            },
            Job::Check(h, t) => JobOutput::Bool(check_password(&h, &t)),
            Job::Invalid => JobOutput::Error("invalid hashing operation".into()),
        }
    }

    /// Off the lock: wait for a permit, hash on the blocking pool.
    pub async fn run(self) -> JobOutput {
        let Ok(_permit) = permits().acquire().await else { return JobOutput::Error("hashing is shutting down".into()) };
        match tokio::task::spawn_blocking(move || self.compute()).await {
            Ok(out) => out,
            Err(_) => JobOutput::Error("hashing failed".into()),
        }
    }
}

impl JobOutput {
    /// Under the lock again: the value the suspended native call returns.
    pub fn into_result(self) -> VmResult<Value> {
        match self {
            JobOutput::Str(s) => Ok(Value::str(s)),
            JobOutput::Bool(b) => Ok(Value::Bool(b)),
            JobOutput::Error(e) => Err(Exc::value_error(e)),
        }
    }
}

/// The op performed in place (a task that cannot be parked; top-level code).
pub fn run_blocking(name: &str, args: &[Value]) -> VmResult<Value> {
    Job::new(name, args).compute().into_result()
}
