//! Auth and route security over a real loopback server (issue 5): `&protected` against crafted
//! tokens (cases as data in `tests/http_auth/cases.toml`), request-scoped `auth` under
//! concurrency, the signup → login → protected flow, a login flood next to a control route,
//! `&limit` per route and per client, `auth.encode` with a datetime `exp`, and the access log
//! never showing a token. The program is `tests/http_auth/main.ask`; its secret comes from the
//! `.env` beside it (so the `.env` loading is exercised too).

#[path = "http/client.rs"]
mod client;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};

const SECRET: &str = "auth-test-secret-0123456789-abcdefghijklmnop";

fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/http_auth")
}

/// Serve `tests/http_auth/main.ask`; returns the address.
fn serve() -> SocketAddr {
    client::serve_file(folder().join("main.ask"))
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// `{now+N}` / `{now-N}` → Unix times.
fn times(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("{now") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('}').map(|e| i + e).expect("closing brace");
        let expr = &rest[i + 4..end];
        let n: i64 = expr.trim_start_matches('+').parse().expect("{now±N}");
        out.push_str(&(now() + n).to_string());
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn sign(alg: &str, key: &[u8], data: &[u8]) -> Vec<u8> {
    match alg {
        "HS384" => {
            let mut m = Hmac::<sha2::Sha384>::new_from_slice(key).unwrap();
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        "HS512" => {
            let mut m = Hmac::<sha2::Sha512>::new_from_slice(key).unwrap();
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        _ => {
            let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
    }
}

/// An HS256 token for `payload` (raw JSON) signed with the test secret.
fn token(payload: &str) -> String {
    craft("HS256", None, payload, SECRET)
}

fn craft(alg: &str, header: Option<&str>, payload: &str, secret: &str) -> String {
    let header = header.map(str::to_string).unwrap_or_else(|| format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
    let signing = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.as_bytes()), URL_SAFE_NO_PAD.encode(payload.as_bytes()));
    let sig = sign(alg, secret.as_bytes(), signing.as_bytes());
    format!("{signing}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn case_token(spec: &toml::Table) -> String {
    let s = |k: &str| spec.get(k).and_then(|v| v.as_str());
    let alg = s("alg").unwrap_or("HS256");
    let secret = s("secret").unwrap_or(SECRET);
    let mut payload = times(s("payload").unwrap_or(r#"{"user":"ada","exp":{now+300}}"#));
    match s("mutate") {
        Some("garbage") => return "garbage-not-a-jwt".into(),
        Some("nest") => {
            let depth = 10_000;
            payload = format!(r#"{{"user":"ada","exp":{},"x":{}{}}}"#, now() + 300, "[".repeat(depth), "]".repeat(depth));
        }
        Some("pad") => {
            payload = format!(r#"{{"user":"ada","exp":{},"pad":"{}"}}"#, now() + 300, "a".repeat(20 * 1024));
        }
        _ => {}
    }
    let t = craft(alg, s("header").map(times).as_deref(), &payload, secret);
    let parts: Vec<&str> = t.split('.').collect();
    match s("mutate") {
        Some("flip_sig") => {
            let mut sig: Vec<u8> = parts[2].bytes().collect();
            sig[0] = if sig[0] == b'A' { b'B' } else { b'A' };
            format!("{}.{}.{}", parts[0], parts[1], String::from_utf8(sig).unwrap())
        }
        Some("empty_sig") => format!("{}.{}.", parts[0], parts[1]),
        Some("two_segments") => format!("{}.{}", parts[0], parts[1]),
        Some("four_segments") => format!("{t}.{}", parts[2]),
        Some("edit_payload") => {
            let edited = payload.replace("\"ada\"", "\"eve\"");
            format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(edited.as_bytes()), parts[2])
        }
        _ => t,
    }
}

#[test]
fn crafted_tokens() {
    let addr = serve();
    let text = std::fs::read_to_string(folder().join("cases.toml")).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    let mut failures = Vec::new();
    for case in doc["case"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let via = case.get("via").and_then(|v| v.as_str()).unwrap_or("header");
        let tok = case.get("token").and_then(|t| t.as_table()).map(case_token);
        let mut path = "/me".to_string();
        let mut headers: Vec<(String, String)> = Vec::new();
        match (via, &tok) {
            ("raw", _) => headers.push(("Authorization".into(), case["authorization"].as_str().unwrap().to_string())),
            ("query", Some(t)) => path = format!("/me?token={t}"),
            ("lower", Some(t)) => headers.push(("Authorization".into(), format!("bearer {t}"))),
            (_, Some(t)) => headers.push(("Authorization".into(), format!("Bearer {t}"))),
            (_, None) => {}
        }
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = client::request(addr, "GET", &path, &h, None);
        let expect = case["expect"].as_table().unwrap();
        let ok_status = match (expect.get("status"), expect.get("statuses")) {
            (Some(s), _) => r.status as i64 == s.as_integer().unwrap(),
            (None, Some(list)) => list.as_array().unwrap().iter().any(|s| s.as_integer() == Some(r.status as i64)),
            _ => true,
        };
        if !ok_status {
            failures.push(format!("{name}: status {} ({})", r.status, r.text()));
            continue;
        }
        if let Some(j) = expect.get("json").and_then(|j| j.as_str()) {
            if r.text() != j {
                failures.push(format!("{name}: body {:?}, want {j:?}", r.text()));
            }
        }
        if expect.get("www").and_then(|w| w.as_bool()) == Some(true) && r.header("www-authenticate") != Some(r#"Bearer error="invalid_token""#) {
            failures.push(format!("{name}: WWW-Authenticate {:?}", r.header("www-authenticate")));
        }
    }
    // The server is still healthy after everything above.
    assert_eq!(client::request(addr, "GET", "/control", &[], None).status, 200);
    assert!(failures.is_empty(), "failed cases:\n{}", failures.join("\n"));
}

#[test]
fn concurrent_requests_see_their_own_user() {
    let addr = serve();
    let threads: Vec<_> = (0..40)
        .map(|i| {
            let user = if i % 2 == 0 { "ada" } else { "bob" };
            std::thread::spawn(move || {
                let t = token(&format!(r#"{{"user":"{user}","exp":{}}}"#, now() + 300));
                let auth = format!("Bearer {t}");
                let r = client::request(addr, "GET", "/slow-me", &[("Authorization", &auth)], None);
                (user, r.status, r.text())
            })
        })
        .collect();
    for t in threads {
        let (user, status, text) = t.join().unwrap();
        assert_eq!(status, 200, "{text}");
        assert_eq!(text, format!(r#"{{"user":"{user}"}}"#));
    }
}

fn post(addr: SocketAddr, path: &str, body: &str) -> client::Resp {
    client::request(addr, "POST", path, &[("Content-Type", "application/json")], Some(body))
}

fn json_field(text: &str, key: &str) -> String {
    let k = format!("\"{key}\":\"");
    let i = text.find(&k).unwrap_or_else(|| panic!("no {key} in {text}")) + k.len();
    text[i..].split('"').next().unwrap().to_string()
}

#[test]
fn signup_login_protected_end_to_end() {
    let addr = serve();
    assert_eq!(post(addr, "/signup", r#"{"user":"grace","password":"hopper-1906"}"#).status, 201);
    let wrong = post(addr, "/login", r#"{"user":"grace","password":"hopper"}"#);
    assert_eq!(wrong.status, 401);
    let ok = post(addr, "/login", r#"{"user":"grace","password":"hopper-1906"}"#);
    assert_eq!(ok.status, 200, "{}", ok.text());
    let t = json_field(&ok.text(), "token");
    let me = client::request(addr, "GET", &format!("/me?token={t}"), &[], None);
    assert_eq!(me.text(), r#"{"user":"grace","valid":true}"#);
    let me = client::request(addr, "GET", "/me", &[("Authorization", &format!("Bearer {t}"))], None);
    assert_eq!(me.text(), r#"{"user":"grace","valid":true}"#);
}

#[test]
fn login_flood_does_not_starve_other_requests() {
    let addr = serve();
    assert_eq!(post(addr, "/signup", r#"{"user":"flood","password":"pw-flood"}"#).status, 201);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let logins: Vec<_> = (0..50).map(|_| std::thread::spawn(move || post(addr, "/login", r#"{"user":"flood","password":"pw-flood"}"#).status)).collect();
    let d = done.clone();
    let control = std::thread::spawn(move || {
        let mut answered = 0;
        while !d.load(std::sync::atomic::Ordering::SeqCst) {
            let r = client::request(addr, "GET", "/control", &[], None);
            assert_eq!(r.status, 200);
            answered += 1;
        }
        answered
    });
    for l in logins {
        assert_eq!(l.join().unwrap(), 200);
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let answered = control.join().unwrap();
    assert!(answered >= 1, "the control route answered while the logins were hashing");
}

#[test]
fn limit_is_per_route_and_per_client() {
    let addr = serve();
    // Askfile.toml trusts 127.0.0.1 as a proxy, so X-Forwarded-For names the client.
    let get = |path: &str, client: &str| client::request(addr, "GET", path, &[("X-Forwarded-For", client)], None);
    assert_eq!(get("/limited-a", "10.1.0.1").status, 200);
    assert_eq!(get("/limited-a", "10.1.0.1").status, 200);
    let r = get("/limited-a", "10.1.0.1");
    assert_eq!(r.status, 429);
    assert_eq!(r.text(), r#"{"message":"Too Many Requests"}"#);
    let retry: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Another route: its own counter.
    assert_eq!(get("/limited-b", "10.1.0.1").status, 200);
    // Another client: its own counter.
    assert_eq!(get("/limited-a", "10.1.0.2").status, 200);
    // A client-supplied entry left of the proxy's does not help: the right-most one counts.
    assert_eq!(get("/limited-a", "1.2.3.4, 10.1.0.1").status, 429);
}

#[test]
fn encode_turns_a_datetime_exp_into_a_timestamp() {
    let addr = serve();
    let r = client::request(addr, "GET", "/expires", &[], None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains(r#""claims":{"user":"dt","exp":4102444800}"#), "{}", r.text());
}

#[test]
fn python_hash_still_works() {
    let addr = serve();
    assert_eq!(client::request(addr, "GET", "/control", &[], None).text(), r#"{"ok":true,"n":1}"#);
}

#[test]
fn tokens_never_reach_the_log() {
    use std::io::{BufRead, BufReader, Read};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ask"))
        .args(["start", "main.ask", "--port", "0"])
        .current_dir(folder())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn ask");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    let mut addr = None;
    for _ in 0..10 {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        banner.push_str(&line);
        if let Some(i) = line.find("http://") {
            let rest = &line[i + 7..];
            let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
            addr = rest[..end].parse::<SocketAddr>().ok();
            break;
        }
    }
    let addr = addr.unwrap_or_else(|| panic!("no URL in the banner: {banner}"));
    let t = token(&format!(r#"{{"user":"logged","exp":{}}}"#, now() + 300));
    assert_eq!(client::request(addr, "GET", &format!("/me?a=1&token={t}"), &[], None).status, 200);
    assert_eq!(client::request(addr, "GET", "/me", &[("Authorization", &format!("Bearer {t}"))], None).status, 200);
    assert_eq!(client::request(addr, "GET", "/me?token=bad.token.value", &[], None).status, 401);
    std::thread::sleep(std::time::Duration::from_millis(400)); // the access log flushes every 20 ms
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let mut rest = String::new();
    let _ = out.read_to_string(&mut rest);
    let mut err = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    let _ = child.wait();
    let all = format!("{banner}{rest}{err}");
    assert!(all.contains("/me"), "the requests are logged:\n{all}");
    let sig = t.rsplit('.').next().unwrap();
    assert!(!all.contains(sig) && !all.contains("bad.token.value"), "a token reached the log:\n{all}");
    assert!(!all.contains(SECRET), "the secret reached the log:\n{all}");
}

/// A scratch program folder under the system temp dir.
fn scratch(name: &str, program: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ask-http-auth-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.ask"), program).unwrap();
    dir
}

#[test]
fn start_refuses_a_short_secret_naming_its_source() {
    let dir = scratch("short", "@get('/'):\n    respond({ok: True})\n");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ask"))
        .args(["start", "main.ask", "--port", "0"])
        .current_dir(&dir)
        .env("ASK_SECRET", "tiny-secret-xyz")
        .output()
        .expect("run ask");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("ASK_SECRET") && text.contains("32"), "{text}");
    assert!(!text.contains("tiny-secret-xyz"), "the secret was printed: {text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Start the binary in `dir`, wait for its URL, run `f`, stop it; returns its output.
fn with_binary(dir: &Path, cmd: &str, env_secret: Option<&str>, f: impl FnOnce(SocketAddr)) -> String {
    use std::io::{BufRead, BufReader, Read};
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_ask"));
    c.args([cmd, "main.ask", "--port", "0"]).current_dir(dir).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    match env_secret {
        Some(s) => c.env("ASK_SECRET", s),
        None => c.env_remove("ASK_SECRET"),
    };
    let mut child = c.spawn().expect("spawn ask");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let mut addr = None;
    for _ in 0..20 {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        seen.push_str(&line);
        if let Some(i) = line.find("http://") {
            let rest = &line[i + 7..];
            let end = rest.find(|ch: char| ch.is_whitespace()).unwrap_or(rest.len());
            addr = rest[..end].parse::<SocketAddr>().ok();
            break;
        }
    }
    if let Some(a) = addr {
        f(a);
    }
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let mut rest = String::new();
    let _ = out.read_to_string(&mut rest);
    let mut err = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    let _ = child.wait();
    assert!(addr.is_some(), "no URL in the output:\n{seen}{rest}{err}");
    format!("{seen}{rest}{err}")
}

const LOGIN_PROGRAM: &str = "@post('/login'):\n    respond({token: auth.login('ada', 600)})\n\n&protected\n@get('/me'):\n    respond({user: auth.user()})\n";

#[test]
fn start_without_a_secret_warns_and_tokens_do_not_survive_a_restart() {
    let dir = scratch("generated", LOGIN_PROGRAM);
    let mut tok = String::new();
    let out = with_binary(&dir, "start", None, |addr| {
        tok = json_field(&post(addr, "/login", "{}").text(), "token");
        assert_eq!(client::request(addr, "GET", &format!("/me?token={tok}"), &[], None).status, 200);
    });
    assert!(out.contains("warning") && out.contains("restart"), "{out}");
    with_binary(&dir, "start", None, |addr| {
        assert_eq!(client::request(addr, "GET", &format!("/me?token={tok}"), &[], None).status, 401);
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dev_keeps_a_generated_secret_in_dot_ask() {
    let dir = scratch("dev", LOGIN_PROGRAM);
    let mut tok = String::new();
    with_binary(&dir, "dev", None, |addr| {
        tok = json_field(&post(addr, "/login", "{}").text(), "token");
    });
    assert!(dir.join(".ask/secret").is_file(), "ask dev stores its secret in .ask/");
    with_binary(&dir, "dev", None, |addr| {
        let r = client::request(addr, "GET", &format!("/me?token={tok}"), &[], None);
        assert_eq!(r.text(), r#"{"user":"ada"}"#, "a token from the previous run still works");
    });
    let _ = std::fs::remove_dir_all(&dir);
}
