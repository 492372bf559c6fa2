"""Endpoints of the system service: project codes, flags, icons, version, licenses."""
import base64
import gzip

from gateway import http
from gateway.cache import QueryCache, not_modified
from svckit.errors import ApiError

from .base import (
    BulkDeleteMixin,
    CreateMixin,
    DetailResource,
    ListResource,
    MetadataResource,
    Resource,
)


class ProjectCodeList(CreateMixin, ListResource):
    service, options_method = "system", "project_code_options"
    list_method, create_method = "list_project_codes", "create_project_code"
    export_method, export_model = "export_project_codes", "ProjectCode"


class ProjectCodeDetail(DetailResource):
    service, options_method = "system", "project_code_options"
    get_method, update_method, delete_method = (
        "get_project_code", "update_project_code", "delete_project_code")


class ProjectCodeMetadata(MetadataResource):
    service = "system"
    get_method, set_method = "project_code_metadata", "set_project_code_metadata"


class CustomUnitList(CreateMixin, ListResource):
    service, options_method = "system", "custom_unit_options"
    list_method, create_method = "list_custom_units", "create_custom_unit"
    export_method, export_model = "export_custom_units", "CustomUnit"


class CustomUnitDetail(DetailResource):
    service, options_method = "system", "custom_unit_options"
    get_method, update_method, delete_method = (
        "get_custom_unit", "update_custom_unit", "delete_custom_unit")


class Generate(Resource):
    """POST-only generators (`post_method` of the system service); InvenTree answers 201."""

    service = "system"

    def __init__(self, api, post_method: str):
        super().__init__(api)
        self.post_method = post_method

    def on_post(self, req, resp):
        data = http.clean(self.body(req))
        http.send(resp, self.call(req, self.service, self.post_method, data=data), 201)


class SystemPost(Resource):
    """A POST answered by the system service's `post_method` with 200 (action, locate,
    search)."""

    service = "system"

    def __init__(self, api, post_method: str):
        super().__init__(api)
        self.post_method = post_method

    def on_post(self, req, resp):
        http.send(resp, self.call(req, self.service, self.post_method,
                                  body=http.clean(self.body(req))))


class TestStatistics(Resource):
    def __init__(self, api, kind):
        super().__init__(api)
        self.kind = kind

    def on_get(self, req, resp, id):
        http.send(resp, self.call(req, "system", "test_statistics", kind=self.kind,
                                  pk=http.int_id(id)))


class Webhook(Resource):
    """Incoming webhooks: no login; the system service checks the endpoint's token or HMAC.
    Answers InvenTree's plain-text receipt."""

    auth = "optional"

    def on_post(self, req, resp, endpoint):
        limit = self.api.settings.WEBHOOK_MAX_BYTES
        if (req.content_length or 0) > limit:
            raise ApiError({"detail": f"Webhook body exceeds {limit} bytes"}, 413)
        raw = req.bounded_stream.read(limit + 1)
        if len(raw) > limit:
            raise ApiError({"detail": f"Webhook body exceeds {limit} bytes"}, 413)
        self.call(req, "system", "receive_webhook", endpoint=endpoint,
                  body_b64=base64.b64encode(raw).decode(), headers=dict(req.headers),
                  host=req.host or "")
        resp.content_type = "text/html; charset=utf-8"
        resp.text = "Message was received."


class CurrencyRefresh(Resource):
    def on_post(self, req, resp):
        http.send(resp, self.call(req, "system", "refresh_exchange_rates"))


class NewsList(BulkDeleteMixin, ListResource):
    service = "system"
    list_method, bulk_delete_method = "list_news_items", "bulk_delete_news_items"


class NewsDetail(DetailResource):
    service = "system"
    get_method, update_method, delete_method = (
        "get_news_item", "update_news_item", "delete_news_item")


class ErrorReportList(BulkDeleteMixin, ListResource):
    service = "system"
    list_method, bulk_delete_method = "list_error_reports", "bulk_delete_error_reports"


class ErrorReportDetail(DetailResource):
    service = "system"
    get_method, update_method, delete_method = (
        "get_error_report", "update_error_report", "delete_error_report")


class NotificationList(BulkDeleteMixin, ListResource):
    service, options_method = "system", "notification_options"
    list_method, bulk_delete_method = "list_notifications", "bulk_delete_notifications"


