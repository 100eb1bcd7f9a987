//! Unit tests of rule parsing, counting, eviction and client addresses.

use super::*;
use std::net::Ipv4Addr;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn rule(count: u32, period_secs: u64) -> Rule {
    Rule { count, period_secs }
}

#[test]
fn parse_all_syntaxes() {
    assert_eq!(parse_rules("5 per minute"), Ok(vec![rule(5, 60)]));
    assert_eq!(parse_rules("5/minute"), Ok(vec![rule(5, 60)]));
    assert_eq!(parse_rules("5 / minute"), Ok(vec![rule(5, 60)]));
    assert_eq!(parse_rules("10 per 30 seconds"), Ok(vec![rule(10, 30)]));
    assert_eq!(parse_rules("10/30 seconds"), Ok(vec![rule(10, 30)]));
    assert_eq!(parse_rules("3 per 10 minutes"), Ok(vec![rule(3, 600)]));
    assert_eq!(parse_rules("500/day"), Ok(vec![rule(500, 86_400)]));
    assert_eq!(parse_rules("100/days"), Ok(vec![rule(100, 86_400)]));
    assert_eq!(parse_rules("1 per second"), Ok(vec![rule(1, 1)]));
    assert_eq!(parse_rules("2 Per 1 HOUR"), Ok(vec![rule(2, 3_600)]));
    assert_eq!(parse_rules("  7 per hours  "), Ok(vec![rule(7, 3_600)]));
    assert_eq!(parse_rules("1 per month"), Ok(vec![rule(1, 30 * 86_400)]));
    assert_eq!(parse_rules("1 per year"), Ok(vec![rule(1, 360 * 86_400)]));
    assert_eq!(
        parse_rules("1 per 3 seconds; 100 per hour"),
        Ok(vec![rule(1, 3), rule(100, 3_600)])
    );
    assert_eq!(
        parse_rules("10 per minute;2 per hour;"),
        Ok(vec![rule(10, 60), rule(2, 3_600)])
    );
    assert_eq!(
        parse_rules("10/minute, 2/hour"),
        Ok(vec![rule(10, 60), rule(2, 3_600)])
    );
}

#[test]
fn parse_errors_are_clear() {
    let e = parse_rules("").unwrap_err();
    assert!(e.contains("empty"), "{e}");
    let e = parse_rules(" ; ").unwrap_err();
    assert!(e.contains("empty"), "{e}");
    for bad in [
        "per minute",
        "five per minute",
        "5 minute",
        "5 perminute",
        "5 per",
        "5/",
        "5 every minute",
        "-1/minute",
    ] {
        let e = parse_rules(bad).unwrap_err();
        assert!(e.contains("expected"), "{bad}: {e}");
    }
    let e = parse_rules("5 per fortnight").unwrap_err();
    assert!(
        e.contains("unknown time unit") && e.contains("fortnight"),
        "{e}"
    );
    let e = parse_rules("5 per 2 minutesx").unwrap_err();
    assert!(e.contains("unknown time unit"), "{e}");
    let e = parse_rules("0 per minute").unwrap_err();
    assert!(e.contains("at least 1"), "{e}");
    let e = parse_rules("5 per 0 seconds").unwrap_err();
    assert!(e.contains("empty period"), "{e}");
    let e = parse_rules("99999999999 per minute").unwrap_err();
    assert!(e.contains("too large"), "{e}");
    let e = parse_rules("1 per 99999999999999 years").unwrap_err();
    assert!(e.contains("too long") || e.contains("too large"), "{e}");
    let e = parse_rules("1/second;1/minute;1/hour;1/day;1/month").unwrap_err();
    assert!(e.contains("at most 4"), "{e}");
}

#[test]
fn rule_display() {
    assert_eq!(rule(5, 60).to_string(), "5 per 1 minute");
    assert_eq!(rule(10, 30).to_string(), "10 per 30 seconds");
    assert_eq!(rule(3, 600).to_string(), "3 per 10 minutes");
    assert_eq!(rule(2, 7_200).to_string(), "2 per 2 hours");
}

fn limiter(text: &str) -> Limiter {
    Limiter::new(parse_rules(text).unwrap(), 1_000)
}

