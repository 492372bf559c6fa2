"""Idempotent writes over HTTP: the `Idempotency-Key` header (IETF draft "The
Idempotency-Key HTTP Header Field") and the keys of the gateway's own RPCs.

Every RPC a resource makes carries a key in its signed caller context
(svckit.idempotency): derived from the client's `Idempotency-Key` of a write request
(POST, PUT, PATCH, DELETE, and GET of a resource that `creates_on_get`, as
`/api/user/token/`) by a signed-in user, or from a fresh one per request, scoped to
the user, the service and method, and its ordinal among that method's calls in the request.
So the gateway's retries, and RabbitMQ's redeliveries, apply a write once; and a client
that repeats a keyed request reaches the same keys.

A keyed request is also written in the request ledger (svckit.request_ledger, in the users
service) before its first RPC, with its fingerprint (method, path, query, content type and
body, a multipart body's boundary left out), and its answer after it. A repeat answers the
first answer (`Idempotent-Replayed: true`); a repeat while the first still runs is a 409;
the same key with another request a 422; a key that is empty or longer than
MAX_KEY_CHARS a 400. Answers of 5xx are not kept (a repeat runs again, and its writes that
were applied answer what they answered).
"""
import base64
import hashlib
import logging
import threading
import time
from dataclasses import dataclass

from svckit import randomids
from svckit.context import Caller
from svckit.errors import ApiError, ValidationFailed
from svckit.idempotency import OWN_KEY_PREFIX
from svckit.request_ledger import LEASE_LEFT, MAX_ANSWER_BYTES, STILL_RUNNING
from svckit.rpc_client import BrokerUnavailable, NotApplied

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
MAX_KEY_CHARS = 255
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def client_key(req) -> str | None:
    """The request's Idempotency-Key (an sf-string as the draft has it, quoted, or a bare
    token), None without one; 400 when it is empty or too long."""
    raw = req.get_header(HEADER)
    if raw is None:
        return None
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not value:
        raise ValidationFailed({"detail": f"The {HEADER} header is empty"})
    if len(value) > MAX_KEY_CHARS:
        raise ValidationFailed({"detail": f"The {HEADER} header is longer than "
                                          f"{MAX_KEY_CHARS} characters"})
    if not value.isprintable():
        raise ValidationFailed({"detail": f"The {HEADER} header holds control characters"})
    return value


class BodyDigest:
    """The request body as read, hashed on the way (wraps `wsgi.input`); a multipart
    body's boundary (random per client request) is hashed as a fixed token."""

    TOKEN = b"\x00boundary\x00"

    def __init__(self, stream, boundary: bytes | None):
        self._stream = stream
        self._boundary = boundary or None
        self._hash = hashlib.sha256()
        self._tail = b""

    def _update(self, data: bytes):
        if not data:
            return
        if self._boundary is None:
            self._hash.update(data)
            return
        data = (self._tail + data).replace(self._boundary, self.TOKEN)
        keep = len(self._boundary) - 1  # may be the start of a boundary split across reads
        self._hash.update(data[:-keep] if keep else data)
        self._tail = data[-keep:] if keep else b""

    def hexdigest(self) -> str:
        digest = self._hash.copy()
        digest.update(self._tail)
        return digest.hexdigest()

    def read(self, *args):
        data = self._stream.read(*args)
        self._update(data)
        return data

    def readline(self, *args):
        data = self._stream.readline(*args)
        self._update(data)
        return data

    def readlines(self, *args):
        lines = self._stream.readlines(*args)
        for line in lines:
            self._update(line)
        return lines

    def __iter__(self):
        return iter(self.readline, b"")


def _boundary(content_type: str) -> bytes | None:
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary" and value:
            return value.strip('"').encode("latin-1", "replace")
    return None


class Replayed(Exception):
    """A repeat of a finished keyed request: answer its first answer."""

    def __init__(self, status: int, content_type: str | None, body: bytes):
        self.status, self.content_type, self.body = status, content_type, body
        super().__init__(status)


class RequestKeys:
    """One HTTP request's RPC keys, and its entry in the request ledger."""

    def __init__(self, req, client: str | None):
        self.client = client
        self.base = client or randomids.uuid4_hex()
        self.digest: BodyDigest | None = None
        self.claim = randomids.uuid4_hex()
        self.begun = False  # the ledger has this request running
        self.write = False  # a write request (its RPCs may apply something)
        self.sent = False  # an RPC of this request was published
        self.replayed = False
        self._ordinals: dict[str, int] = {}
        if client is not None:
            ctype = req.content_type or ""
            self.digest = BodyDigest(req.env["wsgi.input"], _boundary(ctype))
            req.env["wsgi.input"] = req.stream = self.digest

    def key_for(self, caller: Caller, service: str, method: str) -> str:
        """The key of the next call of `service.method` in this request."""
        name = f"{service}.{method}"
        ordinal = self._ordinals[name] = self._ordinals.get(name, 0) + 1
        raw = f"{caller.user_id}\n{self.base}\n{name}\n{ordinal}"
        prefix = "c-" if self.client is not None else OWN_KEY_PREFIX  # kept for less time
        return prefix + hashlib.sha256(raw.encode()).hexdigest()

    def fingerprint(self, req) -> str:
        ctype = (req.content_type or "").split(";")[0].strip().lower()
        body = self.digest.hexdigest() if self.digest is not None else ""
        raw = f"{req.method}\n{req.path}\n{req.query_string}\n{ctype}\n{body}"
        return hashlib.sha256(raw.encode()).hexdigest()


