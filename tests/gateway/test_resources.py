"""Every resource module of the gateway against a fake RPC client (tests/gateway/fakerpc.py):
the route reaches the right service method with the right arguments, answers are rendered
(status, envelope, headers) and service errors are mapped to InvenTree's shapes. No broker:
the services' side is in tests/<service>/, the two together in tests/e2e/."""
import base64
import gzip

import pytest

from svckit.errors import (
    AuthenticationFailed,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    ValidationFailed,
)
from svckit.rpc_client import RemoteFailure
from tests.gateway.fakerpc import PLAIN, FakeRpc, make_app, request

FIRST_PAGE = {"limit": "1000", "offset": "0"}  # a list without limit is fetched page by page
PAGE = {"count": 5, "limit": 2, "offset": 2, "results": [{"pk": 3}, {"pk": 4}]}


def check(app, rpc, cases):
    """(method, url, body, (service, rpc_method, kwargs), status) each makes exactly that
    call and answers that status."""
    for method, url, body, call, status in cases:
        rpc.calls.clear()
        result = request(app, method, url, body)
        assert result.status == status, (method, url, result.status, result.body[:200])
        assert rpc.calls == [call], (method, url)


@pytest.fixture
def gateway(tmp_path):
    def make(answers=None, caller=None, **settings):
        rpc = FakeRpc(answers, caller)
        return make_app(rpc, tmp_path / "media", **settings), rpc
    return make


def test_errors_from_services_keep_their_shape(gateway):
    """One resource, every kind of failure: what a service raises is what the client reads."""
    for error, status, body in [
            (ValidationFailed({"code": ["This field is required."]}), 400,
             {"code": ["This field is required."]}),
            (ValidationFailed({"non_field_errors": ["No."]}), 400, {"non_field_errors": ["No."]}),
            (PermissionDenied(), 403,
             {"detail": "You do not have permission to perform this action."}),
            (NotFound(), 404, {"detail": "Not found."}),
            (ServiceUnavailable({"detail": "The system service is not running"}), 503,
             {"detail": "The system service is not running"})]:
        app, rpc = gateway({"create_project_code": error})
        result = request(app, "POST", "/api/project-code/", {"code": "X"})
        assert (result.status, result.json) == (status, body)
        assert result.headers["content-type"] == "application/json"
    app, _ = gateway({"get_project_code": RemoteFailure("system", "get_project_code",
                                                        "KeyError", "'x'")})
    result = request(app, "GET", "/api/project-code/1/")
    assert (result.status, result.json) == (500, {
        "error": "KeyError", "error_class": "<class 'KeyError'>",
        "detail": "Error details can be found in the admin panel",
        "path": "/api/project-code/1/", "status_code": 500})


def test_root(gateway, monkeypatch):
    """`/api/` (server information), `/api/events/` (audit), `/api/admin/config/`."""
    monkeypatch.setattr("gateway.resources.root.service_names", lambda: ["users", "system"])
    monkeypatch.setattr("gateway.app.service_names", lambda: ["users", "system"])
    app, rpc = gateway({"active_plugins": [{"slug": "a"}], "database_engine": "sqlite",
                        "ping": "pong", "list_events": PAGE,
                        "config_lookups": lambda: [{"key": "X", "accessed": "2026"}]})
    doc = request(app, "GET", "/api/").json
    assert doc["apiVersion"] == 264 and doc["active_plugins"] == [{"slug": "a"}]
    assert doc["database"] == "sqlite3" and doc["system_health"] is True
    assert [c[:2] for c in rpc.calls] == [("system", "active_plugins"), ("users", "ping"),
                                          ("system", "ping"), ("users", "database_engine")]
    rpc.calls.clear()
    anon = request(app, "GET", "/api/", auth=False).json
    assert anon["database"] is None and anon["system_health"] is None
    assert [c[:2] for c in rpc.calls] == [("system", "active_plugins")]
    rpc.answers["active_plugins"] = ServiceUnavailable()  # the document answers without it
    assert request(app, "GET", "/api/", auth=False).json["active_plugins"] == []

    check(app, rpc, [("GET", "/api/events/?limit=2&offset=2&service=status", None,
                      ("audit", "list_events", {"params": {"limit": "2", "offset": "2",
                                                           "service": "status"}}), 200)])
    events = request(app, "GET", "/api/events/?limit=2&offset=2&service=status").json
    assert events == {
        "count": 5, "results": [{"pk": 3}, {"pk": 4}],
        "next": "http://falconframework.org/api/events/?limit=2&offset=4&service=status",
        "previous": "http://falconframework.org/api/events/?limit=2&service=status"}
    rpc.answers["list_events"] = PermissionDenied()
    assert request(app, "GET", "/api/events/").status == 403

    rpc.calls.clear()
    config = request(app, "GET", "/api/admin/config/X/")
    assert config.status == 200 and config.json["key"] == "X"
    assert [c[:2] for c in rpc.calls] == [("users", "config_lookups"),
                                          ("system", "config_lookups")]
    assert request(app, "GET", "/api/admin/config/NOPE/").json == {"detail": "Not found."}
    app, rpc = gateway(caller=PLAIN)
    result = request(app, "GET", "/api/admin/config/")
    assert result.status == 403 and rpc.calls == []
    assert request(app, "GET", "/api/nowhere/").json == {
        "detail": "API endpoint not found", "url": "http://falconframework.org/api/nowhere/"}


