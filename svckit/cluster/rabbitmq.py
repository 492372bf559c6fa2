"""A RabbitMQ cluster on this machine: real `rabbitmq-server` nodes (Debian's package), each
with its own node name, loopback ports and directory (data, logs, configuration) under the
cluster's, sharing an Erlang cookie kept there (the HOME of the nodes and of rabbitmqctl).
The machine's own broker and its /etc/rabbitmq are left alone; every node of this machine
registers with the one epmd, which outlives them.
"""
import json
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

from svckit import children
from svckit.broker import connect

# the scripts themselves: Debian's wrappers in /usr/sbin switch to the rabbitmq user and its
# /var/lib/rabbitmq
RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
# no busy waiting: three nodes share a small machine with everything else
ERL_ARGS = "-kernel inet_dist_use_interface {127,0,0,1} +sbwt none +sbwtdcpu none +sbwtdio none"
STOP_SECONDS = 30.0

# An RPC request nobody consumed in time is dropped, not run late (its caller gave up after
# RPC_TIMEOUT): the TTL of the services' RPC request queues, not of their `.dead` queues
# (scripts/ensure_rabbitmq.sh and deploy/k8s set the same)
RPC_TTL_PATTERN = "^rpc-[a-z][a-z0-9]*$"
RPC_TTL_MS = 30000


class RabbitNode:
    """One node: `start`, `stop` (graceful), `kill` (SIGKILL), each on its own."""

    def __init__(self, name: str, port: int, dist_port: int, directory: Path, home: Path):
        self.name = name  # e.g. inv1@localhost
        self.port = port
        self.dist_port = dist_port
        self.directory = directory
        self.home = home  # holds the cluster's .erlang.cookie
        self.proc: subprocess.Popen | None = None

    @property
    def amqp_uri(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    @property
    def env(self) -> dict:
        d = self.directory
        own = {"HOME": str(self.home), "RABBITMQ_NODENAME": self.name,
               "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(self.port),
               "RABBITMQ_DIST_PORT": str(self.dist_port),
               "RABBITMQ_MNESIA_BASE": str(d / "mnesia"), "RABBITMQ_LOG_BASE": str(d / "log"),
               "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
               "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
               "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
               "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
               "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": ERL_ARGS, "ERL_EPMD_ADDRESS": "127.0.0.1"}
        inherited = {k: v for k, v in os.environ.items()
                     if not k.startswith(("RABBITMQ_", "ERL_"))}
        return {**inherited, **own}

    def write_files(self, seed: str | None):
        """`seed`: the node a blank node joins when it first boots (peer discovery from
        its configuration: no rabbitmqctl round trips); None for the first node."""
        d = self.directory
        (d / "log").mkdir(parents=True, exist_ok=True)
        conf = f"listeners.tcp.1 = 127.0.0.1:{self.port}\n"
        if seed:
            conf += ("cluster_formation.peer_discovery_backend = classic_config\n"
                     f"cluster_formation.classic_config.nodes.1 = {seed}\n"
                     "cluster_formation.randomized_startup_delay_range.min = 0\n"
                     "cluster_formation.randomized_startup_delay_range.max = 0\n")
        (d / "rabbitmq.conf").write_text(conf)
        (d / "rabbitmq-env.conf").write_text("")
        (d / "enabled_plugins").write_text("[].\n")  # no management plugin

    def start(self, seed: str | None = None):
        self.write_files(seed)
        log = open(self.directory / "server.out", "ab")
        try:
            self.proc = children.spawn([str(RABBITMQ_BIN / "rabbitmq-server")], self.env, log)
        finally:
            log.close()  # the child has its own copy

    @property
    def has_data(self) -> bool:
        """The node ran here before (it knows its cluster)."""
        return (self.directory / "mnesia" / self.name).exists()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, deadline: float):
        """Until the node accepts an AMQP connection (it has joined its cluster's
        database by then)."""
        while True:
            if not self.running:
                raise RuntimeError(f"RabbitMQ node {self.name} exited (see {self.directory})")
            try:
                connect(self.amqp_uri, connect_timeout=2).release()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"RabbitMQ node {self.name} did not start "
                                       f"(see {self.directory})") from None
                time.sleep(0.25)

    def ctl(self, *args: str) -> str:
        """`rabbitmqctl -n <this node> args...`; its output."""
        out = subprocess.run([str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.name, *args],
                             env=self.env, capture_output=True, text=True, timeout=120)
        if out.returncode:
            raise RuntimeError(f"rabbitmqctl -n {self.name} {' '.join(args)}: "
                               f"{out.stderr.strip() or out.stdout.strip()}")
        return out.stdout

    def upgrade(self, *args: str) -> str:
        """`rabbitmq-upgrade -n <this node> args...` (maintenance mode); its output."""
        out = subprocess.run([str(RABBITMQ_BIN / "rabbitmq-upgrade"), "-n", self.name, *args],
                             env=self.env, capture_output=True, text=True, timeout=300)
        if out.returncode:
            raise RuntimeError(f"rabbitmq-upgrade -n {self.name} {' '.join(args)}: "
                               f"{out.stderr.strip() or out.stdout.strip()}")
        return out.stdout

    def drain(self):
        """Put the node in maintenance mode, as the RabbitMQ cluster operator's preStop hook
        does before a node's pod stops: the leaders of its quorum queues move to other
        nodes and its clients are disconnected (they reconnect to another node), so its
        stop leaves no queue without a leader while one is elected."""
        self.upgrade("drain")

    def stop(self):
        if self.proc is not None:
            children.stop([self.proc], timeout=STOP_SECONDS)

    def kill(self):
        if self.proc is not None:
            children.kill(self.proc)


