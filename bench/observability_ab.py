"""Logs' and traces' share of the gateway's CPU per request, measured within one process that
switches them on and off between short batches of requests (beside
bench/observability_profile.py, whose modes are separate processes run one after another:
on a shared, loaded machine the load moves between them more than they differ).

One stack for the services (SQLite, its own RabbitMQ vhost); a child process builds the
gateway's app as a gunicorn worker would, with multiprocess metrics, JSON logs at INFO and a
tracer exporting over OTLP/HTTP to a sink that answers 200, and calls it through WSGI in one
thread, in batches that take turns:

- "metrics": request lines below the log level (WARNING), no tracer installed;
- "logs": request lines written (INFO), no tracer;
- "traced": request lines and a span per request (sampled), the batch's spans exported
  before its CPU is read (the export thread's CPU counted in the batch).

A batch's CPU is the process's (every thread's) over the batch; each state's figure is the
median over the batches, and the differences between states are logs' and traces' cost.
The metrics themselves cannot be switched off in a process (prometheus_client's mode is
chosen at import): observability_profile.py's "off" process measures them.

    .venv/bin/python bench/observability_ab.py [--batches 40] [--batch 200]
        [--endpoint status|serial] [--baseline DIR] [--rounds 2]

`--baseline DIR`: another checkout of the code (`git archive <commit> | tar -x -C DIR`),
whose gateway is measured the same way, the two taking turns for `--rounds` rounds.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

from observability_profile import ENDPOINTS, Sink, mode_env, wsgi_call

HERE = Path(__file__).resolve().parent
STATES = ("metrics", "logs", "traced")


def child(endpoint: str, batches: int, size: int, log_path: str) -> None:
    """In the child: the app as a gunicorn worker builds it, called in batches that take
    turns between STATES; prints each state's CPU µs per request per batch, as JSON."""
    import logging
    import time

    from gateway.app import create_app
    from gateway.settings import GatewaySettings
    from svckit import logs, tracing

    settings = GatewaySettings()
    logs.configure("gateway", settings.LOG_FORMAT, settings.LOG_LEVEL, tracing.current_ids,
                   stream=open(log_path, "a", buffering=8192),
                   flush_seconds=settings.LOG_FLUSH_SECONDS)
    provider = tracing.setup(settings, "gateway")
    assert provider is not None, "the child runs with tracing configured"
    app = create_app(settings)
    call = wsgi_call(app, endpoint, os.environ["BENCH_TOKEN"])
    root = logging.getLogger()

    def switch(state: str) -> None:
        root.setLevel(logging.WARNING if state == "metrics" else logging.INFO)
        if state == "traced":
            tracing.install(provider)
        else:
            tracing.uninstall()

    for state in STATES:  # warm-up: connections, caches, the read model, each state's path
        switch(state)
        for _ in range(100):
            call()
        provider.force_flush()
    cpu: dict = {state: [] for state in STATES}
    for n in range(batches):
        for state in (STATES if n % 2 == 0 else STATES[::-1]):
            switch(state)
            started = time.process_time()
            for _ in range(size):
                call()
            provider.force_flush()  # the batch's spans exported (nothing for the others)
            cpu[state].append((time.process_time() - started) / size * 1e6)
    switch("logs")
    print(json.dumps(cpu))


def run_child(tree: Path, env: dict, args) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", "--endpoint", args.endpoint,
                          "--batches", str(args.batches), "--batch", str(args.batch),
                          "--log", env["BENCH_LOG"]],
                         env={**os.environ, **env, "PYTHONPATH": str(tree)},
                         capture_output=True, text=True, cwd=HERE)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--endpoint", choices=tuple(ENDPOINTS), default="status")
    parser.add_argument("--baseline", type=Path)
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--log", default="")
    args = parser.parse_args()
    if args.child:
        return child(args.endpoint, args.batches, args.batch, args.log)
    from common import bench_stack, write_report  # (it puts this checkout first on the path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sink_url = f"http://127.0.0.1:{server.server_address[1]}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-obsab-"))
    trees = {"this": HERE.parent}
    if args.baseline:
        trees = {"baseline": args.baseline.resolve(), "this": HERE.parent}
    commits = {name: _commit(tree) for name, tree in trees.items()}
    load_before = os.getloadavg()
    results: dict = {name: {state: [] for state in STATES} for name in trees}
    with bench_stack("bench-obsab", 8148, wrk=False) as (stack, token, _):
        env = {key: stack.env[key] for key in ("AMQP_URI", "INVENTREE_DATA_DIR",
                                               "CURRENCY_UPDATE_INTERVAL")}
        env.update({"BENCH_TOKEN": token, "BENCH_LOG": str(workdir / "log"),
                    **{k: v for k, v in stack.env.items() if k.startswith("CALLER_")},
                    **mode_env("traced", sink_url, workdir)})
        for rnd in range(args.rounds):
            names = list(trees) if rnd % 2 == 0 else list(trees)[::-1]
            for name in names:
                batch = run_child(trees[name], env, args)
                for state in STATES:
                    results[name][state] += batch[state]
                print(f"round {rnd + 1} {name}: " + ", ".join(
                    f"{state} {statistics.median(batch[state]):.1f}" for state in STATES)
                    + " µs/request (medians)", flush=True)
    server.shutdown()
    load_after = os.getloadavg()
    lines = [f"# Logs' and traces' share of the gateway's CPU per request, in one process "
             f"({_now()})", "",
             f"bench/observability_ab.py: `{ENDPOINTS[args.endpoint][0]} "
             f"{ENDPOINTS[args.endpoint][1]}` through the gateway's WSGI app in one thread; "
             f"{args.rounds} rounds of {args.batches} batches of {args.batch} requests a state "
             f"(states taking turns, reversed every other batch). {os.cpu_count()} cores, "
             f"load average {load_before[0]:.2f} at start, {load_after[0]:.2f} at the end "
             "(a shared machine: the CPU per request of the whole process, every thread's, "
             "the batch's spans exported before it is read).", "",
             "| code | metrics only | + request lines (logs) | + a span per request (traced) "
             "| logs' cost | tracing's cost |", "| --- | --- | --- | --- | --- | --- |"]
    for name in trees:
        medians = {state: statistics.median(results[name][state]) for state in STATES}
        lines.append(
            f"| {name} ({commits[name]}) | {medians['metrics']:.1f} µs | "
            f"{medians['logs']:.1f} | {medians['traced']:.1f} | "
            f"+{medians['logs'] - medians['metrics']:.1f} | "
            f"+{medians['traced'] - medians['logs']:.1f} |")
    write_report(f"observability-ab-{args.endpoint}", lines)
    return None


def _commit(tree: Path) -> str:
    out = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else tree.name


def _now() -> str:
    from datetime import datetime
    return f"{datetime.now():%Y-%m-%d %H:%M}"


if __name__ == "__main__":
    main()
