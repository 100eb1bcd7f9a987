//! Numeric semantics: Python int arithmetic (i64 fast path, promotion to `BigInt` on overflow),
//! float arithmetic with Python's floor division/modulo and error cases, exact int/float
//! comparison, and conversions (`int(x)`, `float(x)`, `round`).

use std::cmp::Ordering;

use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{FromPrimitive, Signed, ToPrimitive, Zero};

use crate::error::{Exc, VmResult};
use crate::ops::ArithOp;
use crate::value::{ExcKind, Num, Value};

pub fn op_symbol(op: ArithOp) -> &'static str {
    match op {
        ArithOp::Add => "+",
        ArithOp::Sub => "-",
        ArithOp::Mul => "*",
        ArithOp::Div => "/",
        ArithOp::FloorDiv => "//",
        ArithOp::Mod => "%",
        ArithOp::Pow => "** or pow()",
        ArithOp::LShift => "<<",
        ArithOp::RShift => ">>",
        ArithOp::BitAnd => "&",
        ArithOp::BitOr => "|",
        ArithOp::BitXor => "^",
        ArithOp::MatMul => "@",
    }
}

/// An integer-like value as a BigInt (bool, int, big int).
pub fn to_big(v: &Value) -> Option<BigInt> {
    match v {
        Value::Int(i) => Some(BigInt::from(*i)),
        Value::Bool(b) => Some(BigInt::from(*b as i64)),
        Value::BigInt(b) => Some((**b).clone()),
        _ => None,
    }
}

pub fn big_to_f64(b: &BigInt) -> VmResult<f64> {
    match b.to_f64() {
        Some(f) if f.is_finite() => Ok(f),
        _ => Err(Exc::new(ExcKind::OverflowError, "int too large to convert to float")),
    }
}

/// A number as f64 (for int/float mixing).
pub fn to_f64(v: &Value) -> VmResult<Option<f64>> {
    Ok(match v {
        Value::Int(i) => Some(*i as f64),
        Value::Bool(b) => Some(*b as i64 as f64),
        Value::Float(f) => Some(*f),
        Value::BigInt(b) => Some(big_to_f64(b)?),
        _ => None,
    })
}

pub fn float_to_int(f: f64) -> VmResult<Value> {
    if f.is_nan() {
        return Err(Exc::value_error("cannot convert float NaN to integer"));
    }
    if f.is_infinite() {
        return Err(Exc::new(ExcKind::OverflowError, "cannot convert float infinity to integer"));
    }
    let t = f.trunc();
    if t.abs() < 9.2e18 {
        Ok(Value::Int(t as i64))
    } else {
        Ok(Value::from_bigint(BigInt::from_f64(t).unwrap_or_default()))
    }
}

/// Int op int on the fast path.
#[inline]
pub fn int_arith(op: ArithOp, x: i64, y: i64) -> VmResult<Value> {
    Ok(match op {
        ArithOp::Add => match x.checked_add(y) {
            Some(r) => Value::Int(r),
            None => Value::from_bigint(BigInt::from(x) + y),
        },
        ArithOp::Sub => match x.checked_sub(y) {
            Some(r) => Value::Int(r),
            None => Value::from_bigint(BigInt::from(x) - y),
        },
        ArithOp::Mul => match x.checked_mul(y) {
            Some(r) => Value::Int(r),
            None => Value::from_bigint(BigInt::from(x) * y),
        },
        ArithOp::Div => {
            if y == 0 {
                return Err(Exc::zero_division("division by zero"));
            }
            const LIM: i64 = 1 << 53;
            if x.abs() <= LIM && y.abs() <= LIM {
                Value::Float(x as f64 / y as f64)
            } else {
                return big_arith(op, &BigInt::from(x), &BigInt::from(y));
            }
        }
        ArithOp::FloorDiv => {
            if y == 0 {
                return Err(Exc::zero_division("integer division or modulo by zero"));
            }
            match x.checked_div(y) {
                Some(q) => {
                    if (x % y != 0) && ((x < 0) != (y < 0)) {
                        Value::Int(q - 1)
                    } else {
                        Value::Int(q)
                    }
                }
                None => Value::from_bigint(BigInt::from(x).div_floor(&BigInt::from(y))),
            }
        }
        ArithOp::Mod => {
            if y == 0 {
                return Err(Exc::zero_division("integer modulo by zero"));
            }
            let r = x.checked_rem(y).unwrap_or(0);
            if r != 0 && ((r < 0) != (y < 0)) {
                Value::Int(r + y)
            } else {
                Value::Int(r)
            }
        }
        ArithOp::Pow => {
            if y < 0 {
                if x == 0 {
                    return Err(Exc::zero_division("0.0 cannot be raised to a negative power"));
                }
                return float_arith(ArithOp::Pow, x as f64, y as f64);
            }
            if y <= u32::MAX as i64 {
                if let Some(r) = x.checked_pow(y as u32) {
                    return Ok(Value::Int(r));
                }
            }
            return big_pow(&BigInt::from(x), y);
        }
        ArithOp::LShift => {
            if y < 0 {
                return Err(Exc::value_error("negative shift count"));
            }
            if x == 0 {
                Value::Int(0)
            } else if y < 63 && (x << y) >> y == x {
                Value::Int(x << y)
            } else {
                if y > (1 << 28) {
                    return Err(Exc::new(ExcKind::OverflowError, "too many digits in integer"));
                }
                Value::from_bigint(BigInt::from(x) << (y as usize))
            }
        }
        ArithOp::RShift => {
            if y < 0 {
                return Err(Exc::value_error("negative shift count"));
            }
            if y >= 64 {
                Value::Int(if x < 0 { -1 } else { 0 })
            } else {
                Value::Int(x >> y)
            }
        }
        ArithOp::BitAnd => Value::Int(x & y),
        ArithOp::BitOr => Value::Int(x | y),
        ArithOp::BitXor => Value::Int(x ^ y),
        ArithOp::MatMul => {
            return Err(Exc::type_error("unsupported operand type(s) for @: 'int' and 'int'"));
        }
    })
}

