//! API documentation generated from the route table (ASK.md §2.5): a self-contained HTML page
//! (`/docs`, `/docs/`, and the 1.5.0 groups `/docs/public`, `/docs/private`) and an OpenAPI 3.1
//! document (`/openapi.json`). Both are rendered once per program, at load.

use ask_vm::route::{ParamKind, RouteInfo};

use crate::json::{self, Json};

/// Which routes a docs page lists.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Group {
    All,
    Public,
    Private,
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn kind_name(k: ParamKind) -> &'static str {
    match k {
        ParamKind::Str => "string",
        ParamKind::Int => "int",
        ParamKind::Float => "float",
        ParamKind::Path => "path",
    }
}

fn decorator_text(d: &ask_vm::route::DecoratorInfo) -> String {
    match &d.args {
        Some(a) => format!("&{}({})", d.name, a),
        None => format!("&{}", d.name),
    }
}

/// The HTML page for one group.
pub fn html(title: &str, routes: &[RouteInfo], group: Group) -> String {
    let mut o = String::new();
    let heading = match group {
        Group::All => "All routes",
        Group::Public => "Public routes",
        Group::Private => "Private routes (&protected)",
    };
    o.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
    o.push_str(&esc(title));
    o.push_str(" — API docs</title><style>body{font:15px/1.45 system-ui,sans-serif;max-width:920px;margin:2em auto;padding:0 1em;color:#222}h1{font-size:1.5em}nav a{margin-right:1em}.r{border:1px solid #ddd;border-radius:6px;padding:.6em .9em;margin:.8em 0}.m{display:inline-block;min-width:4.5em;font-weight:700;font-family:monospace}.p{font-family:monospace;font-size:1.05em}.GET{color:#0a7}.POST{color:#06c}.PUT,.PATCH{color:#a60}.DELETE{color:#c22}.tag{font-size:.8em;background:#eee;border-radius:4px;padding:1px 6px;margin-left:.5em}.lock{background:#fde2c0}.doc{white-space:pre-wrap;margin:.4em 0 0}table{border-collapse:collapse;margin-top:.4em}td,th{border:1px solid #eee;padding:2px 8px;text-align:left;font-size:.9em}</style></head><body>\n<h1>");
    o.push_str(&esc(title));
    o.push_str("</h1>\n<nav><a href=\"/docs\">all</a><a href=\"/docs/public\">public</a><a href=\"/docs/private\">private</a><a href=\"/openapi.json\">openapi.json</a></nav>\n<h2>");
    o.push_str(&esc(heading));
    o.push_str("</h2>\n");
    let mut n = 0;
    for r in routes {
        let protected = r.is_protected();
        let show = match group {
            Group::All => true,
            Group::Public => !protected,
            Group::Private => protected,
        };
        if !show {
            continue;
        }
        n += 1;
        o.push_str("<div class=\"r\"><span class=\"m ");
        o.push_str(&esc(&r.method));
        o.push_str("\">");
        o.push_str(&esc(&r.method));
        o.push_str("</span> <span class=\"p\">");
        o.push_str(&esc(&r.path));
        o.push_str("</span>");
        if protected {
            o.push_str("<span class=\"tag lock\">protected</span>");
        }
        for d in &r.decorators {
            o.push_str("<span class=\"tag\">");
            o.push_str(&esc(&decorator_text(d)));
            o.push_str("</span>");
        }
        if !r.doc.is_empty() {
            o.push_str("<p class=\"doc\">");
            o.push_str(&esc(&r.doc.join("\n")));
            o.push_str("</p>");
        }
        if !r.params.is_empty() {
            o.push_str("<table><tr><th>parameter</th><th>type</th></tr>");
            for p in &r.params {
                o.push_str("<tr><td>");
                o.push_str(&esc(&p.name));
                o.push_str("</td><td>");
                o.push_str(kind_name(p.kind));
                o.push_str("</td></tr>");
            }
            o.push_str("</table>");
        }
        o.push_str("</div>\n");
    }
    if n == 0 {
        o.push_str("<p>No routes in this group.</p>\n");
    }
    o.push_str("</body></html>\n");
    o
}

/// `/items/<int:id>` → `/items/{id}`.
pub fn openapi_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(o) = rest.find('<') {
        let Some(c) = rest[o..].find('>') else { break };
        out.push_str(&rest[..o]);
        let inner = &rest[o + 1..o + c];
        let name = inner.rsplit(':').next().unwrap_or(inner);
        out.push('{');
        out.push_str(name);
        out.push('}');
        rest = &rest[o + c + 1..];
    }
    out.push_str(rest);
    out
}

fn s(x: &str) -> Json {
    Json::Str(x.to_string())
}

