"""Outbound HTTP to the addresses an operator allows (webhook deliveries).

A target URL is http(s), carries no credentials, and its host matches the allow-list (host
patterns such as `hooks.example.com`, `*.example.com`, `*`). Every address the host resolves
to is checked before a request: private, loopback, link-local and other non-public addresses
are refused unless allowed (`allow_private`), and the connection goes to an address that
was checked (a second lookup cannot swap in another). Redirects are never followed (a 3xx is
an answer like any other); each socket operation has a timeout, and at most a few KB of the
answer are read."""
import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

MAX_URL_CHARS = 2000
ANSWER_BYTES = 4096  # of a receiver's answer body, kept for the delivery log


class RefusedTarget(ValueError):
    """A URL or address the settings do not allow; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with its query


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (refused, unreachable, timed out)
    error: str  # "" when there is an HTTP answer
    latency_ms: float
    body: str = ""


def host_allowed(host: str, allowed_hosts: list[str]) -> bool:
    return any(fnmatchcase(host.lower(), pattern.lower()) for pattern in allowed_hosts)


def parse_target(url, allowed_hosts: list[str]) -> Target:
    """The parts of a target URL, or RefusedTarget saying what is wrong with it."""
    if not isinstance(url, str) or not url.strip():
        raise RefusedTarget("Enter a valid URL.")
    if len(url) > MAX_URL_CHARS:
        raise RefusedTarget(f"Ensure this field has no more than {MAX_URL_CHARS} characters.")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise RefusedTarget("Enter a valid URL.") from None
    if parts.scheme not in ("http", "https"):
        raise RefusedTarget("Only http and https URLs are allowed.")
    if not parts.hostname:
        raise RefusedTarget("Enter a valid URL.")
    if parts.username is not None or parts.password is not None:
        raise RefusedTarget("The URL must not carry credentials: the receiver checks the "
                            "signature made with the subscription's secret.")
    if not host_allowed(parts.hostname, allowed_hosts):
        raise RefusedTarget(f"The host {parts.hostname!r} is not in WEBHOOK_ALLOWED_HOSTS.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80),
                  path)


def address_allowed(address: str, allow_private: bool) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if ip.is_unspecified or ip.is_multicast:
        return False
    return allow_private or ip.is_global


def resolve(target: Target, allow_private: bool) -> list[str]:
    """Every address the host resolves to, each one checked; RefusedTarget if the host does
    not resolve or any address is not allowed."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RefusedTarget(f"The host {target.host!r} could not be resolved ({exc}).") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    refused = [a for a in addresses if not address_allowed(a, allow_private)]
    if refused or not addresses:
        raise RefusedTarget(f"The host {target.host!r} resolves to an address that is not "
                            f"allowed ({', '.join(refused)}): private and loopback addresses "
                            "need WEBHOOK_ALLOW_PRIVATE.")
    return addresses


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to one checked address, with the URL's host in `Host`."""

    def __init__(self, target: Target, address: str, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """An HTTPS connection to one checked address; the certificate is checked against the
    URL's host (SNI too)."""

    def __init__(self, target: Target, address: str, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout,
                         context=ssl.create_default_context())
        self.address = address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(target: Target, body: bytes, headers: dict, timeout: float,
         allow_private: bool) -> Answer:
    """POST `body` to the target; never raises for the receiver's or the network's faults
    (they are in the Answer)."""
    started = time.monotonic()

    def answer(status, error, text=""):
        return Answer(status, error, round((time.monotonic() - started) * 1000, 1), text)

    try:
        addresses = resolve(target, allow_private)
    except RefusedTarget as exc:
        return answer(None, str(exc))
    connection_class = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    error = ""
    for address in addresses:
        conn = connection_class(target, address, timeout)
        try:
            conn.request("POST", target.path, body=body, headers={
                "Content-Type": "application/json", "User-Agent": "inventree-webhooks/1",
                **headers})
            response = conn.getresponse()
            text = response.read(ANSWER_BYTES).decode("utf-8", "replace")
            return answer(response.status, "", text)
        except socket.timeout:
            return answer(None, f"no answer within {timeout:g} s")
        except (OSError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()
    return answer(None, error)