class RabbitCluster:
    """Nodes that form one cluster: the others join the first."""

    def __init__(self, directory: Path, nodes: list[tuple[str, int, int]]):
        """`nodes`: (name, AMQP port, distribution port) of each node, first the one the
        others join."""
        self.directory = directory
        self.nodes = [RabbitNode(name, port, dist, directory / name.split("@")[0], directory)
                      for name, port, dist in nodes]

    @property
    def amqp_uri(self) -> str:
        """Every node's address, in order, as one `;`-separated AMQP_URI."""
        return ";".join(node.amqp_uri for node in self.nodes)

    def node(self, name: str) -> RabbitNode:
        return next(n for n in self.nodes if n.name == name)

    def _write_cookie(self):
        cookie = self.directory / ".erlang.cookie"
        if not cookie.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            cookie.write_text(secrets.token_hex(20))
            cookie.chmod(0o400)

    def start(self, wait: float = 120.0):
        """Start the first node, then the blank others, which join it as they boot; nodes
        that are members already (kept data) start with the first, since a member waits for
        its peers before it opens its port. Then set the policies."""
        self._write_cookie()
        first, others = self.nodes[0], self.nodes[1:]
        blank = [node for node in others if not node.has_data]
        deadline = time.monotonic() + wait
        for node in self.nodes:
            if node not in blank:
                node.start()
        first.wait_ready(deadline)
        for node in blank:
            node.start(seed=first.name)
        for node in others:
            node.wait_ready(deadline)
        missing = {n.name for n in self.nodes} - set(self.running_nodes())
        if missing:
            raise RuntimeError(f"RabbitMQ nodes {sorted(missing)} did not join {first.name}")
        # as scripts/ensure_rabbitmq.sh on a single broker: an RPC request nobody consumed
        # in time is dropped, not run late
        first.ctl("set_policy", "--apply-to", "queues", "rpc-ttl", RPC_TTL_PATTERN,
                  json.dumps({"message-ttl": RPC_TTL_MS}))

    def running_nodes(self) -> list[str]:
        """The cluster's running nodes, as a running node sees them."""
        status = json.loads(self._running_node().ctl("cluster_status", "--formatter", "json"))
        return status["running_nodes"]

    def _running_node(self) -> RabbitNode:
        return next(n for n in self.nodes if n.running)

    def queues(self, *columns: str) -> list[dict]:
        """The queues of the default vhost with `rabbitmqctl list_queues` columns (`name`,
        `type`, `consumers`, `messages`, ...)."""
        return json.loads(self._running_node().ctl("list_queues", *columns,
                                                   "--formatter", "json"))

    def connections(self) -> dict[str, int]:
        """Client connections per node."""
        rows = json.loads(self._running_node().ctl("list_connections", "port",
                                                   "--formatter", "json"))
        by_port = {n.port: n.name for n in self.nodes}
        counts: dict[str, int] = {}
        for row in rows:
            name = by_port[row["port"]]
            counts[name] = counts.get(name, 0) + 1
        return counts

    def busiest_node(self) -> RabbitNode:
        """The running node most client connections use."""
        counts = self.connections()
        return max((n for n in self.nodes if n.running), key=lambda n: counts.get(n.name, 0))

    def consumer_counts(self, prefix: str = "rpc-") -> dict[str, int]:
        """Consumers of each queue whose name starts with `prefix` (dead letters aside)."""
        return {q["name"]: q["consumers"] for q in self.queues("name", "consumers")
                if q["name"].startswith(prefix) and not q["name"].endswith(".dead")}

    def start_node(self, node: RabbitNode, wait: float = 120.0):
        """Start a member node again (it rejoins its running peers) and wait until it takes
        connections and the cluster sees it running."""
        deadline = time.monotonic() + wait
        node.start()
        node.wait_ready(deadline)
        while node.name not in self.running_nodes():
            if time.monotonic() > deadline:
                raise RuntimeError(f"RabbitMQ node {node.name} did not rejoin its cluster")
            time.sleep(0.25)
        node.upgrade("revive")  # out of maintenance mode, if it was drained

    def stop(self):
        procs = [n.proc for n in self.nodes if n.proc is not None]
        children.stop(procs, sig=signal.SIGTERM, timeout=STOP_SECONDS)
