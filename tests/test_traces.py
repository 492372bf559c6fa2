"""Traces (svckit.tracing): one upload through the gateway app, a real attachments service
and a real audit service on a real RabbitMQ is one connected trace (the audit subscriber's
span linked to the span that recorded the event); a collector that refuses connections or
never answers neither slows nor fails requests."""
import socket
import statistics
import time
import uuid

import pytest
from falcon import testing
from nameko.events import SERVICE_POOL
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import select

from gateway.app import create_app
from gateway.settings import GatewaySettings
from services.attachments import models as attachment_models
from services.attachments.service import Service as AttachmentsService
from services.attachments.settings import AttachmentsSettings
from services.audit import models as audit_models
from services.audit.service import Service as AuditService
from services.audit.settings import AuditSettings
from svckit import tracing
from svckit.container_settings import container_config
from svckit.context import Caller
from svckit.db import Database
from svckit.rpc_client import ThreadLocalRpc
from svckit.service import CallerProvider, ServiceBase, event_handler, rpc
from svckit.settings import ServiceSettings
from svckit.signing import CallerSigner
from svckit.tracing_setup import provider_from
from tests.gateway.fakerpc import FakeBus, FakeRpc
from tests.helpers import Acceptor

KEY = "trace-key-" + "k" * 40
EDITOR = Caller(user_id=1, username="editor", is_staff=True, is_superuser=True)
# another staff user: its reads of the editor's uploads ask the users service for the
# uploader (a caller's own uploads take it from the caller context)
REVIEWER = Caller(user_id=2, username="reviewer", is_staff=True, is_superuser=True)


class UsersStandIn(ServiceBase):
    """The users service's one method the attachments service calls, on the real broker."""
    name = "users"
    caller = CallerProvider()

    @rpc
    def user_details(self, pks):
        return {str(pk): EDITOR.brief for pk in pks}


class Subscriber(ServiceBase):
    """An `@event_handler` subscriber of the attachments service's uploads."""
    name = "tracesub"
    seen: list = []

    @event_handler("attachments", "attachment.uploaded", handler_type=SERVICE_POOL)
    def on_uploaded(self, event):
        self.seen.append(event["request_id"])


class GatewayRpc:
    """The gateway's real RPC client; the token lookup is answered in process (users'
    authentication is not what is traced here)."""

    def __init__(self, uri):
        self.real = ThreadLocalRpc(uri, 10, CallerSigner([KEY]))

    def call(self, service, method, caller=None, path="", timeout=None, **kwargs):
        if method == "authenticate_token":
            caller = REVIEWER if kwargs.get("key") == "reviewer" else EDITOR
            return {"caller": caller.model_dump(mode="json"), "token_id": caller.user_id,
                    "expiry": "9999-12-31"}
        return self.real.call(service, method, caller, path, timeout, **kwargs)


@pytest.fixture
def exporter():
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracing.install(provider)
    yield spans
    tracing.uninstall()
    provider.shutdown()


def database(url, metadata) -> Database:
    db = Database(url, metadata)
    db.create_all()
    return db


@pytest.fixture
def system(tmp_path, rabbit_config, container_factory, exporter):
    uri = rabbit_config["AMQP_URI"]
    common = {"AMQP_URI": uri, "INVENTREE_DATA_DIR": str(tmp_path),
              "CALLER_SIGNING_KEYS": KEY}
    attachments_url = f"sqlite:///{tmp_path / 'attachments.sqlite3'}"
    audit_url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    dbs = [database(attachments_url, attachment_models.metadata),
           database(audit_url, audit_models.metadata)]
    container_factory(AttachmentsService, container_config(AttachmentsSettings(
        ATTACHMENTS_DATABASE_URL=attachments_url, **common))).start()
    container_factory(AuditService, container_config(AuditSettings(
        AUDIT_DATABASE_URL=audit_url, AUDIT_SOURCES="attachments", **common))).start()
    container_factory(UsersStandIn, container_config(ServiceSettings(**common))).start()
    container_factory(Subscriber, container_config(ServiceSettings(**common))).start()
    app = create_app(GatewaySettings(**common), rpc=GatewayRpc(uri), bus=FakeBus())
    yield testing.TestClient(app), dbs[1]
    for db in dbs:
        db.dispose()


def multipart(fields: dict, name: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
             .encode() for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="attachment"; '
                 f'filename="{name}"\r\nContent-Type: text/plain\r\n\r\n'.encode()
                 + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), boundary


