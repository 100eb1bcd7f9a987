//! `import uuid`: `uuid4()` from the host's randomness, name-based `uuid3`/`uuid5`, the
//! `NAMESPACE_*` constants, and `UUID(...)` objects (`str`, `hex`, `int`, `bytes`, `version`,
//! comparison, hashing; JSON form is the canonical string).

use num_bigint::{BigInt, Sign};
use sha2::digest::Digest;

use super::util::{self, bind, bytes_or_str, func, obj, py_str_repr, tname, Kw};
use crate::error::{Exc, VmResult};
use crate::value::{NativeObject, Value};
use crate::Vm;

pub struct Uuid(pub [u8; 16]);

impl Uuid {
    pub fn canonical(&self) -> String {
        let h = super::hashlib::hex(&self.0);
        format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
    }
    pub fn parse(s: &str) -> Option<Uuid> {
        let s = s.trim();
        let s = s.strip_prefix("urn:").unwrap_or(s);
        let s = s.strip_prefix("uuid:").unwrap_or(s);
        let s = s.trim_matches(|c| c == '{' || c == '}');
        let hex: String = s.chars().filter(|c| *c != '-').collect();
        if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let mut b = [0u8; 16];
        for i in 0..16 {
            b[i] = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Uuid(b))
    }
    fn with_version(mut b: [u8; 16], v: u8) -> Uuid {
        b[6] = (b[6] & 0x0f) | (v << 4);
        b[8] = (b[8] & 0x3f) | 0x80;
        Uuid(b)
    }
}

/// A random (version 4) UUID string, for other Rust code.
pub fn uuid4_string(vm: &mut Vm) -> String {
    let mut b = [0u8; 16];
    vm.host.random_bytes(&mut b);
    Uuid::with_version(b, 4).canonical()
}

