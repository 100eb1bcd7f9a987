//! The route table: compiled once per program into a segment trie, matched per request.
//!
//! A path is split at `/` (after the leading one) into segments, each percent-decoded on its own
//! (so `%2F` inside a segment never splits it). Trie edges are, in matching priority order:
//! literal segments (hash lookup), `<int:x>`, `<float:x>`, `<x>` (any non-empty segment), and
//! `<path:x>` (the rest of the path, slashes included). Matching is a depth-first search that
//! backtracks, so `/users/<id>` and `/users/<user_id>/posts/<int:post_id>` coexist. The first
//! match that has the request's method wins; if none has it but some path matched, the answer is
//! 405 with the union of the matched routes' methods in `Allow`.
//!
//! Flask conventions: a segment may also mix text and one parameter (`/f/<name>.json`);
//! `<int:x>` takes digits with an optional leading `-`; `<float:x>` needs a dot (`2.5`, like
//! Werkzeug), and a trailing-slash route `/x/` answers a request for `/x` with a 308 redirect
//! (strict otherwise: a route `/x` does not match `/x/`).

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use ask_vm::route::ParamKind;

/// A converted path parameter value.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    Str(String),
    Int(i64),
    /// An `<int:>` segment beyond i64, as decimal text.
    BigInt(String),
    Float(f64),
}

/// One route as the router sees it.
#[derive(Clone, Debug)]
pub struct RouteSpec {
    /// Upper-case method.
    pub method: String,
    /// The path as written (`/items/<int:id>`).
    pub path: String,
}

#[derive(Default, Debug)]
struct Node {
    literal: FxHashMap<String, Node>,
    /// (kind, prefix, suffix, child): whole-segment parameters have empty prefix/suffix.
    params: Vec<(ParamKind, String, String, Node)>,
    /// `<path:x>` edges: the route ends there (stored by method).
    rest: Option<Box<Endpoints>>,
    here: Option<Box<Endpoints>>,
}

#[derive(Default, Debug)]
struct Endpoints {
    /// (method, route index), in declaration order.
    methods: Vec<(String, usize)>,
}

/// The result of matching a request path.
#[derive(Debug, PartialEq)]
pub enum Match {
    /// A route for this method: its index and the converted parameters in path order.
    Found { route: usize, params: Vec<ParamValue> },
    /// The path exists, the method does not: the allowed methods (sorted, with HEAD for GET).
    MethodNotAllowed { allow: Vec<String> },
    /// Not found as is, but found with a trailing slash: redirect there (308).
    Redirect { location: String },
    NotFound,
}

/// A compiled route table.
#[derive(Debug, Default)]
pub struct Router {
    root: Node,
    len: usize,
}

fn kind_rank(k: ParamKind) -> u8 {
    match k {
        ParamKind::Int => 0,
        ParamKind::Float => 1,
        ParamKind::Str => 2,
        ParamKind::Path => 3,
    }
}

/// One segment of a route pattern.
enum PatSeg {
    Lit(String),
    Param { kind: ParamKind, prefix: String, suffix: String },
    Rest,
}

fn parse_kind(inner: &str) -> ParamKind {
    match inner.split_once(':') {
        Some(("int", _)) => ParamKind::Int,
        Some(("float", _)) => ParamKind::Float,
        Some(("path", _)) => ParamKind::Path,
        _ => ParamKind::Str,
    }
}

fn pattern(path: &str) -> Vec<PatSeg> {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let mut segs = Vec::new();
    for seg in trimmed.split('/') {
        match (seg.find('<'), seg.find('>')) {
            (Some(o), Some(c)) if o < c => {
                let kind = parse_kind(&seg[o + 1..c]);
                if kind == ParamKind::Path {
                    segs.push(PatSeg::Rest);
                    break;
                }
                segs.push(PatSeg::Param { kind, prefix: seg[..o].to_string(), suffix: seg[c + 1..].to_string() });
            }
            _ => segs.push(PatSeg::Lit(seg.to_string())),
        }
    }
    segs
}

