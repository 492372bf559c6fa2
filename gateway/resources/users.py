"""`/api/user/me/`, `/api/user/token/`, `/api/user/roles/` (users service)."""
from gateway import http

from .base import Resource


class Me(Resource):
    def on_get(self, req, resp):
        http.send(resp, self.call(req, "users", "me"))


class Roles(Resource):
    def on_get(self, req, resp):
        http.send(resp, self.call(req, "users", "roles"))


class Token(Resource):
    def on_get(self, req, resp):
        meta = {"user_agent": req.user_agent or "", "remote_addr": req.remote_addr or "",
                "remote_host": "", "remote_user": "", "server_name": req.host or "",
                "server_port": str(req.port or "")}
        name = req.get_param("name") or ""
        http.send(resp, self.call(req, "users", "token", name=name, meta=meta))


def register(app, api):
    app.add_route("/api/user/me/", Me(api))
    app.add_route("/api/user/roles/", Roles(api))
    app.add_route("/api/user/token/", Token(api))