#[test]
fn three_per_minute() {
    let l = limiter("3 per minute");
    let a = ip("10.0.0.1");
    for t in [0, 10, 20] {
        assert_eq!(l.check(a, t), Decision::Allowed);
    }
    assert_eq!(
        l.check(a, 30),
        Decision::Limited {
            retry_after_secs: 60
        }
    );
    assert_eq!(
        l.check(a, 30_500),
        Decision::Limited {
            retry_after_secs: 30
        }
    );
    assert_eq!(
        l.check(a, 59_999),
        Decision::Limited {
            retry_after_secs: 1
        }
    );
    // Another client has its own counter.
    assert_eq!(l.check(ip("10.0.0.2"), 30), Decision::Allowed);
    // The window (opened at t=0) has passed.
    assert_eq!(l.check(a, 60_000), Decision::Allowed);
    assert_eq!(l.check(a, 60_001), Decision::Allowed);
    assert_eq!(l.check(a, 60_002), Decision::Allowed);
    assert!(matches!(l.check(a, 60_003), Decision::Limited { .. }));
}

#[test]
fn window_opens_at_first_request_and_refusals_do_not_count() {
    let l = limiter("1 per 3 seconds");
    let a = ip("192.0.2.7");
    assert_eq!(l.check(a, 5_000), Decision::Allowed);
    assert_eq!(
        l.check(a, 5_100),
        Decision::Limited {
            retry_after_secs: 3
        }
    );
    // Hammering while limited does not extend the window.
    for t in (5_200..8_000).step_by(100) {
        assert!(matches!(l.check(a, t), Decision::Limited { .. }));
    }
    assert_eq!(l.check(a, 8_500), Decision::Allowed);
}

#[test]
fn rule_lists_all_apply() {
    // The conformance cases: a short window refuses a burst, a long one caps the total.
    let l = limiter("1 per 3 seconds; 100 per hour");
    let a = ip("10.1.1.1");
    assert_eq!(l.check(a, 0), Decision::Allowed);
    assert_eq!(
        l.check(a, 10),
        Decision::Limited {
            retry_after_secs: 3
        }
    );
    assert_eq!(l.check(a, 3_500), Decision::Allowed);

    let l = limiter("10 per minute; 2 per hour");
    assert_eq!(l.check(a, 0), Decision::Allowed);
    assert_eq!(l.check(a, 1), Decision::Allowed);
    assert_eq!(
        l.check(a, 2),
        Decision::Limited {
            retry_after_secs: 3_600
        }
    );
    // After a minute the per-minute rule has room, the hourly one still refuses.
    assert!(matches!(l.check(a, 61_000), Decision::Limited { .. }));

    // Retry-After is the longest wait among the exhausted rules.
    let l = limiter("1 per second; 1 per minute");
    assert_eq!(l.check(a, 0), Decision::Allowed);
    assert_eq!(
        l.check(a, 500),
        Decision::Limited {
            retry_after_secs: 60
        }
    );
}

#[test]
fn slash_form_and_counts() {
    let l = limiter("2/minute");
    let a = ip("203.0.113.9");
    assert_eq!(l.check(a, 0), Decision::Allowed);
    assert_eq!(l.check(a, 0), Decision::Allowed);
    assert!(matches!(
        l.check(a, 0),
        Decision::Limited {
            retry_after_secs: 60
        }
    ));
}

#[test]
fn ipv6_counted_per_64_and_mapped_v4_as_v4() {
    let l = limiter("1 per minute");
    assert_eq!(l.check(ip("2001:db8:1:2::1"), 0), Decision::Allowed);
    assert!(matches!(
        l.check(ip("2001:db8:1:2:ffff::9"), 0),
        Decision::Limited { .. }
    ));
    assert_eq!(l.check(ip("2001:db8:1:3::1"), 0), Decision::Allowed);
    assert_eq!(l.check(ip("198.51.100.1"), 0), Decision::Allowed);
    assert!(matches!(
        l.check(ip("::ffff:198.51.100.1"), 0),
        Decision::Limited { .. }
    ));
    assert_eq!(rate_key(ip("::ffff:1.2.3.4")), ip("1.2.3.4"));
    assert_eq!(rate_key(ip("2001:db8::1234")), ip("2001:db8::"));
}

