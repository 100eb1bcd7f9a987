//! `import datetime`: `datetime`, `date`, `time`, `timedelta` and `timezone` with CPython's
//! constructors, arithmetic, comparisons, `isoformat`/`fromisoformat`, `strftime`/`strptime`,
//! and reprs. Naive "local" times use `vm.host.local_offset`; the clock is `vm.host.now`.
//!
//! Representation: a datetime is microseconds since 0001-01-01 00:00 on its own wall clock plus
//! an optional fixed UTC offset; a date is a proleptic Gregorian ordinal; a timedelta is total
//! microseconds. Classes are `Value::Class`es whose `__new__` builds the native object;
//! arithmetic is exposed as `__add__`/`__sub__`/... natives (and [`binop`] for Rust callers).
//!
//! The module also behaves like Ask's `datetime` helper (`datetime.now()` on the module), and
//! [`datetime_class_value`] gives the class the helper name should be bound to.

use std::rc::Rc;

use super::util::{self, bind, downcast, func, method, obj, py_str_repr, skip_cls, tname, Kw};
use crate::error::{Exc, VmResult};
use crate::value::{Class, ExcKind, NativeObject, Value};
use crate::Vm;

pub const US_PER_SEC: i64 = 1_000_000;
pub const US_PER_DAY: i64 = 86_400 * US_PER_SEC;
/// `date(1970, 1, 1).toordinal()`.
const EPOCH_ORD: i64 = 719_163;
/// `date(9999, 12, 31).toordinal()`.
const MAX_ORD: i64 = 3_652_059;
const MAX_TD_DAYS: i128 = 999_999_999;

const MONTHS: [&str; 12] = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

// ---------------------------------------------------------------------------------------------
// Calendar arithmetic

pub fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

pub fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if is_leap(y) {
                29
            } else {
                28
            }
        }
    }
}

fn days_before_year(y: i64) -> i64 {
    let y = y - 1;
    y * 365 + y / 4 - y / 100 + y / 400
}

