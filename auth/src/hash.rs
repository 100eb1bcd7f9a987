//! Password hashing for `hash.hash` / `hash.check` / `hash.sha256`: Argon2id PHC strings with
//! OWASP's parameters, plus verification of the unsalted SHA-256 hex digests Ask 1.5.0 stored.
//!
//! Argon2id is deliberately slow (≈ 20 MiB and tens of milliseconds per call): the server must run
//! [`hash_password`] and [`check_password`] off its async workers (`spawn_blocking`) behind a
//! semaphore (`max_concurrent_hashes`, default: the number of cores), so a login flood queues
//! instead of starving other requests and memory stays bounded (≈ 19 MiB × the cap).

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// Longest text (password) accepted by [`hash_password`] / [`check_password`], in bytes; also
/// the longest stored hash [`check_password`] looks at.
pub const MAX_INPUT_BYTES: usize = 4 * 1024;

/// OWASP Password Storage Cheat Sheet, Argon2id option 2: m = 19 MiB, t = 2, p = 1.
pub const M_COST_KIB: u32 = 19 * 1024;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

/// Limits on the parameters of a *stored* PHC string that [`check_password`] will run. Stored
/// hashes may come from a request (`hash.check(body['hashed'], …)`), and Argon2's cost is chosen by
/// the string: without a cap, one request could ask for gigabytes of memory.
pub const MAX_VERIFY_M_COST_KIB: u32 = 256 * 1024;
pub const MAX_VERIFY_T_COST: u32 = 16;
pub const MAX_VERIFY_P_COST: u32 = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashError {
    /// The text is longer than [`MAX_INPUT_BYTES`].
    TooLong { len: usize },
    /// Argon2 or the OS random generator failed (should not happen).
    Internal(String),
}

impl std::fmt::Display for HashError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HashError::TooLong { len } => {
                write!(
                    f,
                    "text to hash is {len} bytes long; the limit is {MAX_INPUT_BYTES} bytes"
                )
            }
            HashError::Internal(m) => write!(f, "hashing failed: {m}"),
        }
    }
}

impl std::error::Error for HashError {}

fn hasher() -> Argon2<'static> {
    // The constants are valid Argon2 parameters; `Params::new` cannot fail for them.
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// `hash.hash(text)`: an Argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`)
/// with a fresh random 16-byte salt. Slow on purpose: call it off the async workers.
pub fn hash_password(text: &str) -> Result<String, HashError> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(HashError::TooLong { len: text.len() });
    }
    hasher()
        .hash_password(text.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| HashError::Internal(e.to_string()))
}

