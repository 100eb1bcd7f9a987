//! Ask's security layer (placeholder doc; see below).
pub mod hash;
pub mod jwt;
pub mod limit;
pub mod secret;
