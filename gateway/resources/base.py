"""What every resource shares: the caller, RPC access, and generic list/detail handlers."""
from typing import TYPE_CHECKING, Any, Protocol

from gateway import export, http, idempotency, unbounded, uploads
from gateway.cache import wants_fresh

if TYPE_CHECKING:
    from gateway.app import Api


class Resource:
    """`auth`: "required" (401 without credentials), "optional" (AllowAny) or "none" (the
    request's credentials are not even looked at). `csrf_exempt`: unsafe requests
    authenticated by the session cookie need no CSRF token. `api` is what every resource
    shares (gateway.app.Api: settings, RPC, event bus, caches)."""

    auth = "required"
    csrf_exempt = False

    def __init__(self, api: "Api"):
        self.api = api

    def call(self, req, service: str, method: str, **kwargs):
        """`service.method(**kwargs)` as the request's caller, under its own key
        (gateway.idempotency)."""
        return idempotency.call(req, self.api.rpc, self.api.settings, service, method,
                                req.context.caller, **kwargs)

    def body(self, req) -> dict:
        """The request body (http.body), at most GATEWAY_MAX_BODY_BYTES."""
        return http.body(req, self.api.settings.GATEWAY_MAX_BODY_BYTES)

    def upload(self, req, file_field: str, limit: int, too_large=uploads.too_large):
        """`with self.upload(...) as (fields, upload)`: uploads.request_data into the blob
        store, a file of at most `limit` bytes, any other body within GATEWAY_MAX_BODY_BYTES."""
        return uploads.request_data(req, self.api.blobs, file_field, limit,
                                    self.api.settings.GATEWAY_MAX_BODY_BYTES, too_large)

    def on_options(self, req, resp, **_params):
        """DRF's metadata without field actions (endpoints with fields override this)."""
        http.send(resp, {"name": type(self).__name__, "description": (self.__doc__ or "").strip(),
                         "renders": ["application/json"],
                         "parses": ["application/json", "application/x-www-form-urlencoded",
                                    "multipart/form-data"]})

    def cached(self, req, cache, key, service: str, method: str, body=False, **kwargs):
        """`call()` answered from a gateway read model (gateway.cache)."""
        get = cache.get_body if body else cache.get
        return get(key, lambda: self.call(req, service, method, **kwargs), wants_fresh(req))


class ServiceResource(Protocol):
    """What the write mixins (`CreateMixin`, `BulkDeleteMixin` and the per-domain `...Writes`)
    need of the resource they are mixed into."""

    api: "Api"
    service: str

    def call(self, req, service: str, method: str, **kwargs) -> Any: ...

    def body(self, req) -> dict: ...

    def upload(self, req, file_field: str, limit: int, too_large=...) -> Any: ...

    def after_write(self, req) -> None: ...


class CreatingResource(ServiceResource, Protocol):
    create_method: str


class BulkDeletingResource(ServiceResource, Protocol):
    bulk_delete_method: str


