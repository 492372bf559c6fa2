"""The broker is a trust boundary: a real status service on a real RabbitMQ runs only calls
whose caller context is signed with a current key, for that method, recently. The attacker
here publishes straight to RabbitMQ with kombu, as anyone with broker access could."""
import time
import uuid

import pytest
from kombu import Connection, Producer, Queue
from sqlalchemy import func, select

from services.status import models
from services.status.service import Service as StatusService
from services.status.settings import StatusSettings
from svckit.container_settings import container_config
from svckit.context import Caller
from svckit.db import Database
from svckit.errors import CallerRefused, NotAuthenticated
from svckit.rpc_client import RPC_EXCHANGE, RpcClient
from svckit.service import CallerProvider, ServiceBase, rpc
from svckit.signed_rpc import RpcProxy
from svckit.signing import CallerSigner

NEW, OLD = "new-key-" + "n" * 40, "old-key-" + "o" * 40
SUPERUSER = Caller(user_id=1, username="admin", is_staff=True, is_superuser=True)


class RelayService(ServiceBase):
    """Calls the status service on behalf of its own caller."""
    name = "relaysvc"
    caller = CallerProvider()
    status = RpcProxy("status")

    @rpc
    def stockitem_type(self):
        return self.status.get_content_type_by_model(model="stockitem")["pk"]


def settings(amqp_uri, data_dir, **more):
    """The status service's and other test services' settings: keys NEW, then OLD
    (mid-rotation)."""
    return StatusSettings(AMQP_URI=amqp_uri, INVENTREE_DATA_DIR=str(data_dir),
                          CALLER_SIGNING_KEYS=f"{NEW},{OLD}", **more)


@pytest.fixture
def status(tmp_path, rabbit_config, container_factory):
    """The status service and its database."""
    url = f"sqlite:///{tmp_path / 'status.sqlite3'}"
    db = Database(url, models.metadata)
    db.create_all()
    container_factory(StatusService, container_config(
        settings(rabbit_config["AMQP_URI"], tmp_path, STATUS_DATABASE_URL=url))).start()
    yield db, rabbit_config["AMQP_URI"]
    db.dispose()


def client(uri, *keys):
    return RpcClient(uri, timeout=10, signer=CallerSigner(keys or [NEW]))


def new_state(uri) -> dict:
    model = client(uri).call("status", "get_content_type_by_model", SUPERUSER, model="stockitem")
    return {"key": 11, "name": "OK - advanced", "label": "OK (advanced)",
            "color": "secondary", "logical_key": 10, "model": model["pk"],
            "reference_status": "StockStatus"}


def publish(uri, method: str, headers: dict, reply=True, **kwargs) -> dict | None:
    """Publish an RPC request to `status.<method>` by hand; its reply, if one was asked."""
    with Connection(uri) as conn:
        channel = conn.channel()
        key = uuid.uuid4().hex
        replies = Queue(f"rpc.reply-attacker-{key}", exchange=RPC_EXCHANGE, routing_key=key,
                        exclusive=True, auto_delete=True)(channel)
        replies.declare()
        Producer(channel, exchange=RPC_EXCHANGE, serializer="json").publish(
            {"args": [], "kwargs": kwargs}, routing_key=f"status.{method}",
            headers=headers, correlation_id=key, **({"reply_to": key} if reply else {}))
        if not reply:
            return None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            message = replies.get(no_ack=True)
            if message is not None:
                return message.payload
            time.sleep(0.02)
    raise AssertionError("no reply")


def nothing_written(db) -> bool:
    with db.read() as s:
        return (s.execute(select(func.count()).select_from(models.custom_states)).scalar() == 0
                and s.execute(select(func.count()).select_from(models.store.events)).scalar() == 0)


