//! `import hashlib`: `md5`, `sha1`, `sha224`, `sha256`, `sha384`, `sha512` and `new(name)` hash
//! objects with `update`, `digest`, `hexdigest`, `copy`. CPython requires bytes; text is also
//! accepted (as UTF-8) for convenience.

use std::cell::RefCell;

use sha2::digest::DynDigest;

use super::util::{self, bind, bytes_or_str, func, method, obj, Kw};
use crate::error::{Exc, VmResult};
use crate::value::{NativeObject, Value};
use crate::Vm;

pub fn module() -> Value {
    util::module(
        "hashlib",
        vec![
            ("md5", func("md5", md5)),
            ("sha1", func("sha1", sha1)),
            ("sha224", func("sha224", sha224)),
            ("sha256", func("sha256", sha256)),
            ("sha384", func("sha384", sha384)),
            ("sha512", func("sha512", sha512)),
            ("new", func("new", new)),
            (
                "algorithms_available",
                Value::list(ALGS.iter().map(|a| Value::str(*a)).collect()),
            ),
            (
                "algorithms_guaranteed",
                Value::list(ALGS.iter().map(|a| Value::str(*a)).collect()),
            ),
        ],
    )
}

const ALGS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

pub fn hasher(name: &str) -> Option<(Box<dyn DynDigest>, usize)> {
    Some(match name {
        "md5" => (Box::new(md5::Md5::default()), 64),
        "sha1" => (Box::new(sha1::Sha1::default()), 64),
        "sha224" => (Box::new(sha2::Sha224::default()), 64),
        "sha256" => (Box::new(sha2::Sha256::default()), 64),
        "sha384" => (Box::new(sha2::Sha384::default()), 128),
        "sha512" => (Box::new(sha2::Sha512::default()), 128),
        _ => return None,
    })
}

/// Hex digest of `data` with algorithm `name` (for other Rust code, e.g. the `hash` helper).
pub fn hex_digest(name: &str, data: &[u8]) -> Option<String> {
    let (mut h, _) = hasher(name)?;
    h.update(data);
    Some(hex(&h.finalize()))
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub struct HashObj {
    name: &'static str,
    block: usize,
    h: RefCell<Box<dyn DynDigest>>,
}

impl HashObj {
    fn digest(&self) -> Vec<u8> {
        self.h.borrow().box_clone().finalize().to_vec()
    }
}

impl NativeObject for HashObj {
    fn type_name(&self) -> &str {
        "HASH"
    }
    fn repr(&self) -> String {
        format!("<{} _hashlib.HASH object>", self.name)
    }
    fn get_attr(&self, _vm: &mut Vm, this: &Value, name: &str) -> VmResult<Option<Value>> {
        Ok(Some(match name {
            "name" => Value::str(self.name),
            "digest_size" => Value::Int(self.h.borrow().output_size() as i64),
            "block_size" => Value::Int(self.block as i64),
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

fn make(name: &str, data: Option<Value>) -> VmResult<Value> {
    let Some((mut h, block)) = hasher(name) else {
        return Err(Exc::value_error(format!("unsupported hash type {name}")));
    };
    if let Some(d) = data.filter(|d| !d.is_none()) {
        h.update(&bytes_or_str(&d, name)?);
    }
    let name = ALGS.iter().find(|a| **a == name).copied().unwrap_or("sha256");
    Ok(obj(HashObj { name, block, h: RefCell::new(h) }))
}

macro_rules! ctor {
    ($($f:ident),*) => {$(
        fn $f(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
            let [data, _usedforsecurity] = bind(stringify!($f), args, kw, ["string", "usedforsecurity"], 0)?;
            let data = match data {
                Some(d) => Some(d),
                None => kw.iter().find(|(k, _)| k.as_str() == "data").map(|(_, v)| v.clone()),
            };
            make(stringify!($f), data)
        }
    )*};
}
ctor!(md5, sha1, sha224, sha256, sha384, sha512);

fn new(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [name, data, _u] = bind("new", args, kw, ["name", "data", "usedforsecurity"], 1)?;
    let name = name.unwrap_or_default();
    let name = name.as_str().ok_or_else(|| Exc::type_error("new() argument 'name' must be str"))?.to_ascii_lowercase();
    make(&name, data)
}

fn this(args: &[Value]) -> VmResult<&HashObj> {
    util::this::<HashObj>(args, "_hashlib.HASH")
}

fn h_update(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let h = this(args)?;
    util::exact("update", &args[1..], kw, 1)?;
    let data = bytes_or_str(&args[1], "update")?;
    h.h.borrow_mut().update(&data);
    Ok(Value::None)
}

fn h_digest(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let h = this(args)?;
    util::exact("digest", &args[1..], kw, 0)?;
    Ok(util::bytes_value(h.digest()))
}

fn h_hexdigest(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let h = this(args)?;
    util::exact("hexdigest", &args[1..], kw, 0)?;
    Ok(Value::str(hex(&h.digest())))
}

fn h_copy(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let h = this(args)?;
    util::exact("copy", &args[1..], kw, 0)?;
    let c = h.h.borrow().box_clone();
    Ok(obj(HashObj { name: h.name, block: h.block, h: RefCell::new(c) }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_digests() {
        assert_eq!(
            super::hex_digest("sha256", b"x").unwrap(),
            "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
        );
        assert_eq!(super::hex_digest("md5", b"").unwrap(), "d41d8cd98f00b204e9800998ecf8427e");
    }
}
