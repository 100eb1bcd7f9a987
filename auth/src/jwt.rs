//! JSON Web Tokens for `&protected` routes and the `auth.*` built-ins: where a request's token is
//! found, how it is validated (HS256 only, `exp` required), and how tokens are issued.
//!
//! The rules are deliberately stricter than PyJWT in Ask 1.5.0 (which accepted tokens without
//! `exp`); every failure is one [`JwtError`] that the server turns into the same 401, so the error
//! kind is for logs and tests only (it never contains the token or the secret).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};

/// Tokens longer than this are refused before any decoding (a cheap bound on the work an
/// unauthenticated client can make us do: base64, JSON parsing and HMAC are all linear in it).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Body of the 400 answer when a protected route gets no token (1.5.0's exact text).
pub const MISSING_TOKEN_BODY: &str = r#"{"message": "Missing token!"}"#;
/// Body of the 401 answer for any invalid token (1.5.0's exact text).
pub const INVALID_TOKEN_BODY: &str = r#"{"message": "Invalid token!"}"#;
/// `WWW-Authenticate` value sent with the 401 (RFC 6750 §3.1).
pub const WWW_AUTHENTICATE_INVALID: &str = r#"Bearer error="invalid_token""#;

/// base64url of `{"alg":"HS256","typ":"JWT"}` (PyJWT's header, so 1.5.0's tokens) and of
/// `{"typ":"JWT","alg":"HS256"}` (what `jsonwebtoken` writes). Almost every token carries one of
/// these two exact segments; recognising them skips a base64 + JSON parse of the header on the
/// hot path. Any other header is parsed and checked in full.
const CANONICAL_HEADERS: [&str; 2] = [
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9",
];

/// Where a request's token was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource<'a> {
    /// No usable token: no `Authorization: Bearer` header with a token and no non-empty `token`
    /// query parameter. `&protected` answers 400 "Missing token!".
    Missing,
    /// From `Authorization: Bearer <t>` (scheme matched case-insensitively).
    Bearer(&'a str),
    /// From the `token` query parameter (Ask 1.5.0's way), percent-decoded.
    Query(Cow<'a, str>),
}

impl TokenSource<'_> {
    /// The token text, if any.
    pub fn token(&self) -> Option<&str> {
        match self {
            TokenSource::Missing => None,
            TokenSource::Bearer(t) => Some(t),
            TokenSource::Query(t) => Some(t),
        }
    }
}

/// Finds the token of a request. `authorization` is the raw `Authorization` header value (first
/// one, if several); `query` is the raw query string without `?` (e.g. `a=1&token=xyz`).
///
/// A `Bearer` header wins over the query parameter. Any other scheme (`Basic …`), an empty header
/// or `Bearer` without a token count as no header; an empty `token=` counts as missing (1.5.0).
/// When `token` appears several times in the query the first one is used (Flask's `args.get`).
pub fn extract_token<'a>(
    authorization: Option<&'a str>,
    query: Option<&'a str>,
) -> TokenSource<'a> {
    if let Some(h) = authorization {
        let h = h.trim_matches(|c| c == ' ' || c == '\t');
        if h.len() > 6 && h.as_bytes()[..6].eq_ignore_ascii_case(b"bearer") {
            let rest = &h[6..];
            // The scheme must be followed by whitespace: `Bearerxyz` is not a Bearer header.
            if rest.starts_with([' ', '\t']) {
                let t = rest.trim_matches(|c| c == ' ' || c == '\t');
                if !t.is_empty() {
                    return TokenSource::Bearer(t);
                }
            }
        }
    }
    if let Some(q) = query {
        for pair in q.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if percent_decode(name) == "token" {
                let value = percent_decode(value);
                return if value.is_empty() {
                    TokenSource::Missing
                } else {
                    TokenSource::Query(value)
                };
            }
        }
    }
    TokenSource::Missing
}

