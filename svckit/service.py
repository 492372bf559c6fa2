"""nameko glue for services: the store provider (database, event relay, error log), the
caller provider, the `rpc` decorator (signed callers only, svckit.signed_rpc) whose errors
reach the gateway intact, and the `event_handler` decorator whose queues have the
configured type (svckit.broker). Each reads the process's settings from its container
(svckit.container_settings).

nameko and eventlet imports stay here, in svckit.signed_rpc and in svckit.rpc_client, so the
transport can be swapped without touching domain code.
"""
import json
import logging
import traceback

import eventlet
from eventlet.event import Event
from eventlet.semaphore import Semaphore
from kombu import Connection
from nameko.amqp.publish import Publisher
from nameko.constants import NON_PERSISTENT
from nameko.events import EventHandler as NamekoEventHandler
from nameko.exceptions import get_module_path, registry
from nameko.extensions import DependencyProvider
from nameko.rpc import Responder

from svckit import chainlog, idempotency
from svckit.blobstore import S3BlobStore
from svckit.broker import durable_queue_arguments
from svckit.container_settings import settings_of
from svckit.context import Caller
from svckit.db import Database
from svckit.errors import ERROR_CLASSES, ApiError, PermissionDenied, ServiceUnavailable
from svckit.events import EventStore
from svckit.fields import describe, options_document
from svckit.importing import ImportTargets
from svckit.metrics import ServiceMetrics
from svckit.opsserver import OpsServer
from svckit.relay import Relay
from svckit.settings import MediaSettings, ServiceSettings
from svckit.signed_rpc import QueueConsumer, SignedRpc, verified_caller
from svckit.worker_log import WorkerLog
from svckit.worker_trace import WorkerTrace

log = logging.getLogger(__name__)
EXPORT_PAGE = 1000  # rows of an export RPC answer (the gateway pages the list for the rest)
# longest pause between the event relay's failed attempts: events follow a recovered
# database or broker within this (the recovery target is 5 s)
RELAY_RETRY_MAX_SECONDS = 2.0

for _cls in ERROR_CLASSES:  # re-raised as the same class in the caller
    registry[get_module_path(_cls)] = _cls


class ReplyPublisher(Publisher):
    """RPC replies go to the caller's own reply queue and are worth nothing once it has
    timed out: transient, and not confirmed (a confirmation round trip per reply was a
    fifth of a service's time under load). A lost reply surfaces as the caller's timeout.

    Producers, one connection each, are kept for the next reply (nameko looks one up by
    building a new Connection object per reply); a greenthread holds one while it publishes,
    so replies never interleave on a connection."""

    use_confirms = False
    delivery_mode = NON_PERSISTENT
    idle: dict[str, list] = {}  # AMQP URI -> producers not in use

    def publish(self, payload, **kwargs):
        idle = self.idle.setdefault(self.amqp_uri, [])
        producer = idle.pop() if idle else Connection(self.amqp_uri).Producer()
        try:
            producer.publish(payload, delivery_mode=self.delivery_mode, retry=self.retry,
                             retry_policy=self.retry_policy, **kwargs)
        except BaseException:
            producer.connection.release()
            raise
        idle.append(producer)


Responder.publisher_cls = ReplyPublisher


def rpc(fn):
    """An RPC entrypoint that runs only for a signed caller context (svckit.signed_rpc) and
    whose ApiErrors are expected answers, not failures."""
    return SignedRpc.decorator(expected_exceptions=ApiError)(fn)


class EventHandler(NamekoEventHandler):
    """nameko's event handler; a queue that outlives its consumers (not exclusive, not
    auto-delete: every handler with reliable delivery) has the configured type."""

    queue_consumer = QueueConsumer()

    def setup(self):
        super().setup()
        if not (self.queue.exclusive or self.queue.auto_delete):
            self.queue.queue_arguments = {
                **(self.queue.queue_arguments or {}),
                **durable_queue_arguments(settings_of(self.container).AMQP_QUEUE_TYPE)}

    def handle_message_processed(self, message, result=None, exc_info=None):
        """A failed event is retried, then parked (svckit.parking), not dropped as nameko
        would (or requeued forever with `requeue_on_error`)."""
        guard = self.queue_consumer.guard(self)
        if exc_info is None or guard is None:
            return super().handle_message_processed(message, result, exc_info)
        try:
            guard.failed(message, exc_info[1])
        except Exception:  # the broker went away meanwhile
            log.exception("could not retry or park a failed event of %s", guard.queue)
            self.queue_consumer.requeue_message(message)


event_handler = EventHandler.decorator


class CallerProvider(DependencyProvider):
    """Injects the authenticated caller the gateway (or a calling service) signed into the
    call's context data."""

    def get_dependency(self, worker_ctx):
        return verified_caller(worker_ctx)


