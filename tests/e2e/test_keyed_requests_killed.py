"""Requests with an `Idempotency-Key` whose process is killed (`kill -9`) while they run:
a repeat with the same key gets the original answer, never a lasting 409 "still being
processed". On a stack of real processes (2 gateway instances, every service) on its own
port, vhost and data directory."""
import signal
import threading
import time
import uuid
from contextlib import contextmanager

import pytest
import requests

from svckit import children
from svckit.stack import Stack
from tests.e2e.conftest import ADMIN, free_port, own_vhost, token_session
from tests.e2e.test_importer_http import new_session, row_pks, wait_status

RPC_TIMEOUT = 10
LEASE = 2 * RPC_TIMEOUT + 5  # gateway.idempotency.lease_seconds


@contextmanager
def two_gateway_stack(data, vhost, rates_server, **overrides):
    env = {"AMQP_URI": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
           "INVENTREE_DATA_DIR": str(data), "INVENTREE_ADMIN_USER": ADMIN[0],
           "INVENTREE_ADMIN_PASSWORD": ADMIN[1], "PASSWORD_ITERATIONS": "1000",
           "GATEWAY_WORKERS": "1", "GATEWAY_THREADS": "4", "RPC_TIMEOUT": str(RPC_TIMEOUT),
           "LOG_LEVEL": "WARNING", "CURRENCY_API_URL": rates_server.url,
           "CURRENCY_UPDATE_INTERVAL": "0", "NEWS_FEED_INTERVAL": "0", **overrides}
    log = open(data / "stack.log", "w")
    s = Stack(env, log=log, gateway_binds=[f"127.0.0.1:{free_port()}" for _ in range(2)])
    s.run_tool("-m", "svckit.migrate")
    s.run_tool("-m", "services.users.cli", "ensure-admin")
    try:
        s.start()
        yield s
    finally:
        for proc in s.procs.values():  # a test that failed may leave one stopped
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
        s.stop()
        log.close()


@pytest.fixture(scope="module")
def stack(rates_server, tmp_path_factory):
    with own_vhost() as vhost, two_gateway_stack(
            tmp_path_factory.mktemp("keyed"), vhost, rates_server,
            IMPORT_RPC_TIMEOUT="30", IMPORT_ACCEPT_WAIT_SECONDS="30",
            IMPORT_POLL_SECONDS="0.5") as s:
        yield s


def session_on(stack, gateway: str) -> requests.Session:
    """The superuser's token session on one gateway instance."""
    class On:
        url = f"http://{stack.gateway_binds[gateway]}"
    return token_session(On, ADMIN)


def key() -> dict:
    return {"Idempotency-Key": str(uuid.uuid4())}


def test_a_repeat_after_its_gateway_was_killed_gets_the_first_answer(stack):
    """The gateway that runs a keyed request is killed (the request is begun in the
    ledger, its write sent): a repeat on the other gateway waits while the first one's
    lease runs (the ledger says how long: gateway.idempotency.begin), then gets the write's
    answer, applied once; never a 409 (it was answered 409 "still being processed" until
    the lease ran out, a minute and more before the lease was shortened)."""
    first, second = session_on(stack, "gateway-0"), session_on(stack, "gateway-1")
    headers, code = key(), f"GW-{uuid.uuid4().hex[:8]}"
    system = stack.procs["system-0"]
    system.send_signal(signal.SIGSTOP)  # the write waits in the queue
    answers: list = []
    sender = threading.Thread(target=lambda: answers.append(_post(
        first, "/api/project-code/", {"code": code}, headers)))
    sender.start()
    time.sleep(2)  # begun in the ledger, the write sent
    children.kill(stack.procs["gateway-0"])  # the instance: master and worker
    system.send_signal(signal.SIGCONT)  # the write is applied; nobody keeps its answer
    sender.join()
    assert answers and isinstance(answers[0], Exception)  # its connection was cut
    r = second.post(f"{second.base}/api/project-code/", json={"code": code},
                    headers=headers, timeout=LEASE + 3 * RPC_TIMEOUT)
    assert r.status_code == 201, r.text
    assert r.json()["code"] == code
    found = [c for c in second.get(f"{second.base}/api/project-code/", timeout=30).json()
             if c["code"] == code]
    assert len(found) == 1 and found[0]["pk"] == r.json()["pk"]
    again = second.post(f"{second.base}/api/project-code/", json={"code": code},
                        headers=headers, timeout=30)
    assert again.status_code == 201 and again.json() == r.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert "gateway-0" in stack.restart_dead()


