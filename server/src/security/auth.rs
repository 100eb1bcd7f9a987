//! The `auth` built-in (ASK.md §4): one object per request (task local), plus a program-level one
//! for module-level code (`auth.secret_key = env.get('JWT_SECRET')`).
//!
//! The current token of a request is, in order: the one `auth.login`/`auth.encode` made in this
//! request, else the one a `&protected` check accepted (its claims handed over, no second
//! decode), else — looked at lazily, only when asked — the token the request carries
//! (`Authorization: Bearer` or `?token=`), validated on first use.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use ask_auth::jwt::Authenticated;
use ask_vm::error::{Exc, VmResult};
use ask_vm::value::{NativeFunc, NativeObject, StrObj, Value};
use ask_vm::vm::Vm;
use serde_json::{Map, Value as J};

use super::{convert, sec, Sec};
use crate::request::RequestData;

type Kw<'a> = &'a [(Rc<StrObj>, Value)];

enum Tok {
    /// The request's own token has not been looked at yet.
    Unread,
    None,
    Valid(String, Map<String, J>),
    Invalid(String),
}

pub struct AuthObj {
    sec: Value,
    req: Option<Arc<RequestData>>,
    tok: RefCell<Tok>,
}

/// The module-level `auth`.
pub fn program_auth(sec_v: &Value) -> Value {
    Value::Object(Rc::new(Box::new(AuthObj { sec: sec_v.clone(), req: None, tok: RefCell::new(Tok::None) })))
}

/// A request's `auth`; `pre`: what `&protected` accepted.
pub fn request_auth(sec_v: &Value, req: Arc<RequestData>, pre: Option<Authenticated>) -> Value {
    let tok = match pre {
        Some(a) => Tok::Valid(a.token, a.claims),
        None => Tok::Unread,
    };
    Value::Object(Rc::new(Box::new(AuthObj { sec: sec_v.clone(), req: Some(req), tok: RefCell::new(tok) })))
}

/// A `&protected` wrapper called from Ask code accepted the request: hand its claims over.
pub fn set_authenticated(auth: &Value, a: Authenticated) {
    if let Some(o) = this(auth) {
        *o.tok.borrow_mut() = Tok::Valid(a.token, a.claims);
    }
}

fn this(v: &Value) -> Option<&AuthObj> {
    match v {
        Value::Object(o) => (***o).as_any().downcast_ref::<AuthObj>(),
        _ => None,
    }
}

fn me(args: &[Value]) -> VmResult<&AuthObj> {
    args.first().and_then(this).ok_or_else(|| Exc::type_error("descriptor requires an 'auth' object"))
}

impl AuthObj {
    fn s(&self) -> &Sec {
        sec(&self.sec)
    }

    /// Resolve the lazily read request token.
    fn resolve(&self) {
        if !matches!(*self.tok.borrow(), Tok::Unread) {
            return;
        }
        let new = match &self.req {
            None => Tok::None,
            Some(req) => {
                let header = req.headers.get("authorization").and_then(|v| v.to_str().ok());
                let query = if req.query.is_empty() { None } else { Some(req.query.as_str()) };
                match ask_auth::jwt::extract_token(header, query).token() {
                    None => Tok::None,
                    Some(t) => self.check(t.to_string()),
                }
            }
        };
        *self.tok.borrow_mut() = new;
    }

    fn check(&self, token: String) -> Tok {
        match self.s().validator() {
            Some(v) => match v.validate(&token, ask_auth::jwt::now_unix()) {
                Ok(c) => Tok::Valid(token, c),
                Err(_) => Tok::Invalid(token),
            },
            None => Tok::Invalid(token),
        }
    }

    fn sign(&self, claims: &Map<String, J>) -> VmResult<String> {
        let v = self.s().validator().ok_or_else(|| Exc::new(ask_vm::value::ExcKind::RuntimeError, "auth: no signing secret yet (set auth.secret_key or ASK_SECRET)"))?;
        v.encode(claims).map_err(|e| Exc::value_error(format!("auth: cannot sign the token: {e}")))
    }

    fn token(&self) -> Value {
        self.resolve();
        match &*self.tok.borrow() {
            Tok::Valid(t, _) | Tok::Invalid(t) => Value::str(t.as_str()),
            _ => Value::None,
        }
    }
}

fn bound(this: &Value, name: &'static str, f: ask_vm::value::NativeFnPtr) -> Value {
    Value::Native(Rc::new(NativeFunc { name, func: f, bound: Some(this.clone()), data: None }))
}

fn arg<'a>(args: &'a [Value], kw: Kw<'a>, i: usize, names: &[&str]) -> Option<&'a Value> {
    args.get(i).or_else(|| kw.iter().find(|(k, _)| names.contains(&k.as_str())).map(|(_, v)| v))
}

