//! Not a timed assertion: prints how long parsing a large generated program takes
//! (run with `cargo test --release --test parse_perf -- --ignored --nocapture`).

use ask_compiler::parser::parse_module;

#[test]
#[ignore = "manual benchmark; run in release with --ignored"]
fn parse_big_program() {
    let dir = std::path::Path::new("/work/shared/conformance/lang");
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut corpus = String::new();
    let mut names: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    names.sort();
    for p in names {
        let s = p.file_stem().and_then(|s| s.to_str()).unwrap_or("").to_string();
        if p.extension().and_then(|e| e.to_str()) != Some("ask") || s.starts_with('8') {
            continue;
        }
        corpus.push_str(&std::fs::read_to_string(&p).unwrap());
        corpus.push('\n');
    }
    let mut src = String::new();
    while src.lines().count() < 5000 {
        src.push_str(&corpus);
    }
    let lines = src.lines().count();
    let t = std::time::Instant::now();
    let n: u32 = std::env::var("ASK_PERF_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    for _ in 0..n {
        parse_module(&src, "big.ask").unwrap();
    }
    let per = t.elapsed() / n;
    println!("parse: {} lines, {} bytes: {:?} per parse", lines, src.len(), per);
}