/// The OpenAPI 3.1 document.
pub fn openapi(title: &str, routes: &[RouteInfo]) -> String {
    let mut paths: Vec<(String, Json)> = Vec::new();
    let mut any_protected = false;
    for r in routes {
        let p = openapi_path(&r.path);
        let mut op: Vec<(String, Json)> = Vec::new();
        let summary = r.doc.first().cloned().unwrap_or_else(|| format!("{} {}", r.method, r.path));
        op.push(("summary".into(), s(&summary)));
        if !r.doc.is_empty() {
            op.push(("description".into(), s(&r.doc.join("\n"))));
        }
        op.push(("operationId".into(), s(&format!("{}_{}", r.method.to_ascii_lowercase(), r.path.trim_matches('/').replace(|c: char| !c.is_ascii_alphanumeric(), "_")))));
        if !r.params.is_empty() {
            let params = r.params.iter().map(|pp| {
                let schema = match pp.kind {
                    ParamKind::Int => vec![("type".to_string(), s("integer"))],
                    ParamKind::Float => vec![("type".to_string(), s("number"))],
                    ParamKind::Str => vec![("type".to_string(), s("string"))],
                    ParamKind::Path => vec![("type".to_string(), s("string")), ("description".to_string(), s("the rest of the path, slashes included"))],
                };
                Json::Object(vec![
                    ("name".into(), s(&pp.name)),
                    ("in".into(), s("path")),
                    ("required".into(), Json::Bool(true)),
                    ("schema".into(), Json::Object(schema)),
                ])
            }).collect();
            op.push(("parameters".into(), Json::Array(params)));
        }
        if matches!(r.method.as_str(), "POST" | "PUT" | "PATCH") {
            op.push(("requestBody".into(), Json::Object(vec![
                ("required".into(), Json::Bool(false)),
                ("content".into(), Json::Object(vec![("application/json".into(), Json::Object(vec![("schema".into(), Json::Object(vec![]))]))])),
            ])));
        }
        let decorators: Vec<Json> = r.decorators.iter().map(|d| s(&decorator_text(d))).collect();
        if !decorators.is_empty() {
            op.push(("x-ask-decorators".into(), Json::Array(decorators)));
        }
        let mut responses = vec![("200".to_string(), Json::Object(vec![("description".into(), s("Success"))]))];
        if r.is_protected() {
            any_protected = true;
            op.push(("security".into(), Json::Array(vec![Json::Object(vec![("bearerAuth".into(), Json::Array(vec![]))])])));
            responses.push(("400".into(), Json::Object(vec![("description".into(), s("Missing token"))])));
            responses.push(("401".into(), Json::Object(vec![("description".into(), s("Invalid token"))])));
        }
        op.push(("responses".into(), Json::Object(responses)));
        let method = r.method.to_ascii_lowercase();
        match paths.iter_mut().find(|(k, _)| *k == p) {
            Some((_, Json::Object(ops))) => ops.push((method, Json::Object(op))),
            _ => paths.push((p, Json::Object(vec![(method, Json::Object(op))]))),
        }
    }
    let mut doc = vec![
        ("openapi".to_string(), s("3.1.0")),
        ("info".into(), Json::Object(vec![("title".into(), s(title)), ("version".into(), s("1.0.0"))])),
        ("paths".into(), Json::Object(paths)),
    ];
    let _ = any_protected;
    doc.push(("components".into(), Json::Object(vec![("securitySchemes".into(), Json::Object(vec![(
        "bearerAuth".into(),
        Json::Object(vec![("type".into(), s("http")), ("scheme".into(), s("bearer")), ("bearerFormat".into(), s("JWT"))]),
    )]))])));
    let mut out = String::new();
    json::write(&mut out, &Json::Object(doc));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ask_vm::route::{parse_path_params, DecoratorInfo};

    fn route(m: &str, p: &str, doc: &[&str], decos: &[&str]) -> RouteInfo {
        RouteInfo {
            method: m.into(),
            path: p.into(),
            params: parse_path_params(p).unwrap(),
            decorators: decos.iter().map(|d| DecoratorInfo { name: d.to_string(), args: None, literal_args: vec![] }).collect(),
            doc: doc.iter().map(|d| d.to_string()).collect(),
            file: "main.ask".into(),
            line: 1,
        }
    }

    #[test]
    fn renders() {
        let routes = vec![route("GET", "/items", &["Lists every <item>."], &[]), route("GET", "/items/<int:item_id>", &[], &["protected"])];
        let h = html("main.ask", &routes, Group::All);
        assert!(h.contains("Lists every &lt;item&gt;.") && h.contains("item_id"));
        assert!(!html("main.ask", &routes, Group::Public).contains("item_id"));
        let o = openapi("main.ask", &routes);
        let v = crate::json::parse(o.as_bytes()).unwrap();
        let text = format!("{v:?}");
        assert!(text.contains("/items/{item_id}") && text.contains("integer") && text.contains("bearerAuth"));
        assert_eq!(openapi_path("/a/<x>/b/<path:rest>"), "/a/{x}/b/{rest}");
    }
}