impl Router {
    /// Build the table. Routes keep their index in `routes` (the VM's handler index).
    pub fn new(routes: &[RouteSpec]) -> Router {
        let mut r = Router { root: Node::default(), len: routes.len() };
        for (i, route) in routes.iter().enumerate() {
            let mut node = &mut r.root;
            let mut rest = false;
            for seg in pattern(&route.path) {
                match seg {
                    PatSeg::Lit(s) => node = node.literal.entry(s).or_default(),
                    PatSeg::Param { kind, prefix, suffix } => {
                        let pos = node.params.iter().position(|(k, p, s, _)| *k == kind && *p == prefix && *s == suffix);
                        let pos = match pos {
                            Some(p) => p,
                            None => {
                                // Keep edges sorted by converter priority; mixed segments
                                // (with a prefix or suffix) before plain ones of the same kind.
                                let rank = (kind_rank(kind), prefix.is_empty() && suffix.is_empty());
                                let at = node.params.iter()
                                    .position(|(k, p, s, _)| (kind_rank(*k), p.is_empty() && s.is_empty()) > rank)
                                    .unwrap_or(node.params.len());
                                node.params.insert(at, (kind, prefix, suffix, Node::default()));
                                at
                            }
                        };
                        node = &mut node.params[pos].3;
                    }
                    PatSeg::Rest => {
                        rest = true;
                        break;
                    }
                }
            }
            let slot = if rest { &mut node.rest } else { &mut node.here };
            slot.get_or_insert_with(Default::default).methods.push((route.method.clone(), i));
        }
        r
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Match a raw (still percent-encoded) request path for `method`.
    pub fn lookup(&self, method: &str, raw_path: &str) -> Match {
        let m = self.lookup_exact(method, raw_path);
        if m == Match::NotFound && !raw_path.ends_with('/') {
            let with_slash = format!("{raw_path}/");
            if !matches!(self.lookup_exact(method, &with_slash), Match::NotFound) {
                return Match::Redirect { location: with_slash };
            }
        }
        m
    }

    fn lookup_exact(&self, method: &str, raw_path: &str) -> Match {
        let Some(trimmed) = raw_path.strip_prefix('/') else { return Match::NotFound };
        // Segment lists live on the stack for the usual short paths (this runs per request).
        // A byte loop rather than `str::split`'s generic searcher (both were visible per request).
        let mut raw: SmallVec<[&str; 8]> = SmallVec::new();
        let bytes = trimmed.as_bytes();
        let mut start = 0;
        for i in 0..=bytes.len() {
            if i == bytes.len() || bytes[i] == b'/' {
                raw.push(&trimmed[start..i]);
                start = i + 1;
            }
        }
        let escaped = bytes.contains(&b'%');
        let decoded: SmallVec<[std::borrow::Cow<'_, str>; 8]> = raw
            .iter()
            .map(|s| if escaped && s.contains('%') { std::borrow::Cow::Owned(percent_decode(s, false)) } else { std::borrow::Cow::Borrowed(*s) })
            .collect();
        let mut search = Search { method, raw: &raw, segs: &decoded, params: Vec::new(), allow: Vec::new() };
        if let Some(found) = search.walk(&self.root, 0) {
            return found;
        }
        if search.allow.is_empty() {
            return Match::NotFound;
        }
        let mut allow = search.allow;
        if allow.iter().any(|m| m == "GET") && !allow.iter().any(|m| m == "HEAD") {
            allow.push("HEAD".into());
        }
        if !allow.iter().any(|m| m == "OPTIONS") {
            allow.push("OPTIONS".into());
        }
        allow.sort();
        allow.dedup();
        Match::MethodNotAllowed { allow }
    }

    /// Every method served at a path (for `Allow` and CORS preflights), sorted, with HEAD for
    /// GET and OPTIONS; empty when the path matches no route.
    pub fn methods_at(&self, raw_path: &str) -> Vec<String> {
        match self.lookup_exact("\u{0}", raw_path) {
            Match::MethodNotAllowed { allow } => allow,
            _ => Vec::new(),
        }
    }
}

struct Search<'a> {
    method: &'a str,
    raw: &'a [&'a str],
    segs: &'a [std::borrow::Cow<'a, str>],
    params: Vec<ParamValue>,
    allow: Vec<String>,
}

