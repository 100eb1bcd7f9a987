//! The HTTP layer: hyper 1.x HTTP/1.1 connections on tokio, the request pipeline (route → body →
//! engine → CORS → log), framework answers (404/405/308/413/400, OPTIONS, HEAD, docs), timeouts
//! and graceful shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use ask_vm::route::RouteInfo;

use crate::config::Config;
use crate::cors::Cors;
use crate::docs::{self, Group};
use crate::engine::{Engine, Reply, JSON};
use crate::request::{decode_body, BodyError, RequestData};
use crate::router::{parse_query, Match, RouteSpec, Router};

/// A program ready to be served: its routes, its engine and the server settings.
pub struct App {
    pub engine: Arc<dyn Engine>,
    pub router: Router,
    pub cors: Cors,
    pub cfg: Config,
    /// `ask dev`: error bodies carry the exception and traceback.
    pub dev: bool,
    docs_all: Bytes,
    docs_public: Bytes,
    docs_private: Bytes,
    openapi: Bytes,
    pub log: Arc<Logger>,
}

impl App {
    pub fn new(engine: Arc<dyn Engine>, routes: &[RouteInfo], cfg: Config, title: &str, dev: bool) -> App {
        let specs: Vec<RouteSpec> = routes.iter().map(|r| RouteSpec { method: r.method.to_ascii_uppercase(), path: r.path.clone() }).collect();
        App {
            engine,
            router: Router::new(&specs),
            cors: Cors::new(cfg.cors.clone()),
            docs_all: docs::html(title, routes, Group::All).into(),
            docs_public: docs::html(title, routes, Group::Public).into(),
            docs_private: docs::html(title, routes, Group::Private).into(),
            openapi: docs::openapi(title, routes).into(),
            log: Arc::new(Logger::new(cfg.access_log)),
            cfg,
            dev,
        }
    }
}

/// Buffered access log: one line per request, appended to a memory buffer and written to stdout
/// by a flusher thread (every 20 ms, and at shutdown), so logging costs no system call per
/// request and a stuck stdout (a full pipe nobody reads) never blocks a request: the buffer is
/// bounded, and lines beyond it are counted and reported as dropped.
///
/// Why 20 ms: on a saturated core the flusher's write competes with the serving thread. Every
/// 200 ms it wrote ~1 MiB at once, a stall that all in-flight requests felt: wrk's p99 on the
/// list route was 1.7-2.3 ms with the log on and 0.5-0.7 ms with it off. In 20 ms slices the
/// p99 is the same with and without the log (0.6-0.7 ms).
pub struct Logger {
    enabled: bool,
    buf: Mutex<(Vec<u8>, u64)>,
}

/// Most bytes of log lines kept waiting for the flusher.
const LOG_BUFFER_MAX: usize = 4 << 20;

impl Logger {
    pub fn new(enabled: bool) -> Logger {
        Logger { enabled, buf: Mutex::new((Vec::with_capacity(64 * 1024), 0)) }
    }

    pub fn request(&self, remote: &str, method: &str, path: &str, query: Option<&str>, status: u16, took: Duration) {
        if !self.enabled {
            return;
        }
        let mut g = match self.buf.lock() {
            Ok(b) => b,
            Err(p) => p.into_inner(),
        };
        let (b, dropped) = &mut *g;
        if b.len() > LOG_BUFFER_MAX {
            *dropped += 1;
            return;
        }
        // Plain byte pushes and `itoa` rather than `write!`: `core::fmt` was ~2 % of the CPU of
        // a small GET route.
        let mut num = itoa::Buffer::new();
        for part in [remote, " ", method, " ", path] {
            b.extend_from_slice(part.as_bytes());
        }
        if let Some(q) = query {
            b.push(b'?');
            b.extend_from_slice(redact_query(q).as_bytes());
        }
        b.push(b' ');
        b.extend_from_slice(num.format(status).as_bytes());
        b.push(b' ');
        // Milliseconds with two decimals, from integer microseconds.
        let us = took.as_micros().min(u64::MAX as u128) as u64;
        let hundredths = (us + 5) / 10;
        b.extend_from_slice(num.format(hundredths / 100).as_bytes());
        b.push(b'.');
        let frac = hundredths % 100;
        if frac < 10 {
            b.push(b'0');
        }
        b.extend_from_slice(num.format(frac).as_bytes());
        b.extend_from_slice(b"ms\n");
    }

