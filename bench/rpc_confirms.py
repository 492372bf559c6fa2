"""What publisher confirms cost the RPC client (svckit.rpc_client, svckit.rpc_confirms): CPU
seconds of the calling process per call, its channel in confirm mode (as it is) against the
same client without it, each call answered at once by an echo responder in a process of its
own (so the figure is the client's alone, whatever else the machine runs). Writes
bench/results/rpc-confirms-<date>.md with the conditions (load average, commit).

    .venv/bin/python bench/rpc_confirms.py [--calls 3000] [--rounds 3]
"""
import argparse
import multiprocessing
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import amqp.channel  # noqa: E402
from kombu import Connection, Consumer, Producer, Queue  # noqa: E402

from svckit.rpc_client import RPC_EXCHANGE, RpcClient  # noqa: E402
from svckit.signing import CallerSigner  # noqa: E402

URI = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672//")
SERVICE = "benchecho"


def responder(ready):
    """Answers every `benchecho.*` request at once, until killed."""
    with Connection(URI) as conn:
        channel = conn.channel()
        queue = Queue(f"rpc-{SERVICE}", exchange=RPC_EXCHANGE, routing_key=f"{SERVICE}.*",
                      auto_delete=True)(channel)
        queue.declare()
        producer = Producer(channel, exchange=RPC_EXCHANGE, serializer="json")

        def answer(body, message):
            producer.publish({"result": "ok", "error": None},
                             routing_key=message.properties["reply_to"],
                             correlation_id=message.properties["correlation_id"])
            message.ack()
        Consumer(channel, [queue], callbacks=[answer]).consume()
        ready.set()
        while True:
            conn.drain_events()


class WithoutConfirms(RpcClient):
    """The client as it was before confirm mode: the same, its channel never put in it."""

    def _connect(self):
        real = amqp.channel.Channel.confirm_select
        amqp.channel.Channel.confirm_select = lambda channel, nowait=False: None
        try:
            super()._connect()
        finally:
            amqp.channel.Channel.confirm_select = real


def cpu_per_call(client: RpcClient, calls: int) -> float:
    client.call(SERVICE, "ping")  # connected, warm
    started = time.process_time()
    for _ in range(calls):
        client.call(SERVICE, "ping")
    return (time.process_time() - started) / calls


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ready = multiprocessing.Event()
    echo = multiprocessing.Process(target=responder, args=(ready,), daemon=True)
    echo.start()
    ready.wait(30)
    signer = CallerSigner(["bench-key-" + "x" * 32])
    figures: dict[str, list[float]] = {"confirm mode": [], "no confirms": []}
    load_before = os.getloadavg()
    try:
        for _ in range(args.rounds):
            for name, cls in (("confirm mode", RpcClient), ("no confirms", WithoutConfirms)):
                client = cls(URI, timeout=10, signer=signer)
                try:
                    figures[name].append(cpu_per_call(client, args.calls))
                finally:
                    client.close()
    finally:
        echo.kill()
    load_after = os.getloadavg()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    lines = [f"# RPC client CPU per call: confirm mode or not ({datetime.now():%Y-%m-%d %H:%M})",
             "",
             f"Commit {commit}; {args.rounds} rounds of {args.calls} calls each way, one client, "
             f"calls one after the other against an echo responder in its own process on the "
             f"local RabbitMQ; load average {load_before[0]:.1f} before, {load_after[0]:.1f} "
             "after (a shared 2-core machine: CPU seconds per call, not calls per second).",
             "", "| client | CPU ms per call, each round | best |", "| --- | --- | --- |"]
    for name, values in figures.items():
        lines.append(f"| {name} | {', '.join(f'{v * 1000:.3f}' for v in values)} | "
                     f"{min(values) * 1000:.3f} |")
    out = Path(__file__).resolve().parent / "results" / \
        f"rpc-confirms-{datetime.now():%Y%m%d-%H%M}.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
