"""Write deploy/grafana/inventree.json, the Grafana dashboard of the system: a row for the
gateway and one per service (svckit.layout's services), each with its request rate, errors,
p50/p99 latency, RPC queue depth, replicas and relay lag, and the importer's with its import
progress. Every query uses the metrics the processes export (README, "Health and metrics");
tests/deploy/test_grafana.py checks that, and that the file is what this script writes.

    .venv/bin/python scripts/grafana_dashboard.py          # after adding a service
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from svckit.layout import service_names  # noqa: E402

TARGET = ROOT / "deploy" / "grafana" / "inventree.json"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RATE = "[$__rate_interval]"
WIDTH = 24  # Grafana's grid
PANEL_W, PANEL_H = 6, 7


def where(**labels: str) -> str:
    """A label matcher on the dashboard's namespace and `labels`."""
    pairs = [("namespace", "$namespace"), *labels.items()]
    return "{" + ", ".join(f'{k}="{v}"' for k, v in pairs) + "}"


def target(expr: str, legend: str, ref: str) -> dict:
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": ref,
            "range": True}


def quantiles(bucket: str, matcher: str) -> list[dict]:
    return [target(f"histogram_quantile({q}, sum by (le) (rate({bucket}{matcher}{RATE})))",
                   f"p{int(q * 100)}", ref) for q, ref in ((0.5, "A"), (0.99, "B"))]


class Layout:
    """Panels placed left to right, rows of four, with ids in order."""

    def __init__(self):
        self.panels: list[dict] = []
        self.y = 0
        self.x = 0
        self.next_id = 1

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def row(self, title: str):
        if self.x:
            self.y += PANEL_H
            self.x = 0
        self.panels.append({"type": "row", "id": self._id(), "title": title, "collapsed": False,
                            "gridPos": {"h": 1, "w": WIDTH, "x": 0, "y": self.y}, "panels": []})
        self.y += 1

    def panel(self, title: str, unit: str, targets: list[dict], description: str = ""):
        if self.x + PANEL_W > WIDTH:
            self.x = 0
            self.y += PANEL_H
        self.panels.append({
            "type": "timeseries", "id": self._id(), "title": title,
            "description": description, "datasource": DATASOURCE,
            "gridPos": {"h": PANEL_H, "w": PANEL_W, "x": self.x, "y": self.y},
            "fieldConfig": {"defaults": {"unit": unit, "min": 0}, "overrides": []},
            "options": {"legend": {"showLegend": True, "displayMode": "list",
                                   "placement": "bottom", "calcs": []},
                        "tooltip": {"mode": "multi", "sort": "desc"}},
            "targets": targets})
        self.x += PANEL_W


def gateway_row(layout: Layout):
    m = where()
    layout.row("gateway")
    layout.panel("Request rate", "reqps", [target(
        f"sum by (status) (rate(inventree_gateway_request_seconds_count{m}{RATE}))",
        "{{status}}", "A")], "HTTP requests answered, by status class")
    layout.panel("Errors (5xx)", "percentunit", [target(
        f'sum(rate(inventree_gateway_request_seconds_count{where(status="5xx")}{RATE}))'
        f" / sum(rate(inventree_gateway_request_seconds_count{m}{RATE}))", "5xx", "A"),
        target(f"sum by (service, reason) (rate(inventree_gateway_rpc_failures_total{m}{RATE}))",
               "{{service}} {{reason}}", "B")],
        "Share of requests answered 5xx, and RPC calls that got no answer (per second)")
    layout.panel("Latency", "s", quantiles("inventree_gateway_request_seconds_bucket", m),
                 "p50 and p99 of the time to answer")
    layout.panel("RPC latency by service", "s", [target(
        f"histogram_quantile(0.99, sum by (service, le) "
        f"(rate(inventree_gateway_rpc_seconds_bucket{m}{RATE})))", "{{service}} p99", "A")])
    layout.panel("Replicas", "short", [
        target(f"count(inventree_gateway_requests_in_flight{m})", "pods", "A"),
        target(f"sum(inventree_gateway_requests_in_flight{m})", "requests in flight", "B")],
        "Gateway pods scraped, and the requests they are answering")


def service_row(layout: Layout, service: str):
    m = where(service=service)
    layout.row(service)
    layout.panel("Request rate", "ops", [target(
        f"sum by (method) (rate(inventree_service_handler_seconds_count{m}{RATE}))",
        "{{method}}", "A")], "Entrypoint workers run (RPC methods, event handlers)")
    layout.panel("Errors", "ops", [target(
        f"sum by (kind) (rate(inventree_service_handler_errors_total{m}{RATE}))",
        "{{kind}}", "A")], "client: an error answer (4xx, 503); server: unexpected")
    layout.panel("Latency", "s", quantiles("inventree_service_handler_seconds_bucket", m),
                 "p50 and p99 of its entrypoint workers")
    layout.panel("RPC queue depth", "short", [
        target(f"max(inventree_rpc_queue_messages{m})", f"rpc-{service} messages", "A"),
        target(f"max(inventree_rpc_queue_consumers{m})", "consumers", "B")],
        "Requests waiting in its RPC queue (what KEDA scales it on)")
    layout.panel("Replicas", "short", [
        target(f"count(inventree_service_workers_max{m})", "pods", "A"),
        target(f"sum(inventree_service_workers_busy{m})", "workers busy", "B"),
        target(f"sum(inventree_service_workers_max{m})", "workers", "C")],
        "Pods scraped, and their workers busy out of SERVICE_MAX_WORKERS each")
    layout.panel("Relay lag", "s", [
        target(f"max(inventree_relay_oldest_unpublished_age_seconds{m})", "oldest unpublished",
               "A"),
        target(f"max(inventree_relay_unpublished_events{m})", "unpublished events", "B")],
        "Age of its oldest committed event not yet published, and how many wait")
    if service == "importer":
        n = where()
        layout.panel("Import progress", "short", [
            target(f"sum by (stage) (rate(inventree_importer_rows_total{n}{RATE}))",
                   "{{stage}} /s", "A"),
            target(f"max by (stage) (inventree_importer_rows_waiting{n})", "waiting: {{stage}}",
                   "B"),
            target(f"max by (status) (inventree_importer_sessions{n})", "sessions {{status}}",
                   "C")],
            "Rows through each stage, rows waiting to be parsed or created, sessions by status")


def dashboard() -> dict:
    layout = Layout()
    gateway_row(layout)
    for service in service_names():
        service_row(layout, service)
    return {
        "uid": "inventree-general",
        "title": "InvenTree General",
        "description": "The gateway and every service: traffic, errors, latency, queues, "
                       "replicas, event relay and imports (scripts/grafana_dashboard.py)",
        "tags": ["inventree"],
        "timezone": "utc",
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "annotations": {"list": []},
        "links": [],
        "templating": {"list": [
            {"type": "datasource", "name": "datasource", "label": "Data source",
             "query": "prometheus", "hide": 0},
            {"type": "custom", "name": "namespace", "label": "Namespace", "query": "inventree",
             "current": {"text": "inventree", "value": "inventree"},
             "options": [{"selected": True, "text": "inventree", "value": "inventree"}],
             "hide": 0},
        ]},
        "panels": layout.panels,
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


if __name__ == "__main__":
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(render())
    print(f"wrote {TARGET.relative_to(ROOT)}")
