//! `Askfile.toml` (and 1.5.0's legacy JSON `Askfile`, which wins when both exist): the server's
//! settings, read from the program's folder at start.
//!
//! Every key is checked by hand (not with serde) so that a wrong type gives an error naming the
//! key (`[server] port must be an integer from 1 to 65535, not "x"`), and unknown or 1.5.0-only
//! keys (`[system]`, `[server] production`) give a one-line notice instead of failing the start.

use std::path::Path;
use std::time::Duration;

use toml::{Table, Value as T};

/// `[cors]`: who may call the API from a browser. The default allows every origin (1.5.0).
#[derive(Clone, Debug, PartialEq)]
pub struct CorsConfig {
    /// `None` = every origin (`*`).
    pub origins: Option<Vec<String>>,
    /// Methods allowed in preflights; `None` = the route's own methods.
    pub methods: Option<Vec<String>>,
    /// Request headers allowed in preflights; `None` = echo what the browser asks for.
    pub headers: Option<Vec<String>>,
    pub expose_headers: Vec<String>,
    pub supports_credentials: bool,
    pub max_age: Option<u64>,
}

impl Default for CorsConfig {
    fn default() -> Self {
        CorsConfig { origins: None, methods: None, headers: None, expose_headers: Vec::new(), supports_credentials: false, max_age: None }
    }
}

/// Everything the server reads from the Askfile, with defaults.
#[derive(Clone, Debug)]
pub struct Config {
    pub host: String,
    pub port: u16,
    /// Largest request body accepted, in bytes (413 beyond).
    pub body_limit: usize,
    /// Time a client has to send a request's headers (also bounds idle keep-alive waits: hyper's
    /// header timer starts when the server waits for the next request).
    pub header_timeout: Duration,
    /// Time a client has to send a request's body once its headers arrived (408 beyond); idle
    /// keep-alive connections are closed after `header_timeout`.
    pub idle_timeout: Duration,
    /// Requests allowed inside the VM at once (running or waiting in a host call).
    pub max_concurrency: usize,
    /// Instructions one run of a handler may execute before it is stopped (500).
    pub instruction_budget: u64,
    /// Instructions the program's top-level code may execute when it starts (or, in `ask dev`,
    /// is reloaded); `None` = the mode's default ([`Config::startup_budget`]).
    pub startup_budget: Option<u64>,
    /// Proxy addresses whose `X-Forwarded-For` is believed for `request.remote_addr`.
    pub trusted_proxies: Vec<String>,
    /// One log line per request.
    pub access_log: bool,
    pub cors: CorsConfig,
    /// `[rules] underscores`: `_body` etc. are also defined.
    pub underscores: bool,
    /// Raw tables for the parts owned by other issues (auth, database, mail).
    pub auth: Table,
    pub db: Table,
    pub mail: Table,
    /// One-line notices (ignored keys) to print at start.
    pub notices: Vec<String>,
    /// Which file was read, if any.
    pub source: Option<String>,
    /// [authwire hook] The program's folder (`.ask/` dev secret, rate-limit scope) and whether
    /// this is `ask dev` (weak secrets warn instead of refusing the start).
    pub program_dir: Option<std::path::PathBuf>,
    pub dev: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 5000,
            body_limit: 1 << 20,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_concurrency: 1024,
            instruction_budget: 50_000_000,
            startup_budget: None,
            trusted_proxies: Vec::new(),
            access_log: true,
            cors: CorsConfig::default(),
            underscores: true,
            auth: Table::new(),
            db: Table::new(),
            mail: Table::new(),
            notices: Vec::new(),
            source: None,
            program_dir: None,
            dev: false,
        }
    }
}

/// `ask dev`'s default start-up budget: a few seconds of top-level code. An edit that makes the
/// top level loop forever must become a reload error (the last good program keeps serving), not
/// a reloader stuck until restart.
pub const DEV_STARTUP_BUDGET: u64 = 2_000_000_000;

