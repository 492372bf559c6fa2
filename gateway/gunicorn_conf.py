"""gunicorn settings for the gateway, from the environment (see README). Read through
svckit.config, so that `/api/admin/config/` lists them too (the workers inherit the record)."""
from svckit import config as _config  # not `config`: that is a gunicorn setting

bind = _config.setting("GATEWAY_BIND", "127.0.0.1:8000")
workers = _config.setting("GATEWAY_WORKERS", 2, int)
worker_class = "gthread"
threads = _config.setting("GATEWAY_THREADS", 8, int)
keepalive = 5
timeout = int(_config.rpc_timeout() * 3)
graceful_timeout = 10
accesslog = _config.setting("GATEWAY_ACCESS_LOG") or None
loglevel = _config.setting("LOG_LEVEL", "info").lower()
# X-Forwarded-Proto (and -Ssl, -Protocol) only from these peers (gateway/proxies.py)
forwarded_allow_ips = _config.setting("GATEWAY_TRUSTED_PROXIES", "127.0.0.1,::1")


def pre_request(worker, req):
    """Let the app mark this request's connection to close (gateway.http.close_connection)."""
    from gateway import http
    http.SERVER.request = req


def on_starting(server):
    """Before workers fork: no `Server` header, security headers on gunicorn's own error
    pages (gateway.headers)."""
    from gateway import headers
    headers.install_in_gunicorn()
