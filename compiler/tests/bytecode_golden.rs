//! Bytecode goldens: each `tests/bytecode/NAME.ask` is compiled and disassembled, and the listing
//! must equal `NAME.golden`. Regenerate after an intended change with `ASK_BLESS=1 cargo test`.
//! Also checks the route metadata the compiler hands to the server.

use std::path::Path;

use ask_compiler::compile::{compile_program, compile_source, MapLoader};

#[test]
fn bytecode_goldens() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bytecode");
    let bless = std::env::var("ASK_BLESS").is_ok();
    let mut entries: Vec<_> = std::fs::read_dir(&dir).expect("dir").filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    let mut failures = Vec::new();
    for path in entries.iter().filter(|p| p.extension().is_some_and(|e| e == "ask")) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let src = std::fs::read_to_string(path).expect("read");
        let listing = match compile_source(&name, &src) {
            Ok((program, _)) => ask_vm::disasm::disassemble(&program),
            Err(d) => format!("compile errors: {d:?}\n"),
        };
        let golden = path.with_extension("golden");
        if bless {
            std::fs::write(&golden, &listing).expect("write golden");
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        if want != listing {
            failures.push(format!("{name}: listing differs (ASK_BLESS=1 to accept)\n--- got\n{listing}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn route_metadata() {
    let src = "\
# List notes.
# Paged.
&limit('5 per minute')
&protected
@get('/notes/<int:id>/<path:rest>'):
    respond({'id': id, 'rest': rest})

@post('/notes'):
    respond(body), 201
";
    let (program, _) = compile_source("app.ask", src).expect("compiles");
    assert_eq!(program.routes.len(), 2);
    let r = &program.routes[0];
    assert_eq!(r.method, "GET");
    assert_eq!(r.path, "/notes/<int:id>/<path:rest>");
    assert_eq!(r.params.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["id", "rest"]);
    assert_eq!(r.decorators.len(), 2);
    assert_eq!(r.decorators[0].name, "limit");
    assert_eq!(r.decorators[0].args.as_deref(), Some("'5 per minute'"));
    assert_eq!(r.decorators[0].literal_args, vec!["5 per minute".to_string()]);
    assert_eq!(r.decorators[1].name, "protected");
    assert!(r.is_protected());
    assert_eq!(r.doc, vec!["List notes.".to_string(), "Paged.".to_string()]);
    assert_eq!(r.file, "app.ask");
    assert_eq!(r.line, 5);
    assert_eq!(program.routes[1].method, "POST");
    assert_eq!(program.routes[1].line, 8);
}

#[test]
fn include_and_extend_modules() {
    let mut files = MapLoader::default();
    files.0.insert("app/main.ask".into(), "include lib.util\nextend helpers\nprint(util_name, helpers.name)\n".into());
    files.0.insert("app/lib/util.ask".into(), "util_name = 'util'\ninclude lib.util\n".into());
    files.0.insert("app/helpers.ask".into(), "name = 'helpers'\n@get('/h'):\n    respond(name)\n".into());
    // `include lib.util` inside lib/util.ask refers to app/lib/lib/util.ask: missing → error.
    let errs = compile_program("app/main.ask", &mut files).expect_err("missing nested include");
    assert!(errs.iter().any(|d| d.message.contains("lib/lib/util.ask")), "{errs:?}");
    files.0.insert("app/lib/util.ask".into(), "util_name = 'util'\n".into());
    let (program, _) = compile_program("app/main.ask", &mut files).expect("compiles");
    assert_eq!(program.modules.len(), 2);
    assert_eq!(program.modules[1].name, "helpers");
    assert_eq!(program.routes.len(), 1);
    assert_eq!(program.routes[0].file, "app/helpers.ask");
    assert!(program.modules[0].globals.contains(&"util_name".to_string()));
}

#[test]
fn include_cycle_is_an_error() {
    let mut files = MapLoader::default();
    files.0.insert("a.ask".into(), "include b\n".into());
    files.0.insert("b.ask".into(), "include a\n".into());
    let errs = compile_program("a.ask", &mut files).expect_err("cycle");
    assert!(errs.iter().any(|d| d.message.contains("circular include")), "{errs:?}");
}

#[test]
fn deep_nesting_does_not_crash() {
    // Whatever the parser's depth bound, compiling must end in a program or diagnostics.
    let mut src = String::from("x = ");
    for _ in 0..500 {
        src.push('(');
    }
    src.push('1');
    for _ in 0..500 {
        src.push(')');
    }
    src.push('\n');
    let _ = compile_source("deep.ask", &src);
}