/// `application/x-www-form-urlencoded` decoding (`+` is a space, `%XX` a byte). Invalid escapes
/// are kept literally and invalid UTF-8 is replaced: such a token then simply fails validation.
fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Why a token was refused (or could not be issued). The server maps every validation error to
/// the same 401; the kinds exist for tests and debug logs. No variant carries token or secret text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    /// Longer than [`MAX_TOKEN_BYTES`]; not decoded at all.
    TooLarge,
    /// Not three base64url segments, undecodable base64, JSON that is not an object, too deeply
    /// nested JSON, …
    Malformed,
    /// Header `alg` is not exactly `"HS256"` (`none` in any casing, HS384, RS256, …).
    Algorithm,
    /// The header has a `crit` member: we implement no extensions, so we must refuse (RFC 7515).
    CriticalHeader,
    /// The HMAC does not match (other secret, edited header or payload, truncated signature).
    Signature,
    /// No `exp` claim (required for `&protected`, unlike 1.5.0).
    MissingExp,
    /// A time claim (`exp`, `nbf`, `iat`) that is not a number.
    BadClaim(&'static str),
    /// `exp` is in the past (allowing the configured leeway).
    Expired,
    /// `nbf` is in the future (allowing the configured leeway).
    NotYetValid,
    /// The secret is empty (cannot sign or verify).
    EmptySecret,
    /// Encoding failed (should not happen for JSON claims).
    Encode,
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            JwtError::TooLarge => "token too large",
            JwtError::Malformed => "malformed token",
            JwtError::Algorithm => "token algorithm is not HS256",
            JwtError::CriticalHeader => "token has a crit header",
            JwtError::Signature => "token signature does not match",
            JwtError::MissingExp => "token has no exp claim",
            JwtError::BadClaim(c) => return write!(f, "token claim {c} is not a number"),
            JwtError::Expired => "token has expired",
            JwtError::NotYetValid => "token is not valid yet (nbf)",
            JwtError::EmptySecret => "the secret is empty",
            JwtError::Encode => "could not encode the token",
        };
        f.write_str(s)
    }
}

impl std::error::Error for JwtError {}

/// Why `&protected` refused a request; see [`Validator::authenticate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// 400 `{"message": "Missing token!"}`.
    Missing,
    /// 401 `{"message": "Invalid token!"}` + `WWW-Authenticate: Bearer error="invalid_token"`.
    Invalid(JwtError),
}

impl Rejection {
    /// HTTP status code of the answer.
    pub fn status(&self) -> u16 {
        match self {
            Rejection::Missing => 400,
            Rejection::Invalid(_) => 401,
        }
    }
    /// JSON body of the answer.
    pub fn body(&self) -> &'static str {
        match self {
            Rejection::Missing => MISSING_TOKEN_BODY,
            Rejection::Invalid(_) => INVALID_TOKEN_BODY,
        }
    }
    /// `WWW-Authenticate` header value to send, if any.
    pub fn www_authenticate(&self) -> Option<&'static str> {
        match self {
            Rejection::Missing => None,
            Rejection::Invalid(_) => Some(WWW_AUTHENTICATE_INVALID),
        }
    }
}

/// A request that passed `&protected`: its token (for `auth.get_token()`) and decoded claims
/// (for `auth.decode()`/`auth.user()`; the VM must not decode again).
#[derive(Debug, Clone, PartialEq)]
pub struct Authenticated {
    pub token: String,
    pub claims: Map<String, Value>,
}

/// Validates (and issues) HS256 tokens for one secret. Build it once per secret and share it
/// (`Arc`): the keys are derived once, `validate` takes `&self` and is thread-safe.
///
/// A client sends the same token with every request, so tokens that passed the full check are
/// remembered (exact token text → claims, a bounded two-generation map): a repeat costs a hash lookup and a
/// clone of the claims instead of base64 + JSON + HMAC, and only the time claims (`exp`, `nbf`)
/// are checked again. Entries are keyed by the whole token, signature included, so a cached entry
/// can only ever answer for the very bytes that were verified; a new secret means a new
/// `Validator` and so an empty cache.
pub struct Validator {
    decoding: DecodingKey,
    encoding: EncodingKey,
    validation: Validation,
    leeway: u64,
    max_token_bytes: usize,
    cache: TokenCache,
}

