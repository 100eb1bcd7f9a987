//! The Ask compiler: source text → tokens (hand-written indentation-aware lexer) → typed AST
//! (LALRPOP grammar) → scope resolution → register bytecode (`ask_vm::code::Program`).
//!
//! The compiler does no I/O: files named by `include`/`extend` are read through the
//! [`compile::SourceLoader`] the caller supplies.
pub mod ast;
pub mod codegen;
pub mod compile;
pub mod diagnostic;
pub mod flow;
pub mod lexer;
pub mod parser;
pub mod scope;
pub mod token;
