//! `import base64`: Base64 (standard and URL-safe), Base32 and Base16 encoding and decoding.
//! Encoders take bytes (or, for convenience, str as UTF-8) and return bytes; decoders accept
//! bytes or ASCII str. Decoding errors are `ValueError`s with `binascii`'s messages.

use super::util::{self, bind, bytes_value, func, Kw};
use crate::error::{Exc, VmResult};
use crate::value::Value;
use crate::Vm;

const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

pub fn module() -> Value {
    util::module(
        "base64",
        vec![
            ("b64encode", func("b64encode", b64encode)),
            ("b64decode", func("b64decode", b64decode)),
            ("standard_b64encode", func("standard_b64encode", standard_b64encode)),
            ("standard_b64decode", func("standard_b64decode", standard_b64decode)),
            ("urlsafe_b64encode", func("urlsafe_b64encode", urlsafe_b64encode)),
            ("urlsafe_b64decode", func("urlsafe_b64decode", urlsafe_b64decode)),
            ("b32encode", func("b32encode", b32encode)),
            ("b32decode", func("b32decode", b32decode)),
            ("b16encode", func("b16encode", b16encode)),
            ("b16decode", func("b16decode", b16decode)),
        ],
    )
}

/// Standard Base64 with padding.
pub fn encode(data: &[u8], alt: Option<[u8; 2]>) -> Vec<u8> {
    let mut table = *STD;
    if let Some([a, b]) = alt {
        table[62] = a;
        table[63] = b;
    }
    let mut out = Vec::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = ((b[0] as u32) << 16) | ((b[1] as u32) << 8) | b[2] as u32;
        out.push(table[(n >> 18) as usize & 63]);
        out.push(table[(n >> 12) as usize & 63]);
        out.push(if chunk.len() > 1 { table[(n >> 6) as usize & 63] } else { b'=' });
        out.push(if chunk.len() > 2 { table[n as usize & 63] } else { b'=' });
    }
    out
}

/// Base64 decoding as `binascii.a2b_base64`: characters outside the alphabet are skipped unless
/// `validate`; the padding must be complete.
pub fn decode(data: &[u8], alt: Option<[u8; 2]>, validate: bool) -> Result<Vec<u8>, String> {
    let (c62, c63) = match alt {
        Some([a, b]) => (a, b),
        None => (b'+', b'/'),
    };
    let val = |c: u8| -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some((c - b'A') as u32),
            b'a'..=b'z' => Some((c - b'a' + 26) as u32),
            b'0'..=b'9' => Some((c - b'0' + 52) as u32),
            _ if c == c62 => Some(62),
            _ if c == c63 => Some(63),
            _ => None,
        }
    };
    let mut vals = Vec::with_capacity(data.len());
    let mut pads = 0;
    for &c in data {
        if c == b'=' {
            pads += 1;
            // Data after complete padding ends the input (as binascii does).
            if (vals.len() + pads) % 4 == 0 {
                break;
            }
            continue;
        }
        match val(c) {
            Some(v) => {
                if pads > 0 {
                    if validate {
                        return Err("Discontinuous padding not allowed".into());
                    }
                    pads = 0;
                }
                vals.push(v)
            }
            None => {
                if validate {
                    return Err("Only base64 data is allowed".into());
                }
            }
        }
    }
    let rem = vals.len() % 4;
    if rem == 1 {
        return Err(format!(
            "Invalid base64-encoded string: number of data characters ({}) cannot be 1 more than a multiple of 4",
            vals.len()
        ));
    }
    if rem != 0 && rem + pads < 4 {
        return Err("Incorrect padding".into());
    }
    let mut out = Vec::with_capacity(vals.len() * 3 / 4);
    for chunk in vals.chunks(4) {
        let mut n = 0u32;
        for (i, v) in chunk.iter().enumerate() {
            n |= v << (18 - 6 * i);
        }
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    Ok(out)
}

fn input(v: &Option<Value>, fname: &str) -> VmResult<Vec<u8>> {
    let v = v.clone().unwrap_or_default();
    match &v {
        Value::Str(s) if !s.s.is_ascii() => {
            Err(Exc::value_error("string argument should contain only ASCII characters"))
        }
        _ => util::bytes_or_str(&v, fname),
    }
}

fn alt_arg(v: Option<Value>, fname: &str) -> VmResult<Option<[u8; 2]>> {
    match v {
        None | Some(Value::None) => Ok(None),
        Some(v) => {
            let b = util::bytes_or_str(&v, fname)?;
            if b.len() != 2 {
                return Err(Exc::new(crate::value::ExcKind::AssertionError, repr_bytes(&b)));
            }
            Ok(Some([b[0], b[1]]))
        }
    }
}

fn repr_bytes(b: &[u8]) -> String {
    util::py_bytes_repr(b)
}

fn b64encode(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [s, alt] = bind("b64encode", args, kw, ["s", "altchars"], 1)?;
    let data = util::bytes_or_str(&s.unwrap_or_default(), "b64encode")?;
    Ok(bytes_value(encode(&data, alt_arg(alt, "b64encode")?)))
}

