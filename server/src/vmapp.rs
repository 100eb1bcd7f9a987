//! The production [`Engine`]: route handlers run as tasks of the program's one [`Vm`], behind an
//! async mutex (the GIL; see the crate docs for the model and the safety argument).
//!
//! Per request, under the lock: start the handler task, bind the request-scoped built-ins as task
//! locals (`body form args files req headers request`, plus `_`-aliases), run it; a `Suspend`
//! (e.g. `time.sleep`) releases the lock while the host call is awaited, then the task resumes.
//! The outcome is converted to a plain [`Reply`] before the lock is released.
//!
//! Host natives installed in `vm.builtins`: `respond`, `status`, `env`, `protected`, `limit`,
//! `basic`, and an override of `__inner__` giving `inner()` its route semantics (TEAM.md, "Late
//! decisions"). Natives that need the current request reach it through the per-VM request context
//! ([`Ctx`]), which the engine points at the running task's request before every run.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;

use ask_vm::code::Program;
use ask_vm::error::{Exc, ExcData, LimitKind, VmResult};
use ask_vm::host::{Host, HostCall};
use ask_vm::value::{Class, Dict, ExcKind, HKey, Instance, NativeFunc, NativeObject, StrObj, Value};
use ask_vm::vm::{Limits, RunOutcome, TaskId, Vm};

use crate::engine::{BoxFuture, Engine, Reply};
use crate::json::{float_text, write_str, Json};
use crate::request::{RequestData, UploadedFile};
use crate::router::ParamValue;

// ---------------------------------------------------------------------------------------------
// The host.

/// The server's [`Host`]: real stdout, clocks, OS randomness, and the environment completed by
/// the `.env` file (the real environment wins).
pub struct ServerHost {
    pub dotenv: Arc<Vec<(String, String)>>,
    start: std::time::Instant,
    rng: u64,
}

impl ServerHost {
    pub fn new(dotenv: Arc<Vec<(String, String)>>) -> ServerHost {
        let mut seed = [0u8; 8];
        os_random(&mut seed);
        ServerHost { dotenv, start: std::time::Instant::now(), rng: u64::from_le_bytes(seed) | 1 }
    }
}

fn os_random(buf: &mut [u8]) -> bool {
    use std::io::Read;
    match std::fs::File::open("/dev/urandom") {
        Ok(mut f) => f.read_exact(buf).is_ok(),
        Err(_) => false,
    }
}