def eventually(check, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("not within the time allowed")


def test_one_upload_is_one_connected_trace(system, exporter):
    client, audit_db = system
    body, boundary = multipart({"model_type": "part", "model_id": "1", "comment": "traced"},
                               "notes.txt", b"hello traces")
    answer = client.simulate_post(
        "/api/attachment/", body=body, headers={
            "Authorization": "Token t", "X-Request-ID": "trace-upload-1",
            "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert answer.status_code == 201, answer.text

    def recorded():
        with audit_db.read() as s:
            rows = s.execute(select(audit_models.audit_events)).mappings().all()
        return [r for r in rows if r["request_id"] == "trace-upload-1"]
    events = eventually(recorded)
    audit = eventually(lambda: [s for s in exporter.get_finished_spans()
                                if s.name == "audit.events"])

    spans = exporter.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}
    http = [s for s in spans if s.name == "POST /api/attachment/"]
    assert len(http) == 1 and http[0].kind == SpanKind.SERVER and http[0].parent is None
    assert http[0].attributes["http.route"] == "/api/attachment/"
    assert http[0].attributes["http.response.status_code"] == 201
    trace_id = http[0].context.trace_id

    def parent(span):
        return by_id[span.parent.span_id] if span.parent else None

    client_span = next(s for s in spans if s.name == "attachments.create_attachment"
                       and s.kind == SpanKind.CLIENT)
    handler = next(s for s in spans if s.name == "attachments.create_attachment"
                   and s.kind == SpanKind.SERVER)
    assert parent(client_span) is http[0]
    assert parent(handler) is client_span  # across RabbitMQ, in the request's headers
    transactions = [s for s in spans if s.name == "db.transaction" and s.parent
                    and s.parent.span_id == handler.context.span_id]
    assert transactions and all(s.attributes["db.system"] == "sqlite" for s in transactions)
    for span in (client_span, handler, *transactions):
        assert span.context.trace_id == trace_id

    # the event carries the context of the span that recorded it; the subscriber links to it
    assert [e["type"] for e in events] == ["attachment.uploaded"]
    links = [link.context for span in audit for link in span.links]
    assert any(link.trace_id == trace_id and link.span_id == handler.context.span_id
               for link in links), links
    assert all(span.kind == SpanKind.CONSUMER for span in audit)
    handled = eventually(lambda: [s for s in exporter.get_finished_spans()
                                  if s.name == "tracesub.on_uploaded"])
    assert handled[0].kind == SpanKind.CONSUMER and handled[0].parent is None
    assert [(link.context.trace_id, link.context.span_id) for link in handled[0].links] == [
        (trace_id, handler.context.span_id)]
    assert Subscriber.seen == ["trace-upload-1"]

    # a service's own call to another service carries its worker's span on
    exporter.clear()
    pk = answer.json["pk"]
    assert client.simulate_get(f"/api/attachment/{pk}/",
                               headers={"Authorization": "Token reviewer"}).status_code == 200
    spans = exporter.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}
    read = next(s for s in spans if s.name == "attachments.get_attachment"
                and s.kind == SpanKind.SERVER)
    users = [s for s in spans if s.name == "users.user_details"]
    assert users and all(parent(s) is read for s in users)
    assert next(s for s in spans if s.name == "GET /api/attachment/{id}/").context.trace_id \
        == users[0].context.trace_id


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: connections are refused


class Silent:
    """A collector that accepts connections and never answers."""

    def __init__(self):
        self.held: list = []
        self.acceptor = Acceptor(self.held.append)
        self.port = self.acceptor.port

    def close(self):
        self.acceptor.close()
        for conn in self.held:
            conn.close()


def timed_requests(client, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        answer = client.simulate_get("/api/project-code/", headers={"Authorization": "Token t"})
        times.append(time.perf_counter() - started)
        assert answer.status_code == 200
    return times


EXPORT_TIMEOUT_MS = 5000  # long enough that no request on a loaded machine takes it


@pytest.mark.parametrize("collector", ["refused", "silent"])
def test_an_unreachable_collector_neither_slows_nor_fails_requests(collector):
    silent = Silent() if collector == "silent" else None
    port = silent.port if silent else closed_port()
    settings = GatewaySettings(OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
                               OTEL_EXPORTER_OTLP_TIMEOUT=EXPORT_TIMEOUT_MS)
    client = testing.TestClient(create_app(GatewaySettings(), rpc=FakeRpc(), bus=FakeBus()))
    timed_requests(client, 20)  # warm up
    untraced = timed_requests(client, 300)
    provider = provider_from(settings, "gateway")
    assert provider is not None
    tracing.install(provider)
    try:
        traced = timed_requests(client, 300)  # 300 spans: several failed export batches
    finally:
        tracing.uninstall()
        started = time.monotonic()
        provider.shutdown()  # the last export may wait for its timeout, no longer
        shutdown = time.monotonic() - started
        if silent:
            silent.close()
    # no request waited on the collector (one that did would take the whole export timeout),
    # and they were not slower as a whole than untraced ones beyond noise (a loaded machine)
    assert max(traced) < EXPORT_TIMEOUT_MS / 1000
    assert statistics.median(traced) < 2 * statistics.median(untraced) + 0.005
    assert shutdown < 3 * EXPORT_TIMEOUT_MS / 1000


@pytest.mark.parametrize("header, continued", [
    ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", True),
    ("00-not-a-trace-context", False),
    ("x" * 5000, False),
])
def test_a_client_s_traceparent_is_continued_and_a_bad_one_ignored(exporter, header,
                                                                     continued):
    client = testing.TestClient(create_app(GatewaySettings(), rpc=FakeRpc(), bus=FakeBus()))
    answer = client.simulate_get("/api/project-code/7/", headers={
        "Authorization": "Token t", "traceparent": header})
    assert answer.status_code == 200
    [span] = [s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert span.name == "GET /api/project-code/{id}/"  # the template, never the path
    assert span.attributes["url.path"] == "/api/project-code/7/"
    given = int("0af7651916cd43dd8448eb211c80319c", 16)
    assert (span.context.trace_id == given) is continued
    assert (span.parent is not None) is continued