impl Config {
    /// The instruction budget of the top-level code: `[server] startup_budget`, else unlimited
    /// for `ask start` (a slow start is visible and nothing is being served yet) and
    /// [`DEV_STARTUP_BUDGET`] for `ask dev`.
    pub fn startup_budget(&self) -> u64 {
        self.startup_budget.unwrap_or(if self.dev { DEV_STARTUP_BUDGET } else { u64::MAX })
    }
}

/// Read the Askfile in `dir` (none is fine: defaults).
pub fn load(dir: &Path) -> Result<Config, String> {
    let mut c = load_file(dir)?;
    c.program_dir = Some(dir.to_path_buf()); // [authwire hook]
    Ok(c)
}

fn load_file(dir: &Path) -> Result<Config, String> {
    let legacy = dir.join("Askfile");
    let modern = dir.join("Askfile.toml");
    if legacy.is_file() {
        let text = std::fs::read_to_string(&legacy).map_err(|e| format!("{}: {e}", legacy.display()))?;
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: invalid JSON: {e}", legacy.display()))?;
        let T::Table(table) = json_to_toml(&json).unwrap_or(T::Table(Table::new())) else {
            return Err(format!("{}: the top level must be an object", legacy.display()));
        };
        let mut c = from_table(&table).map_err(|e| format!("{}: {e}", legacy.display()))?;
        if modern.is_file() {
            c.notices.push(format!("both Askfile and Askfile.toml exist: using the legacy {}", legacy.display()));
        }
        c.source = Some(legacy.display().to_string());
        return Ok(c);
    }
    if modern.is_file() {
        let text = std::fs::read_to_string(&modern).map_err(|e| format!("{}: {e}", modern.display()))?;
        let table: Table = text.parse().map_err(|e: toml::de::Error| format!("{}: {}", modern.display(), e.message()))?;
        let mut c = from_table(&table).map_err(|e| format!("{}: {e}", modern.display()))?;
        c.source = Some(modern.display().to_string());
        return Ok(c);
    }
    Ok(Config::default())
}

fn json_to_toml(v: &serde_json::Value) -> Option<T> {
    Some(match v {
        serde_json::Value::Null => return None,
        serde_json::Value::Bool(b) => T::Boolean(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => T::Integer(i),
            None => T::Float(n.as_f64()?),
        },
        serde_json::Value::String(s) => T::String(s.clone()),
        serde_json::Value::Array(a) => T::Array(a.iter().filter_map(json_to_toml).collect()),
        serde_json::Value::Object(o) => T::Table(o.iter().filter_map(|(k, v)| Some((k.clone(), json_to_toml(v)?))).collect()),
    })
}