/// Tokens longer than this are validated every time, never cached (bounds the cache's memory).
const CACHE_MAX_TOKEN_BYTES: usize = 1024;
const CACHE_SHARDS: usize = 8;
/// Entries per shard and generation: at most `2 * 8 * 256 = 4096` tokens of at most 1 KiB.
const CACHE_GENERATION: usize = 256;

/// What is remembered of a verified token.
struct Verified {
    claims: Map<String, Value>,
    exp: f64,
    nbf: Option<f64>,
}

#[derive(Default)]
struct CacheShard {
    cur: HashMap<Box<str>, Arc<Verified>>,
    old: HashMap<Box<str>, Arc<Verified>>,
}

/// Bounded map of verified tokens, two generations per shard like [`crate::limit::Limiter`]'s
/// table: entries not used during a whole generation are forgotten, O(1) amortised, no growth.
struct TokenCache {
    shards: Box<[Mutex<CacheShard>]>,
}

impl TokenCache {
    fn new() -> Self {
        TokenCache {
            shards: (0..CACHE_SHARDS)
                .map(|_| Mutex::new(CacheShard::default()))
                .collect(),
        }
    }

    fn shard(&self, token: &str) -> &Mutex<CacheShard> {
        // A signature character picks the shard: only spreads lock contention, so an attacker
        // choosing it gains nothing (the maps themselves use SipHash with random keys).
        let b = token.as_bytes();
        let i = b.len().checked_sub(2).map_or(0, |i| b[i] as usize);
        &self.shards[i % CACHE_SHARDS]
    }

    fn get(&self, token: &str) -> Option<Arc<Verified>> {
        if token.len() > CACHE_MAX_TOKEN_BYTES {
            return None;
        }
        let mut s = self
            .shard(token)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(v) = s.cur.get(token) {
            return Some(v.clone());
        }
        let (k, v) = s.old.remove_entry(token)?;
        if s.cur.len() >= CACHE_GENERATION {
            let s = &mut *s;
            std::mem::swap(&mut s.cur, &mut s.old);
            s.cur.clear();
        }
        s.cur.insert(k, v.clone());
        Some(v)
    }

    fn insert(&self, token: &str, v: Verified) {
        if token.len() > CACHE_MAX_TOKEN_BYTES {
            return;
        }
        let mut s = self
            .shard(token)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if s.cur.len() >= CACHE_GENERATION {
            let s = &mut *s;
            std::mem::swap(&mut s.cur, &mut s.old);
            s.cur.clear();
        }
        s.cur.insert(token.into(), Arc::new(v));
    }

    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let s = s.lock().unwrap_or_else(PoisonError::into_inner);
                s.cur.len() + s.old.len()
            })
            .sum()
    }
}

impl fmt::Debug for Validator {
    // Hand-written so that the secret can never reach a log through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validator")
            .field("leeway", &self.leeway)
            .finish_non_exhaustive()
    }
}

