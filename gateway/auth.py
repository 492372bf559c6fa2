"""Authentication of API requests (SEMANTICS §1.1, USERS.md §4).

`Authorization: Token <key>` and HTTP Basic are checked by the users service; answers are
cached for a few seconds per worker, and dropped at once when the users service announces a
revoked token or a changed user or group (gateway.bus).
"""
import base64
import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from datetime import date

from gateway import sites
from gateway.metrics import count_cache_lookup
from gateway.proxies import TrustedProxies
from svckit.context import Caller
from svckit.errors import AuthenticationFailed, PermissionDenied

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


@dataclass
class Auth:
    """Who is calling, and by which credentials."""
    caller: Caller | None = None
    token_id: int | None = None
    session_id: int | None = None
    csrf: str | None = None  # the session's CSRF secret, for session-authenticated calls


class TtlCache:
    """`name`: how its hits and misses are counted (gateway.metrics, auth cache)."""

    def __init__(self, seconds: float, max_entries: int = 10000, name: str = ""):
        self.name = name
        self.seconds = seconds
        self.max_entries = max_entries
        self._data: dict = {}
        self._lock = threading.Lock()

    def get(self, key):
        item = self._data.get(key)
        fresh = item if item is not None and item[0] >= time.monotonic() else None
        if self.name:
            count_cache_lookup(self.name, fresh is not None)
        return fresh[1] if fresh is not None else None

    def bypass(self):
        """A lookup that may not trust the cache (the event bus is down): a miss."""
        if self.name:
            count_cache_lookup(self.name, False)
        return None

    def put(self, key, value):
        with self._lock:
            if len(self._data) >= self.max_entries:
                self._data.clear()
            self._data[key] = (time.monotonic() + self.seconds, value)

    def drop_where(self, predicate):
        with self._lock:
            for key in [k for k, (_, v) in self._data.items() if predicate(v)]:
                del self._data[key]

    def clear(self):
        with self._lock:
            self._data.clear()