fn days_before_month(y: i64, m: i64) -> i64 {
    const DBM: [i64; 13] = [0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    DBM[m as usize] + if m > 2 && is_leap(y) { 1 } else { 0 }
}

pub fn ymd_to_ord(y: i64, m: i64, d: i64) -> i64 {
    days_before_year(y) + days_before_month(y, m) + d
}

/// Proleptic Gregorian ordinal → (year, month, day) (Hinnant's civil_from_days).
pub fn ord_to_ymd(ord: i64) -> (i64, i64, i64) {
    let z = ord - EPOCH_ORD + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn check_date(y: i64, m: i64, d: i64) -> VmResult<()> {
    if !(1..=9999).contains(&y) {
        return Err(Exc::value_error(format!("year {y} is out of range")));
    }
    if !(1..=12).contains(&m) {
        return Err(Exc::value_error("month must be in 1..12"));
    }
    if d < 1 || d > days_in_month(y, m) {
        return Err(Exc::value_error("day is out of range for month"));
    }
    Ok(())
}

fn check_time(h: i64, mi: i64, s: i64, us: i64) -> VmResult<()> {
    if !(0..=23).contains(&h) {
        return Err(Exc::value_error("hour must be in 0..23"));
    }
    if !(0..=59).contains(&mi) {
        return Err(Exc::value_error("minute must be in 0..59"));
    }
    if !(0..=59).contains(&s) {
        return Err(Exc::value_error("second must be in 0..59"));
    }
    if !(0..=999_999).contains(&us) {
        return Err(Exc::value_error("microsecond must be in 0..999999"));
    }
    Ok(())
}

/// ISO calendar (year, week, weekday) of an ordinal.
fn iso_calendar(ord: i64) -> (i64, i64, i64) {
    let (y, _, _) = ord_to_ymd(ord);
    let week1 = |y: i64| -> i64 {
        let first = ymd_to_ord(y, 1, 1);
        let wd = (first + 6) % 7;
        let mut monday = first - wd;
        if wd > 3 {
            monday += 7;
        }
        monday
    };
    let mut year = y;
    let mut start = week1(year);
    if ord < start {
        year -= 1;
        start = week1(year);
    } else {
        let next = week1(year + 1);
        if ord >= next {
            year += 1;
            start = next;
        }
    }
    let week = (ord - start) / 7 + 1;
    let wd = (ord + 6) % 7 + 1;
    (year, week, wd)
}

// ---------------------------------------------------------------------------------------------
// Objects

#[derive(Clone)]
pub struct Tz {
    /// UTC offset in microseconds.
    pub off: i64,
    pub name: Option<String>,
}

impl Tz {
    fn utc() -> Tz {
        Tz { off: 0, name: None }
    }
    fn offset_str(&self, colon: bool) -> String {
        offset_string(self.off, colon)
    }
    fn tzname(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None if self.off == 0 => "UTC".into(),
            None => format!("UTC{}", self.offset_str(true)),
        }
    }
}

fn offset_string(off: i64, colon: bool) -> String {
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.abs();
    let (h, rest) = (a / (3600 * US_PER_SEC), a % (3600 * US_PER_SEC));
    let (m, rest) = (rest / (60 * US_PER_SEC), rest % (60 * US_PER_SEC));
    let (s, us) = (rest / US_PER_SEC, rest % US_PER_SEC);
    let c = if colon { ":" } else { "" };
    let mut out = format!("{sign}{h:02}{c}{m:02}");
    if s != 0 || us != 0 {
        out.push_str(&format!("{c}{s:02}"));
        if us != 0 {
            out.push_str(&format!(".{us:06}"));
        }
    }
    out
}

pub struct TimeDelta {
    pub us: i128,
}

pub struct Date {
    pub ord: i64,
}

pub struct DateTime {
    /// Microseconds since 0001-01-01 00:00 on the wall clock of `tz` (or naive).
    pub us: i64,
    pub tz: Option<Tz>,
}

pub struct Time {
    pub us: i64,
    pub tz: Option<Tz>,
}

pub struct TimeZone(pub Tz);

impl TimeDelta {
    fn parts(&self) -> (i128, i128, i128) {
        let days = self.us.div_euclid(US_PER_DAY as i128);
        let rest = self.us.rem_euclid(US_PER_DAY as i128);
        (days, rest / US_PER_SEC as i128, rest % US_PER_SEC as i128)
    }
}

fn td_value(us: i128) -> VmResult<Value> {
    let days = us.div_euclid(US_PER_DAY as i128);
    if days.abs() > MAX_TD_DAYS {
        return Err(Exc::new(ExcKind::OverflowError, format!("days={days}; must have magnitude <= 999999999")));
    }
    Ok(obj(TimeDelta { us }))
}

fn dt_value(us: i64, tz: Option<Tz>) -> VmResult<Value> {
    if !(0..MAX_ORD * US_PER_DAY).contains(&us) {
        return Err(Exc::new(ExcKind::OverflowError, "date value out of range"));
    }
    Ok(obj(DateTime { us, tz }))
}

fn date_value(ord: i64) -> VmResult<Value> {
    if !(1..=MAX_ORD).contains(&ord) {
        return Err(Exc::new(ExcKind::OverflowError, "date value out of range"));
    }
    Ok(obj(Date { ord }))
}

/// Broken-down time used by `strftime`, `isoformat` and reprs.
pub struct Tm {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub us: i64,
    pub ord: i64,
    pub tz: Option<Tz>,
}

impl Tm {
    fn weekday(&self) -> i64 {
        (self.ord + 6) % 7
    }
    fn yday(&self) -> i64 {
        self.ord - ymd_to_ord(self.year, 1, 1) + 1
    }
}

impl DateTime {
    pub fn tm(&self) -> Tm {
        let ord = self.us.div_euclid(US_PER_DAY) + 1;
        let tod = self.us.rem_euclid(US_PER_DAY);
        let (year, month, day) = ord_to_ymd(ord);
        let secs = tod / US_PER_SEC;
        Tm {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
            us: tod % US_PER_SEC,
            ord,
            tz: self.tz.clone(),
        }
    }
    /// Microseconds since 0001-01-01 UTC (aware) or on the wall clock (naive).
    fn utc_us(&self) -> i64 {
        self.us - self.tz.as_ref().map_or(0, |t| t.off)
    }
    pub fn isoformat(&self, sep: &str, timespec: &str) -> Result<String, String> {
        let t = self.tm();
        let mut s = format!("{:04}-{:02}-{:02}{sep}", t.year, t.month, t.day);
        s.push_str(&time_iso(t.hour, t.minute, t.second, t.us, timespec)?);
        if let Some(tz) = &self.tz {
            s.push_str(&tz.offset_str(true));
        }
        Ok(s)
    }
    fn repr_s(&self) -> String {
        let t = self.tm();
        let mut parts = vec![t.year, t.month, t.day, t.hour, t.minute, t.second, t.us];
        for _ in 0..2 {
            if parts.last() == Some(&0) {
                parts.pop();
            }
        }
        let mut s = format!(
            "datetime.datetime({}",
            parts.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")
        );
        if let Some(tz) = &self.tz {
            s.push_str(&format!(", tzinfo={}", tz_repr(tz)));
        }
        s.push(')');
        s
    }
}

fn time_iso(h: i64, m: i64, s: i64, us: i64, timespec: &str) -> Result<String, String> {
    Ok(match timespec {
        "auto" => {
            if us != 0 {
                format!("{h:02}:{m:02}:{s:02}.{us:06}")
            } else {
                format!("{h:02}:{m:02}:{s:02}")
            }
        }
        "hours" => format!("{h:02}"),
        "minutes" => format!("{h:02}:{m:02}"),
        "seconds" => format!("{h:02}:{m:02}:{s:02}"),
        "milliseconds" => format!("{h:02}:{m:02}:{s:02}.{:03}", us / 1000),
        "microseconds" => format!("{h:02}:{m:02}:{s:02}.{us:06}"),
        _ => return Err("Unknown timespec value".into()),
    })
}

fn tz_repr(tz: &Tz) -> String {
    if tz.off == 0 && tz.name.is_none() {
        return "datetime.timezone.utc".into();
    }
    let td = TimeDelta { us: tz.off as i128 };
    match &tz.name {
        Some(n) => format!("datetime.timezone({}, {})", td.repr_s(), py_str_repr(n)),
        None => format!("datetime.timezone({})", td.repr_s()),
    }
}

impl TimeDelta {
    fn repr_s(&self) -> String {
        let (d, s, us) = self.parts();
        let mut args = Vec::new();
        if d != 0 {
            args.push(format!("days={d}"));
        }
        if s != 0 {
            args.push(format!("seconds={s}"));
        }
        if us != 0 {
            args.push(format!("microseconds={us}"));
        }
        if args.is_empty() {
            args.push("0".into());
        }
        format!("datetime.timedelta({})", args.join(", "))
    }
    fn str_s(&self) -> String {
        let (d, s, us) = self.parts();
        let mut out = format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
        if d != 0 {
            out = format!("{d} day{}, {out}", if d.abs() != 1 { "s" } else { "" });
        }
        if us != 0 {
            out.push_str(&format!(".{us:06}"));
        }
        out
    }
}

impl Date {
    fn tm(&self) -> Tm {
        let (year, month, day) = ord_to_ymd(self.ord);
        Tm { year, month, day, hour: 0, minute: 0, second: 0, us: 0, ord: self.ord, tz: None }
    }
    fn iso(&self) -> String {
        let (y, m, d) = ord_to_ymd(self.ord);
        format!("{y:04}-{m:02}-{d:02}")
    }
}

impl Time {
    fn tm(&self) -> Tm {
        let secs = self.us / US_PER_SEC;
        Tm {
            year: 1900,
            month: 1,
            day: 1,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
            us: self.us % US_PER_SEC,
            ord: ymd_to_ord(1900, 1, 1),
            tz: self.tz.clone(),
        }
    }
    fn iso(&self, timespec: &str) -> Result<String, String> {
        let t = self.tm();
        let mut s = time_iso(t.hour, t.minute, t.second, t.us, timespec)?;
        if let Some(tz) = &self.tz {
            s.push_str(&tz.offset_str(true));
        }
        Ok(s)
    }
}

// ---------------------------------------------------------------------------------------------
// strftime / strptime

/// C-locale `strftime` with glibc's extensions (`%-d`, `%e`, `%F`, `%T`...).
pub fn strftime(fmt: &str, t: &Tm) -> String {
    let mut out = String::with_capacity(fmt.len() + 16);
    let mut it = fmt.chars().peekable();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut nopad = false;
        let mut d = match it.next() {
            Some(d) => d,
            None => {
                out.push('%');
                break;
            }
        };
        if d == '-' {
            nopad = true;
            d = match it.next() {
                Some(d) => d,
                None => {
                    out.push_str("%-");
                    break;
                }
            };
        }
        let num = |v: i64, w: usize| if nopad { v.to_string() } else { format!("{v:0w$}") };
        let hour12 = if t.hour % 12 == 0 { 12 } else { t.hour % 12 };
        match d {
            'a' => out.push_str(&DAYS[t.weekday() as usize][..3]),
            'A' => out.push_str(DAYS[t.weekday() as usize]),
            'w' => out.push_str(&((t.weekday() + 1) % 7).to_string()),
            'u' => out.push_str(&(t.weekday() + 1).to_string()),
            'd' => out.push_str(&num(t.day, 2)),
            'e' => out.push_str(&format!("{:>2}", t.day)),
            'b' | 'h' => out.push_str(&MONTHS[t.month as usize - 1][..3]),
            'B' => out.push_str(MONTHS[t.month as usize - 1]),
            'm' => out.push_str(&num(t.month, 2)),
            'y' => out.push_str(&num(t.year % 100, 2)),
            'Y' => out.push_str(&t.year.to_string()),
            'C' => out.push_str(&num(t.year / 100, 2)),
            'H' => out.push_str(&num(t.hour, 2)),
            'k' => out.push_str(&format!("{:>2}", t.hour)),
            'I' => out.push_str(&num(hour12, 2)),
            'l' => out.push_str(&format!("{:>2}", hour12)),
            'p' => out.push_str(if t.hour < 12 { "AM" } else { "PM" }),
            'P' => out.push_str(if t.hour < 12 { "am" } else { "pm" }),
            'M' => out.push_str(&num(t.minute, 2)),
            'S' => out.push_str(&num(t.second, 2)),
            'f' => out.push_str(&format!("{:06}", t.us)),
            'j' => out.push_str(&num(t.yday(), 3)),
            'U' => {
                let wd_sun = (t.weekday() + 1) % 7;
                out.push_str(&num((t.yday() + 6 - wd_sun) / 7, 2));
            }
            'W' => out.push_str(&num((t.yday() + 6 - t.weekday()) / 7, 2)),
            'G' => out.push_str(&iso_calendar(t.ord).0.to_string()),
            'V' => out.push_str(&num(iso_calendar(t.ord).1, 2)),
            'z' => {
                if let Some(tz) = &t.tz {
                    out.push_str(&tz.offset_str(false));
                }
            }
            'Z' => {
                if let Some(tz) = &t.tz {
                    out.push_str(&tz.tzname());
                }
            }
            'c' => out.push_str(&format!(
                "{} {} {:>2} {:02}:{:02}:{:02} {}",
                &DAYS[t.weekday() as usize][..3],
                &MONTHS[t.month as usize - 1][..3],
                t.day,
                t.hour,
                t.minute,
                t.second,
                t.year
            )),
            'x' => out.push_str(&format!("{:02}/{:02}/{:02}", t.month, t.day, t.year % 100)),
            'D' => out.push_str(&format!("{:02}/{:02}/{:02}", t.month, t.day, t.year % 100)),
            'X' | 'T' => out.push_str(&format!("{:02}:{:02}:{:02}", t.hour, t.minute, t.second)),
            'R' => out.push_str(&format!("{:02}:{:02}", t.hour, t.minute)),
            'r' => out.push_str(&format!(
                "{:02}:{:02}:{:02} {}",
                hour12,
                t.minute,
                t.second,
                if t.hour < 12 { "AM" } else { "PM" }
            )),
            'F' => out.push_str(&format!("{}-{:02}-{:02}", t.year, t.month, t.day)),
            's' => {
                let secs = (t.ord - EPOCH_ORD) * 86400 + t.hour * 3600 + t.minute * 60 + t.second
                    - t.tz.as_ref().map_or(0, |z| z.off / US_PER_SEC);
                out.push_str(&secs.to_string());
            }
            'n' => out.push('\n'),
            't' => out.push('\t'),
            '%' => out.push('%'),
            other => {
                out.push('%');
                if nopad {
                    out.push('-');
                }
                out.push(other);
            }
        }
    }
    out
}

/// What `strptime` found.
pub struct Parsed {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub us: i64,
    pub tz: Option<Tz>,
    pub weekday: Option<i64>,
}

