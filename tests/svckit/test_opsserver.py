"""A service process's operations port (svckit.opsserver) against a real RabbitMQ: /healthz,
/readyz with its reasons (the database, svckit.readiness), the `readiness` RPC the gateway
asks, and /metrics whose samples move with the calls the service answers."""
import socket
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from svckit import readiness
from svckit.container_settings import container_config
from svckit.context import Caller
from svckit.db import Database
from svckit.errors import ValidationFailed
from svckit.rpc_client import RemoteFailure, RpcClient
from tests.helpers import service_settings
from tests.svckit.test_service_glue import GlueService, metadata


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def samples(url: str) -> dict:
    """{(name, frozenset(labels)): value} of a scrape."""
    answer = requests.get(f"{url}/metrics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def start(tmp_path, rabbit_config, container_factory, url=None):
    url = url or f"sqlite:///{tmp_path / 'glue.sqlite3'}"
    port = free_port()
    settings = service_settings(rabbit_config["AMQP_URI"], tmp_path, GLUESVC_DATABASE_URL=url,
                                METRICS_PORT=port, READYZ_TIMEOUT=5)
    if url.startswith("sqlite:///") and "missing-dir" not in url:
        db = Database(url, metadata)
        db.create_all()
        db.dispose()
    container = container_factory(GlueService, container_config(settings))
    container.start()
    return f"http://127.0.0.1:{port}", RpcClient(rabbit_config["AMQP_URI"], timeout=10,
                                                  signer=settings.caller_signer())


@pytest.fixture
def ops(tmp_path, rabbit_config, container_factory):
    url, client = start(tmp_path, rabbit_config, container_factory)
    yield url, client
    client.close()


def test_healthz_and_readyz_answer_without_a_token(ops):
    url, _ = ops
    alive = requests.get(f"{url}/healthz", timeout=10)
    assert alive.status_code == 200 and alive.json() == {"status": "alive"}
    ready = requests.get(f"{url}/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    assert requests.head(f"{url}/readyz", timeout=10).status_code == 200


def test_readyz_lists_what_svckit_readiness_marks(ops):
    url, client = ops
    readiness.not_ready("startup", "waiting for the database (attempt 3)")
    try:
        answer = requests.get(f"{url}/readyz", timeout=10)
        assert answer.status_code == 503
        assert answer.json() == {"status": "not ready",
                                 "reasons": {"startup": "waiting for the database (attempt 3)"}}
        assert client.call("gluesvc", "readiness") == {
            "startup": "waiting for the database (attempt 3)"}
    finally:
        readiness.ready("startup")
    assert requests.get(f"{url}/readyz", timeout=10).status_code == 200
    assert client.call("gluesvc", "readiness") == {}


def test_readyz_says_the_database_is_unreachable(tmp_path, rabbit_config, container_factory):
    url, client = start(tmp_path, rabbit_config, container_factory,
                        url=f"sqlite:///{tmp_path / 'missing-dir' / 'glue.sqlite3'}")
    try:
        answer = requests.get(f"{url}/readyz", timeout=30)
        assert answer.status_code == 503
        reasons = answer.json()["reasons"]
        assert list(reasons) == ["database"]
        assert reasons["database"].startswith("the database is unreachable")
        assert "missing-dir" not in reasons["database"]  # no settings leak out
        assert requests.get(f"{url}/healthz", timeout=10).status_code == 200
        scraped = samples(url)  # still answers, without what it cannot read
        assert ("inventree_service_workers_max", frozenset({("service", "gluesvc")})) in scraped
        assert not any(name == "inventree_relay_unpublished_events" for name, _ in scraped)
    finally:
        client.close()


def test_other_paths_and_methods_are_refused(ops):
    url, _ = ops
    missing = requests.get(f"{url}/api/", timeout=10)
    assert missing.status_code == 404 and missing.json() == {"detail": "Not found."}
    post = requests.post(f"{url}/metrics", timeout=10)
    assert post.status_code == 405 and post.json() == {"detail": 'Method "POST" not allowed.'}


def test_metrics_move_with_the_calls(ops):
    url, client = ops
    before = samples(url)
    pk = client.call("gluesvc", "add", Caller(username="kim"), text="counted")
    with pytest.raises(ValidationFailed):
        client.call("gluesvc", "refuse")
    with pytest.raises(RemoteFailure):
        client.call("gluesvc", "crash")
    assert pk
    handled = "inventree_service_handler_seconds_count"
    errors = "inventree_service_handler_errors_total"

    # nameko sends a reply before its dependencies' worker_result counts the call: the last
    # call's count may follow its answer by a moment
    def counted(scrape) -> bool:
        return value(scrape, errors, service="gluesvc", method="crash", kind="server") > (
            value(before, errors, service="gluesvc", method="crash", kind="server"))
    deadline = time.monotonic() + 10
    after = samples(url)
    while not counted(after) and time.monotonic() < deadline:
        time.sleep(0.05)
        after = samples(url)
    assert value(after, handled, service="gluesvc", method="add") == (
        value(before, handled, service="gluesvc", method="add") + 1)
    for method, kind in (("refuse", "client"), ("crash", "server")):
        assert value(after, errors, service="gluesvc", method=method, kind=kind) == (
            value(before, errors, service="gluesvc", method=method, kind=kind) + 1)
    assert value(after, errors, service="gluesvc", method="add", kind="server") == (
        value(before, errors, service="gluesvc", method="add", kind="server"))
    published = "inventree_events_published_total"
    assert value(after, published, service="gluesvc") >= value(before, published,
                                                               service="gluesvc") + 1
    commits = "inventree_db_transaction_seconds_count"
    assert value(after, commits, service="gluesvc", end="commit") > value(
        before, commits, service="gluesvc", end="commit")
    assert value(after, "inventree_service_workers_max", service="gluesvc") == 10
    assert ("inventree_service_workers_busy", frozenset({("service", "gluesvc")})) in after
    # the relay published before the reply (publish_before_reply), and its next pass
    # (within a second) marks what the broker confirmed: then nothing waits
    unpublished = "inventree_relay_unpublished_events"
    assert (unpublished, frozenset({("service", "gluesvc")})) in after
    deadline = time.monotonic() + 10
    while value(after, unpublished, service="gluesvc") and time.monotonic() < deadline:
        time.sleep(0.1)
        after = samples(url)
    assert value(after, unpublished, service="gluesvc") == 0
    assert value(after, "inventree_relay_oldest_unpublished_age_seconds", service="gluesvc") == 0
    # its RPC queue as the broker reports it (what KEDA scales on): its consumer, nothing waits
    queue = {"service": "gluesvc", "queue": "rpc-gluesvc"}
    assert value(after, "inventree_rpc_queue_consumers", **queue) >= 1
    assert ("inventree_rpc_queue_messages", frozenset(queue.items())) in after
    assert value(after, "inventree_rpc_queue_messages", **queue) == 0


def test_rpc_queue_depth_counts_waiting_requests(tmp_path, rabbit_config):
    """Requests nobody consumes yet are counted; a broker that does not answer (or a queue
    not declared) leaves the metric out, and the scrape goes on."""
    from kombu import Connection, Producer, Queue

    from svckit.metrics import RpcQueueDepth
    uri = rabbit_config["AMQP_URI"]
    with Connection(uri) as conn:
        Queue("rpc-depthsvc", durable=False, auto_delete=False)(conn.default_channel).declare()
        producer = Producer(conn.default_channel)
        for _ in range(3):
            producer.publish({"args": []}, routing_key="rpc-depthsvc", serializer="json")
        try:
            families = {f.name: f.samples[0] for f in RpcQueueDepth(
                "depthsvc", "rpc-depthsvc", uri).collect()}
            assert families["inventree_rpc_queue_messages"].value == 3
            assert families["inventree_rpc_queue_messages"].labels == {
                "service": "depthsvc", "queue": "rpc-depthsvc"}
            assert families["inventree_rpc_queue_consumers"].value == 0
            assert list(RpcQueueDepth("depthsvc", "rpc-undeclared", uri).collect()) == []
        finally:
            Queue("rpc-depthsvc")(conn.default_channel).delete()
    closed = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    assert list(RpcQueueDepth("depthsvc", "rpc-depthsvc", closed).collect()) == []


def test_readyz_says_when_the_broker_consumer_is_gone(ops, rabbit_config, rabbit_manager):
    """The broker refuses the service (its permissions on the vhost withdrawn) and drops its
    connections: not consuming, /readyz says so until it is let in again."""
    import time
    url, _ = ops
    vhost, user = rabbit_config["vhost"], rabbit_config["username"]

    def wait_for(status: int) -> dict:
        deadline = time.monotonic() + 60
        while True:
            answer = requests.get(f"{url}/readyz", timeout=30)
            if answer.status_code == status:
                return answer.json()
            assert time.monotonic() < deadline, answer.text
            time.sleep(0.2)

    assert wait_for(200) == {"status": "ready"}
    rabbit_manager._delete("permissions", vhost, user)
    try:
        deadline = time.monotonic() + 60
        while not (dropped := [conn["name"] for conn in rabbit_manager.get_connections()
                               if conn.get("vhost") == vhost]):
            assert time.monotonic() < deadline, "the broker never listed the connections"
            time.sleep(0.5)  # the management API lists a new connection a few seconds late
        for name in dropped:
            rabbit_manager.delete_connection(name)
        assert wait_for(503)["reasons"]["broker"] == "not consuming from the message broker"
    finally:
        rabbit_manager.set_vhost_permissions(vhost, user, ".*", ".*", ".*")
    assert wait_for(200) == {"status": "ready"}