class Store(DependencyProvider):
    """The service's own database, its event relay, and its error log.

    Injects a `Database`. After every committed write the relay loop is woken to publish the
    new events; with `publish_before_reply` they are published at once instead, before the
    entrypoint replies, so subscribers such as the gateway's caches hear of a change before
    its author does (it costs the write a broker round trip). The loop also retries what
    could not be published and picks up events written by other processes (the CLIs). An
    unexpected exception in any entrypoint is appended as `error.logged`.
    """

    def __init__(self, store: EventStore, relay: bool = True, publish_before_reply=False):
        self.store = store
        self.relay_enabled = relay
        self.publish_before_reply = publish_before_reply
        self.db: Database | None = None  # made in setup()
        self._running = False
        self._purging = False
        self.key_ttl = self.own_key_ttl = 0.0  # IDEMPOTENCY_KEY_TTL, read in setup()
        self._wake = Event()
        self._pumping = Semaphore()
        self._relay: Relay | None = None
        self.coalesce = 0.0  # RELAY_COALESCE_SECONDS, read in setup()

    def setup(self):
        settings = settings_of(self.container)
        self.coalesce = settings.RELAY_COALESCE_SECONDS
        service = self.container.service_name
        db = self.db = Database(settings.database_url(service), self.store.events.metadata,
                                settings.search_limits(), service,
                                statement_timeout=settings.DATABASE_STATEMENT_TIMEOUT,
                                connect_timeout=settings.DATABASE_CONNECT_TIMEOUT)
        db.event_store = self.store
        self.key_ttl = settings.IDEMPOTENCY_KEY_TTL
        self.own_key_ttl = idempotency.own_key_seconds(self.key_ttl,
                                                       settings.CALLER_SIGNATURE_MAX_AGE)
        if self.relay_enabled:
            self._relay = Relay(self.container.service_name, db, self.store, settings.AMQP_URI)
            db.on_commit = self.publish_pending if self.publish_before_reply else self.nudge

    def start(self):
        if self.relay_enabled:
            self._running = True
            self.container.spawn_managed_thread(self._relay_loop)
        self._purging = True
        self.container.spawn_managed_thread(self._purge_loop)

    def stop(self):
        self._running = False
        self._purging = False
        self.nudge()

    def kill(self):
        self.stop()

    def nudge(self):
        if not self._wake.ready():
            self._wake.send(True)

    def publish_pending(self) -> bool:
        """Publish committed events now; False (and the loop retries) if that failed."""
        try:
            with self._pumping:
                assert self._relay is not None  # made in setup() when the relay is enabled
                self._relay.pump()
            return True
        except ServiceUnavailable as exc:  # the database is down: said once by its watch
            log.debug("event relay waits for the database: %s", exc.detail)
            self.nudge()
            return False
        except Exception:
            log.exception("event relay failed; the relay loop will retry")
            self.nudge()
            return False

    def _relay_loop(self):
        backoff = 0.5
        coalesce = self.coalesce
        try:
            while self._running:
                with eventlet.Timeout(1, False):
                    self._wake.wait()
                if coalesce and self._wake.ready():
                    eventlet.sleep(coalesce)  # let concurrent commits join this batch
                self._wake = Event()
                if not self._running:
                    break
                if self.publish_pending():
                    backoff = 0.5
                else:
                    eventlet.sleep(backoff)
                    backoff = min(backoff * 2, RELAY_RETRY_MAX_SECONDS)
        finally:
            if self._relay is not None:
                try:
                    with self._pumping:  # not while a write's publish_pending pumps
                        self._relay.flush()
                except Exception:  # unmarked events are published again by the next relay
                    log.warning("could not mark the last published events as published")
                self._relay.close()

    def _purge_loop(self):
        """Expired idempotency keys (svckit.idempotency) are deleted a few times per
        IDEMPOTENCY_KEY_TTL (at least every 10 minutes)."""
        interval = max(1.0, min(self.key_ttl / 4, 600.0))
        while self._purging:
            try:
                assert self.db is not None  # made in setup()
                idempotency.purge_expired(self.db, self.store.idempotency)
            except ServiceUnavailable as exc:  # the database is down: said once by its watch
                log.debug("idempotency key purge waits for the database: %s", exc.detail)
            except Exception:
                log.exception("could not purge expired idempotency keys; will retry")
            waited = 0.0
            while self._purging and waited < interval:
                eventlet.sleep(min(1.0, interval - waited))
                waited += 1.0

    def get_dependency(self, worker_ctx):
        assert self.db is not None  # made in setup()
        return idempotency.units_for(worker_ctx, verified_caller(worker_ctx), self.db,
                                     self.store.idempotency, self.key_ttl, self.own_key_ttl)

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        if exc_info is None or isinstance(exc_info[1], ApiError):
            return
        exc = exc_info[1]
        caller = verified_caller(worker_ctx)
        payload = {"kind": type(exc).__name__, "info": str(exc)[:1000],
                   "data": "".join(traceback.format_exception(*exc_info))[-20000:],
                   "path": str(worker_ctx.data.get("path") or worker_ctx.entrypoint.method_name)[:200],
                   "service": self.container.service_name}
        try:
            assert self.db is not None  # made in setup()
            with self.db.write() as s:
                self.store.record(s, "error", caller.request_id, "error.logged", payload, caller)
        except Exception:
            log.exception("could not record error.logged for %s", json.dumps(payload)[:500])


