//! `import math`: CPython's math module (constants, float functions with Python's domain/range
//! errors, exact integer functions on big integers, `fsum` with exact rounding).

use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};

use super::util::{self, as_bigint, bind, exact, float_to_int_value, func, tname, to_bigint, to_f64, Kw};
use crate::error::{Exc, VmResult};
use crate::value::{ExcKind, Value};
use crate::Vm;

pub fn module() -> Value {
    util::module(
        "math",
        vec![
            ("pi", Value::Float(std::f64::consts::PI)),
            ("e", Value::Float(std::f64::consts::E)),
            ("tau", Value::Float(std::f64::consts::TAU)),
            ("inf", Value::Float(f64::INFINITY)),
            ("nan", Value::Float(f64::NAN)),
            ("sqrt", func("sqrt", sqrt)),
            ("cbrt", func("cbrt", cbrt)),
            ("exp", func("exp", exp)),
            ("exp2", func("exp2", exp2)),
            ("expm1", func("expm1", expm1)),
            ("log", func("log", log)),
            ("log2", func("log2", log2)),
            ("log10", func("log10", log10)),
            ("log1p", func("log1p", log1p)),
            ("pow", func("pow", pow)),
            ("sin", func("sin", sin)),
            ("cos", func("cos", cos)),
            ("tan", func("tan", tan)),
            ("asin", func("asin", asin)),
            ("acos", func("acos", acos)),
            ("atan", func("atan", atan)),
            ("atan2", func("atan2", atan2)),
            ("sinh", func("sinh", sinh)),
            ("cosh", func("cosh", cosh)),
            ("tanh", func("tanh", tanh)),
            ("asinh", func("asinh", asinh)),
            ("acosh", func("acosh", acosh)),
            ("atanh", func("atanh", atanh)),
            ("degrees", func("degrees", degrees)),
            ("radians", func("radians", radians)),
            ("hypot", func("hypot", hypot)),
            ("dist", func("dist", dist)),
            ("floor", func("floor", floor)),
            ("ceil", func("ceil", ceil)),
            ("trunc", func("trunc", trunc)),
            ("fabs", func("fabs", fabs)),
            ("fmod", func("fmod", fmod)),
            ("remainder", func("remainder", remainder)),
            ("factorial", func("factorial", factorial)),
            ("gcd", func("gcd", gcd)),
            ("lcm", func("lcm", lcm)),
            ("comb", func("comb", comb)),
            ("perm", func("perm", perm)),
            ("isqrt", func("isqrt", isqrt)),
            ("isclose", func("isclose", isclose)),
            ("isfinite", func("isfinite", isfinite)),
            ("isinf", func("isinf", isinf)),
            ("isnan", func("isnan", isnan)),
            ("copysign", func("copysign", copysign)),
            ("prod", func("prod", prod)),
            ("fsum", func("fsum", fsum)),
            ("modf", func("modf", modf)),
            ("frexp", func("frexp", frexp)),
            ("ldexp", func("ldexp", ldexp)),
        ],
    )
}

fn domain() -> Exc {
    Exc::value_error("math domain error")
}

fn range_err() -> Exc {
    Exc::new(ExcKind::OverflowError, "math range error")
}

/// CPython's `math_1`: a NaN from a non-NaN argument is a domain error; an infinity from a
/// finite argument is a range error for functions that can overflow, a domain error otherwise.
fn math1(name: &str, args: &[Value], kw: &Kw, f: fn(f64) -> f64, can_overflow: bool) -> VmResult<Value> {
    exact(name, args, kw, 1)?;
    let x = to_f64(&args[0])?;
    let r = f(x);
    if r.is_nan() && !x.is_nan() {
        return Err(domain());
    }
    if r.is_infinite() && x.is_finite() {
        return Err(if can_overflow { range_err() } else { domain() });
    }
    Ok(Value::Float(r))
}

macro_rules! math1_fns {
    ($($name:ident => $f:expr, $ovf:expr;)*) => {
        $(fn $name(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
            math1(stringify!($name), args, kw, $f, $ovf)
        })*
    };
}

