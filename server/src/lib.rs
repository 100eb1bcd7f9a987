//! The Ask HTTP server (stub).