    /// Write what is buffered (called by the flusher thread; the lock is not held while writing).
    pub fn flush(&self) {
        use std::io::Write;
        let (data, dropped) = {
            let mut g = match self.buf.lock() {
                Ok(b) => b,
                Err(p) => p.into_inner(),
            };
            if g.0.is_empty() && g.1 == 0 {
                return;
            }
            let data = std::mem::replace(&mut g.0, Vec::with_capacity(64 * 1024));
            (data, std::mem::take(&mut g.1))
        };
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&data);
        if dropped > 0 {
            let _ = writeln!(out, "ask: {dropped} access log lines dropped (stdout is not keeping up)");
        }
        let _ = out.flush();
    }

    /// Start the flusher thread; it stops when `stop` is set (after a last flush).
    pub fn spawn_flusher(self: &Arc<Self>, stop: Arc<std::sync::atomic::AtomicBool>) -> Option<std::thread::JoinHandle<()>> {
        if !self.enabled {
            return None;
        }
        let log = self.clone();
        std::thread::Builder::new()
            .name("ask-log".into())
            .spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(20));
                    log.flush();
                }
                log.flush();
            })
            .ok()
    }
}

/// The query string with the value of any `token` parameter replaced (tokens never reach logs).
pub fn redact_query(q: &str) -> std::borrow::Cow<'_, str> {
    if !q.contains("token") {
        return q.into();
    }
    q.split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if k == "token" || k == "_token" || k.eq_ignore_ascii_case("access_token") => format!("{k}=[redacted]"),
            _ => p.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
        .into()
}

type Body = Full<Bytes>;

