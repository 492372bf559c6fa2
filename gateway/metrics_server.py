"""The gateway's operations port, served by gunicorn's master (gateway/gunicorn_conf.py's
hooks): `GET /metrics`, the sum of every worker's metrics (prometheus_client's multiprocess
mode: each worker writes its own files to PROMETHEUS_MULTIPROC_DIR), and `GET /healthz`.
Off when METRICS_PORT is 0. The public port's /healthz and /readyz are gateway/health.py.

prometheus_client picks its mode when it is imported, from the environment: `prepare()`
chooses the directory before anything imports it, gunicorn_conf.py hands it to the workers
as `raw_env` (gunicorn sets it before they load the app), and this module imports
prometheus_client (and svckit.opsserver, which does) only inside the functions that run
later.
"""
import shutil
import tempfile
import threading
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from gateway.settings import GatewaySettings

ENV = "PROMETHEUS_MULTIPROC_DIR"
_directory: Path | None = None  # the workers' metrics directory, once prepared
_made_dir: Path | None = None  # ... if prepare() made it


def prepare(settings: GatewaySettings) -> Path | None:
    """In the master, before workers fork: the workers' metrics directory, emptied of an
    earlier run's files (a fresh temporary one when PROMETHEUS_MULTIPROC_DIR is not set);
    None when metrics are off."""
    global _directory, _made_dir
    if not settings.METRICS_PORT:
        return None
    if settings.PROMETHEUS_MULTIPROC_DIR:
        directory = Path(settings.PROMETHEUS_MULTIPROC_DIR)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
    else:
        directory = _made_dir = Path(tempfile.mkdtemp(prefix="inventree-gateway-metrics-"))
    _directory = directory
    return directory


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # scrapes come every few seconds
        pass


def exposition() -> tuple[bytes, str]:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(_directory))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def start(settings: GatewaySettings) -> WSGIServer | None:
    """Serve /metrics and /healthz on METRICS_HOST:METRICS_PORT from a daemon thread."""
    if not settings.METRICS_PORT or _directory is None:
        return None
    from svckit.opsserver import ops_app
    server = make_server(settings.METRICS_HOST, settings.METRICS_PORT, ops_app(None, exposition),
                         server_class=_Server, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


def worker_exited(pid: int) -> None:
    """Drop a dead worker's live gauges (its counters and histograms stay in the sum)."""
    if _directory is not None:
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(pid, path=str(_directory))


def finish() -> None:
    """At the master's exit: remove the directory prepare() made."""
    if _made_dir is not None:
        shutil.rmtree(_made_dir, ignore_errors=True)
