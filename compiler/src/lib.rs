//! The Ask compiler (stub lib; see ast.rs and diagnostic.rs).
pub mod ast;
pub mod diagnostic;
