"""The operations port of a process: `GET /healthz` (alive), `GET /readyz` (ready to serve,
or 503 with the reasons) and `GET /metrics` (Prometheus text format). Never the API port,
never a token, nothing but health and counters.

`ops_app()` is the WSGI app (the gateway's gunicorn master serves it too, with its own
checks); `OpsServer` runs it in a nameko service process, on `METRICS_PORT` (0 or unset: off)
at `METRICS_HOST`, as eventlet's WSGI server in a managed thread of the container.
"""
import json
import logging
from typing import Callable

import eventlet
import eventlet.wsgi
from nameko.extensions import DependencyProvider

from svckit import health, metrics
from svckit.container_settings import settings_of

log = logging.getLogger(__name__)

JSON = "application/json"
Problems = Callable[[], dict[str, str]]


def _answer(start_response, status: str, body: bytes, content_type: str = JSON):
    start_response(status, [("Content-Type", content_type),
                            ("Content-Length", str(len(body))),
                            ("Cache-Control", "no-store")])
    return [body]


def _json(start_response, status: str, doc: dict):
    return _answer(start_response, status, json.dumps(doc).encode())


def readiness_answer(problems: dict[str, str]) -> tuple[str, dict]:
    """The status line and body of /readyz for these problems."""
    if not problems:
        return "200 OK", {"status": "ready"}
    return "503 Service Unavailable", {"status": "not ready", "reasons": problems}


def ops_app(problems: Problems | None, metrics: Callable[[], tuple[bytes, str]] | None):
    """A WSGI app for /healthz, /readyz (if `problems`) and /metrics (if `metrics`, which
    returns the exposition and its content type)."""

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        routes = {"/healthz"} | ({"/readyz"} if problems else set()) | (
            {"/metrics"} if metrics else set())
        if path not in routes:
            return _json(start_response, "404 Not Found", {"detail": "Not found."})
        if method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [
                ("Content-Type", JSON), ("Allow", "GET, HEAD")])
            return [json.dumps({"detail": f'Method "{method}" not allowed.'}).encode()]
        if path == "/healthz":
            return _json(start_response, "200 OK", {"status": "alive"})
        if path == "/readyz":
            assert problems is not None
            status, doc = readiness_answer(problems())
            return _json(start_response, status, doc)
        assert metrics is not None
        body, content_type = metrics()
        return _answer(start_response, "200 OK", body, content_type)

    return app


class OpsServer(DependencyProvider):
    """Serves the service process's operations port while its container runs (off when
    METRICS_PORT is 0; `port` is the port it listens on), at METRICS_HOST, from the
    container's settings (svckit.container_settings). Injects `problems()`, what keeps the
    service from being ready (svckit.health), for its `readiness` RPC."""

    def __init__(self):
        self.port = 0
        self.host = ""
        self.ready_timeout = 0.0
        self._sock = None
        self._thread = None

    def setup(self):
        settings = settings_of(self.container)
        self.host, self.ready_timeout = settings.METRICS_HOST, settings.READYZ_TIMEOUT
        if settings.METRICS_PORT:
            self._sock = eventlet.listen((self.host, settings.METRICS_PORT))
            self.port = self._sock.getsockname()[1]

    def start(self):
        if self._sock is None:
            return
        app = ops_app(self.problems, metrics.service_exposition(self.container))
        sock = self._sock
        self._thread = self.container.spawn_managed_thread(
            lambda: eventlet.wsgi.server(sock, app, log_output=False, keepalive=False,
                                         socket_timeout=30, debug=False),
            identifier="ops-server")
        log.info("health and metrics on %s:%s", self.host, self.port)

    def problems(self) -> dict[str, str]:
        return health.service_problems(self.container, self.ready_timeout)

    def get_dependency(self, worker_ctx):
        return self.problems

    def stop(self):
        if self._thread is not None:
            self._thread.kill()
            self._thread = None
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
            self._sock = None

    def kill(self):
        self.stop()
