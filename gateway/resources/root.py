"""`GET /api/` (server information, §15), `GET /api/schema/` and `GET /api/events/`."""
import json
import platform
from pathlib import Path

from gateway import http
from svckit.errors import ApiError, NotFound, PermissionDenied
from svckit.layout import service_names

from .base import Resource

API_VERSION = 264
SERVER_VERSION = "0.17.0 dev"
SCHEMA_FILE = Path(__file__).resolve().parent.parent / "openapi.json"


class Root(Resource):
    auth = "optional"

    def on_get(self, req, resp):
        caller = req.context.caller
        staff = bool(caller and caller.is_admin)
        settings = self.api.settings
        doc = {
            "server": "InvenTree",
            "version": SERVER_VERSION,
            "instance": settings.INVENTREE_INSTANCE,
            "apiVersion": API_VERSION,
            "worker_running": False,
            "worker_pending_tasks": 0,
            "plugins_enabled": True,
            "plugins_install_disabled": True,
            "active_plugins": self.active_plugins(req),
            "email_configured": bool(settings.INVENTREE_EMAIL_HOST),
            "debug_mode": False,
            "docker_mode": settings.INVENTREE_DOCKER,
            "default_locale": "en-us",
            "system_health": None,
            "database": None,
            "platform": None,
            "installer": None,
            "target": None,
        }
        if staff:
            doc["system_health"] = self.api.services_healthy()
            engine = self.call(req, "users", "database_engine")
            doc["database"] = "sqlite3" if engine == "sqlite" else engine
            doc["platform"] = platform.platform(aliased=True)
            doc["installer"] = settings.INVENTREE_PKG_INSTALLER
            doc["target"] = settings.INVENTREE_PKG_TARGET
        http.send(resp, doc)


    def active_plugins(self, req) -> list:
        """Asked of the system service; the root document still answers without it."""
        try:
            return self.call(req, "system", "active_plugins")
        except ApiError:
            return []


class Schema(Resource):
    auth = "optional"
    _cache: bytes | None = None

    def on_get(self, req, resp):
        if Schema._cache is None:
            Schema._cache = http.dumps(json.loads(SCHEMA_FILE.read_text()))
        resp.content_type = http.JSON
        resp.data = Schema._cache


class AdminConfig(Resource):
    """Every configuration key any process read (the gateway's settings and each service's
    lookups), with its source and first access time; never the values. Superusers only."""

    def lookups(self, req) -> list:
        if not req.context.caller.is_superuser:
            raise PermissionDenied()
        merged = {item["key"]: item for item in self.api.settings.lookups()}
        for service in service_names():
            for item in self.call(req, service, "config_lookups"):
                if item["key"] not in merged or item["accessed"] < merged[item["key"]]["accessed"]:
                    merged[item["key"]] = item
        return sorted(merged.values(), key=lambda item: item["accessed"])

    def on_get(self, req, resp, key=None):
        items = self.lookups(req)
        if key is None:
            return http.send(resp, items)
        for item in items:
            if item["key"] == key:
                return http.send(resp, item)
        raise NotFound()


class Events(Resource):
    def on_get(self, req, resp):
        answer = self.call(req, "audit", "list_events", params=http.query(req))
        if answer.get("count_capped"):  # more matched than the audit service counts
            resp.set_header("X-Count-Capped", "true")
        http.send_list(req, resp, answer)


def register(app, api):
    app.add_route("/api/", Root(api))
    app.add_route("/api/schema/", Schema(api))
    app.add_route("/api/events/", Events(api))
    admin_config = AdminConfig(api)
    app.add_route("/api/admin/config/", admin_config)
    app.add_route("/api/admin/config/{key}/", admin_config)
