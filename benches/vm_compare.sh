#!/usr/bin/env bash
# Side-by-side VM benchmark: `ask run` vs CPython 3.11 vs Lua 5.4 on the shared micro-programs
# (../shared/bench/vm/python/*.py are valid Ask). Prints the harness's Markdown table of medians
# and ratios measured interleaved in one run (the only kind of number that means anything on
# these noisy 2-core machines).
#
#   benches/vm_compare.sh            # 11 rounds
#   RUNS=5 benches/vm_compare.sh     # quicker
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="${SHARED:-$root/../shared}"
cd "$root"
for tool in lua5.4 hyperfine; do
    command -v "$tool" >/dev/null || { apt-get update -qq && apt-get install -y -qq lua5.4 hyperfine; break; }
done
# The shipped binary (`cargo dist`, .cargo/config.toml): dist profile, static PIE.
cargo dist --quiet
ask="${CARGO_TARGET_DIR:-$root/target}/$(rustc -vV | sed -n 's/^host: //p')/dist/ask"
out="${OUT:-$root/target/bench-vm}"
mkdir -p "$out"
python3 "$shared/bench/vm/vm_anchors.py" \
    --runs "${RUNS:-11}" \
    --interp "ask|python|py|$ask run {file}" \
    --only "ask,python3,lua5.4" \
    --md "$out/vm.md" --json "$out/vm.json"
cat "$out/vm.md"
