//! Ask's security layer (placeholder doc; see below).
pub mod jwt;
