"""Outbound webhooks: how fast the audit service delivers to local receivers, and whether
active subscriptions change the latency of the write that causes the events.

Starts its own stack (2 gateway workers, every service, SQLite) on port 8130 in a RabbitMQ
vhost of its own, with loopback receivers allowed. Then, in alternating rounds:
  - writes: `--writes` custom states created one after another through the gateway
    (POST /api/generic/status/custom/, one `custom_state.created` event each), with the 10
    subscriptions inactive, then active (PATCH active) -> write latency p50/p95/p99 for each
  - deliveries: with the 10 subscriptions active (one receiver each, on loopback, checking
    every signature: tests/webhookreceiver.py), the time from the first write of the round
    to the last delivery accepted -> deliveries/s, and the lag of the last one after its
    write
Writes a table to bench/results/webhooks-<date>.md.

    .venv/bin/python bench/webhooks.py [--writes 200] [--rounds 3] [--subscriptions 10]
"""
import argparse
import os
import statistics
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
    args = parser.parse_args()
    env = {"WEBHOOK_ALLOW_PRIVATE": "1", "WEBHOOK_POLL_SECONDS": "0.05"}
    with bench_stack("webhooks", PORT, env, wrk=False) as (stack, token, _):
        base = stack.url
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        model = session.get(f"{base}/api/contenttype/model/stockitem/", timeout=30).json()["pk"]
        receivers, subs = [], []
        for _ in range(args.subscriptions):
            receiver = WebhookReceiver()
            r = session.post(f"{base}/api/events/subscriptions/", timeout=30, json={
                "target_url": receiver.url, "event_types": ["custom_state.*"],
                "active": False})
            assert r.status_code == 201, r.text
            receiver.secret = r.json()["secret"]
            receivers.append(receiver)
            subs.append(r.json()["pk"])
        write_states(session, base, model, 20)  # warm up
        without, with_subs, rates, lags = [], [], [], []
        for _ in range(args.rounds):
            set_active(session, base, subs, False)
            without += write_states(session, base, model, args.writes)
            set_active(session, base, subs, True)
            time.sleep(0.5)  # the audit service hears of the change
            seen = [len(r.accepted) for r in receivers]
            began = time.monotonic()
            with_subs += write_states(session, base, model, args.writes)
            wrote = time.monotonic()
            expected = args.writes * len(receivers)
            deadline = time.monotonic() + 300
            while sum(len(r.accepted) - s for r, s in zip(receivers, seen)) < expected:
                assert time.monotonic() < deadline, "deliveries did not arrive"
                time.sleep(0.05)
            last = max(r.accepted_times[-1] for r in receivers)
            rates.append(expected / (last - began))
            lags.append(last - wrote)
        bad = sum(r.bad_signatures for r in receivers)
        for receiver in receivers:
            receiver.close()
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
