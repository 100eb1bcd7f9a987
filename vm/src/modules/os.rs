//! `import os`: only the environment (`os.environ`, `os.getenv`) and pure path-string helpers
//! (`os.path.join/basename/dirname/split/splitext`). No file or process access: the VM does no
//! I/O, and the environment comes from `vm.host`.

use super::util::{self, bind, func, tname, Kw};
use crate::error::{Exc, VmResult};
use crate::value::{Dict, HKey, Value};
use crate::Vm;

pub fn module(vm: &mut Vm) -> Value {
    // A snapshot taken at import, as CPython's `os.environ` is a copy made at start-up.
    let mut env = Dict::default();
    for (k, v) in vm.host.env_vars() {
        env.insert(HKey(Value::str(k)), Value::str(v));
    }
    let path = util::module(
        "posixpath",
        vec![
            ("join", func("join", join)),
            ("basename", func("basename", basename)),
            ("dirname", func("dirname", dirname)),
            ("split", func("split", split)),
            ("splitext", func("splitext", splitext)),
            ("isabs", func("isabs", isabs)),
            ("sep", Value::str("/")),
        ],
    );
    util::module(
        "os",
        vec![
            ("environ", Value::dict(env)),
            ("getenv", func("getenv", getenv)),
            ("path", path),
            ("sep", Value::str("/")),
            ("linesep", Value::str("\n")),
            ("name", Value::str("posix")),
            ("curdir", Value::str(".")),
            ("pardir", Value::str("..")),
        ],
    )
}

fn getenv(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [key, default] = bind("getenv", args, kw, ["key", "default"], 1)?;
    let key = key.unwrap_or_default();
    let k = key.as_str().ok_or_else(|| Exc::type_error(format!("str expected, not {}", tname(&key))))?;
    Ok(match vm.host.env_var(k) {
        Some(v) => Value::str(v),
        None => default.unwrap_or_default(),
    })
}

fn path_arg(v: &Value) -> VmResult<&str> {
    v.as_str().ok_or_else(|| Exc::type_error(format!("expected str, bytes or os.PathLike object, not {}", tname(v))))
}

fn join(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    util::no_kw("join", kw)?;
    let Some(first) = args.first() else {
        return Err(Exc::type_error("join() missing 1 required positional argument: 'a'"));
    };
    let mut path = path_arg(first)?.to_string();
    for b in &args[1..] {
        let b = path_arg(b)?;
        if b.starts_with('/') {
            path = b.to_string();
        } else if path.is_empty() || path.ends_with('/') {
            path.push_str(b);
        } else {
            path.push('/');
            path.push_str(b);
        }
    }
    Ok(Value::str(path))
}

fn split_parts(p: &str) -> (String, String) {
    let i = p.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (head, tail) = (&p[..i], &p[i..]);
    let head = if !head.is_empty() && !head.chars().all(|c| c == '/') { head.trim_end_matches('/') } else { head };
    (head.to_string(), tail.to_string())
}

fn one_path<'a>(name: &str, args: &'a [Value], kw: &Kw) -> VmResult<&'a str> {
    util::exact(name, args, kw, 1)?;
    path_arg(&args[0])
}

fn basename(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    Ok(Value::str(split_parts(one_path("basename", args, kw)?).1))
}
fn dirname(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    Ok(Value::str(split_parts(one_path("dirname", args, kw)?).0))
}
fn split(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let (h, t) = split_parts(one_path("split", args, kw)?);
    Ok(Value::tuple(vec![Value::str(h), Value::str(t)]))
}
fn isabs(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    Ok(Value::Bool(one_path("isabs", args, kw)?.starts_with('/')))
}
fn splitext(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let p = one_path("splitext", args, kw)?;
    let sep = p.rfind('/').map(|i| i as isize).unwrap_or(-1);
    let dot = p.rfind('.').map(|i| i as isize).unwrap_or(-1);
    if dot > sep {
        let start = (sep + 1) as usize;
        if p[start..dot as usize].chars().any(|c| c != '.') {
            let d = dot as usize;
            return Ok(Value::tuple(vec![Value::str(&p[..d]), Value::str(&p[d..])]));
        }
    }
    Ok(Value::tuple(vec![Value::str(p), Value::str("")]))
}
