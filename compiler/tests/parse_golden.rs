//! Golden tests for the lexer and parser (tests as data, like starlark-rust's goldens):
//!
//! - `golden/lexer/NAME.ask`        → `NAME.tokens` (one token per line, or the diagnostics)
//! - `golden/parse_ok/NAME.ask`     → `NAME.ast`    (S-expression dump of the tree)
//! - `golden/parse_errors/NAME.ask` → `NAME.err`    (rendered diagnostics; parsing must fail)
//!
//! Regenerate the expected files with `ASK_BLESS=1 cargo test -p ask-compiler --test parse_golden`.

use ask_compiler::diagnostic::render;
use ask_compiler::parser::{dump_ast, dump_tokens, parse_module};
use std::path::{Path, PathBuf};

fn cases(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {}", root.display(), e))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("ask"))
        .collect();
    v.sort();
    v
}

fn check(path: &Path, ext: &str, actual: &str, failures: &mut Vec<String>) {
    let exp_path = path.with_extension(ext);
    if std::env::var_os("ASK_BLESS").is_some() {
        std::fs::write(&exp_path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&exp_path).unwrap_or_default();
    if expected != actual {
        failures.push(format!(
            "{} differs (run with ASK_BLESS=1 to update)\n--- expected\n{}\n--- actual\n{}",
            exp_path.display(),
            expected,
            actual
        ));
    }
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn lexer_goldens() {
    let mut failures = Vec::new();
    for p in cases("lexer") {
        let src = std::fs::read_to_string(&p).unwrap();
        check(&p, "tokens", &dump_tokens(&src, &name(&p)), &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn parse_ok_goldens() {
    let mut failures = Vec::new();
    for p in cases("parse_ok") {
        let src = std::fs::read_to_string(&p).unwrap();
        let out = match parse_module(&src, &name(&p)) {
            Ok(m) => dump_ast(&m),
            Err(ds) => ds.iter().map(|d| render(d, &src)).collect(),
        };
        check(&p, "ast", &out, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn parse_error_goldens() {
    let mut failures = Vec::new();
    for p in cases("parse_errors") {
        let src = std::fs::read_to_string(&p).unwrap();
        let out = match parse_module(&src, &name(&p)) {
            Ok(_) => format!("{}: parsed without errors\n", name(&p)),
            Err(ds) => ds.iter().map(|d| render(d, &src)).collect(),
        };
        check(&p, "err", &out, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
