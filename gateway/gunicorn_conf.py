"""gunicorn settings for the gateway, from the environment (see README)."""
import os

bind = os.environ.get("GATEWAY_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GATEWAY_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GATEWAY_THREADS", "8"))
keepalive = 5
timeout = int(float(os.environ.get("RPC_TIMEOUT", "10")) * 3)
graceful_timeout = 10
accesslog = os.environ.get("GATEWAY_ACCESS_LOG") or None
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def pre_request(worker, req):
    """Let the app mark this request's connection to close (gateway.http.close_connection)."""
    from gateway import http
    http.SERVER.request = req


def on_starting(server):
    """Before workers fork: no `Server` header, security headers on gunicorn's own error
    pages (gateway.headers)."""
    from gateway import headers
    headers.install_in_gunicorn()
