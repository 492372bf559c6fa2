"""`/api/user/me/`, `/api/user/token/`, `/api/user/roles/` (users service)."""
from gateway import http, sites
from svckit.listing import page_list

from .base import CreateMixin, DetailResource, ListResource, Resource


class Me(Resource):
    """The caller's own account: GET, PUT, PATCH, DELETE (as InvenTree)."""

    def on_get(self, req, resp):
        http.send(resp, self.call(req, "users", "me"))

    def _update(self, req, resp, partial):
        data = http.clean(self.body(req))
        http.send(resp, self.call(req, "users", "update_me", data=data, partial=partial,
                                  session_id=req.context.auth.session_id))

    def on_put(self, req, resp):
        self._update(req, resp, False)

    def on_patch(self, req, resp):
        self._update(req, resp, True)

    def on_delete(self, req, resp):
        self.call(req, "users", "delete_me")
        resp.status = 204


class UserList(CreateMixin, ListResource):
    service, options_method = "users", "user_options"
    list_method, create_method = "list_users", "create_user"


class UserDetail(DetailResource):
    service, options_method = "users", "user_options"
    get_method, update_method, delete_method = "get_user", "update_user", "delete_user"

    def _update(self, req, resp, id, partial):
        """A new password for oneself keeps the session that set it (others end)."""
        data = http.clean(self.body(req))
        http.send(resp, self.call(req, self.service, self.update_method, pk=http.int_id(id),
                                  data=data, partial=partial,
                                  session_id=req.context.auth.session_id))


class GroupList(CreateMixin, ListResource):
    service, options_method = "users", "group_options"
    list_method, create_method = "list_groups", "create_group"


class GroupDetail(DetailResource):
    service, options_method = "users", "group_options"
    get_method, update_method, delete_method = "get_group", "update_group", "delete_group"

    def on_get(self, req, resp, id):
        http.send(resp, self.call(req, self.service, self.get_method, pk=http.int_id(id),
                                  params=http.query(req)))


class Roles(Resource):
    def on_get(self, req, resp):
        http.send(resp, self.call(req, "users", "roles"))


def token_meta(api, req) -> dict:
    """What InvenTree stores with a token about the request that made it."""
    host, port = sites.request_host(req) or ("", "")
    return {"user_agent": req.user_agent or "", "remote_addr": api.proxies.client_address(req),
            "remote_host": "", "remote_user": "", "server_name": host,
            "server_port": port or ("443" if req.scheme == "https" else "80")}


class Token(Resource):
    creates_on_get = True  # a GET that issues a token honours an Idempotency-Key

    def on_get(self, req, resp):
        name = req.get_param("name") or ""
        http.send(resp, self.call(req, "users", "token", name=name,
                                  meta=token_meta(self.api, req)))


class TokenListing(Resource):
    """The caller's own tokens, revoked and expired ones included, keys redacted."""

    def on_get(self, req, resp, id=None):
        tokens = self.call(req, "users", "tokens", current_token_id=req.context.auth.token_id)
        http.send_list(req, resp, page_list(tokens, http.query(req)))


class TokenList(TokenListing):
    """POST makes a new token with a chosen name and expiry (an addition to InvenTree 264:
    later versions have it), its key answered this once."""

    def on_post(self, req, resp):
        http.send(resp, self.call(req, "users", "create_token", data=http.clean(self.body(req)),
                                  meta=token_meta(self.api, req)), 201)


class TokenDetail(TokenListing):
    """As in InvenTree, GET on a token's URL lists them all; DELETE revokes that one."""

    def on_delete(self, req, resp, id):
        pk = http.int_id(id)
        self.call(req, "users", "revoke_token", pk=pk)
        self.api.auth.tokens.drop_where(lambda cached: cached[1] == pk)  # others hear the event
        resp.status = 204


class OwnerList(Resource):
    def on_get(self, req, resp):
        http.send_list(req, resp, self.call(req, "users", "list_owners", params=http.query(req)))


class OwnerDetail(Resource):
    def on_get(self, req, resp, id):
        http.send(resp, self.call(req, "users", "get_owner", pk=http.int_id(id)))


def register(app, api):
    app.add_route("/api/user/", UserList(api))
    # InvenTree's patterns here are `^(?P<pk>[0-9]+)/?$`: digits only, slash optional
    app.add_route("/api/user/{id:int}/", UserDetail(api))
    app.add_route("/api/user/{id:int}", UserDetail(api))
    app.add_route("/api/user/group/", GroupList(api))
    app.add_route("/api/user/group/{id:int}/", GroupDetail(api))
    app.add_route("/api/user/group/{id:int}", GroupDetail(api))
    app.add_route("/api/user/owner/", OwnerList(api))
    app.add_route("/api/user/owner/{id}/", OwnerDetail(api))
    app.add_route("/api/user/tokens/", TokenList(api))
    app.add_route("/api/user/tokens/{id}/", TokenDetail(api))
    app.add_route("/api/user/me/", Me(api))
    app.add_route("/api/user/roles/", Roles(api))
    app.add_route("/api/user/token/", Token(api))