def test_users(gateway):
    app, rpc = gateway({"list_users": PAGE, "tokens": [{"id": 1}, {"id": 2}, {"id": 3}],
                        "me": {"pk": 1, "username": "root"}})
    check(app, rpc, [
        ("GET", "/api/user/me/", None, ("users", "me", {}), 200),
        ("PATCH", "/api/user/me/", {"first_name": "R"},
         ("users", "update_me", {"data": {"first_name": "R"}, "partial": True,
                                 "session_id": None}), 200),
        ("PUT", "/api/user/me/", {"first_name": "R"},
         ("users", "update_me", {"data": {"first_name": "R"}, "partial": False,
                                 "session_id": None}), 200),
        ("DELETE", "/api/user/me/", None, ("users", "delete_me", {}), 204),
        ("GET", "/api/user/?limit=2&offset=2", None,
         ("users", "list_users", {"params": {"limit": "2", "offset": "2"}}), 200),
        ("POST", "/api/user/", {"username": "u"},
         ("users", "create_user", {"data": {"username": "u"}}), 201),
        ("OPTIONS", "/api/user/", None, ("users", "user_options", {"detail": False}), 200),
        ("GET", "/api/user/4/", None, ("users", "get_user", {"pk": 4}), 200),
        ("PATCH", "/api/user/4", {"email": "a@b.c"},  # InvenTree's optional slash
         ("users", "update_user", {"pk": 4, "data": {"email": "a@b.c"}, "partial": True,
                                   "session_id": None}), 200),
        ("DELETE", "/api/user/4/", None, ("users", "delete_user", {"pk": 4}), 204),
        ("GET", "/api/user/group/", None, ("users", "list_groups", {"params": FIRST_PAGE}), 200),
        ("POST", "/api/user/group/", {"name": "g"},
         ("users", "create_group", {"data": {"name": "g"}}), 201),
        ("GET", "/api/user/group/3/?permission_detail=true", None,
         ("users", "get_group", {"pk": 3, "params": {"permission_detail": "true"}}), 200),
        ("PUT", "/api/user/group/3", {"name": "h"},
         ("users", "update_group", {"pk": 3, "data": {"name": "h"}, "partial": False}), 200),
        ("DELETE", "/api/user/group/3/", None, ("users", "delete_group", {"pk": 3}), 204),
        ("GET", "/api/user/owner/?search=a", None,
         ("users", "list_owners", {"params": {"search": "a"}}), 200),
        ("GET", "/api/user/owner/9/", None, ("users", "get_owner", {"pk": 9}), 200),
        ("GET", "/api/user/roles/", None, ("users", "roles", {}), 200),
        ("GET", "/api/user/tokens/?limit=2", None,
         ("users", "tokens", {"current_token_id": 1}), 200),
        ("DELETE", "/api/user/tokens/7/", None, ("users", "revoke_token", {"pk": 7}), 204),
    ])
    assert request(app, "GET", "/api/user/?limit=2&offset=2").json["count"] == 5
    tokens = request(app, "GET", "/api/user/tokens/?limit=2").json  # paged in the gateway
    assert tokens["count"] == 3 and tokens["results"] == [{"id": 1}, {"id": 2}]
    rpc.calls.clear()
    made = request(app, "GET", "/api/user/token/?name=script",
                   headers={"User-Agent": "ua/1", "Host": "example.com:8080"})
    assert made.status == 200
    [(service, method, kwargs)] = rpc.calls
    assert (service, method, kwargs["name"]) == ("users", "token", "script")
    assert kwargs["meta"]["user_agent"] == "ua/1" and kwargs["meta"]["server_port"] == "8080"
    rpc.calls.clear()
    made = request(app, "POST", "/api/user/tokens/", {"name": "ci", "expiry": "2030-01-01"},
                   headers={"User-Agent": "ua/2"})
    assert made.status == 201
    [(service, method, kwargs)] = rpc.calls
    assert (service, method, kwargs["data"]) == ("users", "create_token",
                                                 {"name": "ci", "expiry": "2030-01-01"})
    assert kwargs["meta"]["user_agent"] == "ua/2"
    rpc.calls.clear()
    assert request(app, "POST", "/api/user/tokens/7/", {"name": "x"}).status == 405
    assert rpc.calls == []
    assert request(app, "GET", "/api/user/abc/").status == 404  # digits only, as InvenTree
    assert request(app, "POST", "/api/user/", {"username": "<b>x</b>"}).json == {
        "username": ["Remove HTML tags from this value"]}
    assert rpc.calls == []
    rpc.answers["update_user"] = ValidationFailed({"username": ["A user with that username "
                                                                "already exists."]})
    result = request(app, "PATCH", "/api/user/4/", {"username": "root"})
    assert (result.status, result.json) == (400, {
        "username": ["A user with that username already exists."]})


