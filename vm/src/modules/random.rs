//! `import random`: CPython's `random` API on CPython's own generator (MT19937 with the same
//! seeding, `random()`, `getrandbits` and `_randbelow`), so `random.seed(42)` followed by
//! `random.random()`, `randint`, `choice`, `shuffle`, `sample`, `choices` or `gauss` gives the
//! numbers CPython gives. Unseeded generators are seeded from `vm.host.random_bytes` on first use.
//!
//! The same module value carries Ask's helpers `random.int/float/element` (ASK.md §5); the
//! built-in `random` name should be bound to [`helper_value`] so both share one generator.
//! Every function is a native bound to the generator object (`args[0]`), and `random.Random(seed)`
//! makes an independent generator with the same methods.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use num_bigint::{BigInt, Sign};
use num_traits::{Signed, ToPrimitive, Zero};
use sha2::{Digest, Sha512};

use super::util::{self, bind, method, obj, tname, to_bigint, to_f64, Kw};
use crate::error::{Exc, VmResult};
use crate::value::{NativeObject, Value};
use crate::Vm;

const N: usize = 624;

/// The Mersenne Twister state, as CPython's `_random.Random`.
pub struct Mt {
    mt: [u32; N],
    idx: usize,
}

impl Mt {
    fn new() -> Mt {
        Mt { mt: [0; N], idx: N + 1 }
    }
    fn init_genrand(&mut self, s: u32) {
        self.mt[0] = s;
        for i in 1..N {
            self.mt[i] = 1812433253u32.wrapping_mul(self.mt[i - 1] ^ (self.mt[i - 1] >> 30)).wrapping_add(i as u32);
        }
        self.idx = N;
    }
    fn init_by_array(&mut self, key: &[u32]) {
        self.init_genrand(19650218);
        let (mut i, mut j) = (1usize, 0usize);
        let klen = key.len().max(1);
        let mut k = N.max(klen);
        while k > 0 {
            let kj = key.get(j).copied().unwrap_or(0);
            self.mt[i] = (self.mt[i] ^ (self.mt[i - 1] ^ (self.mt[i - 1] >> 30)).wrapping_mul(1664525))
                .wrapping_add(kj)
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                self.mt[0] = self.mt[N - 1];
                i = 1;
            }
            if j >= klen {
                j = 0;
            }
            k -= 1;
        }
        k = N - 1;
        while k > 0 {
            self.mt[i] = (self.mt[i] ^ (self.mt[i - 1] ^ (self.mt[i - 1] >> 30)).wrapping_mul(1566083941))
                .wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                self.mt[0] = self.mt[N - 1];
                i = 1;
            }
            k -= 1;
        }
        self.mt[0] = 0x8000_0000;
        self.idx = N;
    }
    pub fn next_u32(&mut self) -> u32 {
        if self.idx >= N {
            if self.idx == N + 1 {
                self.init_genrand(5489);
            }
            for kk in 0..N {
                let y = (self.mt[kk] & 0x8000_0000) | (self.mt[(kk + 1) % N] & 0x7fff_ffff);
                self.mt[kk] = self.mt[(kk + 397) % N] ^ (y >> 1) ^ if y & 1 != 0 { 0x9908_b0df } else { 0 };
            }
            self.idx = 0;
        }
        let mut y = self.mt[self.idx];
        self.idx += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }
    /// `random.random()`: 53 random bits.
    pub fn random(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67108864.0 + b) * (1.0 / 9007199254740992.0)
    }
    /// `getrandbits(k)` for k <= 64.
    fn bits64(&mut self, k: u32) -> u64 {
        if k == 0 {
            0
        } else if k <= 32 {
            (self.next_u32() >> (32 - k)) as u64
        } else {
            let lo = self.next_u32() as u64;
            let hi = (self.next_u32() >> (64 - k)) as u64;
            lo | (hi << 32)
        }
    }
    /// `getrandbits(k)` for any k (little-endian 32-bit words, the last one truncated).
    pub fn bits_big(&mut self, k: u64) -> BigInt {
        if k <= 64 {
            return BigInt::from(self.bits64(k as u32));
        }
        let words = (k - 1) / 32 + 1;
        let mut ws = Vec::with_capacity(words as usize);
        let mut left = k;
        for _ in 0..words {
            let mut r = self.next_u32();
            if left < 32 {
                r >>= 32 - left;
            }
            ws.push(r);
            left = left.saturating_sub(32);
        }
        BigInt::from_slice(Sign::Plus, &ws)
    }
    /// `_randbelow(n)` for 0 < n < 2**64.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let k = 64 - n.leading_zeros();
        loop {
            let r = self.bits64(k);
            if r < n {
                return r;
            }
        }
    }
    fn below_big(&mut self, n: &BigInt) -> BigInt {
        if let Some(small) = n.to_u64() {
            return BigInt::from(self.below(small));
        }
        let k = n.bits();
        loop {
            let r = self.bits_big(k);
            if &r < n {
                return r;
            }
        }
    }
}