fn b64decode(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [s, alt, validate] = bind("b64decode", args, kw, ["s", "altchars", "validate"], 1)?;
    let data = input(&s, "b64decode")?;
    let validate = matches!(validate, Some(Value::Bool(true)));
    decode(&data, alt_arg(alt, "b64decode")?, validate).map(bytes_value).map_err(Exc::value_error)
}

fn standard_b64encode(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [s] = bind("standard_b64encode", args, kw, ["s"], 1)?;
    Ok(bytes_value(encode(&util::bytes_or_str(&s.unwrap_or_default(), "standard_b64encode")?, None)))
}

fn standard_b64decode(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [s] = bind("standard_b64decode", args, kw, ["s"], 1)?;
    decode(&input(&s, "standard_b64decode")?, None, false).map(bytes_value).map_err(Exc::value_error)
}

fn urlsafe_b64encode(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [s] = bind("urlsafe_b64encode", args, kw, ["s"], 1)?;
    Ok(bytes_value(encode(&util::bytes_or_str(&s.unwrap_or_default(), "urlsafe_b64encode")?, Some(*b"-_"))))
}

fn urlsafe_b64decode(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [s] = bind("urlsafe_b64decode", args, kw, ["s"], 1)?;
    decode(&input(&s, "urlsafe_b64decode")?, Some(*b"-_"), false).map(bytes_value).map_err(Exc::value_error)
}

fn b16encode(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [s] = bind("b16encode", args, kw, ["s"], 1)?;
    let data = util::bytes_or_str(&s.unwrap_or_default(), "b16encode")?;
    Ok(bytes_value(data.iter().flat_map(|b| format!("{b:02X}").into_bytes()).collect()))
}

fn b16decode(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [s, casefold] = bind("b16decode", args, kw, ["s", "casefold"], 1)?;
    let mut data = input(&s, "b16decode")?;
    if matches!(casefold, Some(Value::Bool(true))) {
        data.make_ascii_uppercase();
    }
    if data.len() % 2 == 1 {
        return Err(Exc::value_error("Odd-length string"));
    }
    if data.iter().any(|c| !matches!(c, b'0'..=b'9' | b'A'..=b'F')) {
        return Err(Exc::value_error("Non-base16 digit found"));
    }
    let out = data
        .chunks(2)
        .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap_or("00"), 16).unwrap_or(0))
        .collect();
    Ok(bytes_value(out))
}

fn b32encode(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [s] = bind("b32encode", args, kw, ["s"], 1)?;
    let data = util::bytes_or_str(&s.unwrap_or_default(), "b32encode")?;
    let mut out = Vec::with_capacity(data.len().div_ceil(5) * 8);
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = buf.iter().fold(0u64, |acc, b| (acc << 8) | *b as u64);
        let chars = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            out.push(if i < chars { B32[((n >> (35 - 5 * i)) & 31) as usize] } else { b'=' });
        }
    }
    Ok(bytes_value(out))
}

fn b32decode(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [s, casefold, _map01] = bind("b32decode", args, kw, ["s", "casefold", "map01"], 1)?;
    let mut data = input(&s, "b32decode")?;
    if matches!(casefold, Some(Value::Bool(true))) {
        data.make_ascii_uppercase();
    }
    if data.len() % 8 != 0 {
        return Err(Exc::value_error("Incorrect padding"));
    }
    let stripped: Vec<u8> = {
        let end = data.iter().rposition(|c| *c != b'=').map(|i| i + 1).unwrap_or(0);
        data[..end].to_vec()
    };
    let pad = data.len() - stripped.len();
    if !matches!(pad, 0 | 1 | 3 | 4 | 6) {
        return Err(Exc::value_error("Incorrect padding"));
    }
    let mut out = Vec::new();
    for chunk in stripped.chunks(8) {
        let mut n = 0u64;
        for (i, c) in chunk.iter().enumerate() {
            let v = B32.iter().position(|x| x == c).ok_or_else(|| Exc::value_error("Non-base32 digit found"))?;
            n |= (v as u64) << (35 - 5 * i);
        }
        let bytes = match chunk.len() {
            2 => 1,
            4 => 2,
            5 => 3,
            7 => 4,
            8 => 5,
            _ => return Err(Exc::value_error("Incorrect padding")),
        };
        for i in 0..bytes {
            out.push((n >> (32 - 8 * i)) as u8);
        }
    }
    Ok(bytes_value(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(encode(b"hello", None), b"aGVsbG8=");
        assert_eq!(encode(b"\xfb\xff", Some(*b"-_")), b"-_8=");
        assert_eq!(decode(b"aGVsbG8=", None, false).unwrap(), b"hello");
        assert_eq!(decode(b"aGVs\nbG8=", None, false).unwrap(), b"hello");
        assert_eq!(decode(b"aGVsbG8", None, false).unwrap_err(), "Incorrect padding");
        assert!(decode(b"aGVsb", None, false).unwrap_err().contains("cannot be 1 more"));
    }
}
