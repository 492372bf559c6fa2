"""Health and metrics of the whole stack as processes (README, "Health and metrics"): the
gateway's /healthz and /readyz on its API port without a token, its metrics (summed over its
gunicorn workers by the master) and every service's on their own ports, scraped after real
requests; /readyz names a service that stops answering and stays 200 ("degraded": the
gateway still serves the other services), and is 503 only while the gateway cannot reach
the broker."""
import os
import signal
import time

import pytest
import requests

from tests.e2e.conftest import (
    TOPOLOGY,
    eventually,
    free_port,
    own_vhost,
    running_stack,
    token_session,
)
from tests.svckit.test_opsserver import samples, value

SERVICES = ("attachments", "audit", "importer", "status", "system", "users")


@pytest.fixture(scope="module")
def ops_stack(rates_server, smtp, tmp_path_factory):
    """A stack of its own on a vhost of its own (a test stops one of its services, another
    takes the broker away from it), every process with an operations port, the gateway's
    workers writing to a metrics directory the test sees."""
    ports = {name: free_port() for name in ("gateway", *SERVICES)}
    data = tmp_path_factory.mktemp("opsstack")
    multiproc = data / "gateway-metrics"
    process_env = {name: {"METRICS_PORT": str(port)} for name, port in ports.items()}
    process_env["gateway"]["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc)
    with own_vhost() as vhost, running_stack(data, vhost, rates_server, smtp,
                                             process_env=process_env,
                                             READYZ_TIMEOUT="3") as stack:
        stack.ops = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        stack.multiproc = multiproc
        stack.vhost = vhost
        yield stack


@pytest.fixture(scope="module")
def admin_session(ops_stack):
    from tests.e2e.conftest import ADMIN
    return token_session(ops_stack, ADMIN)


def test_gateway_health_needs_no_token_and_lives_outside_the_api(ops_stack):
    alive = requests.get(f"{ops_stack.url}/healthz", timeout=10)
    assert alive.status_code == 200 and alive.json() == {"status": "alive"}
    # on a loaded machine a service's first answer can miss READYZ_TIMEOUT (3 s here):
    # "degraded" for a moment (test_readyz_names_a_service_that_stopped_and_stays_ready
    # checks what that says)
    answers = []

    def ready_now() -> bool:
        answers.append(requests.get(f"{ops_stack.url}/readyz", timeout=30))
        return answers[-1].json().get("status") == "ready"
    assert eventually(ready_now, 30), answers[-1].text
    ready = answers[-1]
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "services": dict.fromkeys(SERVICES, "ready")}
    bad_token = requests.get(f"{ops_stack.url}/readyz", timeout=30,
                             headers={"Authorization": "Token not-a-token"})
    assert bad_token.status_code == 200  # the credentials are not even looked at
    # metrics are never on the API port
    assert requests.get(f"{ops_stack.url}/metrics", timeout=10).status_code == 404


def test_every_service_port_answers_health(ops_stack):
    for name in SERVICES:
        url = ops_stack.ops[name]
        assert requests.get(f"{url}/healthz", timeout=10).json() == {"status": "alive"}, name
        ready = requests.get(f"{url}/readyz", timeout=30)
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}, name
        # its own RPC queue, as KEDA sees it (deploy/k8s): consumed, nothing waiting long
        queue = {"service": name, "queue": f"rpc-{name}"}
        found = samples(url)
        assert value(found, "inventree_rpc_queue_consumers", **queue) >= 1, name
        assert ("inventree_rpc_queue_messages", frozenset(queue.items())) in found, name