/// `hash.check(hashed, text)`: true when `text` matches `hashed`, which is either a PHC string
/// (`$argon2id$…`, also `$argon2i$`/`$argon2d$`, within the `MAX_VERIFY_*` cost caps) or a 64-hex
/// SHA-256 digest as Ask 1.5.0 stored (compared in constant time). Anything else, and any input
/// over [`MAX_INPUT_BYTES`], is simply false (no error: a corrupt stored hash must not turn a
/// login into a 500).
pub fn check_password(hashed: &str, text: &str) -> bool {
    if text.len() > MAX_INPUT_BYTES || hashed.len() > MAX_INPUT_BYTES {
        return false;
    }
    if hashed.len() == 64 && hashed.bytes().all(|b| b.is_ascii_hexdigit()) {
        let Some(stored) = crate::secret::parse_hex(hashed) else {
            return false;
        };
        let computed = Sha256::digest(text.as_bytes());
        return bool::from(computed.as_slice().ct_eq(&stored));
    }
    if !hashed.starts_with('$') {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(hashed) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    if params.m_cost() > MAX_VERIFY_M_COST_KIB
        || params.t_cost() > MAX_VERIFY_T_COST
        || params.p_cost() > MAX_VERIFY_P_COST
    {
        return false;
    }
    // `verify_password` takes algorithm, version and parameters from the PHC string and compares
    // the outputs in constant time.
    Argon2::default()
        .verify_password(text.as_bytes(), &parsed)
        .is_ok()
}

/// `hash.sha256(text)`: lower-case hex SHA-256 of the UTF-8 text (1.5.0's `hash.hash`). Not
/// limited in size: it is a plain, fast digest, also used for data.
pub fn sha256_hex(text: &str) -> String {
    crate::secret::to_hex(&Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET_SHA: &str = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";

    #[test]
    fn sha256_matches_1_5_0() {
        assert_eq!(sha256_hex("secret"), SECRET_SHA);
        assert_eq!(
            sha256_hex("café"),
            "850f7dc43910ff890f8879c0ed26fe697c93a067ad93a7d50f466a7028a9bf4e"
        );
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn argon2id_phc_roundtrip_and_salted() {
        let a = hash_password("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        let b = hash_password("correct horse").unwrap();
        assert_ne!(a, b);
        assert!(check_password(&a, "correct horse"));
        assert!(check_password(&b, "correct horse"));
        assert!(!check_password(&a, "correct horse "));
        assert!(!check_password(&a, ""));
        // Tampered hash.
        let mut t = a.clone();
        let last = t.pop().unwrap();
        t.push(if last == 'A' { 'B' } else { 'A' });
        assert!(!check_password(&t, "correct horse"));
    }

    #[test]
    fn legacy_sha256_digests() {
        assert!(check_password(SECRET_SHA, "secret"));
        assert!(check_password(&SECRET_SHA.to_uppercase(), "secret"));
        assert!(!check_password(SECRET_SHA, "Secret"));
        assert!(check_password(
            "850f7dc43910ff890f8879c0ed26fe697c93a067ad93a7d50f466a7028a9bf4e",
            "café"
        ));
        // 63 or 65 hex digits are not digests.
        assert!(!check_password(&SECRET_SHA[..63], "secret"));
        assert!(!check_password(&format!("{SECRET_SHA}0"), "secret"));
    }

    #[test]
    fn garbage_hashes_are_false() {
        for h in [
            "",
            "plain",
            "$",
            "$argon2id$",
            "$argon2id$v=19$m=x,t=2,p=1$abc$def",
            "$md5$abc",
            "$scrypt$ln=1$a$b",
        ] {
            assert!(!check_password(h, "x"), "{h:?}");
        }
    }

    #[test]
    fn other_argon2_variants_verify_and_costs_are_capped() {
        let salt = b"0123456789abcdef";
        let small = Params::new(64, 1, 1, None).unwrap();
        for alg in [Algorithm::Argon2i, Algorithm::Argon2d, Algorithm::Argon2id] {
            let h = Argon2::new(alg, Version::V0x13, small.clone())
                .hash_password_with_salt(b"pw", salt)
                .unwrap()
                .to_string();
            assert!(check_password(&h, "pw"), "{h}");
            assert!(!check_password(&h, "pw2"));
        }
        // A stored string asking for 4 GiB of memory is refused without running it.
        let h = Argon2::new(Algorithm::Argon2id, Version::V0x13, small)
            .hash_password_with_salt(b"pw", salt)
            .unwrap()
            .to_string()
            .replace("m=64,", "m=4194304,");
        assert!(!check_password(&h, "pw"));
    }

    #[test]
    fn input_size_limit() {
        let long = "x".repeat(MAX_INPUT_BYTES + 1);
        assert_eq!(
            hash_password(&long),
            Err(HashError::TooLong {
                len: MAX_INPUT_BYTES + 1
            })
        );
        assert!(!check_password(SECRET_SHA, &long));
        assert!(!check_password(&long, "secret"));
        let ok = "x".repeat(MAX_INPUT_BYTES);
        assert!(check_password(&sha256_hex(&ok), &ok));
        assert!(HashError::TooLong { len: 5000 }
            .to_string()
            .contains("4096"));
    }
}
