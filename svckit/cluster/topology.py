"""The whole topology: the RabbitMQ cluster, PostgreSQL, every service's replicas and the
gateway instances (a svckit.stack.Stack) and the load balancer, started in that order and
stopped in the reverse one."""
import logging
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from svckit.cluster.haproxy import LoadBalancer
from svckit.cluster.postgres import Postgres
from svckit.cluster.rabbitmq import RabbitCluster
from svckit.layout import service_names
from svckit.stack import Stack

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ports:
    """Loopback ports of every piece (`make cluster`'s by default)."""

    http: int = 8000  # the load balancer
    gateways: tuple[int, ...] = (8001, 8002)
    amqp: tuple[int, ...] = (5681, 5682, 5683)
    dist: tuple[int, ...] = (25681, 25682, 25683)  # Erlang distribution, one per node
    postgres: int = 5433

    @classmethod
    def free(cls) -> "Ports":
        """Ports that nothing listens on now (for tests, beside a running `make cluster`)."""
        socks = []
        try:
            for _ in range(10):
                s = socket.socket()
                s.bind(("127.0.0.1", 0))
                socks.append(s)
            p = [s.getsockname()[1] for s in socks]
        finally:
            for s in socks:
                s.close()
        return cls(http=p[0], gateways=(p[1], p[2]), amqp=(p[3], p[4], p[5]),
                   dist=(p[6], p[7], p[8]), postgres=p[9])


class Cluster:
    """`rabbit` (its `nodes`), `postgres`, `stack` (processes named `<service>-<i>` and
    `gateway-<i>`) and `lb` can each be stopped, killed and started on their own.

    `env`: settings of every service and gateway process, over the cluster's own (the node
    list as AMQP_URI, quorum queues, a PostgreSQL database per service, one gateway worker
    each: the machine is small); `process_env`: settings of one service's (or the gateways')
    processes only, as svckit.stack.Stack takes them. Their data directory (signing key, token secret, media) is
    `<directory>/app`; logs are in the pieces' directories and `services.log`."""

    def __init__(self, directory: Path, ports: Ports = Ports(), node_prefix: str = "inv",
                 replicas: int = 2, env: dict | None = None, process_env: dict | None = None):
        self.directory = directory
        self.ports = ports
        directory.mkdir(parents=True, exist_ok=True)
        self.rabbit = RabbitCluster(directory / "rabbitmq", [
            (f"{node_prefix}{i + 1}@localhost", amqp, dist)
            for i, (amqp, dist) in enumerate(zip(ports.amqp, ports.dist))])
        self.postgres = Postgres(directory / "postgres", ports.postgres)
        services = service_names()
        own = {"INVENTREE_DATA_DIR": str(directory / "app"), "AMQP_URI": self.rabbit.amqp_uri,
               "AMQP_QUEUE_TYPE": "quorum", "GATEWAY_WORKERS": "1",
               **{f"{s.upper()}_DATABASE_URL": self.postgres.url(s) for s in services}}
        self.log = open(directory / "services.log", "ab")
        binds = [f"127.0.0.1:{port}" for port in ports.gateways]
        self.stack = Stack({**own, **(env or {})}, bind=binds[0], log=self.log,
                           replicas={s: replicas for s in services}, gateway_binds=binds,
                           process_env=process_env)
        self.lb = LoadBalancer(directory / "haproxy", f"127.0.0.1:{ports.http}",
                               self.stack.gateway_binds)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports.http}"

    def start(self, wait: float = 300.0):
        """Broker nodes while PostgreSQL starts and every database is migrated, then the
        services and gateways, then the load balancer; returns once requests get through."""
        with ThreadPoolExecutor(1) as pool:
            broker = pool.submit(self.rabbit.start)
            self.postgres.start()
            self.postgres.create_databases(service_names())
            self.stack.run_tool("-m", "svckit.migrate")
            broker.result()
        self.stack.start(wait)
        self.lb.start()

    def stop(self):
        """Everything that runs, the load balancer first; one piece failing to stop does not
        keep the others running."""
        for piece in (self.lb, self.stack, self.postgres, self.rabbit):
            try:
                piece.stop()
            except Exception:
                log.exception("could not stop %s", type(piece).__name__)
        self.log.close()
