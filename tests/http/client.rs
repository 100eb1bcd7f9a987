//! Shared helpers for the HTTP integration tests (`tests/http*.rs`): a raw-HTTP client (plain
//! TCP, so the tests see exactly the bytes the server sends) and an in-process server starter.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Send raw bytes (the request must ask for `Connection: close` or be answered with a close),
/// read until the server closes, parse the response.
pub fn exchange(addr: SocketAddr, raw: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = s.write_all(raw);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    parse(&buf, raw.starts_with(b"HEAD"))
}

pub fn parse(buf: &[u8], head: bool) -> Resp {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(buf)));
    let head_text = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head_text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> = lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
    let mut body = buf[end + 4..].to_vec();
    if head {
        body.clear();
    } else if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
        body = dechunk(&body);
    } else if let Some(len) = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse::<usize>().ok()) {
        body.truncate(len);
    }
    Resp { status, headers, body }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(nl) = b.windows(2).position(|w| w == b"\r\n") else { break };
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..nl]).trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + n]);
        b = &b[nl + 2 + n + 2..];
    }
    out
}

/// A simple request with `Connection: close`.
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Resp {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        raw.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        raw.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    raw.push_str("\r\n");
    if let Some(b) = body {
        raw.push_str(b);
    }
    exchange(addr, raw.as_bytes())
}

/// Run the `[[case]]` exchanges of a TOML file against `addr`; returns the failures.
///
/// A case: `name`; `request` (raw request head, `\n` becomes CRLF, `Connection: close` is added);
/// optional `body` (Content-Length added) or `chunked_bytes` (a chunked body of that size);
/// `repeat` (send N times, check the last); `expect` with `status`, `body` (exact), `contains`
/// (list of substrings), `headers` (exact value, or `false` for absent).
pub fn run_exchanges(addr: SocketAddr, file: &str) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let doc: toml::Table = text.parse().unwrap_or_else(|e| panic!("{file}: {e}"));
    let cases = doc["case"].as_array().expect("[[case]] list");
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let mut raw = case["request"].as_str().unwrap().replace('\n', "\r\n");
        raw.push_str("Connection: close\r\n");
        let mut bytes = Vec::new();
        if let Some(body) = case.get("body").and_then(|b| b.as_str()) {
            raw.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            bytes.extend_from_slice(raw.as_bytes());
            bytes.extend_from_slice(body.as_bytes());
        } else if let Some(n) = case.get("chunked_bytes").and_then(|b| b.as_integer()) {
            raw.push_str("\r\n");
            bytes.extend_from_slice(raw.as_bytes());
            let chunk = vec![b'x'; 65536];
            let mut left = n as usize;
            while left > 0 {
                let k = left.min(chunk.len());
                bytes.extend_from_slice(format!("{k:x}\r\n").as_bytes());
                bytes.extend_from_slice(&chunk[..k]);
                bytes.extend_from_slice(b"\r\n");
                left -= k;
            }
            bytes.extend_from_slice(b"0\r\n\r\n");
        } else {
            raw.push_str("\r\n");
            bytes.extend_from_slice(raw.as_bytes());
        }
        let repeat = case.get("repeat").and_then(|r| r.as_integer()).unwrap_or(1).max(1);
        let mut r = exchange(addr, &bytes);
        for _ in 1..repeat {
            r = exchange(addr, &bytes);
        }
        let expect = case["expect"].as_table().unwrap();
        let mut problems = Vec::new();
        if let Some(st) = expect.get("status").and_then(|s| s.as_integer()) {
            if r.status as i64 != st {
                problems.push(format!("status {} != {st} (body {:?})", r.status, r.text()));
            }
        }
        if let Some(b) = expect.get("body").and_then(|s| s.as_str()) {
            if r.text() != b {
                problems.push(format!("body {:?} != {b:?}", r.text()));
            }
        }
        for c in expect.get("contains").and_then(|c| c.as_array()).into_iter().flatten() {
            let c = c.as_str().unwrap();
            if !r.text().contains(c) {
                problems.push(format!("body {:?} lacks {c:?}", r.text()));
            }
        }
        for (h, v) in expect.get("headers").and_then(|h| h.as_table()).into_iter().flatten() {
            match (v, r.header(h)) {
                (toml::Value::Boolean(false), None) => {}
                (toml::Value::Boolean(false), Some(got)) => problems.push(format!("header {h} should be absent, is {got:?}")),
                (toml::Value::String(want), Some(got)) if got == want => {}
                (want, got) => problems.push(format!("header {h}: {got:?} != {want}")),
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{file}: {name}: {}", problems.join("; ")));
        }
    }
    failures
}

/// Serve the Ask program `file` in-process (production mode) on a loopback port, on its own
/// runtime thread that lives as long as the test process; returns the address.
pub fn serve_file(file: std::path::PathBuf) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    let shown = file.display().to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            match ask_server::start_in_process(&file, false).await {
                Ok(handle) => {
                    tx.send(Ok(handle.addr)).unwrap();
                    std::future::pending::<()>().await;
                }
                Err(e) => tx.send(Err(e)).unwrap(),
            }
        });
    });
    rx.recv().unwrap().unwrap_or_else(|e| panic!("server for {shown} did not start:
{e}"))
}
