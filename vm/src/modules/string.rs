//! `import string`: the character-class constants and `capwords`.

use super::util::{self, bind, func, tname, Kw};
use crate::error::{Exc, VmResult};
use crate::value::Value;
use crate::Vm;

pub const ASCII_LOWERCASE: &str = "abcdefghijklmnopqrstuvwxyz";
pub const ASCII_UPPERCASE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
pub const DIGITS: &str = "0123456789";
pub const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
pub const WHITESPACE: &str = " \t\n\r\u{b}\u{c}";

pub fn module() -> Value {
    let letters = format!("{ASCII_LOWERCASE}{ASCII_UPPERCASE}");
    let printable = format!("{DIGITS}{letters}{PUNCTUATION}{WHITESPACE}");
    util::module(
        "string",
        vec![
            ("ascii_letters", Value::str(letters)),
            ("ascii_lowercase", Value::str(ASCII_LOWERCASE)),
            ("ascii_uppercase", Value::str(ASCII_UPPERCASE)),
            ("digits", Value::str(DIGITS)),
            ("hexdigits", Value::str("0123456789abcdefABCDEF")),
            ("octdigits", Value::str("01234567")),
            ("punctuation", Value::str(PUNCTUATION)),
            ("whitespace", Value::str(WHITESPACE)),
            ("printable", Value::str(printable)),
            ("capwords", func("capwords", capwords)),
        ],
    )
}

/// Python's `str.capitalize`: first character upper case, the rest lower case.
fn capitalize(w: &str) -> String {
    let mut cs = w.chars();
    match cs.next() {
        Some(f) => f.to_uppercase().chain(cs.flat_map(|c| c.to_lowercase())).collect(),
        None => String::new(),
    }
}

fn capwords(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [s, sep] = bind("capwords", args, kw, ["s", "sep"], 1)?;
    let s = s.unwrap_or_default();
    let s = s.as_str().ok_or_else(|| Exc::type_error(format!("descriptor 'split' for 'str' objects doesn't apply to a '{}' object", tname(&s))))?;
    let out = match sep.filter(|v| !v.is_none()) {
        None => s.split_whitespace().map(capitalize).collect::<Vec<_>>().join(" "),
        Some(sep) => {
            let sep = sep.as_str().ok_or_else(|| Exc::type_error("must be str or None"))?.to_string();
            if sep.is_empty() {
                return Err(Exc::value_error("empty separator"));
            }
            s.split(sep.as_str()).map(capitalize).collect::<Vec<_>>().join(&sep)
        }
    };
    Ok(Value::str(out))
}
