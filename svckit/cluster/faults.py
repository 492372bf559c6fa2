"""The faults a running topology (svckit.cluster.Cluster) must survive, each a function
that breaks a piece and returns when the piece is back (tests/cluster/test_faults.py,
bench/faults.py), and `Supervisor`, which starts a service or gateway process again when it
exits, as Kubernetes restarts a pod.

Each fault returns a dict of what happened (`back`: time.monotonic() when the broken
component answered again, for the recovery time; `problems`, if any, what went wrong in the
fault itself; seconds of each step).
"""
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from svckit.cluster.topology import Cluster
from svckit.layout import service_names
from svckit.stack import readiness_of

log = logging.getLogger(__name__)
DOWN_SECONDS = 10.0


class Supervisor:
    """Every `interval` seconds, starts again every process of the stack that exited.
    `paused()` holds it off while a fault replaces processes itself."""

    def __init__(self, cluster: Cluster, interval: float = 0.5):
        self.cluster = cluster
        self.interval = interval
        self.lock = threading.Lock()
        self.restarted: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="supervisor")

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def paused(self):
        return self.lock

    def _run(self):
        while not self._stop.wait(self.interval):
            with self.lock:
                for name in self.cluster.stack.restart_dead():
                    log.warning("supervisor: %s exited, started again", name)
                    self.restarted.append((time.monotonic(), name))


def wait_consumers(cluster: Cluster, service: str, count: int, wait: float = 120.0) -> float:
    """Until `rpc-<service>` has `count` consumers; the seconds it took."""
    started = time.monotonic()
    while cluster.rabbit.consumer_counts().get(f"rpc-{service}") != count:
        if time.monotonic() - started > wait:
            raise RuntimeError(f"rpc-{service} has not {count} consumers after {wait:g} s: "
                               f"{cluster.rabbit.consumer_counts()}")
        time.sleep(0.25)
    return time.monotonic() - started


def wait_gateway(cluster: Cluster, name: str, wait: float = 120.0) -> float:
    """Until gateway `name` is ready and HAProxy sends it requests; the seconds it took."""
    started = time.monotonic()
    bind = cluster.stack.gateway_binds[name]
    while not (readiness_of(f"http://{bind}", timeout=5)[0]
               and cluster.lb.servers_status()[name]["status"] == "UP"):
        if time.monotonic() - started > wait:
            raise RuntimeError(f"{name} not back in the load balancer after {wait:g} s")
        time.sleep(0.25)
    return time.monotonic() - started


def wait_healthy(cluster: Cluster, replicas: int, wait: float = 180.0):
    """Every process running, every RPC queue consumed by `replicas` consumers, every
    gateway ready and in the load balancer."""
    deadline = time.monotonic() + wait
    for service in service_names():
        wait_consumers(cluster, service, replicas, max(deadline - time.monotonic(), 1))
    for name in cluster.stack.gateway_binds:
        wait_gateway(cluster, name, max(deadline - time.monotonic(), 1))


def kill_each_service_replica(cluster: Cluster, supervisor: Supervisor, replicas: int,
                              gap: float = 1.0) -> dict:
    """`kill -9` of one replica of each service in turn (its whole process group), `gap`
    seconds apart; the supervisor starts each again; returns once every service's RPC
    queue has its `replicas` consumers again. The other replica of a service is never
    touched, so each service always has one running."""
    killed: dict[str, float] = {}
    for service in service_names():
        name = cluster.stack.names(service)[0]
        cluster.stack.kill_group(name)
        killed[service] = time.monotonic()
        time.sleep(gap)
    steps = {}
    for service in service_names():
        wait_consumers(cluster, service, replicas)
        steps[cluster.stack.names(service)[0]] = round(time.monotonic() - killed[service], 2)
    return {"consuming again after (s)": steps, "back": time.monotonic()}


def kill_gateway(cluster: Cluster, supervisor: Supervisor) -> dict:
    name = cluster.stack.names("gateway")[0]
    cluster.stack.kill_group(name)
    return {"gateway back after (s)": round(wait_gateway(cluster, name), 2),
            "back": time.monotonic()}


