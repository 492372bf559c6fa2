"""Browser login (`/api/auth/...`), the magic login link (`/api/email/...`) and the UI
preference (`/api/web/ui_preference/`)."""
import logging

import falcon

from gateway import http, sites
from gateway.auth import check_login_csrf
from svckit.errors import ValidationFailed

from .base import Resource

log = logging.getLogger(__name__)

SESSION_MAX_AGE = 1209600  # two weeks, as InvenTree
CSRF_MAX_AGE = 31449600


def set_session_cookies(req, resp, site: sites.Site, started: dict):
    """`Secure` with INVENTREE_COOKIE_SECURE, or when the request came over HTTPS."""
    secure = site.secure_cookies(req)
    resp.set_cookie("sessionid", started["session"], max_age=started.get("max_age", SESSION_MAX_AGE),
                    path="/", secure=secure, http_only=True, same_site="Lax")
    resp.set_cookie("csrftoken", started["csrf"], max_age=CSRF_MAX_AGE, path="/",
                    secure=secure, http_only=False, same_site="Lax")


class Login(Resource):
    """Username and password in the body; answers the user's token named "" and starts a
    session (cookies `sessionid` and `csrftoken`). A browser must post from a trusted
    origin (login CSRF); the password check is throttled by name and client address."""

    auth = "none"

    def on_post(self, req, resp):
        check_login_csrf(req, self.api.site)
        data = self.body(req)
        data = data if isinstance(data, dict) else {}
        errors = {k: ["This field is required."] for k in ("password",) if not data.get(k)}
        if errors:
            raise ValidationFailed(errors)
        if not data.get("username"):
            raise ValidationFailed({"non_field_errors": ['Must include "username" and "password".']})
        started = self.call(req, "users", "login", username=str(data["username"]),
                            password=str(data["password"]),
                            address=self.api.proxies.client_address(req))
        set_session_cookies(req, resp, self.api.site, started)
        http.send(resp, {"key": started["key"]})


class Logout(Resource):
    """Ends the session; a token sent in the header is revoked (InvenTree deletes it)."""

    auth = "optional"

    def on_post(self, req, resp):
        auth = req.context.auth
        http.send(resp, self.call(req, "users", "logout", session_id=auth.session_id,
                                  token_id=auth.token_id))
        resp.unset_cookie("sessionid", path="/")


class AuthUser(Resource):
    def on_get(self, req, resp):
        me = self.call(req, "users", "me")
        http.send(resp, {k: me[k] for k in ("pk", "username", "email", "first_name",
                                            "last_name")})

    def _update(self, req, resp, partial):
        data = http.clean(self.body(req))
        http.send(resp, self.call(req, "users", "update_auth_user", data=data, partial=partial))

    def on_put(self, req, resp):
        self._update(req, resp, False)

    def on_patch(self, req, resp):
        self._update(req, resp, True)


class PasswordChange(Resource):
    """Other browser sessions of the user end; `revoke_tokens: true` revokes the user's API
    tokens too (but the one making the request)."""

    def on_post(self, req, resp):
        auth = req.context.auth
        http.send(resp, self.call(req, "users", "change_password", data=self.body(req),
                                  session_id=auth.session_id, token_id=auth.token_id,
                                  address=self.api.proxies.client_address(req)))


class EmailGenerate(Resource):
    """Sends a one-time login link to the address if exactly one user has it; the answer
    is the same either way. The link points at INVENTREE_SITE_URL or at an allowed host,
    never at whatever Host the request named (no mail then)."""

    auth = "none"
    csrf_exempt = True

    def on_post(self, req, resp):
        data = self.body(req)
        email = data.get("email") if isinstance(data, dict) else None
        if email is None:
            raise ValidationFailed({"email": ["This field is required."]})
        base = self.api.site.link_base(req)
        if base is None:  # the same answer, and no link pointing at a host we do not know
            log.warning("login link not sent: host %r is not in INVENTREE_ALLOWED_HOSTS and "
                        "INVENTREE_SITE_URL is not set", req.get_header("Host"))
            return http.send(resp, {"status": "ok"})
        http.send(resp, self.call(req, "system", "email_login_link", email=str(email),
                                  base_url=base))


class EmailLogin(Resource):
    """The link in the mail: starts a session and redirects to the site."""

    auth = "none"

    def on_get(self, req, resp):
        started = self.call(req, "users", "login_with_magic_link",
                            key=req.get_param("sesame") or "")
        set_session_cookies(req, resp, self.api.site, started)
        resp.status = falcon.HTTP_302
        resp.location = self.api.settings.INVENTREE_LOGIN_REDIRECT


class UiPreference(Resource):
    """`/api/web/ui_preference/`: which user interface the browser prefers. InvenTree keeps
    it in the Django session; here the browser keeps it, in a cookie of its own."""

    auth = "optional"
    csrf_exempt = True
    CHOICES = ("cui", "pui")

    def _answer(self, resp, method):
        http.send(resp, {"preferred_method": method, "pui": method == "pui",
                         "cui": method == "cui"})

    def on_get(self, req, resp):
        method = req.cookies.get("ui_preference")
        self._answer(resp, method if method in self.CHOICES else "cui")

    def on_put(self, req, resp):
        data = self.body(req)
        value = data.get("preferred_method") if isinstance(data, dict) else None
        if value is None:
            raise ValidationFailed({"preferred_method": ["This field is required."]})
        if value not in self.CHOICES:
            raise ValidationFailed({"preferred_method": [f'"{value}" is not a valid choice.']})
        resp.set_cookie("ui_preference", value, max_age=CSRF_MAX_AGE, path="/",
                        secure=self.api.site.secure_cookies(req),
                        http_only=True, same_site="Lax")
        self._answer(resp, value)


def register(app, api):
    app.add_route("/api/web/ui_preference/", UiPreference(api))
    app.add_route("/api/auth/login/", Login(api))
    app.add_route("/api/auth/logout/", Logout(api))
    app.add_route("/api/auth/user/", AuthUser(api))
    app.add_route("/api/auth/password/change/", PasswordChange(api))
    app.add_route("/api/email/generate/", EmailGenerate(api))
    app.add_route("/api/email/login/", EmailLogin(api))
