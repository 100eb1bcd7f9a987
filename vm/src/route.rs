//! Route metadata of a compiled program: what the server needs to build its route table, API
//! docs and decorator chain, independent of the bytecode.
//!
//! A route's handler is an ordinary compiled function whose parameters are the path parameters.
//! Running the program's top-level code registers each route's (decorated) handler closure in the
//! VM (`Vm::route_handler(index)`), in the order of `Program::routes`.

/// How a path parameter is converted (`<name>`, `<int:name>`, `<float:name>`, `<path:name>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamKind {
    Str,
    Int,
    Float,
    Path,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathParam {
    pub name: String,
    pub kind: ParamKind,
}

/// One `&name(args)` line above a route, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecoratorInfo {
    /// `protected`, `limit`, or a user decorator's name (dotted for `&mod.name`).
    pub name: String,
    /// The argument source text without parentheses (`'5 per minute'`), if any.
    pub args: Option<String>,
    /// String literal arguments, evaluated at compile time (`&limit('5/minute')` → `["5/minute"]`).
    pub literal_args: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    /// Upper-case HTTP method (`GET`).
    pub method: String,
    /// The path as written (`/notes/<int:id>`).
    pub path: String,
    pub params: Vec<PathParam>,
    /// Outermost (top line) first.
    pub decorators: Vec<DecoratorInfo>,
    /// The comment block directly above the route, one entry per line.
    pub doc: Vec<String>,
    /// Source file of the route and its 1-based line.
    pub file: String,
    pub line: u32,
}

impl RouteInfo {
    pub fn is_protected(&self) -> bool {
        self.decorators.iter().any(|d| d.name == "protected")
    }
}

/// Parse a route path into its parameters; `Err` names what is wrong (for a compile error).
pub fn parse_path_params(path: &str) -> Result<Vec<PathParam>, String> {
    let mut params = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('<') {
        let close = rest[open..].find('>').ok_or_else(|| format!("unclosed '<' in route path '{path}'"))? + open;
        let inner = &rest[open + 1..close];
        let (kind, name) = match inner.split_once(':') {
            None => (ParamKind::Str, inner),
            Some(("string", n)) | Some(("str", n)) => (ParamKind::Str, n),
            Some(("int", n)) => (ParamKind::Int, n),
            Some(("float", n)) => (ParamKind::Float, n),
            Some(("path", n)) => (ParamKind::Path, n),
            Some((conv, _)) => return Err(format!("unknown path converter '{conv}' (use int, float, path or none)")),
        };
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_alphanumeric() || c == '_');
        if !valid {
            return Err(format!("invalid path parameter name '{name}'"));
        }
        if params.iter().any(|p: &PathParam| p.name == name) {
            return Err(format!("path parameter '{name}' appears twice"));
        }
        params.push(PathParam { name: name.to_string(), kind });
        rest = &rest[close + 1..];
    }
    Ok(params)
}
