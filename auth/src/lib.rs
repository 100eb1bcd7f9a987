//! Ask's security layer: JWT validation and issuing for `&protected` and `auth.*`, the signing
//! secret, password hashing for `hash.*`, `&limit` rate limiting, and `.env` parsing.
//!
//! This crate knows nothing of HTTP, the VM or the compiler: plain functions over strings, bytes
//! and `serde_json` values, so the server wires it in mechanically. Everything user-controlled
//! (tokens, headers, rule texts, stored hashes, `.env` lines) yields typed errors, never panics.
//!
//! # API
//! - [`jwt`]: [`jwt::extract_token`]`(authorization, query) -> TokenSource` (Missing / Bearer /
//!   Query); [`jwt::Validator`]`::new(secret, leeway_secs)` built once per secret, then
//!   `validate(token, now_unix) -> Result<Map, JwtError>` or, for a whole request,
//!   `authenticate(authorization, query, now_unix) -> Result<Authenticated { token, claims },
//!   Rejection>` where `Rejection` gives the status (400/401), JSON body and `WWW-Authenticate`;
//!   [`jwt::encode`]`(claims, secret)` / `Validator::encode`; [`jwt::login_claims`]`(user,
//!   seconds, now)`.
//! - [`secret`]: [`secret::resolve_secret`]`(program, ASK_SECRET, askfile) -> Option<(Secret,
//!   SecretSource)>`; [`secret::check_strength`]`(secret, source, Mode::{Dev, Start})`;
//!   [`secret::generate`]; [`secret::load_or_create_dev_secret`]`(ask_dir)`.
//! - [`hash`]: [`hash::hash_password`], [`hash::check_password`]`(hashed, text)`,
//!   [`hash::sha256_hex`].
//! - [`limit`]: [`limit::parse_rules`], [`limit::Limiter`]`::new(rules, max_keys).check(ip,
//!   now_ms) -> Decision::{Allowed, Limited { retry_after_secs }}`, [`limit::client_key`]`(peer,
//!   x_forwarded_for, trusted)`, [`limit::LimiterRegistry`] (keeps counters across hot reloads).
//! - [`dotenv`]: [`dotenv::parse`]`(text) -> (vars, errors)`.
//!
//! # How the server uses it
//! 1. At start (and after each reload): secret = `resolve_secret(auth.secret_key, ASK_SECRET,
//!    [auth] secret)`, else `load_or_create_dev_secret(".ask")` for `ask dev` or `generate()` for
//!    `ask start` (source `Generated`); `check_strength` (error → refuse to start; `Some(warning)`
//!    → print it); build one `Arc<Validator>` and keep it while the secret is unchanged.
//! 2. `&protected` request: `validator.authenticate(header, query, now)`; `Err(r)` → answer
//!    `r.status()`, `r.body()`, `r.www_authenticate()`; `Ok(a)` → the handler's request-scoped
//!    `auth` gets `a.token` and `a.claims` (no second decode in the VM).
//! 3. `auth.login(user, s)` → `validator.encode(&login_claims(user, s, now))`; `auth.encode(p)`
//!    → `validator.encode(&p)` (datetimes converted to integer timestamps first);
//!    `auth.decode()`/`is_valid()` on a token set by login → `validator.validate`.
//! 4. `hash.hash`/`hash.check` → run in `spawn_blocking` behind a semaphore of
//!    `max_concurrent_hashes` permits (default: number of cores).
//! 5. `&limit(text)` → `registry.get(route_id, text)` at load time; per request
//!    `limiter.check(client_key(peer, xff, &trusted), monotonic_ms)`; `Limited` → 429
//!    [`limit::TOO_MANY_REQUESTS_BODY`] + `Retry-After`.
//!
//! # Security decisions
//! - **HS256 only**, checked twice: the header's `alg` must be exactly the string `"HS256"` (so
//!   `none` in any casing, HS384/HS512, RS*/ES*/PS* are refused before any key is touched — no
//!   algorithm confusion), and `jsonwebtoken` is configured with that single algorithm. Headers
//!   with `crit` are refused (we implement no extensions, RFC 7515 §4.1.11). `kid`, `jku`, `x5u`,
//!   `jwk`, `x5c` are ignored: the key is always the configured secret and nothing is fetched.
//! - **`exp` is required** and must be a JSON number (1.5.0 accepted tokens without it; a string or
//!   `null` is refused); expired when `exp <= now - leeway`; `nbf`, when present, must be a number
//!   not after `now + leeway`; `iat`, when present, must be a number. `[auth] leeway` defaults to 0.
//!   Time checks use the caller's clock (`now_unix`), jsonwebtoken's own time checks are off, so
//!   exactly one rule set applies. `aud` is not checked (no audience is configured).
//! - **Size and depth bounds**: tokens over 8 KiB are refused before decoding; claims and header
//!   are parsed by serde_json whose recursion limit (128) turns deep nesting into an error, not a
//!   stack overflow; claims must be a JSON object.
//! - **All failures look the same** to the client (401 `Invalid token!`); the error kinds exist
//!   for tests and debug logs and never include the token or the secret. The secret lives in
//!   [`secret::Secret`] (redacted `Debug`, no `Display`, zeroed on drop); messages name where it
//!   came from, never its value. `ask start` refuses secrets under 32 bytes (RFC 7518 §3.2).
//! - **Dependencies are pinned** (`jsonwebtoken = "=12.0.0"` with the pure-Rust `rust_crypto`
//!   backend chosen explicitly, `argon2 = "=0.6.0"`): security-relevant upgrades are reviewed
//!   changes, not side effects of `cargo update`.
//! - **Passwords**: Argon2id, m = 19 MiB, t = 2, p = 1 (OWASP), 16-byte random salt, PHC
//!   strings. Legacy 1.5.0 SHA-256 hex digests still verify, compared in constant time
//!   (`subtle`). Inputs over 4 KiB are refused; stored PHC strings asking for more than 256 MiB /
//!   t = 16 / p = 16 are refused without running them (a request-supplied hash cannot exhaust
//!   memory).
//! - **Rate limiting** keys on the TCP peer; `X-Forwarded-For` only when the peer is a trusted
//!   proxy, taking the right-most untrusted entry; IPv6 per /64. The table is bounded (see
//!   [`limit`]), so a flood of distinct addresses costs bounded memory.

pub mod dotenv;
pub mod hash;
pub mod jwt;
pub mod limit;
pub mod secret;