#[test]
fn table_is_bounded_and_keeps_active_clients() {
    let max = 640;
    let l = Limiter::new(parse_rules("5 per hour").unwrap(), max);
    let busy = ip("10.9.9.9");
    assert_eq!(l.check(busy, 0), Decision::Allowed);
    for i in 0..50_000u32 {
        let other = IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + i));
        l.check(other, 1);
        if i % 100 == 0 {
            l.check(busy, 1);
        }
        assert!(l.len() <= max, "{} keys", l.len());
    }
    // The busy client was seen throughout, so its count (1 + 500 checks) was never forgotten.
    assert!(matches!(l.check(busy, 2), Decision::Limited { .. }));
    assert!(l.len() > max / 4);
}

#[test]
fn no_rules_never_limits() {
    let l = Limiter::new(vec![], 10);
    for t in 0..100 {
        assert_eq!(l.check(ip("1.1.1.1"), t), Decision::Allowed);
    }
}

#[test]
fn thread_safe_counts_exactly() {
    let l = Arc::new(limiter("1000 per hour"));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let l = l.clone();
            std::thread::spawn(move || {
                (0..400)
                    .filter(|_| l.check(ip("10.0.0.1"), 5) == Decision::Allowed)
                    .count()
            })
        })
        .collect();
    let allowed: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(allowed, 1000);
}

#[test]
fn client_key_and_trusted_proxies() {
    let trusted = parse_trusted(&["127.0.0.1", "10.0.0.0/8", "fd00::/8"]).unwrap();
    let peer = ip("203.0.113.5");
    // Untrusted peer: X-Forwarded-For is ignored.
    assert_eq!(client_key(peer, Some("1.2.3.4"), &trusted), peer);
    assert_eq!(client_key(peer, None, &trusted), peer);
    // Trusted peer: the right-most untrusted entry.
    let proxy = ip("127.0.0.1");
    assert_eq!(client_key(proxy, Some("1.2.3.4"), &trusted), ip("1.2.3.4"));
    assert_eq!(
        client_key(proxy, Some("6.6.6.6, 1.2.3.4, 10.1.2.3"), &trusted),
        ip("1.2.3.4")
    );
    assert_eq!(
        client_key(proxy, Some("1.2.3.4:5678"), &trusted),
        ip("1.2.3.4")
    );
    assert_eq!(
        client_key(proxy, Some("[2001:db8::1]:443"), &trusted),
        ip("2001:db8::1")
    );
    assert_eq!(
        client_key(proxy, Some("2001:db8::1"), &trusted),
        ip("2001:db8::1")
    );
    // Garbage stops the walk at the last good address.
    assert_eq!(client_key(proxy, Some("1.2.3.4, garbage"), &trusted), proxy);
    assert_eq!(
        client_key(proxy, Some("garbage, 5.6.7.8"), &trusted),
        ip("5.6.7.8")
    );
    // All trusted: the left-most one.
    assert_eq!(
        client_key(proxy, Some("10.0.0.9, 10.0.0.8"), &trusted),
        ip("10.0.0.9")
    );
    // IPv4-mapped peer is matched against IPv4 ranges.
    assert_eq!(
        client_key(ip("::ffff:127.0.0.1"), Some("9.9.9.9"), &trusted),
        ip("9.9.9.9")
    );
    // No trusted proxies at all.
    assert_eq!(client_key(proxy, Some("9.9.9.9"), &[]), proxy);
    assert!(parse_trusted(&["10.0.0.0/33"]).is_err());
    assert!(parse_trusted(&["example.com"]).is_err());
    let all: IpNet = "0.0.0.0/0".parse().unwrap();
    assert!(all.contains(ip("8.8.8.8")) && !all.contains(ip("::1")));
}

#[test]
fn registry_survives_reload_of_unchanged_rules() {
    let reg = LimiterRegistry::new(1_000);
    let a = reg.get("GET /a", "1 per minute").unwrap();
    assert_eq!(a.check(ip("1.1.1.1"), 0), Decision::Allowed);
    // Reload: same route and text → same counters.
    let a2 = reg.get("GET /a", "1 per minute").unwrap();
    assert!(Arc::ptr_eq(&a, &a2));
    assert!(matches!(
        a2.check(ip("1.1.1.1"), 1),
        Decision::Limited { .. }
    ));
    // Changed text → fresh limiter; the old one can be dropped.
    let a3 = reg.get("GET /a", "2 per minute").unwrap();
    assert!(!Arc::ptr_eq(&a, &a3));
    reg.retain(|route, text| route == "GET /a" && text == "2 per minute");
    assert_eq!(reg.len(), 1);
    assert!(reg
        .get("GET /b", "nonsense")
        .unwrap_err()
        .contains("invalid rate limit"));
}
