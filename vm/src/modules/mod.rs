//! Native modules importable with `import`: `math`, `random`, `json`, `re`, `time`, `datetime`,
//! `uuid`, `hashlib`, `base64`, `os`, `string`, and the small extras back-end code reaches for:
//! `hmac`, `secrets`.
//!
//! Each module is one file; `load` builds a fresh module value and the VM caches it per name
//! (`vm.module_cache`), so module state (the random generator) lives once per VM. Everything
//! that needs the outside world (clocks, randomness, environment) goes through `vm.host`.

use crate::error::VmResult;
use crate::value::Value;
use crate::Vm;

pub mod util;

pub mod base64;
pub mod datetime;
pub mod hashlib;
pub mod hmac;
pub mod json;
pub mod math;
pub mod os;
pub mod random;
pub mod re;
pub mod secrets;
pub mod string;
pub mod time;
pub mod uuid;

/// Names of every native module, for `import` checks and the "unknown module" diagnostic.
pub const NAMES: &[&str] =
    &["base64", "datetime", "hashlib", "hmac", "json", "math", "os", "random", "re", "secrets", "string", "time", "uuid"];

/// Build module `name` as a `Value::Module` (`None` when there is no such module).
/// The VM caches the result per name, so each module is built once per VM.
pub fn load(vm: &mut Vm, name: &str) -> Option<VmResult<Value>> {
    Some(match name {
        "base64" => Ok(base64::module()),
        "datetime" => Ok(datetime::module(vm)),
        "hashlib" => Ok(hashlib::module()),
        "hmac" => Ok(hmac::module()),
        "json" => Ok(json::module(vm)),
        "math" => Ok(math::module()),
        "os" => Ok(os::module(vm)),
        "random" => Ok(random::module(vm)),
        "re" => Ok(re::module(vm)),
        "secrets" => Ok(secrets::module()),
        "string" => Ok(string::module()),
        "time" => Ok(time::module()),
        "uuid" => Ok(uuid::module()),
        _ => return None,
    })
}

/// The cached module `name` of this VM, building it on first use. Lets the built-in helpers
/// (`random`, `datetime`) share state with `import random` / `import datetime`.
pub fn cached(vm: &mut Vm, name: &str) -> Option<VmResult<Value>> {
    if let Some(v) = vm.module_cache.get(name) {
        return Some(Ok(v.clone()));
    }
    let v = match load(vm, name)? {
        Ok(v) => v,
        Err(e) => return Some(Err(e)),
    };
    vm.module_cache.insert(std::rc::Rc::from(name), v.clone());
    Some(Ok(v))
}

#[cfg(test)]
mod tests;