class Authenticator:
    def __init__(self, rpc, bus, proxies: TrustedProxies, cache_seconds: float):
        self.rpc = rpc
        self.bus = bus
        self.proxies = proxies
        self.tokens = TtlCache(cache_seconds, name="token")
        self.passwords = TtlCache(cache_seconds, name="password")
        self.sessions = TtlCache(cache_seconds, name="session")
        bus.subscribe("users", "token.#", self._on_token_event)
        bus.subscribe("users", "session.#", self._on_session_event)
        bus.subscribe("users", "user.#", self._on_account_event)
        bus.subscribe("users", "group.#", self._on_account_event)

    def _on_token_event(self, event):
        if event is None:
            return self._on_account_event(None)
        if event["type"] == "token.revoked":
            token_id = int(event["stream_id"])
            self.tokens.drop_where(lambda v: v[1] == token_id)

    def _on_account_event(self, _event):
        self.tokens.clear()
        self.passwords.clear()
        self.sessions.clear()

    def _on_session_event(self, event):
        if event is None or event["type"] == "session.ended":
            session_id = None if event is None else int(event["stream_id"])
            self.sessions.drop_where(lambda v: session_id is None or v["session_id"] == session_id)

    def authenticate(self, req, request_id: str) -> Auth:
        """Token header, then Basic, then the session cookie (DRF's order). No credentials:
        an empty Auth. Bad token or password: raises. An unknown cookie is no login."""
        header = req.get_header("Authorization") or ""
        scheme, _, credentials = header.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "token":
            caller, token_id = self._token(credentials.strip(), request_id)
            return Auth(caller, token_id=token_id)
        if scheme == "basic":
            return Auth(self._basic(credentials.strip(), request_id,
                                    self.proxies.client_address(req)))
        key = req.cookies.get("sessionid")
        if key:
            return self._session(key, request_id)
        return Auth()

    def authenticate_media(self, req, request_id: str) -> Caller | None:
        """For `/media/`: a token (`Token` or `Bearer`) or a session, never basic auth (as
        InvenTree's AuthRequiredMiddleware); None when neither is valid."""
        scheme, _, credentials = (req.get_header("Authorization") or "").strip().partition(" ")
        try:
            if scheme.lower() in ("token", "bearer") and credentials.strip():
                return self._token(credentials.strip(), request_id)[0]
            key = req.cookies.get("sessionid")
            return self._session(key, request_id).caller if key else None
        except AuthenticationFailed:
            return None

    def _session(self, key: str, request_id: str) -> Auth:
        cached = self.sessions.get(key) if self.bus.healthy else self.sessions.bypass()
        if cached is None:
            cached = self.rpc.call("users", "authenticate_session",
                                   Caller(request_id=request_id), key=key)
            if cached is None:
                return Auth()
            self.sessions.put(key, cached)
        caller = self._with_request(Caller(**cached["caller"]), request_id)
        return Auth(caller, session_id=cached["session_id"], csrf=cached["csrf"])

    def _with_request(self, caller: Caller, request_id: str) -> Caller:
        return caller.model_copy(update={"request_id": request_id})

    def _token(self, key: str, request_id: str) -> tuple[Caller, int]:
        if not key:
            raise AuthenticationFailed("Invalid token header. No credentials provided.")
        if " " in key:
            raise AuthenticationFailed(
                "Invalid token header. Token string should not contain spaces.")
        cached = self.tokens.get(key) if self.bus.healthy else self.tokens.bypass()
        if cached is not None and cached[2] < date.today().isoformat():
            cached = None  # expired since it was cached: let the users service say so
        if cached is None:
            answer = self.rpc.call("users", "authenticate_token",
                                   Caller(request_id=request_id), key=key)
            cached = (Caller(**answer["caller"]), answer["token_id"], answer["expiry"])
            self.tokens.put(key, cached)
        return self._with_request(cached[0], request_id), cached[1]

    def _basic(self, credentials: str, request_id: str, address: str) -> Caller:
        """Checked (and throttled, by name and `address`) by the users service."""
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            raise AuthenticationFailed(
                "Invalid basic header. Credentials not correctly base64 encoded.")
        username, sep, password = decoded.partition(":")
        if not sep:
            raise AuthenticationFailed("Invalid basic header. No credentials provided.")
        # per address too: a throttled address must not ride on another one's success
        digest = hashlib.sha256(f"{address}\n{decoded}".encode()).hexdigest()
        cached = self.passwords.get(digest) if self.bus.healthy else self.passwords.bypass()
        if cached is None:
            answer = self.rpc.call("users", "authenticate_password",
                                   Caller(request_id=request_id),
                                   username=username, password=password, address=address)
            cached = Caller(**answer["caller"])
            self.passwords.put(digest, cached)
        return self._with_request(cached, request_id)


def check_origin(req, site: sites.Site):
    """A browser's cross-site request: its `Origin` (or, without one, its `Referer`) must be
    a trusted origin of `site`. Clients that are not browsers send neither and pass."""
    origin = req.get_header("Origin")
    if origin:
        if origin.rstrip("/") not in site.trusted_origins(req):
            raise PermissionDenied(f"CSRF Failed: Origin checking failed - {origin} does not "
                                   "match any trusted origins.")
        return
    referer = req.get_header("Referer")
    if referer:
        source = sites.origin_of(referer)
        if not source:
            raise PermissionDenied("CSRF Failed: Referer checking failed - Referer is malformed.")
        if source not in site.trusted_origins(req):
            raise PermissionDenied(f"CSRF Failed: Referer checking failed - {referer} does not "
                                   "match any trusted origins.")


def check_login_csrf(req, site: sites.Site):
    """Login CSRF (a cross-site form signing the browser in to the attacker's account):
    `POST /api/auth/login/` must come from a trusted origin. No session exists yet, so
    there is no token to compare; InvenTree 264 checks nothing here."""
    check_origin(req, site)


def check_csrf(req, auth: Auth, site: sites.Site):
    """Django's CSRF rules for unsafe requests authenticated by the session cookie."""
    if auth.csrf is None or req.method in SAFE_METHODS:
        return
    origin = req.get_header("Origin")
    if origin and origin.rstrip("/") not in site.trusted_origins(req):
        raise PermissionDenied(f"CSRF Failed: Origin checking failed - {origin} does not "
                               "match any trusted origins.")
    token = req.get_header("X-CSRFToken")
    if not token:
        raise PermissionDenied("CSRF Failed: CSRF token missing.")
    if len(token) != len(auth.csrf):
        raise PermissionDenied("CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header "
                               "has incorrect length.")
    if not hmac.compare_digest(token, auth.csrf):
        raise PermissionDenied("CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header "
                               "incorrect.")
