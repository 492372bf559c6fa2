"""Idempotent writes over HTTP (README "Idempotent writes"): a write sent with an
`Idempotency-Key` is applied once and every repeat answers its first answer; the gateway's
own resends of an RPC that did not answer apply it once too. On a stack of its own, with
keys that expire after a few seconds and a short RPC_TIMEOUT."""
import signal
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import ADMIN, own_vhost, running_stack, token_session

TTL = 8  # IDEMPOTENCY_KEY_TTL of this stack
RPC_TIMEOUT = 4


@pytest.fixture(scope="module")
def own(rates_server, smtp, tmp_path_factory):
    """A stack of its own, in a RabbitMQ vhost of its own (the session's stack may run)."""
    with own_vhost() as vhost, running_stack(
            tmp_path_factory.mktemp("idem"), vhost, rates_server, smtp,
            IDEMPOTENCY_KEY_TTL=str(TTL), RPC_TIMEOUT=str(RPC_TIMEOUT)) as s:
        yield s


@pytest.fixture(scope="module")
def root(own):
    return token_session(own, ADMIN)


@pytest.fixture(scope="module")
def other(own, root):
    password = f"Secret-9x-{uuid.uuid4().hex[:8]}"
    r = root.post(f"{own.url}/api/user/", timeout=10, json={
        "username": "idem-other", "first_name": "", "last_name": "", "email": "",
        "password": password, "is_staff": True, "is_superuser": True})
    assert r.status_code == 201, r.text
    return token_session(own, ("idem-other", password))


def key() -> dict:
    return {"Idempotency-Key": f'"{uuid.uuid4()}"'}