fn build(reply: Reply, extra: &[(&'static str, String)], head: bool) -> Response<Body> {
    let len = reply.body.len();
    let mut resp = Response::new(Full::new(if head { Bytes::new() } else { reply.body }));
    // Sized once for the usual handful of headers (growing it allocated twice per response).
    *resp.headers_mut() = hyper::HeaderMap::with_capacity(reply.headers.len() + extra.len() + 1);
    *resp.status_mut() = hyper::StatusCode::from_u16(reply.status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    for (k, v) in reply.headers {
        // The common content types are static values: no copy per response.
        if k == "content-type" && (v == JSON || v == crate::engine::TEXT) {
            h.append(hyper::header::CONTENT_TYPE, HeaderValue::from_static(if v == JSON { JSON } else { crate::engine::TEXT }));
            continue;
        }
        match (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(&v)) {
            (Ok(name), Ok(value)) => {
                h.append(name, value);
            }
            _ => eprintln!("ask: dropped an invalid response header {k:?}: {v:?}"),
        }
    }
    for (k, v) in extra {
        if v == "*" {
            h.append(*k, HeaderValue::from_static("*"));
            continue;
        }
        if let Ok(value) = HeaderValue::from_str(v) {
            h.append(*k, value);
        }
    }
    if head && len > 0 {
        // A HEAD answer announces the length the GET body would have.
        h.insert(hyper::header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    resp
}

fn client_addr(app: &App, peer: SocketAddr, headers: &hyper::HeaderMap) -> String {
    if app.cfg.trusted_proxies.is_empty() {
        return ip_text(peer.ip());
    }
    // [authwire hook] `ask_auth::limit::client_key`: CIDR ranges, the right-most untrusted
    // `X-Forwarded-For` entry (the rate limiter counts the same address).
    let nets: Vec<ask_auth::limit::IpNet> = app.cfg.trusted_proxies.iter().filter_map(|p| p.parse().ok()).collect();
    let xff: Vec<&str> = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
    let joined = xff.join(",");
    ask_auth::limit::client_key(peer.ip(), if xff.is_empty() { None } else { Some(joined.as_str()) }, &nets).to_string()
}

/// An address as text; IPv4 (the common case) without `core::fmt`, which was ~1.5 % of the CPU
/// of a small GET route.
fn ip_text(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let mut out = String::with_capacity(15);
            let mut num = itoa::Buffer::new();
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(num.format(octet));
            }
            out
        }
        std::net::IpAddr::V6(_) => ip.to_string(),
    }
}

/// Handle one request end to end.
pub async fn handle(app: Arc<App>, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    let start = Instant::now();
    let method = req.method().as_str().to_string();
    let head = method == "HEAD";
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let origin = req.headers().get("origin").and_then(|v| v.to_str().ok()).map(str::to_string);
    let remote = client_addr(&app, peer, req.headers());
    let mut extra: Vec<(&'static str, String)> = Vec::new();
    let mut cors_done = false;

    let reply = match app.router.lookup(&method, &path) {
        Match::Found { route, params } => match read_request(&app, req, &method, &path, query.as_deref(), &remote).await {
            Ok(data) => {
                let engine = app.engine.clone();
                engine.handle(route, params, Arc::new(data)).await
            }
            Err(r) => r,
        },
        Match::MethodNotAllowed { allow } => {
            if method == "OPTIONS" {
                cors_done = options(&app, req.headers(), origin.as_deref(), &allow, &mut extra);
                extra.push(("allow", allow.join(", ")));
                Reply { status: 200, headers: vec![("content-type".into(), crate::engine::TEXT.into())], body: Bytes::new() }
            } else {
                extra.push(("allow", allow.join(", ")));
                Reply::message(405, "Method Not Allowed")
            }
        }
        Match::Redirect { location } => {
            let loc = match &query {
                Some(q) => format!("{location}?{q}"),
                None => location,
            };
            extra.push(("location", loc));
            Reply::message(308, "Permanent Redirect")
        }
        Match::NotFound => builtin(&app, &method, &path, req.headers(), origin.as_deref(), &mut extra, &mut cors_done),
    };
    if !cors_done {
        app.cors.simple(origin.as_deref(), &mut extra);
    }
    let status = reply.status;
    let resp = build(reply, &extra, head);
    app.log.request(&remote, &method, &path, query.as_deref(), status, start.elapsed());
    resp
}

/// Answer an OPTIONS request for a path that has no OPTIONS route: CORS preflight headers when
/// it is one. Returns true when CORS headers were decided here.
fn options(app: &App, headers: &hyper::HeaderMap, origin: Option<&str>, allow: &[String], extra: &mut Vec<(&'static str, String)>) -> bool {
    let acrm = headers.get("access-control-request-method");
    match (origin, acrm) {
        (Some(o), Some(_)) => {
            let req_headers = headers.get("access-control-request-headers").and_then(|v| v.to_str().ok());
            app.cors.preflight(o, req_headers, allow, extra);
            true
        }
        _ => false,
    }
}

/// Paths the framework answers when no user route matches: the API docs.
fn builtin(app: &App, method: &str, path: &str, headers: &hyper::HeaderMap, origin: Option<&str>, extra: &mut Vec<(&'static str, String)>, cors_done: &mut bool) -> Reply {
    let page = match path {
        "/docs" | "/docs/" => Some((&app.docs_all, "text/html; charset=utf-8")),
        "/docs/public" | "/docs/public/" => Some((&app.docs_public, "text/html; charset=utf-8")),
        "/docs/private" | "/docs/private/" => Some((&app.docs_private, "text/html; charset=utf-8")),
        "/openapi.json" => Some((&app.openapi, JSON)),
        _ => None,
    };
    let Some((body, ct)) = page else { return Reply::message(404, "Not Found") };
    match method {
        "GET" | "HEAD" => Reply { status: 200, headers: vec![("content-type".into(), ct.into())], body: body.clone() },
        "OPTIONS" => {
            let allow = vec!["GET".to_string(), "HEAD".into(), "OPTIONS".into()];
            *cors_done = options(app, headers, origin, &allow, extra);
            extra.push(("allow", allow.join(", ")));
            Reply { status: 200, headers: vec![], body: Bytes::new() }
        }
        _ => {
            extra.push(("allow", "GET, HEAD, OPTIONS".into()));
            Reply::message(405, "Method Not Allowed")
        }
    }
}

/// Read and decode the body (bounded by `body_limit`) into [`RequestData`].
async fn read_request(app: &App, req: Request<Incoming>, method: &str, path: &str, query: Option<&str>, remote: &str) -> Result<RequestData, Reply> {
    let limit = app.cfg.body_limit;
    let too_large = || Reply::message(413, "Request Entity Too Large");
    if let Some(len) = req.headers().get(hyper::header::CONTENT_LENGTH) {
        match len.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()) {
            Some(n) if n > limit as u64 => return Err(too_large()),
            Some(_) => {}
            None => return Err(Reply::message(400, "Bad Request")),
        }
    }
    let (parts, body) = req.into_parts();
    // A request without a body (most GETs) skips the timer and the collector: arming and
    // clearing a timeout entry per request showed up in profiles of the GET routes.
    let raw = if hyper::body::Body::is_end_stream(&body) {
        Bytes::new()
    } else {
        // A client that stops sending its body midway is cut after `idle_timeout`.
        let collected = match tokio::time::timeout(app.cfg.idle_timeout, Limited::new(body, limit).collect()).await {
            Ok(c) => c,
            Err(_) => return Err(Reply::message(408, "Request Timeout")),
        };
        match collected {
            Ok(c) => c.to_bytes(),
            Err(e) => {
                if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                    return Err(too_large());
                }
                return Err(Reply::message(400, "Bad Request"));
            }
        }
    };
    let content_type = parts.headers.get(hyper::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let mut data = RequestData {
        method: method.to_string(),
        path: path.to_string(),
        query: query.unwrap_or("").to_string(),
        remote_addr: remote.to_string(),
        headers: parts.headers,
        json: None,
        args: query.map(parse_query).unwrap_or_default(),
        form: Vec::new(),
        files: Vec::new(),
        raw,
    };
    match decode_body(&mut data, content_type.as_deref()) {
        Ok(()) => Ok(data),
        Err(BodyError::InvalidJson) => Err(Reply::message(400, "Invalid JSON body")),
        Err(BodyError::InvalidMultipart) => Err(Reply::message(400, "Invalid multipart body")),
    }
}

/// A running server.
pub struct ServerHandle {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub done: Option<tokio::task::JoinHandle<()>>,
}

impl ServerHandle {
    /// Stop accepting, let in-flight requests finish (bounded), and wait.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(d) = self.done.take() {
            let _ = d.await;
        }
    }
}

/// How long in-flight requests get to finish after a shutdown signal.
pub const GRACE: Duration = Duration::from_secs(10);

/// Serve `app` on `listener` until `stop` fires, then drain.
pub fn spawn(app: Arc<App>, listener: TcpListener) -> ServerHandle {
    let addr = listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(serve(app, listener, async move {
        let _ = rx.await;
    }));
    ServerHandle { addr, stop: Some(tx), done: Some(done) }
}

/// An accepted connection, or `None` after a short back-off when accepting failed (out of file
/// descriptors and the like: back off instead of spinning).
pub(crate) async fn accepted_or_backoff(
    accepted: std::io::Result<(tokio::net::TcpStream, SocketAddr)>,
) -> Option<(tokio::net::TcpStream, SocketAddr)> {
    match accepted {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("ask: accept failed: {e}");
            tokio::time::sleep(Duration::from_millis(50)).await;
            None
        }
    }
}

/// Serve one connection (HTTP/1, keep-alive) on its own task, tracked by `graceful` so shutdown
/// can drain it. hyper's header read timeout only fires with a timer installed, hence
/// `TokioTimer`; it also closes idle keep-alive connections.
pub(crate) fn spawn_connection<H, F>(
    graceful: &hyper_util::server::graceful::GracefulShutdown,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    header_timeout: Duration,
    handler: H,
) where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Send + 'static,
    F: std::future::Future<Output = Response<Body>> + Send + 'static,
{
    let _ = stream.set_nodelay(true);
    let svc = service_fn(move |req| {
        let fut = handler(req, peer);
        async move { Ok::<_, Infallible>(fut.await) }
    });
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout).keep_alive(true);
    let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), svc));
    tokio::spawn(async move {
        let _ = conn.await;
    });
}

