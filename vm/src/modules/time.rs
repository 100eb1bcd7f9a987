//! `import time`: clocks from `vm.host` (`time`, `time_ns`, `monotonic`, `perf_counter`...),
//! a non-blocking `sleep` (it suspends the task through `HostCall::Sleep`), and `gmtime`,
//! `localtime`, `mktime`, `strftime`, `asctime`, `ctime` over `struct_time` objects.

use super::datetime::{self as dtm, Tm, US_PER_DAY, US_PER_SEC};
use super::util::{self, bind, func, method, obj, tname, to_f64, Kw};
use crate::error::{Exc, ExcData, VmResult};
use crate::host::HostCall;
use crate::value::{NativeObject, Value};
use crate::Vm;

pub fn module() -> Value {
    util::module(
        "time",
        vec![
            ("time", func("time", time)),
            ("time_ns", func("time_ns", time_ns)),
            ("monotonic", func("monotonic", monotonic)),
            ("monotonic_ns", func("monotonic_ns", monotonic_ns)),
            ("perf_counter", func("perf_counter", monotonic)),
            ("perf_counter_ns", func("perf_counter_ns", monotonic_ns)),
            ("process_time", func("process_time", monotonic)),
            ("sleep", func("sleep", sleep)),
            ("gmtime", func("gmtime", gmtime)),
            ("localtime", func("localtime", localtime)),
            ("mktime", func("mktime", mktime)),
            ("strftime", func("strftime", strftime)),
            ("asctime", func("asctime", asctime)),
            ("ctime", func("ctime", ctime)),
            ("timezone", Value::Int(0)),
            ("altzone", Value::Int(0)),
            ("daylight", Value::Int(0)),
        ],
    )
}

fn time(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    util::exact("time", args, kw, 0)?;
    Ok(Value::Float(vm.host.now()))
}

fn time_ns(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    util::exact("time_ns", args, kw, 0)?;
    Ok(Value::Int((vm.host.now() * 1e9) as i64))
}

fn monotonic(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    util::exact("monotonic", args, kw, 0)?;
    Ok(Value::Float(vm.host.monotonic()))
}

fn monotonic_ns(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    util::exact("monotonic_ns", args, kw, 0)?;
    Ok(Value::Int((vm.host.monotonic() * 1e9) as i64))
}

/// `time.sleep(s)` never blocks the VM: it asks the driver to park the task.
fn sleep(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    util::exact("sleep", args, kw, 1)?;
    let secs = match &args[0] {
        Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::BigInt(_) => to_f64(&args[0])?,
        other => {
            return Err(Exc::type_error(format!("'{}' object cannot be interpreted as an integer", tname(other))))
        }
    };
    if secs.is_nan() {
        return Err(Exc::value_error("Invalid value NaN (not a number)"));
    }
    if secs < 0.0 {
        return Err(Exc::value_error("sleep length must be non-negative"));
    }
    Err(Exc(Box::new(ExcData::Suspend(HostCall::Sleep(secs)))))
}

/// `time.struct_time`: a 9-field tuple-like object with `tm_*` attributes.
pub struct StructTime {
    pub f: [i64; 9],
    pub zone: String,
    pub gmtoff: i64,
}

const FIELDS: [&str; 9] = ["tm_year", "tm_mon", "tm_mday", "tm_hour", "tm_min", "tm_sec", "tm_wday", "tm_yday", "tm_isdst"];

/// A struct_time for a broken-down time (`isdst` as given).
pub fn struct_time(t: &Tm, isdst: i64) -> Value {
    let wday = (t.ord + 6) % 7;
    let yday = t.ord - dtm::ymd_to_ord(t.year, 1, 1) + 1;
    obj(StructTime {
        f: [t.year, t.month, t.day, t.hour, t.minute, t.second, wday, yday, isdst],
        zone: t.tz.as_ref().map(|_| "UTC".to_string()).unwrap_or_default(),
        gmtoff: t.tz.as_ref().map_or(0, |z| z.off / US_PER_SEC),
    })
}