def test_auth(gateway):
    app, rpc = gateway({"login": {"key": "k1", "session": "s1", "csrf": "c1"},
                        "me": {"pk": 1, "username": "root", "email": "", "first_name": "",
                               "last_name": "", "is_staff": True},
                        "login_with_magic_link": {"session": "s2", "csrf": "c2"}})
    result = request(app, "POST", "/api/auth/login/", {"username": "root", "password": "pw"},
                     auth=False)
    assert (result.status, result.json) == (200, {"key": "k1"})
    assert rpc.calls == [("users", "login", {"username": "root", "password": "pw",
                                             "address": "127.0.0.1"})]
    assert any(c.startswith("sessionid=s1;") for c in result.cookies)
    rpc.calls.clear()
    result = request(app, "POST", "/api/auth/login/", {"username": "root"}, auth=False)
    assert (result.status, result.json) == (400, {"password": ["This field is required."]})
    assert rpc.calls == []
    rpc.answers["login"] = AuthenticationFailed("Unable to log in with provided credentials.")
    result = request(app, "POST", "/api/auth/login/", {"username": "x", "password": "y"},
                     auth=False)
    assert (result.status, result.json) == (401, {
        "detail": "Unable to log in with provided credentials."})
    assert result.headers["www-authenticate"] == "Token"
    check(app, rpc, [
        ("POST", "/api/auth/logout/", None,
         ("users", "logout", {"session_id": None, "token_id": 1}), 200),
        ("PATCH", "/api/auth/user/", {"first_name": "R"},
         ("users", "update_auth_user", {"data": {"first_name": "R"}, "partial": True}), 200),
        ("POST", "/api/auth/password/change/", {"old_password": "a"},
         ("users", "change_password", {"data": {"old_password": "a"}, "session_id": None,
                                       "token_id": 1, "address": "127.0.0.1"}), 200),
    ])
    assert request(app, "GET", "/api/auth/user/").json == {
        "pk": 1, "username": "root", "email": "", "first_name": "", "last_name": ""}
    rpc.calls.clear()
    result = request(app, "GET", "/api/email/login/?sesame=abc", auth=False)
    assert result.status == 302 and result.headers["location"] == "/"
    assert rpc.calls == [("users", "login_with_magic_link", {"key": "abc"})]
    rpc.calls.clear()
    assert request(app, "PUT", "/api/web/ui_preference/", {"preferred_method": "pui"}).json == {
        "preferred_method": "pui", "pui": True, "cui": False}
    assert rpc.calls == []


def test_email_login_link(gateway):
    app, rpc = gateway({"email_login_link": {"status": "ok"}},
                       INVENTREE_SITE_URL="https://inventree.example.com")
    check(app, rpc, [("POST", "/api/email/generate/", {"email": "a@example.com"},
                      ("system", "email_login_link",
                       {"email": "a@example.com", "base_url": "https://inventree.example.com"}),
                      200)])