impl Host for ServerHost {
    fn write_stdout(&mut self, text: &str) {
        use std::io::Write;
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }
    fn now(&mut self) -> f64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
    }
    fn monotonic(&mut self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
    fn random_bytes(&mut self, buf: &mut [u8]) {
        if !os_random(buf) {
            // xorshift fallback (no /dev/urandom): still varied, not for secrets.
            for b in buf.iter_mut() {
                self.rng ^= self.rng << 13;
                self.rng ^= self.rng >> 7;
                self.rng ^= self.rng << 17;
                *b = self.rng as u8;
            }
        }
    }
    fn env_var(&mut self, name: &str) -> Option<String> {
        std::env::var(name).ok().or_else(|| self.dotenv.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }
    fn env_vars(&mut self) -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = std::env::vars().collect();
        for (k, v) in self.dotenv.iter() {
            if !vars.iter().any(|(n, _)| n == k) {
                vars.push((k.clone(), v.clone()));
            }
        }
        vars
    }
    fn call_blocking(&mut self, _vm: &mut Vm, call: HostCall) -> VmResult<Value> {
        match call {
            // Only reached where a task cannot be parked (inside a callback): block this worker.
            HostCall::Sleep(s) => {
                if s.is_finite() && s > 0.0 {
                    std::thread::sleep(Duration::from_secs_f64(s.min(3600.0)));
                }
                Ok(Value::None)
            }
            HostCall::Op { name, args } if crate::security::is_offloaded(name) => crate::security::run_blocking(name, &args), // [authwire hook]
            HostCall::Op { name, .. } => Err(Exc::new(ExcKind::RuntimeError, format!("host operation '{name}' is not available in this server"))),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Request context shared by the host natives.

/// The request the VM is currently running, and what `inner()` recorded for it.
pub struct Ctx {
    /// The classes of `args` and `headers` (instances wrap the Rust data; see `make_class`).
    args_class: Rc<Class>,
    headers_class: Rc<Class>,
    req: RefCell<Option<Arc<RequestData>>>,
    /// The `Respond` payload caught by `inner()` in the running task.
    recorded: RefCell<Option<Value>>,
    /// [authwire hook] The security state (`crate::security::Sec`).
    sec: Value,
}

impl NativeObject for Ctx {
    fn type_name(&self) -> &str {
        "request_context"
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn obj<T: 'static>(v: &Value) -> Option<&T> {
    match v {
        Value::Object(o) => (***o).as_any().downcast_ref::<T>(),
        _ => None,
    }
}

fn native(name: &'static str, func: ask_vm::value::NativeFnPtr, bound: Option<Value>) -> Value {
    Value::Native(Rc::new(NativeFunc { name, func, bound, data: None }))
}

fn object<T: NativeObject>(o: T) -> Value {
    Value::Object(Rc::new(Box::new(o)))
}

fn s(x: &str) -> Value {
    Value::str(x)
}

fn new_dict() -> Dict {
    Dict::default()
}

fn kwarg<'a>(kw: &'a [(Rc<StrObj>, Value)], name: &str) -> Option<&'a Value> {
    kw.iter().find(|(k, _)| k.as_str() == name).map(|(_, v)| v)
}

fn type_name(v: &Value) -> String {
    match v {
        Value::Instance(i) => i.class.name.as_str().to_string(),
        Value::Object(o) => o.type_name().to_string(),
        other => other.kind_name().to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// respond / status.

pub(crate) const KIND_JSON: i64 = 0;
const KIND_TEXT: i64 = 1;

pub(crate) fn respond_signal(kind: i64, value: Value, status: i64, headers: Value) -> Exc {
    Exc(Box::new(ExcData::Respond(Value::tuple(vec![Value::Int(kind), value, Value::Int(status), headers]))))
}

fn status_code(v: &Value, what: &str) -> VmResult<i64> {
    match v {
        Value::Int(i) if (100..=599).contains(i) => Ok(*i),
        Value::Int(i) => Err(Exc::value_error(format!("{what}: invalid HTTP status code {i}"))),
        Value::Bool(_) | Value::None => Err(Exc::type_error(format!("{what}: the status code must be an int, not {}", type_name(v)))),
        other => Err(Exc::type_error(format!("{what}: the status code must be an int, not {}", type_name(other)))),
    }
}

/// `respond(value, status=200, headers=None)`.
fn respond_native(_vm: &mut Vm, args: &[Value], kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    if args.len() > 3 {
        return Err(Exc::type_error(format!("respond() takes from 1 to 3 positional arguments but {} were given", args.len())));
    }
    let value = args.first().cloned().or_else(|| kwarg(kw, "value").cloned()).unwrap_or(Value::None);
    let status = match args.get(1).or_else(|| kwarg(kw, "status")).or_else(|| kwarg(kw, "code")) {
        Some(v) => status_code(v, "respond()")?,
        None => 200,
    };
    let headers = args.get(2).or_else(|| kwarg(kw, "headers")).cloned().unwrap_or(Value::None);
    match &headers {
        Value::None | Value::Dict(_) => {}
        other => return Err(Exc::type_error(format!("respond(): headers must be a dict, not {}", type_name(other)))),
    }
    Err(respond_signal(KIND_JSON, value, status, headers))
}

/// `status(message, code)` (plain text) or `status(code)` (the reason phrase).
fn status_native(_vm: &mut Vm, args: &[Value], kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let code_kw = kwarg(kw, "code").or_else(|| kwarg(kw, "status"));
    let (msg, code) = match (args, code_kw) {
        ([Value::Int(_)], None) => (None, status_code(&args[0], "status()")?),
        ([m], Some(c)) => (Some(m.clone()), status_code(c, "status()")?),
        ([m, c], None) => (Some(m.clone()), status_code(c, "status()")?),
        ([], Some(c)) => (None, status_code(c, "status()")?),
        ([_], None) => return Err(Exc::type_error("status() missing the status code: write status('message', 404) or status(404)")),
        _ => return Err(Exc::type_error(format!("status() takes 1 or 2 positional arguments but {} were given", args.len()))),
    };
    let msg = match msg {
        Some(Value::Str(s)) => Value::Str(s),
        Some(Value::None) | None => s(reason(code as u16)),
        Some(other) => s(&plain_text(&other)),
    };
    Err(respond_signal(KIND_TEXT, msg, code, Value::None))
}

/// The standard reason phrase of a status code.
pub fn reason(code: u16) -> &'static str {
    hyper::StatusCode::from_u16(code).ok().and_then(|c| c.canonical_reason()).unwrap_or("Unknown Status")
}

/// `str(x)` for the simple values a status message or header value is made of.
fn plain_text(v: &Value) -> String {
    match v {
        Value::Str(s) => s.as_str().to_string(),
        Value::Int(i) => i.to_string(),
        Value::BigInt(b) => b.to_string(),
        Value::Float(f) => float_text(*f),
        Value::Bool(b) => if *b { "True".into() } else { "False".into() },
        Value::None => "None".into(),
        Value::Object(o) => o.str(),
        other => format!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Decorators: __inner__, protected, limit, basic.

/// `__inner__(payload)`: the wrapped handler of a `decorator` block ended with `respond` (the
/// compiler runs it as a plain call inside a `SetupRespond` handler, so it can suspend): record
/// the response (status and headers kept) and give the responded value to the decorator.
fn inner_native(_vm: &mut Vm, args: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let [ctx, payload] = args else { return Err(Exc::type_error("__inner__ expects the respond payload")) };
    let value = match payload {
        Value::Tuple(t) if t.len() == 4 => t[1].clone(),
        _ => Value::None,
    };
    if let Some(c) = obj::<Ctx>(ctx) {
        *c.recorded.borrow_mut() = Some(payload.clone());
    }
    Ok(value)
}

// `&protected` and `&limit` live in `crate::security` (issue 5).

/// `&basic` (models; the database issue gives it meaning): a pass-through for now.
fn basic_native(_vm: &mut Vm, args: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    match args {
        [x] => Ok(x.clone()),
        _ => Err(Exc::type_error("basic takes exactly one argument")),
    }
}

// ---------------------------------------------------------------------------------------------
// Request-scoped objects.

fn str_dict(pairs: &[(String, String)]) -> Value {
    let mut d = new_dict();
    for (k, v) in pairs {
        // First value per name wins (Werkzeug's MultiDict), keeping first-seen order.
        d.entry(HKey(s(k))).or_insert_with(|| s(v));
    }
    Value::dict(d)
}

/// Convert a parsed JSON body to VM values.
pub fn json_to_value(j: &Json) -> Value {
    match j {
        Json::Null => Value::None,
        Json::Bool(b) => Value::Bool(*b),
        Json::Int(i) => Value::Int(*i),
        Json::BigInt(t) => t.parse::<num_bigint::BigInt>().map(Value::from_bigint).unwrap_or(Value::None),
        Json::Float(f) => Value::Float(*f),
        Json::Str(x) => s(x),
        Json::Array(items) => Value::list(items.iter().map(json_to_value).collect()),
        Json::Object(members) => {
            let mut d = new_dict();
            for (k, v) in members {
                d.insert(HKey(s(k)), json_to_value(v));
            }
            Value::dict(d)
        }
    }
}

/// A bound method of a native object.
fn method(this: &Value, name: &'static str, f: ask_vm::value::NativeFnPtr) -> VmResult<Option<Value>> {
    Ok(Some(native(name, f, Some(this.clone()))))
}

fn key_arg(args: &[Value], what: &str) -> VmResult<String> {
    match args.get(1) {
        Some(Value::Str(k)) => Ok(k.as_str().to_string()),
        Some(other) => Ok(plain_text(other)),
        None => Err(Exc::type_error(format!("{what} missing 1 required positional argument: 'key'"))),
    }
}

fn py_str_repr(x: &str) -> String {
    let q = if x.contains('\'') && !x.contains('"') { '"' } else { '\'' };
    let mut o = String::new();
    o.push(q);
    for c in x.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if c == q => {
                o.push('\\');
                o.push(c)
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => o.push_str(&format!("\\x{:02x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push(q);
    o
}

fn pairs_repr(pairs: &[(String, String)]) -> String {
    let items: Vec<String> = pairs.iter().map(|(k, v)| format!("{}: {}", py_str_repr(k), py_str_repr(v))).collect();
    format!("{{{}}}", items.join(", "))
}

/// `args`: the query string; a dict of first values with `getlist`.
pub struct ArgsObj {
    pairs: Vec<(String, String)>,
}

impl ArgsObj {
    fn first(&self, k: &str) -> Option<&str> {
        self.pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
    fn keys(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for (k, _) in &self.pairs {
            if !out.contains(&k.as_str()) {
                out.push(k);
            }
        }
        out
    }
}

/// The native data behind a request object: `args[0]` is the instance (whose hidden
/// `__data__` attribute holds it) or the data object itself.
fn data_of(a: &[Value]) -> Value {
    match a.first() {
        Some(Value::Instance(i)) => i.attrs.borrow().get("__data__").cloned().unwrap_or(Value::None),
        Some(v) => v.clone(),
        None => Value::None,
    }
}

fn this_args(d: &Value) -> VmResult<&ArgsObj> {
    obj::<ArgsObj>(d).ok_or_else(|| Exc::type_error("descriptor requires an 'args' object"))
}

fn args_get(_vm: &mut Vm, a: &[Value], kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let d = data_of(a);
    let o = this_args(&d)?;
    let k = key_arg(a, "get()")?;
    let default = a.get(2).or_else(|| kwarg(kw, "default")).cloned().unwrap_or(Value::None);
    Ok(o.first(&k).map(s).unwrap_or(default))
}
fn args_getitem(_vm: &mut Vm, a: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let d = data_of(a);
    let o = this_args(&d)?;
    let k = key_arg(a, "__getitem__()")?;
    o.first(&k).map(s).ok_or_else(|| Exc::new(ExcKind::KeyError, py_str_repr(&k)))
}
fn args_getlist(_vm: &mut Vm, a: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let d = data_of(a);
    let o = this_args(&d)?;
    let k = key_arg(a, "getlist()")?;
    Ok(Value::list(o.pairs.iter().filter(|(n, _)| *n == k).map(|(_, v)| s(v)).collect()))
}
fn args_contains(_vm: &mut Vm, a: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let d = data_of(a);
    let o = this_args(&d)?;
    let k = key_arg(a, "__contains__()")?;
    Ok(Value::Bool(o.first(&k).is_some()))
}
fn args_len(_vm: &mut Vm, a: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let d = data_of(a);
    Ok(Value::Int(this_args(&d)?.keys().len() as i64))
}
fn args_keys(_vm: &mut Vm, a: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let d = data_of(a);
    Ok(Value::list(this_args(&d)?.keys().into_iter().map(s).collect()))
}
fn args_values(_vm: &mut Vm, a: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let d = data_of(a);
    let o = this_args(&d)?;
    Ok(Value::list(o.keys().into_iter().filter_map(|k| o.first(k)).map(s).collect()))
}
fn args_items(_vm: &mut Vm, a: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let d = data_of(a);
    let o = this_args(&d)?;
    Ok(Value::list(o.keys().into_iter().filter_map(|k| o.first(k).map(|v| Value::tuple(vec![s(k), s(v)]))).collect()))
}
fn args_to_dict(_vm: &mut Vm, a: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let d = data_of(a);
    Ok(str_dict(&this_args(&d)?.pairs))
}

impl NativeObject for ArgsObj {
    fn type_name(&self) -> &str {
        "Args"
    }
    fn get_attr(&self, _vm: &mut Vm, this: &Value, name: &str) -> VmResult<Option<Value>> {
        match name {
            "get" => method(this, "get", args_get),
            "getlist" => method(this, "getlist", args_getlist),
            "keys" | "__iter__" => method(this, "keys", args_keys),
            "values" => method(this, "values", args_values),
            "items" => method(this, "items", args_items),
            "to_dict" | "copy" => method(this, "to_dict", args_to_dict),
            "__getitem__" => method(this, "__getitem__", args_getitem),
            "__contains__" => method(this, "__contains__", args_contains),
            "__len__" => method(this, "__len__", args_len),
            _ => Ok(None),
        }
    }
    fn repr(&self) -> String {
        pairs_repr(&self.keys().into_iter().filter_map(|k| self.first(k).map(|v| (k.to_string(), v.to_string()))).collect::<Vec<_>>())
    }
    fn to_json(&self) -> Option<Value> {
        Some(str_dict(&self.pairs))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// `headers`: the request headers, looked up by any capitalisation.
pub struct HeadersObj {
    req: Arc<RequestData>,
}

impl HeadersObj {
    fn get(&self, k: &str) -> Option<String> {
        let mut vals = self.req.headers.get_all(k.to_ascii_lowercase().as_str()).iter().peekable();
        vals.peek()?;
        let joined: Vec<String> = vals.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).collect();
        Some(joined.join(", "))
    }
    /// Header names in a conventional capitalisation (`Content-Type`).
    fn pairs(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for name in self.req.headers.keys() {
            let title: String = name.as_str().split('-').map(|p| {
                let mut c = p.chars();
                match c.next() {
                    Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                    None => String::new(),
                }
            }).collect::<Vec<_>>().join("-");
            if let Some(v) = self.get(name.as_str()) {
                out.push((title, v));
            }
        }
        out
    }
}

fn this_headers(d: &Value) -> VmResult<&HeadersObj> {
    obj::<HeadersObj>(d).ok_or_else(|| Exc::type_error("descriptor requires a 'headers' object"))
}
fn headers_get(_vm: &mut Vm, a: &[Value], kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let d = data_of(a);
    let o = this_headers(&d)?;
    let k = key_arg(a, "get()")?;
    let default = a.get(2).or_else(|| kwarg(kw, "default")).cloned().unwrap_or(Value::None);
    Ok(o.get(&k).map(|v| s(&v)).unwrap_or(default))
}
fn headers_getitem(_vm: &mut Vm, a: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let d = data_of(a);
    let o = this_headers(&d)?;
    let k = key_arg(a, "__getitem__()")?;
    o.get(&k).map(|v| s(&v)).ok_or_else(|| Exc::new(ExcKind::KeyError, py_str_repr(&k)))
}
fn headers_contains(_vm: &mut Vm, a: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let d = data_of(a);
    let o = this_headers(&d)?;
    let k = key_arg(a, "__contains__()")?;
    Ok(Value::Bool(o.get(&k).is_some()))
}
fn headers_len(_vm: &mut Vm, a: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let d = data_of(a);
    Ok(Value::Int(this_headers(&d)?.pairs().len() as i64))
}
fn headers_keys(_vm: &mut Vm, a: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let d = data_of(a);
    Ok(Value::list(this_headers(&d)?.pairs().into_iter().map(|(k, _)| s(&k)).collect()))
}
fn headers_values(_vm: &mut Vm, a: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let d = data_of(a);
    Ok(Value::list(this_headers(&d)?.pairs().into_iter().map(|(_, v)| s(&v)).collect()))
}
fn headers_items(_vm: &mut Vm, a: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let d = data_of(a);
    Ok(Value::list(this_headers(&d)?.pairs().into_iter().map(|(k, v)| Value::tuple(vec![s(&k), s(&v)])).collect()))
}

impl NativeObject for HeadersObj {
    fn type_name(&self) -> &str {
        "Headers"
    }
    fn get_attr(&self, _vm: &mut Vm, this: &Value, name: &str) -> VmResult<Option<Value>> {
        match name {
            "get" => method(this, "get", headers_get),
            "keys" | "__iter__" => method(this, "keys", headers_keys),
            "values" => method(this, "values", headers_values),
            "items" => method(this, "items", headers_items),
            "__getitem__" => method(this, "__getitem__", headers_getitem),
            "__contains__" => method(this, "__contains__", headers_contains),
            "__len__" => method(this, "__len__", headers_len),
            _ => Ok(None),
        }
    }
    fn repr(&self) -> String {
        pairs_repr(&self.pairs())
    }
    fn to_json(&self) -> Option<Value> {
        Some(str_dict(&self.pairs()))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// One uploaded file (`files['doc']`).
pub struct FileObj {
    file: UploadedFile,
}

fn file_read(_vm: &mut Vm, a: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let f = a.first().and_then(obj::<FileObj>).ok_or_else(|| Exc::type_error("read() needs a file"))?;
    Ok(Value::Bytes(Rc::new(f.file.data.to_vec())))
}
fn file_text(_vm: &mut Vm, a: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let f = a.first().and_then(obj::<FileObj>).ok_or_else(|| Exc::type_error("text() needs a file"))?;
    Ok(s(&String::from_utf8_lossy(&f.file.data)))
}

impl NativeObject for FileObj {
    fn type_name(&self) -> &str {
        "UploadedFile"
    }
    fn get_attr(&self, _vm: &mut Vm, this: &Value, name: &str) -> VmResult<Option<Value>> {
        Ok(Some(match name {
            "filename" => s(&self.file.filename),
            "name" => s(&self.file.field),
            "content_type" | "mimetype" => s(&self.file.content_type),
            "size" => Value::Int(self.file.data.len() as i64),
            "read" => return method(this, "read", file_read),
            "text" => return method(this, "text", file_text),
            _ => return Ok(None),
        }))
    }
    fn repr(&self) -> String {
        format!("<UploadedFile: {} ({})>", py_str_repr(&self.file.filename), py_str_repr(&self.file.content_type))
    }
    fn to_json(&self) -> Option<Value> {
        let mut d = new_dict();
        d.insert(HKey(s("filename")), s(&self.file.filename));
        d.insert(HKey(s("content_type")), s(&self.file.content_type));
        d.insert(HKey(s("size")), Value::Int(self.file.data.len() as i64));
        Some(Value::dict(d))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// `request`: method, path, url, remote_addr and the other request built-ins.
pub struct RequestObj {
    req: Arc<RequestData>,
    fields: Vec<(&'static str, Value)>,
}

impl NativeObject for RequestObj {
    fn type_name(&self) -> &str {
        "Request"
    }
    fn get_attr(&self, _vm: &mut Vm, _this: &Value, name: &str) -> VmResult<Option<Value>> {
        let r = &self.req;
        Ok(Some(match name {
            "method" => s(&r.method),
            "path" => s(&crate::router::percent_decode(&r.path, false)),
            "full_path" => s(&if r.query.is_empty() { r.path.clone() } else { format!("{}?{}", r.path, r.query) }),
            "url" => s(&r.url()),
            "query_string" => s(&r.query),
            "remote_addr" => s(&r.remote_addr),
            "content_type" => r.headers.get("content-type").map(|v| s(&String::from_utf8_lossy(v.as_bytes()))).unwrap_or(Value::None),
            "data" => Value::Bytes(Rc::new(r.raw.to_vec())),
            "text" => s(&String::from_utf8_lossy(&r.raw)),
            _ => match self.fields.iter().find(|(n, _)| *n == name) {
                Some((_, v)) => v.clone(),
                None => return Ok(None),
            },
        }))
    }
    fn repr(&self) -> String {
        format!("<Request {} {}>", py_str_repr(&self.req.url()), self.req.method)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// `env`: `env.get(name, default=None)` reads the environment (the `.env` file completes it).
pub struct EnvObj;

fn env_get(vm: &mut Vm, a: &[Value], kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let k = key_arg(a, "get()")?;
    let default = a.get(2).or_else(|| kwarg(kw, "default")).cloned().unwrap_or(Value::None);
    Ok(vm.host.env_var(&k).map(|v| s(&v)).unwrap_or(default))
}
fn env_getitem(vm: &mut Vm, a: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let k = key_arg(a, "__getitem__()")?;
    vm.host.env_var(&k).map(|v| s(&v)).ok_or_else(|| Exc::new(ExcKind::KeyError, py_str_repr(&k)))
}
fn env_contains(vm: &mut Vm, a: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let k = key_arg(a, "__contains__()")?;
    Ok(Value::Bool(vm.host.env_var(&k).is_some()))
}

impl NativeObject for EnvObj {
    fn type_name(&self) -> &str {
        "Env"
    }
    fn get_attr(&self, _vm: &mut Vm, this: &Value, name: &str) -> VmResult<Option<Value>> {
        match name {
            "get" => method(this, "get", env_get),
            "__getitem__" => method(this, "__getitem__", env_getitem),
            "__contains__" => method(this, "__contains__", env_contains),
            _ => Ok(None),
        }
    }
    fn repr(&self) -> String {
        "<env>".into()
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A class whose methods are natives (bound to the instance like Ask methods). Request objects
/// are instances of such classes rather than bare native objects so that every operator
/// (`in`, `[]`, `len`, iteration, `respond` through `s()`) works through the ordinary dunder
/// protocol of instances.
fn make_class(name: &str, methods: &[(&'static str, ask_vm::value::NativeFnPtr)]) -> Rc<Class> {
    let mut attrs = IndexMap::with_hasher(FxBuildHasher);
    for (n, f) in methods {
        attrs.insert(Rc::from(*n), native(n, *f, None));
    }
    Rc::new(Class { name: Rc::new(StrObj::new(name.to_string())), base: None, attrs: RefCell::new(attrs), builtin: None })
}

fn instance(class: &Rc<Class>, data: Value) -> Value {
    let mut attrs = IndexMap::with_hasher(FxBuildHasher);
    attrs.insert(Rc::from("__data__"), data);
    Value::Instance(Rc::new(Instance { class: class.clone(), attrs: RefCell::new(attrs) }))
}

fn obj_repr(_vm: &mut Vm, a: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    match data_of(a) {
        Value::Object(o) => Ok(s(&o.repr())),
        _ => Ok(s("<request object>")),
    }
}

fn args_iter(vm: &mut Vm, a: &[Value], kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let keys = args_keys(vm, a, kw)?;
    ask_vm::ops::iter(vm, &keys)
}

fn headers_iter(vm: &mut Vm, a: &[Value], kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let keys = headers_keys(vm, a, kw)?;
    ask_vm::ops::iter(vm, &keys)
}

fn headers_to_dict(_vm: &mut Vm, a: &[Value], _kw: &[(Rc<StrObj>, Value)]) -> VmResult<Value> {
    let d = data_of(a);
    Ok(str_dict(&this_headers(&d)?.pairs()))
}

/// The request-scoped built-in names, in bit order of the "used" mask.
const REQUEST_NAMES: [&str; 7] = ["body", "form", "args", "files", "req", "headers", "request"];
const B_BODY: u8 = 1;
const B_FORM: u8 = 2;
const B_ARGS: u8 = 4;
const B_FILES: u8 = 8;
const B_REQ: u8 = 16;
const B_HEADERS: u8 = 32;
const B_REQUEST: u8 = 64;

/// Which request built-ins the program can read at all: a name that appears in no module's
/// global-name table is never looked up, so it need not be built per request (this keeps a
/// handler that only reads `body` from paying for `headers`, `args`, `req`...).
pub fn used_request_names(program: &Program, underscores: bool) -> u8 {
    let mut used = 0u8;
    for m in &program.modules {
        for g in &m.globals {
            let name = match g.strip_prefix('_') {
                Some(rest) if underscores && !rest.starts_with('_') => rest,
                _ => g.as_str(),
            };
            if let Some(i) = REQUEST_NAMES.iter().position(|n| *n == name) {
                used |= 1 << i;
            }
        }
    }
    used
}

/// The request-scoped built-ins of one request that the program uses, as (name, value) pairs.
fn request_locals(req: &Arc<RequestData>, ctx: &Ctx, used: u8) -> Vec<(&'static str, Value)> {
    let mut out = Vec::with_capacity(7);
    if used == 0 {
        return out;
    }
    // What must be built: `request` carries everything, `req` merges body, form, args, files.
    let mut need = used;
    if need & B_REQUEST != 0 {
        need = 0x7f;
    }
    if need & B_REQ != 0 {
        need |= B_BODY | B_FORM | B_FILES;
    }
    let body = if need & B_BODY != 0 { req.json.as_ref().map(json_to_value).unwrap_or(Value::None) } else { Value::None };
    let form = if need & B_FORM != 0 { str_dict(&req.form) } else { Value::None };
    let args = if need & B_ARGS != 0 { instance(&ctx.args_class, object(ArgsObj { pairs: req.args.clone() })) } else { Value::None };
    let files = if need & B_FILES != 0 {
        let mut files_d = new_dict();
        for f in &req.files {
            files_d.entry(HKey(s(&f.field))).or_insert_with(|| object(FileObj { file: f.clone() }));
        }
        Value::dict(files_d)
    } else {
        Value::None
    };
    let req_v = if need & B_REQ != 0 {
        // body (if a dict), then form, then args (first values), then files; later wins.
        let mut merged = new_dict();
        for src in [&body, &form] {
            if let Value::Dict(d) = src {
                for (k, v) in d.borrow().iter() {
                    merged.insert(k.clone(), v.clone());
                }
            }
        }
        let mut seen: Vec<&str> = Vec::new();
        for (k, v) in &req.args {
            // The first value per name, overriding body and form.
            if !seen.contains(&k.as_str()) {
                seen.push(k);
                merged.insert(HKey(s(k)), s(v));
            }
        }
        if let Value::Dict(d) = &files {
            for (k, v) in d.borrow().iter() {
                merged.insert(k.clone(), v.clone());
            }
        }
        Value::dict(merged)
    } else {
        Value::None
    };
    let headers = if need & B_HEADERS != 0 { instance(&ctx.headers_class, object(HeadersObj { req: req.clone() })) } else { Value::None };
    let request = if need & B_REQUEST != 0 {
        object(RequestObj {
            req: req.clone(),
            fields: vec![
                ("headers", headers.clone()),
                ("body", body.clone()),
                ("json", body.clone()),
                ("form", form.clone()),
                ("args", args.clone()),
                ("files", files.clone()),
                ("req", req_v.clone()),
            ],
        })
    } else {
        Value::None
    };
    for (i, v) in [body, form, args, files, req_v, headers, request].into_iter().enumerate() {
        if used & (1 << i) != 0 {
            out.push((REQUEST_NAMES[i], v));
        }
    }
    out
}

const UNDERSCORED: [&str; 7] = ["_body", "_form", "_args", "_files", "_req", "_headers", "_request"];

// ---------------------------------------------------------------------------------------------
// JSON encoding of responses.

/// Compact JSON of a value (`respond`): insertion order, UTF-8, models through `s()`.
pub fn to_json(vm: &mut Vm, v: &Value) -> VmResult<String> {
    let mut out = String::with_capacity(64);
    encode(vm, v, &mut out, 0)?;
    Ok(out)
}

fn not_serializable(v: &Value) -> Exc {
    Exc::type_error(format!("Object of type {} is not JSON serializable", type_name(v)))
}

fn encode(vm: &mut Vm, v: &Value, out: &mut String, depth: usize) -> VmResult<()> {
    if depth > 500 {
        return Err(Exc::value_error("Circular reference detected"));
    }
    match v {
        Value::None => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
        Value::BigInt(b) => out.push_str(&b.to_string()),
        Value::Float(f) => out.push_str(&float_text(*f)),
        Value::Str(x) => write_str(out, x.as_str()),
        // Lists and dicts are walked by index, re-borrowing per item (an `s()` method called
        // while encoding may change them) instead of being copied whole first: the copy was the
        // largest cost of encoding a small response.
        Value::List(l) => encode_seq(vm, out, depth, |i| l.borrow().get(i).cloned())?,
        Value::Tuple(t) => encode_seq(vm, out, depth, |i| t.get(i).cloned())?,
        Value::Dict(d) => {
            out.push('{');
            let mut i = 0;
            loop {
                let Some((k, item)) = d.borrow().0.get_index(i).map(|(k, v)| (k.0.clone(), v.clone())) else { break };
                if i > 0 {
                    out.push(',');
                }
                i += 1;
                match &k {
                    Value::Str(x) => write_str(out, x.as_str()),
                    Value::Int(n) => write_str(out, itoa::Buffer::new().format(*n)),
                    Value::BigInt(n) => write_str(out, &n.to_string()),
                    Value::Float(f) => write_str(out, &float_text(*f)),
                    Value::Bool(b) => write_str(out, if *b { "true" } else { "false" }),
                    Value::None => write_str(out, "null"),
                    other => return Err(Exc::type_error(format!("keys must be str, int, float, bool or None, not {}", type_name(other)))),
                }
                out.push(':');
                encode(vm, &item, out, depth + 1)?;
            }
            out.push('}');
        }
        Value::Instance(inst) => {
            // Models and other classes serialise through their `s()` method (as 1.5.0).
            match inst.class.lookup("s") {
                Some(f) => {
                    let r = vm.call_value(&f, std::slice::from_ref(v), &[])?;
                    encode(vm, &r, out, depth + 1)?;
                }
                None => return Err(not_serializable(v)),
            }
        }
        Value::Object(o) => match o.to_json() {
            Some(j) => encode(vm, &j, out, depth + 1)?,
            None => return Err(not_serializable(v)),
        },
        Value::Set(_) | Value::FrozenSet(_) => return Err(not_serializable(v)),
        Value::Bytes(b) => match std::str::from_utf8(b) {
            Ok(t) => write_str(out, t),
            Err(_) => return Err(not_serializable(v)),
        },
        _ => return Err(not_serializable(v)),
    }
    Ok(())
}

fn encode_seq(vm: &mut Vm, out: &mut String, depth: usize, item: impl Fn(usize) -> Option<Value>) -> VmResult<()> {
    out.push('[');
    let mut i = 0;
    while let Some(it) = item(i) {
        if i > 0 {
            out.push(',');
        }
        encode(vm, &it, out, depth + 1)?;
        i += 1;
    }
    out.push(']');
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The engine.

/// Per-task state kept by the engine (under the lock).
struct TaskState {
    req: Arc<RequestData>,
    recorded: Option<Value>,
    route: usize,
}

/// Everything behind the VM lock.
struct Guarded {
    vm: Vm,
    ctx: Rc<Box<dyn NativeObject>>,
    tasks: rustc_hash::FxHashMap<u32, TaskState>,
}

/// The lock's content, movable between worker threads.
struct SendGuarded(Guarded);

// SAFETY: the same argument as for `Vm: Send` (vm/src/vm.rs): every `Rc` reachable from
// `Guarded` (the VM's heap, the request context object, the values in `tasks`) is owned by it
// and only touched while the engine's mutex is held; nothing taken from it outlives the lock
// scope except plain Rust data (`Reply`, `Duration`), so no two threads ever touch one
// non-atomic refcount.
unsafe impl Send for SendGuarded {}

/// Runs handlers in the program's VM.
pub struct VmEngine {
    vm: tokio::sync::Mutex<SendGuarded>,
    permits: tokio::sync::Semaphore,
    underscores: bool,
    dev: bool,
    routes: Vec<ask_vm::route::RouteInfo>,
    /// Request built-ins the program reads (see `used_request_names`).
    used: u8,
    /// [dev hook] `ask dev`: one lock shared by every VM of the process (VMs share values after a
    /// hot swap), taken before `vm`; `None` in production. See `crate::dev` for the argument.
    gil: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// What one locked step produced.
enum Step {
    Done(Reply),
    Sleep(TaskId, f64),
    /// [authwire hook] A hashing op to run off the lock (`crate::security::Job`).
    Offload(TaskId, crate::security::Job),
}

impl VmEngine {
    /// Wrap a VM whose program is loaded and whose top-level code has run.
    pub fn new(mut vm: Vm, ctx: Rc<Box<dyn NativeObject>>, cfg: &crate::config::Config, dev: bool) -> VmEngine {
        let routes = vm.program().map(|p| p.routes.clone()).unwrap_or_default();
        let used = vm.program().map(|p| used_request_names(p, cfg.underscores)).unwrap_or(0x7f);
        vm.limits.instruction_budget = cfg.instruction_budget;
        VmEngine {
            vm: tokio::sync::Mutex::new(SendGuarded(Guarded { vm, ctx, tasks: Default::default() })),
            permits: tokio::sync::Semaphore::new(cfg.max_concurrency),
            underscores: cfg.underscores,
            dev,
            routes,
            used,
            gil: None,
        }
    }

    /// [dev hook] Share `gil` with other engines (taken before this engine's own lock).
    pub fn with_gil(mut self, gil: Arc<tokio::sync::Mutex<()>>) -> VmEngine {
        self.gil = Some(gil);
        self
    }

    /// [dev hook] Run `f` on the VM from a blocking (non-async) thread. The caller holds the
    /// shared gil when there is one.
    pub fn with_vm_blocking<R>(&self, f: impl FnOnce(&mut Vm) -> R) -> R {
        f(&mut self.vm.blocking_lock().0.vm)
    }

    fn finish(&self, g: &mut Guarded, t: TaskId, outcome: RunOutcome) -> Step {
        match outcome {
            RunOutcome::Suspended(HostCall::Sleep(secs)) => Step::Sleep(t, secs),
            RunOutcome::Suspended(HostCall::Op { name, args }) if crate::security::is_offloaded(name) => {
                Step::Offload(t, crate::security::Job::new(name, &args)) // [authwire hook]
            }
            RunOutcome::Suspended(call) => {
                // Other host operations (database, mail) are not served here yet: answer the
                // task synchronously through the host and continue.
                let result = g.vm.call_host_blocking(call);
                let outcome = self.run_in(g, t, Some(result));
                self.finish(g, t, outcome)
            }
            RunOutcome::Done(v) => {
                crate::security::sec(&ctx_of_rc(&g.ctx).sec).end_task(t); // [authwire hook]
                let state = g.tasks.remove(&t.0);
                g.vm.drop_task(t);
                let recorded = state.as_ref().and_then(|s| s.recorded.clone());
                let route = state.as_ref().map(|s| s.route).unwrap_or(0);
                let reply = match (recorded, v) {
                    (Some(payload), Value::None) => self.payload_reply(g, payload),
                    (Some(payload), v) => {
                        let same = matches!(&payload, Value::Tuple(p) if p.len() == 4 && ask_vm::value::identity(&p[1]) == ask_vm::value::identity(&v) && ask_vm::value::identity(&v) != 0);
                        if same { self.payload_reply(g, payload) } else { self.json_reply(g, &v, 200, Value::None) }
                    }
                    (None, Value::None) => {
                        let r = self.routes.get(route);
                        let what = r.map(|r| format!("{} {} ({}:{})", r.method, r.path, r.file, r.line)).unwrap_or_default();
                        eprintln!("ask: the handler of {what} ended without responding (call respond(...) or status(...))");
                        if self.dev {
                            Reply::json(500, format!("{{\"message\":\"Internal Server Error\",\"error\":{}}}", {
                                let mut e = String::new();
                                write_str(&mut e, &format!("the handler of {what} ended without responding"));
                                e
                            }))
                        } else {
                            Reply::internal_error()
                        }
                    }
                    (None, v) => self.json_reply(g, &v, 200, Value::None),
                };
                Step::Done(reply)
            }
            RunOutcome::Failed(exc) => {
                crate::security::sec(&ctx_of_rc(&g.ctx).sec).end_task(t); // [authwire hook]
                g.tasks.remove(&t.0);
                g.vm.drop_task(t);
                Step::Done(self.failure(g, exc))
            }
        }
    }

    fn failure(&self, g: &mut Guarded, exc: Exc) -> Reply {
        match *exc.0 {
            ExcData::Respond(payload) => self.payload_reply(g, payload),
            ExcData::Limit(kind) => {
                let what = match kind {
                    LimitKind::Instructions => "the handler ran out of its instruction budget ([server] instruction_budget)",
                    LimitKind::Memory => "the handler exceeded a size limit",
                };
                eprintln!("ask: 500: {what}");
                if self.dev {
                    let mut e = String::new();
                    write_str(&mut e, what);
                    Reply::json(500, format!("{{\"message\":\"Internal Server Error\",\"error\":{e}}}"))
                } else {
                    Reply::internal_error()
                }
            }
            other => {
                let exc = Exc(Box::new(other));
                let tb = g.vm.format_traceback(&exc);
                eprintln!("{}", tb.trim_end());
                if self.dev {
                    let last = tb.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
                    let (mut e, mut t) = (String::new(), String::new());
                    write_str(&mut e, &last);
                    write_str(&mut t, &tb);
                    Reply::json(500, format!("{{\"message\":\"Internal Server Error\",\"error\":{e},\"traceback\":{t}}}"))
                } else {
                    Reply::internal_error()
                }
            }
        }
    }

    fn json_reply(&self, g: &mut Guarded, v: &Value, status: i64, headers: Value) -> Reply {
        match to_json(&mut g.vm, v) {
            Ok(body) => {
                let mut r = Reply::json(status as u16, body);
                add_headers(&mut r, &headers);
                r
            }
            Err(e) => self.failure(g, e),
        }
    }

    fn payload_reply(&self, g: &mut Guarded, payload: Value) -> Reply {
        let Value::Tuple(p) = &payload else { return Reply::internal_error() };
        if p.len() != 4 {
            return Reply::internal_error();
        }
        let status = match p[2] {
            Value::Int(i) => i,
            _ => 200,
        };
        match p[0] {
            Value::Int(KIND_TEXT) => {
                let mut r = Reply::text(status as u16, Bytes::from(plain_text(&p[1])));
                add_headers(&mut r, &p[3]);
                r
            }
            _ => self.json_reply(g, &p[1], status, p[3].clone()),
        }
    }

    /// Run (or resume) task `t` with the request context pointed at its request.
    fn run_in(&self, g: &mut Guarded, t: TaskId, resume: Option<VmResult<Value>>) -> RunOutcome {
        if let Some(state) = g.tasks.get_mut(&t.0) {
            let ctx = ctx_of_rc(&g.ctx);
            *ctx.req.borrow_mut() = Some(state.req.clone());
            *ctx.recorded.borrow_mut() = state.recorded.take();
            crate::security::sec(&ctx.sec).enter(t, &state.req); // [authwire hook]
        }
        let outcome = match resume {
            None => g.vm.run(t),
            Some(r) => g.vm.resume(t, r),
        };
        let ctx = ctx_of_rc(&g.ctx);
        let recorded = ctx.recorded.borrow_mut().take();
        *ctx.req.borrow_mut() = None;
        crate::security::sec(&ctx.sec).leave(); // [authwire hook]
        if let Some(state) = g.tasks.get_mut(&t.0) {
            state.recorded = recorded;
        }
        outcome
    }

    /// Start the handler of `route` for `req` and run it to its first stop.
    fn begin(&self, g: &mut Guarded, route: usize, params: Vec<ParamValue>, req: Arc<RequestData>) -> Step {
        let Some(mut handler) = g.vm.route_handler(route) else {
            eprintln!("ask: route {route} has no registered handler");
            return Step::Done(Reply::internal_error());
        };
        // Built-in decorators at the outside of the chain are checked here, in Rust, so the task
        // starts directly with the function they wrap (and can still suspend). [authwire hook]
        let pre = match crate::security::decorators::peel(handler, &req) {
            Ok((inner, pre)) => {
                handler = inner;
                pre
            }
            Err(refusal) => return Step::Done(refusal),
        };
        let args: Vec<Value> = params.into_iter().map(|p| match p {
            ParamValue::Str(x) => s(&x),
            ParamValue::Int(i) => Value::Int(i),
            ParamValue::BigInt(t) => t.parse::<num_bigint::BigInt>().map(Value::from_bigint).unwrap_or(Value::None),
            ParamValue::Float(f) => Value::Float(f),
        }).collect();
        let t = g.vm.start(&handler, args);
        let locals = request_locals(&req, ctx_of_rc(&g.ctx), self.used);
        for (name, value) in locals {
            if self.underscores {
                if let Some(u) = UNDERSCORED.iter().find(|u| &u[1..] == name) {
                    g.vm.set_task_local(t, u, value.clone());
                }
            }
            g.vm.set_task_local(t, name, value);
        }
        let sec = ctx_of_rc(&g.ctx).sec.clone();
        crate::security::begin_task(&sec, &mut g.vm, t, &req, pre, self.underscores); // [authwire hook]
        g.tasks.insert(t.0, TaskState { req, recorded: None, route });
        let outcome = self.run_in(g, t, None);
        self.finish(g, t, outcome)
    }

    fn resume_sleep(&self, g: &mut Guarded, t: TaskId) -> Step {
        let outcome = self.run_in(g, t, Some(Ok(Value::None)));
        self.finish(g, t, outcome)
    }

    /// Run `f` on the locked VM, turning a Rust panic into a 500 (the task is dropped).
    fn guarded(&self, g: &mut Guarded, t: Option<TaskId>, f: impl FnOnce(&Self, &mut Guarded) -> Step) -> Step {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self, g))) {
            Ok(step) => step,
            Err(_) => {
                eprintln!("ask: internal error (panic) while running a handler; answered 500, the server keeps running");
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let ctx = ctx_of_rc(&g.ctx);
                    ctx.req.borrow_mut().take();
                    ctx.recorded.borrow_mut().take();
                    crate::security::sec(&ctx.sec).leave(); // [authwire hook]
                    if let Some(t) = t {
                        crate::security::sec(&ctx.sec).end_task(t);
                        g.tasks.remove(&t.0);
                        g.vm.drop_task(t);
                    }
                }));
                Step::Done(Reply::internal_error())
            }
        }
    }
}

fn ctx_of_rc(ctx: &Rc<Box<dyn NativeObject>>) -> &Ctx {
    (***ctx).as_any().downcast_ref::<Ctx>().expect("request context")
}

fn add_headers(r: &mut Reply, headers: &Value) {
    if let Value::Dict(d) = headers {
        for (k, v) in d.borrow().iter() {
            let name = plain_text(&k.0);
            let value = plain_text(v);
            if name.eq_ignore_ascii_case("content-type") {
                r.headers.retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
            }
            r.headers.push((name, value));
        }
    }
}

/// A task parked in a host call on behalf of a request future; if that future is dropped (the
/// client disconnected), the task is dropped from the VM instead of leaking.
struct Parked {
    engine: Arc<VmEngine>,
    task: Option<TaskId>,
}

impl Drop for Parked {
    fn drop(&mut self) {
        let Some(t) = self.task.take() else { return };
        let engine = self.engine.clone();
        let forget = async move {
            let _gil = match &engine.gil { Some(l) => Some(l.lock().await), None => None };
            let mut g = engine.vm.lock().await;
            crate::security::sec(&ctx_of_rc(&g.0.ctx).sec).end_task(t); // [authwire hook]
            g.0.tasks.remove(&t.0);
            g.0.vm.drop_task(t);
        };
        if let Ok(h) = tokio::runtime::Handle::try_current() {
            h.spawn(forget);
        }
    }
}

impl Engine for VmEngine {
    fn handle(self: Arc<Self>, route: usize, params: Vec<ParamValue>, req: Arc<RequestData>) -> BoxFuture<Reply> {
        Box::pin(async move {
            let Ok(_permit) = self.permits.acquire().await else { return Reply::message(503, "Service Unavailable") };
            let mut step = {
                let _gil = match &self.gil { Some(l) => Some(l.lock().await), None => None }; // [dev hook]
                let mut g = self.vm.lock().await;
                self.guarded(&mut g.0, None, |e, g| e.begin(g, route, params, req))
            };
            let mut parked = Parked { engine: self.clone(), task: None };
            loop {
                match step {
                    Step::Done(reply) => return reply,
                    Step::Sleep(t, secs) => {
                        // If the client goes away while the task waits, `parked` drops the task.
                        parked.task = Some(t);
                        if secs.is_finite() && secs > 0.0 {
                            tokio::time::sleep(Duration::from_secs_f64(secs.min(3600.0))).await;
                        } else {
                            tokio::task::yield_now().await;
                        }
                        let _gil = match &self.gil { Some(l) => Some(l.lock().await), None => None }; // [dev hook]
                        let mut g = self.vm.lock().await;
                        parked.task = None;
                        step = self.guarded(&mut g.0, Some(t), |e, g| e.resume_sleep(g, t));
                    }
                    Step::Offload(t, job) => {
                        // [authwire hook] hashing runs off the lock and off the async workers.
                        parked.task = Some(t);
                        let output = job.run().await;
                        let _gil = match &self.gil { Some(l) => Some(l.lock().await), None => None };
                        let mut g = self.vm.lock().await;
                        parked.task = None;
                        step = self.guarded(&mut g.0, Some(t), |e, g| {
                            let outcome = e.run_in(g, t, Some(output.into_result()));
                            e.finish(g, t, outcome)
                        });
                    }
                }
            }
        })
    }
}

/// Install the host natives into a fresh VM (before its program's top level runs).
pub fn install_natives(vm: &mut Vm, underscores: bool) -> Rc<Box<dyn NativeObject>> {
    let sec = crate::security::install(vm, underscores); // [authwire hook] protected, limit, auth, hash
    let ctx: Rc<Box<dyn NativeObject>> = Rc::new(Box::new(Ctx {
        args_class: make_class("Args", &[
            ("get", args_get), ("getlist", args_getlist), ("keys", args_keys), ("values", args_values),
            ("items", args_items), ("to_dict", args_to_dict), ("copy", args_to_dict), ("s", args_to_dict),
            ("__getitem__", args_getitem), ("__contains__", args_contains), ("__len__", args_len),
            ("__iter__", args_iter), ("__repr__", obj_repr), ("__str__", obj_repr),
        ]),
        headers_class: make_class("Headers", &[
            ("get", headers_get), ("keys", headers_keys), ("values", headers_values), ("items", headers_items),
            ("to_dict", headers_to_dict), ("copy", headers_to_dict), ("s", headers_to_dict),
            ("__getitem__", headers_getitem), ("__contains__", headers_contains), ("__len__", headers_len),
            ("__iter__", headers_iter), ("__repr__", obj_repr), ("__str__", obj_repr),
        ]),
        req: RefCell::new(None),
        recorded: RefCell::new(None),
        sec,
    }));
    let ctx_v = Value::Object(ctx.clone());
    let natives: Vec<(&'static str, Value)> = vec![
        ("respond", native("respond", respond_native, None)),
        ("status", native("status", status_native, None)),
        ("basic", native("basic", basic_native, None)),
        ("env", object(EnvObj)),
    ];
    for (name, v) in natives {
        if underscores {
            vm.builtins.insert(Rc::from(format!("_{name}").as_str()), v.clone());
        }
        vm.builtins.insert(Rc::from(name), v);
    }
    vm.builtins.insert(Rc::from("__inner__"), native("__inner__", inner_native, Some(ctx_v)));
    ctx
}

/// A new VM for `program` with the server's host and natives; runs the top-level code.
pub fn boot(program: Arc<Program>, cfg: &crate::config::Config, dotenv: Arc<Vec<(String, String)>>) -> Result<(Vm, Rc<Box<dyn NativeObject>>), String> {
    let host = ServerHost::new(dotenv);
    // The top level runs under the start-up budget, not the per-request one (it may build
    // large tables).
    let budget = cfg.startup_budget();
    let mut vm = Vm::new(Box::new(host), Limits { instruction_budget: budget, ..Limits::default() });
    let ctx = install_natives(&mut vm, cfg.underscores);
    crate::utilities::install(&mut vm, cfg.underscores);
    let sec = ctx_of_rc(&ctx).sec.clone(); // [authwire hook]
    crate::security::configure(&sec, cfg)?;
    vm.load(program);
    if let Err(e) = vm.run_main() {
        if let ExcData::Limit(LimitKind::Instructions) = &*e.0 {
            return Err(format!(
                "ask: the top-level code ran out of its start-up budget of {budget} instructions ([server] startup_budget): does it loop forever?\n{}",
                vm.format_traceback(&e).trim_end()
            ));
        }
        return Err(vm.format_traceback(&e));
    }
    crate::security::finalize(&mut vm, &sec, cfg)?; // [authwire hook] the secret
    Ok((vm, ctx))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> VmEngine {
        let mut vm = Vm::new(Box::new(ServerHost::new(Arc::new(Vec::new()))), Limits::default());
        let ctx = install_natives(&mut vm, true);
        VmEngine::new(vm, ctx, &crate::config::Config::default(), false)
    }

    #[test]
    fn a_panic_inside_a_request_is_a_500_and_the_engine_keeps_working() {
        let e = engine();
        let mut g = e.vm.try_lock().unwrap();
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let step = e.guarded(&mut g.0, None, |_, _| panic!("boom"));
        std::panic::set_hook(prev);
        match step {
            Step::Done(r) => assert_eq!(r.status, 500),
            _ => panic!("expected a reply"),
        }
        // The VM is still usable: encode a value under the same lock.
        let mut d = new_dict();
        d.insert(HKey(s("a")), Value::list(vec![Value::Int(1), Value::Float(2.5), Value::None]));
        assert_eq!(to_json(&mut g.0.vm, &Value::dict(d)).unwrap(), "{\"a\":[1,2.5,null]}");
    }

    #[test]
    fn respond_and_status_payloads() {
        let e = engine();
        let mut g = e.vm.try_lock().unwrap();
        let err = respond_native(&mut g.0.vm, &[s("x"), Value::Int(201)], &[]).unwrap_err();
        let ExcData::Respond(p) = *err.0 else { panic!("not a respond signal") };
        let r = e.payload_reply(&mut g.0, p);
        assert_eq!((r.status, &r.body[..]), (201, &b"\"x\""[..]));
        let err = status_native(&mut g.0.vm, &[Value::Int(503)], &[]).unwrap_err();
        let ExcData::Respond(p) = *err.0 else { panic!("not a respond signal") };
        let r = e.payload_reply(&mut g.0, p);
        assert_eq!((r.status, &r.body[..]), (503, &b"Service Unavailable"[..]));
        assert!(respond_native(&mut g.0.vm, &[s("x"), Value::Int(99)], &[]).unwrap_err().is_exception());
        assert!(status_native(&mut g.0.vm, &[s("only a message")], &[]).unwrap_err().is_exception());
    }
}
