//! `&limit(rule)`: rule parsing (`'5 per minute'`, `'5/minute'`, `'10 per 30 seconds'`, lists
//! joined by `;`), the per-client counters, and which address a request counts against.
//!
//! Algorithm: a **fixed window per client and rule, starting at the client's first request**
//! (what Flask-Limiter's default `fixed-window` strategy over `memory://` did in 1.5.0). A window
//! of `N per P` admits N requests, then refuses until P has passed since the window opened;
//! `Retry-After` is the time left, rounded up to whole seconds. A client may get up to 2N
//! requests across a window boundary; in exchange a check is a couple of hash lookups and
//! compares under an uncontended lock, with no per-request allocation. Refused requests are not
//! counted (a client that keeps retrying is not locked out for longer). With several rules, a
//! request passes only if every rule has room, and then counts against all of them.
//!
//! Memory is bounded: each of 16 shards keeps two generations of keys (`cur` and `old`); a key
//! used during a generation is moved to `cur`, and when `cur` is full, `old` is dropped and `cur`
//! becomes `old`. So the table holds at most `max_keys` clients, the ones not seen for the longest
//! are forgotten first, and every operation is O(1) amortised. Forgetting a client resets its
//! counters: only possible when more than `max_keys / 2` distinct clients were active in between,
//! a trade-off for a hard memory bound.
//!
//! IPv6 clients are counted per /64 (one subscriber usually owns a whole /64, so per-address
//! counting would be trivial to evade); IPv4-mapped IPv6 peers count as their IPv4 address.

use std::collections::hash_map::{Entry as MapEntry, HashMap};
use std::fmt;
use std::hash::BuildHasher as _;
use std::hash::RandomState;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};

/// Most rules in one `&limit(...)` (each client entry stores this many windows inline, so no
/// allocation per client).
pub const MAX_RULES: usize = 4;

/// Default bound on the number of clients remembered per limiter.
pub const DEFAULT_MAX_KEYS: usize = 100_000;

/// Body of the 429 answer.
pub const TOO_MANY_REQUESTS_BODY: &str = r#"{"message": "Too Many Requests"}"#;

const SHARDS: usize = 16;

/// One rule: at most `count` requests per `period_secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub count: u32,
    pub period_secs: u64,
}

const UNITS: [(&str, u64); 6] = [
    ("second", 1),
    ("minute", 60),
    ("hour", 3_600),
    ("day", 86_400),
    // As Flask-Limiter (the `limits` package): a month is 30 days, a year 12 such months.
    ("month", 30 * 86_400),
    ("year", 12 * 30 * 86_400),
];

impl fmt::Display for Rule {
    /// `5 per 1 minute`, `10 per 30 second` style (the largest unit that divides the period).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, size) = UNITS
            .iter()
            .rev()
            .find(|(_, s)| self.period_secs.checked_rem(*s) == Some(0))
            .copied()
            .unwrap_or(("second", 1));
        let n = self.period_secs / size;
        write!(
            f,
            "{} per {} {}{}",
            self.count,
            n,
            name,
            if n == 1 { "" } else { "s" }
        )
    }
}

/// Parses the argument of `&limit(...)`: one or more rules joined by `;` (`,` and `|` are accepted
/// too, as Flask-Limiter did). A rule is `<count> per [<n>] <unit>` or `<count>/[<n>] <unit>`,
/// case-insensitive, with unit second, minute, hour, day, month or year, singular or plural.
pub fn parse_rules(text: &str) -> Result<Vec<Rule>, String> {
    let mut rules = Vec::new();
    for piece in text.split([';', ',', '|']) {
        let piece = piece.trim();
        if piece.is_empty() {
            continue;
        }
        rules.push(parse_rule(piece)?);
    }
    if rules.is_empty() {
        return Err(format!(
            "empty rate limit {text:?}: expected a rule such as '5 per minute'"
        ));
    }
    if rules.len() > MAX_RULES {
        return Err(format!(
            "rate limit {text:?} has {} rules; at most {MAX_RULES} are allowed",
            rules.len()
        ));
    }
    Ok(rules)
}

fn syntax_error(piece: &str) -> String {
    format!(
        "invalid rate limit {piece:?}: expected '<count> per <unit>' or '<count>/<unit>', e.g. \
         '5 per minute', '10 per 30 seconds', '100/day'"
    )
}

