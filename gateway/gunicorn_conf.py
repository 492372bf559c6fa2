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
# X-Forwarded-Proto (and -Ssl, -Protocol) only from these peers (gateway/proxies.py)
forwarded_allow_ips = os.environ.get("GATEWAY_TRUSTED_PROXIES", "127.0.0.1,::1")


def pre_request(worker, req):
    """Let the app mark this request's connection to close (gateway.http.close_connection)."""
    from gateway import http
    http.SERVER.request = req