fn show(v: &T) -> String {
    match v {
        T::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn int(key: &str, v: &T, min: i64, max: i64) -> Result<i64, String> {
    let n = match v {
        T::Integer(i) => Some(*i),
        // 1.5.0 wrote ports as strings ("5000").
        T::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("{key} must be an integer from {min} to {max}, not {}", show(v))),
    }
}

fn seconds(key: &str, v: &T) -> Result<Duration, String> {
    let x = match v {
        T::Integer(i) => *i as f64,
        T::Float(f) => *f,
        T::String(s) => s.trim().trim_end_matches('s').trim().parse::<f64>().unwrap_or(-1.0),
        _ => -1.0,
    };
    if x.is_finite() && x > 0.0 && x < 1e7 {
        Ok(Duration::from_secs_f64(x))
    } else {
        Err(format!("{key} must be a positive number of seconds, not {}", show(v)))
    }
}

fn bytes(key: &str, v: &T) -> Result<usize, String> {
    let err = || format!("{key} must be a size in bytes (an integer, or a string like \"10MB\" or \"512KiB\"), not {}", show(v));
    match v {
        T::Integer(i) if *i > 0 => Ok(*i as usize),
        T::String(s) => {
            let s = s.trim();
            let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
            let (num, unit) = s.split_at(split);
            let num: f64 = num.parse().map_err(|_| err())?;
            let mul: f64 = match unit.trim().to_ascii_lowercase().as_str() {
                "" | "b" => 1.0,
                "k" | "kb" => 1e3,
                "kib" => 1024.0,
                "m" | "mb" => 1e6,
                "mib" => 1048576.0,
                "g" | "gb" => 1e9,
                "gib" => 1073741824.0,
                _ => return Err(err()),
            };
            let n = num * mul;
            if n >= 1.0 && n < 1e13 { Ok(n as usize) } else { Err(err()) }
        }
        _ => Err(err()),
    }
}

fn boolean(key: &str, v: &T) -> Result<bool, String> {
    match v {
        T::Boolean(b) => Ok(*b),
        _ => Err(format!("{key} must be true or false, not {}", show(v))),
    }
}

fn string(key: &str, v: &T) -> Result<String, String> {
    match v {
        T::String(s) => Ok(s.clone()),
        _ => Err(format!("{key} must be a string, not {}", show(v))),
    }
}

/// A string or a list of strings (`origins = "https://a"` or `["https://a", "https://b"]`).
/// 1.5.0 needed `"'https://a'"` (Python source in a string): those quotes are removed.
fn strings(key: &str, v: &T) -> Result<Vec<String>, String> {
    let clean = |s: &str| s.trim().trim_matches(|c| c == '\'' || c == '"').to_string();
    match v {
        T::String(s) => Ok(s.split(',').map(clean).filter(|s| !s.is_empty()).collect()),
        T::Array(items) => items
            .iter()
            .map(|i| match i {
                T::String(s) => Ok(clean(s)),
                other => Err(format!("{key} must be a string or a list of strings, not a list containing {}", show(other))),
            })
            .collect(),
        _ => Err(format!("{key} must be a string or a list of strings, not {}", show(v))),
    }
}

fn table<'a>(name: &str, v: &'a T) -> Result<&'a Table, String> {
    match v {
        T::Table(t) => Ok(t),
        _ => Err(format!("[{name}] must be a table")),
    }
}

