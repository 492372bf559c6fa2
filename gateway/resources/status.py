"""Generic status, custom states and content types (status service).

The reads are answered from per-worker read models (gateway.cache): the status document,
custom-state lists and content types are fetched once and dropped whenever the status
service announces a custom-state event.
"""
from gateway import http
from gateway.cache import QueryCache, send_cached

from .base import CreateMixin, DetailResource, ListResource, Resource, ServiceResource


class StatusList(Resource):
    def on_get(self, req, resp):
        send_cached(req, resp, self.cached(req, self.api.status_cache, "statuses",
                                           "status", "status_document", body=True))


class StatusClass(Resource):
    def on_get(self, req, resp, statusmodel):
        http.send(resp, self.call(req, "status", "status_class", name=statusmodel))


class CustomStateWrites:
    """Writes drop this worker's read models at once (other workers hear the event)."""

    def after_write(self: ServiceResource, req):
        self.api.status_cache.invalidate()


class CustomStateList(CustomStateWrites, CreateMixin, ListResource):
    service, options_method = "status", "custom_state_options"
    list_method, create_method = "list_custom_states", "create_custom_state"
    export_method, export_model = "export_custom_states", "InvenTreeCustomUserStateModel"

    def list(self, req, params):
        key = ("custom_states", tuple(sorted(params.items())))
        return self.cached(req, self.api.status_cache, key, self.service, self.list_method,
                           params=params)


class CustomStateDetail(CustomStateWrites, DetailResource):
    service, options_method = "status", "custom_state_options"
    get_method, update_method, delete_method = (
        "get_custom_state", "update_custom_state", "delete_custom_state")


class ContentTypeList(Resource):
    def on_get(self, req, resp):
        params = http.query(req)
        key = ("content_types", tuple(sorted(params.items())))
        http.send_list(req, resp, self.cached(req, self.api.status_cache, key, "status",
                                              "list_content_types", params=params))


class ContentTypeDetail(Resource):
    def on_get(self, req, resp, id):
        pk = http.int_id(id)
        send_cached(req, resp, self.cached(req, self.api.status_cache, ("content_type", pk),
                                           "status", "get_content_type", body=True, pk=pk))


class ContentTypeByModel(Resource):
    def on_get(self, req, resp, model):
        send_cached(req, resp, self.cached(req, self.api.status_cache, ("model", model), "status",
                                           "get_content_type_by_model", body=True, model=model))


def register(app, api):
    api.status_cache = QueryCache(api.bus, [("status", "custom_state.#")])
    app.add_route("/api/generic/status/", StatusList(api))
    app.add_route("/api/generic/status/custom/", CustomStateList(api))
    app.add_route("/api/generic/status/custom/{id}/", CustomStateDetail(api))
    app.add_route("/api/generic/status/{statusmodel}/", StatusClass(api))
    app.add_route("/api/contenttype/", ContentTypeList(api))
    app.add_route("/api/contenttype/{id}/", ContentTypeDetail(api))
    app.add_route("/api/contenttype/model/{model}/", ContentTypeByModel(api))