fn big_pow(base: &BigInt, exp: i64) -> VmResult<Value> {
    // Guard against results that cannot fit in memory.
    let bits = base.bits();
    if bits > 1 && (bits as u128) * (exp as u128) > (1u128 << 28) {
        return Err(Exc::new(ExcKind::MemoryError, ""));
    }
    Ok(Value::from_bigint(num_traits::pow::Pow::pow(base, exp as u64)))
}

/// Int op int where at least one side is a big int.
pub fn big_arith(op: ArithOp, x: &BigInt, y: &BigInt) -> VmResult<Value> {
    Ok(match op {
        ArithOp::Add => Value::from_bigint(x + y),
        ArithOp::Sub => Value::from_bigint(x - y),
        ArithOp::Mul => Value::from_bigint(x * y),
        ArithOp::Div => {
            if y.is_zero() {
                return Err(Exc::zero_division("division by zero"));
            }
            match (x.to_f64(), y.to_f64()) {
                (Some(a), Some(b)) if a.is_finite() && b.is_finite() => Value::Float(a / b),
                _ => {
                    // Scale down both sides to keep the quotient's precision.
                    let shift = (x.bits().max(y.bits()) as i64 - 1000).max(0) as usize;
                    let a = (x >> shift).to_f64().unwrap_or(f64::INFINITY);
                    let b = (y >> shift).to_f64().unwrap_or(f64::INFINITY);
                    let r = a / b;
                    if !r.is_finite() {
                        return Err(Exc::new(
                            ExcKind::OverflowError,
                            "integer division result too large for a float",
                        ));
                    }
                    Value::Float(r)
                }
            }
        }
        ArithOp::FloorDiv => {
            if y.is_zero() {
                return Err(Exc::zero_division("integer division or modulo by zero"));
            }
            Value::from_bigint(x.div_floor(y))
        }
        ArithOp::Mod => {
            if y.is_zero() {
                return Err(Exc::zero_division("integer modulo by zero"));
            }
            Value::from_bigint(x.mod_floor(y))
        }
        ArithOp::Pow => {
            if y.is_negative() {
                let a = big_to_f64(x)?;
                let b = big_to_f64(y)?;
                if a == 0.0 {
                    return Err(Exc::zero_division("0.0 cannot be raised to a negative power"));
                }
                return float_arith(ArithOp::Pow, a, b);
            }
            if x.is_zero() || x == &BigInt::from(1) {
                return Ok(Value::from_bigint(x.clone()));
            }
            if x == &BigInt::from(-1) {
                return Ok(Value::Int(if y.is_even() { 1 } else { -1 }));
            }
            match y.to_i64() {
                Some(e) => return big_pow(x, e),
                None => return Err(Exc::new(ExcKind::MemoryError, "")),
            }
        }
        ArithOp::LShift => {
            if y.is_negative() {
                return Err(Exc::value_error("negative shift count"));
            }
            let n = y.to_usize().filter(|n| *n < (1 << 28)).ok_or_else(|| {
                Exc::new(ExcKind::OverflowError, "too many digits in integer")
            })?;
            Value::from_bigint(x << n)
        }
        ArithOp::RShift => {
            if y.is_negative() {
                return Err(Exc::value_error("negative shift count"));
            }
            match y.to_usize() {
                Some(n) => Value::from_bigint(x >> n),
                None => Value::Int(if x.is_negative() { -1 } else { 0 }),
            }
        }
        ArithOp::BitAnd => Value::from_bigint(x & y),
        ArithOp::BitOr => Value::from_bigint(x | y),
        ArithOp::BitXor => Value::from_bigint(x ^ y),
        ArithOp::MatMul => {
            return Err(Exc::type_error("unsupported operand type(s) for @: 'int' and 'int'"));
        }
    })
}

