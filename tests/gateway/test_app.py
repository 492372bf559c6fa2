"""Gateway behaviour that needs no service: route table vs schema, 500s and their event."""
import json
import re

from falcon import testing
from kombu import Connection, Queue

from gateway.app import create_app
from gateway.resources.base import Resource
from gateway.resources.root import SCHEMA_FILE
from gateway.settings import GatewaySettings
from svckit.relay import event_exchange
from tests.gateway.fakerpc import make_app

# not in InvenTree's exported schema (user/{id}, user/group/{id}: InvenTree's optional
# trailing slash; notes-image-upload/{id}/: this deployment's delete path for notes images;
# /healthz, /readyz: probes, outside the API; /, /console...: the console's files)
OWN = {"/api/", "/api/schema/", "/api/email/login/", "/api/user/{id}", "/api/user/group/{id}",
       "/media/{path}", "/api/notes-image-upload/{id}/", "/healthz", "/readyz",
       "/", "/console", "/console/", "/console/{path}"}  # the operator console (gateway/console.py)


def test_every_route_is_in_the_schema_with_its_methods():
    schema = json.loads(SCHEMA_FILE.read_text())["paths"]
    app = create_app(GatewaySettings())
    served = {}
    for template, resource in app.routes:
        template = re.sub(r"\{(\w+):\w+\}", r"{\1}", template)  # drop field converters
        served[template] = {m for m in ("get", "post", "put", "patch", "delete")
                            if callable(getattr(resource, f"on_{m}", None))}
    assert set(schema) == set(served) - OWN
    for template, methods in served.items():
        if template not in OWN:
            assert set(schema[template]) == methods, template


class Exploding(Resource):
    auth = "optional"

    def on_get(self, req, resp):
        return 1 / 0


