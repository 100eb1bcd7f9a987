//! Runs the `ask dev` conformance cases kept as data in `tests/dev/http/` (folders of `main.ask` +
//! `cases.toml` with `mode = "dev"`, `write` and `retry_ms`) through the shared black-box runner,
//! against the `ask` binary built by this package. Skipped (with a note) when the shared runner
//! or Python is not available.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn dev_conformance_cases_pass() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // `shared/` sits beside the clone (CI, /work/main) or two levels up (a worktree in /work/wt/).
    let mut candidates: Vec<PathBuf> = std::env::var_os("SHARED").map(PathBuf::from).into_iter().collect();
    candidates.extend([root.join("../shared"), root.join("../../shared")]);
    let Some(runner) = candidates.iter().map(|s| s.join("conformance/run.py")).find(|r| r.is_file()) else {
        eprintln!("skipped: the shared conformance runner was not found");
        return;
    };
    let out = match Command::new("python3").arg(&runner).arg("--ask").arg(env!("CARGO_BIN_EXE_ask")).arg(root.join("tests/dev")).output() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("skipped: cannot run python3: {e}");
            return;
        }
    };
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "dev conformance cases failed:\n{text}");
}
