//! `&limit` bookkeeping cost per request (target < 1 µs), plus HS256 validation for comparison.
//! A plain timing loop (no criterion: it would add a heavy dependency tree to a 2-core build):
//! `cargo bench -p ask-auth --bench limit`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use ask_auth::jwt::{login_claims, Validator};
use ask_auth::limit::{parse_rules, Decision, Limiter, DEFAULT_MAX_KEYS};

fn ns_per(iters: u64, f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_nanos() as f64 / iters as f64
}

fn main() {
    let n: u64 = 5_000_000;
    let ips: Vec<IpAddr> = (0..1024u32)
        .map(|i| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)))
        .collect();

    let l = Limiter::new(parse_rules("1000000 per minute").unwrap(), DEFAULT_MAX_KEYS);
    let one = ns_per(n, || {
        for i in 0..n {
            black_box(l.check(black_box(ips[0]), i / 1000));
        }
    });
    println!("limit check, 1 rule, one client:          {one:7.1} ns/call");

    let l = Limiter::new(
        parse_rules("100 per second; 1000 per minute; 10000 per day").unwrap(),
        DEFAULT_MAX_KEYS,
    );
    let mut limited = 0u64;
    let many = ns_per(n, || {
        for i in 0..n {
            if let Decision::Limited { .. } = l.check(ips[(i % 1024) as usize], i / 1000) {
                limited += 1;
            }
        }
    });
    println!("limit check, 3 rules, 1024 clients:       {many:7.1} ns/call ({limited} limited)");

    // Table churn: every call a new client (eviction path), bounded table.
    let l = Limiter::new(parse_rules("5 per minute").unwrap(), 65_536);
    let churn = ns_per(n, || {
        for i in 0..n {
            black_box(l.check(IpAddr::V4(Ipv4Addr::from(i as u32)), i / 1000));
        }
    });
    println!(
        "limit check, new client every call:       {churn:7.1} ns/call (table {} keys)",
        l.len()
    );

    // Two threads on one limiter.
    let l = Arc::new(Limiter::new(
        parse_rules("1000000 per minute").unwrap(),
        DEFAULT_MAX_KEYS,
    ));
    let per_thread = n / 2;
    let t = Instant::now();
    let hs: Vec<_> = (0..2)
        .map(|k| {
            let l = l.clone();
            let ips = ips.clone();
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    black_box(l.check(ips[((i * 7 + k) % 1024) as usize], i / 1000));
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let par = t.elapsed().as_nanos() as f64 / per_thread as f64;
    println!("limit check, 2 threads, wall per call:    {par:7.1} ns/call");

    let secret = b"bench-secret-0123456789abcdef-0123456789";
    let v = Validator::new(secret, 0).unwrap();
    let now = 1_700_000_000;
    let token = v
        .encode(&login_claims("ada@example.com".into(), 3600, now))
        .unwrap();
    let m = 200_000;
    let jwt = ns_per(m, || {
        for _ in 0..m {
            black_box(v.validate_uncached(black_box(&token), now).unwrap());
        }
    });
    println!("jwt validate, full check (HS256):         {jwt:7.1} ns/call");
    let jwt = ns_per(m, || {
        for _ in 0..m {
            black_box(v.validate(black_box(&token), now).unwrap());
        }
    });
    println!("jwt validate, repeat token (cached):      {jwt:7.1} ns/call");
}