/// `auth.login(user, seconds=3600)`: `{"user": user, "exp": now + seconds}`, signed; becomes the
/// request's current token; returns it (1.5.0 returned None).
fn login(vm: &mut Vm, args: &[Value], kw: Kw) -> VmResult<Value> {
    let a = me(args)?;
    let user = arg(args, kw, 1, &["user"]).cloned().ok_or_else(|| Exc::type_error("login() missing 1 required positional argument: 'user'"))?;
    let seconds = match arg(args, kw, 2, &["seconds", "expiry", "expires"]) {
        None => 3600,
        Some(Value::Int(i)) => *i,
        Some(Value::Float(f)) if f.is_finite() => *f as i64,
        Some(Value::Bool(b)) => *b as i64,
        Some(other) => return Err(Exc::type_error(format!("login(): seconds must be an int, not {}", ask_vm::ops::type_name(other)))),
    };
    let user = convert::to_json(vm, &user, false, 1)?;
    let claims = ask_auth::jwt::login_claims(user, seconds, ask_auth::jwt::now_unix());
    let token = a.sign(&claims)?;
    *a.tok.borrow_mut() = a.check(token.clone());
    Ok(Value::str(token))
}

/// `auth.encode(payload)`: signs the payload (a datetime `exp` becomes a timestamp); becomes the
/// current token (as 1.5.0 stored it); returns it.
fn encode(vm: &mut Vm, args: &[Value], kw: Kw) -> VmResult<Value> {
    let a = me(args)?;
    let payload = arg(args, kw, 1, &["payload"]).cloned().ok_or_else(|| Exc::type_error("encode() missing 1 required positional argument: 'payload'"))?;
    let J::Object(claims) = convert::to_json(vm, &payload, false, 0)? else {
        return Err(Exc::type_error(format!("encode(): the payload must be a dict, not {}", ask_vm::ops::type_name(&payload))));
    };
    let token = a.sign(&claims)?;
    *a.tok.borrow_mut() = a.check(token.clone());
    Ok(Value::str(token))
}

/// `auth.decode()`: the current token's claims; ValueError without a valid token.
fn decode(_vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let a = me(args)?;
    a.resolve();
    match &*a.tok.borrow() {
        Tok::Valid(_, c) => Ok(convert::map_to_value(c)),
        Tok::Invalid(_) => Err(Exc::value_error("Invalid token!")),
        _ => Err(Exc::value_error("Missing token!")),
    }
}

/// `auth.user()`: the `user` claim of a valid current token, else None.
fn user(_vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let a = me(args)?;
    a.resolve();
    match &*a.tok.borrow() {
        Tok::Valid(_, c) => Ok(c.get("user").map(convert::to_value).unwrap_or(Value::None)),
        _ => Ok(Value::None),
    }
}

fn is_valid(_vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    let a = me(args)?;
    a.resolve();
    let ok = matches!(&*a.tok.borrow(), Tok::Valid(_, c) if {
        // A cached verdict can go stale while a long handler runs: re-check the time claims.
        let now = ask_auth::jwt::now_unix() as f64;
        c.get("exp").and_then(J::as_f64).is_some_and(|e| e > now - a.s().leeway.get() as f64)
    });
    Ok(Value::Bool(ok))
}

fn get_token(_vm: &mut Vm, args: &[Value], _kw: Kw) -> VmResult<Value> {
    Ok(me(args)?.token())
}

impl NativeObject for AuthObj {
    fn type_name(&self) -> &str {
        "Auth"
    }
    fn get_attr(&self, _vm: &mut Vm, this: &Value, name: &str) -> VmResult<Option<Value>> {
        Ok(Some(match name {
            "login" => bound(this, "login", login),
            "encode" => bound(this, "encode", encode),
            "decode" => bound(this, "decode", decode),
            "user" => bound(this, "user", user),
            "is_valid" => bound(this, "is_valid", is_valid),
            "get_token" => bound(this, "get_token", get_token),
            "token" => self.token(),
            // The program's own value (never the configured or generated secret).
            "secret_key" => self.s().program_secret.borrow().as_deref().map(Value::str).unwrap_or(Value::None),
            _ => return Ok(None),
        }))
    }
    fn set_attr(&self, _vm: &mut Vm, name: &str, value: Value) -> VmResult<bool> {
        match name {
            "secret_key" => {
                let text = match &value {
                    Value::None => None,
                    Value::Str(s) => Some(s.as_str().to_string()),
                    Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
                    other => return Err(Exc::type_error(format!("auth.secret_key must be a str, not {}", ask_vm::ops::type_name(other)))),
                };
                self.s().set_program_secret(text);
                Ok(true)
            }
            "token" => {
                let tok = match value {
                    Value::Str(s) => self.check(s.as_str().to_string()),
                    _ => Tok::None,
                };
                *self.tok.borrow_mut() = tok;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
    fn repr(&self) -> String {
        "<auth>".into()
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