fn parse_rule(piece: &str) -> Result<Rule, String> {
    let lower = piece.to_ascii_lowercase();
    let s = lower.as_str();
    let digits = s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return Err(syntax_error(piece));
    }
    let count: u32 = s[..digits]
        .parse()
        .map_err(|_| format!("rate limit count too large in {piece:?}"))?;
    let rest = s[digits..].trim_start();
    let rest = if let Some(r) = rest.strip_prefix('/') {
        r
    } else if let Some(r) = rest.strip_prefix("per") {
        if !r.starts_with(|c: char| c.is_whitespace()) {
            return Err(syntax_error(piece));
        }
        r
    } else {
        return Err(syntax_error(piece));
    };
    let rest = rest.trim_start();
    let ndigits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let multiplier: u64 = if ndigits == 0 {
        1
    } else {
        rest[..ndigits]
            .parse()
            .map_err(|_| format!("rate limit period too large in {piece:?}"))?
    };
    let unit = rest[ndigits..].trim();
    if unit.is_empty() {
        return Err(syntax_error(piece));
    }
    let singular = unit.strip_suffix('s').unwrap_or(unit);
    let Some(&(_, size)) = UNITS.iter().find(|(n, _)| *n == singular) else {
        return Err(format!(
            "unknown time unit {unit:?} in rate limit {piece:?} (use second, minute, hour, day, month \
             or year)"
        ));
    };
    if count == 0 {
        return Err(format!(
            "rate limit {piece:?} allows no request; the count must be at least 1"
        ));
    }
    if multiplier == 0 {
        return Err(format!("rate limit {piece:?} has an empty period"));
    }
    let period_secs = multiplier
        .checked_mul(size)
        .filter(|p| *p <= 100 * 365 * 86_400)
        .ok_or_else(|| format!("rate limit period too long in {piece:?}"))?;
    Ok(Rule { count, period_secs })
}

/// The outcome of [`Limiter::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Answer 429 [`TOO_MANY_REQUESTS_BODY`] with `Retry-After: retry_after_secs` (≥ 1).
    Limited {
        retry_after_secs: u64,
    },
}

#[derive(Debug, Clone, Copy, Default)]
struct Window {
    /// When the current window ends (ms, caller's clock); 0 for a new client (so it opens one).
    reset_at: u64,
    count: u32,
}

type Slots = [Window; MAX_RULES];

#[derive(Default)]
struct Shard {
    cur: HashMap<IpAddr, Slots>,
    old: HashMap<IpAddr, Slots>,
}

/// Counters for one `&limit(...)` (one route). Thread-safe; share it with `Arc`.
pub struct Limiter {
    rules: Vec<Rule>,
    periods_ms: [u64; MAX_RULES],
    counts: [u32; MAX_RULES],
    shards: Box<[Mutex<Shard>]>,
    shard_hasher: RandomState,
    generation_cap: usize,
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter")
            .field("rules", &self.rules)
            .field("keys", &self.len())
            .finish()
    }
}

