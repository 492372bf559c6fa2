"""Every setting the gateway process reads (README, "Configuration"), read once at start:
`gateway/wsgi.py` and `gateway/gunicorn_conf.py` build `GatewaySettings()` and pass it on;
a test builds `GatewaySettings(GATEWAY_MAX_BODY_BYTES=1000)`."""
from svckit.settings import Flag, MediaSettings


class GatewaySettings(MediaSettings):
    # gunicorn (gateway/gunicorn_conf.py)
    GATEWAY_BIND: str = "127.0.0.1:8000"
    GATEWAY_WORKERS: int = 2
    GATEWAY_THREADS: int = 8
    GATEWAY_ACCESS_LOG: str = ""
    GATEWAY_TRUSTED_PROXIES: str = "127.0.0.1,::1"
    # health and metrics (gateway/health.py, gateway/metrics.py, gateway/gunicorn_conf.py)
    METRICS_PORT: int = 0
    METRICS_HOST: str = "127.0.0.1"
    READYZ_TIMEOUT: float = 2.0
    PROMETHEUS_MULTIPROC_DIR: str = ""
    # requests and answers
    GATEWAY_MAX_BODY_BYTES: int = 10 * 1024 * 1024
    LIST_MAX_ROWS: int = 100000
    ATTACHMENT_MAX_BYTES: int = 100 * 1024 * 1024
    NOTES_IMAGE_MAX_BYTES: int = 5 * 1024 * 1024
    IMPORT_MAX_BYTES: int = 1024 * 1024 * 1024
    IMPORT_RPC_TIMEOUT: float = 300.0
    WEBHOOK_MAX_BYTES: int = 256 * 1024
    AUTH_CACHE_SECONDS: float = 5.0
    # the audit trail's export and live feed (gateway/resources/eventexport.py,
    # gateway/eventstream.py)
    EVENTS_EXPORT_PAGE: int = 1000
    EVENTS_STREAM_MAX_LISTENERS: int = 4
    EVENTS_STREAM_BUFFER: int = 1000
    EVENTS_STREAM_HEARTBEAT: float = 15.0
    EVENTS_STREAM_POLL: float = 0.25
    EVENTS_STREAM_MAX_SECONDS: float = 3600.0
    RPC_RETRIES: int = 2  # an RPC whose outcome is unknown is sent again this many times
    # the site, its cookies and the links it mails
    INVENTREE_SITE_URL: str = ""
    INVENTREE_ALLOWED_HOSTS: str = ""
    INVENTREE_TRUSTED_ORIGINS: str = ""
    INVENTREE_COOKIE_SECURE: Flag = False
    INVENTREE_LOGIN_REDIRECT: str = "/"
    # the operator console's built files (gateway/console.py); empty: console/dist
    CONSOLE_DIR: str = ""
    # `GET /api/`
    INVENTREE_INSTANCE: str = "InvenTree"
    INVENTREE_EMAIL_HOST: str = ""
    INVENTREE_DOCKER: Flag = False
    INVENTREE_PKG_INSTALLER: str = "PIP"
    INVENTREE_PKG_TARGET: str | None = None
