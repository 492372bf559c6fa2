"""HAProxy (Debian's package) in front of the gateway instances, as a Kubernetes Service
spreads requests over pods: round robin, a health check on every gateway like deploy/'s
readiness probe (`GET /readyz`: 503 only when that gateway cannot reach the broker; a
service that is down leaves every gateway in, see gateway/health.py; 5 s to answer, every
second; two failures take a gateway out, one success brings it back), a request whose
connection to a gateway failed, or whose gateway closed it without an answer, sent to
another (the latter only when repeating it is safe: a GET or a write with an
Idempotency-Key).
It runs in the foreground as a child process, with its configuration generated into its
directory and a stats socket there that `servers_status()` reads.
"""
import json
import os
import signal
import socket
import subprocess
import time
from http import HTTPStatus
from pathlib import Path

from svckit import children

STOP_SECONDS = 10.0
# the gateway's security headers (gateway.headers.SECURITY_HEADERS, which a test compares),
# also on answers HAProxy writes itself (a request it cannot parse, no gateway up); an
# answer's own headers are never replaced
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; sandbox"),
)

ERRORS = {400: "Bad request", 408: "Request timed out", 500: "Load balancer error",
          502: "Bad gateway", 503: "No gateway is available", 504: "Gateway timed out"}

CONFIG = """\
global
    maxconn 1024
    stats socket {socket} mode 600 level admin
    hard-stop-after {hard_stop}s

defaults
    mode http
    option forwardfor
    option redispatch 1
    retries 2
    timeout connect 2s
    timeout check 5s
    timeout client 330s
    timeout server 330s  # above IMPORT_RPC_TIMEOUT: creating an import session may take 300 s
    timeout http-keep-alive 5s

frontend api
    bind {bind}
    default_backend gateways
{security_headers}

backend gateways
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server check inter 1s fall 2 rise 1
    # a request whose gateway died before answering goes to another gateway, if repeating it
    # is safe: a GET, or a write carrying an Idempotency-Key (applied once whatever happens);
    # its body is read before a gateway is chosen, so that the repeat has it (one buffer's
    # worth: a larger upload is not repeated)
    option http-buffer-request
    retry-on conn-failure empty-response
    http-request disable-l7-retry if !METH_GET !{{ req.hdr(Idempotency-Key) -m found }}
{servers}
"""


class LoadBalancer:
    """`servers`: gateway name -> its address (host:port)."""

    def __init__(self, directory: Path, bind: str, servers: dict[str, str]):
        self.directory = directory
        self.bind = bind
        self.servers = servers
        self.socket = directory / "haproxy.sock"
        self.config = directory / "haproxy.cfg"
        self.proc: subprocess.Popen | None = None

    def write_config(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        servers = "\n".join(f"    server {name} {address}"
                            for name, address in self.servers.items())
        headers = "\n".join(f'    http-after-response set-header {name} "{value}" '
                            f'if !{{ res.hdr({name}) -m found }}'
                            for name, value in SECURITY_HEADERS)
        headers += "".join(f"\n    errorfile {status} {self._error_file(status, detail)}"
                           for status, detail in ERRORS.items())
        self.config.write_text(CONFIG.format(socket=self.socket, bind=self.bind,
                                             security_headers=headers,
                                             hard_stop=int(STOP_SECONDS / 2), servers=servers))

    def _error_file(self, status: int, detail: str) -> Path:
        """An answer HAProxy writes itself, before any rule runs (a request it cannot parse,
        a timeout, no gateway up): InvenTree's error shape, with the security headers."""
        body = json.dumps({"detail": detail})
        path = self.directory / f"{status}.http"
        path.write_text(f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
                        "Content-Type: application/json\r\nCache-Control: no-cache\r\n"
                        "Connection: close\r\n"
                        + "".join(f"{name}: {value}\r\n" for name, value in SECURITY_HEADERS)
                        + f"Content-Length: {len(body)}\r\n\r\n{body}")
        return path

    def start(self, wait: float = 30.0):
        """Start, and wait until every gateway passed its health check."""
        self.write_config()
        log = open(self.directory / "haproxy.log", "ab")
        try:
            self.proc = children.spawn(["haproxy", "-db", "-f", str(self.config)],
                                       dict(os.environ), log)
        finally:
            log.close()
        deadline = time.monotonic() + wait
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"HAProxy exited (see {self.directory / 'haproxy.log'})")
            try:
                if all(s["status"] == "UP" for s in self.servers_status().values()):
                    return
            except OSError:  # its socket is not there yet
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("HAProxy did not see every gateway up")
            time.sleep(0.2)

    def _command(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.socket))
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def servers_status(self) -> dict[str, dict]:
        """Each gateway -> `status` (UP, DOWN, ...) and `requests` (sessions it was sent)."""
        lines = self._command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        result = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == "gateways" and row.get("svname") in self.servers:
                result[row["svname"]] = {"status": row["status"], "requests": int(row["stot"])}
        return result

    def set_state(self, name: str, state: str):
        """`ready`, `drain` (no new requests, those open finish) or `maint` for one gateway,
        as Kubernetes takes a terminating pod out of its Service's endpoints."""
        answer = self._command(f"set server gateways/{name} state {state}").strip()
        if answer:
            raise RuntimeError(f"HAProxy: set server {name} state {state}: {answer}")

    def current_sessions(self, name: str) -> int:
        """Requests open on one gateway now."""
        lines = self._command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == "gateways" and row.get("svname") == name:
                return int(row["scur"] or 0)
        raise KeyError(name)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """Soft stop: no new connections, those open finish (cut after hard-stop-after)."""
        if self.proc is not None:
            children.stop([self.proc], sig=signal.SIGUSR1, timeout=STOP_SECONDS)

    def kill(self):
        if self.proc is not None:
            children.kill(self.proc)
