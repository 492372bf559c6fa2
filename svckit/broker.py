"""Connections to RabbitMQ and the type of the queues declared on it.

`AMQP_URI` may name several nodes of one cluster, separated by `;`
(`amqp://u:p@h:5681//;amqp://u:p@h:5682//`): kombu tries them in order (round robin, its
default failover strategy) and moves to the next one when a node does not answer, so every
connection of svckit, of nameko and of the gateway fails over to another node. Each process
starts the list at a node of its own (`spread`, applied by svckit.settings when the setting is
read), so the processes of a cluster spread over its nodes and one node's loss costs only its
share of them.

`AMQP_QUEUE_TYPE` (`classic` or `quorum`) is the type of the durable queues that outlive
their consumers: a service's RPC request queue (`rpc-<service>`) and its event
subscriptions. Quorum queues are replicated over the cluster's nodes, so losing one node
loses none of their messages; exclusive, auto-delete and reply queues stay classic (quorum
queues cannot be any of those), and reply queues are not durable, so that when their node
goes away the broker drops them and they are declared again on another node.
"""
import os
import socket
import zlib
from urllib.parse import urlsplit

from kombu import Connection


def connect(amqp_uri: str, **options) -> Connection:
    """A connection to the first node of `amqp_uri` that answers: each node is tried in turn
    without waiting, then, if none answered, the first once more after 2 s (as kombu's lazy
    connection does with one node); raises if that fails too."""
    conn = Connection(amqp_uri, **options)
    try:
        conn.ensure_connection(max_retries=max(len(conn.alt), 1))
    except Exception:
        conn.release()
        raise
    return conn


def process_offset() -> int:
    """A number of this process's own, the same each time it is asked: from the host name
    (a pod's, in Kubernetes, where every process is pid 1) and the process id."""
    return zlib.crc32(f"{socket.gethostname()}:{os.getpid()}".encode())


def spread(amqp_uri: str, offset: int | None = None) -> str:
    """`amqp_uri`'s nodes rotated to start at the `offset`-th (modulo their number; by
    default this process's `process_offset()`), the others following in order: where this
    process connects first, and the order it fails over in. One node: unchanged."""
    nodes = amqp_uri.split(";")
    if len(nodes) < 2:
        return amqp_uri
    first = (process_offset() if offset is None else offset) % len(nodes)
    return ";".join(nodes[first:] + nodes[:first])


def redacted(amqp_uri: str) -> str:
    """`amqp_uri` with the password of every node's URL masked, for logs."""
    def one(url: str) -> str:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.netloc.rsplit("@", 1)[-1]
        return parts._replace(netloc=f"{parts.username}:********@{host}").geturl()
    return ";".join(one(url) for url in amqp_uri.split(";"))


def durable_queue_arguments(queue_type: str) -> dict:
    """Arguments of a durable queue's declaration of type `queue_type` (AMQP_QUEUE_TYPE,
    checked by svckit.settings.ServiceSettings): its `x-queue-type` when not classic (a
    classic declaration names none, as before the setting existed)."""
    return {} if queue_type == "classic" else {"x-queue-type": queue_type}
