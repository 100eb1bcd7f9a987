//! Unit tests of the JWT rules. Bad tokens are crafted by hand (base64url of JSON + an HMAC
//! computed here with plain SHA-256), independent of jsonwebtoken's own encoder.

use super::*;
use serde_json::json;
use sha2::{Digest, Sha256};

const SECRET: &[u8] = b"test-secret-0123456789abcdef-0123456789";
const NOW: u64 = 1_700_000_000;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let mut inner = Sha256::new();
    inner.update(&ipad);
    inner.update(msg);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(&opad);
    outer.update(inner);
    outer.finalize().to_vec()
}

/// A token from raw header/payload JSON text, HS256-signed with `secret`.
fn craft(header: &str, payload: &str, secret: &[u8]) -> String {
    let msg = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let sig = hmac_sha256(secret, msg.as_bytes());
    format!("{msg}.{}", b64(&sig))
}

fn hs256(payload: &str) -> String {
    craft(r#"{"alg":"HS256","typ":"JWT"}"#, payload, SECRET)
}

fn v() -> Validator {
    Validator::new(SECRET, 0).unwrap()
}

fn ok_payload() -> String {
    format!(r#"{{"user":"ada","exp":{}}}"#, NOW + 300)
}

#[test]
fn canonical_header_constants_are_right() {
    assert_eq!(CANONICAL_HEADERS[0], b64(br#"{"alg":"HS256","typ":"JWT"}"#));
    assert_eq!(CANONICAL_HEADERS[1], b64(br#"{"typ":"JWT","alg":"HS256"}"#));
}

// ---- extraction ----------------------------------------------------------------------------

#[test]
fn missing_token_cases() {
    assert_eq!(extract_token(None, None), TokenSource::Missing);
    assert_eq!(extract_token(Some(""), None), TokenSource::Missing);
    assert_eq!(extract_token(Some("   "), None), TokenSource::Missing);
    assert_eq!(
        extract_token(Some("Basic dXNlcjpwYXNz"), None),
        TokenSource::Missing
    );
    assert_eq!(extract_token(Some("Bearer"), None), TokenSource::Missing);
    assert_eq!(extract_token(Some("Bearer   "), None), TokenSource::Missing);
    assert_eq!(extract_token(Some("Bearerabc"), None), TokenSource::Missing);
    assert_eq!(extract_token(None, Some("")), TokenSource::Missing);
    assert_eq!(extract_token(None, Some("token=")), TokenSource::Missing);
    assert_eq!(extract_token(None, Some("token")), TokenSource::Missing);
    assert_eq!(extract_token(None, Some("a=1&b=2")), TokenSource::Missing);
    assert_eq!(
        extract_token(None, Some("tokens=abc")),
        TokenSource::Missing
    );
}

#[test]
fn bearer_header_any_case() {
    assert_eq!(
        extract_token(Some("Bearer abc.def.ghi"), None),
        TokenSource::Bearer("abc.def.ghi")
    );
    assert_eq!(
        extract_token(Some("bearer abc"), None),
        TokenSource::Bearer("abc")
    );
    assert_eq!(
        extract_token(Some("BEARER\tabc "), None),
        TokenSource::Bearer("abc")
    );
    // The header wins over the query parameter.
    assert_eq!(
        extract_token(Some("Bearer h"), Some("token=q")),
        TokenSource::Bearer("h")
    );
    // A Basic header does not hide the query parameter.
    assert_eq!(
        extract_token(Some("Basic x"), Some("token=q")),
        TokenSource::Query(Cow::Borrowed("q"))
    );
}

#[test]
fn query_parameter() {
    assert_eq!(extract_token(None, Some("token=abc")).token(), Some("abc"));
    assert_eq!(
        extract_token(None, Some("x=1&token=abc&token=zzz")).token(),
        Some("abc")
    );
    assert_eq!(
        extract_token(None, Some("to%6Ben=a%2Eb")).token(),
        Some("a.b")
    );
    assert_eq!(
        extract_token(None, Some("token=a+b%zz%4")).token(),
        Some("a b%zz%4")
    );
}

// ---- valid tokens ----------------------------------------------------------------------------

#[test]
fn valid_token_by_header_and_query() {
    let t = hs256(&ok_payload());
    let auth = v()
        .authenticate(Some(&format!("Bearer {t}")), None, NOW)
        .unwrap();
    assert_eq!(auth.claims["user"], json!("ada"));
    assert_eq!(auth.token, t);
    let auth = v()
        .authenticate(Some(&format!("bearer {t}")), None, NOW)
        .unwrap();
    assert_eq!(auth.claims["user"], json!("ada"));
    let auth = v()
        .authenticate(None, Some(&format!("token={t}")), NOW)
        .unwrap();
    assert_eq!(auth.claims["user"], json!("ada"));
}

#[test]
fn missing_and_invalid_rejections() {
    let r = v().authenticate(None, None, NOW).unwrap_err();
    assert_eq!(
        (r.status(), r.body(), r.www_authenticate()),
        (400, MISSING_TOKEN_BODY, None)
    );
    let r = v().authenticate(Some("Basic abc"), None, NOW).unwrap_err();
    assert_eq!(r, Rejection::Missing);
    let r = v()
        .authenticate(Some("Bearer garbage"), None, NOW)
        .unwrap_err();
    assert_eq!(r.status(), 401);
    assert_eq!(r.body(), INVALID_TOKEN_BODY);
    assert_eq!(
        r.www_authenticate(),
        Some(r#"Bearer error="invalid_token""#)
    );
}

#[test]
fn encode_roundtrip_and_login_claims() {
    let claims = login_claims(json!("grace"), 600, NOW);
    assert_eq!(
        Value::Object(claims.clone()),
        json!({"user": "grace", "exp": NOW + 600})
    );
    let t = encode(&claims, SECRET).unwrap();
    assert_eq!(v().validate(&t, NOW).unwrap(), claims);
    let t2 = v().encode(&claims).unwrap();
    assert_eq!(v().validate(&t2, NOW).unwrap(), claims);
    // Negative seconds: an already expired token.
    let t = encode(&login_claims(json!("x"), -10, NOW), SECRET).unwrap();
    assert_eq!(v().validate(&t, NOW), Err(JwtError::Expired));
    assert_eq!(encode(&claims, b""), Err(JwtError::EmptySecret));
    assert!(Validator::new(b"", 0).is_err());
}

#[test]
fn pyjwt_style_token_and_extra_header_fields() {
    // Header with kid/jku/x5u/jwk: accepted, never used (no I/O, the key is ours).
    let h = r#"{"alg":"HS256","typ":"JWT","kid":"k1","jku":"http://127.0.0.1:9/x","x5u":"http://127.0.0.1:9/y","jwk":{"kty":"oct","k":"AAAA"}}"#;
    let t = craft(h, &ok_payload(), SECRET);
    assert!(v().validate(&t, NOW).is_ok());
    // No typ at all is fine.
    let t = craft(r#"{"alg":"HS256"}"#, &ok_payload(), SECRET);
    assert!(v().validate(&t, NOW).is_ok());
    // A float exp is a number too.
    let t = hs256(&format!(r#"{{"exp":{}.5}}"#, NOW + 10));
    assert!(v().validate(&t, NOW).is_ok());
}

// ---- invalid tokens ----------------------------------------------------------------------------

#[test]
fn flipped_signature_byte() {
    let t = hs256(&ok_payload());
    let (msg, sig) = t.rsplit_once('.').unwrap();
    let mut raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
    raw[0] ^= 0x01;
    let bad = format!("{msg}.{}", b64(&raw));
    assert_eq!(v().validate(&bad, NOW), Err(JwtError::Signature));
    // Truncated signature.
    let bad = format!("{msg}.{}", b64(&raw[..16]));
    assert!(v().validate(&bad, NOW).is_err());
}

#[test]
fn empty_signature_and_segment_counts() {
    let t = hs256(&ok_payload());
    let (msg, _) = t.rsplit_once('.').unwrap();
    assert!(v().validate(&format!("{msg}."), NOW).is_err());
    assert!(v().validate(msg, NOW).is_err()); // two segments
    assert!(v().validate(&format!("{t}.xyz"), NOW).is_err()); // four segments
    assert!(v().validate(&format!("{t}."), NOW).is_err());
    for garbage in [
        "",
        ".",
        "..",
        "not-a-jwt",
        "a.b.c",
        "!!!.@@@.###",
        "é.é.é",
        "eyJ.eyJ.eyJ",
    ] {
        assert!(v().validate(garbage, NOW).is_err(), "{garbage:?} accepted");
    }
}

#[test]
fn alg_none_in_any_casing() {
    for alg in ["none", "None", "NONE", "nOnE"] {
        let h = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
        // Unsigned (empty signature) and "signed" variants are both refused.
        let unsigned = format!("{}.{}.", b64(h.as_bytes()), b64(ok_payload().as_bytes()));
        assert!(
            v().validate(&unsigned, NOW).is_err(),
            "{alg} unsigned accepted"
        );
        let signed = craft(&h, &ok_payload(), SECRET);
        assert_eq!(
            v().validate(&signed, NOW),
            Err(JwtError::Algorithm),
            "{alg}"
        );
    }
}

#[test]
fn other_algorithms_refused() {
    for alg in [
        "HS384", "HS512", "RS256", "ES256", "PS256", "EdDSA", "hs256", "HS256 ", "",
    ] {
        let h = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
        // Even with an HMAC-SHA256 signature under the right secret.
        let t = craft(&h, &ok_payload(), SECRET);
        assert_eq!(v().validate(&t, NOW), Err(JwtError::Algorithm), "{alg:?}");
    }
    for h in [
        r#"{"typ":"JWT"}"#,
        r#"{"alg":null}"#,
        r#"{"alg":["HS256"]}"#,
        r#"{"alg":256}"#,
    ] {
        let t = craft(h, &ok_payload(), SECRET);
        assert_eq!(v().validate(&t, NOW), Err(JwtError::Algorithm), "{h}");
    }
    // A real HS512 token with the right secret (as the conformance runner crafts it).
    let t = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &json!({"user": "ada", "exp": NOW + 300}),
        &EncodingKey::from_secret(SECRET).unwrap(),
    )
    .unwrap();
    assert_eq!(v().validate(&t, NOW), Err(JwtError::Algorithm));
}

#[test]
fn other_secret_refused() {
    let t = craft(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &ok_payload(),
        b"some-other-secret-0123456789abcdef",
    );
    assert_eq!(v().validate(&t, NOW), Err(JwtError::Signature));
}

#[test]
fn payload_edited_after_signing() {
    let t = hs256(&ok_payload());
    let parts: Vec<&str> = t.split('.').collect();
    let edited = ok_payload().replace("ada", "eve");
    let bad = format!("{}.{}.{}", parts[0], b64(edited.as_bytes()), parts[2]);
    assert_eq!(v().validate(&bad, NOW), Err(JwtError::Signature));
    // Header edited (alg unchanged, typ changed) breaks the signature too.
    let bad = format!(
        "{}.{}.{}",
        b64(br#"{"alg":"HS256","typ":"JWS"}"#),
        parts[1],
        parts[2]
    );
    assert_eq!(v().validate(&bad, NOW), Err(JwtError::Signature));
}

#[test]
fn exp_rules() {
    assert_eq!(
        v().validate(&hs256(r#"{"user":"ada"}"#), NOW),
        Err(JwtError::MissingExp)
    );
    assert_eq!(
        v().validate(&hs256(r#"{}"#), NOW),
        Err(JwtError::MissingExp)
    );
    let past = hs256(&format!(r#"{{"user":"ada","exp":{}}}"#, NOW - 600));
    assert_eq!(v().validate(&past, NOW), Err(JwtError::Expired));
    // exp == now is expired (PyJWT: exp <= now).
    let now_exp = hs256(&format!(r#"{{"exp":{NOW}}}"#));
    assert_eq!(v().validate(&now_exp, NOW), Err(JwtError::Expired));
    assert!(v().validate(&now_exp, NOW - 1).is_ok());
    let s = hs256(&format!(r#"{{"exp":"{}"}}"#, NOW + 600));
    assert_eq!(v().validate(&s, NOW), Err(JwtError::BadClaim("exp")));
    assert_eq!(
        v().validate(&hs256(r#"{"exp":null}"#), NOW),
        Err(JwtError::BadClaim("exp"))
    );
    assert_eq!(
        v().validate(&hs256(r#"{"exp":true}"#), NOW),
        Err(JwtError::BadClaim("exp"))
    );
    // (jsonwebtoken's own claim pre-parse already chokes on an array: still refused.)
    assert!(v().validate(&hs256(r#"{"exp":[1]}"#), NOW).is_err());
    assert!(v().validate(&hs256(r#"{"exp":{"a":1}}"#), NOW).is_err());
    assert_eq!(
        v().validate(&hs256(r#"{"exp":-5}"#), NOW),
        Err(JwtError::Expired)
    );
}

#[test]
fn leeway_applies_to_exp_and_nbf() {
    let lv = Validator::new(SECRET, 30).unwrap();
    let recent = hs256(&format!(r#"{{"exp":{}}}"#, NOW - 10));
    assert!(lv.validate(&recent, NOW).is_ok());
    assert_eq!(v().validate(&recent, NOW), Err(JwtError::Expired));
    let old = hs256(&format!(r#"{{"exp":{}}}"#, NOW - 30));
    assert_eq!(lv.validate(&old, NOW), Err(JwtError::Expired));
    let soon = hs256(&format!(r#"{{"exp":{},"nbf":{}}}"#, NOW + 300, NOW + 20));
    assert!(lv.validate(&soon, NOW).is_ok());
    assert_eq!(v().validate(&soon, NOW), Err(JwtError::NotYetValid));
}

#[test]
fn nbf_and_iat() {
    let future = hs256(&format!(r#"{{"exp":{},"nbf":{}}}"#, NOW + 300, NOW + 60));
    assert_eq!(v().validate(&future, NOW), Err(JwtError::NotYetValid));
    let past = hs256(&format!(r#"{{"exp":{},"nbf":{}}}"#, NOW + 300, NOW - 60));
    assert!(v().validate(&past, NOW).is_ok());
    let now_nbf = hs256(&format!(r#"{{"exp":{},"nbf":{NOW}}}"#, NOW + 300));
    assert!(v().validate(&now_nbf, NOW).is_ok());
    let bad = hs256(&format!(r#"{{"exp":{},"nbf":"soon"}}"#, NOW + 300));
    assert_eq!(v().validate(&bad, NOW), Err(JwtError::BadClaim("nbf")));
    let bad = hs256(&format!(r#"{{"exp":{},"iat":"x"}}"#, NOW + 300));
    assert_eq!(v().validate(&bad, NOW), Err(JwtError::BadClaim("iat")));
    // aud is not checked (no audience configured); sub/iss of any type are just data.
    let t = hs256(&format!(
        r#"{{"exp":{},"aud":"other","sub":5,"iss":[1]}}"#,
        NOW + 300
    ));
    assert!(v().validate(&t, NOW).is_ok());
}

#[test]
fn duplicate_alg_members_refused() {
    for h in [
        r#"{"alg":"HS256","alg":"none"}"#,
        r#"{"alg":"none","alg":"HS256"}"#,
    ] {
        let t = craft(h, &ok_payload(), SECRET);
        assert!(v().validate(&t, NOW).is_err(), "{h}");
    }
}

#[test]
fn crit_header_refused() {
    for h in [
        r#"{"alg":"HS256","typ":"JWT","crit":["exp"],"exp":1}"#,
        r#"{"alg":"HS256","crit":["b64"],"b64":true}"#,
        r#"{"alg":"HS256","crit":[]}"#,
    ] {
        let t = craft(h, &ok_payload(), SECRET);
        assert_eq!(v().validate(&t, NOW), Err(JwtError::CriticalHeader), "{h}");
    }
}

#[test]
fn claims_must_be_an_object() {
    for p in ["[1,2]", "\"ada\"", "42", "null", "", "{", r#"{"exp":1"#] {
        let t = hs256(p);
        assert_eq!(v().validate(&t, NOW), Err(JwtError::Malformed), "{p:?}");
    }
    for h in ["[]", "\"HS256\"", "", "{"] {
        let t = craft(h, &ok_payload(), SECRET);
        assert!(v().validate(&t, NOW).is_err(), "{h:?}");
    }
}

fn deep(depth: usize) -> String {
    format!(
        r#"{{"exp":{},"a":{}{}}}"#,
        NOW + 300,
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

#[test]
fn deeply_nested_claims_refused_without_crash() {
    // 10,000 levels: over the 8 KiB limit, refused before decoding.
    let t = hs256(&deep(10_000));
    assert_eq!(v().validate(&t, NOW), Err(JwtError::TooLarge));
    // The same token with the size limit lifted: serde_json's recursion limit (128) refuses it.
    let big = v().with_max_token_bytes(1 << 20);
    assert_eq!(big.validate(&t, NOW), Err(JwtError::Malformed));
    // 2,900 levels fit in 8 KiB: refused by the recursion limit, no stack overflow.
    let t = hs256(&deep(2_900));
    assert!(t.len() <= MAX_TOKEN_BYTES);
    assert_eq!(v().validate(&t, NOW), Err(JwtError::Malformed));
    // 100 levels are fine.
    assert!(v().validate(&hs256(&deep(100)), NOW).is_ok());
    // A deeply nested header is refused too.
    let h = format!(
        r#"{{"alg":"HS256","x":{}{}}}"#,
        "[".repeat(2_000),
        "]".repeat(2_000)
    );
    assert_eq!(
        v().validate(&craft(&h, &ok_payload(), SECRET), NOW),
        Err(JwtError::Malformed)
    );
}

#[test]
fn oversized_token_refused_before_decoding() {
    let pad = "x".repeat(20 * 1024);
    let t = hs256(&format!(r#"{{"exp":{},"pad":"{pad}"}}"#, NOW + 300));
    assert!(t.len() > 20 * 1024);
    assert_eq!(v().validate(&t, NOW), Err(JwtError::TooLarge));
    // 20 KiB of garbage as well.
    assert_eq!(
        v().validate(&"a".repeat(20 * 1024), NOW),
        Err(JwtError::TooLarge)
    );
    // Just under the limit is decoded normally.
    let pad = "x".repeat(5_000);
    let t = hs256(&format!(r#"{{"exp":{},"pad":"{pad}"}}"#, NOW + 300));
    assert!(t.len() <= MAX_TOKEN_BYTES);
    assert!(v().validate(&t, NOW).is_ok());
}

#[test]
fn errors_never_contain_the_secret() {
    let s = format!("{:?}", v());
    assert!(!s.contains("test-secret"));
    for e in [
        JwtError::Signature,
        JwtError::BadClaim("exp"),
        JwtError::TooLarge,
    ] {
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn cache_remembers_verified_tokens_only_and_rechecks_time() {
    let val = v();
    let t = hs256(&format!(
        r#"{{"user":"ada","exp":{},"nbf":{}}}"#,
        NOW + 100,
        NOW - 10
    ));
    assert_eq!(val.validate(&t, NOW).unwrap()["user"], json!("ada"));
    assert_eq!(val.cached_tokens(), 1);
    // A hit gives the same claims.
    assert_eq!(val.validate(&t, NOW + 1).unwrap()["user"], json!("ada"));
    // Time claims are checked again on every hit.
    assert_eq!(val.validate(&t, NOW + 100), Err(JwtError::Expired));
    assert_eq!(val.validate(&t, NOW - 20), Err(JwtError::NotYetValid));
    // Failed tokens are never cached; a one-byte change is a different token.
    let bad = format!("{}x", &t[..t.len() - 1]);
    assert!(val.validate(&bad, NOW).is_err());
    let (msg, _) = t.rsplit_once('.').unwrap();
    assert!(val.validate(&format!("{msg}.AAAA"), NOW).is_err());
    assert_eq!(val.cached_tokens(), 1);
    // Big tokens are not cached.
    let pad = "x".repeat(2_000);
    let big = hs256(&format!(r#"{{"exp":{},"pad":"{pad}"}}"#, NOW + 300));
    assert!(val.validate(&big, NOW).is_ok());
    assert_eq!(val.cached_tokens(), 1);
    // A validator for another secret has its own (empty) cache.
    let other = Validator::new(b"another-secret-0123456789abcdef-0123", 0).unwrap();
    assert_eq!(other.validate(&t, NOW), Err(JwtError::Signature));
}

#[test]
fn cache_is_bounded() {
    let val = v();
    for i in 0..10_000u64 {
        let t = hs256(&format!(r#"{{"n":{i},"exp":{}}}"#, NOW + 300));
        assert!(val.validate(&t, NOW).is_ok());
    }
    assert!(val.cached_tokens() <= CACHE_SHARDS * CACHE_GENERATION * 2);
    // Still correct after many rotations.
    let t = hs256(&format!(r#"{{"n":1,"exp":{}}}"#, NOW + 300));
    assert_eq!(val.validate(&t, NOW).unwrap()["n"], json!(1));
    assert_eq!(val.validate(&t, NOW).unwrap()["n"], json!(1));
}