def events(session, stream: str, marker_code: str) -> list[dict]:
    """The audited events of `stream`, once the system service's events up to a project
    code created now (`marker_code`) are audited (they are audited in order)."""
    made = session.post(f"{session.base}/api/project-code/", json={"code": marker_code},
                        timeout=10)
    assert made.status_code == 201, made.text
    deadline = time.monotonic() + 60
    while not session.get(f"{session.base}/api/events/", timeout=10, params={
            "stream": f"project_code:{made.json()['pk']}"}).json()["count"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return session.get(f"{session.base}/api/events/", params={"stream": stream},
                       timeout=10).json()["results"]


def codes(session, prefix: str) -> list[str]:
    return [c["code"] for c in session.get(f"{session.base}/api/project-code/",
                                           timeout=10).json() if c["code"].startswith(prefix)]


def test_the_same_key_twice_answers_the_first_answer_once_applied(root):
    headers = key()
    first = root.post(f"{root.base}/api/project-code/", json={"code": "IK-1"}, headers=headers,
                      timeout=30)
    assert first.status_code == 201, first.text
    again = root.post(f"{root.base}/api/project-code/", json={"code": "IK-1"}, headers=headers,
                      timeout=30)
    assert (again.status_code, again.content) == (201, first.content)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert codes(root, "IK-") == ["IK-1"]
    created = events(root, f"project_code:{first.json()['pk']}", "IK-MARK-1")
    assert [e["type"] for e in created] == ["project_code.created"]
    # without the key, the same body is another request: InvenTree's answer
    third = root.post(f"{root.base}/api/project-code/", json={"code": "IK-1"}, timeout=30)
    assert third.status_code == 400


def test_an_error_answer_is_kept_too(root):
    headers = key()
    first = root.post(f"{root.base}/api/project-code/", json={"code": ""}, headers=headers,
                      timeout=30)
    assert first.status_code == 400
    again = root.post(f"{root.base}/api/project-code/", json={"code": ""}, headers=headers,
                      timeout=30)
    assert (again.status_code, again.content) == (400, first.content)


def test_the_same_key_for_another_request_is_a_422(root):
    headers = key()
    assert root.post(f"{root.base}/api/project-code/", json={"code": "IK-2"}, headers=headers,
                     timeout=30).status_code == 201
    for method, path, body in [("POST", "/api/project-code/", {"code": "IK-3"}),
                               ("POST", "/api/units/", {"code": "IK-2"}),
                               ("PATCH", "/api/project-code/1/", {"code": "IK-2"})]:
        r = root.request(method, f"{root.base}{path}", json=body, headers=headers, timeout=30)
        assert r.status_code == 422, (method, path, r.text)
        assert "already used for a different request" in r.json()["detail"]
    assert codes(root, "IK-3") == []


def test_keys_are_each_users_own(root, other):
    headers = key()
    mine = root.post(f"{root.base}/api/project-code/", json={"code": "IK-U1"}, headers=headers,
                     timeout=30)
    theirs = other.post(f"{other.base}/api/project-code/", json={"code": "IK-U2"},
                        headers=headers, timeout=30)
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["pk"] != theirs.json()["pk"]
    assert sorted(codes(root, "IK-U")) == ["IK-U1", "IK-U2"]


@pytest.mark.parametrize("value,message", [
    ('""', "is empty"), ("", "is empty"), ("x" * 256, "longer than 255 characters")])
def test_an_empty_or_overlong_key_is_a_400(root, value, message):
    r = root.post(f"{root.base}/api/project-code/", json={"code": "IK-BAD"},
                  headers={"Idempotency-Key": value}, timeout=30)
    assert r.status_code == 400 and message in r.json()["detail"]
    assert codes(root, "IK-BAD") == []


def test_keys_expire(root):
    """IDEMPOTENCY_KEY_TTL (8 s here): after it, the same key is a new request."""
    headers = key()
    body = {"part": 4242, "quantity": 1}
    first = root.post(f"{root.base}/api/generate/serial-number/", json=body, headers=headers,
                      timeout=30)
    again = root.post(f"{root.base}/api/generate/serial-number/", json=body, headers=headers,
                      timeout=30)
    assert first.status_code == 201 and again.content == first.content
    time.sleep(TTL + 1)
    later = root.post(f"{root.base}/api/generate/serial-number/", json=body, headers=headers,
                      timeout=30)
    assert later.status_code == 201 and later.json() != first.json()
    assert "Idempotent-Replayed" not in later.headers


def test_serial_numbers_custom_states_and_tokens(root):
    headers = key()
    serials = [root.post(f"{root.base}/api/generate/serial-number/", headers=headers, timeout=30,
                         json={"part": 777, "quantity": 3}).json() for _ in range(2)]
    assert serials[0] == serials[1] == {"serial_number": "1,2,3"}
    assert root.post(f"{root.base}/api/generate/serial-number/", json={"part": 777},
                     timeout=30).json() == {"serial_number": "4"}

    model = root.get(f"{root.base}/api/contenttype/model/stockitem/", timeout=10).json()["pk"]
    state = {"key": 41, "name": "IK state", "label": "IK", "color": "secondary",
             "logical_key": 10, "model": model, "reference_status": "StockStatus"}
    headers = key()
    made = [root.post(f"{root.base}/api/generic/status/custom/", json=state, headers=headers,
                      timeout=30) for _ in range(2)]
    assert [m.status_code for m in made] == [201, 201] and made[0].content == made[1].content
    states = root.get(f"{root.base}/api/generic/status/custom/", timeout=10).json()
    assert [s["name"] for s in states].count("IK state") == 1

    headers = key()
    tokens = [root.get(f"{root.base}/api/user/token/", params={"name": "ik-token"},
                       headers=headers, timeout=30) for _ in range(2)]
    assert tokens[0].status_code == 200 and tokens[0].content == tokens[1].content
    listed = root.get(f"{root.base}/api/user/tokens/", timeout=10).json()
    assert [t["name"] for t in listed].count("ik-token") == 1


def test_uploads(root, own):
    """A multipart body is the same request whatever its boundary (random per send)."""
    headers = key()

    def send():
        return root.post(f"{root.base}/api/attachment/", headers=headers, timeout=30,
                         data={"model_type": "part", "model_id": "77", "comment": "ik"},
                         files={"attachment": ("ik.txt", b"idempotent upload")})
    first, again = send(), send()
    assert first.status_code == 201, first.text
    assert (again.status_code, again.content) == (201, first.content)
    listed = root.get(f"{root.base}/api/attachment/", params={"model_id": 77},
                      timeout=10).json()
    assert [a["pk"] for a in listed] == [first.json()["pk"]]
    other = root.post(f"{root.base}/api/attachment/", headers=headers, timeout=30,
                      data={"model_type": "part", "model_id": "77", "comment": "ik"},
                      files={"attachment": ("ik.txt", b"another file")})
    assert other.status_code == 422


def test_import_accept_rows(root):
    r = root.post(f"{root.base}/api/importer/session/", timeout=30,
                  data={"model_type": "projectcode"},
                  files={"data_file": ("ik.csv", b"code,description\nIK-IMP-1,one\nIK-IMP-2,two\n")})
    assert r.status_code == 201, r.text
    pk = r.json()["pk"]
    assert root.post(f"{root.base}/api/importer/session/{pk}/accept_fields/",
                     timeout=30).status_code == 200
    deadline = time.monotonic() + 60
    while root.get(f"{root.base}/api/importer/session/{pk}/", timeout=10).json()["status"] != 30:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    rows = [x["pk"] for x in root.get(f"{root.base}/api/importer/row/", params={"session": pk},
                                      timeout=10).json()]
    headers = key()
    answers = [root.post(f"{root.base}/api/importer/session/{pk}/accept_rows/",
                         json={"rows": rows}, headers=headers, timeout=60) for _ in range(2)]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].content == answers[1].content
    while root.get(f"{root.base}/api/importer/session/{pk}/", timeout=10).json()["status"] != 40:
        assert time.monotonic() < deadline + 60
        time.sleep(0.2)
    assert sorted(codes(root, "IK-IMP-")) == ["IK-IMP-1", "IK-IMP-2"]


