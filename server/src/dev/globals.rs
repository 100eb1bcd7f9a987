//! Which module globals survive a hot swap: for each global name assigned at the top level of the
//! main module (the entry file and the files it `include`s, which share its globals), the source
//! text of every top-level statement that assigns it. A name whose list of defining texts is the
//! same in the old and the new program keeps its current value; any other name is re-evaluated
//! by the new program's top-level code (ASK.md §3).
//!
//! Only data is carried over. Functions, classes, bound methods, natives and modules are always
//! taken from the new program: an old function value would run the old bytecode against the old
//! program's globals, which is never what an edit means.

use std::collections::HashMap;

use ask_compiler::ast::{Expr, ExprKind, Stmt, StmtKind};
use ask_vm::value::Value;

/// Global name → the texts of its defining top-level statements, in program order.
pub type DefMap = HashMap<String, Vec<String>>;

/// Build the map for a program whose files (path → text, as the compiler read them) are `files`,
/// starting at `entry`. Files that do not parse contribute nothing (the program compiled, so this
/// only happens if a file changed between the compile and now; then nothing is carried for it).
pub fn def_map(entry: &str, files: &HashMap<String, String>) -> DefMap {
    let mut map = DefMap::new();
    let mut seen = Vec::new();
    walk_file(entry, files, &mut map, &mut seen);
    map
}

fn walk_file(path: &str, files: &HashMap<String, String>, map: &mut DefMap, seen: &mut Vec<String>) {
    let key = normalize(path);
    if seen.contains(&key) || seen.len() > 1000 {
        return;
    }
    seen.push(key);
    let Some(src) = files.get(path).or_else(|| files.get(path.trim_start_matches("./"))) else { return };
    let Ok(module) = ask_compiler::parser::parse_module(src, path) else { return };
    for stmt in &module.body {
        if let StmtKind::Include(name) = &stmt.kind {
            // Same path rule as the compiler: relative to the including file's folder.
            let inc = format!("{}{}.ask", dir_of(path), name.parts.join("/"));
            walk_file(&inc, files, map, seen);
            continue;
        }
        let mut names = Vec::new();
        assigned_names(stmt, &mut names);
        if names.is_empty() {
            continue;
        }
        let lo = (stmt.span.lo as usize).min(src.len());
        let hi = (stmt.span.hi as usize).clamp(lo, src.len());
        let text = src.get(lo..hi).unwrap_or("").to_string();
        names.sort();
        names.dedup();
        for n in names {
            map.entry(n).or_default().push(text.clone());
        }
    }
}

/// Names a top-level statement binds as plain data globals (assignments, augmented assignments,
/// `for` targets, and the same inside top-level `if`/`while`/`for`/`try` blocks). Definitions
/// (`def`, `class`, routes, models, imports) are not listed: they are always re-evaluated.
fn assigned_names(stmt: &Stmt, out: &mut Vec<String>) {
    match &stmt.kind {
        StmtKind::Assign { targets, .. } => targets.iter().for_each(|t| target_names(t, out)),
        StmtKind::AugAssign { target, .. } => target_names(target, out),
        StmtKind::For { target, body, orelse, .. } => {
            target_names(target, out);
            body.iter().chain(orelse).for_each(|s| assigned_names(s, out));
        }
        StmtKind::If { body, orelse, .. } | StmtKind::While { body, orelse, .. } => {
            body.iter().chain(orelse).for_each(|s| assigned_names(s, out));
        }
        StmtKind::Try { body, handlers, orelse, finalbody } => {
            body.iter().chain(orelse).chain(finalbody).for_each(|s| assigned_names(s, out));
            for h in handlers {
                h.body.iter().for_each(|s| assigned_names(s, out));
            }
        }
        _ => {}
    }
}

fn target_names(e: &Expr, out: &mut Vec<String>) {
    match &e.kind {
        ExprKind::Name(n) => out.push(n.clone()),
        ExprKind::Tuple(items) | ExprKind::List(items) => items.iter().for_each(|i| target_names(i, out)),
        ExprKind::Starred(inner) => target_names(inner, out),
        // `x.a = …` / `x[k] = …` mutate an object; they bind no name.
        _ => {}
    }
}

/// The names whose defining texts are identical in both maps (candidates for carrying over).
pub fn unchanged<'a>(old: &'a DefMap, new: &'a DefMap) -> Vec<&'a str> {
    let mut v: Vec<&str> = new.iter().filter(|(k, texts)| old.get(*k) == Some(*texts)).map(|(k, _)| k.as_str()).collect();
    v.sort_unstable();
    v
}

/// Whether a value is data that may be carried into a new program.
pub fn carriable(v: &Value) -> bool {
    !matches!(v, Value::Function(_) | Value::Native(_) | Value::BoundMethod(_) | Value::Class(_) | Value::Module(_))
}

fn dir_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "",
    }
}

fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." if matches!(parts.last(), Some(&l) if l != "..") => {
                parts.pop();
            }
            _ => parts.push(p),
        }
    }
    let j = parts.join("/");
    if path.starts_with('/') {
        format!("/{j}")
    } else {
        j
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> HashMap<String, String> {
        list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn assignments_map_to_their_statement_text() {
        let f = files(&[("main.ask", "count = 0\nitems = []\ncount += 1\ndef f():\n    return 1\na, b = 1, 2\n")]);
        let m = def_map("main.ask", &f);
        assert_eq!(m["count"], vec!["count = 0".to_string(), "count += 1".to_string()]);
        assert_eq!(m["items"], vec!["items = []".to_string()]);
        assert!(m.contains_key("a") && m.contains_key("b"));
        assert!(!m.contains_key("f"));
    }

    #[test]
    fn only_unchanged_names_are_kept() {
        let old = def_map("m.ask", &files(&[("m.ask", "a = 1\nb = 2\n")]));
        let new = def_map("m.ask", &files(&[("m.ask", "a = 1\nb = 3\nc = 4\n")]));
        assert_eq!(unchanged(&old, &new), vec!["a"]);
    }

    #[test]
    fn included_files_are_part_of_the_main_module() {
        let f = files(&[("dir/main.ask", "include lib.util\nx = 1\n"), ("dir/lib/util.ask", "y = 2\n")]);
        let m = def_map("dir/main.ask", &f);
        assert!(m.contains_key("x") && m.contains_key("y"));
    }
}
