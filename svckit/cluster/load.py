"""A careful client that keeps a steady mixed write load on a running topology and an import
going, while a test or a bench breaks a piece of it (tests/cluster/test_faults.py,
bench/faults.py).

Every write carries an `Idempotency-Key` and is sent again with the same key after any
answer that is not definite (a 503, a 409 "still being processed", a 5xx, a broken
connection, a client timeout) until it gets a definite one, as a careful client of the
README's "Idempotent writes" would: so every write ends acknowledged (2xx) or refused (4xx),
and each attempt's answer is recorded with the phase it fell in (`before`, `fault`,
`after`). The kinds: uploads and link attachments, project codes, custom states, serial
numbers and API tokens. `ImportRun` creates a project-code import of N rows and takes it
to completion the same way.
"""
import csv
import io
import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import requests

KINDS = ("upload", "link", "project_code", "custom_state", "serial", "token")
WRITE_TIMEOUT = 40.0  # client timeout of one attempt: above the gateway's RPC_TIMEOUT (10 s)
IMPORT_TIMEOUT = 60.0  # of one import call (a session of 20,000 rows is created in seconds)
GIVE_UP = 150.0  # a write without a definite answer after this long is "undecided"
SERIAL_PART = 90210
STATE_KEY_BASE = 1000  # custom state keys above StockStatus's own
_state_keys = itertools.count(STATE_KEY_BASE)  # unique in this process, across runs


@dataclass
class Attempt:
    """One HTTP answer (or its absence: status 0, the exception as `detail`)."""

    kind: str
    phase: str
    sent: float  # time.monotonic()
    seconds: float
    status: int
    detail: str = ""
    replayed: bool = False

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Write:
    kind: str
    name: str  # what identifies it (code, comment, state name, token name)
    attempts: list[Attempt] = field(default_factory=list)
    answer: dict | None = None  # the definite 2xx answer's body
    status: int = 0  # the definite answer's status, 0 while undecided

    @property
    def acknowledged(self) -> bool:
        return 200 <= self.status < 300

    def lied_not_applied(self) -> bool:
        """Answered 503 "not applied" before, yet the definite answer is a replay of an
        earlier application, with every earlier attempt answered (none lost in transit)."""
        earlier = self.attempts[:-1]
        return (bool(self.attempts) and self.attempts[-1].replayed
                and all(a.status == 503 and "not applied" in a.detail for a in earlier)
                and bool(earlier))


def detail_of(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("detail", body))[:300]
    return str(body)[:300]


APPLIED_NOT_KEPT = "was applied, but"  # a 409's detail: applied, its answer lost


def definite(attempt: Attempt) -> bool:
    """An answer that settles a write: 2xx, or a 4xx other than a 409 "still being
    processed" (asked again); a 409 "applied, but its answer was not kept" settles it (it
    was applied) without its answer."""
    if attempt.status == 409:
        return APPLIED_NOT_KEPT in attempt.detail
    return attempt.ok or 400 <= attempt.status < 500


