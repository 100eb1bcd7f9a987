#!/usr/bin/env python3
"""Compile-speed benchmark: the hot-reload budget is "a 5,000-line program compiles in < 50 ms".

Generates a realistic Ask program of about LINES lines (routes with decorators and path
parameters, functions with loops, branches, try/except, comprehensions and f-strings, classes,
dict literals with bare-word keys), then times `ask check` on it (compile only, nothing runs)
next to `ask check` of an empty file, and prints the medians and the difference (the compile
time proper, without process start-up).

    benches/compile_speed.py                 # 5,000 lines, 21 runs, dist build
    LINES=20000 RUNS=11 benches/compile_speed.py
    ASK=target/release/ask benches/compile_speed.py
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINES = int(os.environ.get("LINES", "5000"))
RUNS = int(os.environ.get("RUNS", "21"))


def unit(i):
    """About 40 lines of varied Ask code, all names suffixed with `i`."""
    return f'''
# Items of group {i}: listing, lookup and creation.
class Item{i}:
    def __init__(self, name, price):
        self.name = name
        self.price = price

    def s(self):
        return {{name: self.name, price: self.price, label: f"{{self.name}} ({{self.price:.2f}})"}}

def total_{i}(items, rate=0.2):
    total = 0
    for it in items:
        if it.price > 100:
            total += it.price * (1 - rate)
        elif it.price > 10:
            total += it.price
        else:
            continue
    return round(total, 2)

def index_{i}(items):
    by_name = {{it.name: it for it in items if it.name}}
    names = sorted([n.upper() for n in by_name], key=lambda n: len(n))
    try:
        first = names[0]
    except IndexError as e:
        first = None
    return {{count: len(names), first: first, names: names[:10]}}

store_{i} = [Item{i}(f"item-{{k}}", k * 3.5) for k in range(5)]

&limit('100 per minute')
@get('/g{i}/items/<int:id>'):
    for it in store_{i}:
        if it.price == id:
            respond(it.s())
    status(f"No item {{id}} in group {i}", 404)

@post('/g{i}/items'):
    data = body or {{}}
    item = Item{i}(data.get('name', 'unnamed'), float(data.get('price', 0)))
    store_{i}.append(item)
    respond({{created: item.s(), total: total_{i}(store_{i})}}, 201)
'''


def program(lines):
    parts, n, i = [], 0, 0
    while n < lines:
        u = unit(i)
        parts.append(u)
        n += u.count("\n")
        i += 1
    return "".join(parts)


def median_ms(cmd):
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append((time.perf_counter() - t) * 1000)
        if r.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr.decode()}")
    return statistics.median(times)


def main():
    ask = os.environ.get("ASK")
    if not ask:
        subprocess.run(["cargo", "build", "--profile", "dist", "--quiet"], cwd=ROOT, check=True)
        ask = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "dist", "ask")
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "big.ask")
        empty = os.path.join(d, "empty.ask")
        text = program(LINES)
        with open(src, "w") as f:
            f.write(text)
        open(empty, "w").close()
        nlines = text.count("\n")
        median_ms([ask, "check", src])  # warm the page cache
        big = median_ms([ask, "check", src])
        base = median_ms([ask, "check", empty])
    print(f"ask check, {nlines} lines ({len(text) // 1024} KiB), median of {RUNS} runs:")
    print(f"  whole command {big:.1f} ms, empty file {base:.1f} ms, compile time {big - base:.1f} ms (budget 50 ms)")


if __name__ == "__main__":
    main()