/// Python's float `divmod`.
pub fn float_divmod(x: f64, y: f64) -> (f64, f64) {
    let mut m = x % y;
    let mut div = (x - m) / y;
    if m != 0.0 {
        if (y < 0.0) != (m < 0.0) {
            m += y;
            div -= 1.0;
        }
    } else {
        m = 0.0f64.copysign(y);
    }
    let floordiv = if div != 0.0 {
        let mut f = div.floor();
        if div - f > 0.5 {
            f += 1.0;
        }
        f
    } else {
        0.0f64.copysign(x / y)
    };
    (floordiv, m)
}

#[inline]
pub fn float_arith(op: ArithOp, x: f64, y: f64) -> VmResult<Value> {
    Ok(Value::Float(match op {
        ArithOp::Add => x + y,
        ArithOp::Sub => x - y,
        ArithOp::Mul => x * y,
        ArithOp::Div => {
            if y == 0.0 {
                return Err(Exc::zero_division("float division by zero"));
            }
            x / y
        }
        ArithOp::FloorDiv => {
            if y == 0.0 {
                return Err(Exc::zero_division("float floor division by zero"));
            }
            if !x.is_finite() || !y.is_finite() {
                if x.is_nan() || y.is_nan() || x.is_infinite() {
                    return Ok(Value::Float(f64::NAN));
                }
                // finite // inf
                return Ok(Value::Float(if (x < 0.0) != (y < 0.0) && x != 0.0 { -1.0 } else { 0.0 }));
            }
            float_divmod(x, y).0
        }
        ArithOp::Mod => {
            if y == 0.0 {
                return Err(Exc::zero_division("float modulo"));
            }
            if y.is_infinite() && x.is_finite() {
                if x == 0.0 || (x > 0.0) == (y > 0.0) {
                    x
                } else {
                    y
                }
            } else {
                float_divmod(x, y).1
            }
        }
        ArithOp::Pow => {
            if x == 0.0 && y < 0.0 {
                return Err(Exc::zero_division("0.0 cannot be raised to a negative power"));
            }
            if x < 0.0 && y.fract() != 0.0 && y.is_finite() {
                return Err(Exc::value_error("math domain error"));
            }
            let r = x.powf(y);
            if r.is_infinite() && x.is_finite() && y.is_finite() {
                return Err(Exc::new(ExcKind::OverflowError, "(34, 'Numerical result out of range')"));
            }
            r
        }
        _ => {
            return Err(Exc::type_error(format!(
                "unsupported operand type(s) for {}: 'float' and 'float'",
                op_symbol(op)
            )))
        }
    }))
}

/// Exact ordering of two numbers (None when a NaN is involved).
pub fn num_cmp(a: &Num<'_>, b: &Num<'_>) -> Option<Ordering> {
    match (a, b) {
        (Num::I(x), Num::I(y)) => Some(x.cmp(y)),
        (Num::F(x), Num::F(y)) => x.partial_cmp(y),
        (Num::B(x), Num::B(y)) => Some((*x).cmp(*y)),
        (Num::I(x), Num::B(y)) => Some(BigInt::from(*x).cmp(*y)),
        (Num::B(x), Num::I(y)) => Some((*x).cmp(&BigInt::from(*y))),
        (Num::I(i), Num::F(f)) => int_float_cmp(&BigInt::from(*i), Some(*i), *f),
        (Num::B(b), Num::F(f)) => int_float_cmp(b, None, *f),
        (Num::F(f), Num::I(i)) => int_float_cmp(&BigInt::from(*i), Some(*i), *f).map(Ordering::reverse),
        (Num::F(f), Num::B(b)) => int_float_cmp(b, None, *f).map(Ordering::reverse),
    }
}

fn int_float_cmp(i: &BigInt, small: Option<i64>, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if let Some(s) = small {
        if s.abs() <= (1 << 53) {
            return (s as f64).partial_cmp(&f);
        }
    }
    if f.is_infinite() {
        return Some(if f > 0.0 { Ordering::Less } else { Ordering::Greater });
    }
    let fl = f.floor();
    let fb = BigInt::from_f64(fl)?;
    match i.cmp(&fb) {
        Ordering::Equal => {
            if f > fl {
                Some(Ordering::Less)
            } else {
                Some(Ordering::Equal)
            }
        }
        o => Some(o),
    }
}