def test_gateway_metrics_move_with_requests(ops_stack, admin_session):
    gateway = ops_stack.ops["gateway"]
    before = samples(gateway)
    for _ in range(3):
        assert admin_session.get(f"{ops_stack.url}/api/generic/status/", timeout=10).ok
    missing = admin_session.get(f"{ops_stack.url}/api/project-code/987654/", timeout=10)
    assert missing.status_code == 404
    refused = requests.get(f"{ops_stack.url}/api/user/me/", timeout=10,
                           headers={"Authorization": "Token inv-bogus-token-value"})
    assert refused.status_code == 401
    unrouted = requests.get(f"{ops_stack.url}/api/no-such-thing-4711/", timeout=10)
    assert unrouted.status_code == 404
    after = samples(gateway)

    count = "inventree_gateway_request_seconds_count"
    status = {"route": "/api/generic/status/", "method": "GET", "status": "2xx"}
    assert value(after, count, **status) == value(before, count, **status) + 3
    detail = {"route": "/api/project-code/{id}/", "method": "GET", "status": "4xx"}
    assert value(after, count, **detail) == value(before, count, **detail) + 1
    unmatched = {"route": "unmatched", "method": "GET", "status": "4xx"}
    assert value(after, count, **unmatched) == value(before, count, **unmatched) + 1
    bucket = "inventree_gateway_request_seconds_bucket"
    assert value(after, bucket, **status, le="+Inf") == value(before, bucket, **status,
                                                              le="+Inf") + 3
    assert ("inventree_gateway_requests_in_flight", frozenset()) in after
    rpc = "inventree_gateway_rpc_seconds_count"
    assert value(after, rpc, service="users", method="authenticate_token") > value(
        before, rpc, service="users", method="authenticate_token")
    cache = "inventree_gateway_auth_cache_total"
    lookups = lambda found: sum(value(found, cache, cache="token", result=r)  # noqa: E731
                                for r in ("hit", "miss"))
    assert lookups(after) == lookups(before) + 5  # the bogus token a miss too
    # labels are templates and names, never what the client sent
    text = requests.get(f"{gateway}/metrics", timeout=10).text
    for sent in ("987654", "no-such-thing-4711", "bogus"):
        assert sent not in text


def test_service_metrics_move_with_requests(ops_stack, admin_session):
    system = ops_stack.ops["system"]
    before = samples(system)
    created = admin_session.post(f"{ops_stack.url}/api/project-code/", timeout=10,
                                 json={"code": f"OPS-{time.monotonic_ns()}", "description": ""})
    assert created.status_code == 201, created.text
    after = samples(system)
    handled = "inventree_service_handler_seconds_count"
    assert value(after, handled, service="system", method="create_project_code") == value(
        before, handled, service="system", method="create_project_code") + 1
    published = "inventree_events_published_total"
    deadline = time.monotonic() + 30
    while value(after, published, service="system") <= value(before, published,
                                                              service="system"):
        assert time.monotonic() < deadline, "the project code's event was not published"
        time.sleep(0.2)
        after = samples(system)
    assert value(after, "inventree_db_transaction_seconds_count", service="system",
                 end="commit") > value(before, "inventree_db_transaction_seconds_count",
                                       service="system", end="commit")
    assert ("inventree_relay_unpublished_events", frozenset({("service", "system")})) in after
    assert value(after, "inventree_service_workers_max", service="system") == 10


def test_attachment_metrics_move_with_uploads_and_downloads(ops_stack, admin_session):
    attachments, gateway = ops_stack.ops["attachments"], ops_stack.ops["gateway"]
    stored_before, served_before = samples(attachments), samples(gateway)
    body = b"metered bytes " * 100
    made = admin_session.post(f"{ops_stack.url}/api/attachment/", timeout=10,
                              data={"model_type": "part", "model_id": "1", "comment": ""},
                              files={"attachment": ("metered.txt", body)})
    assert made.status_code == 201, made.text
    got = admin_session.get(ops_stack.url + made.json()["attachment"], timeout=10)
    assert got.status_code == 200 and got.content == body
    stored_after, served_after = samples(attachments), samples(gateway)
    assert value(stored_after, "inventree_attachments_files") == (
        value(stored_before, "inventree_attachments_files") + 1)
    assert value(stored_after, "inventree_attachments_stored_bytes") == (
        value(stored_before, "inventree_attachments_stored_bytes") + len(body))
    served = "inventree_gateway_media_bytes_served_total"
    assert value(served_after, served) == value(served_before, served) + len(body)


