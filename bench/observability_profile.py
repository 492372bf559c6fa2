"""Where the gateway's CPU goes for logs, metrics and traces: a reduced, in-process harness
beside bench/observability_overhead.py (which measures whole stacks over HTTP).

Starts one stack (SQLite, its own RabbitMQ vhost) for the services, then, for each mode
("off", "on", "traced", as in observability_overhead.py), a process that builds the
gateway's Falcon app itself against that stack's broker, configured as a gunicorn worker
would be (`svckit.logs.configure`, PROMETHEUS_MULTIPROC_DIR when metrics are on, the
tracer exporting over OTLP/HTTP to a sink that answers 200), and calls it through WSGI,
one request after another, in one thread. It reports the harness process's own CPU per
request (`time.process_time`: the gateway's share only, none of the services', wrk's or
the kernel's network work), modes taking turns in each round; with `--profile MODE` it
prints that mode's cProfile (cumulative and own time) instead.

    .venv/bin/python bench/observability_profile.py [--requests 3000] [--rounds 3]
        [--profile on|traced|off] [--endpoint status|serial] [--baseline DIR]

`--baseline DIR`: another checkout of the code (`git worktree add` or `git archive | tar`),
whose gateway is measured too, in the same rounds, taking turns with this one (the same
stack, the same harness; the services are this checkout's): a before/after under the same
load, as far as a shared machine allows.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENDPOINTS = {"status": ("GET", "/api/generic/status/", b""),
             "serial": ("POST", "/api/generate/serial-number/", b'{"part": 1, "quantity": 1}')}
MODES = ("off", "on", "traced")


class Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP collector that answers 200 to every export; it keeps its connections
    open (HTTP/1.1), as the OpenTelemetry collector does."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def mode_env(mode: str, sink_url: str, workdir: Path) -> dict:
    env = {"LOG_LEVEL": "WARNING"}
    if mode in ("on", "traced"):
        metrics_dir = workdir / f"metrics-{mode}"
        metrics_dir.mkdir(exist_ok=True)
        env = {"LOG_LEVEL": "INFO", "LOG_FORMAT": "json",
               "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    if mode == "traced":
        env.update({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": sink_url,
                    "OTEL_TRACES_SAMPLER": "always_on"})
    return env


def wsgi_call(app, endpoint: str, token: str):
    """A function that sends `endpoint`'s request (ENDPOINTS) to the WSGI `app` as `token`'s
    user and fails unless it answers 2xx."""
    import io

    method, path, body = ENDPOINTS[endpoint]

    def call():
        environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "",
                   "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000",
                   "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
                   "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
                   "CONTENT_TYPE": "application/json", "REMOTE_ADDR": "127.0.0.1",
                   "HTTP_AUTHORIZATION": f"Token {token}", "HTTP_HOST": "127.0.0.1:8000",
                   "wsgi.errors": sys.stderr}
        seen = []
        b"".join(app(environ, lambda status, headers, exc_info=None: seen.append(status)))
        if not seen[0].startswith("2"):
            raise RuntimeError(f"{method} {path}: {seen[0]}")
    return call


def child(endpoint: str, count: int, profile: bool, log_path: str) -> None:
    """In the mode's process: build the app as a gunicorn worker would, and call it."""
    import cProfile
    import gc
    import io
    import pstats
    import time

    from gateway.app import create_app
    from gateway.settings import GatewaySettings
    from svckit import logs, tracing

    settings = GatewaySettings()
    logs.configure("gateway", settings.LOG_FORMAT, settings.LOG_LEVEL, tracing.current_ids,
                   stream=open(log_path, "a", buffering=8192),
                   flush_seconds=settings.LOG_FLUSH_SECONDS)
    tracing.setup(settings, "gateway")
    app = create_app(settings)
    call = wsgi_call(app, endpoint, os.environ["BENCH_TOKEN"])

    for _ in range(50):  # warm-up: connections, caches, the read model
        call()
    gc_runs, gc_seconds = [0, 0, 0], [0.0]
    gc_started = [0.0]

    def gc_watch(phase, info):  # the collector's share: spans kept for export survive
        if phase == "start":  # young collections, and each older one walks the whole heap
            gc_started[0] = time.thread_time()
        else:
            gc_runs[info["generation"]] += 1
            gc_seconds[0] += time.thread_time() - gc_started[0]

    gc.callbacks.append(gc_watch)
    profiler = cProfile.Profile(time.thread_time) if profile else None  # CPU, not wall time
    started, started_thread = time.process_time(), time.thread_time()
    if profiler:
        profiler.enable()
    for _ in range(count):
        call()
    if profiler:
        profiler.disable()
    used, used_thread = time.process_time() - started, time.thread_time() - started_thread
    gc.callbacks.remove(gc_watch)
    if tracing.enabled():
        tracing._state["provider"].shutdown()  # flush: its export is this mode's cost too
    used_with_export = time.process_time() - started
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(int(os.environ.get("BENCH_PROFILE_LINES", "45")))
        stats.sort_stats("tottime").print_stats(int(os.environ.get("BENCH_PROFILE_LINES", "35")))
        print(out.getvalue())
    print(json.dumps({"us": used / count * 1e6, "us_with_export": used_with_export / count
                      * 1e6, "us_thread": used_thread / count * 1e6,
                      "gc_runs": gc_runs, "gc_us": gc_seconds[0] / count * 1e6}))


