"""Where the system service's CPU goes on a write, feature by feature.

Starts a stack of this checkout (as bench/system.py: 2 gateway workers, every service,
SQLite, its own RabbitMQ vhost), then for each operation runs wrk at c=16 for `--seconds`
while py-spy samples the system service (200 Hz). Each sample with Python frames is given
to the innermost frame that belongs to a feature (FEATURES: a file or function name
pattern), so SQL run by the idempotency machinery counts as the keys', SQL run by the
relay's linking as the chain's, and a COMMIT as the unit of work's; the rest falls to
nameko/kombu/amqp, the eventlet hub, or "other". Shares are of the sampled frames, not of
wall time: multiply by the service's CPU ms per request (bench/cpu_per_request.py) for ms.

Operations: `serial` (POST /api/generate/serial-number/) and `projcode` (POST
/api/project-code/, a new code each time). Writes bench/results/write-profile-<date>.md.

    .venv/bin/python bench/write_profile.py [--ops serial,projcode] [--seconds 30]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path

from cluster import PROJECT_BODY, UNIQUE_LUA
from common import bench_stack, write_report
from system import SERIAL_LUA, wrk

# (feature, patterns of "function (file:line)" frames that belong to it)
FEATURES = [
    ("idempotency keys", ("svckit/idempotency.py",)),
    ("hash chain (linking)", ("svckit/chainlog.py", "svckit/hashchain.py")),
    ("event relay (lease, publish, marks)", ("svckit/relay.py",)),
    ("event catalog (payload check)", ("svckit/eventcatalog.py",)),
    ("caller: signature check, parse, proxies",
     ("svckit/signing.py", "verified_caller", "SignedServiceProxy", "RpcProxy.get_dependency",
      "CallerProvider")),
    ("RPC reply publish", ("ReplyPublisher",)),
    ("dead letters (parking guard)", ("svckit/parking.py",)),
    ("metrics", ("svckit/metrics", "prometheus_client")),
    ("tracing", ("svckit/tracing", "svckit/lean_tracer", "svckit/worker_trace",
                 "svckit/trace_context", "opentelemetry")),
    ("structured logs", ("svckit/worker_log", "svckit/logs.py", "logging/")),
    ("settings", ("svckit/container_settings", "svckit/settings.py")),
    ("unit of work (db.py, COMMIT, outage watch, pool check)",
     ("svckit/db.py", "svckit/db_outage", "svckit/pool_check", "do_commit")),
    ("domain and event append", ("services/", "svckit/events.py", "svckit/fields.py")),
]
TRANSPORT = "nameko / kombu / amqp"
HUB = "eventlet hub"
OTHER = "other"
OPS = {
    "serial": ("/api/generate/serial-number/", lambda run: SERIAL_LUA),
    "projcode": ("/api/project-code/",
                 lambda run: UNIQUE_LUA % {"prefix": f"WP{run}-", "body": PROJECT_BODY}),
}


def feature_of(frames: list[str]) -> str:
    """The feature of the innermost frame that belongs to one."""
    for frame in reversed(frames):
        for name, patterns in FEATURES:
            if any(p in frame for p in patterns):
                return name
    if any("eventlet/hubs" in f for f in frames[-3:]):
        return HUB
    if any(lib in f for f in frames for lib in ("nameko", "kombu", "amqp")):
        return TRANSPORT
    return OTHER


def shares(raw: Path) -> tuple[Counter, int]:
    """Samples per feature in py-spy's raw (collapsed) output, and their total."""
    counts: Counter = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack.strip():
            continue  # no Python frame in the sample
        total += int(n)
        counts[feature_of(stack.split(";"))] += int(n)
    return counts, total


def py_spy(pid: int, seconds: int, out: Path) -> subprocess.Popen:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return subprocess.Popen([spy, "record", "-p", str(pid), "-d", str(seconds), "-r", "200",
                             "-f", "raw", "-o", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", default="serial,projcode")
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args()
    ops = args.ops.split(",")
    tmp = Path(tempfile.mkdtemp())
    run = os.urandom(3).hex()
    found = {}
    with bench_stack(f"write-profile-{run}", 8150) as (stack, token, _):
        pid = stack.procs["system-0"].pid
        for op in ops:
            path, lua = OPS[op]
            script = tmp / f"{op}.lua"
            script.write_text(lua(run))
            spy = py_spy(pid, args.seconds - 2, tmp / f"{op}.raw")
            result = wrk(stack.url + path, [f"Authorization: Token {token}"], 16, args.seconds,
                         str(script))
            spy.wait()
            found[op] = (shares(tmp / f"{op}.raw"), result["rps"])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    lines = [f"# The system service's CPU on a write, by feature, {datetime.now():%Y-%m-%d %H:%M}",
             "", f"Commit {commit}; SQLite stack; wrk c=16 for {args.seconds} s per operation; "
             f"py-spy of the system service at 200 Hz; load average "
             f"{', '.join(f'{x:.2f}' for x in os.getloadavg())} at the end. Shares of the "
             "samples with Python frames (each to the innermost frame of a feature).", "",
             "| feature | " + " | ".join(ops) + " |",
             "| --- | " + " | ".join("---:" for _ in ops) + " |"]
    for name in [f for f, _ in FEATURES] + [TRANSPORT, HUB, OTHER]:
        cells = [f"{100 * c[name] / max(t, 1):.1f}%" for (c, t), _ in (found[o] for o in ops)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| samples | " + " | ".join(str(found[o][0][1]) for o in ops) + " |")
    lines.append("| req/s (noisy) | " + " | ".join(f"{found[o][1]:.0f}" for o in ops) + " |")
    write_report("write-profile", lines)


if __name__ == "__main__":
    main()