def test_webhook_delivery_metrics_move_with_deliveries(ops_stack, admin_session):
    """Deliveries by outcome, attempts by answer, their latency, and the deliveries waiting
    and parked, from the audit service's operations port: one receiver refuses twice and
    then takes its delivery, another always refuses until its delivery is parked (the
    stack retries after 0.2-1 s and parks after 4 s)."""
    from tests.e2e.test_status_http import create_states
    from tests.e2e.test_webhooks_http import SUBSCRIPTIONS, subscribe
    from tests.webhookreceiver import WebhookReceiver
    audit = ops_stack.ops["audit"]
    before = samples(audit)
    flaky, broken = WebhookReceiver(fail_first=2), WebhookReceiver(fail_first=10**6)
    subs = []
    try:
        subs = [subscribe(admin_session, receiver, ["custom_state.created"])
                for receiver in (flaky, broken)]
        key = 900 + int(time.monotonic()) % 90
        made = create_states(admin_session, [key], "hook")
        assert eventually(lambda: len(flaky.accepted) == 1, 30)

        def changed(name, **labels):
            return value(samples(audit), name, **labels) - value(before, name, **labels)
        assert eventually(lambda: changed("inventree_webhook_deliveries_total",
                                          outcome="parked") == 1, 30)
        after = samples(audit)
        assert value(after, "inventree_webhook_deliveries_total", outcome="delivered") - value(
            before, "inventree_webhook_deliveries_total", outcome="delivered") == 1
        retried = value(after, "inventree_webhook_deliveries_total", outcome="retry") - value(
            before, "inventree_webhook_deliveries_total", outcome="retry")
        refused = value(after, "inventree_webhook_attempts_total", result="5xx") - value(
            before, "inventree_webhook_attempts_total", result="5xx")
        assert retried >= 2 and refused == retried + 1  # the parked one's last attempt too
        assert value(after, "inventree_webhook_attempts_total", result="2xx") - value(
            before, "inventree_webhook_attempts_total", result="2xx") == 1
        timed = value(after, "inventree_webhook_attempt_seconds_count") - value(
            before, "inventree_webhook_attempt_seconds_count")
        assert timed == refused + 1
        assert value(after, "inventree_webhook_deliveries_parked") >= 1
        assert ("inventree_webhook_deliveries_waiting", frozenset()) in after
        assert ("inventree_webhook_oldest_due_seconds", frozenset()) in after
        admin_session.delete(f"{ops_stack.url}/api/generic/status/custom/{made[0]}/",
                             timeout=10)
    finally:
        for sub in subs:
            admin_session.delete(f"{ops_stack.url}{SUBSCRIPTIONS}{sub['pk']}/", timeout=10)
        flaky.close()
        broken.close()


def test_importer_metrics_move_with_an_import(ops_stack, admin_session):
    from tests.e2e.test_importer_http import new_session, row_pks, wait_status
    importer = ops_stack.ops["importer"]
    before = samples(importer)
    text = "Project Code,Description\nMET-1,One\nMET-2,Two\n"
    made = new_session(admin_session, text)
    assert made.status_code == 201, made.text
    pk = made.json()["pk"]
    assert value(samples(importer), "inventree_importer_sessions", status="mapping") >= 1
    admin_session.post(f"{admin_session.base}/api/importer/session/{pk}/accept_fields/",
                       timeout=10)
    wait_status(admin_session, pk, 30)
    pks = row_pks(admin_session, pk, valid="true")
    assert len(pks) == 2
    admin_session.post(f"{admin_session.base}/api/importer/session/{pk}/accept_rows/",
                       json={"rows": pks}, timeout=30)
    wait_status(admin_session, pk, 40)
    after = samples(importer)
    rows = "inventree_importer_rows_total"
    for stage in ("parsed", "valid", "created"):
        assert value(after, rows, stage=stage) == value(before, rows, stage=stage) + 2, stage
    assert value(after, rows, stage="invalid") == value(before, rows, stage="invalid")
    read = "inventree_importer_bytes_read_total"
    assert value(after, read) >= value(before, read) + 2 * len(text)  # scanned, then parsed
    assert value(after, "inventree_importer_sessions", status="complete") >= 1