def start(req, write: bool, signed_in: bool) -> RequestKeys:
    """The request's keys: the client's Idempotency-Key counts for writes by signed-in
    users (an anonymous caller has no keys of its own); other requests get a fresh one."""
    client = client_key(req) if write else None
    keys = RequestKeys(req, client if signed_in else None)
    keys.write = write
    return keys


def call(req, rpc, settings, service: str, method: str, caller: Caller, **kwargs):
    """`service.method(**kwargs)` for the request, under its key (`caller_for`); notes
    that an RPC of the request was published (see `not_applied`)."""
    keys: RequestKeys | None = req.context.get("keys")
    published = True
    try:
        return rpc.call(service, method, caller_for(req, rpc, settings, service, method,
                                                    caller), req.path, **kwargs)
    except NotApplied:
        published = False
        raise
    finally:
        if keys is not None and published:
            keys.sent = True


def not_applied(req, exc: NotApplied) -> BrokerUnavailable:
    """The 503 of a call that could not be published, as the whole request's answer: it
    says the request was not applied only when that is certain, so not for a write request
    that carries an Idempotency-Key (an earlier send of it, whose outcome the client may
    not know, may have been applied), nor for one an RPC of which was published before."""
    keys: RequestKeys | None = req.context.get("keys")
    write = req.method in WRITE_METHODS or (keys is not None and keys.write)
    if write and req.get_header(HEADER) is not None:
        return BrokerUnavailable({"detail": (
            f"Message broker unavailable: {exc.reason}; this request was not sent to any "
            f"service, but an earlier request with this {HEADER} may have been, so its "
            f"outcome is unknown: repeat it with the same {HEADER} once the service is "
            "available to get its outcome")})
    if write and keys is not None and keys.sent:
        return BrokerUnavailable({"detail": (
            f"Message broker unavailable: {exc.reason}, after part of the request was "
            "sent: the outcome of the request is unknown")})
    return exc


def caller_for(req, rpc, settings, service: str, method: str, caller: Caller) -> Caller:
    """`caller` for one RPC of the request, with its key; before the first RPC of a keyed
    request, the request is begun in the ledger (raising Replayed for a repeat of a
    finished one, a 409 or 422 as the ledger answers)."""
    keys: RequestKeys | None = req.context.get("keys")
    if keys is None:
        return caller
    if keys.client is not None and not keys.begun:
        answer = begin(req, rpc, settings, caller, keys)
        keys.begun = True
        if answer["state"] == "done":
            keys.replayed = True
            raise Replayed(answer["status"], answer["content_type"],
                           base64.b64decode(answer["body"]))
    return caller.for_call(keys.key_for(caller, service, method))


LEASE_MARGIN_SECONDS = 5.0
RUNNING_POLL_SECONDS = (0.1, 1.0)  # first and longest pause between asks while it runs


def begin(req, rpc, settings, caller: Caller, keys: RequestKeys) -> dict:
    """Begin the keyed request in the ledger. While an earlier request with the key still
    runs (409), ask again until its lease has run out (the ledger says how long it still
    runs), for at most `running_wait_seconds`: the earlier one answers meanwhile (its
    answer is then this one's), or it failed and its key was forgotten, or its gateway died
    and its lease runs out (this one takes over); only a request still running after that
    is answered 409."""
    started = time.monotonic()
    deadline = started + RUNNING_POLL_SECONDS[1]
    pause = RUNNING_POLL_SECONDS[0]
    while True:
        try:
            return rpc.call("users", "begin_request", caller, req.path, key=keys.client,
                            fingerprint=keys.fingerprint(req), claim=keys.claim,
                            lease_seconds=lease_seconds(req, settings))
        except ApiError as exc:
            if exc.status != 409:
                raise
            detail = exc.detail if isinstance(exc.detail, dict) else {}
            left = float(detail.get(LEASE_LEFT) or 0.0)
            deadline = min(max(deadline, time.monotonic() + left + RUNNING_POLL_SECONDS[1]),
                           started + running_wait_seconds(settings))
            if time.monotonic() >= deadline:
                raise ApiError({"detail": detail.get("detail", STILL_RUNNING)}, 409) from None
        time.sleep(min(pause, max(deadline - time.monotonic(), 0.0)))
        pause = min(pause * 2, RUNNING_POLL_SECONDS[1])