def test_unexpected_exception_gives_inventree_500_and_an_event(rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    app = create_app(GatewaySettings(AMQP_URI=uri, RPC_TIMEOUT=2))
    app.add_route("/api/explode/", Exploding(app.api))
    with Connection(uri) as conn:
        queue = Queue("gw-errors", exchange=event_exchange("gateway"), routing_key="error.#",
                      durable=False)(conn.default_channel)
        queue.declare()
        result = testing.TestClient(app).simulate_get("/api/explode/",
                                                      headers={"X-Request-ID": "rid-5"})
        message = queue.get(no_ack=True)
    assert result.status_code == 500
    assert result.headers["Content-Type"] == "application/json"
    assert result.json == {"error": "ZeroDivisionError",
                           "error_class": "<class 'ZeroDivisionError'>",
                           "detail": "Error details can be found in the admin panel",
                           "path": "/api/explode/", "status_code": 500}
    event = json.loads(message.body)
    assert event["type"] == "error.logged" and event["service"] == "gateway"
    assert event["request_id"] == "rid-5" and event["payload"]["kind"] == "ZeroDivisionError"
    assert "division by zero" in event["payload"]["data"]


class FakeRpc:
    """Records every call; answers token lookups and lists, echoes the rest."""

    def __init__(self):
        self.calls = []

    def call(self, service, method, caller=None, path="", **kwargs):
        if method == "authenticate_token":
            return {"caller": {"user_id": 1, "username": "ann"}, "token_id": 1,
                    "expiry": "9999-12-31"}
        self.calls.append((service, method, kwargs))
        if method.startswith("list_"):
            return {"results": []}
        if method.startswith("bulk_delete_"):
            return 2
        return {"echo": method}


def raw_status(app, method, url, json_body=None) -> int:
    """The status without falcon's WSGI validator (which refuses InvenTree's body on a 204)."""
    path, _, query = url.partition("?")
    env = testing.create_environ(
        method=method, path=path, query_string=query,
        body=json.dumps(json_body) if json_body is not None else "",
        headers={"Authorization": "Token t", "Content-Type": "application/json"})
    start = testing.StartResponseMock()
    b"".join(app(env, start))
    return int(start.status.split()[0])


def test_importer_routes_make_their_rpc_calls(tmp_path):
    rpc = FakeRpc()
    app = make_app(rpc, tmp_path, IMPORT_RPC_TIMEOUT=120)
    body = {"items": [1, 2]}
    first_page = {"limit": "1000", "offset": "0"}  # lists without limit: gateway.unbounded
    cases = [
        ("GET", "/api/importer/session/?status=10", None,
         ("list_sessions", {"params": {"status": "10", **first_page}}), 200),
        ("OPTIONS", "/api/importer/session/", None, ("session_options", {"detail": False}), 200),
        ("POST", "/api/importer/session/", {"model_type": "part"},
         ("create_session", {"data": {"model_type": "part"}, "upload": None,
                             "timeout": 120}), 201),
        ("DELETE", "/api/importer/session/", body, ("bulk_delete_sessions", {"body": body}), 204),
        ("GET", "/api/importer/session/3/", None, ("get_session", {"pk": 3}), 200),
        ("PATCH", "/api/importer/session/3/", {"field_defaults": {"a": 1}},
         ("update_session", {"pk": 3, "data": {"field_defaults": {"a": 1}}, "partial": True,
                             "timeout": 120}), 200),
        ("DELETE", "/api/importer/session/3/", None, ("delete_session", {"pk": 3}), 204),
        ("OPTIONS", "/api/importer/session/3/", None, ("session_options", {"detail": True}), 200),
        ("POST", "/api/importer/session/3/accept_fields/", None, ("accept_fields", {"pk": 3}),
         200),
        ("POST", "/api/importer/session/3/accept_rows/", {"rows": [4]},
         ("accept_rows", {"pk": 3, "body": {"rows": [4]}, "timeout": 120}), 201),
        ("GET", "/api/importer/column-mapping/", None,
         ("list_column_mappings", {"params": first_page}), 200),
        ("PUT", "/api/importer/column-mapping/5/", {"column": "a"},
         ("update_column_mapping", {"pk": 5, "data": {"column": "a"}, "partial": False}), 200),
        ("OPTIONS", "/api/importer/column-mapping/5/", None,
         ("column_mapping_options", {"detail": True}), 200),
        ("DELETE", "/api/importer/row/", body, ("bulk_delete_rows", {"body": body}), 204),
        ("GET", "/api/importer/row/6/", None, ("get_row", {"pk": 6}), 200),
        ("DELETE", "/api/importer/row/6/", None, ("delete_row", {"pk": 6}), 204),
        ("GET", "/api/importer/models/", None, ("importable_models", {}), 200),
    ]
    for method, path, json_body, (rpc_method, kwargs), status in cases:
        rpc.calls.clear()
        assert raw_status(app, method, path, json_body) == status, (method, path)
        assert rpc.calls == [("importer", rpc_method, kwargs)], (method, path)
    rpc.calls.clear()
    assert raw_status(app, "DELETE", "/api/importer/column-mapping/5/") == 405
    assert raw_status(app, "POST", "/api/importer/column-mapping/", {}) == 405
    assert rpc.calls == []


def test_importer_data_file_by_claim_check_and_too_large(tmp_path):
    rpc = FakeRpc()

    def post(content: bytes, **settings):
        client = testing.TestClient(make_app(rpc, tmp_path, IMPORT_RPC_TIMEOUT=120, **settings),
                                    headers={"Authorization": "Token t"})
        body = (b'--B\r\nContent-Disposition: form-data; name="model_type"\r\n\r\npart\r\n'
                b'--B\r\nContent-Disposition: form-data; name="data_file"; filename="d.csv"\r\n'
                b"\r\n" + content + b"\r\n--B--\r\n")
        return client.simulate_patch("/api/importer/session/3/", body=body,
                                     headers={"Content-Type": "multipart/form-data; boundary=B"})

    result = post(b"a,b\n1,2\n")
    assert result.status_code == 200
    [(_, method, kwargs)] = rpc.calls
    assert method == "update_session" and kwargs["timeout"] == 120
    assert kwargs["data"] == {"model_type": "part"} and kwargs["partial"] is True
    assert kwargs["upload"]["name"] == "d.csv" and kwargs["upload"]["size"] == 8
    rpc.calls.clear()
    result = post(b"a,b\n1,2\n", IMPORT_MAX_BYTES=4)
    assert result.status_code == 400
    assert result.json == {"data_file": ["Data file exceeds maximum size limit"]}
    assert result.headers["Connection"] == "close"
    assert rpc.calls == []
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