def test_a_dead_workers_live_gauges_are_dropped(ops_stack):
    files = lambda: {p.name for p in ops_stack.multiproc.glob("gauge_livesum_*.db")}  # noqa: E731
    assert files(), "the workers write their in-flight gauge to PROMETHEUS_MULTIPROC_DIR"
    victim = int(sorted(files())[0].removeprefix("gauge_livesum_").removesuffix(".db"))
    os.kill(victim, signal.SIGKILL)  # gunicorn's master starts another worker
    deadline = time.monotonic() + 60
    while f"gauge_livesum_{victim}.db" in files():
        assert time.monotonic() < deadline, "the dead worker's gauge file stayed"
        time.sleep(0.2)
    assert requests.get(f"{ops_stack.ops['gateway']}/metrics", timeout=10).status_code == 200


def readyz_until(stack, done, what: str) -> requests.Response:
    """The gateway's /readyz, asked until `done(answer)` (60 s at most)."""
    deadline = time.monotonic() + 60
    while True:
        answer = requests.get(f"{stack.url}/readyz", timeout=30)
        if done(answer):
            return answer
        assert time.monotonic() < deadline, f"{what}: {answer.status_code} {answer.text}"
        time.sleep(0.5)


def test_readyz_names_a_service_that_stopped_and_stays_ready(ops_stack, admin_session):
    """Near the end: it stops the audit service of this module's stack. The gateway still
    answers 200 (a load balancer keeps it: it serves every other service), "degraded",
    naming audit."""
    before = samples(ops_stack.ops["gateway"])
    ops_stack.kill("audit-0", signal.SIGKILL)
    answer = readyz_until(ops_stack, lambda a: a.json().get("status") != "ready",
                          "audit's outage never showed")
    assert answer.status_code == 200
    services = answer.json()["services"]
    assert answer.json()["status"] == "degraded"
    assert {name for name, state in services.items() if state != "ready"} == {"audit"}
    assert "audit" in services["audit"]
    assert set(services) == set(SERVICES)
    # what the gateway said it can serve, it serves
    assert admin_session.get(f"{ops_stack.url}/api/generic/status/", timeout=10).ok
    # the readiness call's timeout is counted once its deadline passed (a strict one: never
    # moved, though its queue has no consumer), which may be just after /readyz answered
    failures = "inventree_gateway_rpc_failures_total"
    labels = {"service": "audit", "method": "readiness", "reason": "timeout"}
    deadline = time.monotonic() + 60
    while value(samples(ops_stack.ops["gateway"]), failures, **labels) <= value(
            before, failures, **labels):
        assert time.monotonic() < deadline, "the readiness call's timeout was never counted"
        time.sleep(0.5)
    assert requests.get(f"{ops_stack.url}/healthz", timeout=10).status_code == 200


@pytest.mark.skipif(TOPOLOGY == "cluster", reason="the cluster's brokers are its own")
def test_readyz_is_503_while_the_gateway_cannot_reach_the_broker(ops_stack, rabbit_manager):
    """Last: the broker refuses this stack's vhost (permissions withdrawn, connections
    closed): the gateway cannot serve anything, /readyz says 503 "broker"; let in again, it
    is back to 200."""
    vhost = ops_stack.vhost
    rabbit_manager._delete("permissions", vhost, "guest")
    try:
        deadline = time.monotonic() + 60
        while not (dropped := [conn["name"] for conn in rabbit_manager.get_connections()
                               if conn.get("vhost") == vhost]):
            assert time.monotonic() < deadline, "the broker never listed the connections"
            time.sleep(0.5)  # the management API lists a new connection a few seconds late
        for name in dropped:
            rabbit_manager.delete_connection(name)
        answer = readyz_until(ops_stack, lambda a: a.status_code == 503, "never 503")
        assert answer.json()["status"] == "not ready"
        assert list(answer.json()["reasons"]) == ["broker"]
        assert requests.get(f"{ops_stack.url}/healthz", timeout=10).status_code == 200
    finally:
        rabbit_manager.set_vhost_permissions(vhost, "guest", ".*", ".*", ".*")
    answer = readyz_until(ops_stack, lambda a: a.status_code == 200, "never 200 again")
    assert answer.json()["status"] in ("ready", "degraded")