impl Search<'_> {
    fn endpoint(&mut self, eps: &Endpoints) -> Option<Match> {
        // HEAD falls back to GET when the route has no explicit HEAD handler.
        let exact = eps.methods.iter().find(|(m, _)| m == self.method);
        let chosen = exact.or_else(|| {
            if self.method == "HEAD" {
                eps.methods.iter().find(|(m, _)| m == "GET")
            } else {
                None
            }
        });
        if let Some((_, idx)) = chosen {
            return Some(Match::Found { route: *idx, params: std::mem::take(&mut self.params) });
        }
        for (m, _) in &eps.methods {
            self.allow.push(m.clone());
        }
        None
    }

    fn walk(&mut self, node: &Node, i: usize) -> Option<Match> {
        if i == self.segs.len() {
            if let Some(eps) = &node.here {
                if let Some(m) = self.endpoint(eps) {
                    return Some(m);
                }
            }
            return None;
        }
        let seg = &self.segs[i];
        if let Some(child) = node.literal.get(seg.as_ref()) {
            if let Some(m) = self.walk(child, i + 1) {
                return Some(m);
            }
        }
        for (kind, prefix, suffix, child) in &node.params {
            let Some(text) = seg.strip_prefix(prefix.as_str()).and_then(|s| s.strip_suffix(suffix.as_str())) else { continue };
            let Some(v) = convert(*kind, text) else { continue };
            self.params.push(v);
            if let Some(m) = self.walk(child, i + 1) {
                return Some(m);
            }
            self.params.pop();
        }
        if let Some(eps) = &node.rest {
            // The rest of the path, decoded as a whole (an encoded slash stays a slash).
            let rest = percent_decode(&self.raw[i..].join("/"), false);
            if !rest.is_empty() {
                self.params.push(ParamValue::Str(rest));
                if let Some(m) = self.endpoint(eps) {
                    return Some(m);
                }
                self.params.pop();
            }
        }
        None
    }
}

fn convert(kind: ParamKind, s: &str) -> Option<ParamValue> {
    if s.is_empty() {
        return None;
    }
    match kind {
        ParamKind::Str | ParamKind::Path => Some(ParamValue::Str(s.to_string())),
        ParamKind::Int => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            match s.parse::<i64>() {
                Ok(i) => Some(ParamValue::Int(i)),
                Err(_) => Some(ParamValue::BigInt(s.to_string())),
            }
        }
        ParamKind::Float => {
            let body = s.strip_prefix('-').unwrap_or(s);
            let (a, b) = body.split_once('.')?;
            if a.is_empty() || b.is_empty() || !a.bytes().all(|c| c.is_ascii_digit()) || !b.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            s.parse::<f64>().ok().map(ParamValue::Float)
        }
    }
}