def test_status(gateway):
    document = {"StockStatus": {"status_class": "StockStatus", "values": {}}}
    app, rpc = gateway({"status_document": document, "list_custom_states": PAGE,
                        "get_content_type": {"pk": 1, "model": "part"},
                        "list_content_types": {"results": [{"pk": 1}]},
                        "export_custom_states": {"fields": {"pk": {"label": "ID"}, "name": {}},
                                                 "rows": [{"pk": 1, "name": "n"}]}})
    check(app, rpc, [
        ("GET", "/api/generic/status/", None, ("status", "status_document", {}), 200),
        ("GET", "/api/generic/status/StockStatus/", None,
         ("status", "status_class", {"name": "StockStatus"}), 200),
        ("GET", "/api/generic/status/custom/?limit=2&offset=2", None,
         ("status", "list_custom_states", {"params": {"limit": "2", "offset": "2"}}), 200),
        ("POST", "/api/generic/status/custom/", {"key": 11},
         ("status", "create_custom_state", {"data": {"key": 11}}), 201),
        ("OPTIONS", "/api/generic/status/custom/", None,
         ("status", "custom_state_options", {"detail": False}), 200),
        ("GET", "/api/generic/status/custom/3/", None, ("status", "get_custom_state", {"pk": 3}),
         200),
        ("PATCH", "/api/generic/status/custom/3/", {"label": "L"},
         ("status", "update_custom_state", {"pk": 3, "data": {"label": "L"}, "partial": True}),
         200),
        ("DELETE", "/api/generic/status/custom/3/", None,
         ("status", "delete_custom_state", {"pk": 3}), 204),
        ("GET", "/api/contenttype/?search=part", None,
         ("status", "list_content_types", {"params": {"search": "part"}}), 200),
        ("GET", "/api/contenttype/1/", None, ("status", "get_content_type", {"pk": 1}), 200),
        ("GET", "/api/contenttype/model/part/", None,
         ("status", "get_content_type_by_model", {"model": "part"}), 200),
        ("GET", "/api/generic/status/custom/?export=csv", None,
         ("status", "export_custom_states", {"params": {}}), 200),
    ])
    result = request(app, "GET", "/api/generic/status/")
    assert result.json == document and result.headers["etag"].startswith('"')
    assert request(app, "GET", "/api/generic/status/custom/?limit=2&offset=2").json["next"] \
        == "http://falconframework.org/api/generic/status/custom/?limit=2&offset=4"
    assert request(app, "GET", "/api/contenttype/").json == [{"pk": 1}]  # never paged
    exported = request(app, "GET", "/api/generic/status/custom/?export=csv")
    assert exported.body.decode().splitlines()[1:] == ["1,n"]
    rpc.calls.clear()
    assert request(app, "GET", "/api/generic/status/custom/x/").status == 404
    assert rpc.calls == []
    rpc.answers["get_custom_state"] = NotFound()
    assert request(app, "GET", "/api/generic/status/custom/3/").json == {"detail": "Not found."}


