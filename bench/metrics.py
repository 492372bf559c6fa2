"""CPU cost of health and metrics (issue 13: at most 5% more CPU per request with metrics
on than off).

Starts two stacks side by side (2 gateway workers each, SQLite): "off" with no operations
port (METRICS_PORT unset: the counters are still kept in each process's memory, nothing is
served and the gateway's workers are not in multiprocess mode), "on" with every process's
operations port open, the gateway's workers writing to PROMETHEUS_MULTIPROC_DIR, and every
port scraped once per round as Prometheus would (the scrape's CPU is reported on its own). wrk at concurrency 16 against
`GET /api/generic/status/` (answered from the gateway's read model) and
`POST /api/generate/serial-number/` (gateway, system service, its event relay, audit), in
alternating rounds; the verdict compares the CPU time per request of all of a stack's
processes (from /proc), which other work on the shared 2-core machine disturbs far less
than throughput. Writes bench/results/metrics-<date>.md.

    .venv/bin/python bench/metrics.py [--seconds 8] [--rounds 3]
"""
import argparse
import re
import socket
import statistics
import subprocess
import tempfile
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import requests

from common import bench_stack, children, cpu_seconds, write_report

SERVICES = ("attachments", "audit", "importer", "status", "system", "users")
POST_LUA = """
wrk.method = "POST"
wrk.body = '{"part": 1, "quantity": 1}'
wrk.headers["Content-Type"] = "application/json"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stack_cpu(stack) -> float:
    """CPU seconds used so far by every process of the stack and their children."""
    pids = []
    for proc in stack.procs.values():
        pids += [proc.pid] + children(proc.pid)
    return sum(cpu_seconds(pid) for pid in pids)


def wrk(url: str, headers: list[str], seconds: int, script: str | None) -> tuple[float, int]:
    cmd = ["wrk", "-t2", "-c16", f"-d{seconds}s"]
    for header in headers:
        cmd += ["-H", header]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], check=True, capture_output=True, text=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"unexpected answers:\n{out}")
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    lua = Path(tempfile.mkdtemp(prefix="bench-metrics-")) / "post.lua"
    lua.write_text(POST_LUA)
    ports = {name: free_port() for name in ("gateway", *SERVICES)}
    on_env = {name: {"METRICS_PORT": str(port)} for name, port in ports.items()}
    endpoints = {"GET /api/generic/status/": ("/api/generic/status/", None),
                 "POST /api/generate/serial-number/": ("/api/generate/serial-number/",
                                                       str(lua))}
    cpu: dict = {(e, m): [] for e in endpoints for m in ("off", "on")}
    rps: dict = {(e, m): [] for e in endpoints for m in ("off", "on")}
    scrapes: list[float] = []  # CPU ms of one scrape of every port
    with ExitStack() as stacks:
        off = stacks.enter_context(bench_stack("bench-metrics-off", 8130))
        on = stacks.enter_context(bench_stack("bench-metrics-on", 8131, process_env=on_env))
        for _ in range(args.rounds):
            for endpoint, (path, script) in endpoints.items():
                for mode, (stack, token, _) in (("off", off), ("on", on)):
                    before = stack_cpu(stack)
                    rate, total = wrk(stack.url + path, [f"Authorization: Token {token}"],
                                      args.seconds, script)
                    cpu[endpoint, mode].append((stack_cpu(stack) - before) / total * 1e6)
                    rps[endpoint, mode].append(rate)
                    if mode == "on":  # a scrape of every port per round, as Prometheus would
                        before = stack_cpu(stack)
                        for port in ports.values():
                            requests.get(f"http://127.0.0.1:{port}/metrics",
                                         timeout=10).raise_for_status()
                        scrapes.append((stack_cpu(stack) - before) * 1e3)
    lines = [f"# Health and metrics overhead, {datetime.now():%Y-%m-%d %H:%M}", "",
             "2 cores, two whole stacks side by side, 2 gunicorn gthread workers each; wrk c=16, "
             f"{args.seconds} s per round, {args.rounds} alternating rounds, as a staff token.",
             "", "| endpoint | metrics | req/s per round | CPU µs/request per round "
             "(all processes) | median CPU µs/request |", "| --- | --- | --- | --- | --- |"]
    verdicts = []
    for endpoint in endpoints:
        for mode in ("off", "on"):
            lines.append(f"| `{endpoint}` | {mode} | "
                         f"{', '.join(f'{v:.0f}' for v in rps[endpoint, mode])} | "
                         f"{', '.join(f'{v:.0f}' for v in cpu[endpoint, mode])} | "
                         f"{statistics.median(cpu[endpoint, mode]):.0f} |")
        base = statistics.median(cpu[endpoint, "off"])
        extra = (statistics.median(cpu[endpoint, "on"]) - base) / base * 100
        verdicts.append(f"`{endpoint}`: metrics on cost {extra:+.1f}% CPU per request "
                        f"(target ≤ 5%: {'met' if extra <= 5 else 'MISSED'}).")
    verdicts.append(f"A scrape of all {len(ports)} ports costs the stack "
                    f"{statistics.median(scrapes):.0f} ms of CPU (median of {len(scrapes)}; "
                    "kept out of the per-request figures: Prometheus scrapes every 15-30 s "
                    "whatever the traffic).")
    write_report("metrics", lines + [""] + verdicts)


if __name__ == "__main__":
    main()