/// One generator: `random.Random()` or the module's hidden instance.
pub struct RandomState {
    mt: RefCell<Mt>,
    seeded: Cell<bool>,
    gauss_next: Cell<Option<f64>>,
}

impl RandomState {
    fn new() -> RandomState {
        RandomState { mt: RefCell::new(Mt::new()), seeded: Cell::new(false), gauss_next: Cell::new(None) }
    }
    fn ensure_seeded(&self, vm: &mut Vm) {
        if !self.seeded.get() {
            self.seed_from_host(vm);
        }
    }
    fn seed_from_host(&self, vm: &mut Vm) {
        let mut buf = vec![0u8; N * 4];
        vm.host.random_bytes(&mut buf);
        let key: Vec<u32> = buf.chunks(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        self.mt.borrow_mut().init_by_array(&key);
        self.seeded.set(true);
        self.gauss_next.set(None);
    }
    fn seed_int(&self, n: &BigInt) {
        let (_, mut words) = n.abs().to_u32_digits();
        if words.is_empty() {
            words.push(0);
        }
        self.mt.borrow_mut().init_by_array(&words);
        self.seeded.set(true);
        self.gauss_next.set(None);
    }
    fn random(&self, vm: &mut Vm) -> f64 {
        self.ensure_seeded(vm);
        self.mt.borrow_mut().random()
    }
    fn below(&self, vm: &mut Vm, n: u64) -> u64 {
        self.ensure_seeded(vm);
        self.mt.borrow_mut().below(n)
    }
    fn below_big(&self, vm: &mut Vm, n: &BigInt) -> BigInt {
        self.ensure_seeded(vm);
        self.mt.borrow_mut().below_big(n)
    }
}

const METHODS: &[(&str, crate::value::NativeFnPtr)] = &[
    ("seed", seed),
    ("random", random),
    ("uniform", uniform),
    ("randint", randint),
    ("randrange", randrange),
    ("getrandbits", getrandbits),
    ("randbytes", randbytes),
    ("choice", choice),
    ("choices", choices),
    ("shuffle", shuffle),
    ("sample", sample),
    ("gauss", gauss),
    ("normalvariate", normalvariate),
    ("expovariate", expovariate),
    ("triangular", triangular),
    ("int", ask_int),
    ("float", ask_float),
    ("element", ask_element),
];

impl NativeObject for RandomState {
    fn type_name(&self) -> &str {
        "Random"
    }
    fn repr(&self) -> String {
        "<random.Random object>".into()
    }
    fn get_attr(&self, _vm: &mut Vm, this: &Value, name: &str) -> VmResult<Option<Value>> {
        Ok(METHODS.iter().find(|(n, _)| *n == name).map(|(n, f)| method(n, *f, this)))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

pub fn module(_vm: &mut Vm) -> Value {
    let state = obj(RandomState::new());
    let mut attrs: Vec<(&str, Value)> = METHODS.iter().map(|(n, f)| (*n, method(n, *f, &state))).collect();
    let cls = util::class("Random", None, vec![("__new__", util::func("__new__", new_random))]);
    attrs.push(("Random", Value::Class(cls)));
    util::module("random", attrs)
}

/// The value for the built-in `random` helper name: the VM's `random` module itself, so
/// `random.int(...)` and `import random; random.randint(...)` share one generator.
pub fn helper_value(vm: &mut Vm) -> VmResult<Value> {
    super::cached(vm, "random").unwrap_or_else(|| Ok(Value::None))
}

fn new_random(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let state = RandomState::new();
    let [seed_arg] = bind("Random", util::skip_cls(args), kw, ["x"], 0)?;
    let v = obj(state);
    if let Some(s) = seed_arg {
        seed(vm, &[v.clone(), s], &[])?;
    }
    Ok(v)
}

fn st(args: &[Value]) -> VmResult<&RandomState> {
    util::this::<RandomState>(args, "Random")
}

fn seed(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let s = st(args)?;
    let [a, _version] = bind("seed", &args[1..], kw, ["a", "version"], 0)?;
    match a.unwrap_or_default() {
        Value::None => s.seed_from_host(vm),
        Value::Int(i) => s.seed_int(&BigInt::from(i)),
        Value::Bool(b) => s.seed_int(&BigInt::from(b as i64)),
        Value::BigInt(b) => s.seed_int(&b),
        Value::Float(f) => {
            // CPython seeds with hash(f): integral floats hash like the int.
            if f.fract() == 0.0 && f.is_finite() {
                s.seed_int(&num_bigint::BigInt::from(f as i64))
            } else {
                s.seed_int(&BigInt::from(f.to_bits()))
            }
        }
        Value::Str(t) => seed_bytes(s, t.s.as_bytes()),
        Value::Bytes(b) => seed_bytes(s, &b),
        other => {
            return Err(Exc::type_error(format!(
                "The only supported seed types are: None,\nint, float, str, bytes, and bytearray. Got {}",
                tname(&other)
            )))
        }
    }
    Ok(Value::None)
}

/// CPython's version-2 seeding of text: the bytes followed by their SHA-512, as a big-endian int.
fn seed_bytes(s: &RandomState, b: &[u8]) {
    let mut all = b.to_vec();
    all.extend_from_slice(&Sha512::digest(b));
    s.seed_int(&BigInt::from_bytes_be(Sign::Plus, &all));
}

fn random(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let s = st(args)?;
    util::exact("random", &args[1..], kw, 0)?;
    Ok(Value::Float(s.random(vm)))
}

fn uniform(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let s = st(args)?;
    let [a, b] = bind("uniform", &args[1..], kw, ["a", "b"], 2)?;
    let a = to_f64(&a.unwrap_or_default())?;
    let b = to_f64(&b.unwrap_or_default())?;
    Ok(Value::Float(a + (b - a) * s.random(vm)))
}

/// A uniformly chosen integer in `range(start, stop, step)` (CPython's `randrange`).
fn randrange_impl(vm: &mut Vm, s: &RandomState, start: &Value, stop: Option<&Value>, step: Option<&Value>) -> VmResult<Value> {
    let istart = index_arg(start)?;
    let Some(stop) = stop.filter(|v| !v.is_none()) else {
        if step.is_some_and(|v| !matches!(v, Value::Int(1))) {
            return Err(Exc::type_error("Missing a non-None stop argument"));
        }
        if istart.is_positive() {
            return Ok(Value::from_bigint(s.below_big(vm, &istart)));
        }
        return Err(Exc::value_error("empty range for randrange()"));
    };
    let istop = index_arg(stop)?;
    let width = &istop - &istart;
    let istep = match step {
        None => BigInt::from(1),
        Some(v) => index_arg(v)?,
    };
    if istep == BigInt::from(1) {
        if width.is_positive() {
            return Ok(Value::from_bigint(istart + s.below_big(vm, &width)));
        }
        return Err(Exc::value_error(format!("empty range for randrange() ({istart}, {istop}, {width})")));
    }
    if istep.is_zero() {
        return Err(Exc::value_error("zero step for randrange()"));
    }
    let n = floor_div_fix(&width, &istep);
    if !n.is_positive() {
        return Err(Exc::value_error("empty range for randrange()"));
    }
    Ok(Value::from_bigint(istart + istep * s.below_big(vm, &n)))
}

fn floor_div_fix(width: &BigInt, step: &BigInt) -> BigInt {
    use num_integer::Integer;
    let one = BigInt::from(1);
    let adj: BigInt = if step.is_positive() { width + step - &one } else { width + step + &one };
    adj.div_floor(step)
}

fn index_arg(v: &Value) -> VmResult<BigInt> {
    match v {
        Value::Float(f) if f.fract() == 0.0 && f.is_finite() => Ok(BigInt::from(*f as i64)),
        Value::Float(_) => Err(Exc::value_error("non-integer arg 1 for randrange()")),
        other => to_bigint(other),
    }
}

fn randrange(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let s = st(args)?;
    let [start, stop, step] = bind("randrange", &args[1..], kw, ["start", "stop", "step"], 1)?;
    randrange_impl(vm, s, &start.unwrap_or_default(), stop.as_ref(), step.as_ref())
}

fn randint_impl(vm: &mut Vm, s: &RandomState, a: &Value, b: &Value) -> VmResult<Value> {
    let b1 = match b {
        Value::Int(i) if *i < i64::MAX => Value::Int(i + 1),
        other => Value::from_bigint(index_arg(other)? + 1),
    };
    randrange_impl(vm, s, a, Some(&b1), None)
}

fn randint(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let s = st(args)?;
    let [a, b] = bind("randint", &args[1..], kw, ["a", "b"], 2)?;
    randint_impl(vm, s, &a.unwrap_or_default(), &b.unwrap_or_default())
}

fn getrandbits(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let s = st(args)?;
    let [k] = bind("getrandbits", &args[1..], kw, ["k"], 1)?;
    let k = util::to_i64(&k.unwrap_or_default())?;
    if k < 0 {
        return Err(Exc::value_error("number of bits must be non-negative"));
    }
    if k > 1 << 34 {
        return Err(Exc::new(crate::value::ExcKind::MemoryError, ""));
    }
    s.ensure_seeded(vm);
    let r = s.mt.borrow_mut().bits_big(k as u64);
    Ok(Value::from_bigint(r))
}

fn randbytes(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let s = st(args)?;
    let [n] = bind("randbytes", &args[1..], kw, ["n"], 1)?;
    let n = util::to_i64(&n.unwrap_or_default())?.max(0) as usize;
    if n > 1 << 31 {
        return Err(Exc::new(crate::value::ExcKind::MemoryError, ""));
    }
    s.ensure_seeded(vm);
    let r = s.mt.borrow_mut().bits_big(n as u64 * 8);
    let mut bytes = r.to_bytes_le().1;
    bytes.resize(n, 0);
    Ok(util::bytes_value(bytes))
}

/// Length and indexing of a sequence argument, without holding a borrow across VM calls.
fn seq_len(vm: &mut Vm, v: &Value) -> VmResult<usize> {
    match v {
        Value::List(l) => Ok(l.borrow().len()),
        Value::Tuple(t) => Ok(t.len()),
        Value::Str(s) => Ok(s.s.chars().count()),
        _ => crate::ops::len(vm, v),
    }
}

fn seq_get(vm: &mut Vm, v: &Value, i: usize) -> VmResult<Value> {
    match v {
        Value::List(l) => l.borrow().get(i).cloned().ok_or_else(|| Exc::index_error("list index out of range")),
        Value::Tuple(t) => t.get(i).cloned().ok_or_else(|| Exc::index_error("tuple index out of range")),
        Value::Str(s) => s.s.chars().nth(i).map(|c| Value::str(c.to_string())).ok_or_else(|| Exc::index_error("string index out of range")),
        _ => crate::ops::get_item(vm, v, &Value::Int(i as i64)),
    }
}

fn check_sequence(v: &Value) -> VmResult<()> {
    match v {
        Value::Set(_) | Value::FrozenSet(_) | Value::Dict(_) => Err(Exc::type_error(
            "Population must be a sequence.  For dicts or sets, use sorted(d).",
        )),
        _ => Ok(()),
    }
}

fn choice_impl(vm: &mut Vm, s: &RandomState, seq: &Value) -> VmResult<Value> {
    if let Value::Set(_) | Value::FrozenSet(_) = seq {
        return Err(Exc::type_error(format!("'{}' object is not subscriptable", tname(seq))));
    }
    let n = seq_len(vm, seq)?;
    if n == 0 {
        return Err(Exc::index_error("Cannot choose from an empty sequence"));
    }
    let i = s.below(vm, n as u64) as usize;
    seq_get(vm, seq, i)
}

fn choice(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let s = st(args)?;
    let [seq] = bind("choice", &args[1..], kw, ["seq"], 1)?;
    choice_impl(vm, s, &seq.unwrap_or_default())
}

fn choices_impl(vm: &mut Vm, s: &RandomState, pop: &Value, weights: Option<Value>, cum: Option<Value>, k: usize) -> VmResult<Vec<Value>> {
    let items = util::items(vm, pop)?;
    let n = items.len();
    let weights = weights.filter(|w| !w.is_none());
    let cum = cum.filter(|w| !w.is_none());
    let cum: Vec<f64> = match (weights, cum) {
        (None, None) => {
            if n == 0 {
                return Err(Exc::index_error("Cannot choose from an empty sequence"));
            }
            let nf = n as f64;
            let mut out = Vec::with_capacity(k);
            for _ in 0..k {
                let i = (s.random(vm) * nf).floor() as usize;
                out.push(items[i.min(n - 1)].clone());
            }
            return Ok(out);
        }
        (Some(_), Some(_)) => return Err(Exc::type_error("Cannot specify both weights and cumulative weights")),
        (Some(w), None) => {
            let ws = util::items(vm, &w)?;
            let mut acc = 0.0;
            let mut out = Vec::with_capacity(ws.len());
            for x in &ws {
                acc += to_f64(x)?;
                out.push(acc);
            }
            out
        }
        (None, Some(c)) => {
            let cs = util::items(vm, &c)?;
            cs.iter().map(to_f64).collect::<VmResult<_>>()?
        }
    };
    if cum.len() != n {
        return Err(Exc::value_error("The number of weights does not match the population"));
    }
    let total = cum.last().copied().unwrap_or(0.0);
    if total <= 0.0 {
        return Err(Exc::value_error("Total of weights must be greater than zero"));
    }
    if !total.is_finite() {
        return Err(Exc::value_error("Total of weights must be finite"));
    }
    let hi = n - 1;
    let mut out = Vec::with_capacity(k);
    for _ in 0..k {
        let x = s.random(vm) * total;
        // bisect_right(cum, x, 0, hi)
        let (mut lo, mut h) = (0usize, hi);
        while lo < h {
            let mid = (lo + h) / 2;
            if x < cum[mid] {
                h = mid;
            } else {
                lo = mid + 1;
            }
        }
        out.push(items[lo].clone());
    }
    Ok(out)
}

fn choices(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let s = st(args)?;
    let [pop, weights, cum, k] = bind("choices", &args[1..], kw, ["population", "weights", "cum_weights", "k"], 1)?;
    let k = match k {
        Some(v) => util::to_i64(&v)?.max(0) as usize,
        None => 1,
    };
    Ok(Value::list(choices_impl(vm, s, &pop.unwrap_or_default(), weights, cum, k)?))
}

fn shuffle(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let s = st(args)?;
    let [x] = bind("shuffle", &args[1..], kw, ["x"], 1)?;
    let x = x.unwrap_or_default();
    let Value::List(l) = &x else {
        return Err(Exc::type_error(format!("'{}' object does not support item assignment", tname(&x))));
    };
    s.ensure_seeded(vm);
    let mut mt = s.mt.borrow_mut();
    let mut v = l.borrow_mut();
    for i in (1..v.len()).rev() {
        let j = mt.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
    Ok(Value::None)
}

fn sample_impl(vm: &mut Vm, s: &RandomState, pop: &Value, k: i64) -> VmResult<Vec<Value>> {
    check_sequence(pop)?;
    let items = util::items(vm, pop)?;
    let n = items.len();
    if k < 0 || k as usize > n {
        return Err(Exc::value_error("Sample larger than population or is negative"));
    }
    let k = k as usize;
    let mut result = Vec::with_capacity(k);
    let mut setsize = 21usize;
    if k > 5 {
        let l = ((k * 3) as f64).ln() / 4f64.ln();
        setsize += 4usize.pow(l.ceil() as u32);
    }
    if n <= setsize {
        let mut pool = items;
        for i in 0..k {
            let j = s.below(vm, (n - i) as u64) as usize;
            result.push(pool[j].clone());
            pool[j] = pool[n - i - 1].clone();
        }
    } else {
        let mut selected = rustc_hash::FxHashSet::default();
        for _ in 0..k {
            let mut j = s.below(vm, n as u64) as usize;
            while selected.contains(&j) {
                j = s.below(vm, n as u64) as usize;
            }
            selected.insert(j);
            result.push(items[j].clone());
        }
    }
    Ok(result)
}

fn sample(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let s = st(args)?;
    let [pop, k, counts] = bind("sample", &args[1..], kw, ["population", "k", "counts"], 2)?;
    let mut pop = pop.unwrap_or_default();
    if let Some(c) = counts.filter(|c| !c.is_none()) {
        // Expand the counts: sample(['a', 'b'], counts=[2, 1], k=2).
        let items = util::items(vm, &pop)?;
        let cs = util::items(vm, &c)?;
        if cs.len() != items.len() {
            return Err(Exc::value_error("The number of counts does not match the population"));
        }
        let mut expanded = Vec::new();
        for (it, c) in items.iter().zip(cs.iter()) {
            for _ in 0..util::to_i64(c)?.max(0) {
                expanded.push(it.clone());
            }
        }
        pop = Value::list(expanded);
    }
    let k = util::to_i64(&k.unwrap_or_default())?;
    Ok(Value::list(sample_impl(vm, s, &pop, k)?))
}

fn gauss(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let s = st(args)?;
    let [mu, sigma] = bind("gauss", &args[1..], kw, ["mu", "sigma"], 0)?;
    let mu = mu.map(|v| to_f64(&v)).transpose()?.unwrap_or(0.0);
    let sigma = sigma.map(|v| to_f64(&v)).transpose()?.unwrap_or(1.0);
    let z = match s.gauss_next.take() {
        Some(z) => z,
        None => {
            let x2pi = s.random(vm) * std::f64::consts::TAU;
            let g2rad = (-2.0 * (1.0 - s.random(vm)).ln()).sqrt();
            s.gauss_next.set(Some(x2pi.sin() * g2rad));
            x2pi.cos() * g2rad
        }
    };
    Ok(Value::Float(mu + z * sigma))
}

fn normalvariate(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let s = st(args)?;
    let [mu, sigma] = bind("normalvariate", &args[1..], kw, ["mu", "sigma"], 0)?;
    let mu = mu.map(|v| to_f64(&v)).transpose()?.unwrap_or(0.0);
    let sigma = sigma.map(|v| to_f64(&v)).transpose()?.unwrap_or(1.0);
    let magic = 4.0 * (-0.5f64).exp() / 2.0f64.sqrt();
    loop {
        let u1 = s.random(vm);
        let u2 = 1.0 - s.random(vm);
        let z = magic * (u1 - 0.5) / u2;
        let zz = z * z / 4.0;
        if zz <= -u2.ln() {
            return Ok(Value::Float(mu + z * sigma));
        }
    }
}

fn expovariate(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let s = st(args)?;
    let [l] = bind("expovariate", &args[1..], kw, ["lambd"], 1)?;
    let l = to_f64(&l.unwrap_or_default())?;
    if l == 0.0 {
        return Err(Exc::zero_division("float division by zero"));
    }
    Ok(Value::Float(-(1.0 - s.random(vm)).ln() / l))
}

fn triangular(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let s = st(args)?;
    let [low, high, mode] = bind("triangular", &args[1..], kw, ["low", "high", "mode"], 0)?;
    let mut low = low.map(|v| to_f64(&v)).transpose()?.unwrap_or(0.0);
    let mut high = high.map(|v| to_f64(&v)).transpose()?.unwrap_or(1.0);
    let u = s.random(vm);
    let mut c = match mode.filter(|m| !m.is_none()) {
        None => 0.5,
        Some(m) => {
            if high == low {
                return Ok(Value::Float(low));
            }
            (to_f64(&m)? - low) / (high - low)
        }
    };
    let mut u = u;
    if u > c {
        u = 1.0 - u;
        c = 1.0 - c;
        std::mem::swap(&mut low, &mut high);
    }
    Ok(Value::Float(low + (high - low) * (u * c).sqrt()))
}

// ---------------------------------------------------------------------------------------------
// Ask's helpers (ASK.md §5). 1.5.0's bugs are not kept: `random.int(a, b)` is inclusive in both
// forms and `random.element(xs)` without `count` returns one element.

/// `random.int(a, b, count=1)`: one int in `[a, b]`, or a list of `count` distinct ints from it.
fn ask_int(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let s = st(args)?;
    let [a, b, count] = bind("int", &args[1..], kw, ["start", "end", "count"], 2)?;
    let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
    let count = match count {
        None => None,
        Some(c) => Some(util::to_i64(&c)?),
    };
    match count {
        None | Some(1) => randint_impl(vm, s, &a, &b),
        Some(c) => {
            let lo = util::to_i64(&a)?;
            let hi = util::to_i64(&b)?;
            if c < 0 || (hi as i128 - lo as i128 + 1) < c as i128 {
                return Err(Exc::value_error("Integer count greater than the input range!"));
            }
            let range = Value::Range(Rc::new(crate::value::RangeObj { start: lo, stop: hi.saturating_add(1), step: 1 }));
            let pop = match util::items(vm, &range) {
                Ok(p) => Value::list(p),
                Err(_) => Value::list((lo..=hi).map(Value::Int).collect()),
            };
            Ok(Value::list(sample_impl(vm, s, &pop, c)?))
        }
    }
}

fn round_to(x: f64, decimals: i64) -> f64 {
    if decimals >= 17 {
        return x;
    }
    let m = 10f64.powi(decimals as i32);
    let r = (x * m).round() / m;
    if r.is_finite() {
        r
    } else {
        x
    }
}

/// `random.float(a, b, count=1, decimals=16, unique=False)`.
fn ask_float(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let s = st(args)?;
    let [a, b, count, decimals, unique] =
        bind("float", &args[1..], kw, ["start", "end", "count", "decimals", "unique"], 2)?;
    let a = to_f64(&a.unwrap_or_default())?;
    let b = to_f64(&b.unwrap_or_default())?;
    let count = count.map(|c| util::to_i64(&c)).transpose()?.unwrap_or(1);
    let decimals = decimals.map(|c| util::to_i64(&c)).transpose()?.unwrap_or(16);
    let unique = matches!(unique, Some(Value::Bool(true)));
    let one = |vm: &mut Vm| round_to(a + (b - a) * s.random(vm), decimals);
    if count <= 1 {
        return Ok(Value::Float(one(vm)));
    }
    let mut out: Vec<f64> = Vec::with_capacity(count as usize);
    let mut tries = 0u64;
    while (out.len() as i64) < count {
        let x = one(vm);
        tries += 1;
        if unique && out.contains(&x) {
            if tries > 1000 * count as u64 {
                return Err(Exc::value_error("Not enough unique floats in the range!"));
            }
            continue;
        }
        out.push(x);
    }
    Ok(Value::list(out.into_iter().map(Value::Float).collect()))
}

/// `random.element(xs, count=None, weights=None, unique=False)`: one element, or a list of
/// `count` picks (with replacement, optionally weighted; without replacement when `unique`).
fn ask_element(vm: &mut Vm, args: &[Value], kw: &Kw) -> VmResult<Value> {
    let s = st(args)?;
    let [seq, count, weights, unique] = bind("element", &args[1..], kw, ["iterable", "count", "weights", "unique"], 1)?;
    let seq = seq.unwrap_or_default();
    let unique = matches!(unique, Some(Value::Bool(true)));
    let items = Value::list(util::items(vm, &seq)?);
    let weights = weights.filter(|w| !w.is_none());
    let Some(count) = count.filter(|c| !c.is_none()) else {
        if weights.is_none() {
            return choice_impl(vm, s, &items);
        }
        let mut v = choices_impl(vm, s, &items, weights, None, 1)?;
        return Ok(v.pop().unwrap_or_default());
    };
    let k = util::to_i64(&count)?;
    if unique {
        return Ok(Value::list(sample_impl(vm, s, &items, k)?));
    }
    Ok(Value::list(choices_impl(vm, s, &items, weights, None, k.max(0) as usize)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_cpython_sequence() {
        // random.seed(42); [random.random() for _ in range(3)]
        let s = RandomState::new();
        s.seed_int(&BigInt::from(42));
        let mut mt = s.mt.borrow_mut();
        assert_eq!(mt.random(), 0.6394267984578837);
        assert_eq!(mt.random(), 0.025010755222666936);
        assert_eq!(mt.random(), 0.27502931836911926);
    }

    #[test]
    fn randbelow_matches_cpython() {
        // random.seed(1); [random.randrange(10) for _ in range(5)] == [2, 9, 1, 4, 1]
        let s = RandomState::new();
        s.seed_int(&BigInt::from(1));
        let got: Vec<u64> = (0..5).map(|_| s.mt.borrow_mut().below(10)).collect();
        assert_eq!(got, vec![2, 9, 1, 4, 1]);
    }

    #[test]
    fn big_seed_and_zero() {
        let s = RandomState::new();
        s.seed_int(&BigInt::zero());
        // random.seed(0); random.random() == 0.8444218515250481
        assert_eq!(s.mt.borrow_mut().random(), 0.8444218515250481);
    }
}
