"""Losing the broker: the gateway's and the system service's connections to RabbitMQ go
through TCP proxies of their own (tests.tcpproxy), which are cut and started again, so
"the broker goes away" for one process without stopping the machine's RabbitMQ.

- a keyed write whose broker went away after it was sent is applied once; its repeat
  while the broker is away is a 503 that does not claim "not applied" (it may have been);
  once the broker is back the gateway forgets the key of the first's 503 (kept from the
  background: the ledger was out of reach when it ended), and the repeat gets the original
  answer;
- a service replica whose broker goes away stays up, reconnects with backoff and serves
  within seconds of the broker's return;
- a replica told to stop (SIGTERM) while no broker is reachable exits within its bound."""
import signal
import threading
import time
import uuid
from contextlib import contextmanager
from urllib.parse import quote

import pytest
import requests

from svckit.stack import Stack
from tests.e2e.conftest import ADMIN, MANAGEMENT, free_port, own_vhost, token_session
from tests.tcpproxy import Proxy

RPC_TIMEOUT = 6
DRAIN = 5  # SHUTDOWN_DRAIN_SECONDS


@contextmanager
def proxied_stack(data, vhost, rates_server, proxies: dict):
    """A stack whose processes named in `proxies` ("gateway", a service) reach RabbitMQ
    through that proxy."""
    base = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    env = {"AMQP_URI": base, "INVENTREE_DATA_DIR": str(data),
           "INVENTREE_ADMIN_USER": ADMIN[0], "INVENTREE_ADMIN_PASSWORD": ADMIN[1],
           "PASSWORD_ITERATIONS": "1000", "GATEWAY_WORKERS": "1", "GATEWAY_THREADS": "4",
           "RPC_TIMEOUT": str(RPC_TIMEOUT), "AUTH_CACHE_SECONDS": "600",
           "SHUTDOWN_DRAIN_SECONDS": str(DRAIN),
           "LOG_LEVEL": "INFO", "CURRENCY_API_URL": rates_server.url,
           "CURRENCY_UPDATE_INTERVAL": "0", "NEWS_FEED_INTERVAL": "0"}
    for proxy in proxies.values():
        proxy.start()
    log = open(data / "stack.log", "w")
    s = Stack(env, bind=f"127.0.0.1:{free_port()}", log=log, process_env={
        name: {"AMQP_URI": f"amqp://guest:guest@127.0.0.1:{proxy.port}/{vhost}"}
        for name, proxy in proxies.items()})
    s.data_dir = data  # type: ignore[attr-defined]
    s.run_tool("-m", "svckit.migrate")
    s.run_tool("-m", "services.users.cli", "ensure-admin")
    try:
        s.start()
        yield s
    finally:
        for proxy in proxies.values():
            proxy.cut()
        for proc in s.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
        s.stop()
        log.close()


@pytest.fixture(scope="module")
def proxies():
    return {"gateway": Proxy(5672), "system": Proxy(5672)}


@pytest.fixture(scope="module")
def stack(rates_server, tmp_path_factory, proxies):
    with own_vhost() as vhost, proxied_stack(tmp_path_factory.mktemp("broker-loss"), vhost,
                                             rates_server, proxies) as s:
        yield s


@pytest.fixture(scope="module")
def admin(stack):
    return token_session(stack, ADMIN)


def codes(admin, code) -> list:
    return [c for c in admin.get(f"{admin.base}/api/project-code/", timeout=30).json()
            if c["code"] == code]


def test_a_repeat_while_the_broker_is_away_does_not_claim_not_applied(stack, admin, proxies):
    code, headers = f"BL-{uuid.uuid4().hex[:8]}", {"Idempotency-Key": uuid.uuid4().hex}
    assert admin.get(f"{admin.base}/api/project-code/", timeout=30).status_code == 200
    system = stack.procs["system-0"]
    system.send_signal(signal.SIGSTOP)  # the write waits in its queue
    answers: list = []
    try:
        sender = threading.Thread(target=lambda: answers.append(admin.post(
            f"{admin.base}/api/project-code/", json={"code": code}, headers=headers,
            timeout=60)))
        sender.start()
        time.sleep(1.5)  # begun, the write published
        proxies["gateway"].cut()
        sender.join()
    finally:
        system.send_signal(signal.SIGCONT)  # it applies the write it was sent
    first = answers[0]
    assert first.status_code == 503, first.text
    assert "outcome of the request is unknown" in first.json()["detail"]
    deadline = time.monotonic() + 30
    while not codes_direct(stack, code):  # applied, though its sender was told "unknown"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    repeat = admin.post(f"{admin.base}/api/project-code/", json={"code": code},
                        headers=headers, timeout=60)
    assert repeat.status_code == 503, repeat.text
    detail = repeat.json()["detail"]
    assert "not applied" not in detail and "outcome is unknown" in detail, detail
    assert running_in_ledger(stack) == 1  # the first's 503 could not be kept
    proxies["gateway"].start()
    deadline = time.monotonic() + 60
    while running_in_ledger(stack):  # its gateway forgets it once the broker is back,
        assert time.monotonic() < deadline  # with no repeat to take its lease over
        time.sleep(0.2)
    while True:
        r = admin.post(f"{admin.base}/api/project-code/", json={"code": code},
                       headers=headers, timeout=60)
        if r.status_code not in (409, 503):  # the first one's lease; reconnecting
            break
        assert time.monotonic() < deadline, r.text
        time.sleep(0.5)
    assert r.status_code == 201, r.text
    assert len(codes(admin, code)) == 1


