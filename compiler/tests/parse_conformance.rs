//! Every Ask program of the shared conformance suite and benchmarks must parse; the syntax-error
//! programs must fail with the lines their `.err` files expect.

use ask_compiler::diagnostic::render;
use ask_compiler::parser::parse_module;
use std::path::{Path, PathBuf};

fn shared() -> Option<PathBuf> {
    let p = PathBuf::from(std::env::var("ASK_SHARED").unwrap_or_else(|_| "/work/shared".to_string()));
    p.is_dir().then_some(p)
}

fn files(dir: &Path, ext: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut v: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    v.sort();
    for p in v {
        if p.is_dir() {
            files(&p, ext, out);
        } else if p.extension().and_then(|e| e.to_str()).is_some_and(|e| ext.contains(&e)) {
            out.push(p);
        }
    }
}

/// Syntax-error conformance programs: parsing must fail.
const SYNTAX_ERRORS: &[&str] = &["80_syntax_error", "81_inconsistent_dedent", "89_unterminated_string"];

#[test]
fn conformance_programs_parse() {
    let Some(root) = shared() else { return };
    let mut all = Vec::new();
    files(&root.join("conformance"), &["ask"], &mut all);
    files(&root.join("bench"), &["ask"], &mut all);
    files(&root.join("bench/vm/python"), &["py"], &mut all);
    assert!(!all.is_empty());
    let mut failures = Vec::new();
    for p in &all {
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let src = std::fs::read_to_string(p).unwrap();
        let name = p.file_name().unwrap().to_str().unwrap();
        let res = parse_module(&src, name);
        if SYNTAX_ERRORS.contains(&stem) {
            let text: String = match res {
                Ok(_) => {
                    failures.push(format!("{}: parsed but must fail", p.display()));
                    continue;
                }
                Err(ds) => ds.iter().map(|d| render(d, &src)).collect(),
            };
            let expect = std::fs::read_to_string(p.with_extension("err")).unwrap();
            for line in expect.lines().filter(|l| !l.trim().is_empty()) {
                if !text.contains(line) {
                    failures.push(format!("{}: missing {:?} in\n{}", p.display(), line, text));
                }
            }
        } else if let Err(ds) = res {
            let text: String = ds.iter().map(|d| render(d, &src)).collect();
            failures.push(format!("{}:\n{}", p.display(), text));
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
