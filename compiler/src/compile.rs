//! The compile driver: turns an entry file (and everything it `include`s and `extend`s) into one
//! [`Program`].
//!
//! - `include a.b` compiles `a/b.ask` (relative to the including file's folder) into a proto that
//!   runs where the statement is and shares the includer's globals; each file is included at most
//!   once per program, and an include cycle is an error.
//! - `extend helpers` compiles `helpers.ask` as a module of its own (`Program::modules[i]`, its
//!   own globals); its routes are served like the program's.
//! - `import x` checks `x` against the native modules (done during code generation, so that every
//!   unknown import of a file is reported at once).
//!
//! The compiler does no I/O: files come from the caller's [`SourceLoader`]. Compilation runs on a
//! thread with a large stack, so that deeply nested (but parser-bounded) source cannot overflow
//! the caller's stack in the recursive code generator.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ask_vm::code::{FuncProto, ModuleInfo, Program};
use ask_vm::route::RouteInfo;

use crate::ast::{DottedName, Span};
use crate::codegen::{self, Driver, GlobalTable, Unit};
use crate::diagnostic::{render, Diagnostic, Severity};

/// Reads source files for the compiler (which does no I/O itself).
pub trait SourceLoader: Send {
    /// The text of the file at `path` (as built by the compiler: the entry path, or a path
    /// relative to it joined with `/`), or `None` when it cannot be read.
    fn load(&mut self, path: &str) -> Option<String>;
}

/// A loader over an in-memory map of files (tests, tools, the dev server's cache).
#[derive(Default, Clone)]
pub struct MapLoader(pub HashMap<String, String>);

impl SourceLoader for MapLoader {
    fn load(&mut self, path: &str) -> Option<String> {
        self.0.get(path).or_else(|| self.0.get(path.trim_start_matches("./"))).cloned()
    }
}

/// Stack size of the compile thread.
const COMPILE_STACK: usize = 256 << 20;

/// Stack a caller of [`compile_program_here`] must have. The nesting limits (syntax trees 1,000
/// deep, brackets 200, indentation 100) bound the compiler's recursion: the deepest shape we know
/// (990 nested lambdas) needs between 1 and 2 MiB, so this is about a 4x margin.
pub const COMPILE_STACK_HERE: usize = 8 << 20;

/// Compile a program. `Ok` carries the program and the warnings; `Err` every error found.
pub fn compile_program(entry_path: &str, loader: &mut dyn SourceLoader) -> Result<(Program, Vec<Diagnostic>), Vec<Diagnostic>> {
    let result = std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("ask-compile".into())
            .stack_size(COMPILE_STACK)
            .spawn_scoped(s, || compile_inner(entry_path, loader));
        match handle {
            Ok(h) => h.join().ok(),
            Err(_) => None,
        }
    });
    match result {
        Some(r) => r,
        None => Err(vec![Diagnostic::error(entry_path, Span::default(), "internal compiler error (the compiler crashed)")]),
    }
}

/// [`compile_program`] on the calling thread, for a caller that knows it has at least
/// [`COMPILE_STACK_HERE`] bytes of stack left (a process's main thread under the usual 8 MiB
/// limit). `ask run` uses it: a second thread costs start-up time, and its first allocation makes
/// the allocator set up a second heap that a short script never needs.
pub fn compile_program_here(entry_path: &str, loader: &mut dyn SourceLoader) -> Result<(Program, Vec<Diagnostic>), Vec<Diagnostic>> {
    compile_inner(entry_path, loader)
}

/// Compile a single source text (no includes or extends besides those the map provides).
pub fn compile_source(file: &str, src: &str) -> Result<(Program, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut loader = MapLoader::default();
    loader.0.insert(file.to_string(), src.to_string());
    compile_program(file, &mut loader)
}

fn compile_inner(entry_path: &str, loader: &mut dyn SourceLoader) -> Result<(Program, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut b = Build {
        loader,
        files: Vec::new(),
        modules: Vec::new(),
        routes: Vec::new(),
        errors: Vec::new(),
        warnings: Vec::new(),
        included: HashSet::new(),
        include_stack: Vec::new(),
        extended: HashMap::new(),
        extend_stack: vec![entry_path.to_string()],
        cur_module: 0,
    };
    let Some(src) = b.loader.load(entry_path) else {
        return Err(vec![Diagnostic::error(entry_path, Span::default(), format!("cannot read '{entry_path}'"))]);
    };
    b.modules.push(ModuleInfo { name: "__main__".into(), ..Default::default() });
    b.included.insert(normalize(entry_path));
    b.include_stack.push(normalize(entry_path));
    let mut globals = GlobalTable::default();
    let main = b.compile_file(entry_path, src, 0, &mut globals);
    if !b.errors.is_empty() {
        let order: Vec<String> = b.files.iter().map(|(f, _)| f.clone()).collect();
        sort_diags(&mut b.errors, &order);
        return Err(b.errors);
    }
    let Some(main) = main else {
        return Err(vec![Diagnostic::error(entry_path, Span::default(), "compilation failed")]);
    };
    let main = Arc::new(main);
    b.modules[0].main = main.clone();
    b.modules[0].file = 0;
    b.modules[0].globals = globals.names;
    let program = Program { main, modules: b.modules, routes: b.routes, files: b.files };
    Ok((program, b.warnings))
}

/// Errors first, then by file (in the order files were read) and position.
fn sort_diags(d: &mut [Diagnostic], files: &[String]) {
    d.sort_by_key(|x| {
        let f = files.iter().position(|f| *f == x.file).unwrap_or(usize::MAX);
        (x.severity != Severity::Error, f, x.span.lo)
    });
}

