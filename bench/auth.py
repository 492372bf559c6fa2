"""Cost of token authentication at the gateway (users issue: ≤ 10% over no authentication).

Starts its own stack (2 gateway workers) and runs wrk at concurrency 16 against
`GET /api/icons/` with a matching If-None-Match (an AllowAny endpoint answered from the
gateway's memory, so authentication is most of what differs), once without credentials and
once with `Authorization: Token ...` (cached lookups), in five alternating rounds each.
Throughput on a shared 2-core machine is noisy, so the verdict compares the gateway's own
CPU time per request (from /proc, summed over its processes), which other work disturbs
far less; the throughput medians are reported beside it. Writes bench/results/auth-<date>.md.

    .venv/bin/python bench/auth.py [--seconds 8]
"""
import argparse
import re
import statistics
import subprocess
from datetime import datetime

import requests

from common import bench_stack, children, cpu_seconds, write_report


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
    rounds = {"no credentials": [], "token": []}
    cpu = {"no credentials": [], "token": []}
    with bench_stack("bench-auth", 8120) as (stack, token, _):
        url = f"{stack.url}/api/icons/"
        etag = requests.get(url, timeout=10).headers["ETag"]
        headers = {"no credentials": [f"If-None-Match: {etag}"],
                   "token": [f"If-None-Match: {etag}", f"Authorization: Token {token}"]}
        gateway_pid = stack.procs["gateway"].pid
        for _ in range(5):
            for name, extra in headers.items():
                before = gateway_cpu(gateway_pid)
                rps, total = wrk(url, extra, args.seconds)
                rounds[name].append(rps)
                cpu[name].append((gateway_cpu(gateway_pid) - before) / total * 1e6)
    plain = statistics.median(cpu["no credentials"])
    with_token = statistics.median(cpu["token"])
    overhead = (with_token - plain) / plain * 100
    lines = [f"# Token authentication overhead, {datetime.now():%Y-%m-%d %H:%M}", "",
             "2 cores, whole stack local, 2 gunicorn gthread workers; wrk c=16, "
             f"{args.seconds} s per round, 5 alternating rounds; `GET /api/icons/` answered "
             "304 from the gateway's memory.", "",
             "| credentials | req/s per round | median req/s | gateway CPU µs/request (median) |",
             "| --- | --- | --- | --- |"]
    for name, values in rounds.items():
        lines.append(f"| {name} | {', '.join(f'{v:.0f}' for v in values)} | "
                     f"{statistics.median(values):.0f} | {statistics.median(cpu[name]):.0f} |")
    verdict = "met" if overhead <= 10 else "MISSED"
    lines += ["", f"Token authentication costs {overhead:.1f}% more gateway CPU per request "
              f"(target ≤ 10%: {verdict})."]
    write_report("auth", lines)


def gateway_cpu(master_pid: int) -> float:
    """CPU seconds used so far by the gunicorn master and its workers."""
    return sum(cpu_seconds(pid) for pid in [master_pid] + children(master_pid))


def wrk(url: str, headers: list[str], seconds: int) -> tuple[float, int]:
    cmd = ["wrk", "-t2", "-c16", f"-d{seconds}s"]
    for header in headers:
        cmd += ["-H", header]
    out = subprocess.run(cmd + [url], check=True, capture_output=True, text=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"unexpected answers:\n{out}")
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), total


if __name__ == "__main__":
    main()
