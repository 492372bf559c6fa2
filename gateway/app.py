"""The gateway: a Falcon app that authenticates, routes to services over RPC and maps errors.

Build with `create_app(settings)` (gateway.settings); gunicorn serves `gateway.wsgi:app`.
"""
import logging
import traceback

import falcon

from gateway import console, health, http, idempotency
from gateway.auth import Auth, Authenticator, check_csrf
from gateway.bus import EventBus
from gateway.cache import QueryCache
from gateway.headers import SecurityHeadersMiddleware
from gateway.metrics import MeasuredRpc, MetricsMiddleware
from gateway.proxies import TrustedProxies
from gateway.request_log import RequestLogMiddleware
from gateway.resources import (
    attachments,
    auth,
    eventexport,
    eventfeed,
    eventhistory,
    eventlog,
    importer,
    root,
    status,
    system,
    users,
    webhooks,
)
from gateway.settings import GatewaySettings
from gateway.sites import Site
from gateway.tracing import TracingMiddleware
from svckit import randomids
from svckit.blobstore import BlobStore
from svckit.context import Caller
from svckit.errors import ApiError, NotAuthenticated
from svckit.layout import service_names
from svckit.rpc_client import NotApplied, RemoteFailure, ThreadLocalRpc

log = logging.getLogger(__name__)


class Api:
    """What resources share: the settings, RPC, the event bus, the authenticator, the
    site's addresses, the trusted proxies, caches."""

    status_cache: QueryCache  # set by gateway.resources.status
    attachment_cache: QueryCache  # set by gateway.resources.attachments

    def __init__(self, settings: GatewaySettings, rpc=None, bus=None):
        self.settings = settings
        self.rpc = rpc or MeasuredRpc(ThreadLocalRpc(settings.AMQP_URI, settings.RPC_TIMEOUT,
                                                     settings.caller_signer(),
                                                     settings.RPC_RETRIES))
        self.bus = bus or EventBus(settings.AMQP_URI)
        self.proxies = TrustedProxies(settings.GATEWAY_TRUSTED_PROXIES)
        self.site = Site(settings)
        self.auth = Authenticator(self.rpc, self.bus, self.proxies, settings.AUTH_CACHE_SECONDS)
        self._blobs: BlobStore | None = None

    @property
    def blobs(self):
        """The attachments service's blob store, where uploads are checked in."""
        if self._blobs is None:
            self._blobs = self.settings.blob_store()
        return self._blobs

    def services_healthy(self) -> bool:
        for name in service_names():
            try:
                if self.rpc.call(name, "ping") != "pong":
                    return False
            except (ApiError, RemoteFailure):
                return False
        return True


class AuthMiddleware:
    def __init__(self, api: Api):
        self.api = api

    def process_request(self, req, resp):
        self.api.bus.start()
        rid = req.get_header("X-Request-ID") or randomids.uuid4_hex()
        req.context.request_id = rid[:64]
        req.context.caller = None
        req.context.auth = Auth()
        resp.set_header("X-Request-ID", req.context.request_id)

    def process_resource(self, req, resp, resource, params):
        if resource is None:
            return
        mode = getattr(resource, "auth", "required")
        auth = Auth() if mode == "none" else self.api.auth.authenticate(req, req.context.request_id)
        if auth.caller is None and mode == "required":
            raise NotAuthenticated()
        if not getattr(resource, "csrf_exempt", False):
            check_csrf(req, auth, self.api.site)
        req.context.auth = auth
        req.context.caller = auth.caller or Caller(request_id=req.context.request_id)


class UnreadBodyMiddleware:
    """An answer that may leave much of the request body unread closes the connection and
    says so (gateway.http.close_connection): an upload stopped part way (`close_connection`
    in the request context), or any error answer to a request whose body is over
    gunicorn's drain limit or chunked (refused before its body was read: 401, 404, 413 ...)."""

    def process_response(self, req, resp, resource, req_succeeded):
        if req.context.get("close_connection") or (
                resp.status_code >= 400 and http.body_may_be_unread(req)):
            http.close_connection(resp)


def _send_error(req, resp, status, detail):
    http.send(resp, detail, status)
    if status == 401:
        resp.set_header("WWW-Authenticate", "Token")


class GatewayApp(falcon.App):
    """The Falcon app, with the shared `Api` as `app.api` and its route list as `app.routes`."""

    api: Api

    def add_route(self, uri_template, resource, **kwargs):
        self.__dict__.setdefault("routes", []).append((uri_template, resource))
        super().add_route(uri_template, resource, **kwargs)


def create_app(settings: GatewaySettings, rpc=None, bus=None) -> GatewayApp:
    """The gateway for `settings`; a test may hand it its own `rpc` client and event `bus`."""
    api = Api(settings, rpc, bus)
    app = GatewayApp(middleware=[TracingMiddleware(), MetricsMiddleware(),
                                 SecurityHeadersMiddleware(), UnreadBodyMiddleware(),
                                 AuthMiddleware(api), RequestLogMiddleware(),
                                 idempotency.IdempotencyMiddleware(api)])
    app.req_options.strip_url_path_trailing_slash = False
    app.req_options.auto_parse_qs_csv = False
    app.resp_options.default_media_type = http.JSON

    def api_error(req, resp, exc, params):
        if isinstance(exc, NotApplied):  # "not applied" only when certain
            exc = idempotency.not_applied(req, exc)
        _send_error(req, resp, exc.status, exc.detail)

    def http_error(req, resp, exc, params):
        if isinstance(exc, falcon.HTTPNotFound):
            if req.path.startswith("/api/") or req.path == "/api":
                if isinstance(exc, falcon.HTTPRouteNotFound):
                    return _send_error(req, resp, 404, {"detail": "API endpoint not found",
                                                        "url": http.absolute_url(req)})
            return _send_error(req, resp, 404, {"detail": "Not found."})
        if isinstance(exc, falcon.HTTPMethodNotAllowed):
            for name, value in dict(exc.headers or {}).items():
                resp.set_header(name, value)
            return _send_error(req, resp, 405, {"detail": f'Method "{req.method}" not allowed.'})
        _send_error(req, resp, exc.status_code, {"detail": exc.description or exc.title})

    def unexpected(req, resp, exc, params):
        if isinstance(exc, RemoteFailure):  # the service logged it in its own event log
            kind = exc.exc_type
            req.context.remote_error = f"{exc.service}.{exc.method}: {exc.exc_type}"
        else:
            kind = type(exc).__name__
            req.context.error = exc  # logged with its traceback (gateway.request_log)
            caller = getattr(req.context, "caller", None)
            api.bus.publish("error.logged", {
                "kind": kind, "info": str(exc)[:1000],
                "data": traceback.format_exc()[-20000:], "path": req.path[:200],
                "service": "gateway"},
                actor=caller.actor if caller else "", request_id=req.context.get("request_id", ""))
        http.send(resp, {"error": kind, "error_class": f"<class '{kind}'>",
                         "detail": "Error details can be found in the admin panel",
                         "path": req.path, "status_code": 500}, 500)

    def replayed(req, resp, exc, params):
        resp.status = exc.status
        resp.content_type = exc.content_type or http.JSON
        resp.data = exc.body

    app.add_error_handler(Exception, unexpected)
    app.add_error_handler(idempotency.Replayed, replayed)
    app.add_error_handler(falcon.HTTPError, http_error)
    app.add_error_handler(ApiError, api_error)

    for module in (health, root, eventlog, eventhistory, eventexport, eventfeed, webhooks,
                   users, auth, status, system, attachments, importer, console):
        module.register(app, api)
    app.api = api
    return app