def run_mode(mode, endpoint, count, profile, env) -> dict:
    """One child process measuring `mode`; `env["PYTHONPATH"]` chooses the code it runs."""
    out = subprocess.run([sys.executable, __file__, "--child", "--endpoint", endpoint,
                          "--requests", str(count), "--log", env["BENCH_LOG"]]
                         + (["--profile", mode] if profile else []),
                         env={**os.environ, **env}, capture_output=True, text=True, cwd=HERE)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    if profile:
        print(out.stdout)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--endpoint", choices=tuple(ENDPOINTS), default="status")
    parser.add_argument("--profile", choices=MODES)
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--log", default="")
    parser.add_argument("--baseline", type=Path)
    args = parser.parse_args()
    if args.child:
        return child(args.endpoint, args.requests, bool(args.profile), args.log)
    from common import bench_stack  # not in a child: it puts this checkout first on the path
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sink_url = f"http://127.0.0.1:{server.server_address[1]}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-obsprofile-"))
    with bench_stack("bench-obsprofile", 8149, wrk=False) as (stack, token, _):
        base = {key: stack.env[key] for key in ("AMQP_URI", "INVENTREE_DATA_DIR",
                                                "CURRENCY_UPDATE_INTERVAL")}
        base.update({"BENCH_TOKEN": token, "PYTHONPATH": str(HERE.parent),
                     **{k: v for k, v in stack.env.items() if k.startswith("CALLER_")}})
        if args.profile:
            env = {**base, **mode_env(args.profile, sink_url, workdir),
                   "BENCH_LOG": str(workdir / "log")}
            run_mode(args.profile, args.endpoint, args.requests, True, env)
            return
        trees = {"": HERE.parent}
        if args.baseline:
            trees = {"baseline ": args.baseline.resolve(), "this ": HERE.parent}
        runs = [(tree, mode) for tree in trees for mode in MODES]
        results: dict = {run: [] for run in runs}
        for rnd in range(args.rounds):
            for tree, mode in (runs if rnd % 2 == 0 else runs[::-1]):
                env = {**base, **mode_env(mode, sink_url, workdir),
                       "PYTHONPATH": str(trees[tree]),
                       "BENCH_LOG": str(workdir / f"log-{mode}")}
                result = run_mode(mode, args.endpoint, args.requests, False, env)
                results[tree, mode].append(result)
                print(f"round {rnd + 1} {tree}{mode}: {result['us']:.1f} µs/request "
                      f"({result['us_with_export']:.1f} with the final export, "
                      f"{result['us_thread']:.1f} in the requests' thread, of which "
                      f"{result['gc_us']:.1f} in {sum(result['gc_runs'])} garbage "
                      f"collections {result['gc_runs']})", flush=True)
        for tree in trees:
            off = statistics.median(r["us"] for r in results[tree, "off"])
            off_thread = statistics.median(r["us_thread"] for r in results[tree, "off"])
            for mode in MODES:
                median = statistics.median(r["us_with_export"] for r in results[tree, mode])
                thread = statistics.median(r["us_thread"] for r in results[tree, mode])
                print(f"{tree}{args.endpoint} {mode}: median {median:.1f} µs/request of "
                      f"gateway CPU ({(median - off) / off * 100:+.1f}% over off), "
                      f"{thread:.1f} in the requests' thread "
                      f"({(thread - off_thread) / off_thread * 100:+.1f}%), "
                      f"load {os.getloadavg()[0]:.2f}")
    server.shutdown()


if __name__ == "__main__":
    main()