math1_fns! {
    sqrt => f64::sqrt, false;
    cbrt => f64::cbrt, false;
    exp => f64::exp, true;
    exp2 => f64::exp2, true;
    expm1 => f64::exp_m1, true;
    log1p => |x: f64| if x <= -1.0 { f64::NAN } else { x.ln_1p() }, false;
    sin => |x: f64| if x.is_infinite() { f64::NAN } else { x.sin() }, false;
    cos => |x: f64| if x.is_infinite() { f64::NAN } else { x.cos() }, false;
    tan => |x: f64| if x.is_infinite() { f64::NAN } else { x.tan() }, false;
    asin => f64::asin, false;
    acos => f64::acos, false;
    atan => f64::atan, false;
    sinh => f64::sinh, true;
    cosh => f64::cosh, true;
    tanh => f64::tanh, false;
    asinh => f64::asinh, false;
    acosh => f64::acosh, false;
    atanh => |x: f64| if x.abs() >= 1.0 { f64::NAN } else { x.atanh() }, false;
    degrees => f64::to_degrees, true;
    radians => f64::to_radians, false;
    fabs => f64::abs, false;
}

/// Natural log of any positive number, big integers included (CPython handles those without
/// converting to float first, so `log(10**400)` works).
fn ln_value(v: &Value) -> VmResult<f64> {
    if let Value::BigInt(b) = v {
        if !b.is_positive() {
            return Err(domain());
        }
        let bits = b.bits();
        if bits > 1000 {
            let shift = bits - 60;
            let top: BigInt = b.as_ref() >> shift;
            return Ok(top.to_f64().unwrap_or(1.0).ln() + shift as f64 * std::f64::consts::LN_2);
        }
    }
    let x = to_f64(v)?;
    if x.is_nan() {
        return Ok(x);
    }
    if x <= 0.0 {
        return Err(domain());
    }
    Ok(x.ln())
}

fn log(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    util::no_kw("log", kw)?;
    if args.is_empty() || args.len() > 2 {
        return Err(Exc::type_error(format!("log expected 1 or 2 arguments, got {}", args.len())));
    }
    let num = ln_value(&args[0])?;
    if args.len() == 2 {
        let den = ln_value(&args[1])?;
        if den == 0.0 {
            return Err(Exc::zero_division("float division by zero"));
        }
        return Ok(Value::Float(num / den));
    }
    Ok(Value::Float(num))
}

fn log2(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    exact("log2", args, kw, 1)?;
    if let Value::BigInt(_) = &args[0] {
        return Ok(Value::Float(ln_value(&args[0])? / std::f64::consts::LN_2));
    }
    let x = to_f64(&args[0])?;
    if x <= 0.0 {
        return Err(domain());
    }
    Ok(Value::Float(x.log2()))
}

fn log10(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    exact("log10", args, kw, 1)?;
    if let Value::BigInt(_) = &args[0] {
        return Ok(Value::Float(ln_value(&args[0])? / std::f64::consts::LN_10));
    }
    let x = to_f64(&args[0])?;
    if x <= 0.0 {
        return Err(domain());
    }
    Ok(Value::Float(x.log10()))
}

fn two_floats(name: &str, args: &[Value], kw: &Kw) -> VmResult<(f64, f64)> {
    util::no_kw(name, kw)?;
    if args.len() != 2 {
        return Err(Exc::type_error(format!("{name} expected 2 arguments, got {}", args.len())));
    }
    Ok((to_f64(&args[0])?, to_f64(&args[1])?))
}

fn pow(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let (x, y) = two_floats("pow", args, kw)?;
    if x == 0.0 && y < 0.0 && y.is_finite() {
        return Err(domain());
    }
    if x < 0.0 && x.is_finite() && y.is_finite() && y.fract() != 0.0 {
        return Err(domain());
    }
    let r = x.powf(y);
    if r.is_infinite() && x.is_finite() && y.is_finite() {
        return Err(range_err());
    }
    Ok(Value::Float(r))
}

fn atan2(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let (y, x) = two_floats("atan2", args, kw)?;
    Ok(Value::Float(y.atan2(x)))
}

fn copysign(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let (x, y) = two_floats("copysign", args, kw)?;
    Ok(Value::Float(x.copysign(y)))
}

fn fmod(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let (x, y) = two_floats("fmod", args, kw)?;
    if y.is_infinite() && x.is_finite() {
        return Ok(Value::Float(x));
    }
    if y == 0.0 || x.is_infinite() {
        if x.is_nan() || y.is_nan() {
            return Ok(Value::Float(f64::NAN));
        }
        return Err(domain());
    }
    Ok(Value::Float(x % y))
}

fn remainder(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let (x, y) = two_floats("remainder", args, kw)?;
    if x.is_nan() || y.is_nan() {
        return Ok(Value::Float(f64::NAN));
    }
    if x.is_infinite() || y == 0.0 {
        return Err(domain());
    }
    if y.is_infinite() {
        return Ok(Value::Float(x));
    }
    // IEEE 754 remainder: x - n*y with n the nearest integer to x/y (ties to even).
    let n = (x / y).round();
    let n = if ((x / y) - (x / y).trunc()).abs() == 0.5 { 2.0 * ((x / y) / 2.0).round() } else { n };
    Ok(Value::Float(x - n * y))
}

