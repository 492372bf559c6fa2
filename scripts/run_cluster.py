"""`make cluster`: the production shape on this machine (svckit.cluster): a 3-node RabbitMQ
cluster, PostgreSQL, 2 replicas of every service and 2 gateways behind HAProxy; creates the
superuser, runs until Ctrl-C or SIGTERM, then stops everything it started. A service or
gateway process that dies is restarted (as Kubernetes would); broker nodes, PostgreSQL and
HAProxy are left as they are, so that what their loss does can be watched."""
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from svckit.cluster import Cluster, Ports  # noqa: E402
from svckit.script_settings import ClusterSettings  # noqa: E402


def interrupt(*_):
    raise KeyboardInterrupt


def describe(cluster: Cluster) -> str:
    ports = cluster.ports
    nodes = ", ".join(f"{n.name} on {n.port}" for n in cluster.rabbit.nodes)
    gateways = ", ".join(cluster.stack.gateway_binds.values())
    return (f"RabbitMQ nodes: {nodes}\n"
            f"PostgreSQL: 127.0.0.1:{ports.postgres} (user postgres, a database per service)\n"
            f"gateways: {gateways}, behind HAProxy\n"
            f"data and logs: {cluster.directory}\n"
            f"InvenTree General API ready on {cluster.url}/api/ (Ctrl-C stops)")


def main():
    settings = ClusterSettings()
    cluster = Cluster(Path(settings.CLUSTER_DATA_DIR).resolve(),
                      Ports(http=settings.CLUSTER_PORT))
    signal.signal(signal.SIGINT, interrupt)  # even if started with SIGINT ignored
    signal.signal(signal.SIGTERM, interrupt)
    started = time.monotonic()
    try:
        cluster.start()
        print(cluster.stack.run_tool("-m", "services.users.cli", "ensure-admin"), flush=True)
        print(f"started in {time.monotonic() - started:.0f} s\n{describe(cluster)}", flush=True)
        while True:
            for name in cluster.stack.restart_dead():
                print(f"{name} exited; restarted", flush=True)
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stopping...", flush=True)
        cluster.stop()
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
