//! Dependency-free randomized stress test (a poor man's fuzzer, complementing `fuzz/`): mutate
//! the conformance programs and golden inputs and check that the parser never panics and that
//! every diagnostic renders. `ASK_STRESS_ITERS=1000000` runs longer; a failing input is written
//! to `target/stress-failure.ask`.

use ask_compiler::diagnostic::render;
use ask_compiler::parser::{dump_ast, parse_module};
use std::path::Path;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const PIECES: &[&str] = &[
    "(", ")", "[", "]", "{", "}", ":", ",", ";", "\n", "    ", "\t", " ", "'", "\"", "'''", "\"\"\"", "f'{", "}",
    "{x!r:>{w}}", "&", "@get('/x'):", "@post(", "lambda", "lambda *a, **k: ", "**", "-", "not ", "if ", "else",
    "elif ", "#", "\\", "\\\n", "\r", "\0", "\u{feff}", "\x0c", "é", "0x", "1_", "1e", ".5", "=", "+=", "*", "def f(",
    "class A:", "try:", "except", "finally:", "return", "yield", "with", "decorator d:", "db_model M:", "include a.b",
    "extend", "inner()", "\n    pass\n", "\n  ", "{a: 1}", "{**d}", "[*a]", "for x in y", " in ", " is not ", "and",
    "or", "f\"{", "rb'", "b'\\x", "'\\N{", "'\\u12", "x=", "!=", "//=", ">>=", "...", "->", "global x", "del ",
    "import a.b as c", "from a import (b,", "= yield",
];

fn check(src: &str) {
    let res = std::panic::catch_unwind(|| match parse_module(src, "stress.ask") {
        Ok(m) => {
            let _ = dump_ast(&m);
        }
        Err(ds) => {
            assert!(!ds.is_empty());
            for d in &ds {
                let _ = render(d, src);
            }
        }
    });
    if res.is_err() {
        let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/stress-failure.ask");
        let _ = std::fs::write(&out, src);
        panic!("parser panicked; input written to {}", out.display());
    }
}

fn corpus() -> Vec<String> {
    let mut v = Vec::new();
    let dirs = [
        Path::new("/work/shared/conformance/lang").to_path_buf(),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/parse_ok"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/parse_errors"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/lexer"),
    ];
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            if e.path().extension().and_then(|x| x.to_str()) == Some("ask") {
                if let Ok(s) = std::fs::read_to_string(e.path()) {
                    v.push(s);
                }
            }
        }
    }
    if v.is_empty() {
        v.push("def f(x):\n    return f'{x!r}' + str([1, 2])\n".to_string());
    }
    v
}

fn boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn mutate(rng: &mut Rng, corpus: &[String], s: &mut String) {
    for _ in 0..1 + rng.below(4) {
        let at = boundary(s, rng.below(s.len() + 1));
        match rng.below(6) {
            0 | 1 => s.insert_str(at, PIECES[rng.below(PIECES.len())]),
            2 => {
                let end = boundary(s, at + rng.below(16));
                s.replace_range(at..end, "");
            }
            3 => {
                let end = boundary(s, at + rng.below(40));
                let dup = s[at..end].to_string();
                s.insert_str(end, &dup);
            }
            4 => {
                let other = &corpus[rng.below(corpus.len())];
                let a = boundary(other, rng.below(other.len() + 1));
                let b = boundary(other, a + rng.below(200));
                s.insert_str(at, &other[a..b]);
            }
            _ => {
                let end = boundary(s, at + 1);
                let c = char::from_u32(rng.below(0x80) as u32).unwrap_or('x');
                s.replace_range(at..end, &c.to_string());
            }
        }
    }
}

#[test]
fn stress_mutated_corpus() {
    let iters: usize = std::env::var("ASK_STRESS_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let seed: u64 = std::env::var("ASK_STRESS_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x9E37_79B9_7F4A_7C15);
    let corpus = corpus();
    let mut rng = Rng(seed | 1);
    for _ in 0..iters {
        let mut s = corpus[rng.below(corpus.len())].clone();
        mutate(&mut rng, &corpus, &mut s);
        check(&s);
    }
}
