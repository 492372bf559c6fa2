"""gunicorn settings for the gateway, from its GatewaySettings (see README)."""
from gateway import server_log
from gateway.settings import GatewaySettings

_settings = GatewaySettings()

bind = _settings.GATEWAY_BIND
workers = _settings.GATEWAY_WORKERS
worker_class = "gthread"
threads = _settings.GATEWAY_THREADS
keepalive = 5
timeout = int(_settings.RPC_TIMEOUT * 3)
graceful_timeout = 10
accesslog = _settings.GATEWAY_ACCESS_LOG or None
loglevel = _settings.LOG_LEVEL.lower()
# error log, access log and the app's records in LOG_FORMAT (gateway/server_log.py)
logger_class = server_log.logger_class(_settings)
# X-Forwarded-Proto (and -Ssl, -Protocol) only from these peers (gateway/proxies.py)
forwarded_allow_ips = _settings.GATEWAY_TRUSTED_PROXIES


def pre_request(worker, req):
    """Let the app mark this request's connection to close (gateway.http.close_connection)."""
    from gateway import http
    http.SERVER.request = req


def on_starting(server):
    """Before workers fork: no `Server` header, security headers on gunicorn's own error
    pages (gateway.headers), a longer lingering close (gateway.http)."""
    from gateway import headers, http
    headers.install_in_gunicorn()
    http.install_lingering_close()


# health and metrics (gateway/metrics_server.py): the workers' metrics directory is chosen
# before anything imports prometheus_client; the master serves their sum on METRICS_PORT
from gateway import metrics_server  # noqa: E402

_metrics_dir = metrics_server.prepare(_settings)
raw_env = [f"{metrics_server.ENV}={_metrics_dir}"] if _metrics_dir else []


def when_ready(server):
    metrics_server.start(_settings)


def worker_exit(server, worker):
    """In the worker, as it exits: requests still running after the graceful timeout (its
    master died, say, so nobody will kill it) are cut off now, closing their connections,
    rather than kept open by the interpreter's wait for their threads until their RPCs end
    (up to IMPORT_RPC_TIMEOUT: a client behind HAProxy hung 330 s after a `kill -9` of a
    gateway's master). A master that lives kills such a worker at that moment anyway."""
    import os

    from svckit import logs
    if getattr(worker, "nr_conns", 0) > 0:
        worker.log.warning("exiting with %s requests unanswered", worker.nr_conns)
        logs.flush()  # the lines that wait (svckit.logs.LineHandler): os._exit skips that
        os._exit(0)


def child_exit(server, worker):
    metrics_server.worker_exited(worker.pid)


def on_exit(server):
    metrics_server.finish()
