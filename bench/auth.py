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
import shutil
import statistics
import sys
import uuid
from datetime import datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import run as platform_bench  # noqa: E402
from svckit.stack import Stack  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
    platform_bench.ensure_wrk()
    vhost = f"bench-auth-{uuid.uuid4().hex[:6]}"
    auth = ("guest", "guest")
    api = platform_bench.MANAGEMENT
    requests.put(f"{api}/vhosts/{vhost}", auth=auth, timeout=10).raise_for_status()
    requests.put(f"{api}/permissions/{vhost}/guest", auth=auth, timeout=10,
                 json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    data = ROOT / "var" / "bench-auth"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    env = {"AMQP_URI": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
           "INVENTREE_DATA_DIR": str(data), "INVENTREE_ADMIN_PASSWORD": "bench-pass-123",
           "GATEWAY_WORKERS": "2", "LOG_LEVEL": "WARNING", "CURRENCY_UPDATE_INTERVAL": "0",
           "NEWS_FEED_INTERVAL": "0"}
    stack = Stack(env, bind="127.0.0.1:8120", log=open(data / "stack.log", "w"))
    rounds = {"no credentials": [], "token": []}
    cpu = {"no credentials": [], "token": []}
    try:
        stack.run_tool("-m", "svckit.migrate")
        stack.run_tool("-m", "services.users.cli", "ensure-admin")
        stack.start()
        url = f"{stack.url}/api/icons/"
        token = requests.get(f"{stack.url}/api/user/token/", auth=("admin", "bench-pass-123"),
                             timeout=10).json()["token"]
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
    finally:
        stack.stop()
        requests.delete(f"{api}/vhosts/{vhost}", auth=auth, timeout=10)
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
    out = ROOT / "bench" / "results" / f"auth-{datetime.now():%Y%m%d-%H%M}.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def gateway_cpu(master_pid: int) -> float:
    """CPU seconds (user + system) used so far by the gunicorn master and its workers."""
    import os
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in [master_pid] + children(master_pid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def wrk(url: str, headers: list[str], seconds: int) -> tuple[float, int]:
    import re
    import subprocess
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