impl NativeObject for StructTime {
    fn type_name(&self) -> &str {
        "struct_time"
    }
    fn repr(&self) -> String {
        let parts: Vec<String> = FIELDS.iter().zip(self.f.iter()).map(|(n, v)| format!("{n}={v}")).collect();
        format!("time.struct_time({})", parts.join(", "))
    }
    fn eq(&self, other: &dyn NativeObject) -> Option<bool> {
        other.as_any().downcast_ref::<StructTime>().map(|o| o.f == self.f)
    }
    fn get_attr(&self, _vm: &mut Vm, this: &Value, name: &str) -> VmResult<Option<Value>> {
        if let Some(i) = FIELDS.iter().position(|n| *n == name) {
            return Ok(Some(Value::Int(self.f[i])));
        }
        Ok(Some(match name {
            "tm_zone" => Value::str(self.zone.clone()),
            "tm_gmtoff" => Value::Int(self.gmtoff),
            "__getitem__" => method("__getitem__", st_getitem, this),
            "__len__" => method("__len__", st_len, this),
            "__iter__" => method("__iter__", st_iter, this),
            _ => return Ok(None),
        }))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn st_getitem(_vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    let s = util::this::<StructTime>(args, "time.struct_time")?;
    let i = util::to_i64(args.get(1).unwrap_or(&Value::None))?;
    let i = if i < 0 { i + 9 } else { i };
    s.f.get(i as usize).map(|v| Value::Int(*v)).ok_or_else(|| Exc::index_error("tuple index out of range"))
}
fn st_len(_vm: &mut Vm, _args: &[Value], _kw: &Kw) -> VmResult<Value> {
    Ok(Value::Int(9))
}
fn st_iter(vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    let s = util::this::<StructTime>(args, "time.struct_time")?;
    let t = Value::tuple(s.f.iter().map(|v| Value::Int(*v)).collect());
    crate::ops::iter(vm, &t)
}

fn tm_from_unix(t: f64, offset_s: i64, aware: bool) -> VmResult<Tm> {
    if !t.is_finite() {
        return Err(Exc::value_error("Invalid value NaN (not a number)"));
    }
    // Years 1..9999 only (CPython's limit on most platforms is similar).
    if t.abs() > 3.0e11 {
        return Err(Exc::new(crate::value::ExcKind::OverflowError, "timestamp out of range for platform time_t"));
    }
    let us = (t.floor() as i64 + offset_s) * US_PER_SEC + 719_162 * US_PER_DAY;
    if !(0..3_652_059 * US_PER_DAY).contains(&us) {
        return Err(Exc::new(crate::value::ExcKind::OverflowError, "timestamp out of range for platform time_t"));
    }
    let dt = dtm::DateTime {
        us,
        tz: if aware { Some(dtm::Tz { off: offset_s * US_PER_SEC, name: None }) } else { None },
    };
    Ok(dt.tm())
}

fn secs_arg(vm: &mut Vm, name: &str, args: &[Value], kw: &Kw) -> VmResult<f64> {
    let [s] = bind(name, args, kw, ["secs"], 0)?;
    match s {
        None | Some(Value::None) => Ok(vm.host.now()),
        Some(v) => to_f64(&v),
    }
}

fn gmtime(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let t = secs_arg(vm, "gmtime", args, kw)?;
    Ok(struct_time(&tm_from_unix(t, 0, true)?, 0))
}

fn localtime(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let t = secs_arg(vm, "localtime", args, kw)?;
    let off = vm.host.local_offset(t);
    let tm = tm_from_unix(t, off, false)?;
    let v = struct_time(&tm, 0);
    Ok(v)
}

/// A struct_time or 9-tuple argument as a broken-down time.
fn tm_arg(vm: &mut Vm, v: &Value) -> VmResult<(Tm, i64)> {
    let f: Vec<i64> = if let Some(s) = util::downcast::<StructTime>(v) {
        s.f.to_vec()
    } else {
        let items = util::items(vm, v)?;
        if items.len() != 9 {
            return Err(Exc::type_error("time.struct_time() takes a 9-sequence"));
        }
        items.iter().map(util::to_i64).collect::<VmResult<_>>()?
    };
    let (y, m, d) = (f[0], f[1].clamp(1, 12), f[2].clamp(1, 31));
    let ord = dtm::ymd_to_ord(y.clamp(1, 9999), m, d.min(dtm::days_in_month(y, m)));
    Ok((Tm { year: y, month: m, day: d, hour: f[3], minute: f[4], second: f[5], us: 0, ord, tz: None }, f[8]))
}

fn mktime(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    util::exact("mktime", args, kw, 1)?;
    let (t, _) = tm_arg(vm, &args[0])?;
    let wall = ((t.ord - 719_163) * 86_400 + t.hour * 3600 + t.minute * 60 + t.second) as f64;
    let guess = wall - vm.host.local_offset(wall) as f64;
    Ok(Value::Float(wall - vm.host.local_offset(guess) as f64))
}

fn strftime(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [fmt, t] = bind("strftime", args, kw, ["format", "t"], 1)?;
    let fmt = fmt.unwrap_or_default();
    let fmt = fmt
        .as_str()
        .ok_or_else(|| Exc::type_error(format!("strftime() argument 1 must be str, not {}", tname(&fmt))))?
        .to_string();
    let tm = match t {
        Some(t) => tm_arg(vm, &t)?.0,
        None => {
            let now = vm.host.now();
            let off = vm.host.local_offset(now);
            tm_from_unix(now, off, false)?
        }
    };
    Ok(Value::str(dtm::strftime(&fmt, &tm)))
}

fn asctime(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [t] = bind("asctime", args, kw, ["t"], 0)?;
    let tm = match t {
        Some(t) => tm_arg(vm, &t)?.0,
        None => {
            let now = vm.host.now();
            let off = vm.host.local_offset(now);
            tm_from_unix(now, off, false)?
        }
    };
    Ok(Value::str(dtm::strftime("%c", &tm)))
}

fn ctime(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let t = secs_arg(vm, "ctime", args, kw)?;
    let off = vm.host.local_offset(t);
    Ok(Value::str(dtm::strftime("%c", &tm_from_unix(t, off, false)?)))
}