def test_a_forged_superuser_context_is_refused_and_nothing_is_written(status):
    db, uri = status
    data = new_state(uri)
    caller = SUPERUSER.model_dump_json()
    now = time.time()
    attempts = {
        "unsigned": {},
        "signed with a key of its own": CallerSigner(["attacker" * 5]).sign(
            caller, "status", "create_custom_state"),
        "stale": CallerSigner([NEW]).sign(caller, "status", "create_custom_state", now - 600),
        "replayed from another method": CallerSigner([NEW]).sign(
            caller, "status", "list_custom_states"),
        "malformed": "v1.garbage",
    }
    for what, signature in attempts.items():
        headers = {"nameko.caller": caller}
        if signature:
            headers["nameko.caller_sig"] = signature
        answer = publish(uri, "create_custom_state", headers, data=data)
        assert answer["result"] is None, what
        assert answer["error"]["exc_type"] == "CallerRefused", what
        assert "The status service refused the call" in answer["error"]["value"], what
    assert nothing_written(db)


def test_a_refused_request_without_reply_queue_is_dropped_and_the_service_lives_on(status):
    db, uri = status
    publish(uri, "create_custom_state", {"nameko.caller": SUPERUSER.model_dump_json()},
            reply=False, data=new_state(uri))
    assert client(uri).call("status", "ping") == "pong"
    assert nothing_written(db)


def test_a_context_signed_with_the_old_key_is_accepted_during_rotation(status):
    db, uri = status
    created = client(uri, OLD).call("status", "create_custom_state", SUPERUSER,
                                    data=new_state(uri))
    assert created["name"] == "OK - advanced"
    assert client(uri, NEW).call("status", "get_custom_state", SUPERUSER,
                                 pk=created["pk"])["pk"] == created["pk"]


def test_a_client_with_an_unknown_key_gets_503_caller_refused(status):
    _, uri = status
    with pytest.raises(CallerRefused) as info:
        client(uri, "retired-" + "r" * 40).call("status", "ping")
    assert info.value.status == 503
    assert info.value.detail == {
        "detail": "The status service refused the call: the caller signature does not match"}


def test_a_service_calling_another_signs_for_that_call(status, rabbit_config, tmp_path,
                                                       container_factory):
    """The relay's own call is signed for relaysvc.stockitem_type; it re-signs its caller for
    status.get_content_type_by_model (the propagated signature would be refused)."""
    _, uri = status
    container_factory(RelayService, container_config(
        settings(rabbit_config["AMQP_URI"], tmp_path))).start()
    expected = client(uri).call("status", "get_content_type_by_model", SUPERUSER,
                                model="stockitem")["pk"]
    assert client(uri).call("relaysvc", "stockitem_type", SUPERUSER) == expected
    with pytest.raises(NotAuthenticated):  # the relay's anonymous caller, not another
        client(uri).call("relaysvc", "stockitem_type", Caller())


def test_the_gateway_answers_a_refused_call_with_503(status):
    """A gateway whose key the services do not know (a botched rotation) answers 503 with the
    reason, in InvenTree's shape; the token lookup is answered in process."""
    from falcon import testing

    from gateway.app import create_app
    from gateway.settings import GatewaySettings
    from svckit.rpc_client import ThreadLocalRpc
    from tests.gateway.fakerpc import FakeBus

    _, uri = status
    real = ThreadLocalRpc(uri, 10, signer=CallerSigner(["retired-" + "r" * 40]))

    class Rpc:
        def call(self, service, method, caller=None, path="", timeout=None, **kwargs):
            if method == "authenticate_token":
                return {"caller": SUPERUSER.model_dump(mode="json"), "token_id": 1,
                        "expiry": "9999-12-31"}
            return real.call(service, method, caller, path, timeout, **kwargs)

    app = create_app(GatewaySettings(), rpc=Rpc(), bus=FakeBus())
    result = testing.TestClient(app).simulate_get("/api/contenttype/",
                                                  headers={"Authorization": "Token t"})
    assert result.status_code == 503
    assert result.json == {
        "detail": "The status service refused the call: the caller signature does not match"}
