"""The operators' view of dead letters (svckit.parking):

    python -m svckit.deadletters list [queue ...]      # parked messages per queue
    python -m svckit.deadletters show [queue ...] [--limit N]   # what they are and why
    python -m svckit.deadletters requeue [queue ...]   # back to their queue, attempts reset
    python -m svckit.deadletters purge [queue ...]     # delete them

A queue is named as its consumers' queue (`rpc-system`, `evt-users-user.created--system.
on_user_created`), not as its `.dead` queue; without names, every durable queue of every
service is meant (found from the services' entrypoints and consumers, and from their
settings classes for the consumers whose queues depend on settings, such as the audit
service's `AUDIT_SOURCES`). The broker is the one `AMQP_URI` names (`DeadLettersSettings`,
read once at start).
"""
import argparse
import importlib
import json
import sys

from kombu import Connection
from nameko.events import BROADCAST, SINGLETON, EventHandler as NamekoEventHandler
from nameko.rpc import Rpc

from svckit import parking
from svckit.broker import connect
from svckit.layout import service_names, settings_class
from svckit.settings import BrokerSettings, ServiceSettings

OWN_HEADERS = (parking.ATTEMPTS, parking.PARKED_FROM, parking.REASON, parking.PARKED_AT,
               parking.RETURN_EXCHANGE, parking.RETURN_KEY, "x-delivery-count")


class DeadLettersSettings(BrokerSettings):
    """What `svckit.deadletters` reads (the broker); each service's queues are found with
    that service's own settings class."""


def service_queues(service: str) -> list[str]:
    """The durable queues of one service, as its processes would declare them with the
    settings its class reads now."""
    return queues_of(importlib.import_module(f"services.{service}.service").Service, service,
                     settings_class(service)())


def queues_of(cls, service: str, settings: ServiceSettings) -> list[str]:
    """The durable queues service class `cls` consumes: its RPC request queue, its event
    handlers' queues (nameko's names) and those of consumers with
    `queue_names(service, settings)`."""
    found: list[str] = []
    for attr in dir(cls):
        value = getattr(cls, attr, None)
        for entrypoint in getattr(value, "nameko_entrypoints", ()):
            if isinstance(entrypoint, Rpc):
                found.append(f"rpc-{service}")
            elif isinstance(entrypoint, NamekoEventHandler):
                kind = entrypoint.handler_type
                if kind is SINGLETON:
                    found.append(f"evt-{entrypoint.source_service}-{entrypoint.event_type}")
                elif kind is not BROADCAST:
                    found.append(f"evt-{entrypoint.source_service}-{entrypoint.event_type}"
                                 f"--{service}.{attr}")
        names = getattr(value, "queue_names", None)
        if callable(names) and not isinstance(value, type):
            found.extend(names(service, settings))
    return list(dict.fromkeys(found))


def known_queues() -> list[str]:
    return [queue for service in service_names() for queue in service_queues(service)]


def parked_count(conn: Connection, queue: str) -> int | None:
    """Messages in `<queue>.dead`; None when it was never declared."""
    channel = conn.channel()
    try:
        return channel.queue_declare(parking.dead_queue_name(queue), passive=True).message_count
    except Exception:  # 404: no such queue (the channel is closed by the broker)
        return None
    finally:
        try:
            channel.close()
        except Exception:
            pass


def text_of(body) -> str:
    return body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)


def cmd_list(conn, queues, out) -> int:
    rows = [(queue, parked_count(conn, queue)) for queue in queues]
    width = max([len(q) for q, _ in rows] + [5])
    print(f"{'queue':<{width}}  parked", file=out)
    for queue, count in rows:
        print(f"{queue:<{width}}  {'-' if count is None else count}", file=out)
    return 0


def cmd_show(conn, queues, out, limit: int) -> int:
    for queue in queues:
        if not parked_count(conn, queue):
            continue
        channel = conn.channel()  # closed unacknowledged: every message stays where it was
        try:
            print(f"== {queue}: {parked_count(conn, queue)} parked", file=out)
            for _ in range(limit):
                message = channel.basic_get(parking.dead_queue_name(queue), no_ack=False)
                if message is None:
                    break
                headers = message.properties.get("application_headers") or {}
                shown = {"reason": headers.get(parking.REASON),
                         "parked_at": headers.get(parking.PARKED_AT),
                         "attempts": headers.get(parking.ATTEMPTS),
                         "return_to": [headers.get(parking.RETURN_EXCHANGE),
                                       headers.get(parking.RETURN_KEY)],
                         "content_type": message.properties.get("content_type"),
                         "headers": {k: v for k, v in headers.items()
                                     if k not in OWN_HEADERS},
                         "body": text_of(message.body)[:2000]}
                print(json.dumps(shown, default=str, indent=2), file=out)
        finally:
            channel.close()
    return 0


def cmd_requeue(conn, queues, out, amqp_uri: str) -> int:
    with connect(amqp_uri, transport_options={"confirm_publish": True}) as sending:
        producer = sending.Producer()
        for queue in queues:
            count = parked_count(conn, queue) or 0
            channel = conn.channel()
            moved = 0
            bound: set[str] = set()
            try:
                for _ in range(count):  # only what was there: one parked again stays parked
                    message = channel.basic_get(parking.dead_queue_name(queue), no_ack=False)
                    if message is None:
                        break
                    properties = dict(message.properties)
                    headers = properties.pop("application_headers", None) or {}
                    exchange = headers.get(parking.RETURN_EXCHANGE, "")
                    routing_key = headers.get(parking.RETURN_KEY) or queue
                    if exchange.endswith(".retry") and exchange not in bound:
                        # its consumer binds the queue when it starts; it may not have yet
                        parking.declare_retry(sending.default_channel, queue,
                                              exchange.removesuffix(".retry"))
                        bound.add(exchange)
                    kept = {k: v for k, v in headers.items() if k not in OWN_HEADERS}
                    for name in ("delivery_mode", "user_id", "cluster_id"):
                        properties.pop(name, None)
                    properties.setdefault("content_type", "application/data")
                    properties.setdefault("content_encoding", "binary")
                    producer.publish(message.body, exchange=exchange, routing_key=routing_key,
                                     headers=kept, delivery_mode=2, **properties)
                    channel.basic_ack(message.delivery_tag)
                    moved += 1
            finally:
                channel.close()
            if count:
                print(f"{queue}: {moved} message(s) requeued", file=out)
    return 0


def cmd_purge(conn, queues, out) -> int:
    for queue in queues:
        if parked_count(conn, queue) is None:
            continue
        channel = conn.channel()
        try:
            purged = channel.queue_purge(parking.dead_queue_name(queue))
        finally:
            channel.close()
        print(f"{queue}: {purged or 0} message(s) purged", file=out)
    return 0


def main(argv=None, out=sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m svckit.deadletters",
                                     description="Messages parked in dead-letter queues.")
    parser.add_argument("command", choices=("list", "show", "requeue", "purge"))
    parser.add_argument("queue", nargs="*", help="queues (default: every service's)")
    parser.add_argument("--limit", type=int, default=20, help="messages shown per queue")
    args = parser.parse_args(argv)
    settings = DeadLettersSettings()
    queues = args.queue or known_queues()
    with connect(settings.AMQP_URI) as conn:
        if args.command == "list":
            return cmd_list(conn, queues, out)
        if args.command == "show":
            return cmd_show(conn, queues, out, max(args.limit, 1))
        if args.command == "requeue":
            return cmd_requeue(conn, queues, out, settings.AMQP_URI)
        return cmd_purge(conn, queues, out)


if __name__ == "__main__":
    sys.exit(main())
