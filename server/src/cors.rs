//! CORS (ASK.md §2.4): the headers added to every response and the answer to preflights.
//!
//! Default (no `[cors]`): every origin, like 1.5.0's flask-cors: the request's `Origin` is echoed
//! with `Vary: Origin`, `*` when there is no `Origin`, no credentials. A configured origin list is
//! matched exactly (a look-alike such as `https://good.example.evil.example` is refused); a
//! refused origin gets no CORS headers at all (the response itself is still served: the browser
//! enforces CORS). Preflights allow the methods the path really has.

use crate::config::CorsConfig;

pub struct Cors {
    cfg: CorsConfig,
    expose: Option<String>,
    max_age: Option<String>,
}

/// Headers to add: `(name, value)` pairs.
pub type HeaderList = Vec<(&'static str, String)>;

impl Cors {
    pub fn new(cfg: CorsConfig) -> Cors {
        let expose = if cfg.expose_headers.is_empty() { None } else { Some(cfg.expose_headers.join(", ")) };
        let max_age = cfg.max_age.map(|m| m.to_string());
        Cors { cfg, expose, max_age }
    }

    fn allowed(&self, origin: &str) -> bool {
        match &self.cfg.origins {
            None => true,
            Some(list) => list.iter().any(|o| o == origin),
        }
    }

    /// Headers for an ordinary (non-preflight) response.
    pub fn simple(&self, origin: Option<&str>, out: &mut HeaderList) {
        match origin {
            None => {
                if self.cfg.origins.is_none() {
                    out.push(("access-control-allow-origin", "*".into()));
                }
            }
            Some(o) => {
                out.push(("vary", "Origin".into()));
                if !self.allowed(o) {
                    return;
                }
                out.push(("access-control-allow-origin", o.to_string()));
                if self.cfg.supports_credentials {
                    out.push(("access-control-allow-credentials", "true".into()));
                }
                if let Some(e) = &self.expose {
                    out.push(("access-control-expose-headers", e.clone()));
                }
            }
        }
    }

    /// Headers for a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`);
    /// `methods` are the path's methods. Returns false when the origin is refused.
    pub fn preflight(&self, origin: &str, requested_headers: Option<&str>, methods: &[String], out: &mut HeaderList) -> bool {
        out.push(("vary", "Origin".into()));
        if !self.allowed(origin) {
            return false;
        }
        out.push(("access-control-allow-origin", origin.to_string()));
        let allowed: Vec<&str> = match &self.cfg.methods {
            None => methods.iter().map(String::as_str).collect(),
            Some(cfg) => methods.iter().map(String::as_str).filter(|m| cfg.iter().any(|c| c == m) || *m == "OPTIONS").collect(),
        };
        out.push(("access-control-allow-methods", allowed.join(", ")));
        match (&self.cfg.headers, requested_headers) {
            (None, Some(h)) if !h.trim().is_empty() => out.push(("access-control-allow-headers", h.to_string())),
            (Some(list), _) if !list.is_empty() => out.push(("access-control-allow-headers", list.join(", "))),
            _ => {}
        }
        if self.cfg.supports_credentials {
            out.push(("access-control-allow-credentials", "true".into()));
        }
        if let Some(m) = &self.max_age {
            out.push(("access-control-max-age", m.clone()));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(h: &'a HeaderList, n: &str) -> Option<&'a str> {
        h.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str())
    }

    #[test]
    fn default_echoes() {
        let c = Cors::new(CorsConfig::default());
        let mut h = Vec::new();
        c.simple(Some("http://localhost:3000"), &mut h);
        assert_eq!(get(&h, "access-control-allow-origin"), Some("http://localhost:3000"));
        assert_eq!(get(&h, "vary"), Some("Origin"));
        assert_eq!(get(&h, "access-control-allow-credentials"), None);
        let mut h = Vec::new();
        c.simple(None, &mut h);
        assert_eq!(get(&h, "access-control-allow-origin"), Some("*"));
        let mut h = Vec::new();
        assert!(c.preflight("https://a", Some("Content-Type"), &["GET".into(), "POST".into()], &mut h));
        assert_eq!(get(&h, "access-control-allow-methods"), Some("GET, POST"));
        assert_eq!(get(&h, "access-control-allow-headers"), Some("Content-Type"));
    }

    #[test]
    fn list_is_exact() {
        let c = Cors::new(CorsConfig { origins: Some(vec!["https://good.example".into()]), supports_credentials: true, max_age: Some(600), expose_headers: vec!["X-Total-Count".into()], ..Default::default() });
        let mut h = Vec::new();
        c.simple(Some("https://good.example.evil.example"), &mut h);
        assert_eq!(get(&h, "access-control-allow-origin"), None);
        let mut h = Vec::new();
        c.simple(Some("https://good.example"), &mut h);
        assert_eq!(get(&h, "access-control-allow-credentials"), Some("true"));
        assert_eq!(get(&h, "access-control-expose-headers"), Some("X-Total-Count"));
        let mut h = Vec::new();
        assert!(!c.preflight("https://evil.example", None, &["POST".into()], &mut h));
        assert_eq!(get(&h, "access-control-allow-origin"), None);
    }
}