/// CPython 3.11's default limit on decimal digits converted between `int` and `str`.
pub const MAX_STR_DIGITS: usize = 4300;

/// `str(big)` with CPython's digit limit.
pub fn big_to_decimal(b: &BigInt) -> VmResult<String> {
    // Cheap pre-check on the bit length (4300 digits ≈ 14284 bits).
    if b.bits() > 14300 {
        let s = b.to_string();
        let n = s.trim_start_matches('-').len();
        if n > MAX_STR_DIGITS {
            return Err(Exc::value_error(format!(
                "Exceeds the limit ({} digits) for integer string conversion; use sys.set_int_max_str_digits() to increase the limit",
                MAX_STR_DIGITS
            )));
        }
        return Ok(s);
    }
    Ok(b.to_string())
}

/// Parse an int literal the way `int(text, base)` does.
pub fn parse_int(text: &str, base: u32) -> Option<Value> {
    let t = text.trim();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut base = base;
    let mut t = t;
    let lower = t.to_ascii_lowercase();
    let pref = |p: &str| lower.starts_with(p);
    if (base == 16 || base == 0) && pref("0x") {
        base = 16;
        t = &t[2..];
    } else if (base == 8 || base == 0) && pref("0o") {
        base = 8;
        t = &t[2..];
    } else if (base == 2 || base == 0) && pref("0b") {
        base = 2;
        t = &t[2..];
    } else if base == 0 {
        if t.len() > 1 && t.starts_with('0') && !t.bytes().all(|c| c == b'0' || c == b'_') {
            return None;
        }
        base = 10;
    }
    if t.is_empty() || t.starts_with('_') || t.ends_with('_') || t.contains("__") {
        return None;
    }
    let digits: String = t.chars().filter(|&c| c != '_').collect();
    if !digits.chars().all(|c| c.is_digit(base)) {
        return None;
    }
    if base == 10 && digits.len() > MAX_STR_DIGITS {
        return None;
    }
    if digits.len() < 18 {
        let v = i64::from_str_radix(&digits, base).ok()?;
        return Some(Value::Int(if neg { -v } else { v }));
    }
    let b = BigInt::parse_bytes(digits.as_bytes(), base)?;
    Some(Value::from_bigint(if neg { -b } else { b }))
}

/// Parse a float the way `float(text)` does.
pub fn parse_float(text: &str) -> Option<f64> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    let neg = lower.starts_with('-');
    if lower.len() - body.len() > 1 {
        return None;
    }
    match body {
        "inf" | "infinity" => return Some(if neg { f64::NEG_INFINITY } else { f64::INFINITY }),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if body.is_empty() || !body.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'+' | b'-' | b'_')) {
        return None;
    }
    if t.contains('_') {
        if t.contains("__") || t.starts_with('_') || t.ends_with('_') {
            return None;
        }
        let cleaned: String = t.chars().filter(|&c| c != '_').collect();
        return cleaned.parse().ok();
    }
    t.parse().ok()
}

/// `round(x)` for floats: banker's rounding to an int.
pub fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 {
        2.0 * (x / 2.0).round()
    } else {
        r
    }
}

/// `round(x, ndigits)` for floats.
pub fn round_float(x: f64, nd: i64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    if nd > 320 {
        return x;
    }
    if nd >= 0 {
        let s = format!("{:.*}", nd as usize, x);
        let r: f64 = s.parse().unwrap_or(x);
        if r == 0.0 {
            return 0.0f64.copysign(x);
        }
        r
    } else {
        if nd < -308 {
            return 0.0f64.copysign(x);
        }
        let p = 10f64.powi((-nd) as i32);
        let y = x / p;
        let r = round_half_even(y) * p;
        if r.is_infinite() {
            return x;
        }
        r
    }
}

/// `round(i, ndigits)` for ints with negative `ndigits`.
pub fn round_int(v: &BigInt, nd: i64) -> BigInt {
    if nd >= 0 {
        return v.clone();
    }
    let p = num_traits::pow::Pow::pow(&BigInt::from(10), (-nd) as u64);
    let (q, r) = v.div_mod_floor(&p);
    let twice: BigInt = &r * BigInt::from(2);
    let q = match twice.cmp(&p) {
        Ordering::Greater => q + 1,
        Ordering::Less => q,
        Ordering::Equal => {
            if q.is_odd() {
                q + 1
            } else {
                q
            }
        }
    };
    q * p
}