/// Percent-decode (and with `plus`, turn `+` into a space, for query strings and forms).
/// Invalid escapes are kept literally; invalid UTF-8 is replaced (U+FFFD).
pub fn percent_decode(s: &str, plus: bool) -> String {
    let b = s.as_bytes();
    if !b.iter().any(|&c| c == b'%' || (plus && c == b'+')) {
        return s.to_string();
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Split a query string or urlencoded body into decoded (name, value) pairs, in order.
/// A name without `=` has an empty value (Werkzeug); empty pieces are skipped.
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k, true), percent_decode(v, true)),
            None => (percent_decode(p, true), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        Router::new(&routes.iter().map(|(m, p)| RouteSpec { method: m.to_string(), path: p.to_string() }).collect::<Vec<_>>())
    }

    fn found(m: Match) -> (usize, Vec<ParamValue>) {
        match m {
            Match::Found { route, params } => (route, params),
            other => panic!("expected a match, got {other:?}"),
        }
    }

    #[test]
    fn converters_and_backtracking() {
        let r = router(&[
            ("GET", "/users/<id>"),
            ("GET", "/items/<int:item_id>"),
            ("GET", "/scale/<float:x>"),
            ("GET", "/files/<path:rest>"),
            ("GET", "/users/<user_id>/posts/<int:post_id>"),
            ("GET", "/"),
        ]);
        assert_eq!(found(r.lookup("GET", "/users/42")), (0, vec![ParamValue::Str("42".into())]));
        assert_eq!(found(r.lookup("GET", "/items/41")), (1, vec![ParamValue::Int(41)]));
        assert_eq!(found(r.lookup("GET", "/items/-3")), (1, vec![ParamValue::Int(-3)]));
        assert_eq!(r.lookup("GET", "/items/abc"), Match::NotFound);
        assert_eq!(r.lookup("GET", "/items/4.5"), Match::NotFound);
        assert_eq!(found(r.lookup("GET", "/scale/2.5")), (2, vec![ParamValue::Float(2.5)]));
        assert_eq!(r.lookup("GET", "/scale/abc"), Match::NotFound);
        assert_eq!(found(r.lookup("GET", "/files/docs/2024/report.txt")), (3, vec![ParamValue::Str("docs/2024/report.txt".into())]));
        assert_eq!(found(r.lookup("GET", "/users/ada/posts/7")), (4, vec![ParamValue::Str("ada".into()), ParamValue::Int(7)]));
        assert_eq!(r.lookup("GET", "/users/ada/posts/seven"), Match::NotFound);
        assert_eq!(found(r.lookup("GET", "/")), (5, vec![]));
        assert_eq!(found(r.lookup("GET", "/users/a%20b")), (0, vec![ParamValue::Str("a b".into())]));
        assert_eq!(found(r.lookup("GET", "/users/a%2Fb")), (0, vec![ParamValue::Str("a/b".into())]));
        assert_eq!(found(r.lookup("GET", "/items/99999999999999999999")), (1, vec![ParamValue::BigInt("99999999999999999999".into())]));
    }

    #[test]
    fn methods_head_and_405() {
        let r = router(&[("GET", "/items"), ("POST", "/items"), ("POST", "/submit"), ("HEAD", "/probe")]);
        assert_eq!(found(r.lookup("POST", "/items")).0, 1);
        assert_eq!(found(r.lookup("HEAD", "/items")).0, 0);
        assert_eq!(r.lookup("HEAD", "/submit"), Match::MethodNotAllowed { allow: vec!["OPTIONS".into(), "POST".into()] });
        assert_eq!(r.lookup("DELETE", "/items"), Match::MethodNotAllowed { allow: vec!["GET".into(), "HEAD".into(), "OPTIONS".into(), "POST".into()] });
        assert_eq!(found(r.lookup("HEAD", "/probe")).0, 3);
        assert_eq!(r.methods_at("/items"), vec!["GET", "HEAD", "OPTIONS", "POST"]);
        assert!(r.methods_at("/nowhere").is_empty());
    }

    #[test]
    fn static_beats_parameter_and_trailing_slash() {
        let r = router(&[("GET", "/u/<name>"), ("GET", "/u/me"), ("GET", "/dir/"), ("GET", "/f/<name>.json")]);
        assert_eq!(found(r.lookup("GET", "/u/me")).0, 1);
        assert_eq!(found(r.lookup("GET", "/u/you")).0, 0);
        assert_eq!(r.lookup("GET", "/dir"), Match::Redirect { location: "/dir/".into() });
        assert_eq!(found(r.lookup("GET", "/dir/")).0, 2);
        assert_eq!(r.lookup("GET", "/u/me/"), Match::NotFound);
        assert_eq!(found(r.lookup("GET", "/f/data.json")), (3, vec![ParamValue::Str("data".into())]));
    }

    #[test]
    fn query_strings() {
        assert_eq!(parse_query("q=hello%20world%21&page=a+b&sort="), vec![
            ("q".into(), "hello world!".into()), ("page".into(), "a b".into()), ("sort".into(), "".into())]);
        assert_eq!(parse_query("a&&b=%zz"), vec![("a".into(), "".into()), ("b".into(), "%zz".into())]);
        assert_eq!(percent_decode("caf%C3%A9", false), "café");
    }
}