def test_system(gateway):
    icons = b'{"fa": {}}'
    app, rpc = gateway({"list_project_codes": PAGE, "bulk_delete_news_items": 2,
                        "icon_packs": {"gzip": base64.b64encode(gzip.compress(icons)).decode(),
                                       "etag": '"e1"'}})
    body = {"items": [1, 2]}
    check(app, rpc, [
        ("GET", "/api/project-code/?limit=2&offset=2", None,
         ("system", "list_project_codes", {"params": {"limit": "2", "offset": "2"}}), 200),
        ("POST", "/api/project-code/", {"code": "P1"},
         ("system", "create_project_code", {"data": {"code": "P1"}}), 201),
        ("PUT", "/api/project-code/2/", {"code": "P2"},
         ("system", "update_project_code", {"pk": 2, "data": {"code": "P2"}, "partial": False}),
         200),
        ("GET", "/api/project-code/2/metadata/", None,
         ("system", "project_code_metadata", {"pk": 2}), 200),
        ("PATCH", "/api/project-code/2/metadata/", {"metadata": {"a": 1}},
         ("system", "set_project_code_metadata", {"pk": 2, "body": {"metadata": {"a": 1}},
                                                  "partial": True}), 200),
        ("GET", "/api/units/", None, ("system", "list_custom_units", {"params": FIRST_PAGE}),
         200),
        ("OPTIONS", "/api/units/4/", None, ("system", "custom_unit_options", {"detail": True}),
         200),
        ("DELETE", "/api/units/4/", None, ("system", "delete_custom_unit", {"pk": 4}), 204),
        ("GET", "/api/units/all/", None, ("system", "all_units", {}), 200),
        ("POST", "/api/generate/batch-code/", {"part": 1},
         ("system", "generate_batch_code", {"data": {"part": 1}}), 201),
        ("POST", "/api/generate/serial-number/", {},
         ("system", "generate_serial_number", {"data": {}}), 201),
        ("POST", "/api/action/", {"action": "x"}, ("system", "action", {"body": {"action": "x"}}),
         200),
        ("POST", "/api/locate/", {"plugin": "p"}, ("system", "locate", {"body": {"plugin": "p"}}),
         200),
        ("POST", "/api/search/", {"search": "s"}, ("system", "search", {"body": {"search": "s"}}),
         200),
        ("GET", "/api/test-statistics/by-part/5/", None,
         ("system", "test_statistics", {"kind": "part", "pk": 5}), 200),
        ("GET", "/api/test-statistics/by-build/5/", None,
         ("system", "test_statistics", {"kind": "build", "pk": 5}), 200),
        ("GET", "/api/currency/exchange/", None, ("system", "exchange_rates", {}), 200),
        ("POST", "/api/currency/refresh/", None, ("system", "refresh_exchange_rates", {}), 200),
        ("DELETE", "/api/news/", body, ("system", "bulk_delete_news_items", {"body": body}), 204),
        ("GET", "/api/news/6/", None, ("system", "get_news_item", {"pk": 6}), 200),
        ("PATCH", "/api/news/6/", {"read": True},
         ("system", "update_news_item", {"pk": 6, "data": {"read": True}, "partial": True}), 200),
        ("GET", "/api/error-report/?limit=1", None,
         ("system", "list_error_reports", {"params": {"limit": "1"}}), 200),
        ("DELETE", "/api/error-report/7/", None, ("system", "delete_error_report", {"pk": 7}),
         204),
        ("GET", "/api/notifications/readall/", None, ("system", "read_all_notifications", {}),
         200),
        ("OPTIONS", "/api/notifications/", None,
         ("system", "notification_options", {"detail": False}), 200),
        ("GET", "/api/notifications/8/", None, ("system", "get_notification", {"pk": 8}), 200),
        ("GET", "/api/flags/?search=x", None, ("system", "flags", {"query": {"search": "x"}}),
         200),
        ("GET", "/api/flags/NEXT_GEN/", None,
         ("system", "flag", {"key": "NEXT_GEN", "query": {}}), 200),
        ("GET", "/api/version/", None, ("system", "version", {}), 200),
        ("GET", "/api/version-text", None, ("system", "version_text", {}), 200),
        ("GET", "/api/license/", None, ("system", "licenses", {}), 200),
        ("GET", "/api/icons/", None, ("system", "icon_packs", {}), 200),
    ])
    packed = request(app, "GET", "/api/icons/", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip" and packed.headers["etag"] == '"e1"'
    assert gzip.decompress(packed.body) == icons
    assert request(app, "GET", "/api/icons/").body == icons
    assert request(app, "GET", "/api/icons/", headers={"If-None-Match": '"e1"'}).status == 304
    rpc.calls.clear()
    hook = request(app, "POST", "/api/webhook/abc/", body=b'{"x": 1}', auth=False,
                   headers={"Content-Type": "application/json", "Token": "sekrit"})
    assert (hook.status, hook.body) == (200, b"Message was received.")
    [(service, method, kwargs)] = rpc.calls
    assert (service, method, kwargs["endpoint"]) == ("system", "receive_webhook", "abc")
    assert base64.b64decode(kwargs["body_b64"]) == b'{"x": 1}'
    assert kwargs["headers"]["TOKEN"] == "sekrit"
    rpc.calls.clear()
    assert request(app, "POST", "/api/project-code/", [1]).json == {"non_field_errors": [
        "Invalid data. Expected a dictionary, but got list."]}
    assert request(app, "GET", "/api/project-code/99999999999999999999/").status == 404
    assert rpc.calls == []


def test_options_of_uploads_state_their_size_limits(gateway):
    """OPTIONS of the lists and objects that take a file add its limit as `max_size`, so a
    client can refuse a larger file before sending it; other fields stay as the service says."""
    file_field = {"type": "file upload", "required": False, "label": "F"}
    meta = lambda field: {"name": "X", "actions": {"POST": {field: dict(file_field),  # noqa: E731
                                                           "comment": {"type": "string"}}}}
    app, _ = gateway({"attachment_options": meta("attachment"),
                      "session_options": meta("data_file")},
                     ATTACHMENT_MAX_BYTES=1234, IMPORT_MAX_BYTES=5678)
    for url, field, limit in (("/api/attachment/", "attachment", 1234),
                              ("/api/attachment/3/", "attachment", 1234),
                              ("/api/importer/session/", "data_file", 5678),
                              ("/api/importer/session/2/", "data_file", 5678)):
        fields = request(app, "OPTIONS", url).json["actions"]["POST"]
        assert fields[field] == {**file_field, "max_size": limit}, url
        assert fields["comment"] == {"type": "string"}
    app, _ = gateway({"attachment_options": {"name": "X"}})  # no actions (may not write)
    assert request(app, "OPTIONS", "/api/attachment/").json == {"name": "X"}


def test_attachments(gateway):
    app, rpc = gateway({"list_attachments": PAGE, "bulk_delete_attachments": 1})
    body = {"items": [3]}
    check(app, rpc, [
        ("GET", "/api/attachment/?limit=2&offset=2&model_type=part", None,
         ("attachments", "list_attachments",
          {"params": {"limit": "2", "offset": "2", "model_type": "part"}}), 200),
        ("POST", "/api/attachment/", {"model_type": "part", "model_id": 1, "link": "https://x/"},
         ("attachments", "create_attachment",
          {"data": {"model_type": "part", "model_id": 1, "link": "https://x/"},
           "upload": None}), 201),
        ("DELETE", "/api/attachment/", body,
         ("attachments", "bulk_delete_attachments", {"body": body}), 204),
        ("OPTIONS", "/api/attachment/", None,
         ("attachments", "attachment_options", {"detail": False}), 200),
        ("GET", "/api/attachment/3/", None, ("attachments", "get_attachment", {"pk": 3}), 200),
        ("PATCH", "/api/attachment/3/", {"comment": "c"},
         ("attachments", "update_attachment",
          {"data": {"comment": "c"}, "upload": None, "pk": 3, "partial": True}), 200),
        ("DELETE", "/api/attachment/3/", None, ("attachments", "delete_attachment", {"pk": 3}),
         204),
        ("GET", "/api/attachment/3/metadata/", None,
         ("attachments", "attachment_metadata", {"pk": 3}), 200),
        ("PUT", "/api/attachment/3/metadata/", {"metadata": {}},
         ("attachments", "set_attachment_metadata",
          {"pk": 3, "body": {"metadata": {}}, "partial": False}), 200),
        ("GET", "/api/notes-image-upload/", None,
         ("attachments", "list_notes_images", {"params": FIRST_PAGE}), 200),
        ("DELETE", "/api/notes-image-upload/4/", None,
         ("attachments", "delete_notes_image", {"pk": 4}), 204),
    ])
    assert request(app, "GET", "/api/attachment/?limit=2&offset=2").json["previous"] == \
        "http://falconframework.org/api/attachment/?limit=2"
    rpc.answers["get_attachment"] = NotFound()
    assert request(app, "GET", "/api/attachment/3/").json == {"detail": "Not found."}
    rpc.answers["create_attachment"] = PermissionDenied()
    assert request(app, "POST", "/api/attachment/", {"model_type": "salesorder"}).status == 403


def test_media_downloads_ask_the_owning_service(gateway, tmp_path):
    app, rpc = gateway()
    store = app.api.blobs
    for key in ("attachments/part/1/a.txt", "import/d.csv"):
        store.write(key, [b"0123456789"])
    rpc.answers["media_file"] = lambda key: {"key": key, "size": 10, "filename": "f.txt",
                                             "content_type": "text/plain", "sha256": "abc"}
    for path, service in (("attachments/part/1/a.txt", "attachments"),
                          ("import/d.csv", "importer")):
        rpc.calls.clear()
        result = request(app, "GET", f"/media/{path}", headers={"Range": "bytes=2-4"})
        assert (result.status, result.body) == (206, b"234")
        assert result.headers["content-range"] == "bytes 2-4/10"
        assert result.headers["content-disposition"] == 'attachment; filename="f.txt"'
        assert rpc.calls == [(service, "media_file", {"key": path})]
    rpc.answers["media_file"] = NotFound()
    assert request(app, "GET", "/media/attachments/x").json == {"detail": "Not found."}
    rpc.calls.clear()
    basic = request(app, "GET", "/media/attachments/x", auth=False,
                    headers={"Authorization": "Basic cm9vdDpwdw=="})
    assert (basic.status, basic.body) == (401, b"Unauthorized")  # never basic auth
    assert rpc.calls == []
