"""Load benchmark of the platform's read endpoints (issue: platform foundation).

Starts its own stack (2 gateway workers, every service, SQLite) on port 8100 in a RabbitMQ
vhost of its own, seeds 50 custom states, then runs wrk at concurrency 1 and 16 against:
  GET /api/generic/status/               (target >= 2,500 req/s at c16)
  GET /api/generic/status/custom/?limit=50  (target >= 600 req/s at c16)
  GET /api/contenttype/                  (target >= 600 req/s at c16)
and writes a table (req/s, p50, p99) to bench/results/platform-<date>.md.

    .venv/bin/python bench/run.py [--seconds 10]
"""
import argparse
import os
import re
import subprocess
from datetime import datetime

import requests

from common import bench_stack, to_ms, write_report

SCENARIOS = [
    ("GET /api/generic/status/", "/api/generic/status/", 2500),
    ("GET /api/generic/status/custom/?limit=50", "/api/generic/status/custom/?limit=50", 600),
    ("GET /api/contenttype/", "/api/contenttype/", 600),
]


def wrk(url: str, token: str, concurrency: int, seconds: int) -> dict:
    out = subprocess.run(
        ["wrk", f"-t{min(concurrency, 2)}", f"-c{concurrency}", f"-d{seconds}s", "--latency",
         "-H", f"Authorization: Token {token}", url],
        check=True, capture_output=True, text=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if not re.search(r"Requests/sec:\s+([\d.]+)", out) or "50%" not in out:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
            "p99": to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
            "errors": int(errors.group(1)) if errors else 0}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    with bench_stack("bench", 8100) as (stack, token, _):
        base = stack.url
        headers = {"Authorization": f"Token {token}"}
        model = requests.get(f"{base}/api/contenttype/model/stockitem/", headers=headers,
                             timeout=10).json()["pk"]
        for i in range(50):
            requests.post(f"{base}/api/generic/status/custom/", headers=headers, timeout=10,
                          json={"key": 100 + i, "name": f"bench {i}", "label": f"Bench {i}",
                                "logical_key": 10, "model": model,
                                "reference_status": "StockStatus"}).raise_for_status()
        rows = []
        for title, path, target in SCENARIOS:
            wrk(base + path, token, 4, 2)  # warm up every worker and connection
            for concurrency in (1, 16):
                result = wrk(base + path, token, concurrency, args.seconds)
                rows.append((title, concurrency, result,
                             target if concurrency == 16 else None))
                print(f"{title:45} c={concurrency:<3} {result['rps']:8.0f} req/s  "
                      f"p50 {result['p50']:6.2f} ms  p99 {result['p99']:6.2f} ms  "
                      f"errors {result['errors']}", flush=True)
    lines = [f"# Platform read benchmark, {datetime.now():%Y-%m-%d %H:%M}", "",
             f"{os.cpu_count()} cores; whole stack local (2 gunicorn gthread workers, one "
             "process per service, SQLite, RabbitMQ); wrk, "
             f"{args.seconds} s per row, token auth.", "",
             "| endpoint | concurrency | req/s | p50 ms | p99 ms | non-2xx | target |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for title, concurrency, r, target in rows:
        verdict = "" if target is None else (f"≥ {target}: " + ("met" if r["rps"] >= target else "MISSED"))
        lines.append(f"| `{title}` | {concurrency} | {r['rps']:.0f} | {r['p50']:.2f} | "
                     f"{r['p99']:.2f} | {r['errors']} | {verdict} |")
    write_report("platform", lines)


if __name__ == "__main__":
    main()