def _post(session, path, body, headers):
    try:
        return session.post(f"{session.base}{path}", json=body, headers=headers, timeout=60)
    except requests.RequestException as exc:
        return exc


def test_accept_rows_killed_while_it_waits_answers_its_rows(stack):
    """`accept_rows` commits the accepted rows, then waits for their creation: the importer
    is killed during that wait. The request is delivered again to the restarted importer,
    which answers the rows from the key (committed with the write), not 409 "applied, but
    its answer was not kept", and a repeat of the request gets the same answer; every row
    is created exactly once."""
    stack.restart_dead()  # a gateway the test before killed
    stack.wait_ready(120)
    admin = session_on(stack, "gateway-1")
    prefix = f"AR{uuid.uuid4().hex[:6]}"
    text = "code,description\n" + "".join(f"{prefix}-{i},row {i}\n" for i in range(5))
    r = new_session(admin, text)
    assert r.status_code == 201, r.text
    pk = r.json()["pk"]
    assert admin.post(f"{admin.base}/api/importer/session/{pk}/accept_fields/",
                      timeout=30).status_code == 200
    wait_status(admin, pk, 30)
    pks = row_pks(admin, pk)
    headers = key()
    system = stack.procs["system-0"]
    system.send_signal(signal.SIGSTOP)  # the rows cannot be created: accept_rows waits
    try:
        answers: list = []
        sender = threading.Thread(target=lambda: answers.append(_post(
            admin, f"/api/importer/session/{pk}/accept_rows/", {"rows": pks}, headers)))
        sender.start()
        time.sleep(4)  # accepted and committed; waiting for the rows
        stack.kill("importer-0")
        assert "importer-0" in stack.restart_dead()
    finally:
        system.send_signal(signal.SIGCONT)
    sender.join()
    answer = answers[0]
    assert not isinstance(answer, Exception), answer
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"rows": pks}
    again = admin.post(f"{admin.base}/api/importer/session/{pk}/accept_rows/",
                       json={"rows": pks}, headers=headers, timeout=60)
    assert again.status_code == 201 and again.json() == {"rows": pks}
    final = wait_status(admin, pk, 40, seconds=60)
    assert final["completed_row_count"] == 5
    codes = [c["code"] for c in admin.get(f"{admin.base}/api/project-code/",
                                          timeout=30).json() if c["code"].startswith(prefix)]
    assert sorted(codes) == sorted(f"{prefix}-{i}" for i in range(5))


def test_a_request_on_a_gateway_whose_master_was_killed_ends_within_its_grace(stack):
    """`kill -9` of a gateway instance's gunicorn master while a long RPC runs (the importer
    is stopped: creating a session waits up to IMPORT_RPC_TIMEOUT): the orphaned worker
    stops, and after gunicorn's graceful timeout (10 s) cuts the request off, so its client
    (HAProxy in `make cluster`) sees the connection end, instead of the worker staying until
    the RPC's deadline (300 s by default)."""
    stack.restart_dead()
    stack.wait_ready(120)
    admin = session_on(stack, "gateway-0")
    importer = stack.procs["importer-0"]
    importer.send_signal(signal.SIGSTOP)
    answers: list = []

    def create():
        try:
            answers.append(admin.post(f"{admin.base}/api/importer/session/", timeout=60,
                                      data={"model_type": "projectcode"},
                                      files={"data_file": ("c.csv", b"code\nX-1\n")}))
        except requests.RequestException as exc:
            answers.append(exc)
    try:
        sender = threading.Thread(target=create)
        sender.start()
        time.sleep(2)  # the RPC waits for the stopped importer
        killed = time.monotonic()
        stack.kill("gateway-0")  # the master only: its worker is orphaned
        sender.join()
        ended = time.monotonic() - killed
    finally:
        importer.send_signal(signal.SIGCONT)
    print(f"the request ended {ended:.1f} s after the master was killed")
    assert isinstance(answers[0], requests.ConnectionError), answers[0]
    assert ended < 22  # IMPORT_RPC_TIMEOUT is 30 s here
    assert "gateway-0" in stack.restart_dead()
