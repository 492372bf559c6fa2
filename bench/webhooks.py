"""Outbound webhooks: how fast the audit service delivers to local receivers, and whether
active subscriptions change the latency of the write that causes the events.

Starts its own stack (2 gateway workers, every service, SQLite) on port 8130 in a RabbitMQ
vhost of its own, with loopback receivers allowed. Then, in alternating rounds:
  - writes: `--writes` custom states created one after another through the gateway
    (POST /api/generic/status/custom/, one `custom_state.created` event each), with the 10
    subscriptions inactive, then active (PATCH active) -> write latency p50/p95/p99 for each
  - deliveries: with the 10 subscriptions active (one receiver each, on loopback, checking
    every signature: tests/webhookreceiver.py, in a process of their own so that they do
    not share the timing client's interpreter), the time from the first write of the round
    to the last delivery accepted -> deliveries/s, and the lag of the last one after its
    write
Writes a table to bench/results/webhooks-<date>.md.

    .venv/bin/python bench/webhooks.py [--writes 200] [--rounds 3] [--subscriptions 10]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from itertools import count

import requests

from common import bench_stack, write_report
from tests.webhookreceiver import WebhookReceiver

PORT = 8130
keys = count(1000)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def write_states(session, base, model, writes) -> list[float]:
    """ms per write of `writes` custom states created one after another."""
    latencies = []
    for _ in range(writes):
        body = {"key": next(keys), "name": "w", "label": "W", "logical_key": 10,
                "model": model, "reference_status": "StockStatus"}
        began = time.perf_counter()
        r = session.post(f"{base}/api/generic/status/custom/", json=body, timeout=30)
        latencies.append((time.perf_counter() - began) * 1000)
        assert r.status_code == 201, r.text
    return latencies


class Receivers:
    """`count` receivers in a child process (`--serve`): their URLs; `stats()` -> (accepted
    per receiver, time.time() of the last acceptance, signatures refused)."""

    def __init__(self, count: int):
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", str(count)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.urls = json.loads(self.proc.stdout.readline())

    def ask(self, command: str):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def set_secrets(self, secrets: list[str]):
        self.ask("secrets " + json.dumps(secrets))

    def stats(self):
        return self.ask("stats")

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(30)


def serve(count: int):
    receivers = [WebhookReceiver() for _ in range(count)]
    print(json.dumps([r.url for r in receivers]), flush=True)
    for command in sys.stdin:
        if command.startswith("secrets "):
            for receiver, secret in zip(receivers, json.loads(command[8:])):
                receiver.secret = secret
            print("null", flush=True)
        else:
            now_minus_monotonic = time.time() - time.monotonic()
            last = max((r.accepted_times[-1] for r in receivers if r.accepted_times),
                       default=time.monotonic()) + now_minus_monotonic
            print(json.dumps([[len(r.accepted) for r in receivers], last,
                              sum(r.bad_signatures for r in receivers)]), flush=True)
    for receiver in receivers:
        receiver.close()


def set_active(session, base, subs, active: bool):
    for sub in subs:
        r = session.patch(f"{base}/api/events/subscriptions/{sub}/", json={"active": active},
                          timeout=30)
        assert r.status_code == 200, r.text


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--subscriptions", type=int, default=10)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the receivers' process
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)
    env = {"WEBHOOK_ALLOW_PRIVATE": "1", "WEBHOOK_POLL_SECONDS": "0.05"}
    with bench_stack("webhooks", PORT, env, wrk=False) as (stack, token, _):
        base = stack.url
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        model = session.get(f"{base}/api/contenttype/model/stockitem/", timeout=30).json()["pk"]
        receivers, subs, secrets = Receivers(args.subscriptions), [], []
        for url in receivers.urls:
            r = session.post(f"{base}/api/events/subscriptions/", timeout=30, json={
                "target_url": url, "event_types": ["custom_state.*"], "active": False})
            assert r.status_code == 201, r.text
            secrets.append(r.json()["secret"])
            subs.append(r.json()["pk"])
        receivers.set_secrets(secrets)
        write_states(session, base, model, 20)  # warm up
        without, with_subs, rates, lags = [], [], [], []
        for _ in range(args.rounds):
            set_active(session, base, subs, False)
            without += write_states(session, base, model, args.writes)
            set_active(session, base, subs, True)
            time.sleep(0.5)  # the audit service hears of the change
            seen = receivers.stats()[0]
            began = time.time()
            with_subs += write_states(session, base, model, args.writes)
            wrote = time.time()
            expected = args.writes * len(subs)
            deadline = time.monotonic() + 300
            while True:
                accepted, last, bad = receivers.stats()
                if sum(a - s for a, s in zip(accepted, seen)) >= expected:
                    break
                assert time.monotonic() < deadline, "deliveries did not arrive"
                time.sleep(0.1)
            rates.append(expected / (last - began))
            lags.append(last - wrote)
        receivers.close()
    load = os.getloadavg()
    lines = [
        f"# Outbound webhooks ({time.strftime('%Y-%m-%d %H:%M')})", "",
        f"{args.rounds} rounds of {args.writes} sequential writes (custom state created, one "
        f"event each) through the gateway; {args.subscriptions} subscriptions, one loopback "
        f"receiver each checking signatures; SQLite; load average at the end "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores.", "",
        "| | p50 ms | p95 ms | p99 ms | mean ms |", "|---|---|---|---|---|",
    ]
    for name, values in (("write, subscriptions inactive", without),
                         (f"write, {args.subscriptions} subscriptions active", with_subs)):
        lines.append(f"| {name} | {percentile(values, 50):.1f} | {percentile(values, 95):.1f} "
                     f"| {percentile(values, 99):.1f} | {statistics.mean(values):.1f} |")
    lines += ["", "| round | deliveries/s (first write to last delivery) | last delivery after "
              "the last write, s |", "|---|---|---|"]
    lines += [f"| {n + 1} | {rate:.0f} | {lag:.2f} |" for n, (rate, lag) in
              enumerate(zip(rates, lags))]
    lines += ["", f"signatures refused by the receivers: {bad}"]
    write_report("webhooks", lines)


if __name__ == "__main__":
    main()
