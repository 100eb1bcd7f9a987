//! `&protected` and `&limit(rule)`: natives returning wrappers, and [`peel`], the Rust fast path
//! that runs the built-in wrappers at the outside of a route's decorator chain before the
//! handler task starts.
//!
//! A wrapper is a `Native` whose `bound` value is a tuple `(security state, [limiter,] wrapped
//! function)`; it is recognised by its function pointer, so a user function that happens to be
//! named `protected` is never mistaken for it.

use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use ask_auth::jwt::{Authenticated, Rejection};
use ask_auth::limit::{Decision, Limiter, LimiterRegistry, DEFAULT_MAX_KEYS};
use ask_vm::error::{Exc, VmResult};
use ask_vm::value::{HKey, NativeFunc, NativeObject, StrObj, Value};
use ask_vm::vm::Vm;

use super::{sec, try_sec, Sec};
use crate::engine::Reply;
use crate::request::RequestData;

type Kw<'a> = &'a [(Rc<StrObj>, Value)];

fn native(name: &'static str, func: ask_vm::value::NativeFnPtr, bound: Value) -> Value {
    Value::Native(Rc::new(NativeFunc { name, func, bound: Some(bound), data: None }))
}

/// The process-wide limiter registry (see the module docs of `security`).
pub fn registry() -> &'static LimiterRegistry {
    static REGISTRY: OnceLock<LimiterRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| LimiterRegistry::new(DEFAULT_MAX_KEYS))
}

/// A limiter held by a `&limit` wrapper.
struct LimiterObj(Arc<Limiter>);