fn hypot(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    util::no_kw("hypot", kw)?;
    let mut acc = 0.0f64;
    let mut inf = false;
    let mut nan = false;
    for a in args {
        let x = to_f64(a)?;
        if x.is_infinite() {
            inf = true;
        }
        if x.is_nan() {
            nan = true;
        }
        acc = acc.hypot(x);
    }
    if inf {
        return Ok(Value::Float(f64::INFINITY));
    }
    if nan {
        return Ok(Value::Float(f64::NAN));
    }
    Ok(Value::Float(acc))
}

fn dist(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let (p, q) = {
        util::no_kw("dist", kw)?;
        if args.len() != 2 {
            return Err(Exc::type_error(format!("dist expected 2 arguments, got {}", args.len())));
        }
        (util::items(vm, &args[0])?, util::items(vm, &args[1])?)
    };
    if p.len() != q.len() {
        return Err(Exc::value_error("both points must have the same number of dimensions"));
    }
    let mut acc = 0.0f64;
    for (a, b) in p.iter().zip(q.iter()) {
        acc = acc.hypot(to_f64(a)? - to_f64(b)?);
    }
    Ok(Value::Float(acc))
}

/// Shared body of floor/ceil/trunc: ints are returned unchanged, floats are rounded and
/// converted to an exact (possibly big) int.
fn rounding(name: &str, args: &[Value], kw: &Kw, f: fn(f64) -> f64) -> VmResult<Value> {
    exact(name, args, kw, 1)?;
    match &args[0] {
        Value::Int(i) => Ok(Value::Int(*i)),
        Value::Bool(b) => Ok(Value::Int(*b as i64)),
        Value::BigInt(b) => Ok(Value::BigInt(b.clone())),
        Value::Float(x) => float_to_int_value(f(*x)),
        other => Err(Exc::type_error(format!("must be real number, not {}", tname(other)))),
    }
}

fn floor(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    rounding("floor", args, kw, f64::floor)
}
fn ceil(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    rounding("ceil", args, kw, f64::ceil)
}
fn trunc(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    if let Some(Value::Str(_)) = args.first() {
        return Err(Exc::type_error("type str doesn't define __trunc__ method"));
    }
    rounding("trunc", args, kw, f64::trunc)
}

/// An integer argument for the integer functions (floats are a TypeError in 3.11).
fn int_arg(v: &Value) -> VmResult<BigInt> {
    to_bigint(v)
}

fn factorial(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    exact("factorial", args, kw, 1)?;
    let n = int_arg(&args[0])?;
    if n.is_negative() {
        return Err(Exc::value_error("factorial() not defined for negative values"));
    }
    let n = n.to_u64().ok_or_else(|| Exc::new(ExcKind::OverflowError, "factorial() argument should not exceed 9223372036854775807"))?;
    let mut acc: u64 = 1;
    let mut i = 2u64;
    while i <= n {
        match acc.checked_mul(i) {
            Some(v) => acc = v,
            None => break,
        }
        i += 1;
    }
    if i > n {
        return Ok(Value::from_bigint(BigInt::from(acc)));
    }
    // Multiply the rest in chunks that fit in u64 to keep big multiplications few.
    let mut big = BigInt::from(acc);
    while i <= n {
        let mut chunk: u64 = 1;
        while i <= n {
            match chunk.checked_mul(i) {
                Some(v) => {
                    chunk = v;
                    i += 1;
                }
                None => break,
            }
        }
        big *= chunk;
    }
    Ok(Value::from_bigint(big))
}

fn gcd(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    util::no_kw("gcd", kw)?;
    let mut acc = BigInt::zero();
    for a in args {
        acc = acc.gcd(&int_arg(a)?);
    }
    Ok(Value::from_bigint(acc))
}

fn lcm(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    util::no_kw("lcm", kw)?;
    let mut acc = BigInt::one();
    for a in args {
        let b = int_arg(a)?;
        if b.is_zero() || acc.is_zero() {
            acc = BigInt::zero();
            continue;
        }
        acc = acc.lcm(&b);
    }
    Ok(Value::from_bigint(acc.abs()))
}

