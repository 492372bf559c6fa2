"""`GET /api/events/history/?stream=<type>:<id>[&at=<time>]` (staff): one object's state as
of a time, rebuilt by the audit service from the events it recorded (services.audit.history
holds the rule); 404 for a stream with no events, 400 naming a bad parameter."""
from gateway import http
from svckit.errors import PermissionDenied

from .base import Resource


def require_staff(req):
    """403 for a caller who is neither staff nor superuser (the gateway checks first, so
    that a streamed answer never starts for one; the service checks again)."""
    if not req.context.caller.is_admin:
        raise PermissionDenied()


class History(Resource):
    def on_get(self, req, resp):
        require_staff(req)
        http.send(resp, self.call(req, "audit", "event_history", params=http.query(req)))


def register(app, api):
    app.add_route("/api/events/history/", History(api))