impl NativeObject for Uuid {
    fn type_name(&self) -> &str {
        "UUID"
    }
    fn repr(&self) -> String {
        format!("UUID({})", py_str_repr(&self.canonical()))
    }
    fn str(&self) -> String {
        self.canonical()
    }
    fn eq(&self, other: &dyn NativeObject) -> Option<bool> {
        other.as_any().downcast_ref::<Uuid>().map(|o| o.0 == self.0)
    }
    fn hash(&self) -> Option<u64> {
        Some(u64::from_be_bytes([self.0[0], self.0[1], self.0[2], self.0[3], self.0[12], self.0[13], self.0[14], self.0[15]]))
    }
    fn lt(&self, other: &dyn NativeObject) -> Option<bool> {
        other.as_any().downcast_ref::<Uuid>().map(|o| self.0 < o.0)
    }
    fn to_json(&self) -> Option<Value> {
        Some(Value::str(self.canonical()))
    }
    fn get_attr(&self, _vm: &mut Vm, _this: &Value, name: &str) -> VmResult<Option<Value>> {
        Ok(Some(match name {
            "hex" => Value::str(super::hashlib::hex(&self.0)),
            "int" => Value::from_bigint(BigInt::from_bytes_be(Sign::Plus, &self.0)),
            "bytes" => util::bytes_value(self.0.to_vec()),
            "urn" => Value::str(format!("urn:uuid:{}", self.canonical())),
            "version" => {
                if self.0[8] & 0xc0 == 0x80 {
                    Value::Int((self.0[6] >> 4) as i64)
                } else {
                    Value::None
                }
            }
            "variant" => Value::str(if self.0[8] & 0xc0 == 0x80 { "specified in RFC 4122" } else { "reserved for NCS compatibility" }),
            "__str__" => Value::str(self.canonical()),
            _ => return Ok(None),
        }))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn ns(s: &str) -> Value {
    obj(Uuid::parse(s).unwrap_or(Uuid([0; 16])))
}

pub fn module() -> Value {
    let cls = util::class("UUID", None, vec![("__new__", func("__new__", new_uuid))]);
    util::module(
        "uuid",
        vec![
            ("uuid4", func("uuid4", uuid4)),
            ("uuid3", func("uuid3", uuid3)),
            ("uuid5", func("uuid5", uuid5)),
            ("UUID", Value::Class(cls)),
            ("NAMESPACE_DNS", ns("6ba7b810-9dad-11d1-80b4-00c04fd430c8")),
            ("NAMESPACE_URL", ns("6ba7b811-9dad-11d1-80b4-00c04fd430c8")),
            ("NAMESPACE_OID", ns("6ba7b812-9dad-11d1-80b4-00c04fd430c8")),
            ("NAMESPACE_X500", ns("6ba7b814-9dad-11d1-80b4-00c04fd430c8")),
        ],
    )
}

fn uuid4(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    util::exact("uuid4", args, kw, 0)?;
    let mut b = [0u8; 16];
    vm.host.random_bytes(&mut b);
    Ok(obj(Uuid::with_version(b, 4)))
}

fn name_based(fname: &str, args: &[Value], kw: &Kw, v: u8) -> VmResult<Value> {
    let [namespace, name] = bind(fname, args, kw, ["namespace", "name"], 2)?;
    let namespace = namespace.unwrap_or_default();
    let Some(nsu) = util::downcast::<Uuid>(&namespace) else {
        return Err(Exc::attribute_error(format!("'{}' object has no attribute 'bytes'", tname(&namespace))));
    };
    let mut data = nsu.0.to_vec();
    data.extend(bytes_or_str(&name.unwrap_or_default(), fname)?);
    let digest: Vec<u8> = if v == 3 { md5::Md5::digest(&data).to_vec() } else { sha1::Sha1::digest(&data).to_vec() };
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    Ok(obj(Uuid::with_version(b, v)))
}

fn uuid3(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    name_based("uuid3", args, kw, 3)
}
fn uuid5(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    name_based("uuid5", args, kw, 5)
}

fn new_uuid(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [hex, bytes, _le, _fields, int, version] =
        bind("UUID", util::skip_cls(args), kw, ["hex", "bytes", "bytes_le", "fields", "int", "version"], 0)?;
    let mut u = if let Some(h) = hex.filter(|v| !v.is_none()) {
        let s = h.as_str().ok_or_else(|| Exc::type_error(format!("one of the hex, bytes, bytes_le, fields, or int arguments must be given, not {}", tname(&h))))?;
        Uuid::parse(s).ok_or_else(|| Exc::value_error("badly formed hexadecimal UUID string"))?
    } else if let Some(b) = bytes.filter(|v| !v.is_none()) {
        let b = bytes_or_str(&b, "UUID")?;
        if b.len() != 16 {
            return Err(Exc::value_error("bytes is not a 16-char string"));
        }
        let mut a = [0u8; 16];
        a.copy_from_slice(&b);
        Uuid(a)
    } else if let Some(i) = int.filter(|v| !v.is_none()) {
        let i = util::to_bigint(&i)?;
        let (sign, bytes) = i.to_bytes_be();
        if sign == Sign::Minus || bytes.len() > 16 {
            return Err(Exc::value_error("int is out of range (need a 128-bit value)"));
        }
        let mut a = [0u8; 16];
        a[16 - bytes.len()..].copy_from_slice(&bytes);
        Uuid(a)
    } else {
        return Err(Exc::type_error("one of the hex, bytes, bytes_le, fields, or int arguments must be given"));
    };
    if let Some(v) = version.filter(|v| !v.is_none()) {
        let v = util::to_i64(&v)?;
        if !(1..=5).contains(&v) {
            return Err(Exc::value_error("illegal version number"));
        }
        u = Uuid::with_version(u.0, v as u8);
    }
    Ok(obj(u))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format() {
        let u = Uuid::parse("{12345678-1234-5678-1234-567812345678}").unwrap();
        assert_eq!(u.canonical(), "12345678-1234-5678-1234-567812345678");
        assert!(Uuid::parse("xyz").is_none());
    }

    #[test]
    fn uuid5_dns() {
        // uuid.uuid5(uuid.NAMESPACE_DNS, 'python.org') == 886313e1-3b8a-5372-9b90-0c9aee199e5d
        let ns = Uuid::parse("6ba7b810-9dad-11d1-80b4-00c04fd430c8").unwrap();
        let mut data = ns.0.to_vec();
        data.extend(b"python.org");
        let d = sha1::Sha1::digest(&data);
        let mut b = [0u8; 16];
        b.copy_from_slice(&d[..16]);
        assert_eq!(Uuid::with_version(b, 5).canonical(), "886313e1-3b8a-5372-9b90-0c9aee199e5d");
    }
}
