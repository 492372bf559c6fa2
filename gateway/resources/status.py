"""Generic status, custom states and content types (status service).

`GET /api/generic/status/` is answered from a per-worker read model: the document and its
ETag, fetched once and dropped whenever the status service announces a custom-state event.
"""
import threading

import falcon

from gateway import export, http

from .base import DetailResource, ListResource, Resource


class StatusReadModel:
    def __init__(self, api):
        self.api = api
        self._lock = threading.Lock()
        self._generation = 0
        self._cached = None  # (etag, body bytes)
        api.bus.subscribe("status", "custom_state.#", lambda _event: self.invalidate())

    def invalidate(self):
        with self._lock:
            self._generation += 1
            self._cached = None

    def get(self, req):
        cached = self._cached
        if cached is not None and self.api.bus.healthy:
            return cached
        generation = self._generation
        answer = self.api.rpc.call("status", "statuses", req.context.caller, req.path)
        fresh = (answer["etag"], http.dumps(answer["document"]))
        with self._lock:
            if generation == self._generation:
                self._cached = fresh
        return fresh


class StatusList(Resource):
    def __init__(self, api, model: StatusReadModel):
        super().__init__(api)
        self.model = model

    def on_get(self, req, resp):
        etag, data = self.model.get(req)
        resp.set_header("ETag", etag)
        resp.set_header("Cache-Control", "private, no-cache")
        if req.if_none_match and any(str(t) == etag.strip('"') or t == "*"
                                     for t in req.if_none_match):
            resp.status = falcon.HTTP_304
            return
        resp.content_type = http.JSON
        resp.data = data


class StatusClass(Resource):
    def on_get(self, req, resp, statusmodel):
        http.send(resp, self.call(req, "status", "status_class", name=statusmodel))


class CustomStateWrites:
    """Writes drop this worker's status read model at once (other workers hear the event)."""

    def after_write(self, req):
        self.app.status_model.invalidate()


class CustomStateList(CustomStateWrites, ListResource):
    service, name, options_method = "status", "custom_state", "custom_state_options"

    def on_get(self, req, resp):
        params = http.query(req)
        if "export" in params:
            fmt = export.check_format(params.pop("export"))
            params.pop("limit", None)
            answer = self.call(req, "status", "export_custom_states", params=params)
            return export.send_export(req, resp, fmt, "InvenTreeCustomUserStateModel",
                                      answer["fields"], answer["rows"])
        super().on_get(req, resp)

    def on_post(self, req, resp):
        data = http.clean(http.body(req))
        http.send(resp, self.call(req, "status", "create_custom_state", data=data), 201)
        self.after_write(req)


class CustomStateDetail(CustomStateWrites, DetailResource):
    service, name, options_method = "status", "custom_state", "custom_state_options"


class ContentTypeList(Resource):
    def on_get(self, req, resp):
        http.send_list(req, resp, self.call(req, "status", "list_content_types",
                                            params=http.query(req)))


class ContentTypeDetail(Resource):
    def on_get(self, req, resp, id):
        http.send(resp, self.call(req, "status", "get_content_type", pk=http.int_id(id)))


class ContentTypeByModel(Resource):
    def on_get(self, req, resp, model):
        http.send(resp, self.call(req, "status", "get_content_type_by_model", model=model))


def register(app, api):
    api.status_model = StatusReadModel(api)
    app.add_route("/api/generic/status/", StatusList(api, api.status_model))
    app.add_route("/api/generic/status/custom/", CustomStateList(api))
    app.add_route("/api/generic/status/custom/{id}/", CustomStateDetail(api))
    app.add_route("/api/generic/status/{statusmodel}/", StatusClass(api))
    app.add_route("/api/contenttype/", ContentTypeList(api))
    app.add_route("/api/contenttype/{id}/", ContentTypeDetail(api))
    app.add_route("/api/contenttype/model/{model}/", ContentTypeByModel(api))
