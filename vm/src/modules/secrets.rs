//! `import secrets`: tokens and choices from the host's secure randomness
//! (`vm.host.random_bytes`): `token_bytes`, `token_hex`, `token_urlsafe`, `choice`,
//! `randbelow`, `randbits`, `compare_digest`.

use num_bigint::{BigInt, Sign};
use num_traits::Signed;

use super::util::{self, bind, func, tname, Kw};
use crate::error::{Exc, VmResult};
use crate::value::Value;
use crate::Vm;

const DEFAULT_BYTES: usize = 32;

pub fn module() -> Value {
    util::module(
        "secrets",
        vec![
            ("token_bytes", func("token_bytes", token_bytes)),
            ("token_hex", func("token_hex", token_hex)),
            ("token_urlsafe", func("token_urlsafe", token_urlsafe)),
            ("choice", func("choice", choice)),
            ("randbelow", func("randbelow", randbelow)),
            ("randbits", func("randbits", randbits)),
            ("compare_digest", super::hmac::module_compare_digest()),
        ],
    )
}

fn nbytes(vm: &mut Vm, name: &str, args: &[Value], kw: &Kw) -> VmResult<Vec<u8>> {
    let [n] = bind(name, args, kw, ["nbytes"], 0)?;
    let n = match n {
        None | Some(Value::None) => DEFAULT_BYTES,
        Some(v) => {
            let n = util::to_i64(&v)?;
            if n < 0 {
                return Err(Exc::value_error("negative argument not allowed"));
            }
            if n > 1 << 30 {
                return Err(Exc::new(crate::value::ExcKind::MemoryError, ""));
            }
            n as usize
        }
    };
    let mut buf = vec![0u8; n];
    vm.host.random_bytes(&mut buf);
    Ok(buf)
}

fn token_bytes(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    Ok(util::bytes_value(nbytes(vm, "token_bytes", args, kw)?))
}

fn token_hex(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    Ok(Value::str(super::hashlib::hex(&nbytes(vm, "token_hex", args, kw)?)))
}

fn token_urlsafe(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let b = nbytes(vm, "token_urlsafe", args, kw)?;
    let enc = super::base64::encode(&b, Some(*b"-_"));
    let s = String::from_utf8_lossy(&enc).trim_end_matches('=').to_string();
    Ok(Value::str(s))
}

/// A uniform integer in `[0, n)` by rejection sampling on host randomness.
fn below(vm: &mut Vm, n: &BigInt) -> BigInt {
    let bits = n.bits();
    let nbytes = bits.div_ceil(8) as usize;
    let extra = nbytes as u64 * 8 - bits;
    loop {
        let mut buf = vec![0u8; nbytes];
        vm.host.random_bytes(&mut buf);
        if let Some(first) = buf.first_mut() {
            *first &= 0xffu8 >> extra;
        }
        let r = BigInt::from_bytes_be(Sign::Plus, &buf);
        if &r < n {
            return r;
        }
    }
}

fn randbelow(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [n] = bind("randbelow", args, kw, ["exclusive_upper_bound"], 1)?;
    let n = util::to_bigint(&n.unwrap_or_default())?;
    if !n.is_positive() {
        return Err(Exc::value_error("Upper bound must be positive."));
    }
    Ok(Value::from_bigint(below(vm, &n)))
}

fn randbits(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [k] = bind("randbits", args, kw, ["k"], 1)?;
    let k = util::to_i64(&k.unwrap_or_default())?;
    if k < 0 {
        return Err(Exc::value_error("number of bits must be non-negative"));
    }
    if k > 1 << 33 {
        return Err(Exc::new(crate::value::ExcKind::MemoryError, ""));
    }
    if k == 0 {
        return Ok(Value::Int(0));
    }
    Ok(Value::from_bigint(below(vm, &(BigInt::from(1) << k as usize))))
}

fn choice(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [seq] = bind("choice", args, kw, ["seq"], 1)?;
    let seq = seq.unwrap_or_default();
    if let Value::Set(_) | Value::FrozenSet(_) | Value::Dict(_) = seq {
        return Err(Exc::type_error(format!("'{}' object is not subscriptable", tname(&seq))));
    }
    let items = util::items(vm, &seq)?;
    if items.is_empty() {
        return Err(Exc::index_error("Cannot choose from an empty sequence"));
    }
    let i = below(vm, &BigInt::from(items.len()));
    let i: usize = i.try_into().unwrap_or(0);
    Ok(items.get(i).cloned().unwrap_or_default())
}
