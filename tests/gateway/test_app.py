"""Gateway behaviour that needs no service: route table vs schema, 500s and their event."""
import json
import re

from falcon import testing
from kombu import Connection, Queue

from gateway.app import Api, create_app
from gateway.bus import EventBus
from gateway.resources.base import Resource
from gateway.resources.root import SCHEMA_FILE
from svckit.relay import event_exchange
from svckit.rpc_client import ThreadLocalRpc

# not in InvenTree's exported schema (the last two: InvenTree's optional trailing slash)
OWN = {"/api/", "/api/schema/", "/api/email/login/", "/api/user/{id}", "/api/user/group/{id}",
       "/media/{path}"}


def test_every_route_is_in_the_schema_with_its_methods():
    schema = json.loads(SCHEMA_FILE.read_text())["paths"]
    app = create_app()
    served = {}
    for template, resource in app.routes:
        template = re.sub(r"\{(\w+):\w+\}", r"{\1}", template)  # drop field converters
        served[template] = {m for m in ("get", "post", "put", "patch", "delete")
                            if hasattr(resource, f"on_{m}")}
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
    api = Api(rpc=ThreadLocalRpc(uri, 2), bus=EventBus(uri))
    app = create_app(api)
    app.add_route("/api/explode/", Exploding(api))
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