struct Build<'l> {
    loader: &'l mut dyn SourceLoader,
    files: Vec<(String, String)>,
    modules: Vec<ModuleInfo>,
    routes: Vec<RouteInfo>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    /// Files already included (or the entry itself), normalised.
    included: HashSet<String>,
    include_stack: Vec<String>,
    extended: HashMap<String, u16>,
    extend_stack: Vec<String>,
    cur_module: u32,
}

impl Build<'_> {
    fn compile_file(&mut self, path: &str, src: String, module: u32, globals: &mut GlobalTable) -> Option<FuncProto> {
        let file_idx = self.files.len() as u32;
        self.files.push((path.to_string(), src));
        let src = self.files[file_idx as usize].1.clone();
        let ast = match crate::parser::parse_module(&src, path) {
            Ok(m) => m,
            Err(d) => {
                self.errors.extend(d);
                return None;
            }
        };
        let (tree, scope_errors) = crate::scope::resolve_with_errors(&ast, path, &mut self.warnings);
        let failed = !scope_errors.is_empty();
        self.errors.extend(scope_errors);
        let unit = Unit { file: path, file_idx, module_idx: module, src: &src, tree: &tree };
        let saved = self.cur_module;
        self.cur_module = module;
        let r = codegen::compile_module(&ast, &unit, globals, self);
        self.cur_module = saved;
        match r {
            Ok(p) if !failed => Some(p),
            Ok(_) => None,
            Err(d) => {
                self.errors.extend(d);
                None
            }
        }
    }
}

/// The folder part of a path (with a trailing `/`), or empty.
fn dir_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "",
    }
}

/// Collapse `./` and `a/../` so that the same file is recognised under two spellings.
fn normalize(path: &str) -> String {
    let abs = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                if matches!(parts.last(), Some(&l) if l != "..") {
                    parts.pop();
                } else {
                    parts.push("..");
                }
            }
            _ => parts.push(p),
        }
    }
    let j = parts.join("/");
    if abs {
        format!("/{j}")
    } else {
        j
    }
}

fn module_path(from_file: &str, name: &DottedName) -> String {
    format!("{}{}.ask", dir_of(from_file), name.parts.join("/"))
}

impl Driver for Build<'_> {
    fn include(&mut self, from_file: &str, name: &DottedName, globals: &mut GlobalTable) -> Option<FuncProto> {
        let path = module_path(from_file, name);
        let key = normalize(&path);
        if self.include_stack.contains(&key) || normalize(from_file) == key {
            self.errors.push(Diagnostic::error(from_file, name.span, format!("circular include of '{}'", name.joined())));
            return None;
        }
        if !self.included.insert(key.clone()) {
            return None;
        }
        let Some(src) = self.loader.load(&path) else {
            self.errors.push(Diagnostic::error(from_file, name.span, format!("cannot include '{}': file '{}' not found", name.joined(), path)));
            return None;
        };
        self.include_stack.push(key);
        let module = self.cur_module;
        let mut proto = self.compile_file(&path, src, module, globals);
        self.include_stack.pop();
        if let Some(p) = &mut proto {
            p.name = "<module>".into();
            p.qualname = "<module>".into();
        }
        proto
    }

    fn extend(&mut self, from_file: &str, name: &DottedName) -> Option<u16> {
        let path = module_path(from_file, name);
        let key = normalize(&path);
        if let Some(&i) = self.extended.get(&key) {
            return Some(i);
        }
        if self.extend_stack.iter().any(|p| normalize(p) == key) {
            self.errors.push(Diagnostic::error(from_file, name.span, format!("circular extend of '{}'", name.joined())));
            return None;
        }
        let Some(src) = self.loader.load(&path) else {
            self.errors.push(Diagnostic::error(from_file, name.span, format!("cannot extend '{}': file '{}' not found", name.joined(), path)));
            return None;
        };
        let idx = self.modules.len();
        if idx > u16::MAX as usize {
            return None;
        }
        let modname = name.parts.last().cloned().unwrap_or_default();
        self.modules.push(ModuleInfo { name: modname, ..Default::default() });
        self.extended.insert(key, idx as u16);
        self.extend_stack.push(path.clone());
        let file_idx = self.files.len() as u32;
        let mut globals = GlobalTable::default();
        let proto = self.compile_file(&path, src, idx as u32, &mut globals);
        self.extend_stack.pop();
        let proto = proto?;
        let m = &mut self.modules[idx];
        m.main = Arc::new(proto);
        m.file = file_idx;
        m.globals = globals.names;
        Some(idx as u16)
    }

    fn add_route(&mut self, info: RouteInfo) -> u16 {
        self.routes.push(info);
        (self.routes.len() - 1) as u16
    }
}

/// Render diagnostics against their files' sources (`(file name, text)` pairs, e.g.
/// `Program::files` or what the caller's loader read). Errors first, in source order.
pub fn render_diagnostics(diags: &[Diagnostic], sources: &[(String, String)]) -> String {
    let mut out = String::new();
    for d in diags {
        match sources.iter().find(|(f, _)| *f == d.file) {
            Some((_, src)) => out.push_str(&render(d, src)),
            None => {
                let sev = match d.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                };
                out.push_str(&format!("{}: {}: {}\n", d.file, sev, d.message));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(normalize("./a/b/../c.ask"), "a/c.ask");
        assert_eq!(dir_of("x/y.ask"), "x/");
        assert_eq!(dir_of("y.ask"), "");
    }
}
