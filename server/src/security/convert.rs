//! JSON claims (`serde_json`, as `ask-auth` speaks them) ⇄ Ask values.

use ask_vm::error::{Exc, VmResult};
use ask_vm::value::{Dict, HKey, Value};
use ask_vm::vm::Vm;
use serde_json::{Map, Number, Value as J};

/// Claims → an Ask value (objects keep their order).
pub fn to_value(j: &J) -> Value {
    match j {
        J::Null => Value::None,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::from_bigint(num_bigint::BigInt::from(u))
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        J::String(s) => Value::str(s.as_str()),
        J::Array(a) => Value::list(a.iter().map(to_value).collect()),
        J::Object(m) => map_to_value(m),
    }
}

pub fn map_to_value(m: &Map<String, J>) -> Value {
    let mut d = Dict::with_hasher(rustc_hash::FxBuildHasher);
    for (k, v) in m {
        d.insert(HKey(Value::str(k.as_str())), to_value(v));
    }
    Value::dict(d)
}

fn not_serializable(v: &Value) -> Exc {
    Exc::type_error(format!("Object of type {} is not JSON serializable", ask_vm::ops::type_name(v)))
}

/// An Ask value → JSON for a token payload. `time_claim`: the value of `exp`/`nbf`/`iat`, where
/// a `datetime` becomes an integer Unix timestamp (naive datetimes count as UTC, as PyJWT did).
pub fn to_json(vm: &mut Vm, v: &Value, time_claim: bool, depth: usize) -> VmResult<J> {
    if depth > 64 {
        return Err(Exc::value_error("token payload nested too deeply"));
    }
    Ok(match v {
        Value::None => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::BigInt(b) => {
            let f: f64 = b.to_string().parse().unwrap_or(f64::INFINITY);
            J::Number(Number::from_f64(f).ok_or_else(|| Exc::value_error("integer too large for a token"))?)
        }
        Value::Float(f) => {
            if time_claim {
                return Ok(J::from(f.floor() as i64));
            }
            J::Number(Number::from_f64(*f).ok_or_else(|| Exc::value_error("Out of range float values are not JSON compliant"))?)
        }
        Value::Str(s) => J::String(s.as_str().to_string()),
        Value::List(l) => {
            let items = l.borrow().clone();
            J::Array(items.iter().map(|x| to_json(vm, x, false, depth + 1)).collect::<VmResult<_>>()?)
        }
        Value::Tuple(t) => J::Array(t.iter().map(|x| to_json(vm, x, false, depth + 1)).collect::<VmResult<_>>()?),
        Value::Dict(d) => {
            let items: Vec<(Value, Value)> = d.borrow().iter().map(|(k, v)| (k.0.clone(), v.clone())).collect();
            let mut m = Map::new();
            for (k, item) in items {
                let key = match &k {
                    Value::Str(s) => s.as_str().to_string(),
                    Value::Int(i) => i.to_string(),
                    Value::Bool(b) => (if *b { "true" } else { "false" }).to_string(),
                    Value::None => "null".to_string(),
                    other => return Err(Exc::type_error(format!("keys must be str, int, float, bool or None, not {}", ask_vm::ops::type_name(other)))),
                };
                let tc = depth == 0 && matches!(key.as_str(), "exp" | "nbf" | "iat");
                let jv = to_json(vm, &item, tc, depth + 1)?;
                m.insert(key, jv);
            }
            J::Object(m)
        }
        Value::Object(_) | Value::Instance(_) => {
            if time_claim {
                if let Some(ts) = datetime_timestamp(vm, v)? {
                    return Ok(J::from(ts));
                }
            }
            if let Value::Object(o) = v {
                if let Some(j) = o.to_json() {
                    return to_json(vm, &j, false, depth + 1);
                }
            }
            if let Value::Instance(inst) = v {
                if let Some(f) = inst.class.lookup("s") {
                    let r = vm.call_value(&f, std::slice::from_ref(v), &[])?;
                    return to_json(vm, &r, false, depth + 1);
                }
            }
            return Err(not_serializable(v));
        }
        _ => return Err(not_serializable(v)),
    })
}

fn int_attr(vm: &mut Vm, v: &Value, name: &str) -> Option<i64> {
    match ask_vm::ops::get_attr(vm, v, name) {
        Ok(Value::Int(i)) => Some(i),
        _ => None,
    }
}

/// Seconds since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A `datetime` value's Unix timestamp (integer seconds): aware ones through `timestamp()`,
/// naive ones read as UTC. `None` when `v` is not a datetime.
fn datetime_timestamp(vm: &mut Vm, v: &Value) -> VmResult<Option<i64>> {
    let tn = ask_vm::ops::type_name(v);
    if tn != "datetime" {
        return Ok(None);
    }
    let aware = !matches!(ask_vm::ops::get_attr(vm, v, "tzinfo"), Ok(Value::None) | Err(_));
    if aware {
        return Ok(match ask_vm::ops::call_method(vm, v, "timestamp", &[], &[])? {
            Value::Float(f) => Some(f.floor() as i64),
            Value::Int(i) => Some(i),
            _ => None,
        });
    }
    let parts: Option<Vec<i64>> = ["year", "month", "day", "hour", "minute", "second"].iter().map(|n| int_attr(vm, v, n)).collect();
    Ok(parts.map(|p| days_from_civil(p[0], p[1], p[2]) * 86_400 + p[3] * 3600 + p[4] * 60 + p[5]))
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_days() {
        assert_eq!(super::days_from_civil(1970, 1, 1), 0);
        assert_eq!(super::days_from_civil(2000, 3, 1), 11_017);
    }
}