class StartupCheck(DependencyProvider):
    """Runs `checks` (callables of the process's settings that raise on a bad setting, e.g.
    resolving a configured plugin) when the container starts, so a misconfigured service
    stops at start with the check's message rather than failing its first request. Injects
    nothing."""

    def __init__(self, *checks):
        self.checks = checks

    def setup(self):
        settings = settings_of(self.container)
        for check in self.checks:
            check(settings)


class Blobs(DependencyProvider):
    """The process's blob store (svckit.blobstore, from the MEDIA_* settings); an S3 bucket
    is created if missing."""

    def setup(self):
        settings = settings_of(self.container)
        assert isinstance(settings, MediaSettings), "a service with Blobs needs MediaSettings"
        self.store = settings.blob_store()
        if isinstance(self.store, S3BlobStore):
            self.store.ensure_bucket()

    def get_dependency(self, worker_ctx):
        return self.store


class ServiceBase:
    """Entrypoints and checks every service has (services define `db`, `caller` and
    `settings`)."""

    db: Database
    caller: Caller
    ops = OpsServer()  # /healthz, /readyz, /metrics on METRICS_PORT (svckit.opsserver)
    service_metrics = ServiceMetrics()  # svckit.metrics
    worker_log = WorkerLog()  # a log line per worker (svckit.worker_log)
    worker_trace = WorkerTrace()  # a span per worker and transaction (svckit.worker_trace)
    settings: ServiceSettings

    def _options(self, title: str, fields: dict, detail: bool, description: str = "") -> dict:
        """OPTIONS metadata of a list ("<title> List", POST) or detail view ("<title>
        Detail", PUT) whose writes are for staff: other callers see no actions."""
        self.caller.require_login()
        staff = self.caller.is_admin
        methods = (["PUT"] if detail else ["POST"]) if staff else []
        return options_document(f"{title} {'Detail' if detail else 'List'}", description,
                                fields, methods)

    @staticmethod
    def _export(fields: dict, list_method, params: dict) -> dict:
        """`?export=`: the columns, the `count` of rows matching the list's filters and search
        (its own paging ignored), and the first EXPORT_PAGE of them; the gateway asks the list
        for the following pages, so no message holds the whole table."""
        params = {k: v for k, v in params.items() if k not in ("limit", "offset")}
        page = list_method({**params, "limit": str(EXPORT_PAGE), "offset": "0"})
        return {"fields": describe(fields), "count": page["count"], "rows": page["results"]}

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def readiness(self) -> dict:
        """What keeps this process from being ready (svckit.health; empty: ready), for the
        gateway's /readyz."""
        return self.ops()

    @rpc
    def config_lookups(self) -> list:
        """Every setting of this process's settings class, with source and the time they
        were read, never the values (`GET /api/admin/config/`, superusers only)."""
        if not self.caller.is_superuser:
            raise PermissionDenied()
        return self.settings.lookups()

    @rpc
    def event_catalog(self) -> dict:
        """Every event type this service records: schema version, JSON Schema, description
        (svckit.eventcatalog), for `GET /api/events/catalog/`."""
        return self.db.event_store.catalog.describe()

    @rpc
    def verify_event_log(self, params: dict) -> dict:
        """Walk this service's event log (or the events of [after, before)) along its hash
        chain (svckit.chainlog), after linking the events the relay has not linked yet:
        intact, or the first event that does not match. `digest`:
        the audit service's last digest of this log, checked against it. Staff only."""
        self.caller.require_staff()
        after = chainlog.time_param(params, "after")
        before = chainlog.time_param(params, "before")
        digest = params.get("digest") if isinstance(params.get("digest"), dict) else None
        store = self.db.event_store
        with self.db.write() as s:  # what the relay has not linked yet (svckit.chainlog)
            chainlog.chain_pending(store, s)
        with self.db.read() as s:
            return chainlog.verify(store, s, after, before, digest)

    @rpc
    def database_engine(self) -> str:
        """The SQL dialect of this service's store ("sqlite", "postgresql")."""
        return self.db.engine.dialect.name


class ImportTargetMixin(ServiceBase):
    """The import-target protocol's entrypoints (svckit.importing) for a service with an
    `IMPORTS` (ImportTargets) attribute. Writes are for staff. Override `_import_context`
    to look up, before the transaction opens, what the batch refers to elsewhere."""

    IMPORTS: ImportTargets  # set by the service

    def _import_context(self, rows) -> dict:
        return {}

    @rpc
    def import_targets(self) -> list:
        return self.IMPORTS.targets()

    @rpc
    def import_fields(self, model_type: str) -> dict:
        return self.IMPORTS.fields(model_type)

    @rpc
    def import_validate(self, model_type: str, rows: list) -> list:
        context = self._import_context(rows)
        with self.db.read() as s:
            return self.IMPORTS.validate(s, model_type, rows, context)

    @rpc
    def import_create(self, model_type: str, rows: list) -> list:
        self.caller.require_staff()
        context = self._import_context(rows)
        with self.db.write() as s:
            return self.IMPORTS.create(s, self.caller, model_type, rows, context)
