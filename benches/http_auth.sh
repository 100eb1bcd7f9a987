#!/usr/bin/env bash
# Cost of the auth layer over HTTP: the same handler served unprotected, `&protected` (a valid
# Bearer token on every request), `&protected` reading `auth.user()`, and `&limit` (a rule never
# reached), by `ask start` pinned to CPU 0 with wrk pinned to CPU 1 (`wrk -t1 -c32`). Every
# request carries the same Authorization header, so the only difference is the check itself.
# Reports median req/s over rounds (alternating route order), the protected/open ratio, and the
# per-request cost of the `&limit` bookkeeping derived from the req/s difference.
#
#   benches/http_auth.sh                     # 3 rounds × 10 s per route
#   ROUNDS=1 DURATION=5 benches/http_auth.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10}"
CONNS="${CONNS:-32}"
PORT="${PORT:-5214}"
command -v wrk >/dev/null || { echo "wrk is needed"; exit 2; }
cd "$root"
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet
work="$root/target/bench-http-auth"
mkdir -p "$work"
secret="bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
cat >"$work/main.ask" <<'ASK'
@get('/open'):
    respond({ok: True})

&protected
@get('/protected'):
    respond({ok: True})

&protected
@get('/me'):
    respond({ok: True, user: auth.user()})

&limit('1000000000 per day')
@get('/limited'):
    respond({ok: True})
ASK
token=$(python3 - "$secret" <<'PY'
import base64, hashlib, hmac, json, sys, time
b = lambda x: base64.urlsafe_b64encode(x).rstrip(b"=").decode()
h = b(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
p = b(json.dumps({"user": "bench", "exp": int(time.time()) + 86400}, separators=(",", ":")).encode())
s = b(hmac.new(sys.argv[1].encode(), f"{h}.{p}".encode(), hashlib.sha256).digest())
print(f"{h}.{p}.{s}")
PY
)
(cd "$work" && ASK_SECRET="$secret" exec taskset -c 0 "$root/target/release/ask" start main.ask --port "$PORT") >"$work/ask.log" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/open" >/dev/null 2>&1 && break
    sleep 0.05
done
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$PORT/me")
[ "$code" = 200 ] || { echo "the token is refused ($code)"; cat "$work/ask.log"; exit 1; }

routes=(open protected me limited)
results="$work/results.txt"
: >"$results"
for round in $(seq "$ROUNDS"); do
    order=("${routes[@]}")
    [ $((round % 2)) -eq 0 ] && order=(limited me protected open)
    for r in "${order[@]}"; do
        taskset -c 1 wrk -t1 -c"$CONNS" -d1s -H "Authorization: Bearer $token" "http://127.0.0.1:$PORT/$r" >/dev/null 2>&1 || true
        taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" -H "Authorization: Bearer $token" "http://127.0.0.1:$PORT/$r" >"$work/wrk.out" 2>&1
        if grep -q "Non-2xx\|Socket errors" "$work/wrk.out"; then grep "Non-2xx\|Socket errors" "$work/wrk.out" >&2; fi
        echo "$round $r $(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.out")" >>"$results"
    done
done
python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
rps = {r: statistics.median(float(x[2]) for x in rows if x[1] == r) for r in ("open", "protected", "me", "limited")}
print("| route | req/s (median) | vs open |")
print("|---|---:|---:|")
for r, v in rps.items():
    print(f"| {r} | {v:.0f} | {v / rps['open']:.1%} |")
d = (1 / rps["limited"] - 1 / rps["open"]) * 1e6
print(f"\n&limit bookkeeping: {d * 1000:.0f} ns per request (from the req/s difference; noise-level when ≤ 0)")
PY
