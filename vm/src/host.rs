//! The boundary between the VM and the world: everything that needs I/O, a clock, randomness
//! or the environment goes through [`Host`], which the embedder (the CLI or the server)
//! provides. The VM itself never touches sockets, files, clocks or environment variables, so it
//! is deterministic under a deterministic host and safe to run inside a request.
//!
//! Waiting host calls: a native such as `time.sleep` or a database query does not block. It
//! returns `Err(Exc(Suspend(HostCall)))`; the interpreter parks the task (its frames live on the
//! VM's own stack, not Rust's) and returns [`crate::RunOutcome::Suspended`] to the driver, which
//! performs the call asynchronously (releasing the VM so other requests run) and then resumes the
//! task with the result. When a host call happens where the task cannot be parked (inside a
//! native that called back into Ask code, e.g. a `sorted(key=...)` callback), the interpreter
//! falls back to [`Host::call_blocking`].

use std::fmt;

use crate::value::Value;

/// A request from Ask code that the host must perform.
pub enum HostCall {
    /// `time.sleep(seconds)`.
    Sleep(f64),
    /// A named host operation with arguments (database, mail...), interpreted by the host.
    Op { name: &'static str, args: Vec<Value> },
}

impl fmt::Debug for HostCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostCall::Sleep(s) => write!(f, "Sleep({s})"),
            HostCall::Op { name, args } => write!(f, "Op({name}, {} args)", args.len()),
        }
    }
}

/// What the embedder provides to the VM.
pub trait Host {
    /// Write text to standard output (`print`). `text` includes the line ending.
    fn write_stdout(&mut self, text: &str);
    /// Seconds since the Unix epoch (`time.time()`, `datetime.now()`).
    fn now(&mut self) -> f64;
    /// A monotonic clock in seconds (`time.monotonic()`, `time.perf_counter()`).
    fn monotonic(&mut self) -> f64;
    /// Local time zone offset from UTC in seconds, at the given Unix time.
    fn local_offset(&mut self, _unix: f64) -> i64 {
        0
    }
    /// Fill `buf` with random bytes (seeds `random`, makes `uuid4`).
    fn random_bytes(&mut self, buf: &mut [u8]);
    /// An environment variable (`os.environ`, `os.getenv`, `env.get`).
    fn env_var(&mut self, name: &str) -> Option<String>;
    /// All environment variables (`os.environ` as a dict).
    fn env_vars(&mut self) -> Vec<(String, String)>;
    /// Perform a host call synchronously (used where the task cannot be suspended).
    fn call_blocking(&mut self, vm: &mut crate::Vm, call: HostCall) -> crate::VmResult<Value>;
}