class Recorder:
    """Everything the clients saw, shared by their threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.phase = "before"
        self.writes: list[Write] = []
        self.attempts: list[Attempt] = []  # of writes and of the import's calls

    def set_phase(self, phase: str):
        self.phase = phase

    def add(self, attempt: Attempt):
        with self.lock:
            self.attempts.append(attempt)

    def failed(self, phase: str | None = None) -> list[Attempt]:
        return [a for a in self.attempts if not a.ok and (phase is None or a.phase == phase)]


def session_for(token: str) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Token {token}"
    return s


def send_until_definite(recorder: Recorder, kind: str, send, give_up: float = GIVE_UP):
    """Call `send()` (one HTTP request, same Idempotency-Key each time) until a definite
    answer; (attempts, final response or None)."""
    attempts: list[Attempt] = []
    deadline = time.monotonic() + give_up
    pause = 0.1
    while True:
        started = time.monotonic()
        phase = recorder.phase
        response = None
        try:
            response = send()
            attempt = Attempt(kind, phase, started, time.monotonic() - started,
                              response.status_code,
                              "" if response.ok else detail_of(response),
                              response.headers.get("Idempotent-Replayed") == "true")
        except requests.RequestException as exc:
            attempt = Attempt(kind, phase, started, time.monotonic() - started, 0,
                              f"{type(exc).__name__}: {exc}"[:300])
        recorder.add(attempt)
        attempts.append(attempt)
        if definite(attempt):
            return attempts, response
        if time.monotonic() > deadline:
            return attempts, None
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


class LoadClient:
    """`threads` clients writing in turn every kind of `KINDS` through `url` until `stop()`;
    names start with `prefix` (unique per run). `model_id` is the part the attachments
    are on."""

    def __init__(self, url: str, token: str, recorder: Recorder, prefix: str,
                 state_model: int, threads: int = 4, model_id: int = 4242,
                 pause: float = 0.02):
        self.url = url
        self.token = token
        self.recorder = recorder
        self.prefix = prefix
        self.state_model = state_model
        self.threads = threads
        self.model_id = model_id
        self.pause = pause
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._counter = itertools.count()

    def start(self):
        for n in range(self.threads):
            t = threading.Thread(target=self._run, args=(n,), daemon=True,
                                 name=f"load-{self.prefix}-{n}")
            t.start()
            self._workers.append(t)

    def stop(self, wait: float = GIVE_UP + 30):
        self._stop.set()
        for t in self._workers:
            t.join(wait)
        stuck = [t.name for t in self._workers if t.is_alive()]
        if stuck:
            raise RuntimeError(f"load threads still running after {wait:g} s: {stuck}")

    def _run(self, n: int):
        session = session_for(self.token)
        kinds = itertools.cycle(KINDS[n % len(KINDS):] + KINDS[:n % len(KINDS)])
        while not self._stop.is_set():
            self.write(session, next(kinds))
            time.sleep(self.pause)

    def write(self, session: requests.Session, kind: str) -> Write:
        i = next(self._counter)
        name = f"{self.prefix}-{kind[:2].upper()}{i}"
        headers = {"Idempotency-Key": f'"{uuid.uuid4()}"'}
        send = self._request(session, kind, name, headers)
        record = Write(kind, name)
        with self.recorder.lock:
            self.recorder.writes.append(record)
        attempts, response = send_until_definite(self.recorder, kind, send)
        record.attempts = attempts
        if response is not None:
            record.status = response.status_code
            if response.ok:
                record.answer = response.json()
        return record

    def _request(self, session, kind: str, name: str, headers: dict):
        url = self.url
        if kind == "upload":
            return lambda: session.post(
                f"{url}/api/attachment/", headers=headers, timeout=WRITE_TIMEOUT,
                data={"model_type": "part", "model_id": str(self.model_id), "comment": name},
                files={"attachment": (f"{name}.txt", f"contents of {name}\n".encode() * 64)})
        if kind == "link":
            return lambda: session.post(
                f"{url}/api/attachment/", headers=headers, timeout=WRITE_TIMEOUT,
                data={"model_type": "part", "model_id": str(self.model_id), "comment": name,
                      "link": f"https://example.com/{name}"})
        if kind == "project_code":
            return lambda: session.post(f"{url}/api/project-code/", headers=headers,
                                        timeout=WRITE_TIMEOUT,
                                        json={"code": name, "description": "load"})
        if kind == "custom_state":
            body = {"key": next(_state_keys), "name": name, "label": name[-20:],
                    "color": "secondary", "logical_key": 10, "model": self.state_model,
                    "reference_status": "StockStatus"}
            return lambda: session.post(f"{url}/api/generic/status/custom/", headers=headers,
                                        timeout=WRITE_TIMEOUT, json=body)
        if kind == "serial":
            return lambda: session.post(f"{url}/api/generate/serial-number/", headers=headers,
                                        timeout=WRITE_TIMEOUT,
                                        json={"part": SERIAL_PART, "quantity": 2})
        if kind == "token":
            return lambda: session.get(f"{url}/api/user/token/", headers=headers,
                                       timeout=WRITE_TIMEOUT, params={"name": name})
        raise ValueError(kind)


class ImportRun:
    """A project-code import of `rows` rows (codes `<prefix>-<i>`), from upload to
    completion, in a thread of its own: `start()`, then `join()`; `error` says what went
    wrong, `seconds` how long it took, `session` its pk, `stage` where it is."""

    def __init__(self, url: str, token: str, recorder: Recorder, prefix: str, rows: int):
        self.url = url
        self.token = token
        self.recorder = recorder
        self.prefix = prefix
        self.rows = rows
        self.session: int | None = None
        self.error: str | None = None
        self.seconds: float | None = None
        self.stage = "starting"  # then "uploading", "parsing", "creating", "done"
        self.answers_lost: list[str] = []  # steps answered 409 "applied, but ..."
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"import-{prefix}")

    def codes(self) -> list[str]:
        return [f"{self.prefix}-{i}" for i in range(self.rows)]

    def start(self):
        self.thread.start()

    def join(self, wait: float) -> bool:
        self.thread.join(wait)
        return not self.thread.is_alive()

    def _call(self, http: requests.Session, kind: str, method: str, path: str, **kwargs):
        """A keyed write, or a read, until it has a definite answer (error: not 2xx; a
        step whose answer was lost after it was applied, `accept_fields` or `accept_rows`,
        goes on as applied: the checks count the rows)."""
        headers = {"Idempotency-Key": f'"{uuid.uuid4()}"'} if method != "GET" else {}
        attempts, response = send_until_definite(
            self.recorder, kind, lambda: http.request(method, f"{self.url}{path}",
                                                      headers=headers, timeout=IMPORT_TIMEOUT,
                                                      **kwargs))
        last = attempts[-1]
        if (response is not None and last.status == 409 and APPLIED_NOT_KEPT in last.detail
                and path.endswith(("/accept_fields/", "/accept_rows/"))):
            self.answers_lost.append(kind)
            return {}
        if response is None or not response.ok:
            raise RuntimeError(f"{method} {path}: {last.status} {last.detail}")
        return response.json()

    def _wait_status(self, http, status: int, deadline: float) -> dict:
        while True:
            got = self._call(http, "import:read", "GET",
                             f"/api/importer/session/{self.session}/")
            if got["status"] == status:
                return got
            if got["status"] > status or time.monotonic() > deadline:
                raise RuntimeError(f"import session {self.session} at status {got['status']}"
                                   f" (waiting for {status}): {got}")
            time.sleep(0.5)

    def _run(self):
        started = time.monotonic()
        deadline = started + 900
        http = session_for(self.token)
        try:
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(["code", "description"])
            for code in self.codes():
                writer.writerow([code, "imported"])
            self.stage = "uploading"
            made = self._call(http, "import:create", "POST", "/api/importer/session/",
                              data={"model_type": "projectcode"},
                              files={"data_file": (f"{self.prefix}.csv",
                                                   out.getvalue().encode())})
            self.session = made["pk"]
            self._call(http, "import:accept_fields", "POST",
                       f"/api/importer/session/{self.session}/accept_fields/")
            self.stage = "parsing"
            self._wait_status(http, 30, deadline)
            rows = self._call(http, "import:read", "GET", "/api/importer/row/",
                              params={"session": self.session})
            if len(rows) != self.rows:
                raise RuntimeError(f"{len(rows)} rows read of {self.rows}")
            self._call(http, "import:accept_rows", "POST",
                       f"/api/importer/session/{self.session}/accept_rows/",
                       json={"rows": [r["pk"] for r in rows]})
            self.stage = "creating"
            done = self._wait_status(http, 40, deadline)
            if done.get("completed_row_count") != self.rows:
                raise RuntimeError(f"completed {done.get('completed_row_count')} rows "
                                   f"of {self.rows}")
            self.seconds = time.monotonic() - started
            self.stage = "done"
        except Exception as exc:  # reported by the checks
            self.error = f"{type(exc).__name__}: {exc}"


@dataclass
class Run:
    """What `under_load` saw: the recorder, the import, what the fault returned, and when
    the run began (`since`, ISO, for the audit log; `began`, time.monotonic())."""

    prefix: str
    recorder: Recorder
    imports: list[ImportRun]
    info: dict
    since: str
    began: float


def under_load(url: str, token: str, state_model: int, prefix: str, action,
               import_rows: int, threads: int = 4, warmup: float = 3.0, after: float = 5.0,
               import_wait: float = 900.0, model_id: int = 4242) -> Run:
    """Start the write load and an import of `import_rows` rows; once the import is past
    its upload and the load ran `warmup` seconds, run `action()` (the fault, phase
    `fault`); then `after` seconds more of load (phase `after`), until the import ends."""
    since = (datetime.now(timezone.utc) - timedelta(seconds=2)).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")
    recorder = Recorder()
    load = LoadClient(url, token, recorder, prefix, state_model, threads, model_id)
    run = ImportRun(url, token, recorder, f"{prefix}-IMP", import_rows)
    began = time.monotonic()
    load.start()
    run.start()
    info: dict = {}
    try:
        deadline = time.monotonic() + 300
        while run.stage in ("starting", "uploading") and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(max(warmup - (time.monotonic() - began), 0))
        recorder.set_phase("fault")
        info = action()
        recorder.set_phase("after")
        time.sleep(after)
        run.join(import_wait)
    finally:
        load.stop()
    if run.thread.is_alive():
        run.error = run.error or f"not complete after {import_wait:g} s (at {run.stage})"
    return Run(prefix, recorder, [run], info, since, began)
