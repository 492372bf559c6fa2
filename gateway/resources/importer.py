"""The data importer (importer service, §13): sessions, their column mappings and rows, and
the importable models.

A session's data file reaches the service by claim check (gateway.uploads), like attachment
files, but an oversized one is InvenTree's 400 on `data_file`. Reading a data file, updating
a session (its rows may be recomputed) and accepting rows may take long, so those calls
wait `IMPORT_RPC_TIMEOUT` seconds. Nothing is cached in the gateway.
"""
from gateway import http, uploads
from svckit.errors import ValidationFailed

from .base import BulkDeleteMixin, DetailResource, ListResource, Resource, ServiceResource


def too_large(limit: int) -> ValidationFailed:
    return ValidationFailed({"data_file": ["Data file exceeds maximum size limit"]})


class SessionWrites:
    service, options_method = "importer", "session_options"

    def described(self: ServiceResource, options: dict) -> dict:
        return uploads.with_max_size(options, "data_file", self.api.settings.IMPORT_MAX_BYTES)

    def submit(self: ServiceResource, req, method: str, **kwargs):
        """`method(data=<text fields>, **kwargs)`, plus `upload=<claim check>` (and the long
        timeout) when a data file came."""
        settings = self.api.settings
        with self.upload(req, "data_file", settings.IMPORT_MAX_BYTES,
                         too_large=too_large) as (data, upload):
            if upload is not None:
                kwargs.update(upload=upload, timeout=settings.IMPORT_RPC_TIMEOUT)
            return self.call(req, self.service, method, data=data, **kwargs)


class SessionList(SessionWrites, BulkDeleteMixin, ListResource):
    list_method, create_method = "list_sessions", "create_session"
    bulk_delete_method = "bulk_delete_sessions"

    def on_post(self, req, resp):
        http.send(resp, self.submit(req, self.create_method, upload=None,
                                    timeout=self.api.settings.IMPORT_RPC_TIMEOUT), 201)


class SessionDetail(SessionWrites, DetailResource):
    get_method, update_method, delete_method = "get_session", "update_session", "delete_session"

    def _update(self, req, resp, id, partial):
        """PUT/PATCH (may recompute the session's rows for IMPORT_ACCEPT_WAIT_SECONDS)."""
        http.send(resp, self.submit(req, self.update_method, pk=http.int_id(id),
                                    partial=partial, timeout=self.api.settings.IMPORT_RPC_TIMEOUT))


class SessionAcceptFields(Resource):
    def on_post(self, req, resp, id):
        http.send(resp, self.call(req, "importer", "accept_fields", pk=http.int_id(id)))


class SessionAcceptRows(Resource):
    def on_post(self, req, resp, id):
        pk = http.int_id(id)
        body = http.clean(self.body(req))
        http.send(resp, self.call(req, "importer", "accept_rows", pk=pk, body=body,
                                  timeout=self.api.settings.IMPORT_RPC_TIMEOUT), 201)


class ColumnMappingList(ListResource):
    service, options_method = "importer", "column_mapping_options"
    list_method = "list_column_mappings"


class ColumnMappingDetail(DetailResource):
    service, options_method = "importer", "column_mapping_options"
    get_method, update_method = "get_column_mapping", "update_column_mapping"
    on_delete = None  # type: ignore[assignment]  # mappings go with their session (405)


class RowList(BulkDeleteMixin, ListResource):
    service, options_method = "importer", "row_options"
    list_method, bulk_delete_method = "list_rows", "bulk_delete_rows"


class RowDetail(DetailResource):
    service, options_method = "importer", "row_options"
    get_method, update_method, delete_method = "get_row", "update_row", "delete_row"


class ImportableModels(Resource):
    def on_get(self, req, resp):
        http.send(resp, self.call(req, "importer", "importable_models"))


def register(app, api):
    app.add_route("/api/importer/session/", SessionList(api))
    app.add_route("/api/importer/session/{id}/", SessionDetail(api))
    app.add_route("/api/importer/session/{id}/accept_fields/", SessionAcceptFields(api))
    app.add_route("/api/importer/session/{id}/accept_rows/", SessionAcceptRows(api))
    app.add_route("/api/importer/column-mapping/", ColumnMappingList(api))
    app.add_route("/api/importer/column-mapping/{id}/", ColumnMappingDetail(api))
    app.add_route("/api/importer/row/", RowList(api))
    app.add_route("/api/importer/row/{id}/", RowDetail(api))
    app.add_route("/api/importer/models/", ImportableModels(api))
