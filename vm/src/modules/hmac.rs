//! `import hmac`: keyed hashing (RFC 2104) over the `hashlib` algorithms: `hmac.new(key, msg,
//! digestmod)` objects with `update`/`digest`/`hexdigest`/`copy`, `hmac.digest`, and the
//! constant-time `hmac.compare_digest`.

use std::cell::RefCell;

use sha2::digest::DynDigest;

use super::util::{self, bind, bytes_or_str, func, method, obj, tname, Kw};
use crate::error::{Exc, VmResult};
use crate::value::{NativeObject, Value};
use crate::Vm;

pub fn module() -> Value {
    util::module(
        "hmac",
        vec![
            ("new", func("new", new)),
            ("digest", func("digest", digest)),
            ("compare_digest", func("compare_digest", compare_digest)),
        ],
    )
}

pub struct Hmac {
    name: String,
    inner: RefCell<Box<dyn DynDigest>>,
    outer: Box<dyn DynDigest>,
}

impl Hmac {
    fn new(alg: &str, key: &[u8]) -> Option<Hmac> {
        let (mut inner, block) = super::hashlib::hasher(alg)?;
        let (mut outer, _) = super::hashlib::hasher(alg)?;
        let mut k = if key.len() > block {
            let (mut h, _) = super::hashlib::hasher(alg)?;
            h.update(key);
            h.finalize().to_vec()
        } else {
            key.to_vec()
        };
        k.resize(block, 0);
        inner.update(&k.iter().map(|b| b ^ 0x36).collect::<Vec<_>>());
        outer.update(&k.iter().map(|b| b ^ 0x5c).collect::<Vec<_>>());
        Some(Hmac { name: format!("hmac-{alg}"), inner: RefCell::new(inner), outer })
    }
    fn finish(&self) -> Vec<u8> {
        let inner = self.inner.borrow().box_clone().finalize();
        let mut outer = self.outer.box_clone();
        outer.update(&inner);
        outer.finalize().to_vec()
    }
}

/// HMAC of `msg` under `key` with a hashlib algorithm name (for other Rust code).
pub fn hmac_bytes(alg: &str, key: &[u8], msg: &[u8]) -> Option<Vec<u8>> {
    let h = Hmac::new(alg, key)?;
    h.inner.borrow_mut().update(msg);
    Some(h.finish())
}

impl NativeObject for Hmac {
    fn type_name(&self) -> &str {
        "HMAC"
    }
    fn repr(&self) -> String {
        format!("<hmac.HMAC object ({})>", self.name)
    }
    fn get_attr(&self, _vm: &mut Vm, this: &Value, name: &str) -> VmResult<Option<Value>> {
        Ok(Some(match name {
            "name" => Value::str(self.name.clone()),
            "digest_size" => Value::Int(self.outer.output_size() as i64),
            "update" => method("update", h_update, this),
            "digest" => method("digest", h_digest, this),
            "hexdigest" => method("hexdigest", h_hexdigest, this),
            "copy" => method("copy", h_copy, this),
            _ => return Ok(None),
        }))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// `digestmod` as an algorithm name: a string or one of hashlib's constructors.
fn alg_name(v: Option<Value>) -> VmResult<String> {
    match v {
        None | Some(Value::None) => Err(Exc::type_error("Missing required parameter 'digestmod'.")),
        Some(Value::Str(s)) => Ok(s.s.to_ascii_lowercase()),
        Some(Value::Native(n)) => Ok(n.name.to_string()),
        Some(other) => Err(Exc::type_error(format!("unsupported digestmod {}", tname(&other)))),
    }
}

fn new(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [key, msg, digestmod] = bind("new", args, kw, ["key", "msg", "digestmod"], 1)?;
    let key = bytes_or_str(&key.unwrap_or_default(), "new")?;
    let alg = alg_name(digestmod)?;
    let h = Hmac::new(&alg, &key).ok_or_else(|| Exc::value_error(format!("unsupported hash type {alg}")))?;
    if let Some(m) = msg.filter(|m| !m.is_none()) {
        h.inner.borrow_mut().update(&bytes_or_str(&m, "new")?);
    }
    Ok(obj(h))
}

fn digest(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [key, msg, d] = bind("digest", args, kw, ["key", "msg", "digest"], 3)?;
    let key = bytes_or_str(&key.unwrap_or_default(), "digest")?;
    let msg = bytes_or_str(&msg.unwrap_or_default(), "digest")?;
    let alg = alg_name(d)?;
    hmac_bytes(&alg, &key, &msg)
        .map(util::bytes_value)
        .ok_or_else(|| Exc::value_error(format!("unsupported hash type {alg}")))
}

/// Constant-time comparison of two str or two bytes values.
fn compare_digest(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    util::exact("compare_digest", args, kw, 2)?;
    let (a, b) = match (&args[0], &args[1]) {
        (Value::Str(a), Value::Str(b)) => {
            if !a.s.is_ascii() || !b.s.is_ascii() {
                return Err(Exc::type_error("comparing strings with non-ASCII characters is not supported"));
            }
            (a.s.as_bytes().to_vec(), b.s.as_bytes().to_vec())
        }
        (Value::Bytes(a), Value::Bytes(b)) => (a.to_vec(), b.to_vec()),
        (x, y) => {
            return Err(Exc::type_error(format!(
                "unsupported operand types(s) or combination of types: '{}' and '{}'",
                tname(x),
                tname(y)
            )))
        }
    };
    Ok(Value::Bool(ct_eq(&a, &b)))
}

/// `compare_digest` as a value, shared with `secrets`.
pub fn module_compare_digest() -> Value {
    func("compare_digest", compare_digest)
}

pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() != b.len()) as u8;
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

fn this(args: &[Value]) -> VmResult<&Hmac> {
    util::this::<Hmac>(args, "hmac.HMAC")
}

fn h_update(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let h = this(args)?;
    util::exact("update", &args[1..], kw, 1)?;
    let data = bytes_or_str(&args[1], "update")?;
    h.inner.borrow_mut().update(&data);
    Ok(Value::None)
}

fn h_digest(_vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    Ok(util::bytes_value(this(args)?.finish()))
}

fn h_hexdigest(_vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    Ok(Value::str(super::hashlib::hex(&this(args)?.finish())))
}

fn h_copy(_vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    let h = this(args)?;
    let inner = h.inner.borrow().box_clone();
    Ok(obj(Hmac { name: h.name.clone(), inner: RefCell::new(inner), outer: h.outer.box_clone() }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc4231_case_2() {
        let mac = super::hmac_bytes("sha256", b"Jefe", b"what do ya want for nothing?").unwrap();
        assert_eq!(
            super::super::hashlib::hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
