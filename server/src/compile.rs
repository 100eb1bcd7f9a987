//! The one place the server calls the compiler (kept apart so an API change touches one file).

use std::path::Path;
use std::sync::Arc;

use ask_compiler::compile::{compile_program, render_diagnostics, SourceLoader};
use ask_compiler::diagnostic::Severity;
use ask_vm::code::Program;

/// Reads source files from disk for the compiler (which does no I/O itself), remembering each
/// text it hands out: for rendering diagnostics, and for `ask dev` to know what to watch.
/// Shared by the CLI, `ask start` and `ask dev`.
#[derive(Default)]
pub struct FsLoader {
    /// `(path, text)` of every file loaded, in load order.
    pub files: Vec<(String, String)>,
}

impl SourceLoader for FsLoader {
    fn load(&mut self, path: &str) -> Option<String> {
        let text = std::fs::read_to_string(path).ok()?;
        self.files.push((path.to_string(), text.clone()));
        Some(text)
    }
}

/// Compile the program at `file`; `Err` holds the rendered diagnostics. Warnings go to stderr.
pub fn compile(file: &Path) -> Result<Arc<Program>, String> {
    let name = file.to_string_lossy().into_owned();
    let mut loader = FsLoader::default();
    match compile_program(&name, &mut loader) {
        Ok((program, warnings)) => {
            if !warnings.is_empty() {
                eprint!("{}", render_diagnostics(&warnings, &loader.files));
            }
            Ok(Arc::new(program))
        }
        Err(errors) => {
            let mut text = render_diagnostics(&errors, &loader.files);
            let n = errors.iter().filter(|d| d.severity == Severity::Error).count();
            if n > 1 {
                text.push_str(&format!("{n} errors\n"));
            }
            Err(text)
        }
    }
}
