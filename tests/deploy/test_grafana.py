"""deploy/grafana/inventree.json: what scripts/grafana_dashboard.py writes (so a new service
gets its row), valid for Grafana (Grafana isn't packaged for Debian or PyPI, so no server
renders it here: the dashboard goes through the typed model of Grafana's own
grafana-foundation-sdk, Grafana 11.6's dashboard and panel schemas, and every field must
survive: a misspelled or misplaced field is dropped there and fails here), with a row per
process holding the panels operators look for, and only metrics the processes export."""
import copy
import importlib.util
import json
from pathlib import Path

import pytest
from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from svckit.layout import service_names
from tests.deploy.promql import metric_names
from tests.deploy.test_overlays import exported_metrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "inventree.json"
SCRIPT = ROOT / "scripts" / "grafana_dashboard.py"
SERVICE_PANELS = ["Request rate", "Errors", "Latency", "RPC queue depth", "Replicas",
                  "Relay lag"]

plugins.register_default_plugins()  # the panel and query types' own models


def load() -> dict:
    return json.loads(DASHBOARD.read_text())


def lost_in_grafanas_model(board: dict) -> list[str]:
    """Paths of what does not come back unchanged from Grafana's dashboard model."""
    back = json.loads(json.dumps(Dashboard.from_json(board), cls=JSONEncoder))

    def diff(ours, theirs, path):
        if isinstance(ours, dict):
            if not isinstance(theirs, dict):
                return [path]
            return [p for key, value in ours.items()
                    for p in ([f"{path}.{key}"] if key not in theirs
                              else diff(value, theirs[key], f"{path}.{key}"))]
        if isinstance(ours, list):
            if not isinstance(theirs, list) or len(ours) != len(theirs):
                return [path]
            return [p for i, (a, b) in enumerate(zip(ours, theirs)) for p in diff(a, b, f"{path}[{i}]")]
        return [] if ours == theirs else [f"{path}: {ours!r} became {theirs!r}"]

    return diff(board, back, "$")


def rows(board: dict) -> dict[str, list[dict]]:
    """Row title -> the panels under it (rows not collapsed: the panels that follow)."""
    found: dict[str, list[dict]] = {}
    current = None
    for panel in board["panels"]:
        if panel["type"] == "row":
            assert not panel.get("collapsed"), panel["title"]
            current = found.setdefault(panel["title"], [])
        else:
            assert current is not None, "a panel before the first row"
            current.append(panel)
    return found


def test_file_is_what_the_script_writes():
    spec = importlib.util.spec_from_file_location("grafana_dashboard", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert DASHBOARD.read_text() == module.render(), (
        "run .venv/bin/python scripts/grafana_dashboard.py")


def test_dashboard_fits_grafanas_schema():
    assert lost_in_grafanas_model(load()) == []


def test_schema_check_catches_mistakes():
    board = load()
    panel = next(p for p in board["panels"] if p["type"] == "timeseries")
    broken = copy.deepcopy(board)
    target = next(p for p in broken["panels"] if p["id"] == panel["id"])
    target["fieldConfig"]["defaults"]["unitt"] = "s"
    target["options"]["legend"]["show_legend"] = True
    target["targets"][0]["exprr"] = target["targets"][0].pop("expr")
    broken["refreshh"] = "1m"
    lost = lost_in_grafanas_model(broken)
    assert len(lost) == 4 and all(("unitt" in p or "show_legend" in p or "exprr" in p
                                   or "refreshh" in p) for p in lost), lost


def test_a_row_per_process_with_its_panels():
    found = rows(load())
    assert list(found) == ["gateway", *service_names()]
    for service in service_names():
        titles = [p["title"] for p in found[service]]
        expected = SERVICE_PANELS + (["Import progress"] if service == "importer" else [])
        assert titles == expected, service
        for panel in found[service]:
            if panel["title"] != "Import progress":
                assert all(f'service="{service}"' in t["expr"] for t in panel["targets"]), (
                    service, panel["title"])
    gateway = [p["title"] for p in found["gateway"]]
    assert {"Request rate", "Errors (5xx)", "Latency", "Replicas"} <= set(gateway)
    latency = [t["expr"] for p in load()["panels"] if p.get("title") == "Latency"
               for t in p["targets"]]
    assert all(any(q in e for e in latency) for q in ("histogram_quantile(0.5,",
                                                      "histogram_quantile(0.99,"))
    ids = [p["id"] for p in load()["panels"]]
    assert len(ids) == len(set(ids))


@pytest.fixture
def exported_names(tmp_path, rabbit_config):
    return exported_metrics(str(tmp_path), rabbit_config["AMQP_URI"])


def test_every_query_reads_exported_metrics(exported_names):
    exprs = [t["expr"] for p in load()["panels"] for t in p.get("targets", [])]
    assert exprs
    unknown = {e: metric_names(e) - exported_names for e in exprs
               if not metric_names(e) or metric_names(e) - exported_names}
    assert not unknown, unknown