/// Python's `_strptime`: the format becomes a case-insensitive regex matched at the start of
/// the text; leftover text is "unconverted data remains".
pub fn strptime(text: &str, fmt: &str) -> Result<Parsed, String> {
    let mut pat = String::from("(?i)");
    let mut groups: Vec<char> = Vec::new();
    let mut it = fmt.chars().peekable();
    let names = |list: &[&str], abbr: bool| -> String {
        let mut v: Vec<String> = list.iter().map(|n| if abbr { n[..3].to_lowercase() } else { n.to_lowercase() }).collect();
        // Longest first, as Python's `__seqToRE`.
        v.sort_by_key(|s| std::cmp::Reverse(s.len()));
        format!("({})", v.join("|"))
    };
    while let Some(c) = it.next() {
        if c == '%' {
            let Some(d) = it.next() else {
                return Err("stray % in format '%'".into());
            };
            let re = match d {
                'd' => r"(3[01]|[12]\d|0[1-9]|[1-9]| [1-9])".to_string(),
                'e' => r"(3[01]|[12]\d|0[1-9]|[1-9]| [1-9])".to_string(),
                'm' => r"(1[0-2]|0[1-9]|[1-9])".to_string(),
                'Y' => r"(\d\d\d\d)".to_string(),
                'y' => r"(\d\d)".to_string(),
                'H' => r"(2[0-3]|[0-1]\d|\d)".to_string(),
                'I' => r"(1[0-2]|0[1-9]|[1-9])".to_string(),
                'M' => r"([0-5]\d|\d)".to_string(),
                'S' => r"(6[0-1]|[0-5]\d|\d)".to_string(),
                'f' => r"(\d{1,6})".to_string(),
                'j' => r"(36[0-6]|3[0-5]\d|[12]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9])".to_string(),
                'p' => r"(am|pm)".to_string(),
                'b' | 'h' => names(&MONTHS, true),
                'B' => names(&MONTHS, false),
                'a' => names(&DAYS, true),
                'A' => names(&DAYS, false),
                'w' => r"([0-6])".to_string(),
                'u' => r"([1-7])".to_string(),
                'z' => r"([+-]\d\d:?[0-5]\d(?::?[0-5]\d(?:\.\d{1,6})?)?|(?-i:Z))".to_string(),
                'Z' => r"(utc|gmt)".to_string(),
                '%' => {
                    pat.push('%');
                    continue;
                }
                other => return Err(format!("'{other}' is a bad directive in format '%{other}'")),
            };
            pat.push_str(&re);
            groups.push(if d == 'h' { 'b' } else { d });
        } else if c.is_whitespace() {
            while it.peek().is_some_and(|c| c.is_whitespace()) {
                it.next();
            }
            pat.push_str(r"\s+");
        } else {
            let mut buf = [0u8; 4];
            pat.push_str(&fancy_regex::escape(c.encode_utf8(&mut buf)));
        }
    }
    let no_match = || format!("time data {} does not match format {}", py_str_repr(text), py_str_repr(fmt));
    let re = fancy_regex::Regex::new(&format!("\\A(?:{pat})")).map_err(|_| no_match())?;
    let caps = re.captures(text).ok().flatten().ok_or_else(no_match)?;
    let whole = caps.get(0).map(|m| m.end()).unwrap_or(0);
    if whole != text.len() {
        return Err(format!("unconverted data remains: {}", &text[whole..]));
    }
    let mut p = Parsed { year: 1900, month: 1, day: 1, hour: 0, minute: 0, second: 0, us: 0, tz: None, weekday: None };
    let mut pm: Option<bool> = None;
    let mut hour12: Option<i64> = None;
    let mut yday: Option<i64> = None;
    for (i, d) in groups.iter().enumerate() {
        let s = caps.get(i + 1).map(|m| m.as_str()).unwrap_or("");
        let n = || s.trim().parse::<i64>().unwrap_or(0);
        match d {
            'd' | 'e' => p.day = n(),
            'm' => p.month = n(),
            'Y' => p.year = n(),
            'y' => {
                let y = n();
                p.year = if y < 69 { 2000 + y } else { 1900 + y };
            }
            'H' => p.hour = n(),
            'I' => hour12 = Some(n()),
            'M' => p.minute = n(),
            'S' => p.second = n(),
            'f' => p.us = format!("{s:0<6}").parse().unwrap_or(0),
            'j' => yday = Some(n()),
            'p' => pm = Some(s.eq_ignore_ascii_case("pm")),
            'b' | 'B' => {
                let l = s.to_lowercase();
                let l3: String = l.chars().take(3).collect();
                p.month = MONTHS.iter().position(|m| m.to_lowercase().starts_with(&l3)).unwrap_or(0) as i64 + 1;
            }
            'a' | 'A' => {
                let l = s.to_lowercase();
                let l3: String = l.chars().take(3).collect();
                p.weekday = DAYS.iter().position(|m| m.to_lowercase().starts_with(&l3)).map(|x| x as i64);
            }
            'w' => p.weekday = Some((n() + 6) % 7),
            'u' => p.weekday = Some(n() - 1),
            'z' => {
                if s == "Z" || s == "z" {
                    p.tz = Some(Tz::utc());
                } else {
                    let sign = if s.starts_with('-') { -1 } else { 1 };
                    let digits: String = s[1..].chars().filter(|c| *c != ':').collect();
                    let (main, frac) = digits.split_once('.').unwrap_or((&digits, ""));
                    let h: i64 = main.get(0..2).and_then(|x| x.parse().ok()).unwrap_or(0);
                    let m: i64 = main.get(2..4).and_then(|x| x.parse().ok()).unwrap_or(0);
                    let sec: i64 = main.get(4..6).and_then(|x| x.parse().ok()).unwrap_or(0);
                    let us: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<6}").parse().unwrap_or(0) };
                    let off = sign * (((h * 60 + m) * 60 + sec) * US_PER_SEC + us);
                    p.tz = Some(Tz { off, name: None });
                }
            }
            'Z' => {}
            _ => {}
        }
    }
    if let Some(h) = hour12 {
        p.hour = match pm {
            Some(true) => {
                if h == 12 {
                    12
                } else {
                    h + 12
                }
            }
            _ => {
                if h == 12 {
                    0
                } else {
                    h
                }
            }
        };
    }
    if let Some(j) = yday {
        let ord = ymd_to_ord(p.year, 1, 1) + j - 1;
        let (y, m, d) = ord_to_ymd(ord);
        p.year = y;
        p.month = m;
        p.day = d;
    }
    if p.day > days_in_month(p.year, p.month) {
        return Err("day is out of range for month".into());
    }
    Ok(p)
}

// ---------------------------------------------------------------------------------------------
// ISO parsing

fn parse_iso_date(s: &str) -> Option<(i64, i64, i64, usize)> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
        return Some((num(0..4)?, num(5..7)?, num(8..10)?, 10));
    }
    if b.len() >= 8 && b[..8].iter().all(|c| c.is_ascii_digit()) {
        return Some((num(0..4)?, num(4..6)?, num(6..8)?, 8));
    }
    None
}

/// `HH[:MM[:SS[.f+]]]` or compact `HHMMSS[.f+]`, then an optional offset.
fn parse_iso_time(s: &str) -> Option<(i64, Option<Tz>)> {
    let (main, tz) = match s.find(['+', '-', 'Z', 'z']) {
        Some(i) => (&s[..i], Some(&s[i..])),
        None => (s, None),
    };
    let (hms, frac) = match main.find(['.', ',']) {
        Some(i) => (&main[..i], Some(&main[i + 1..])),
        None => (main, None),
    };
    let digits: String = hms.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || !digits.len().is_multiple_of(2) || digits.len() > 6 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if hms.contains(':') {
        // Colons must separate every pair.
        let parts: Vec<&str> = hms.split(':').collect();
        if parts.iter().any(|p| p.len() != 2) {
            return None;
        }
    }
    let h: i64 = digits[0..2].parse().ok()?;
    let m: i64 = digits.get(2..4).map_or(Some(0), |x| x.parse().ok())?;
    let sec: i64 = digits.get(4..6).map_or(Some(0), |x| x.parse().ok())?;
    let us: i64 = match frac {
        None => 0,
        Some(f) => {
            if f.is_empty() || !f.bytes().all(|c| c.is_ascii_digit()) || digits.len() != 6 {
                return None;
            }
            let f6: String = format!("{f:0<6}").chars().take(6).collect();
            f6.parse().ok()?
        }
    };
    if check_time(h, m, sec, us).is_err() {
        return None;
    }
    let tz = match tz {
        None => None,
        Some("Z") | Some("z") => Some(Tz::utc()),
        Some(t) => {
            let sign = if t.starts_with('-') { -1 } else { 1 };
            let (off, _) = parse_iso_time(&t[1..])?;
            if off >= US_PER_DAY {
                return None;
            }
            Some(Tz { off: sign * off, name: None })
        }
    };
    Some((((h * 60 + m) * 60 + sec) * US_PER_SEC + us, tz))
}

fn invalid_iso(s: &str) -> Exc {
    Exc::value_error(format!("Invalid isoformat string: {}", py_str_repr(s)))
}

pub fn datetime_fromisoformat(s: &str) -> VmResult<Value> {
    let (y, m, d, n) = parse_iso_date(s).ok_or_else(|| invalid_iso(s))?;
    check_date(y, m, d).map_err(|_| invalid_iso(s))?;
    let mut tod = 0;
    let mut tz = None;
    if s.len() > n {
        let rest = &s[n..];
        let mut cs = rest.chars();
        cs.next();
        let (t, z) = parse_iso_time(cs.as_str()).ok_or_else(|| invalid_iso(s))?;
        tod = t;
        tz = z;
    }
    dt_value((ymd_to_ord(y, m, d) - 1) * US_PER_DAY + tod, tz)
}