impl NativeObject for LimiterObj {
    fn type_name(&self) -> &str {
        "limiter"
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

// ---------------------------------------------------------------------------------------------
// The checks (plain Rust over the request).

/// The `&protected` check.
pub fn authenticate(s: &Sec, req: Option<&RequestData>) -> Result<Authenticated, Rejection> {
    let Some(req) = req else { return Err(Rejection::Missing) };
    let header = req.headers.get("authorization").and_then(|v| v.to_str().ok());
    let query = if req.query.is_empty() { None } else { Some(req.query.as_str()) };
    match s.validator() {
        Some(v) => v.authenticate(header, query, ask_auth::jwt::now_unix()),
        // No secret yet (a protected function called by top-level code): nothing is valid.
        None => match ask_auth::jwt::extract_token(header, query).token() {
            None => Err(Rejection::Missing),
            Some(_) => Err(Rejection::Invalid(ask_auth::jwt::JwtError::Malformed)),
        },
    }
}

/// The address a request is counted under (`remote_addr` already honours
/// `[server] trusted_proxies`, see `http::client_addr`).
pub fn client_ip(req: Option<&RequestData>) -> IpAddr {
    req.and_then(|r| r.remote_addr.parse().ok()).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

fn rejection_reply(r: &Rejection) -> Reply {
    // The framework's compact `{"message":…}` form (like every other framework error).
    let msg = if r.status() == 400 { "Missing token!" } else { "Invalid token!" };
    let mut reply = Reply::message(r.status(), msg);
    if let Some(w) = r.www_authenticate() {
        reply.headers.push(("www-authenticate".into(), w.into()));
    }
    reply
}

fn limited_reply(retry_after: u64) -> Reply {
    let mut reply = Reply::message(429, "Too Many Requests");
    reply.headers.push(("retry-after".into(), retry_after.to_string()));
    reply
}

/// Run the built-in wrappers at the outside of `handler`'s chain for `req`. `Ok`: the function
/// to start as the task (the first non-built-in layer) and the claims of the innermost passed
/// `&protected`; `Err`: the refusal to answer.
pub fn peel(handler: Value, req: &RequestData) -> Result<(Value, Option<Authenticated>), Reply> {
    let mut handler = handler;
    let mut pre = None;
    loop {
        let Value::Native(n) = &handler else { break };
        let Some(Value::Tuple(b)) = &n.bound else { break };
        if is(n.func, protected_call) && b.len() == 2 {
            let Some(s) = try_sec(&b[0]) else { break };
            match authenticate(s, Some(req)) {
                Ok(a) => pre = Some(a),
                Err(r) => return Err(rejection_reply(&r)),
            }
            handler = b[1].clone();
        } else if is(n.func, limit_call) && b.len() == 3 {
            let Some(l) = limiter_of(&b[1]) else { break };
            if let Decision::Limited { retry_after_secs } = l.check(client_ip(Some(req)), super::monotonic_ms()) {
                return Err(limited_reply(retry_after_secs));
            }
            handler = b[2].clone();
        } else {
            break;
        }
    }
    Ok((handler, pre))
}

/// Whether a native is the given function (compared by address).
fn is(f: ask_vm::value::NativeFnPtr, g: ask_vm::value::NativeFnPtr) -> bool {
    std::ptr::fn_addr_eq(f, g)
}

fn limiter_of(v: &Value) -> Option<&Arc<Limiter>> {
    match v {
        Value::Object(o) => (***o).as_any().downcast_ref::<LimiterObj>().map(|l| &l.0),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// The natives (when a wrapper is called from Ask code: below a custom decorator, or a plain
// function).

/// `Respond` signal with a JSON `{"message": …}` body and headers (the payload `respond` uses).
fn respond_json(status: i64, msg: &str, headers: &[(&str, String)]) -> Exc {
    let h = if headers.is_empty() {
        Value::None
    } else {
        let mut d = ask_vm::value::Dict::with_hasher(rustc_hash::FxBuildHasher);
        for (k, v) in headers {
            d.insert(HKey(Value::str(*k)), Value::str(v.clone()));
        }
        Value::dict(d)
    };
    crate::vmapp::respond_signal(crate::vmapp::KIND_JSON, super::message_dict(msg), status, h)
}

pub fn protected_value(sec_v: &Value) -> Value {
    native("protected", protected_native, sec_v.clone())
}

/// `protected(f)` → the wrapper.
fn protected_native(_vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    match args {
        [s, f] => Ok(native("protected", protected_call, Value::tuple(vec![s.clone(), f.clone()]))),
        _ => Err(Exc::type_error("protected() takes exactly one argument (the function to protect)")),
    }
}

fn protected_call(vm: &mut Vm, args: &[Value], kw: Kw) -> VmResult<Value> {
    let Some(Value::Tuple(b)) = args.first() else { return Err(Exc::type_error("protected wrapper called without its state")) };
    let s = sec(&b[0]);
    let req = s.current_req();
    match authenticate(s, req.as_deref()) {
        Ok(a) => {
            if let Some(cur) = s.cur_auth.borrow().as_ref() {
                super::auth::set_authenticated(cur, a);
            }
        }
        Err(r) => {
            let msg = if r.status() == 400 { "Missing token!" } else { "Invalid token!" };
            let headers: Vec<(&str, String)> = r.www_authenticate().map(|w| vec![("WWW-Authenticate", w.to_string())]).unwrap_or_default();
            return Err(respond_json(r.status() as i64, msg, &headers));
        }
    }
    vm.call_value(&b[1], &args[1..], kw)
}

pub fn limit_value(sec_v: &Value) -> Value {
    native("limit", limit_native, sec_v.clone())
}

/// `limit(rule)` → the decorator (the rule is checked now: a bad rule fails at start-up).
fn limit_native(_vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    match args {
        [s, Value::Str(rule)] => {
            ask_auth::limit::parse_rules(rule.as_str()).map_err(|e| Exc::value_error(format!("&limit: {e}")))?;
            Ok(native("limit", limit_apply, Value::tuple(vec![s.clone(), Value::Str(rule.clone())])))
        }
        [_, other] => Err(Exc::type_error(format!("limit() expects a rule string such as '5 per minute', not {}", ask_vm::ops::type_name(other)))),
        _ => Err(Exc::type_error("limit() takes exactly one argument (a rule such as '5 per minute')")),
    }
}

/// The name of the function at the bottom of a chain of built-in wrappers.
fn inner_name(f: &Value) -> String {
    let mut f = f.clone();
    loop {
        let next = match &f {
            Value::Native(n) if is(n.func, protected_call) || is(n.func, limit_call) => match &n.bound {
                Some(Value::Tuple(b)) => b.last().cloned(),
                _ => None,
            },
            _ => None,
        };
        match next {
            Some(n) => f = n,
            None => return ask_vm::ops::function_name(&f),
        }
    }
}

/// The decorator made by `limit(rule)`, applied to `f`.
fn limit_apply(_vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let (Some(Value::Tuple(st)), Some(f)) = (args.first(), args.get(1)) else {
        return Err(Exc::type_error("a limit decorator takes exactly one argument"));
    };
    let s = sec(&st[0]);
    let rule = match &st[1] {
        Value::Str(r) => r.as_str().to_string(),
        _ => String::new(),
    };
    // A stable id for this `&limit` line: program folder, handler name (`GET /login` for a
    // route), and which `&limit` of that handler it is.
    let name = inner_name(f);
    let n = {
        let mut seen = s.limit_seen.borrow_mut();
        let c = seen.entry(name.clone()).or_insert(0);
        *c += 1;
        *c
    };
    let key = format!("{}|{name}#{n}", s.dir.borrow().display());
    let limiter = registry().get(&key, &rule).map_err(|e| Exc::value_error(format!("&limit: {e}")))?;
    s.limit_keys.borrow_mut().push((key, rule));
    let l = Value::Object(Rc::new(Box::new(LimiterObj(limiter))));
    Ok(native("limit", limit_call, Value::tuple(vec![st[0].clone(), l, f.clone()])))
}

fn limit_call(vm: &mut Vm, args: &[Value], kw: Kw) -> VmResult<Value> {
    let Some(Value::Tuple(b)) = args.first() else { return Err(Exc::type_error("limit wrapper called without its state")) };
    let s = sec(&b[0]);
    if let Some(l) = limiter_of(&b[1]) {
        let req = s.current_req();
        if let Decision::Limited { retry_after_secs } = l.check(client_ip(req.as_deref()), super::monotonic_ms()) {
            if req.is_some() {
                return Err(respond_json(429, "Too Many Requests", &[("Retry-After", retry_after_secs.to_string())]));
            }
            return Err(Exc::new(ask_vm::value::ExcKind::RuntimeError, "Too Many Requests"));
        }
    }
    vm.call_value(&b[2], &args[1..], kw)
}