impl Validator {
    /// `secret`: the HMAC key (the UTF-8 bytes of a configured secret, so 1.5.0's tokens signed
    /// with the same text stay valid). `leeway_secs`: `[auth] leeway` (default 0), tolerance for
    /// clock skew on `exp` and `nbf`.
    pub fn new(secret: &[u8], leeway_secs: u64) -> Result<Self, JwtError> {
        if secret.is_empty() {
            return Err(JwtError::EmptySecret);
        }
        let decoding = DecodingKey::from_secret(secret).map_err(|_| JwtError::EmptySecret)?;
        let encoding = EncodingKey::from_secret(secret).map_err(|_| JwtError::EmptySecret)?;
        // jsonwebtoken checks the algorithm and the signature; the time claims are checked by
        // `check_claims` below against the caller's clock (so one rule set, testable), hence
        // its own time/audience checks are off.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        Ok(Validator {
            decoding,
            encoding,
            validation,
            leeway: leeway_secs,
            max_token_bytes: MAX_TOKEN_BYTES,
            cache: TokenCache::new(),
        })
    }

    /// Changes the size limit (default [`MAX_TOKEN_BYTES`]); meant for tests.
    pub fn with_max_token_bytes(mut self, n: usize) -> Self {
        self.max_token_bytes = n;
        self
    }

    /// The configured leeway in seconds.
    pub fn leeway(&self) -> u64 {
        self.leeway
    }

    /// Checks a token and returns its claims. `now_unix`: the current time in seconds since the
    /// epoch (passed in so that tests and the server's clock agree).
    ///
    /// Refused: over the size limit (before decoding); not `header.payload.signature` in
    /// base64url; header `alg` other than exactly `"HS256"`; a `crit` header; a bad signature;
    /// claims that are not a JSON object or nest deeper than serde_json's limit (128); no `exp`;
    /// `exp`, `nbf` or `iat` not a number; `exp <= now - leeway`; `nbf > now + leeway`.
    /// `kid`, `jku`, `x5u`, `jwk`, `x5c` are ignored: the key is always ours, nothing is fetched.
    pub fn validate(&self, token: &str, now_unix: u64) -> Result<Map<String, Value>, JwtError> {
        if token.len() > self.max_token_bytes {
            return Err(JwtError::TooLarge);
        }
        if let Some(v) = self.cache.get(token) {
            check_times(v.exp, v.nbf, now_unix, self.leeway)?;
            return Ok(v.claims.clone());
        }
        let claims = self.validate_uncached(token, now_unix)?;
        if token.len() <= CACHE_MAX_TOKEN_BYTES {
            // Both are numbers: `validate_uncached` checked them.
            let exp = claims
                .get("exp")
                .and_then(claim_number)
                .unwrap_or(f64::NEG_INFINITY);
            let nbf = claims.get("nbf").and_then(claim_number);
            self.cache.insert(
                token,
                Verified {
                    claims: claims.clone(),
                    exp,
                    nbf,
                },
            );
        }
        Ok(claims)
    }

    /// Number of verified tokens currently remembered.
    pub fn cached_tokens(&self) -> usize {
        self.cache.len()
    }

    /// The full check of [`validate`](Self::validate), without the cache.
    pub fn validate_uncached(
        &self,
        token: &str,
        now_unix: u64,
    ) -> Result<Map<String, Value>, JwtError> {
        if token.len() > self.max_token_bytes {
            return Err(JwtError::TooLarge);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(_payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        if signature.is_empty() {
            return Err(JwtError::Signature);
        }
        if !CANONICAL_HEADERS.contains(&header) {
            check_header(header)?;
        }
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(token, &self.decoding, &self.validation)
                .map_err(map_jwt_error)?;
        check_claims(&data.claims, now_unix, self.leeway)?;
        Ok(data.claims)
    }

    /// The whole `&protected` check for one request: find the token ([`extract_token`]) and
    /// validate it.
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
        query: Option<&str>,
        now_unix: u64,
    ) -> Result<Authenticated, Rejection> {
        let source = extract_token(authorization, query);
        let Some(token) = source.token() else {
            return Err(Rejection::Missing);
        };
        match self.validate(token, now_unix) {
            Ok(claims) => Ok(Authenticated {
                token: token.to_owned(),
                claims,
            }),
            Err(e) => Err(Rejection::Invalid(e)),
        }
    }

    /// Signs `claims` with this validator's secret (see [`encode`]).
    pub fn encode(&self, claims: &Map<String, Value>) -> Result<String, JwtError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|_| JwtError::Encode)
    }
}