class ListResource(Resource):
    """A list endpoint backed by `<service>.<list_method>`; with `export_method` set,
    `?export=<format>` answers a file named after `export_model` (`export_method` for the
    columns and the first page, `list_method` for the next pages: gateway.export). Without
    `limit` the bare array is fetched page by page and streamed (gateway.unbounded).
    `options_method`, if set, answers OPTIONS."""

    service: str
    list_method: str
    options_method = ""
    export_method = ""
    export_model = ""

    def on_get(self, req, resp):
        params = http.query(req)
        max_rows = self.api.settings.LIST_MAX_ROWS
        if self.export_method and "export" in params:
            fmt = export.check_format(params.pop("export"))
            answer = self.call(req, self.service, self.export_method, params=params)
            params = {k: v for k, v in params.items() if k not in ("limit", "offset")}
            return export.send_export(resp, fmt, self.export_model, answer, lambda limit, offset:
                                      self.call(req, self.service, self.list_method, params={
                                          **params, "limit": str(limit), "offset": str(offset)}),
                                      max_rows)
        if unbounded.wants_everything(params):
            params = {k: v for k, v in params.items() if k not in ("limit", "offset")}
            return unbounded.send_all(resp, lambda limit, offset: self.list(
                req, {**params, "limit": str(limit), "offset": str(offset)}), max_rows)
        http.send_list(req, resp, self.list(req, params))

    def list(self, req, params) -> dict:
        return self.call(req, self.service, self.list_method, params=params)

    def on_options(self, req, resp, **_params):
        if not self.options_method:
            return super().on_options(req, resp)
        http.send(resp, self.described(self.call(req, self.service, self.options_method,
                                                 detail=False)))

    def described(self, options: dict) -> dict:
        """Hook: what the gateway adds to the service's OPTIONS answer (upload limits)."""
        return options

    def after_write(self, req):
        """Hook: resources with gateway-side caches drop them here."""


class CreateMixin:
    """POST on a list: `<service>.<create_method>`, 201."""

    def on_post(self: CreatingResource, req, resp):
        data = http.clean(self.body(req))
        http.send(resp, self.call(req, self.service, self.create_method, data=data), 201)
        self.after_write(req)


class BulkDeleteMixin:
    """DELETE on a list (§1.11): `<service>.<bulk_delete_method>`, 204 with InvenTree's body."""

    def on_delete(self: BulkDeletingResource, req, resp):
        count = self.call(req, self.service, self.bulk_delete_method, body=self.body(req))
        http.send(resp, {"success": f"Deleted {count} items"}, 204)
        self.after_write(req)


class DetailResource(Resource):
    """GET, PUT/PATCH and DELETE of one object: `<service>.<get_method>`, `update_method`
    and `delete_method`; `options_method`, if set, answers OPTIONS."""

    service: str
    get_method: str
    update_method: str
    delete_method: str
    options_method = ""

    def on_get(self, req, resp, id):
        http.send(resp, self.call(req, self.service, self.get_method, pk=http.int_id(id)))

    def _update(self, req, resp, id, partial):
        data = http.clean(self.body(req))
        http.send(resp, self.call(req, self.service, self.update_method, pk=http.int_id(id),
                                  data=data, partial=partial))
        self.after_write(req)

    def on_put(self, req, resp, id):
        self._update(req, resp, id, False)

    def on_patch(self, req, resp, id):
        self._update(req, resp, id, True)

    def on_delete(self, req, resp, id):
        self.call(req, self.service, self.delete_method, pk=http.int_id(id))
        resp.status = 204
        self.after_write(req)

    def on_options(self, req, resp, id):  # type: ignore[override]  # detail routes pass `id`
        http.int_id(id)
        if not self.options_method:
            return super().on_options(req, resp)
        http.send(resp, self.described(self.call(req, self.service, self.options_method,
                                                 detail=True)))

    def described(self, options: dict) -> dict:
        """Hook: what the gateway adds to the service's OPTIONS answer (upload limits)."""
        return options

    def after_write(self, req):
        """Hook: resources with gateway-side caches drop them here."""


class MetadataResource(Resource):
    """`<detail>/metadata/`: GET via `<service>.<get_method>`, PUT (replace) and PATCH
    (merge) via `set_method`."""

    service: str
    get_method: str
    set_method: str

    def on_get(self, req, resp, id):
        http.send(resp, self.call(req, self.service, self.get_method, pk=http.int_id(id)))

    def _write(self, req, resp, id, partial):
        body = http.clean(self.body(req))
        http.send(resp, self.call(req, self.service, self.set_method,
                                  pk=http.int_id(id), body=body, partial=partial))

    def on_put(self, req, resp, id):
        self._write(req, resp, id, False)

    def on_patch(self, req, resp, id):
        self._write(req, resp, id, True)
