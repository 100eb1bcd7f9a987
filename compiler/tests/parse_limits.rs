//! Hostile input must give diagnostics, never a crash, hang or stack overflow.

use ask_compiler::parser::parse_module;

fn must_fail_with(src: &str, needle: &str) {
    match parse_module(src, "t.ask") {
        Ok(_) => panic!("expected an error containing {:?}", needle),
        Err(ds) => assert!(
            ds.iter().any(|d| d.message.contains(needle)),
            "expected {:?}, got {:?}",
            needle,
            ds.iter().map(|d| &d.message).collect::<Vec<_>>()
        ),
    }
}

const N: usize = 100_000;

#[test]
fn long_binary_chain() {
    must_fail_with(&format!("x = 1{}\n", "+1".repeat(N)), "too deeply nested");
}

#[test]
fn long_chain_then_syntax_error() {
    // The tree is built, then a syntax error makes the parser drop its stack.
    must_fail_with(&format!("x = 1{} 2\n", "+1".repeat(N)), "");
}

#[test]
fn unary_chains() {
    must_fail_with(&format!("x = {}x\n", "- ".repeat(N)), "too deeply nested");
    must_fail_with(&format!("x = {}x\n", "not ".repeat(N)), "too deeply nested");
    must_fail_with(&format!("x = {}x\n", "~".repeat(N)), "too deeply nested");
}

#[test]
fn power_chain() {
    must_fail_with(&format!("x = a{}\n", "**a".repeat(N)), "too deeply nested");
}

#[test]
fn nested_brackets() {
    must_fail_with(&format!("x = {}1{}\n", "(".repeat(N), ")".repeat(N)), "too many nested parentheses");
    must_fail_with(&format!("x = {}\n", "[".repeat(N)), "too many nested parentheses");
    must_fail_with(&"{".repeat(N), "too many nested parentheses");
}

#[test]
fn trailer_chains() {
    must_fail_with(&format!("x = a{}\n", ".b".repeat(N)), "too deeply nested");
    must_fail_with(&format!("x = f{}\n", "()".repeat(N)), "too deeply nested");
    must_fail_with(&format!("x = a{}\n", "[0]".repeat(N)), "too deeply nested");
}

#[test]
fn lambda_and_ifexp_chains() {
    must_fail_with(&format!("x = {}1\n", "lambda: ".repeat(N)), "too deeply nested");
    must_fail_with(&format!("x = {}1\n", "1 if a else ".repeat(N)), "too deeply nested");
    must_fail_with(&format!("x = a{}\n", " or a".repeat(N)), "too deeply nested");
    assert!(parse_module(&format!("x = a{}\n", " < a".repeat(N)), "t.ask").is_ok());
}

#[test]
fn long_chains_below_the_limit_are_fine() {
    // 900 terms: a left-deep tree of depth 900, under the limit of 1,000.
    assert!(parse_module(&format!("x = 1{}\n", " + 1".repeat(899)), "t.ask").is_ok());
    let mut s = String::from("if a:\n  pass\n");
    for _ in 0..900 {
        s.push_str("elif a:\n  pass\n");
    }
    assert!(parse_module(&s, "t.ask").is_ok());
}

#[test]
fn elif_chain() {
    let mut s = String::from("if a:\n  pass\n");
    for _ in 0..N {
        s.push_str("elif a:\n  pass\n");
    }
    must_fail_with(&s, "too deeply nested");
}

#[test]
fn deep_indentation() {
    let mut s = String::new();
    for i in 0..200 {
        s.push_str(&" ".repeat(i));
        s.push_str("if x:\n");
    }
    must_fail_with(&s, "too many levels of indentation");
}

#[test]
fn nested_fstrings() {
    must_fail_with(&format!("x = f'{}'\n", "{f'".repeat(50)), "");
    must_fail_with("x = f'{x:{y:{z}}}'\n", "nested too deeply");
}

#[test]
fn odd_bytes() {
    must_fail_with("x = 1\0\n", "null bytes");
    assert!(parse_module("\u{feff}x = 1\r\ny = 2\rz = 3\x0c\n", "t.ask").is_ok());
}

#[test]
fn flat_big_literals_are_fine() {
    let big: Vec<String> = (0..N).map(|i| format!("-{}", i)).collect();
    assert!(parse_module(&format!("x = [{}]\n", big.join(", ")), "t.ask").is_ok());
    let mut s = String::new();
    for i in 0..20_000 {
        s.push_str(&format!("x{} = {} + {} * f(a, b)\n", i, i, i));
    }
    assert!(parse_module(&s, "t.ask").is_ok());
}

#[test]
fn error_floods_are_capped() {
    let src = "$ ".repeat(500_000);
    match parse_module(&src, "t.ask") {
        Ok(_) => panic!("must fail"),
        Err(ds) => assert!(ds.len() <= 50),
    }
    let src = "x = (1 2)\n".repeat(10_000);
    match parse_module(&src, "t.ask") {
        Ok(_) => panic!("must fail"),
        Err(ds) => assert!(ds.len() <= 50),
    }
}
