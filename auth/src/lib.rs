//! Ask's security layer, independent of HTTP and of the VM: JWT validation and issuing (HS256
//! only), password hashing (Argon2id, with 1.5.0's SHA-256 digests accepted), and `&limit`
//! rate-limit rules with a bounded key table. The server calls it before a handler runs.