/// Parses and checks a non-canonical header segment.
fn check_header(segment: &str) -> Result<(), JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| JwtError::Malformed)?;
    // serde_json refuses nesting deeper than 128 levels with an error (no stack overflow).
    let header: Map<String, Value> =
        serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)?;
    match header.get("alg") {
        Some(Value::String(a)) if a == "HS256" => {}
        _ => return Err(JwtError::Algorithm),
    }
    if header.contains_key("crit") {
        return Err(JwtError::CriticalHeader);
    }
    Ok(())
}

fn map_jwt_error(e: jsonwebtoken::errors::Error) -> JwtError {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::InvalidSignature => JwtError::Signature,
        K::InvalidAlgorithm | K::MissingAlgorithm | K::InvalidAlgorithmName => JwtError::Algorithm,
        K::ExpiredSignature => JwtError::Expired,
        K::ImmatureSignature => JwtError::NotYetValid,
        _ => JwtError::Malformed,
    }
}

/// A JSON number as f64, or `None` for anything else (strings such as `"123"` are refused, as
/// are `null` and booleans).
fn claim_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// Time-claim rules (PyJWT's comparisons, `exp` made mandatory).
fn check_claims(claims: &Map<String, Value>, now: u64, leeway: u64) -> Result<(), JwtError> {
    let exp = claims.get("exp").ok_or(JwtError::MissingExp)?;
    let exp = claim_number(exp).ok_or(JwtError::BadClaim("exp"))?;
    let nbf = match claims.get("nbf") {
        Some(nbf) => Some(claim_number(nbf).ok_or(JwtError::BadClaim("nbf"))?),
        None => None,
    };
    if let Some(iat) = claims.get("iat") {
        claim_number(iat).ok_or(JwtError::BadClaim("iat"))?;
    }
    check_times(exp, nbf, now, leeway)
}

/// Expired when `exp <= now - leeway`; not yet valid when `nbf > now + leeway`.
fn check_times(exp: f64, nbf: Option<f64>, now: u64, leeway: u64) -> Result<(), JwtError> {
    let now = now as f64;
    let leeway = leeway as f64;
    if exp <= now - leeway {
        return Err(JwtError::Expired);
    }
    if nbf.is_some_and(|nbf| nbf > now + leeway) {
        return Err(JwtError::NotYetValid);
    }
    Ok(())
}

/// Signs `claims` as an HS256 token with header `{"typ":"JWT","alg":"HS256"}`.
///
/// `exp` is not required here (`auth.encode(payload)` in 1.5.0 did not require it), but a token
/// without a numeric `exp` is refused by `&protected` and by [`Validator::validate`]. Callers
/// convert a datetime `exp` to an integer Unix timestamp before calling.
pub fn encode(claims: &Map<String, Value>, secret: &[u8]) -> Result<String, JwtError> {
    if secret.is_empty() {
        return Err(JwtError::EmptySecret);
    }
    let key = EncodingKey::from_secret(secret).map_err(|_| JwtError::EmptySecret)?;
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).map_err(|_| JwtError::Encode)
}

/// Seconds since the Unix epoch from the system clock (0 if the clock is before 1970).
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Claims of `auth.login(user, seconds)`: `{"user": user, "exp": now + seconds}` (no `iat`, as
/// 1.5.0). A negative `seconds` gives an already expired token, as in 1.5.0.
pub fn login_claims(user: Value, seconds: i64, now_unix: u64) -> Map<String, Value> {
    let now = i64::try_from(now_unix).unwrap_or(i64::MAX);
    let mut m = Map::new();
    m.insert("user".to_owned(), user);
    m.insert("exp".to_owned(), Value::from(now.saturating_add(seconds)));
    m
}

#[cfg(test)]
mod tests;