fn comb(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    exact("comb", args, kw, 2)?;
    let n = int_arg(&args[0])?;
    let k = int_arg(&args[1])?;
    if n.is_negative() {
        return Err(Exc::value_error("n must be a non-negative integer"));
    }
    if k.is_negative() {
        return Err(Exc::value_error("k must be a non-negative integer"));
    }
    if k > n {
        return Ok(Value::Int(0));
    }
    let k = std::cmp::min(k.clone(), &n - &k);
    let k = k.to_u64().ok_or_else(|| Exc::new(ExcKind::OverflowError, "min(n - k, k) must not exceed 9223372036854775807"))?;
    let mut acc = BigInt::one();
    for i in 0..k {
        acc = acc * (&n - i) / (i + 1);
    }
    Ok(Value::from_bigint(acc))
}

fn perm(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [n, k] = bind("perm", args, kw, ["n", "k"], 1)?;
    let n = int_arg(&n.unwrap_or_default())?;
    if n.is_negative() {
        return Err(Exc::value_error("n must be a non-negative integer"));
    }
    let k = match k {
        None | Some(Value::None) => n.clone(),
        Some(k) => int_arg(&k)?,
    };
    if k.is_negative() {
        return Err(Exc::value_error("k must be a non-negative integer"));
    }
    if k > n {
        return Ok(Value::Int(0));
    }
    let k = k.to_u64().ok_or_else(|| Exc::new(ExcKind::OverflowError, "k must not exceed 9223372036854775807"))?;
    let mut acc = BigInt::one();
    for i in 0..k {
        acc *= &n - i;
    }
    Ok(Value::from_bigint(acc))
}

fn isqrt(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    exact("isqrt", args, kw, 1)?;
    let n = int_arg(&args[0])?;
    if n.is_negative() {
        return Err(Exc::value_error("isqrt() argument must be nonnegative"));
    }
    Ok(Value::from_bigint(n.sqrt()))
}

fn isclose(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [a, b, rel, abs] = bind("isclose", args, kw, ["a", "b", "rel_tol", "abs_tol"], 2)?;
    if args.len() > 2 {
        return Err(Exc::type_error(format!("isclose() takes exactly 2 positional arguments ({} given)", args.len())));
    }
    let a = to_f64(&a.unwrap_or_default())?;
    let b = to_f64(&b.unwrap_or_default())?;
    let rel = match rel {
        Some(v) => to_f64(&v)?,
        None => 1e-9,
    };
    let abs = match abs {
        Some(v) => to_f64(&v)?,
        None => 0.0,
    };
    if rel < 0.0 || abs < 0.0 {
        return Err(Exc::value_error("tolerances must be non-negative"));
    }
    if a == b {
        return Ok(Value::Bool(true));
    }
    if a.is_infinite() || b.is_infinite() {
        return Ok(Value::Bool(false));
    }
    let diff = (b - a).abs();
    Ok(Value::Bool(diff <= (rel * b).abs() || diff <= (rel * a).abs() || diff <= abs))
}

fn isfinite(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    exact("isfinite", args, kw, 1)?;
    if as_bigint(&args[0]).is_some() {
        return Ok(Value::Bool(true));
    }
    Ok(Value::Bool(to_f64(&args[0])?.is_finite()))
}
fn isinf(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    exact("isinf", args, kw, 1)?;
    if as_bigint(&args[0]).is_some() {
        return Ok(Value::Bool(false));
    }
    Ok(Value::Bool(to_f64(&args[0])?.is_infinite()))
}
fn isnan(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    exact("isnan", args, kw, 1)?;
    if as_bigint(&args[0]).is_some() {
        return Ok(Value::Bool(false));
    }
    Ok(Value::Bool(to_f64(&args[0])?.is_nan()))
}

fn prod(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [it, start] = bind("prod", args, kw, ["iterable", "start"], 1)?;
    let xs = util::items(vm, &it.unwrap_or_default())?;
    let mut acc = start.unwrap_or(Value::Int(1));
    for x in xs {
        acc = match (&acc, &x) {
            (Value::Int(a), Value::Int(b)) => match a.checked_mul(*b) {
                Some(p) => Value::Int(p),
                None => Value::from_bigint(BigInt::from(*a) * BigInt::from(*b)),
            },
            (Value::Float(a), Value::Float(b)) => Value::Float(a * b),
            _ => crate::ops::arith(vm, crate::ops::ArithOp::Mul, &acc, &x)?,
        };
    }
    Ok(acc)
}

