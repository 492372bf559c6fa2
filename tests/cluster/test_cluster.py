"""`make cluster`'s topology, started by its harness (svckit.cluster) on ports of its own:
a 3-node RabbitMQ cluster, PostgreSQL, 2 replicas of every service, 2 gateways behind
HAProxy. Requests through the load balancer reach both gateways, durable queues are quorum
queues, the processes' connections spread over the broker's nodes, and with the node most
of them use stopped, requests still succeed."""
import shutil
import time
import uuid

import pytest
import requests

from svckit.cluster import Cluster, Ports
from svckit.layout import ROOT, service_names

ADMIN = ("admin", "admin-pass-123")
SERVICES = service_names()
REPLICAS = 2


@pytest.fixture(scope="module")
def cluster(request):
    # under the work tree, not pytest's private temporary directory: PostgreSQL runs as
    # its own user and must reach its data directory
    directory = ROOT / "var" / "test" / f"cluster-{uuid.uuid4().hex[:8]}"
    c = Cluster(directory, Ports.free(), node_prefix=f"t{uuid.uuid4().hex[:6]}n",
                replicas=REPLICAS,
                env={"INVENTREE_ADMIN_USER": ADMIN[0], "INVENTREE_ADMIN_PASSWORD": ADMIN[1],
                     "PASSWORD_ITERATIONS": "1000", "LOG_LEVEL": "WARNING",
                     "CURRENCY_UPDATE_INTERVAL": "0", "NEWS_FEED_INTERVAL": "0"})
    failed_before = request.session.testsfailed
    try:
        started = time.monotonic()
        c.start()
        print(f"cluster started in {time.monotonic() - started:.1f} s")
        c.stack.run_tool("-m", "services.users.cli", "ensure-admin")
        yield c
    finally:
        stopping = time.monotonic()
        c.stop()
        print(f"cluster stopped in {time.monotonic() - stopping:.1f} s")
        if request.session.testsfailed == failed_before:  # else its logs are kept
            shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def api(cluster):
    token = requests.get(f"{cluster.url}/api/user/token/", auth=ADMIN, timeout=10).json()["token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    return session


def write_and_read(cluster, api, code: str):
    """Create a project code and an attachment, then list both; returns the listed codes
    and attachment comments."""
    r = api.post(f"{cluster.url}/api/project-code/", json={"code": code}, timeout=15)
    assert r.status_code == 201, r.text
    r = api.post(f"{cluster.url}/api/attachment/", timeout=15,
                 data={"model_type": "part", "model_id": "1", "comment": code},
                 files={"attachment": (f"{code}.txt", b"attached to " + code.encode())})
    assert r.status_code == 201, r.text
    codes = api.get(f"{cluster.url}/api/project-code/", timeout=15).json()
    attachments = api.get(f"{cluster.url}/api/attachment/", timeout=15).json()
    return {c["code"] for c in codes}, {a["comment"] for a in attachments}


def consumers_back(cluster, deadline: float) -> dict:
    """Waits (up to `deadline`) until every service's RPC queue has one consumer per
    replica and each gateway listens for events again; returns the queues' consumers."""
    while True:
        queues = {q["name"]: q["consumers"] for q in cluster.rabbit.queues("name", "consumers")}
        rpc = {name: n for name, n in queues.items()
               if name.startswith("rpc-") and not name.endswith(".dead")}  # not dead letters
        gateways = [name for name in queues if name.startswith("gateway-cache-")]
        if (len(rpc) == len(SERVICES) and set(rpc.values()) == {REPLICAS}
                and len(gateways) == 2) or time.monotonic() > deadline:
            return {**rpc, "gateway-cache": len(gateways)}
        time.sleep(0.5)


@pytest.mark.cost(60)  # tests/shards.py: the cluster's start and checks, a minute or more
def test_cluster_serves_through_the_load_balancer_and_survives_losing_a_broker_node(
        cluster, api):
    nodes = [node.name for node in cluster.rabbit.nodes]
    assert sorted(cluster.rabbit.running_nodes()) == sorted(nodes)

    before = {name: s["requests"] for name, s in cluster.lb.servers_status().items()}
    codes, comments = write_and_read(cluster, api, "CL-1")
    assert "CL-1" in codes and "CL-1" in comments
    after = {name: s["requests"] for name, s in cluster.lb.servers_status().items()}
    assert set(after) == {"gateway-0", "gateway-1"}
    assert all(after[name] > before[name] for name in after), (before, after)

    types = {q["name"]: q["type"] for q in cluster.rabbit.queues("name", "type")}
    durable = {name: kind for name, kind in types.items() if name.startswith(("rpc-", "evt-"))}
    assert {f"rpc-{service}" for service in SERVICES} <= set(durable)
    assert any(name.startswith("evt-") for name in durable)  # audit's and system's
    assert set(durable.values()) == {"quorum"}, durable
    assert {kind for name, kind in types.items() if name.startswith("rpc.reply-")} == {"classic"}

    # each process starts its node list at a node of its own (svckit.broker.spread): the
    # connections spread over the nodes; the node most of them use goes away
    assert len(cluster.rabbit.connections()) > 1, cluster.rabbit.connections()
    busiest = cluster.rabbit.busiest_node()
    busiest.stop()
    others = [name for name in nodes if name != busiest.name]
    assert sorted(cluster.rabbit.running_nodes()) == sorted(others)
    expected = {**{f"rpc-{s}": REPLICAS for s in SERVICES}, "gateway-cache": 2}
    assert consumers_back(cluster, time.monotonic() + 60) == expected
    assert set(cluster.rabbit.connections()) <= set(others)
    codes, comments = write_and_read(cluster, api, "CL-2")
    assert {"CL-1", "CL-2"} <= codes and {"CL-1", "CL-2"} <= comments
