#!/usr/bin/env bash
# HTTP benchmark: `ask start` serving ../shared/bench/ask-ref/app.ask next to the hyper-limit
# server (../shared/bench/hyper-limit: hyper 1 + tokio + serde_json, the physical limit), side by
# side in one run: each round measures every route on both servers, alternating which goes first.
# Server pinned to CPU 0, wrk to CPU 1 (`wrk -t1 -c32 --latency`). Reports req/s and p99 per route
# (medians over rounds), the per-round ratio ask/hyper, and ask's idle RSS and peak RSS under load.
#
#   benches/http.sh                          # 3 rounds × 10 s per route
#   ROUNDS=1 DURATION=5 benches/http.sh      # quicker
#   SHARED=/path/to/shared benches/http.sh
#   ASK_BIN=/tmp/other/ask benches/http.sh   # A/B another build of ask against the same limit
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="${SHARED:-}"
for c in "$root/../shared" "$root/../../shared" /work/shared; do
    [ -z "$shared" ] && [ -d "$c/bench/hyper-limit" ] && shared="$(cd "$c" && pwd)"
done
[ -n "$shared" ] || { echo "cannot find shared/bench (set SHARED=)"; exit 2; }
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10}"
CONNS="${CONNS:-32}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v taskset >/dev/null || { apt-get update -qq && apt-get install -y -qq util-linux; }

cd "$root"
cargo build --release --quiet
ask_bin="${ASK_BIN:-$root/target/release/ask}"
work="$root/target/bench-http"
mkdir -p "$work"
# The shared folder is read-only: build hyper-limit from a copy.
rm -rf "$work/hyper-limit" && cp -r "$shared/bench/hyper-limit" "$work/hyper-limit" && chmod -R u+w "$work/hyper-limit"
# (The copy lives under our target/: keep it out of our workspace.)
printf '\n[workspace]\n' >>"$work/hyper-limit/Cargo.toml"
(cd "$work/hyper-limit" && cargo build --release --quiet --locked 2>/dev/null || cargo build --release --quiet)
rm -rf "$work/ask-ref" && cp -r "$shared/bench/ask-ref" "$work/ask-ref" && chmod -R u+w "$work/ask-ref"
lua="$shared/bench/http/post_echo.lua"

ASK_PORT=5204
HYPER_PORT=5202
routes=("list GET /products" "item GET /products/2" "echo POST /echo")

start_server() { # name → sets PID
    case "$1" in
        ask) (cd "$work/ask-ref" && exec taskset -c 0 "$ask_bin" start app.ask --port $ASK_PORT) >"$work/ask.log" 2>&1 & ;;
        hyper) HYPER_LIMIT_THREADS=1 taskset -c 0 "$work/hyper-limit/target/release/hyper-limit" $HYPER_PORT >"$work/hyper.log" 2>&1 & ;;
    esac
    PID=$!
    local port=$ASK_PORT; [ "$1" = hyper ] && port=$HYPER_PORT
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/products" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "server $1 did not start"; cat "$work/$1.log"; exit 1
}

stop_server() { kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }

rss_kib() { awk "/^$2:/ {print \$2}" "/proc/$1/status"; }

measure() { # port method path → "req/s p99_ms"
    local args=(-t1 -c"$CONNS" -d"${DURATION}s" --latency)
    [ "$2" = POST ] && args+=(-s "$lua")
    taskset -c 1 wrk "${args[@]}" "http://127.0.0.1:$1$3" >"$work/wrk.out" 2>&1
    local rps p99
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.out")
    p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' "$work/wrk.out")
    if grep -q "Non-2xx\|Socket errors" "$work/wrk.out"; then grep "Non-2xx\|Socket errors" "$work/wrk.out" >&2; fi
    echo "$rps $p99"
}

results="$work/results.txt"
: >"$results"
for round in $(seq "$ROUNDS"); do
    order=(ask hyper); [ $((round % 2)) -eq 0 ] && order=(hyper ask)
    for name in "${order[@]}"; do
        start_server "$name"
        port=$ASK_PORT; [ "$name" = hyper ] && port=$HYPER_PORT
        idle=$(rss_kib "$PID" VmRSS)
        for r in "${routes[@]}"; do
            set -- $r
            # warm-up
            taskset -c 1 wrk -t1 -c"$CONNS" -d1s $([ "$2" = POST ] && echo -s "$lua") "http://127.0.0.1:$port$3" >/dev/null 2>&1 || true
            m=$(measure "$port" "$2" "$3")
            echo "$round $name $1 $m" >>"$results"
        done
        peak=$(rss_kib "$PID" VmHWM)
        echo "$round $name rss $idle $peak" >>"$results"
        stop_server
    done
done

python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
med = lambda xs: statistics.median(xs) if xs else float("nan")
print(f"| route | ask req/s | hyper-limit req/s | ask/hyper (median of rounds) | ask p99 ms | hyper p99 ms |")
print("|---|---:|---:|---:|---:|---:|")
for route in ("list", "item", "echo"):
    a = {r[0]: (float(r[3]), float(r[4])) for r in rows if r[1] == "ask" and r[2] == route}
    h = {r[0]: (float(r[3]), float(r[4])) for r in rows if r[1] == "hyper" and r[2] == route}
    ratios = [a[k][0] / h[k][0] for k in a if k in h and h[k][0] > 0]
    print(f"| {route} | {med([v[0] for v in a.values()]):.0f} | {med([v[0] for v in h.values()]):.0f} | {med(ratios):.0%} | {med([v[1] for v in a.values()]):.2f} | {med([v[1] for v in h.values()]):.2f} |")
for name in ("ask", "hyper"):
    rs = [r for r in rows if r[1] == name and r[2] == "rss"]
    print(f"\n{name}: idle RSS {med([int(r[3]) for r in rs]) / 1024:.1f} MiB, peak RSS under load {med([int(r[4]) for r in rs]) / 1024:.1f} MiB", end="")
print()
PY
