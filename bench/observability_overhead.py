"""CPU cost of structured logs, metrics and traces (issue 13: metrics and logs on, tracing
off, at most 5% more CPU per request than all off; tracing on with sampling 1.0, at most 15%).

Starts three stacks side by side (2 gateway workers each, one process per service, SQLite,
each in its own RabbitMQ vhost):

- "off": `LOG_LEVEL=WARNING` (no line per request), no operations port (METRICS_PORT unset:
  the counters are still kept in memory, they cannot be turned off; nothing is served and
  the gateway's workers are not in multiprocess mode), no tracing;
- "on": `LOG_LEVEL=INFO`, `LOG_FORMAT=json` (a line per request in the gateway and in every
  service it calls, written to the stack's log file), every process's operations port open
  and scraped once per round, no tracing;
- "traced": "on" plus `OTEL_TRACES_EXPORTER=otlp`, `OTEL_TRACES_SAMPLER=always_on`, spans
  exported (OTLP over HTTP) to a collector sink in this process that answers 200 to every
  export (`--collector refused`: to a port that refuses connections instead).

wrk at concurrency 16 against `GET /api/generic/status/` (answered from the gateway's read
model) and `POST /api/generate/serial-number/` (gateway, system service, its event relay,
the audit service), the stacks taking turns in each round. A stack's CPU per request is the
utime + stime (from /proc) of all its processes over the run and until it is idle again
(events relayed and audited), less its idle rate over that time, divided by the requests.
Writes bench/results/observability-<date>.md.

    .venv/bin/python bench/observability_overhead.py [--seconds 8] [--rounds 3]
        [--collector sink|refused]
"""
import argparse
import os
import socket
import statistics
import tempfile
import threading
import time
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from common import bench_stack, write_report
from metrics import POST_LUA, SERVICES, free_port, stack_cpu, wrk

IDLE_SECONDS = 2.0
SETTLE_TIMEOUT = 60.0


class Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP collector that takes every export and keeps only counts; it keeps its
    connections open (HTTP/1.1), as the OpenTelemetry collector does."""

    protocol_version = "HTTP/1.1"

    exports = 0
    bytes = 0

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        type(self).exports += 1
        type(self).bytes += length
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def collector(kind: str) -> tuple[str, ThreadingHTTPServer | None]:
    if kind == "refused":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return f"http://127.0.0.1:{s.getsockname()[1]}", None
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def scrape(port: int) -> None:
    """GET /metrics as Prometheus would; on a machine too loaded to answer within 30 s the
    round goes on (said on the output) rather than the whole run failing."""
    try:
        requests.get(f"http://127.0.0.1:{port}/metrics", timeout=30).raise_for_status()
    except requests.RequestException as error:
        print(f"scrape of port {port} failed: {error}", flush=True)


def idle_rate(stack) -> float:
    a, t0 = stack_cpu(stack), time.monotonic()
    time.sleep(IDLE_SECONDS)
    return max(0.0, (stack_cpu(stack) - a) / (time.monotonic() - t0))


def settle(stack, idle: float) -> bool:
    """Until the stack uses no more than its idle rate (+5 ms/s) over half a second; False
    if it did not within SETTLE_TIMEOUT (reported: that round counts its extra CPU)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    last, t_last = stack_cpu(stack), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now, t_now = stack_cpu(stack), time.monotonic()
        if (now - last) / (t_now - t_last) <= idle + 0.005:
            return True
        last, t_last = now, t_now
    print(f"the stack did not go idle within {SETTLE_TIMEOUT} s", flush=True)
    return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--collector", choices=("sink", "refused"), default="sink")
    args = parser.parse_args()
    lua = Path(tempfile.mkdtemp(prefix="bench-observability-")) / "post.lua"
    lua.write_text(POST_LUA)
    endpoint_url, server = collector(args.collector)
    modes = ("off", "on", "traced")
    ports = {mode: {name: free_port() for name in ("gateway", *SERVICES)}
             for mode in ("on", "traced")}
    logs_on = {"LOG_LEVEL": "INFO", "LOG_FORMAT": "json"}
    extra = {"off": {"LOG_LEVEL": "WARNING"}, "on": logs_on,
             "traced": {**logs_on, "OTEL_TRACES_EXPORTER": "otlp",
                        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint_url,
                        "OTEL_TRACES_SAMPLER": "always_on"}}
    endpoints = {"GET /api/generic/status/": ("/api/generic/status/", None),
                 "POST /api/generate/serial-number/": ("/api/generate/serial-number/",
                                                       str(lua))}
    cpu: dict = {(e, m): [] for e in endpoints for m in modes}
    rps: dict = {(e, m): [] for e in endpoints for m in modes}
    load_before = os.getloadavg()
    with ExitStack() as running:
        stacks = {}
        for i, mode in enumerate(modes):
            process_env = ({name: {"METRICS_PORT": str(port)}
                            for name, port in ports[mode].items()} if mode in ports else None)
            stacks[mode] = running.enter_context(bench_stack(
                f"bench-observability-{mode}", 8140 + i, extra_env=extra[mode],
                process_env=process_env))
        for stack, token, _ in stacks.values():  # warm-up
            for path, script in endpoints.values():
                wrk(stack.url + path, [f"Authorization: Token {token}"], 2, script)
        for rnd in range(args.rounds):
            for endpoint, (path, script) in endpoints.items():
                order = modes if rnd % 2 == 0 else modes[::-1]
                for mode in order:
                    stack, token, _ = stacks[mode]
                    idle = idle_rate(stack)
                    before, t0 = stack_cpu(stack), time.monotonic()
                    rate, total = wrk(stack.url + path, [f"Authorization: Token {token}"],
                                      args.seconds, script)
                    settle(stack, idle)
                    used = stack_cpu(stack) - before - idle * (time.monotonic() - t0)
                    cpu[endpoint, mode].append(used / total * 1e6)
                    rps[endpoint, mode].append(rate)
                    print(f"round {rnd + 1} {endpoint} {mode}: {rate:.0f} req/s, "
                          f"{used / total * 1e6:.0f} µs CPU/request", flush=True)
                    if mode in ports:  # a scrape of every port, as Prometheus would
                        for port in ports[mode].values():
                            scrape(port)
    load_after = os.getloadavg()
    if server is not None:
        server.shutdown()
    load = ", ".join(f"{x:.2f}" for x in load_before)
    lines = [f"# Logs, metrics and traces overhead, {datetime_now()}", "",
             f"{os.cpu_count()} cores, load average {load} at start, "
             f"{', '.join(f'{x:.2f}' for x in load_after)} at the end; three whole stacks "
             "side by side, 2 gunicorn gthread workers each, SQLite; wrk c=16, "
             f"{args.seconds} s per round, {args.rounds} rounds (the stacks taking turns, "
             "reversed every other round), as a staff token. Tracing exports to "
             + ("a local collector sink (answers 200)" if server else
                "a port that refuses connections") + (f": {Sink.exports} exports, "
                                                      f"{Sink.bytes // 1024} KiB"
                                                      if server else "") + ".", "",
             "| endpoint | mode | req/s per round | CPU µs/request per round (all processes) "
             "| median CPU µs/request |", "| --- | --- | --- | --- | --- |"]
    verdicts = []
    for endpoint in endpoints:
        for mode in modes:
            lines.append(f"| `{endpoint}` | {mode} | "
                         f"{', '.join(f'{v:.0f}' for v in rps[endpoint, mode])} | "
                         f"{', '.join(f'{v:.0f}' for v in cpu[endpoint, mode])} | "
                         f"{statistics.median(cpu[endpoint, mode]):.0f} |")
        base = statistics.median(cpu[endpoint, "off"])
        for mode, target in (("on", 5), ("traced", 15)):
            extra_pct = (statistics.median(cpu[endpoint, mode]) - base) / base * 100
            verdicts.append(f"`{endpoint}`: {mode} costs {extra_pct:+.1f}% CPU per request "
                            f"over off (target ≤ {target}%: "
                            f"{'met' if extra_pct <= target else 'MISSED'}).")
    write_report("observability", lines + [""] + verdicts)


def datetime_now() -> str:
    from datetime import datetime
    return f"{datetime.now():%Y-%m-%d %H:%M}"


if __name__ == "__main__":
    main()
