"""gunicorn's logger for the gateway: its error log, its access log (GATEWAY_ACCESS_LOG) and
every other record of the process (the app's request lines, gateway.request_log) in the
process's LOG_FORMAT (svckit.logs). An access line carries `method`, `path` (as sent),
`status`, `duration_ms`, `bytes`, `remote` and the answer's `request_id`.

`gateway/gunicorn_conf.py` sets `logger_class = logger_class(settings)`.
"""
import logging

from gunicorn.glogging import Logger

from svckit import logs, tracing


def logger_class(settings) -> type:
    """A gunicorn Logger writing in `settings.LOG_FORMAT` at `settings.LOG_LEVEL`."""
    log_format, level, flush = settings.LOG_FORMAT, settings.LOG_LEVEL, settings.LOG_FLUSH_SECONDS
    logs.formatter(log_format)  # an unknown format stops gunicorn at start

    class GatewayLogger(Logger):
        def setup(self, cfg):
            super().setup(cfg)
            logs.configure("gateway", log_format, level, tracing.current_ids,
                           flush_seconds=flush)
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.setFormatter(logs.formatter(log_format))

        def access(self, resp, req, environ, request_time):
            if not self.cfg.accesslog or not self.access_log.isEnabledFor(logging.INFO):
                return
            try:
                status = int(str(resp.status).split(None, 1)[0])
            except ValueError:
                status = 0
            request_id = next((value for name, value in resp.headers
                               if name.lower() == "x-request-id"), "")
            duration_ms = round(request_time.total_seconds() * 1000, 3)
            method = environ.get("REQUEST_METHOD", "-")
            path = environ.get("RAW_URI", "-")[:2000]
            self.access_log.info("%s %s %s", method, path, status, extra={
                "request_id": request_id, "method": method, "path": path, "status": status,
                "duration_ms": duration_ms, "bytes": getattr(resp, "response_length", None),
                "remote": environ.get("REMOTE_ADDR", "-")})

    return GatewayLogger
