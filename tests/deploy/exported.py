"""What the processes really export, for the checks of the alerts, the autoscalers and the
dashboard: the sample names of every metric the code registers (every module of svckit/,
gateway/ and services/ that uses prometheus_client, imported) and of every collector read
at scrape time (each built and collected against a real SQLite database, the RPC queue's
against the real broker); and the RPC queue every service's nameko consumer declares.
Nothing here is a hand-kept list of names."""
import importlib
import inspect
import re
from pathlib import Path
from types import SimpleNamespace

from nameko.rpc import RPC_QUEUE_TEMPLATE
from prometheus_client import REGISTRY
from prometheus_client.metrics_core import Metric

from svckit.db import Database
from svckit.layout import service_names

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("svckit", "gateway", "services")
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"),
            "summary": ("", "_count", "_sum", "_created"), "gauge": ("",), "info": ("_info",),
            "stateset": ("",), "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
            "unknown": ("",)}


USES_PROMETHEUS = re.compile(r"^\s*(?:from|import) prometheus_client\b", re.MULTILINE)


def metric_modules() -> list:
    """Every module of the processes' packages that imports prometheus_client, imported
    (not gunicorn_conf.py, which only names it: importing it would set the gateway up)."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if not USES_PROMETHEUS.search(path.read_text()):
                continue
            rel = path.relative_to(ROOT).with_suffix("")
            name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
            found.append(importlib.import_module(name))
    return found


def sample_names(family: Metric) -> set[str]:
    """The sample names a family has or will have once it has children (a labelled metric
    without children yet has no samples, but its type says what they will be called)."""
    return ({family.name + suffix for suffix in SUFFIXES[family.type]}
            | {s.name for s in family.samples})


def collector_classes(modules) -> set[type]:
    """Classes the modules define with a `collect` method: metrics read at scrape time."""
    return {cls for module in modules for _, cls in inspect.getmembers(module, inspect.isclass)
            if cls.__module__ == module.__name__ and callable(getattr(cls, "collect", None))}


def scrape_time_collectors(tmp_path: Path, amqp_uri: str) -> list:
    """One of each collector the services offer, on a real database (and broker)."""
    from services.attachments import models as attachment_models
    from services.attachments.metrics import StoredFiles
    from services.audit import models as audit_models
    from services.audit.metrics import DeliveryBacklog
    from services.importer import models as importer_models
    from services.importer.metrics import SessionsByStatus
    from svckit.metrics import RelayBacklog, RpcQueueDepth

    def database(name, metadata):
        db = Database(f"sqlite:///{tmp_path / name}.sqlite3", metadata)
        db.create_all()
        return db

    importer = database("importer", importer_models.metadata)
    attachments = database("attachments", attachment_models.metadata)
    audit = database("audit", audit_models.metadata)
    return [SessionsByStatus(importer), StoredFiles(attachments), DeliveryBacklog(audit),
            RelayBacklog("importer", SimpleNamespace(store=importer_models.store, db=importer)),
            RpcQueueDepth("exported-metrics", declared_queue(amqp_uri), amqp_uri)]


def declared_queue(amqp_uri: str) -> str:
    """A queue declared on the broker for RpcQueueDepth to read (it reads nothing from a
    queue that does not exist)."""
    from svckit.broker import connect
    conn = connect(amqp_uri)
    try:
        name, _, _ = conn.default_channel.queue_declare("exported-metrics", auto_delete=True)
    finally:
        conn.release()
    return name


def exported_names(tmp_path: Path, amqp_uri: str) -> set[str]:
    """Every sample name a process of the system can export."""
    modules = metric_modules()
    names = set()
    for family in REGISTRY.collect():
        names |= sample_names(family)
    collectors = scrape_time_collectors(tmp_path, amqp_uri)
    unbuilt = collector_classes(modules) - {type(c) for c in collectors}
    assert not unbuilt, f"build these collectors in scrape_time_collectors: {unbuilt}"
    for collector in collectors:
        families = list(collector.collect())
        assert families, f"{type(collector).__name__} collected nothing"
        for family in families:
            names |= sample_names(family)
    return names


def rpc_queues() -> dict[str, str]:
    """service -> the RPC request queue its nameko consumer declares (`rpc-<service name>`)."""
    queues = {}
    for package in service_names():
        service = importlib.import_module(f"services.{package}.service").Service
        queues[package] = RPC_QUEUE_TEMPLATE.format(service.name)
    return queues
