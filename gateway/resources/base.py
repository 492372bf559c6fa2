"""What every resource shares: the caller, RPC access, and generic list/detail handlers."""
from typing import Any, Protocol

from gateway import export, http, unbounded
from gateway.cache import wants_fresh


class Resource:
    """`auth`: "required" (401 without credentials), "optional" (AllowAny) or "none" (the
    request's credentials are not even looked at). `csrf_exempt`: unsafe requests
    authenticated by the session cookie need no CSRF token."""

    auth = "required"
    csrf_exempt = False

    def __init__(self, app):
        self.app = app

    def call(self, req, service: str, method: str, **kwargs):
        return self.app.rpc.call(service, method, req.context.caller, req.path, **kwargs)

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

    app: Any
    service: str
    name: str

    def call(self, req, service: str, method: str, **kwargs) -> Any: ...

    def after_write(self, req) -> None: ...


class ListResource(Resource):
    """A list endpoint backed by `<service>.list_<name>s`; with `export_model` set,
    `?export=<format>` answers a file (`export_<name>s` for the columns and the first page,
    `list_<name>s` for the next pages: gateway.export). Without `limit` the bare array is
    fetched page by page and streamed (gateway.unbounded)."""

    service = ""
    name = ""
    options_method = ""
    export_model = ""

    def on_get(self, req, resp):
        params = http.query(req)
        if self.export_model and "export" in params:
            fmt = export.check_format(params.pop("export"))
            answer = self.call(req, self.service, f"export_{self.name}s", params=params)
            params = {k: v for k, v in params.items() if k not in ("limit", "offset")}
            return export.send_export(resp, fmt, self.export_model, answer, lambda limit, offset:
                                      self.call(req, self.service, f"list_{self.name}s", params={
                                          **params, "limit": str(limit), "offset": str(offset)}))
        if unbounded.wants_everything(params):
            params = {k: v for k, v in params.items() if k not in ("limit", "offset")}
            return unbounded.send_all(resp, lambda limit, offset: self.list(
                req, {**params, "limit": str(limit), "offset": str(offset)}))
        http.send_list(req, resp, self.list(req, params))

    def list(self, req, params) -> dict:
        return self.call(req, self.service, f"list_{self.name}s", params=params)

    def on_options(self, req, resp, **_params):
        if not self.options_method:
            return super().on_options(req, resp)
        http.send(resp, self.call(req, self.service, self.options_method, detail=False))

    def after_write(self, req):
        """Hook: resources with gateway-side caches drop them here."""


class CreateMixin:
    """POST on a list: `<service>.create_<name>`, 201."""

    def on_post(self: ServiceResource, req, resp):
        data = http.clean(http.body(req))
        http.send(resp, self.call(req, self.service, f"create_{self.name}", data=data), 201)
        self.after_write(req)


class BulkDeleteMixin:
    """DELETE on a list (§1.11): `<service>.bulk_delete_<name>s`, 204 with InvenTree's body."""

    def on_delete(self: ServiceResource, req, resp):
        count = self.call(req, self.service, f"bulk_delete_{self.name}s", body=http.body(req))
        http.send(resp, {"success": f"Deleted {count} items"}, 204)
        self.after_write(req)


class DetailResource(Resource):
    service = ""
    name = ""
    options_method = ""

    def on_get(self, req, resp, id):
        http.send(resp, self.call(req, self.service, f"get_{self.name}", pk=http.int_id(id)))

    def _update(self, req, resp, id, partial):
        data = http.clean(http.body(req))
        http.send(resp, self.call(req, self.service, f"update_{self.name}", pk=http.int_id(id),
                                  data=data, partial=partial))
        self.after_write(req)

    def on_put(self, req, resp, id):
        self._update(req, resp, id, False)

    def on_patch(self, req, resp, id):
        self._update(req, resp, id, True)

    def on_delete(self, req, resp, id):
        self.call(req, self.service, f"delete_{self.name}", pk=http.int_id(id))
        resp.status = 204
        self.after_write(req)

    def on_options(self, req, resp, id):  # type: ignore[override]  # detail routes pass `id`
        http.int_id(id)
        if not self.options_method:
            return super().on_options(req, resp)
        http.send(resp, self.call(req, self.service, self.options_method, detail=True))

    def after_write(self, req):
        """Hook: resources with gateway-side caches drop them here."""


class MetadataResource(Resource):
    """`<detail>/metadata/`: GET, PUT (replace), PATCH (merge), via `<service>.<name>_metadata`
    and `<service>.set_<name>_metadata`."""

    service = ""
    name = ""

    def on_get(self, req, resp, id):
        http.send(resp, self.call(req, self.service, f"{self.name}_metadata", pk=http.int_id(id)))

    def _write(self, req, resp, id, partial):
        body = http.clean(http.body(req))
        http.send(resp, self.call(req, self.service, f"set_{self.name}_metadata",
                                  pk=http.int_id(id), body=body, partial=partial))

    def on_put(self, req, resp, id):
        self._write(req, resp, id, False)

    def on_patch(self, req, resp, id):
        self._write(req, resp, id, True)