def running_in_ledger(stack) -> int:
    """Keyed requests the users service's request ledger has running (its SQLite file)."""
    import sqlite3
    from pathlib import Path
    with sqlite3.connect(Path(stack.data_dir) / "users.sqlite3", timeout=30) as db:
        return db.execute("SELECT count(*) FROM request_ledger WHERE state = 'running'"
                          ).fetchone()[0]


def codes_direct(stack, code) -> bool:
    """Whether the system database holds `code` (read from its SQLite file)."""
    import sqlite3
    from pathlib import Path
    with sqlite3.connect(Path(stack.data_dir) / "system.sqlite3", timeout=30) as db:
        return bool(db.execute("SELECT count(*) FROM project_code WHERE code = ?",
                               (code,)).fetchone()[0])


def test_a_replica_whose_broker_goes_away_stays_up_and_serves_again(stack, admin, proxies):
    assert admin.get(f"{admin.base}/api/project-code/", timeout=30).status_code == 200
    system = stack.procs["system-0"]
    close_connections(stack.env["AMQP_URI"].rsplit("/", 1)[1])  # as a broker shutting down
    proxies["system"].cut()
    time.sleep(10)
    assert system.poll() is None, "the system service exited while its broker was away"
    assert not [name for name, proc in stack.procs.items() if proc.poll() is not None]
    proxies["system"].start()
    back = time.monotonic()
    while True:
        r = admin.post(f"{admin.base}/api/project-code/",
                       json={"code": f"BB-{uuid.uuid4().hex[:8]}"}, timeout=30)
        if r.status_code == 201:
            break
        assert r.status_code == 503, r.text
        assert system.poll() is None, "the system service exited after its broker came back"
        assert time.monotonic() - back < 15, r.text
        time.sleep(0.2)
    print(f"served {time.monotonic() - back:.1f} s after the broker came back")


def close_connections(vhost: str):
    """Close every connection of `vhost` from the broker's side (AMQP connection.close,
    320 CONNECTION_FORCED: what a stopping node sends its clients)."""
    auth = ("guest", "guest")
    found = requests.get(f"{MANAGEMENT}/vhosts/{vhost}/connections", auth=auth,
                         timeout=10).json()
    for conn in found:
        requests.delete(f"{MANAGEMENT}/connections/{quote(conn['name'], safe='')}",
                        auth=auth, timeout=10)
    assert found


def test_sigterm_while_the_broker_is_away_exits_within_its_bound(stack, proxies):
    system = stack.procs["system-0"]
    proxies["system"].cut()
    try:
        time.sleep(2)
        asked = time.monotonic()
        system.send_signal(signal.SIGTERM)
        bound = DRAIN + 5 + 10  # svckit.run: drain, kill, and a loaded machine's slack
        try:
            system.wait(timeout=bound)
        except Exception:
            pytest.fail(f"SIGTERM while the broker was away: no exit within {bound} s")
        print(f"exited {time.monotonic() - asked:.1f} s after SIGTERM")
    finally:
        proxies["system"].start()
        stack.restart_dead()


def test_a_reply_that_cannot_be_sent_does_not_kill_the_replica(stack, admin, proxies):
    """The system service takes a keyed write, then loses its broker before it answers:
    the reply cannot be published. The replica stays up (that failure, raised out of the
    worker's result handling, killed its container), and once the broker is back the
    request, delivered again, answers from its key: one project code."""
    stack.restart_dead()
    stack.wait_ready(120)
    code, headers = f"BR-{uuid.uuid4().hex[:8]}", {"Idempotency-Key": uuid.uuid4().hex}
    assert admin.get(f"{admin.base}/api/project-code/", timeout=30).status_code == 200
    system = stack.procs["system-0"]
    system.send_signal(signal.SIGSTOP)  # it takes the request, unread
    answers: list = []
    sender = threading.Thread(target=lambda: answers.append(admin.post(
        f"{admin.base}/api/project-code/", json={"code": code}, headers=headers,
        timeout=60)))
    try:
        sender.start()
        time.sleep(1.5)  # delivered to the stopped replica
        proxies["system"].cut()
    finally:
        system.send_signal(signal.SIGCONT)  # it applies the write; its reply cannot go
    try:
        time.sleep(8)
        assert system.poll() is None, "the replica exited when its reply could not be sent"
    finally:
        proxies["system"].start()
    sender.join()
    assert answers[0].status_code in (201, 503), answers[0].text
    deadline = time.monotonic() + 60
    while True:
        r = admin.post(f"{admin.base}/api/project-code/", json={"code": code},
                       headers=headers, timeout=60)
        if r.status_code not in (409, 503):
            break
        assert time.monotonic() < deadline, r.text
        time.sleep(0.5)
    assert r.status_code == 201, r.text
    assert len(codes(admin, code)) == 1
    assert system.poll() is None