/// Exactly rounded sum (CPython's `math.fsum`: Shewchuk's partials, then a half-even fix-up).
pub fn fsum_f64(xs: &[f64]) -> VmResult<f64> {
    let mut partials: Vec<f64> = Vec::new();
    let mut special = 0.0f64;
    let mut inf_sum = 0.0f64;
    let mut has_special = false;
    for &x0 in xs {
        let mut x = x0;
        if !x.is_finite() {
            if x.is_infinite() {
                inf_sum += x;
            }
            special += x;
            has_special = true;
            continue;
        }
        let mut i = 0;
        for j in 0..partials.len() {
            let mut y = partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                partials[i] = lo;
                i += 1;
            }
            x = hi;
        }
        if !x.is_finite() {
            return Err(Exc::new(ExcKind::OverflowError, "intermediate overflow in fsum"));
        }
        partials.truncate(i);
        partials.push(x);
    }
    if has_special {
        if inf_sum.is_nan() {
            return Err(Exc::value_error("-inf + inf in fsum"));
        }
        return Ok(special);
    }
    let mut n = partials.len();
    let mut hi = 0.0f64;
    if n > 0 {
        n -= 1;
        hi = partials[n];
        let mut lo = 0.0f64;
        while n > 0 {
            let x = hi;
            n -= 1;
            let y = partials[n];
            hi = x + y;
            let yr = hi - x;
            lo = y - yr;
            if lo != 0.0 {
                break;
            }
        }
        if n > 0 && ((lo < 0.0 && partials[n - 1] < 0.0) || (lo > 0.0 && partials[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            let yr = x - hi;
            if y == yr {
                hi = x;
            }
        }
    }
    Ok(hi)
}

fn fsum(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    exact("fsum", args, kw, 1)?;
    let xs = util::items(vm, &args[0])?;
    let mut fs = Vec::with_capacity(xs.len());
    for x in &xs {
        fs.push(to_f64(x)?);
    }
    Ok(Value::Float(fsum_f64(&fs)?))
}

fn modf(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    exact("modf", args, kw, 1)?;
    let x = to_f64(&args[0])?;
    if x.is_infinite() {
        return Ok(Value::tuple(vec![Value::Float(0.0f64.copysign(x)), Value::Float(x)]));
    }
    let t = x.trunc();
    Ok(Value::tuple(vec![Value::Float((x - t).copysign(x)), Value::Float(t)]))
}

fn frexp(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    exact("frexp", args, kw, 1)?;
    let x = to_f64(&args[0])?;
    if x == 0.0 || !x.is_finite() {
        return Ok(Value::tuple(vec![Value::Float(x), Value::Int(0)]));
    }
    let bits = x.to_bits();
    let raw_exp = ((bits >> 52) & 0x7ff) as i64;
    let (m, e) = if raw_exp == 0 {
        // Subnormal: scale up first.
        let y = x * 2f64.powi(64);
        let b = y.to_bits();
        let re = ((b >> 52) & 0x7ff) as i64;
        (f64::from_bits((b & !(0x7ffu64 << 52)) | (1022u64 << 52)), re - 1022 - 64)
    } else {
        (f64::from_bits((bits & !(0x7ffu64 << 52)) | (1022u64 << 52)), raw_exp - 1022)
    };
    Ok(Value::tuple(vec![Value::Float(m), Value::Int(e)]))
}

fn ldexp(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    exact("ldexp", args, kw, 2)?;
    let x = to_f64(&args[0])?;
    let e = match &args[1] {
        Value::Int(i) => *i,
        Value::Bool(b) => *b as i64,
        Value::BigInt(b) => {
            if b.is_negative() {
                -100_000
            } else {
                100_000
            }
        }
        other => return Err(Exc::type_error(format!("Expected an int as second argument to ldexp, not {}", tname(other)))),
    };
    if x == 0.0 || !x.is_finite() {
        return Ok(Value::Float(x));
    }
    let e = e.clamp(-3000, 3000) as i32;
    // Scale in steps so intermediate powers of two stay representable.
    let mut r = x;
    let mut left = e;
    while left != 0 {
        let step = left.clamp(-1000, 1000);
        r *= 2f64.powi(step);
        left -= step;
    }
    if r.is_infinite() {
        return Err(range_err());
    }
    Ok(Value::Float(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsum_is_exact() {
        let xs = vec![0.1; 10];
        assert_eq!(fsum_f64(&xs).unwrap(), 1.0);
        assert_eq!(fsum_f64(&[1e100, 1.0, -1e100, 1e-100, 1e50, -1.0, -1e50]).unwrap(), 1e-100);
        assert_eq!(fsum_f64(&[]).unwrap(), 0.0);
    }
}
