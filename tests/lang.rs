//! Runs every `tests/lang/*.ask` program through the built `ask` binary (`ask run NAME.ask`, in
//! that folder) and compares the result with its expectation:
//! - `NAME.out`: stdout must equal it exactly and the exit status must be 0;
//! - `NAME.err`: the exit status must be non-zero and every non-empty line of the file must
//!   appear somewhere in stdout + stderr.
//!
//! Files under `tests/lang/lib/` are helpers for `include`/`extend`, not tests themselves.
//! `ASK_LANG_FILTER=substring` runs only matching programs.

use std::path::{Path, PathBuf};
use std::process::Command;

fn programs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("tests/lang exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ask"))
        .collect();
    v.sort();
    v
}

#[test]
fn lang_programs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lang");
    let filter = std::env::var("ASK_LANG_FILTER").unwrap_or_default();
    let mut failures = Vec::new();
    let mut ran = 0;
    for prog in programs(&dir) {
        let name = prog.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if !name.contains(&filter) {
            continue;
        }
        let out_file = prog.with_extension("out");
        let err_file = prog.with_extension("err");
        let output = Command::new(env!("CARGO_BIN_EXE_ask"))
            .arg("run")
            .arg(&name)
            .current_dir(&dir)
            .output()
            .expect("run ask");
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        ran += 1;
        if let Ok(want) = std::fs::read_to_string(&out_file) {
            if !output.status.success() || stdout != want {
                failures.push(format!(
                    "{name}: status {:?}\n--- want\n{want}--- got\n{stdout}--- stderr\n{stderr}",
                    output.status.code()
                ));
            }
        } else if let Ok(want) = std::fs::read_to_string(&err_file) {
            let all = format!("{stdout}{stderr}");
            let missing: Vec<&str> = want.lines().map(str::trim).filter(|l| !l.is_empty() && !all.contains(l)).collect();
            if output.status.success() || !missing.is_empty() {
                failures.push(format!("{name}: status {:?}, missing {missing:?}\n--- output\n{all}", output.status.code()));
            }
        } else {
            failures.push(format!("{name}: no .out or .err file"));
        }
    }
    assert!(ran > 0 || !filter.is_empty(), "no programs found in {}", dir.display());
    if !failures.is_empty() {
        panic!("{} of {ran} programs failed:\n\n{}", failures.len(), failures.join("\n\n"));
    }
}

fn ask(args: &[&str], dir: &Path) -> (Option<i32>, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_ask")).args(args).current_dir(dir).output().expect("run ask");
    (o.status.code(), String::from_utf8_lossy(&o.stdout).into(), String::from_utf8_lossy(&o.stderr).into())
}

#[test]
fn cli_commands() {
    let dir = std::env::temp_dir().join(format!("ask-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    std::fs::write(dir.join("script.ask"), "status = 'shadowed'\nprint(status)\n").expect("write");
    std::fs::write(dir.join("broken.ask"), "x = (1,\nprint(x)\n").expect("write");
    std::fs::write(dir.join("routes.ask"), "@get('/'):\n    respond('hi')\n").expect("write");

    let (code, out, _) = ask(&["--version"], &dir);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("ask "), "{out}");

    let (code, out, _) = ask(&["--help"], &dir);
    assert_eq!(code, Some(0));
    assert!(out.contains("ask run FILE"), "{out}");

    // `ask FILE` runs a program without routes.
    let (code, out, _) = ask(&["script.ask"], &dir);
    assert_eq!((code, out.as_str()), (Some(0), "shadowed\n"));

    // `ask check` warns about shadowed Ask built-ins, and fails on errors.
    let (code, _, err) = ask(&["check", "script.ask"], &dir);
    assert_eq!(code, Some(0));
    assert!(err.contains("script.ask:1:1: warning: 'status' shadows"), "{err}");
    let (code, _, err) = ask(&["check", "broken.ask"], &dir);
    assert_eq!(code, Some(1));
    assert!(err.contains("broken.ask:") && err.contains("error"), "{err}");

    // Compile errors from `run` go to stderr with exit status 1.
    let (code, out, err) = ask(&["run", "broken.ask"], &dir);
    assert_eq!((code, out.as_str()), (Some(1), ""));
    assert!(err.contains('^'), "{err}");

    let (code, out, _) = ask(&["disasm", "routes.ask"], &dir);
    assert_eq!(code, Some(0));
    assert!(out.contains("RegisterRoute"), "{out}");

    let (code, _, err) = ask(&["run", "missing.ask"], &dir);
    assert_eq!(code, Some(1));
    assert!(err.contains("missing.ask"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