def running_wait_seconds(settings) -> float:
    """How long a repeat waits at most for an earlier request with its key that still
    runs: the lease of a request whose RPCs have RPC_TIMEOUT (an import's, longer, is not
    waited out: its repeat is answered 409 after this)."""
    return 2 * settings.RPC_TIMEOUT + LEASE_MARGIN_SECONDS


def lease_seconds(req, settings) -> float:
    """How long a keyed request may run before a repeat takes over (its gateway died): its
    longest RPC's deadline (resends included, and the RPC_TIMEOUT more a call gets once
    when its connection broke) and LEASE_MARGIN_SECONDS. A repeat that
    takes over a request still running is safe: its RPCs carry the same keys, so each
    write is applied once and both get its answer (svckit.idempotency); a longer lease only
    kept a repeat after a gateway's death at 409 "still being processed" for minutes."""
    timeout = settings.RPC_TIMEOUT
    if req.path.startswith("/api/importer/"):
        timeout = max(timeout, settings.IMPORT_RPC_TIMEOUT)
    # a call whose connection broke gets RPC_TIMEOUT more once (svckit.rpc_client)
    return timeout + settings.RPC_TIMEOUT + LEASE_MARGIN_SECONDS


def finish(req, resp, rpc, settings):
    """After the answer: keep it in the ledger (a 5xx answer: forget the key)."""
    keys: RequestKeys | None = req.context.get("keys")
    if keys is None or not keys.begun or keys.replayed or keys.client is None:
        return
    status = resp.status_code
    body: str | None = None
    data = resp.data if resp.data is not None else (resp.text or "").encode()
    if status < 500 and len(data) <= MAX_ANSWER_BYTES:
        body = base64.b64encode(data).decode()
    finishing = Finishing(req.context.caller, req.path, keys.client, keys.claim, status,
                          resp.content_type or "", body,
                          time.monotonic() + lease_seconds(req, settings))
    try:
        finishing.send(rpc)
    except Exception as exc:  # the ledger is out of reach (its database, the broker)
        log.warning("could not keep the answer of %s %s under its Idempotency-Key (%s: %s);"
                    " trying again in the background", req.method, req.path,
                    type(exc).__name__, str(exc)[:200])
        FINISHER.add(rpc, finishing)


@dataclass
class Finishing:
    """A keyed request's answer for the ledger (`body` None: forget the key), to be sent
    until `until` (time.monotonic(): its lease's end, after which a repeat takes it over
    anyway)."""

    caller: Caller
    path: str
    key: str
    claim: str
    status: int
    content_type: str
    body: str | None
    until: float

    def send(self, rpc):
        rpc.call("users", "finish_request", self.caller, self.path, key=self.key,
                 claim=self.claim, status=self.status, content_type=self.content_type,
                 body=self.body)


class Finisher:
    """Sends again, from a thread of its own, the answers the ledger could not take when
    their request ended (its database down, the broker gone), every RETRY_SECONDS until it
    takes them or their lease ends: so a repeat of a request that failed for that outage
    runs as soon as the outage is over, not after the lease (gateway.idempotency.begin
    waits for it meanwhile), and a success's answer is still kept."""

    RETRY_SECONDS = 0.5

    def __init__(self):
        self._lock = threading.Lock()
        self._pending: list[Finishing] = []
        self._rpc = None
        self._thread: threading.Thread | None = None

    def add(self, rpc, finishing: Finishing):
        with self._lock:
            self._pending.append(finishing)
            self._rpc = rpc
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="ledger-finisher")
                self._thread.start()

    def _run(self):
        while True:
            time.sleep(self.RETRY_SECONDS)
            with self._lock:
                pending, rpc = list(self._pending), self._rpc
            done = []
            for finishing in pending:
                if time.monotonic() > finishing.until:
                    done.append(finishing)
                    continue
                try:
                    finishing.send(rpc)
                except Exception:
                    break  # still out of reach: every other one too, most likely
                done.append(finishing)
            with self._lock:
                self._pending = [f for f in self._pending if not any(f is d for d in done)]
                if not self._pending:
                    self._thread = None
                    return


FINISHER = Finisher()


class IdempotencyMiddleware:
    """Gives each request its RPC keys (after authentication) and keeps a keyed request's
    answer."""

    def __init__(self, api):
        self.api = api

    def process_resource(self, req, resp, resource, params):
        if resource is None:
            return
        caller = req.context.get("caller")
        signed_in = caller is not None and caller.authenticated
        write = req.method in WRITE_METHODS or (
            req.method == "GET" and getattr(resource, "creates_on_get", False))
        req.context.keys = start(req, write, signed_in)

    def process_response(self, req, resp, resource, req_succeeded):
        finish(req, resp, self.api.rpc, self.api.settings)
        if req.context.get("keys") is not None and req.context.keys.replayed:
            resp.set_header("Idempotent-Replayed", "true")