/// Let in-flight connections finish, for at most [`GRACE`].
pub(crate) async fn drain(graceful: hyper_util::server::graceful::GracefulShutdown) {
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(GRACE) => eprintln!("ask: grace period over, closing the remaining connections"),
    }
}

/// The accept loop.
/// Resolves on SIGINT (Ctrl+C) or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled: a supervisor or test that signals as soon as the start-up
/// banner appears must not kill the process with the default action. Call inside the runtime.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let int = signal(SignalKind::interrupt()).ok();
        let term = signal(SignalKind::terminate()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(int) => {}
                _ = wait(term) => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

pub async fn serve(app: Arc<App>, listener: TcpListener, stop: impl std::future::Future<Output = ()>) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let stop_log = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flusher = app.log.spawn_flusher(stop_log.clone());
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Some((stream, peer)) = accepted_or_backoff(accepted).await else { continue };
                let app2 = app.clone();
                spawn_connection(&graceful, stream, peer, app.cfg.header_timeout, move |req, peer| handle(app2.clone(), req, peer));
            }
            _ = &mut stop => break,
        }
    }
    drop(listener);
    drain(graceful).await;
    stop_log.store(true, std::sync::atomic::Ordering::Relaxed);
    match flusher {
        Some(f) => {
            let _ = f.join();
        }
        None => app.log.flush(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_redacted() {
        assert_eq!(super::redact_query("a=1&token=abc.def&b=2"), "a=1&token=[redacted]&b=2");
        assert_eq!(super::redact_query("q=tokens"), "q=tokens");
        assert_eq!(super::redact_query("x=1"), "x=1");
    }

    #[test]
    fn log_lines_and_addresses() {
        let log = super::Logger::new(true);
        log.request("10.0.0.7", "GET", "/a", Some("token=x&b=1"), 200, std::time::Duration::from_micros(1234));
        log.request("::1", "POST", "/b", None, 404, std::time::Duration::from_micros(5));
        log.request("1.2.3.4", "GET", "/c", None, 500, std::time::Duration::from_micros(2_000_000));
        let text = String::from_utf8(log.buf.lock().unwrap().0.clone()).unwrap();
        assert_eq!(text, "10.0.0.7 GET /a?token=[redacted]&b=1 200 1.23ms\n::1 POST /b 404 0.01ms\n1.2.3.4 GET /c 500 2000.00ms\n");
        assert_eq!(super::ip_text("0.10.255.1".parse().unwrap()), "0.10.255.1");
        assert_eq!(super::ip_text("::ffff:1.2.3.4".parse().unwrap()), "::ffff:1.2.3.4");
    }
}