impl Limiter {
    /// `rules` from [`parse_rules`] (1..=[`MAX_RULES`]; extra rules are ignored, none → nothing
    /// is ever limited); `max_keys`: most clients remembered ([`DEFAULT_MAX_KEYS`]).
    pub fn new(rules: Vec<Rule>, max_keys: usize) -> Self {
        let mut rules = rules;
        rules.truncate(MAX_RULES);
        let mut periods_ms = [0; MAX_RULES];
        let mut counts = [0; MAX_RULES];
        for (i, r) in rules.iter().enumerate() {
            periods_ms[i] = r.period_secs.saturating_mul(1000);
            counts[i] = r.count;
        }
        let shards = (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect();
        Limiter {
            rules,
            periods_ms,
            counts,
            shards,
            shard_hasher: RandomState::new(),
            generation_cap: (max_keys / (2 * SHARDS)).max(1),
        }
    }

    /// The rules this limiter enforces.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Number of clients currently remembered.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let s = s.lock().unwrap_or_else(PoisonError::into_inner);
                s.cur.len() + s.old.len()
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts one request of client `ip` at `now_ms` (milliseconds on a monotonic clock, e.g.
    /// since server start) and says whether it may proceed.
    pub fn check(&self, ip: IpAddr, now_ms: u64) -> Decision {
        let n = self.rules.len();
        if n == 0 {
            return Decision::Allowed;
        }
        let key = rate_key(ip);
        let shard = &self.shards[self.shard_hasher.hash_one(key) as usize % SHARDS];
        let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        let shard = &mut *shard;
        if shard.cur.len() >= self.generation_cap {
            // Rotate: forget the clients not seen during a whole generation. `clear` keeps the
            // allocation, so steady state allocates nothing.
            std::mem::swap(&mut shard.cur, &mut shard.old);
            shard.cur.clear();
        }
        let slots = match shard.cur.entry(key) {
            MapEntry::Occupied(o) => o.into_mut(),
            MapEntry::Vacant(v) => v.insert(shard.old.remove(&key).unwrap_or_default()),
        };
        let mut wait_ms = 0;
        for (i, w) in slots[..n].iter_mut().enumerate() {
            if now_ms >= w.reset_at {
                // The window opens at this client's first request after the previous one ended.
                w.reset_at = now_ms.saturating_add(self.periods_ms[i]);
                w.count = 0;
            }
            if w.count >= self.counts[i] {
                wait_ms = wait_ms.max(w.reset_at - now_ms);
            }
        }
        if wait_ms > 0 {
            return Decision::Limited {
                retry_after_secs: wait_ms.div_ceil(1000).max(1),
            };
        }
        for w in &mut slots[..n] {
            w.count += 1;
        }
        Decision::Allowed
    }
}

/// The address a client is counted under: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by /64.
pub fn rate_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

/// An address range for `[server] trusted_proxies`: `10.0.0.0/8`, `fd00::/8`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.prefix)
                };
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.prefix)
                };
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for IpNet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bad = || {
            format!(
                "invalid address or network {s:?} (expected e.g. 10.0.0.1, 10.0.0.0/8 or fd00::/8)"
            )
        };
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(IpNet { addr, prefix })
    }
}

/// Parses `[server] trusted_proxies` entries.
pub fn parse_trusted(list: &[&str]) -> Result<Vec<IpNet>, String> {
    list.iter().map(|s| s.parse()).collect()
}

/// The client address of a request: the TCP `peer`, unless the peer is a trusted proxy; then the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy (entries to its left are
/// client-controlled and ignored). An unparsable entry stops the walk at the last good address.
/// Several `X-Forwarded-For` headers must be joined with `,` by the caller, in order.
pub fn client_key(peer: IpAddr, x_forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    let Some(xff) = x_forwarded_for else {
        return peer;
    };
    if !is_trusted(peer) {
        return peer;
    }
    let mut client = peer;
    for part in xff.rsplit(',') {
        let Some(ip) = parse_forwarded(part.trim()) else {
            break;
        };
        client = ip.to_canonical();
        if !is_trusted(client) {
            break;
        }
    }
    client
}

/// `1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]`, `[::1]:80`.
fn parse_forwarded(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']').and_then(|(a, _)| a.parse().ok());
    }
    s.rsplit_once(':').and_then(|(a, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            a.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
        } else {
            None
        }
    })
}

/// Keeps one [`Limiter`] per (route, rule text) across hot reloads: a route whose `&limit` text is
/// unchanged keeps its counters; changed or removed ones are dropped by [`retain`](Self::retain).
#[derive(Default)]
pub struct LimiterRegistry {
    max_keys: usize,
    map: Mutex<HashMap<(String, String), Arc<Limiter>>>,
}

impl LimiterRegistry {
    pub fn new(max_keys: usize) -> Self {
        LimiterRegistry {
            max_keys,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The limiter of `route` (any stable id, e.g. `"GET /login"`) for `rule_text`, reusing the
    /// existing one when both are unchanged. Errors are [`parse_rules`]'s messages.
    pub fn get(&self, route: &str, rule_text: &str) -> Result<Arc<Limiter>, String> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(l) = map.get(&(route.to_owned(), rule_text.to_owned())) {
            return Ok(l.clone());
        }
        let rules = parse_rules(rule_text)?;
        let max = if self.max_keys == 0 {
            DEFAULT_MAX_KEYS
        } else {
            self.max_keys
        };
        let l = Arc::new(Limiter::new(rules, max));
        map.insert((route.to_owned(), rule_text.to_owned()), l.clone());
        Ok(l)
    }

    /// Drops the limiters for which `keep(route, rule_text)` is false (call after a reload with
    /// the new program's routes).
    pub fn retain(&self, mut keep: impl FnMut(&str, &str) -> bool) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|(r, t), _| keep(r, t));
    }

    pub fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests;