class NotificationDetail(DetailResource):
    service, options_method = "system", "notification_options"
    get_method, update_method, delete_method = (
        "get_notification", "update_notification", "delete_notification")


class NotificationsReadAll(Resource):
    """A GET that marks every notification of the caller read (as InvenTree does)."""

    def on_get(self, req, resp):
        http.send(resp, self.call(req, "system", "read_all_notifications"))


class Flags(Resource):
    auth = "optional"

    def on_get(self, req, resp):
        http.send(resp, self.call(req, "system", "flags", query=http.query(req)))


class Flag(Resource):
    auth = "optional"

    def on_get(self, req, resp, key):
        http.send(resp, self.call(req, "system", "flag", key=key, query=http.query(req)))


class Icons(Resource):
    """The icon packs, fetched once per worker and sent gzipped to clients that accept it,
    with an ETag (304 on If-None-Match) and a day of public caching, as InvenTree does."""

    auth = "optional"

    def __init__(self, api):
        super().__init__(api)
        self.cache = QueryCache(api.bus, [])

    def _fetch(self, req):
        answer = self.call(req, "system", "icon_packs")
        packed = base64.b64decode(answer["gzip"])
        return answer["etag"], packed, gzip.decompress(packed)

    def on_get(self, req, resp):
        etag, packed, plain = self.cache.get("icons", lambda: self._fetch(req))
        resp.set_header("ETag", etag)
        resp.set_header("Cache-Control", "public, max-age=86400")
        resp.set_header("Vary", "Accept-Encoding")
        if not_modified(req, etag):
            resp.status = 304
            return
        resp.content_type = http.JSON
        if "gzip" in (req.get_header("Accept-Encoding") or ""):
            resp.set_header("Content-Encoding", "gzip")
            resp.data = packed
        else:
            resp.data = plain


def _static(method: str):
    """A GET answered by the system service's `method` as it is."""
    class Static(Resource):
        service, get_method = "system", method

        def on_get(self, req, resp):
            http.send(resp, self.call(req, self.service, self.get_method))
    Static.__name__ = method.title().replace("_", "")
    return Static


def register(app, api):
    app.add_route("/api/project-code/", ProjectCodeList(api))
    app.add_route("/api/project-code/{id}/", ProjectCodeDetail(api))
    app.add_route("/api/project-code/{id}/metadata/", ProjectCodeMetadata(api))
    app.add_route("/api/units/", CustomUnitList(api))
    app.add_route("/api/units/all/", _static("all_units")(api))
    app.add_route("/api/units/{id}/", CustomUnitDetail(api))
    app.add_route("/api/generate/batch-code/", Generate(api, "generate_batch_code"))
    app.add_route("/api/generate/serial-number/", Generate(api, "generate_serial_number"))
    app.add_route("/api/action/", SystemPost(api, "action"))
    app.add_route("/api/locate/", SystemPost(api, "locate"))
    app.add_route("/api/search/", SystemPost(api, "search"))
    app.add_route("/api/test-statistics/by-part/{id}/", TestStatistics(api, "part"))
    app.add_route("/api/test-statistics/by-build/{id}/", TestStatistics(api, "build"))
    app.add_route("/api/webhook/{endpoint}/", Webhook(api))
    app.add_route("/api/currency/exchange/", _static("exchange_rates")(api))
    app.add_route("/api/currency/refresh/", CurrencyRefresh(api))
    app.add_route("/api/news/", NewsList(api))
    app.add_route("/api/news/{id}/", NewsDetail(api))
    app.add_route("/api/error-report/", ErrorReportList(api))
    app.add_route("/api/error-report/{id}/", ErrorReportDetail(api))
    app.add_route("/api/notifications/", NotificationList(api))
    app.add_route("/api/notifications/readall/", NotificationsReadAll(api))
    app.add_route("/api/notifications/{id}/", NotificationDetail(api))
    app.add_route("/api/flags/", Flags(api))
    app.add_route("/api/flags/{key}/", Flag(api))
    app.add_route("/api/icons/", Icons(api))
    app.add_route("/api/version/", _static("version")(api))
    app.add_route("/api/version-text", _static("version_text")(api))
    app.add_route("/api/license/", _static("licenses")(api))