def stopped(own, service: str):
    """The process of `service`, stopped (SIGSTOP): it takes no message until continued."""
    proc = own.procs[next(n for n in own.procs if n.startswith(service))]
    proc.send_signal(signal.SIGSTOP)
    return proc


def ledger_entries(own) -> int:
    """Requests in the users service's request ledger (read from its SQLite database)."""
    with sqlite3.connect(Path(own.data_dir) / "users.sqlite3", timeout=30) as db:
        return db.execute("SELECT count(*) FROM request_ledger WHERE state = 'running'"
                          ).fetchone()[0]


def test_a_repeat_while_the_first_runs_waits_for_its_answer(root, own):
    """A repeat that arrives while the first request with its key runs is not answered 409
    at once: it waits (gateway.idempotency.begin) and answers the first one's answer."""
    headers = key()
    proc = stopped(own, "system")
    answers: list = []
    try:
        first = threading.Thread(target=lambda: answers.append(root.post(
            f"{root.base}/api/project-code/", json={"code": "IK-RUN"}, headers=headers,
            timeout=60)))
        first.start()
        deadline = time.monotonic() + 30
        while not ledger_entries(own):  # until the first is begun in the ledger
            assert time.monotonic() < deadline
            time.sleep(0.05)
        repeats: list = []
        repeat = threading.Thread(target=lambda: repeats.append(root.post(
            f"{root.base}/api/project-code/", json={"code": "IK-RUN"}, headers=headers,
            timeout=60)))
        repeat.start()
        time.sleep(1)  # the repeat finds the first running
    finally:
        proc.send_signal(signal.SIGCONT)  # the first one's write is applied, answered
    first.join(60)
    repeat.join(60)
    assert answers[0].status_code == 201, answers[0].text
    assert repeats[0].status_code == 201, repeats[0].text
    assert repeats[0].headers.get("Idempotent-Replayed") == "true"
    assert repeats[0].json() == answers[0].json()
    assert codes(root, "IK-RUN") == ["IK-RUN"]


def test_a_call_that_outlives_the_timeout_is_applied_once(root, own):
    """The system service stops while a keyed write is in flight: the gateway resends the
    RPC within RPC_TIMEOUT, then answers 503 "outcome unknown"; once the service runs
    again it applies the first send and answers the resends from the key. A repeat with
    the same Idempotency-Key gives the original answer: one project code, one event."""
    headers = key()
    proc = stopped(own, "system")
    try:
        r = root.post(f"{root.base}/api/project-code/", json={"code": "IK-SLOW"},
                      headers=headers, timeout=60)
    finally:
        proc.send_signal(signal.SIGCONT)
    assert r.status_code == 503
    assert "outcome of the request is unknown" in r.json()["detail"]
    assert "same Idempotency-Key is safe" in r.json()["detail"]
    deadline = time.monotonic() + 60
    while True:
        again = root.post(f"{root.base}/api/project-code/", json={"code": "IK-SLOW"},
                          headers=headers, timeout=60)
        if again.status_code != 503:
            break
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert again.status_code == 201, again.text
    assert codes(root, "IK-SLOW") == ["IK-SLOW"]
    created = events(root, f"project_code:{again.json()['pk']}", "IK-MARK-2")
    assert [e["type"] for e in created] == ["project_code.created"]


def test_a_call_that_answers_late_within_the_timeout_gets_its_answer(root, own):
    """Stopped for less than RPC_TIMEOUT: the resends are answered from the key and the
    first send's answer (or theirs) is the answer."""
    proc = stopped(own, "system")
    timer = threading.Timer(RPC_TIMEOUT / 2, proc.send_signal, (signal.SIGCONT,))
    timer.start()
    try:
        r = root.post(f"{root.base}/api/project-code/", json={"code": "IK-LATE"},
                      headers=key(), timeout=60)
    finally:
        timer.join()
        proc.send_signal(signal.SIGCONT)
    assert r.status_code == 201, r.text
    assert codes(root, "IK-LATE") == ["IK-LATE"]