// ---------------------------------------------------------------------------------------------
// Arithmetic

enum Kind<'a> {
    Td(&'a TimeDelta),
    Dt(&'a DateTime),
    D(&'a Date),
    T(&'a Time),
    Num(f64, bool),
    Other,
}

fn kind(v: &Value) -> Kind<'_> {
    match v {
        Value::Int(i) => Kind::Num(*i as f64, true),
        Value::Bool(b) => Kind::Num(*b as i64 as f64, true),
        Value::Float(f) => Kind::Num(*f, false),
        Value::Object(_) => {
            if let Some(t) = downcast::<TimeDelta>(v) {
                Kind::Td(t)
            } else if let Some(t) = downcast::<DateTime>(v) {
                Kind::Dt(t)
            } else if let Some(t) = downcast::<Date>(v) {
                Kind::D(t)
            } else if let Some(t) = downcast::<Time>(v) {
                Kind::T(t)
            } else {
                Kind::Other
            }
        }
        _ => Kind::Other,
    }
}

/// Round-half-even division of integers (CPython's `_divide_and_round`).
fn div_round(a: i128, b: i128) -> i128 {
    let q = a.div_euclid(b);
    let r = a.rem_euclid(b);
    let r2 = 2 * r;
    if r2 > b.abs() || (r2 == b.abs() && q % 2 != 0) {
        q + 1
    } else {
        q
    }
}

fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 {
        2.0 * (x / 2.0).round()
    } else {
        r
    }
}

/// `a op b` for the datetime types; `None` when the operand types are not supported (the caller
/// raises the TypeError).
pub fn binop(op: &str, a: &Value, b: &Value) -> Option<VmResult<Value>> {
    use Kind::*;
    Some(match (op, kind(a), kind(b)) {
        ("+", Td(x), Td(y)) => td_value(x.us + y.us),
        ("-", Td(x), Td(y)) => td_value(x.us - y.us),
        ("+", Dt(x), Td(y)) | ("+", Td(y), Dt(x)) => {
            dt_value((x.us as i128 + y.us).clamp(-1, i64::MAX as i128) as i64, x.tz.clone())
        }
        ("-", Dt(x), Td(y)) => dt_value((x.us as i128 - y.us).clamp(-1, i64::MAX as i128) as i64, x.tz.clone()),
        ("-", Dt(x), Dt(y)) => {
            if x.tz.is_some() != y.tz.is_some() {
                return Some(Err(Exc::type_error("can't subtract offset-naive and offset-aware datetimes")));
            }
            td_value(x.utc_us() as i128 - y.utc_us() as i128)
        }
        ("+", D(x), Td(y)) | ("+", Td(y), D(x)) => date_value(x.ord + y.us.div_euclid(US_PER_DAY as i128) as i64),
        ("-", D(x), Td(y)) => date_value(x.ord - y.us.div_euclid(US_PER_DAY as i128) as i64),
        ("-", D(x), D(y)) => td_value((x.ord - y.ord) as i128 * US_PER_DAY as i128),
        ("*", Td(x), Num(n, true)) | ("*", Num(n, true), Td(x)) => match x.us.checked_mul(n as i128) {
            Some(us) => td_value(us),
            None => Err(Exc::new(ExcKind::OverflowError, "Python int too large to convert to C int")),
        },
        ("*", Td(x), Num(f, false)) | ("*", Num(f, false), Td(x)) => {
            if !f.is_finite() {
                return Some(Err(Exc::value_error("cannot convert float NaN to integer")));
            }
            td_value(round_half_even(x.us as f64 * f) as i128)
        }
        ("/", Td(x), Td(y)) => {
            if y.us == 0 {
                return Some(Err(Exc::zero_division("division by zero")));
            }
            Ok(Value::Float(x.us as f64 / y.us as f64))
        }
        ("/", Td(x), Num(n, is_int)) => {
            if n == 0.0 {
                return Some(Err(Exc::zero_division("division by zero")));
            }
            if is_int {
                td_value(div_round(x.us, n as i128))
            } else {
                td_value(round_half_even(x.us as f64 / n) as i128)
            }
        }
        ("//", Td(x), Td(y)) => {
            if y.us == 0 {
                return Some(Err(Exc::zero_division("integer division or modulo by zero")));
            }
            Ok(Value::Int(x.us.div_euclid(y.us) as i64))
        }
        ("//", Td(x), Num(n, true)) => {
            if n == 0.0 {
                return Some(Err(Exc::zero_division("integer division or modulo by zero")));
            }
            td_value(x.us.div_euclid(n as i128))
        }
        ("%", Td(x), Td(y)) => {
            if y.us == 0 {
                return Some(Err(Exc::zero_division("integer division or modulo by zero")));
            }
            td_value(x.us.rem_euclid(y.us) + if y.us < 0 && x.us.rem_euclid(y.us) != 0 { y.us } else { 0 })
        }
        _ => return None,
    })
}

fn type_label(v: &Value) -> String {
    match kind(v) {
        Kind::Td(_) => "datetime.timedelta".into(),
        Kind::Dt(_) => "datetime.datetime".into(),
        Kind::D(_) => "datetime.date".into(),
        Kind::T(_) => "datetime.time".into(),
        _ => tname(v),
    }
}

fn arith(op: &str, a: &Value, b: &Value) -> VmResult<Value> {
    binop(op, a, b).unwrap_or_else(|| {
        Err(Exc::type_error(format!(
            "unsupported operand type(s) for {op}: '{}' and '{}'",
            type_label(a),
            type_label(b)
        )))
    })
}

macro_rules! dunders {
    ($($name:ident => $op:expr, $rev:expr;)*) => {$(
        fn $name(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
            util::exact(stringify!($name), args.get(1..).unwrap_or(&[]), kw, 1)?;
            if $rev { arith($op, &args[1], &args[0]) } else { arith($op, &args[0], &args[1]) }
        }
    )*};
}

dunders! {
    d_add => "+", false;
    d_radd => "+", true;
    d_sub => "-", false;
    d_rsub => "-", true;
    d_mul => "*", false;
    d_rmul => "*", true;
    d_truediv => "/", false;
    d_floordiv => "//", false;
    d_mod => "%", false;
}

fn d_neg(_vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    let t = util::this::<TimeDelta>(args, "datetime.timedelta")?;
    td_value(-t.us)
}
fn d_pos(_vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    Ok(args[0].clone())
}
fn d_abs(_vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    let t = util::this::<TimeDelta>(args, "datetime.timedelta")?;
    td_value(t.us.abs())
}
fn d_bool(_vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    let t = util::this::<TimeDelta>(args, "datetime.timedelta")?;
    Ok(Value::Bool(t.us != 0))
}

/// `__format__`: an empty spec is `str`, anything else goes through `strftime`.
fn d_format(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    util::exact("__format__", args.get(1..).unwrap_or(&[]), kw, 1)?;
    let spec = args[1].as_str().unwrap_or("");
    if spec.is_empty() {
        return Ok(Value::str(match &args[0] {
            Value::Object(o) => o.str(),
            _ => String::new(),
        }));
    }
    dt_strftime(vm, args, kw)
}

/// Dunders common to the datetime objects, looked up by `get_attr`.
fn dunder(name: &str, this: &Value) -> Option<Value> {
    Some(match name {
        "__add__" => method("__add__", d_add, this),
        "__radd__" => method("__radd__", d_radd, this),
        "__sub__" => method("__sub__", d_sub, this),
        "__rsub__" => method("__rsub__", d_rsub, this),
        "__mul__" => method("__mul__", d_mul, this),
        "__rmul__" => method("__rmul__", d_rmul, this),
        "__truediv__" => method("__truediv__", d_truediv, this),
        "__floordiv__" => method("__floordiv__", d_floordiv, this),
        "__mod__" => method("__mod__", d_mod, this),
        "__format__" => method("__format__", d_format, this),
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// NativeObject impls

fn cmp_key(v: &dyn NativeObject) -> Option<(u8, i128, bool)> {
    let a = v.as_any();
    if let Some(t) = a.downcast_ref::<TimeDelta>() {
        return Some((0, t.us, false));
    }
    if let Some(t) = a.downcast_ref::<DateTime>() {
        return Some((1, t.utc_us() as i128, t.tz.is_some()));
    }
    if let Some(t) = a.downcast_ref::<Date>() {
        return Some((2, t.ord as i128, false));
    }
    if let Some(t) = a.downcast_ref::<Time>() {
        return Some((3, (t.us - t.tz.as_ref().map_or(0, |z| z.off)) as i128, t.tz.is_some()));
    }
    if let Some(t) = a.downcast_ref::<TimeZone>() {
        return Some((4, t.0.off as i128, false));
    }
    None
}

fn eq_impl(a: &dyn NativeObject, b: &dyn NativeObject) -> Option<bool> {
    match (cmp_key(a), cmp_key(b)) {
        (Some(x), Some(y)) => Some(x == y),
        _ => Some(false),
    }
}

fn lt_impl(a: &dyn NativeObject, b: &dyn NativeObject) -> Option<bool> {
    match (cmp_key(a), cmp_key(b)) {
        (Some(x), Some(y)) if x.0 == y.0 && x.2 == y.2 => Some(x.1 < y.1),
        _ => None,
    }
}

fn hash_impl(a: &dyn NativeObject) -> Option<u64> {
    cmp_key(a).map(|(k, v, aware)| (v as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((k as u64) << 1) ^ aware as u64)
}

macro_rules! common_obj {
    () => {
        fn eq(&self, other: &dyn NativeObject) -> Option<bool> {
            eq_impl(self, other)
        }
        fn lt(&self, other: &dyn NativeObject) -> Option<bool> {
            lt_impl(self, other)
        }
        fn hash(&self) -> Option<u64> {
            hash_impl(self)
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    };
}

impl NativeObject for TimeDelta {
    fn type_name(&self) -> &str {
        "timedelta"
    }
    fn repr(&self) -> String {
        self.repr_s()
    }
    fn str(&self) -> String {
        self.str_s()
    }
    fn to_json(&self) -> Option<Value> {
        Some(Value::Float(self.us as f64 / 1e6))
    }
    fn get_attr(&self, _vm: &mut Vm, this: &Value, name: &str) -> VmResult<Option<Value>> {
        let (d, s, us) = self.parts();
        Ok(Some(match name {
            "days" => Value::Int(d as i64),
            "seconds" => Value::Int(s as i64),
            "microseconds" => Value::Int(us as i64),
            "total_seconds" => method("total_seconds", td_total_seconds, this),
            "__neg__" => method("__neg__", d_neg, this),
            "__pos__" => method("__pos__", d_pos, this),
            "__abs__" => method("__abs__", d_abs, this),
            "__bool__" => method("__bool__", d_bool, this),
            _ => return Ok(dunder(name, this)),
        }))
    }
    common_obj!();
}

fn td_total_seconds(_vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    let t = util::this::<TimeDelta>(args, "datetime.timedelta")?;
    Ok(Value::Float(t.us as f64 / 1e6))
}

impl NativeObject for Date {
    fn type_name(&self) -> &str {
        "date"
    }
    fn repr(&self) -> String {
        let (y, m, d) = ord_to_ymd(self.ord);
        format!("datetime.date({y}, {m}, {d})")
    }
    fn str(&self) -> String {
        self.iso()
    }
    fn to_json(&self) -> Option<Value> {
        Some(Value::str(self.iso()))
    }
    fn get_attr(&self, _vm: &mut Vm, this: &Value, name: &str) -> VmResult<Option<Value>> {
        let (y, m, d) = ord_to_ymd(self.ord);
        Ok(Some(match name {
            "year" => Value::Int(y),
            "month" => Value::Int(m),
            "day" => Value::Int(d),
            "isoformat" => method("isoformat", dt_isoformat, this),
            "strftime" => method("strftime", dt_strftime, this),
            "weekday" => method("weekday", dt_weekday, this),
            "isoweekday" => method("isoweekday", dt_isoweekday, this),
            "isocalendar" => method("isocalendar", dt_isocalendar, this),
            "toordinal" => method("toordinal", dt_toordinal, this),
            "replace" => method("replace", dt_replace, this),
            "ctime" => method("ctime", dt_ctime, this),
            "timetuple" => method("timetuple", dt_timetuple, this),
            _ => return Ok(dunder(name, this)),
        }))
    }
    common_obj!();
}

impl NativeObject for DateTime {
    fn type_name(&self) -> &str {
        "datetime"
    }
    fn base_type_names(&self) -> &'static [&'static str] {
        &["date"]
    }
    fn repr(&self) -> String {
        self.repr_s()
    }
    fn str(&self) -> String {
        self.isoformat(" ", "auto").unwrap_or_default()
    }
    fn to_json(&self) -> Option<Value> {
        Some(Value::str(self.isoformat("T", "auto").unwrap_or_default()))
    }
    fn get_attr(&self, _vm: &mut Vm, this: &Value, name: &str) -> VmResult<Option<Value>> {
        let t = self.tm();
        Ok(Some(match name {
            "year" => Value::Int(t.year),
            "month" => Value::Int(t.month),
            "day" => Value::Int(t.day),
            "hour" => Value::Int(t.hour),
            "minute" => Value::Int(t.minute),
            "second" => Value::Int(t.second),
            "microsecond" => Value::Int(t.us),
            "fold" => Value::Int(0),
            "tzinfo" => match &self.tz {
                Some(tz) => obj(TimeZone(tz.clone())),
                None => Value::None,
            },
            "isoformat" => method("isoformat", dt_isoformat, this),
            "strftime" => method("strftime", dt_strftime, this),
            "weekday" => method("weekday", dt_weekday, this),
            "isoweekday" => method("isoweekday", dt_isoweekday, this),
            "isocalendar" => method("isocalendar", dt_isocalendar, this),
            "toordinal" => method("toordinal", dt_toordinal, this),
            "replace" => method("replace", dt_replace, this),
            "ctime" => method("ctime", dt_ctime, this),
            "timetuple" => method("timetuple", dt_timetuple, this),
            "date" => method("date", dt_date, this),
            "time" => method("time", dt_time, this),
            "timetz" => method("timetz", dt_time, this),
            "timestamp" => method("timestamp", dt_timestamp, this),
            "astimezone" => method("astimezone", dt_astimezone, this),
            "utcoffset" => method("utcoffset", dt_utcoffset, this),
            "tzname" => method("tzname", dt_tzname, this),
            "dst" => method("dst", dt_dst, this),
            _ => return Ok(dunder(name, this)),
        }))
    }
    common_obj!();
}

impl NativeObject for Time {
    fn type_name(&self) -> &str {
        "time"
    }
    fn repr(&self) -> String {
        let t = self.tm();
        let mut parts = vec![t.hour, t.minute, t.second, t.us];
        for _ in 0..2 {
            if parts.last() == Some(&0) {
                parts.pop();
            }
        }
        let mut s = format!("datetime.time({}", parts.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", "));
        if let Some(tz) = &self.tz {
            s.push_str(&format!(", tzinfo={}", tz_repr(tz)));
        }
        s.push(')');
        s
    }
    fn str(&self) -> String {
        self.iso("auto").unwrap_or_default()
    }
    fn to_json(&self) -> Option<Value> {
        Some(Value::str(self.str()))
    }
    fn get_attr(&self, _vm: &mut Vm, this: &Value, name: &str) -> VmResult<Option<Value>> {
        let t = self.tm();
        Ok(Some(match name {
            "hour" => Value::Int(t.hour),
            "minute" => Value::Int(t.minute),
            "second" => Value::Int(t.second),
            "microsecond" => Value::Int(t.us),
            "tzinfo" => match &self.tz {
                Some(tz) => obj(TimeZone(tz.clone())),
                None => Value::None,
            },
            "isoformat" => method("isoformat", dt_isoformat, this),
            "strftime" => method("strftime", dt_strftime, this),
            "replace" => method("replace", dt_replace, this),
            "__format__" => method("__format__", d_format, this),
            _ => return Ok(None),
        }))
    }
    common_obj!();
}

impl NativeObject for TimeZone {
    fn type_name(&self) -> &str {
        "timezone"
    }
    fn repr(&self) -> String {
        tz_repr(&self.0)
    }
    fn str(&self) -> String {
        self.0.tzname()
    }
    fn get_attr(&self, _vm: &mut Vm, this: &Value, name: &str) -> VmResult<Option<Value>> {
        Ok(Some(match name {
            "utcoffset" => method("utcoffset", tz_utcoffset, this),
            "tzname" => method("tzname", tz_tzname, this),
            "dst" => method("dst", tz_dst, this),
            _ => return Ok(None),
        }))
    }
    common_obj!();
}

fn tz_utcoffset(_vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    let z = util::this::<TimeZone>(args, "datetime.timezone")?;
    td_value(z.0.off as i128)
}
fn tz_tzname(_vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    let z = util::this::<TimeZone>(args, "datetime.timezone")?;
    Ok(Value::str(z.0.tzname()))
}
fn tz_dst(_vm: &mut Vm, _args: &[Value], _kw: &Kw) -> VmResult<Value> {
    Ok(Value::None)
}

/// The broken-down time of a date, datetime or time receiver.
fn tm_of(v: &Value) -> VmResult<Tm> {
    match kind(v) {
        Kind::Dt(d) => Ok(d.tm()),
        Kind::D(d) => Ok(d.tm()),
        Kind::T(t) => Ok(t.tm()),
        _ => Err(Exc::type_error("descriptor requires a 'datetime.date' object")),
    }
}

fn dt_isoformat(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    match kind(&args[0]) {
        Kind::D(d) => {
            util::exact("isoformat", &args[1..], kw, 0)?;
            Ok(Value::str(d.iso()))
        }
        Kind::T(t) => {
            let [ts] = bind("isoformat", &args[1..], kw, ["timespec"], 0)?;
            let ts = ts.as_ref().and_then(|v| v.as_str()).unwrap_or("auto").to_string();
            t.iso(&ts).map(Value::str).map_err(Exc::value_error)
        }
        Kind::Dt(d) => {
            let [sep, ts] = bind("isoformat", &args[1..], kw, ["sep", "timespec"], 0)?;
            let sep = sep.as_ref().and_then(|v| v.as_str()).unwrap_or("T").to_string();
            let ts = ts.as_ref().and_then(|v| v.as_str()).unwrap_or("auto").to_string();
            d.isoformat(&sep, &ts).map(Value::str).map_err(Exc::value_error)
        }
        _ => Err(Exc::type_error("isoformat() requires a datetime object")),
    }
}

fn dt_strftime(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    util::exact("strftime", args.get(1..).unwrap_or(&[]), kw, 1)?;
    let fmt = args[1]
        .as_str()
        .ok_or_else(|| Exc::type_error(format!("strftime() argument 1 must be str, not {}", tname(&args[1]))))?;
    Ok(Value::str(strftime(fmt, &tm_of(&args[0])?)))
}

fn dt_weekday(_vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    Ok(Value::Int(tm_of(&args[0])?.weekday()))
}
fn dt_isoweekday(_vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    Ok(Value::Int(tm_of(&args[0])?.weekday() + 1))
}
fn dt_toordinal(_vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    Ok(Value::Int(tm_of(&args[0])?.ord))
}
fn dt_ctime(_vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    Ok(Value::str(strftime("%c", &tm_of(&args[0])?)))
}

/// `isocalendar()`: a tuple-like `IsoCalendarDate(year=..., week=..., weekday=...)`.
pub struct IsoCal(i64, i64, i64);

impl NativeObject for IsoCal {
    fn type_name(&self) -> &str {
        "IsoCalendarDate"
    }
    fn repr(&self) -> String {
        format!("datetime.IsoCalendarDate(year={}, week={}, weekday={})", self.0, self.1, self.2)
    }
    fn get_attr(&self, _vm: &mut Vm, this: &Value, name: &str) -> VmResult<Option<Value>> {
        Ok(Some(match name {
            "year" => Value::Int(self.0),
            "week" => Value::Int(self.1),
            "weekday" => Value::Int(self.2),
            "__getitem__" => method("__getitem__", isocal_getitem, this),
            "__len__" => method("__len__", isocal_len, this),
            _ => return Ok(None),
        }))
    }
    fn eq(&self, other: &dyn NativeObject) -> Option<bool> {
        other.as_any().downcast_ref::<IsoCal>().map(|o| (o.0, o.1, o.2) == (self.0, self.1, self.2))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn isocal_getitem(_vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    let c = util::this::<IsoCal>(args, "IsoCalendarDate")?;
    let vals = [c.0, c.1, c.2];
    let i = util::to_i64(args.get(1).unwrap_or(&Value::None))?;
    let i = if i < 0 { i + 3 } else { i };
    vals.get(i as usize).map(|v| Value::Int(*v)).ok_or_else(|| Exc::index_error("tuple index out of range"))
}
fn isocal_len(_vm: &mut Vm, _args: &[Value], _kw: &Kw) -> VmResult<Value> {
    Ok(Value::Int(3))
}

fn dt_isocalendar(_vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    let (y, w, d) = iso_calendar(tm_of(&args[0])?.ord);
    Ok(obj(IsoCal(y, w, d)))
}

fn dt_timetuple(_vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    let t = tm_of(&args[0])?;
    Ok(super::time::struct_time(&t, -1))
}

fn dt_date(_vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    let t = tm_of(&args[0])?;
    date_value(t.ord)
}

fn dt_time(_vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    let d = util::this::<DateTime>(args, "datetime.datetime")?;
    Ok(obj(Time { us: d.us.rem_euclid(US_PER_DAY), tz: d.tz.clone() }))
}

fn local_offset_us(vm: &mut Vm, unix: f64) -> i64 {
    vm.host.local_offset(unix) * US_PER_SEC
}

/// Unix seconds of a naive local wall-clock time (inverting `host.local_offset`).
fn naive_to_unix(vm: &mut Vm, us: i64) -> f64 {
    let wall = (us - (EPOCH_ORD - 1) * US_PER_DAY) as f64 / 1e6;
    let guess = wall - vm.host.local_offset(wall) as f64;
    wall - vm.host.local_offset(guess) as f64
}

fn dt_timestamp(vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    let d = util::this::<DateTime>(args, "datetime.datetime")?;
    Ok(Value::Float(match &d.tz {
        Some(_) => (d.utc_us() - (EPOCH_ORD - 1) * US_PER_DAY) as f64 / 1e6,
        None => naive_to_unix(vm, d.us),
    }))
}

fn tz_arg(v: Option<Value>) -> VmResult<Option<Tz>> {
    match v {
        None | Some(Value::None) => Ok(None),
        Some(v) => match downcast::<TimeZone>(&v) {
            Some(z) => Ok(Some(z.0.clone())),
            None => Err(Exc::type_error(format!(
                "tzinfo argument must be None or of a tzinfo subclass, not type '{}'",
                tname(&v)
            ))),
        },
    }
}

fn dt_astimezone(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let d = util::this::<DateTime>(args, "datetime.datetime")?;
    let [tz] = bind("astimezone", &args[1..], kw, ["tz"], 0)?;
    let utc = match &d.tz {
        Some(_) => d.utc_us(),
        None => {
            let unix = naive_to_unix(vm, d.us);
            (unix * 1e6).round() as i64 + (EPOCH_ORD - 1) * US_PER_DAY
        }
    };
    let target = match tz_arg(tz)? {
        Some(t) => t,
        None => {
            let unix = (utc - (EPOCH_ORD - 1) * US_PER_DAY) as f64 / 1e6;
            Tz { off: local_offset_us(vm, unix), name: None }
        }
    };
    dt_value(utc + target.off, Some(target))
}

fn dt_utcoffset(_vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    let d = util::this::<DateTime>(args, "datetime.datetime")?;
    match &d.tz {
        Some(t) => td_value(t.off as i128),
        None => Ok(Value::None),
    }
}
fn dt_tzname(_vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    let d = util::this::<DateTime>(args, "datetime.datetime")?;
    Ok(d.tz.as_ref().map(|t| Value::str(t.tzname())).unwrap_or(Value::None))
}
fn dt_dst(_vm: &mut Vm, args: &[Value], _kw: &Kw) -> VmResult<Value> {
    let d = util::this::<DateTime>(args, "datetime.datetime")?;
    match &d.tz {
        Some(_) => td_value(0),
        None => Ok(Value::None),
    }
}

fn int_kw(v: Option<Value>, dflt: i64) -> VmResult<i64> {
    match v {
        None => Ok(dflt),
        Some(v) => util::to_i64(&v),
    }
}

fn dt_replace(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let t = tm_of(&args[0])?;
    match kind(&args[0]) {
        Kind::D(_) => {
            let [y, m, d] = bind("replace", &args[1..], kw, ["year", "month", "day"], 0)?;
            let (y, m, d) = (int_kw(y, t.year)?, int_kw(m, t.month)?, int_kw(d, t.day)?);
            check_date(y, m, d)?;
            date_value(ymd_to_ord(y, m, d))
        }
        Kind::T(_) => {
            let [h, mi, s, us, tz] =
                bind("replace", &args[1..], kw, ["hour", "minute", "second", "microsecond", "tzinfo"], 0)?;
            let (h, mi, s, us) = (int_kw(h, t.hour)?, int_kw(mi, t.minute)?, int_kw(s, t.second)?, int_kw(us, t.us)?);
            check_time(h, mi, s, us)?;
            let tz = match tz {
                None => t.tz.clone(),
                Some(v) => tz_arg(Some(v))?,
            };
            Ok(obj(Time { us: ((h * 60 + mi) * 60 + s) * US_PER_SEC + us, tz }))
        }
        _ => {
            let [y, m, d, h, mi, s, us, tz, _fold] = bind(
                "replace",
                &args[1..],
                kw,
                ["year", "month", "day", "hour", "minute", "second", "microsecond", "tzinfo", "fold"],
                0,
            )?;
            let (y, m, d) = (int_kw(y, t.year)?, int_kw(m, t.month)?, int_kw(d, t.day)?);
            let (h, mi, s, us) = (int_kw(h, t.hour)?, int_kw(mi, t.minute)?, int_kw(s, t.second)?, int_kw(us, t.us)?);
            check_date(y, m, d)?;
            check_time(h, mi, s, us)?;
            let tz = match tz {
                None => t.tz.clone(),
                Some(v) => tz_arg(Some(v))?,
            };
            dt_value(make_us(y, m, d, h, mi, s, us), tz)
        }
    }
}

fn make_us(y: i64, m: i64, d: i64, h: i64, mi: i64, s: i64, us: i64) -> i64 {
    (ymd_to_ord(y, m, d) - 1) * US_PER_DAY + ((h * 60 + mi) * 60 + s) * US_PER_SEC + us
}

// ---------------------------------------------------------------------------------------------
// Constructors and class methods

/// Microseconds (since 0001-01-01) of Unix time `t`, rounded half-even like CPython.
fn unix_to_us(t: f64) -> VmResult<i64> {
    if !t.is_finite() {
        return Err(Exc::value_error("cannot convert float NaN to integer"));
    }
    let secs = t.floor();
    let frac_us = round_half_even((t - secs) * 1e6) as i64;
    let total = (secs as i64).checked_mul(US_PER_SEC).and_then(|v| v.checked_add(frac_us));
    match total.and_then(|v| v.checked_add((EPOCH_ORD - 1) * US_PER_DAY)) {
        Some(v) if (0..MAX_ORD * US_PER_DAY).contains(&v) => Ok(v),
        _ => Err(Exc::value_error("year is out of range")),
    }
}

/// `datetime.now(tz=None)`: naive local time, or aware in `tz`.
pub fn now_value(vm: &mut Vm, tz: Option<Tz>) -> VmResult<Value> {
    let t = vm.host.now();
    let utc = unix_to_us(t)?;
    match tz {
        Some(z) => dt_value(utc + z.off, Some(z)),
        None => dt_value(utc + local_offset_us(vm, t), None),
    }
}

fn c_now(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [tz] = bind("now", skip_cls(args), kw, ["tz"], 0)?;
    now_value(vm, tz_arg(tz)?)
}

fn c_utcnow(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    util::exact("utcnow", skip_cls(args), kw, 0)?;
    let t = vm.host.now();
    dt_value(unix_to_us(t)?, None)
}

fn c_today(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    util::exact("today", skip_cls(args), kw, 0)?;
    now_value(vm, None)
}

fn c_date_today(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    util::exact("today", skip_cls(args), kw, 0)?;
    let v = now_value(vm, None)?;
    match downcast::<DateTime>(&v) {
        Some(d) => date_value(d.tm().ord),
        None => Ok(v),
    }
}

fn c_fromtimestamp(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [ts, tz] = bind("fromtimestamp", skip_cls(args), kw, ["timestamp", "tz"], 1)?;
    let t = util::to_f64(&ts.unwrap_or_default())?;
    let utc = unix_to_us(t)?;
    match tz_arg(tz)? {
        Some(z) => dt_value(utc + z.off, Some(z)),
        None => dt_value(utc + local_offset_us(vm, t), None),
    }
}

fn c_utcfromtimestamp(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [ts] = bind("utcfromtimestamp", skip_cls(args), kw, ["timestamp"], 1)?;
    let t = util::to_f64(&ts.unwrap_or_default())?;
    dt_value(unix_to_us(t)?, None)
}

fn c_date_fromtimestamp(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [ts] = bind("fromtimestamp", skip_cls(args), kw, ["timestamp"], 1)?;
    let t = util::to_f64(&ts.unwrap_or_default())?;
    let local = unix_to_us(t)? + local_offset_us(vm, t);
    date_value(local.div_euclid(US_PER_DAY) + 1)
}

fn str_only<'a>(fname: &str, v: &'a Option<Value>) -> VmResult<&'a str> {
    match v {
        Some(Value::Str(s)) => Ok(&s.s),
        Some(other) => Err(Exc::type_error(format!("{fname}: argument must be str, not {}", tname(other)))),
        None => Err(Exc::type_error(format!("{fname}() missing required argument"))),
    }
}

fn c_fromisoformat(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [s] = bind("fromisoformat", skip_cls(args), kw, ["date_string"], 1)?;
    datetime_fromisoformat(str_only("fromisoformat", &s)?)
}

fn c_date_fromisoformat(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [s] = bind("fromisoformat", skip_cls(args), kw, ["date_string"], 1)?;
    let s = str_only("fromisoformat", &s)?;
    match parse_iso_date(s) {
        Some((y, m, d, n)) if n == s.len() => {
            check_date(y, m, d).map_err(|_| invalid_iso(s))?;
            date_value(ymd_to_ord(y, m, d))
        }
        _ => Err(invalid_iso(s)),
    }
}

fn c_time_fromisoformat(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [s] = bind("fromisoformat", skip_cls(args), kw, ["time_string"], 1)?;
    let s = str_only("fromisoformat", &s)?;
    let (us, tz) = parse_iso_time(s.strip_prefix('T').unwrap_or(s)).ok_or_else(|| invalid_iso(s))?;
    Ok(obj(Time { us, tz }))
}

fn c_strptime(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [s, f] = bind("strptime", skip_cls(args), kw, ["date_string", "format"], 2)?;
    let s = str_only("strptime() argument 1", &s)?;
    let f = str_only("strptime() argument 2", &f)?;
    let p = strptime(s, f).map_err(Exc::value_error)?;
    check_date(p.year, p.month, p.day)?;
    dt_value(make_us(p.year, p.month, p.day, p.hour, p.minute, p.second, p.us), p.tz)
}

fn c_fromordinal(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [n] = bind("fromordinal", skip_cls(args), kw, ["n"], 1)?;
    let n = util::to_i64(&n.unwrap_or_default())?;
    if !(1..=MAX_ORD).contains(&n) {
        return Err(Exc::value_error("ordinal must be >= 1"));
    }
    dt_value((n - 1) * US_PER_DAY, None)
}

fn c_date_fromordinal(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [n] = bind("fromordinal", skip_cls(args), kw, ["n"], 1)?;
    let n = util::to_i64(&n.unwrap_or_default())?;
    if n < 1 {
        return Err(Exc::value_error("ordinal must be >= 1"));
    }
    date_value(n)
}

fn c_combine(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [d, t, tz] = bind("combine", skip_cls(args), kw, ["date", "time", "tzinfo"], 2)?;
    let d = d.unwrap_or_default();
    let t = t.unwrap_or_default();
    let ord = tm_of(&d)?.ord;
    let Some(tm) = downcast::<Time>(&t) else {
        return Err(Exc::type_error(format!("combine() argument 2 must be datetime.time, not {}", tname(&t))));
    };
    let tz = match tz {
        None => tm.tz.clone(),
        Some(v) => tz_arg(Some(v))?,
    };
    dt_value((ord - 1) * US_PER_DAY + tm.us, tz)
}

fn new_datetime(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [y, m, d, h, mi, s, us, tz, _fold] = bind(
        "datetime",
        skip_cls(args),
        kw,
        ["year", "month", "day", "hour", "minute", "second", "microsecond", "tzinfo", "fold"],
        3,
    )?;
    let (y, m, d) = (int_kw(y, 0)?, int_kw(m, 0)?, int_kw(d, 0)?);
    let (h, mi, s, us) = (int_kw(h, 0)?, int_kw(mi, 0)?, int_kw(s, 0)?, int_kw(us, 0)?);
    check_date(y, m, d)?;
    check_time(h, mi, s, us)?;
    dt_value(make_us(y, m, d, h, mi, s, us), tz_arg(tz)?)
}

fn new_date(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [y, m, d] = bind("date", skip_cls(args), kw, ["year", "month", "day"], 3)?;
    let (y, m, d) = (int_kw(y, 0)?, int_kw(m, 0)?, int_kw(d, 0)?);
    check_date(y, m, d)?;
    date_value(ymd_to_ord(y, m, d))
}

fn new_time(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [h, mi, s, us, tz, _fold] =
        bind("time", skip_cls(args), kw, ["hour", "minute", "second", "microsecond", "tzinfo", "fold"], 0)?;
    let (h, mi, s, us) = (int_kw(h, 0)?, int_kw(mi, 0)?, int_kw(s, 0)?, int_kw(us, 0)?);
    check_time(h, mi, s, us)?;
    Ok(obj(Time { us: ((h * 60 + mi) * 60 + s) * US_PER_SEC + us, tz: tz_arg(tz)? }))
}

fn new_timedelta(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let vals = bind(
        "timedelta",
        skip_cls(args),
        kw,
        ["days", "seconds", "microseconds", "milliseconds", "minutes", "hours", "weeks"],
        0,
    )?;
    const SCALE: [i128; 7] = [US_PER_DAY as i128, US_PER_SEC as i128, 1, 1000, 60 * US_PER_SEC as i128, 3600 * US_PER_SEC as i128, 7 * US_PER_DAY as i128];
    let mut exact: i128 = 0;
    let mut frac: f64 = 0.0;
    for (v, scale) in vals.iter().zip(SCALE.iter()) {
        match v {
            None => {}
            Some(Value::Int(i)) => exact += *i as i128 * scale,
            Some(Value::Bool(b)) => exact += *b as i128 * scale,
            Some(Value::Float(f)) => {
                if !f.is_finite() {
                    return Err(Exc::value_error("cannot convert float NaN to integer"));
                }
                if f.abs() > 1e18 {
                    return Err(Exc::new(ExcKind::OverflowError, "Python int too large to convert to C int"));
                }
                let whole = f.trunc();
                exact += whole as i128 * scale;
                frac += (f - whole) * *scale as f64;
            }
            Some(Value::BigInt(_)) => return Err(Exc::new(ExcKind::OverflowError, "Python int too large to convert to C int")),
            Some(other) => {
                return Err(Exc::type_error(format!("unsupported type for timedelta days component: {}", tname(other))))
            }
        }
    }
    td_value(exact + round_half_even(frac) as i128)
}

fn new_timezone(_vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let [off, name] = bind("timezone", skip_cls(args), kw, ["offset", "name"], 1)?;
    let off = off.unwrap_or_default();
    let Some(td) = downcast::<TimeDelta>(&off) else {
        return Err(Exc::type_error(format!(
            "timezone() argument 1 must be datetime.timedelta, not {}",
            tname(&off)
        )));
    };
    if td.us.abs() >= US_PER_DAY as i128 {
        return Err(Exc::value_error(
            "offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24), not ".to_string()
                + &td.repr_s()
                + ".",
        ));
    }
    let name = match name {
        None => None,
        Some(Value::Str(s)) => Some(s.s.clone()),
        Some(other) => return Err(Exc::type_error(format!("timezone() argument 2 must be str, not {}", tname(&other)))),
    };
    Ok(obj(TimeZone(Tz { off: td.us as i64, name })))
}

pub fn module(_vm: &mut Vm) -> Value {
    let utc = obj(TimeZone(Tz::utc()));
    let td_cls = util::class(
        "timedelta",
        None,
        vec![
            ("__new__", func("__new__", new_timedelta)),
            ("min", obj(TimeDelta { us: -(MAX_TD_DAYS * US_PER_DAY as i128) })),
            ("max", obj(TimeDelta { us: (MAX_TD_DAYS + 1) * US_PER_DAY as i128 - 1 })),
            ("resolution", obj(TimeDelta { us: 1 })),
        ],
    );
    let tz_cls = util::class(
        "timezone",
        None,
        vec![("__new__", func("__new__", new_timezone)), ("utc", utc.clone())],
    );
    let date_cls = util::class(
        "date",
        None,
        vec![
            ("__new__", func("__new__", new_date)),
            ("today", func("today", c_date_today)),
            ("fromtimestamp", func("fromtimestamp", c_date_fromtimestamp)),
            ("fromisoformat", func("fromisoformat", c_date_fromisoformat)),
            ("fromordinal", func("fromordinal", c_date_fromordinal)),
            ("min", obj(Date { ord: 1 })),
            ("max", obj(Date { ord: MAX_ORD })),
        ],
    );
    let time_cls = util::class(
        "time",
        None,
        vec![("__new__", func("__new__", new_time)), ("fromisoformat", func("fromisoformat", c_time_fromisoformat))],
    );
    let class_methods: Vec<(&str, Value)> = vec![
        ("now", func("now", c_now)),
        ("utcnow", func("utcnow", c_utcnow)),
        ("today", func("today", c_today)),
        ("fromtimestamp", func("fromtimestamp", c_fromtimestamp)),
        ("utcfromtimestamp", func("utcfromtimestamp", c_utcfromtimestamp)),
        ("fromisoformat", func("fromisoformat", c_fromisoformat)),
        ("strptime", func("strptime", c_strptime)),
        ("fromordinal", func("fromordinal", c_fromordinal)),
        ("combine", func("combine", c_combine)),
    ];
    let mut dt_attrs = vec![
        ("__new__", func("__new__", new_datetime)),
        ("min", obj(DateTime { us: 0, tz: None })),
        ("max", obj(DateTime { us: MAX_ORD * US_PER_DAY - 1, tz: None })),
    ];
    dt_attrs.extend(class_methods.iter().cloned());
    // The helper form (ASK.md §1.3): `datetime.timedelta`, `datetime.date`... on the class too.
    dt_attrs.push(("timedelta", Value::Class(td_cls.clone())));
    dt_attrs.push(("date", Value::Class(date_cls.clone())));
    dt_attrs.push(("time", Value::Class(time_cls.clone())));
    dt_attrs.push(("timezone", Value::Class(tz_cls.clone())));
    // `datetime` derives from `date`, as in Python (`issubclass(datetime, date)`).
    let dt_cls = util::class("datetime", Some(date_cls.clone()), dt_attrs);
    dt_cls.attrs.borrow_mut().insert(Rc::from("datetime"), Value::Class(dt_cls.clone()));
    let mut attrs = vec![
        ("datetime", Value::Class(dt_cls)),
        ("date", Value::Class(date_cls)),
        ("time", Value::Class(time_cls)),
        ("timedelta", Value::Class(td_cls)),
        ("timezone", Value::Class(tz_cls)),
        ("UTC", utc),
        ("MINYEAR", Value::Int(1)),
        ("MAXYEAR", Value::Int(9999)),
    ];
    // `datetime.now()` on the module, like the helper.
    attrs.extend(class_methods.into_iter().filter(|(n, _)| *n != "today" && *n != "combine"));
    util::module("datetime", attrs)
}

/// The `datetime.datetime` class of this VM (for the built-in `datetime` helper name): calling
/// it constructs, `datetime.now()` works, and it carries `timedelta`, `date`, `time`,
/// `timezone` and itself as `datetime`.
pub fn datetime_class_value(vm: &mut Vm) -> Value {
    let m = match super::cached(vm, "datetime") {
        Some(Ok(m)) => m,
        _ => return Value::None,
    };
    match &m {
        Value::Module(m) => m.attrs.borrow().get("datetime").cloned().unwrap_or_default(),
        _ => Value::None,
    }
}

/// The datetime class value as a `Class`, when needed by Rust code.
pub fn datetime_class(vm: &mut Vm) -> Option<Rc<Class>> {
    match datetime_class_value(vm) {
        Value::Class(c) => Some(c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        assert_eq!(ymd_to_ord(1970, 1, 1), EPOCH_ORD);
        assert_eq!(ymd_to_ord(9999, 12, 31), MAX_ORD);
        for ord in [1, 2, 59, 60, 61, 365, 366, 719_163, 738_000, MAX_ORD] {
            let (y, m, d) = ord_to_ymd(ord);
            assert_eq!(ymd_to_ord(y, m, d), ord);
        }
        assert_eq!(iso_calendar(ymd_to_ord(2024, 1, 2)), (2024, 1, 2));
        assert_eq!(iso_calendar(ymd_to_ord(2021, 1, 1)), (2020, 53, 5));
    }

    #[test]
    fn formats() {
        let d = DateTime { us: make_us(2024, 1, 2, 0, 0, 0, 0), tz: None };
        assert_eq!(
            strftime("%c|%x|%X|%U|%W|%j|%-d|%e|%G-%V-%u|%Z|%z|%q", &d.tm()),
            "Tue Jan  2 00:00:00 2024|01/02/24|00:00:00|00|01|002|2| 2|2024-01-2|||%q"
        );
        assert_eq!(d.repr_s(), "datetime.datetime(2024, 1, 2, 0, 0)");
        let d = DateTime { us: make_us(2024, 1, 2, 3, 4, 5, 6), tz: Some(Tz { off: (5 * 3600 + 1800) * US_PER_SEC, name: None }) };
        assert_eq!(d.isoformat(" ", "auto").unwrap(), "2024-01-02 03:04:05.000006+05:30");
        assert_eq!(TimeDelta { us: -US_PER_DAY as i128 + 5_000_000 }.str_s(), "-1 day, 0:00:05");
        assert_eq!(TimeDelta { us: -US_PER_DAY as i128 + 5_000_000 }.repr_s(), "datetime.timedelta(days=-1, seconds=5)");
        assert_eq!(tz_repr(&Tz { off: 3600 * US_PER_SEC, name: None }), "datetime.timezone(datetime.timedelta(seconds=3600))");
    }

    #[test]
    fn iso_and_strptime() {
        let (us, tz) = parse_iso_time("03:04:05.1234+01:00").unwrap();
        assert_eq!(us, make_us(1, 1, 1, 3, 4, 5, 123_400));
        assert_eq!(tz.unwrap().off, 3600 * US_PER_SEC);
        assert!(parse_iso_time("3:04").is_none());
        let p = strptime("2024-03-05 07:08:09 PM", "%Y-%m-%d %I:%M:%S %p").unwrap();
        assert_eq!((p.year, p.month, p.day, p.hour, p.minute, p.second), (2024, 3, 5, 19, 8, 9));
        assert_eq!(strptime("2024-03-05x", "%Y-%m-%d").err().unwrap(), "unconverted data remains: x");
        assert!(strptime("2024/03/05", "%Y-%m-%d").err().unwrap().starts_with("time data '2024/03/05' does not match format"));
        let p = strptime("5 march 2024", "%d %B %Y").unwrap();
        assert_eq!((p.year, p.month, p.day), (2024, 3, 5));
    }
}