def stop_busiest_node(cluster: Cluster, down: float = DOWN_SECONDS) -> dict:
    """The RabbitMQ node most clients use, stopped as the RabbitMQ cluster operator stops
    a node's pod (drained: its queue leaders moved, its clients sent away; then SIGTERM),
    started again after `down` seconds."""
    node = cluster.rabbit.busiest_node()
    started = time.monotonic()
    node.drain()
    drained = time.monotonic() - started
    node.stop()
    stopped = time.monotonic() - started
    time.sleep(max(down - (time.monotonic() - started), 0))
    started_again = time.monotonic()
    cluster.rabbit.start_node(node)
    return {"node": node.name, "drain (s)": round(drained, 1), "stop (s)": round(stopped, 1),
            "start (s)": round(time.monotonic() - started_again, 1), "back": time.monotonic()}


def postgres_down(cluster: Cluster, down: float = DOWN_SECONDS) -> dict:
    started = time.monotonic()
    cluster.postgres.stop()
    time.sleep(max(down - (time.monotonic() - started), 0))
    starting = time.monotonic()
    cluster.postgres.start()  # returns once it accepts connections
    back = time.monotonic()
    return {"down (s)": round(starting - started, 1), "start (s)": round(back - starting, 1),
            "back": back}


def broker_down(cluster: Cluster, down: float = DOWN_SECONDS) -> dict:
    """Every RabbitMQ node stopped, all started again after `down` seconds."""
    started = time.monotonic()
    cluster.rabbit.stop()
    time.sleep(max(down - (time.monotonic() - started), 0))
    starting = time.monotonic()
    cluster.rabbit.start()  # returns once every node takes connections
    back = time.monotonic()
    return {"down (s)": round(starting - started, 1), "start (s)": round(back - starting, 1),
            "back": back}


def rolling_restart(cluster: Cluster, supervisor: Supervisor, replicas: int,
                    stop_wait: float = 60.0) -> dict:
    """Every process replaced, as `kubectl rollout restart` of every deployment does: the
    deployments (each service, the gateways) at once, each one process at a time
    (maxSurge 1, maxUnavailable 0): for a service, a new replica is started and consumes
    before an old one gets SIGTERM; a gateway (a fixed port here) is first taken out of
    the load balancer, its open requests finish, then SIGTERM, and it comes back on the
    same port. A process that has not exited `stop_wait` seconds after its SIGTERM is
    killed, as Kubernetes does after the grace period, and listed in `problems`."""
    exits: dict[str, float] = {}
    problems: list[str] = []

    def terminate(name: str, forget: bool = False):
        try:
            exits[name] = round(cluster.stack.terminate(name, stop_wait, forget=forget), 2)
        except RuntimeError as exc:
            problems.append(f"{exc}: killed")

    def roll_service(service: str):
        for old in cluster.stack.names(service):
            cluster.stack.add_replica(service)
            wait_consumers(cluster, service, replicas + 1)
            terminate(old, forget=True)
            wait_consumers(cluster, service, replicas)

    def roll_gateways():
        for name in cluster.stack.names("gateway"):
            cluster.lb.set_state(name, "drain")
            deadline = time.monotonic() + stop_wait
            while cluster.lb.current_sessions(name) and time.monotonic() < deadline:
                time.sleep(0.1)
            terminate(name)
            cluster.stack.start_one(name)
            bind = cluster.stack.gateway_binds[name]
            while not readiness_of(f"http://{bind}", timeout=5)[0]:
                if time.monotonic() > deadline + stop_wait:
                    raise RuntimeError(f"{name} not ready again after its restart")
                time.sleep(0.2)
            cluster.lb.set_state(name, "ready")
            wait_gateway(cluster, name)

    with supervisor.paused(), ThreadPoolExecutor(len(service_names()) + 1) as pool:
        rollouts = [pool.submit(roll_service, service) for service in service_names()]
        rollouts.append(pool.submit(roll_gateways))
        for rollout in rollouts:
            rollout.result()  # a deployment that could not roll out fails the fault
    return {"exit after SIGTERM (s)": exits, "problems": problems, "back": time.monotonic()}
