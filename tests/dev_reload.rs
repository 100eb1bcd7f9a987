//! `ask dev` hot reload, end to end: real files in a temporary folder, a real dev server on a
//! loopback port (in this process, so the reload counters are visible), a real HTTP client.
//! Waits use generous deadlines; nothing here measures speed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ask_server::dev::{self, DevHandle, DevOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DEADLINE: Duration = Duration::from_secs(15);

/// A fresh folder for one test.
fn folder(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ask-dev-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp folder");
    d
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write");
}

async fn serve(dir: &Path) -> DevHandle {
    dev::start(&dir.join("main.ask"), DevOptions { host: Some("127.0.0.1".into()), port: Some(0), poll: false }).await.expect("dev server starts")
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// One `GET` over a new connection (`Connection: close`), the whole answer read.
async fn get_at(addr: std::net::SocketAddr, path: &str) -> Resp {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|c| c.parse().ok()).unwrap_or(0);
    let headers = lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    Resp { status, headers, body: body.to_string() }
}

async fn get(h: &DevHandle, path: &str) -> Resp {
    get_at(h.addr(), path).await
}

/// Poll `path` until the body contains `want`.
async fn until_body(h: &DevHandle, path: &str, want: &str) -> Resp {
    let start = Instant::now();
    loop {
        let r = get(h, path).await;
        if r.body.contains(want) {
            return r;
        }
        assert!(start.elapsed() < DEADLINE, "no response containing {want:?} from {path}; last: {} {}", r.status, r.body);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

async fn until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn program(version: &str) -> String {
    format!("@get('/'):\n    respond({{'v': '{version}'}})\n")
}

/// Let the reloader see any late events (used before asserting that something did NOT happen).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(800)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_is_served_without_a_restart() {
    let d = folder("edit");
    write(&d, "main.ask", &program("one"));
    let h = serve(&d).await;
    assert!(get(&h, "/").await.body.contains("one"));
    write(&d, "main.ask", &program("two"));
    let r = until_body(&h, "/", "two").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ask-reload-error"), None);
    settle().await;
    assert_eq!(h.reloads(), 1);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_syntax_error_keeps_the_old_program_with_a_header_until_fixed() {
    let d = folder("syntax");
    write(&d, "main.ask", &program("good"));
    let h = serve(&d).await;
    write(&d, "main.ask", "@get('/'):\n    respond({'v': 'bad'\n");
    until("the failed build", || h.failures() >= 1).await;
    let r = get(&h, "/").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("good"), "{}", r.body);
    assert_eq!(r.header("x-ask-reload-error"), Some("1"));
    write(&d, "main.ask", &program("fixed"));
    let r = until_body(&h, "/", "fixed").await;
    assert_eq!(r.header("x-ask-reload-error"), None);
    assert_eq!(h.reloads(), 1);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_top_level_loop_is_a_reload_error_not_a_stuck_reloader() {
    let d = folder("endless");
    // A small start-up budget keeps the test quick; without it `ask dev` allows ~2e9 instructions.
    write(&d, "Askfile.toml", "[server]\nstartup_budget = 1000000\n");
    write(&d, "main.ask", &program("good"));
    let h = serve(&d).await;
    write(&d, "main.ask", &format!("n = 0\nwhile True:\n    n += 1\n{}", program("never")));
    until("the failed build", || h.failures() >= 1).await;
    let r = get(&h, "/").await;
    assert!(r.body.contains("good"), "{}", r.body);
    assert_eq!(r.header("x-ask-reload-error"), Some("1"));
    // The reloader is free again: the next edit is served. A top level well within the budget
    // (a 10,000-iteration loop) is fine.
    write(&d, "main.ask", &format!("n = 0\nfor i in range(10000):\n    n += i\n{}", program("fixed")));
    let r = until_body(&h, "/", "fixed").await;
    assert_eq!(r.header("x-ask-reload-error"), None);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_by_rename_reloads() {
    let d = folder("rename");
    write(&d, "main.ask", &program("one"));
    let h = serve(&d).await;
    write(&d, ".main.ask.swp", &program("renamed"));
    std::fs::rename(d.join(".main.ask.swp"), d.join("main.ask")).expect("rename");
    until_body(&h, "/", "renamed").await;
    settle().await;
    assert_eq!(h.reloads(), 1);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_then_create_reloads_once() {
    let d = folder("recreate");
    write(&d, "main.ask", &program("one"));
    let h = serve(&d).await;
    std::fs::remove_file(d.join("main.ask")).expect("delete");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The old program keeps serving while the file is gone.
    assert!(get(&h, "/").await.body.contains("one"));
    write(&d, "main.ask", &program("recreated"));
    until_body(&h, "/", "recreated").await;
    settle().await;
    assert_eq!(h.reloads(), 1);
    assert_eq!(h.failures(), 0);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_twenty_writes_is_one_reload() {
    let d = folder("burst");
    write(&d, "main.ask", &program("start"));
    let h = serve(&d).await;
    let dir = d.clone();
    let gaps = tokio::task::spawn_blocking(move || {
        let mut last = Instant::now();
        let mut gaps = Vec::new();
        for i in 0..20 {
            write(&dir, "main.ask", &program(&format!("burst{i}")));
            gaps.push(last.elapsed());
            last = Instant::now();
            std::thread::sleep(Duration::from_millis(5));
        }
        gaps
    })
    .await
    .expect("writer");
    until_body(&h, "/", "burst19").await;
    settle().await;
    // One reload for a burst whose writes come closer together than the debounce time. On a
    // machine so loaded that this thread stalled longer than that between two writes, each stall
    // may legitimately end a burst: allow for it rather than assert on scheduling.
    let stalls = gaps.iter().skip(1).filter(|g| **g > Duration::from_millis(30)).count() as u64;
    assert!(h.reloads() >= 1 && h.reloads() <= 1 + stalls, "{} reloads, {stalls} stalls: {gaps:?}", h.reloads());
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn touch_without_a_change_does_not_reload() {
    let d = folder("touch");
    write(&d, "main.ask", &program("same"));
    let h = serve(&d).await;
    // Rewrite the same bytes (a new modification time, an editor's "save" without changes).
    write(&d, "main.ask", &program("same"));
    until("the skipped round", || h.skips() >= 1).await;
    settle().await;
    assert_eq!(h.reloads(), 0);
    assert_eq!(h.failures(), 0);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_request_in_flight_finishes_on_the_old_program() {
    let d = folder("slow");
    let src = |v: &str| format!("import time\n\n@get('/slow'):\n    time.sleep(1.5)\n    respond({{'v': '{v}'}})\n\n@get('/'):\n    respond({{'v': '{v}'}})\n");
    write(&d, "main.ask", &src("old"));
    let h = serve(&d).await;
    let addr = h.addr();
    let slow = tokio::spawn(async move { get_at(addr, "/slow").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    write(&d, "main.ask", &src("new"));
    until_body(&h, "/", "new").await;
    let r = slow.await.expect("slow request");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("old"), "{}", r.body);
    assert!(get(&h, "/slow").await.body.contains("new"));
    h.shutdown().await;
}

fn counter_program(start: i64, other: &str) -> String {
    format!(
        "count = {start}\n\n@get('/inc'):\n    global count\n    count += 1\n    respond({{'count': count}})\n\n@get('/other'):\n    respond({{'other': '{other}'}})\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_global_survives_an_edit_of_an_unrelated_route_and_resets_when_its_line_changes() {
    let d = folder("globals");
    write(&d, "main.ask", &counter_program(0, "a"));
    let h = serve(&d).await;
    for _ in 0..3 {
        get(&h, "/inc").await;
    }
    write(&d, "main.ask", &counter_program(0, "b"));
    until_body(&h, "/other", "\"b\"").await;
    let r = get(&h, "/inc").await;
    assert!(r.body.contains("\"count\":4"), "kept: {}", r.body);
    // Editing the global's own line re-evaluates it.
    write(&d, "main.ask", &counter_program(100, "b"));
    until("the second reload", || h.reloads() >= 2).await;
    let r = get(&h, "/inc").await;
    assert!(r.body.contains("\"count\":101"), "reset: {}", r.body);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_of_an_included_file_reloads() {
    let d = folder("include");
    write(&d, "main.ask", "include helpers\n\n@get('/'):\n    respond({'v': greeting()})\n");
    write(&d, "helpers.ask", "def greeting():\n    return 'hello'\n");
    let h = serve(&d).await;
    assert!(get(&h, "/").await.body.contains("hello"));
    write(&d, "helpers.ask", "def greeting():\n    return 'bonjour'\n");
    until_body(&h, "/", "bonjour").await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_broken_at_start_is_served_once_it_compiles() {
    let d = folder("broken");
    write(&d, "main.ask", "@get('/'):\n    respond({'v': \n");
    let h = serve(&d).await;
    let r = get(&h, "/").await;
    assert_eq!(r.status, 503);
    assert!(r.body.contains("\"error\""), "{}", r.body);
    assert!(r.body.contains("main.ask:"), "names the error: {}", r.body);
    assert_eq!(r.header("x-ask-reload-error"), Some("1"));
    write(&d, "main.ask", &program("works"));
    let r = until_body(&h, "/", "works").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ask-reload-error"), None);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_file_completed_later_is_exactly_one_swap() {
    let d = folder("partial");
    write(&d, "main.ask", &program("one"));
    let h = serve(&d).await;
    // Truncated to nothing (an empty program would compile: it must not go live)...
    std::fs::File::create(d.join("main.ask")).expect("truncate");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(get(&h, "/").await.body.contains("one"));
    // ...then completed a second later.
    write(&d, "main.ask", &program("complete"));
    until_body(&h, "/", "complete").await;
    settle().await;
    assert_eq!(h.reloads(), 1);

    // Half written (does not compile) then completed: the old program stays, then one swap.
    let full = program("second");
    write(&d, "main.ask", &full[..full.len() - 8]);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(get(&h, "/").await.body.contains("complete"));
    write(&d, "main.ask", &full);
    until_body(&h, "/", "second").await;
    settle().await;
    assert_eq!(h.reloads(), 2);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uncaught_exception_returns_the_traceback_in_dev() {
    let d = folder("traceback");
    write(&d, "main.ask", "@get('/boom'):\n    x = 1 / 0\n    respond({'x': x})\n");
    let h = serve(&d).await;
    let r = get(&h, "/boom").await;
    assert_eq!(r.status, 500);
    assert!(r.body.contains("\"message\":\"Internal Server Error\""), "{}", r.body);
    assert!(r.body.contains("ZeroDivisionError"), "{}", r.body);
    assert!(r.body.contains("\"traceback\""), "{}", r.body);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_askfile_port_change_rebinds_the_listener() {
    let d = folder("rebind");
    let free = || std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port");
    let (p1, p2) = (free(), free());
    write(&d, "Askfile.toml", &format!("[server]\nhost = \"127.0.0.1\"\nport = {p1}\n"));
    write(&d, "main.ask", &program("one"));
    let h = dev::start(&d.join("main.ask"), DevOptions::default()).await.expect("dev server starts");
    assert_eq!(h.addr().port(), p1);
    write(&d, "Askfile.toml", &format!("[server]\nhost = \"127.0.0.1\"\nport = {p2}\n"));
    until("the new port", || h.addr().port() == p2).await;
    let r = get_at(std::net::SocketAddr::from(([127, 0, 0, 1], p2)), "/").await;
    assert!(r.body.contains("one"), "{}", r.body);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_mode_reloads() {
    let d = folder("poll");
    write(&d, "main.ask", &program("one"));
    let h = dev::start(&d.join("main.ask"), DevOptions { host: Some("127.0.0.1".into()), port: Some(0), poll: true }).await.expect("dev server starts");
    write(&d, "main.ask", &program("polled"));
    until_body(&h, "/", "polled").await;
    settle().await;
    assert_eq!(h.reloads(), 1);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_files_beside_the_program_do_not_trigger_reloads() {
    let d = folder("dbfiles");
    write(&d, "main.ask", &program("one"));
    let h = serve(&d).await;
    for f in ["app.db", "app.db-wal", "app.db-shm", "app.db-journal"] {
        write(&d, f, "data");
    }
    std::fs::create_dir_all(d.join("target")).expect("target");
    write(&d.join("target"), "x.ask", "x = 1\n");
    settle().await;
    assert_eq!(h.reloads() + h.failures() + h.skips(), 0);
    h.shutdown().await;
}