/// Interpret a parsed Askfile.
pub fn from_table(root: &Table) -> Result<Config, String> {
    let mut c = Config::default();
    for (section, value) in root {
        match section.as_str() {
            "server" => {
                for (k, v) in table("server", value)? {
                    let key = format!("[server] {k}");
                    match k.as_str() {
                        "host" => c.host = string(&key, v)?,
                        "port" => c.port = int(&key, v, 1, 65535)? as u16,
                        "body_limit" => c.body_limit = bytes(&key, v)?,
                        "header_timeout" => c.header_timeout = seconds(&key, v)?,
                        "idle_timeout" => c.idle_timeout = seconds(&key, v)?,
                        "max_concurrency" => c.max_concurrency = int(&key, v, 1, 1_000_000)? as usize,
                        "instruction_budget" => c.instruction_budget = int(&key, v, 1000, i64::MAX)? as u64,
                        "startup_budget" => c.startup_budget = Some(int(&key, v, 1000, i64::MAX)? as u64),
                        "trusted_proxies" => c.trusted_proxies = strings(&key, v)?,
                        "access_log" => c.access_log = boolean(&key, v)?,
                        "production" => c.notices.push(format!("{key} is an Ask 1.5.0 setting: `ask start` is production and `ask dev` development; ignored")),
                        _ => c.notices.push(format!("unknown setting {key}; ignored")),
                    }
                }
            }
            "cors" => {
                for (k, v) in table("cors", value)? {
                    let key = format!("[cors] {k}");
                    match k.as_str() {
                        "origins" | "origin" => {
                            let list = strings(&key, v)?;
                            c.cors.origins = if list.iter().any(|o| o == "*") { None } else { Some(list) };
                        }
                        "methods" => c.cors.methods = Some(strings(&key, v)?.into_iter().map(|m| m.to_ascii_uppercase()).collect()),
                        "headers" | "allow_headers" => {
                            let list = strings(&key, v)?;
                            c.cors.headers = if list.iter().any(|h| h == "*") { None } else { Some(list) };
                        }
                        "expose_headers" => c.cors.expose_headers = strings(&key, v)?,
                        "supports_credentials" => c.cors.supports_credentials = boolean(&key, v)?,
                        "max_age" => c.cors.max_age = Some(int(&key, v, 0, i64::MAX)? as u64),
                        _ => c.notices.push(format!("unknown setting {key}; ignored")),
                    }
                }
                if c.cors.supports_credentials && c.cors.origins.is_none() {
                    return Err("[cors] supports_credentials = true needs an explicit list of origins: browsers refuse credentials with `*`, and echoing every origin with credentials would let any site act as the user. Set [cors] origins = [\"https://your.app\"]".into());
                }
            }
            "rules" => {
                for (k, v) in table("rules", value)? {
                    match k.as_str() {
                        "underscores" => c.underscores = boolean("[rules] underscores", v)?,
                        _ => c.notices.push(format!("unknown setting [rules] {k}; ignored")),
                    }
                }
            }
            "auth" => c.auth = table("auth", value)?.clone(),
            "db" => c.db = table("db", value)?.clone(),
            "mail" => c.mail = table("mail", value)?.clone(),
            "system" => c.notices.push("[system] is an Ask 1.5.0 table (transpiler output settings); Ask now compiles to bytecode, so it is ignored".into()),
            other => c.notices.push(format!("unknown table [{other}]; ignored")),
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Config, String> {
        from_table(&s.parse::<Table>().unwrap())
    }

    #[test]
    fn defaults_and_values() {
        let c = parse("").unwrap();
        assert_eq!((c.host.as_str(), c.port, c.body_limit), ("127.0.0.1", 5000, 1 << 20));
        let c = parse("[server]\nhost = \"0.0.0.0\"\nport = \"8080\"\nbody_limit = \"2MiB\"\nheader_timeout = 2.5\nproduction = true\n[system]\noutput_path = 'app.py'\n").unwrap();
        assert_eq!((c.host.as_str(), c.port, c.body_limit), ("0.0.0.0", 8080, 2 << 20));
        assert_eq!(c.header_timeout, Duration::from_millis(2500));
        assert_eq!(c.notices.len(), 2);
    }

    #[test]
    fn startup_budget_defaults_by_mode() {
        let mut c = parse("").unwrap();
        assert_eq!(c.startup_budget(), u64::MAX);
        c.dev = true;
        assert_eq!(c.startup_budget(), DEV_STARTUP_BUDGET);
        let mut c = parse("[server]\nstartup_budget = 5000").unwrap();
        assert_eq!(c.startup_budget(), 5000);
        c.dev = true;
        assert_eq!(c.startup_budget(), 5000);
        assert!(parse("[server]\nstartup_budget = 'x'").unwrap_err().contains("[server] startup_budget"));
    }

    #[test]
    fn errors_name_the_key() {
        let e = parse("[server]\nport = \"x\"").unwrap_err();
        assert!(e.contains("[server] port"), "{e}");
        let e = parse("[rules]\nunderscores = 1").unwrap_err();
        assert!(e.contains("[rules] underscores"), "{e}");
        let e = parse("[cors]\nsupports_credentials = true").unwrap_err();
        assert!(e.contains("origins"), "{e}");
        let e = parse("[cors]\norigins = \"*\"\nsupports_credentials = true").unwrap_err();
        assert!(e.contains("credentials"), "{e}");
    }

    #[test]
    fn cors_values() {
        let c = parse("[cors]\norigins = [\"https://a\", \"https://b\"]\nsupports_credentials = true\nexpose_headers = [\"X-Total-Count\"]\nmax_age = 600").unwrap();
        assert_eq!(c.cors.origins, Some(vec!["https://a".to_string(), "https://b".to_string()]));
        assert_eq!(c.cors.max_age, Some(600));
        let c = parse("[cors]\norigins = \"'https://a'\"").unwrap();
        assert_eq!(c.cors.origins, Some(vec!["https://a".to_string()]));
    }
}
