"""What `kubectl kustomize` renders from deploy/k8s/overlays/dev and overlays/prod (offline):
every document validates (core kinds against Kubernetes' schemas, custom resources against
their CRDs'), and the set holds together: each service scales with KEDA on the RPC queue its
nameko consumer really declares (the importer also on its rows waiting), the gateway by CPU,
each pod is probed on HTTP, has a PodDisruptionBudget, is scraped through a ServiceMonitor
and has the time to drain its work; the broker and the databases are the operators';
every metric an alert or an autoscaler reads is one the processes export; dev runs one
replica of everything, prod traces through its collector and carries the dashboard."""
import ast
import copy
import json
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from gateway.settings import GatewaySettings
from svckit.cluster.rabbitmq import RPC_TTL_MS, RPC_TTL_PATTERN
from svckit.layout import service_names, settings_class
from svckit.settings import QUEUE_TYPES
from tests.deploy import exported
from tests.deploy.promql import metric_names
from tests.deploy.test_manifests import (
    GATEWAY,
    NAMESPACE,
    VHOST,
    deployments,
    kustomize,
    main_container,
    pod_spec,
    selects,
    validate,
)

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ROOT / "deploy" / "k8s" / "overlays"
DASHBOARD = ROOT / "deploy" / "grafana" / "inventree.json"
ENSURE_RABBITMQ = ROOT / "scripts" / "ensure_rabbitmq.sh"
GUNICORN_CONF = ROOT / "gateway" / "gunicorn_conf.py"
MARGIN = 5  # seconds of grace beyond the longest wait a process may be in


@lru_cache(maxsize=None)
def rendered(overlay: str) -> tuple:
    """The overlay's documents, as (file-like id, document) pairs like manifests()."""
    docs = [d for d in yaml.safe_load_all(kustomize(OVERLAYS / overlay)) if d]
    return tuple((overlay, d) for d in docs)


def of(overlay: str, kind: str) -> list[dict]:
    return [d for _, d in rendered(overlay) if d["kind"] == kind]


def named(overlay: str, kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in of(overlay, kind)}


def configmap(docs) -> dict:
    [config] = [d for _, d in docs if d["kind"] == "ConfigMap"
                and d["metadata"]["name"] == "inventree-config"]
    return config["data"]


@lru_cache(maxsize=None)
def exported_metrics(tmp_path_factory_dir: str, amqp_uri: str) -> frozenset:
    return frozenset(exported.exported_names(Path(tmp_path_factory_dir), amqp_uri))


@pytest.fixture
def exported_names(tmp_path, rabbit_config):
    return exported_metrics(str(tmp_path), rabbit_config["AMQP_URI"])


# ---------------------------------------------------------------- checks (on rendered docs)

def check_scaling(docs, overlay_max: int | None = None):
    """One ScaledObject per service Deployment, on the queue its consumer declares (and the
    vhost the services use), authenticated by a TriggerAuthentication whose Secret key
    exists; the gateway on a CPU HPA instead."""
    queues = exported.rpc_queues()
    deps = deployments(docs)
    scaled = {d["spec"]["scaleTargetRef"]["name"]: d for _, d in docs
              if d["kind"] == "ScaledObject"}
    assert set(scaled) == {f"inventree-{s}" for s in deps if s != GATEWAY}
    auths = {d["metadata"]["name"]: d for _, d in docs if d["kind"] == "TriggerAuthentication"}
    secrets = {d["metadata"]["name"]: d.get("stringData", {}) for _, d in docs
               if d["kind"] == "Secret"}
    for name in deps:
        if name == GATEWAY:
            continue
        so = scaled[f"inventree-{name}"]["spec"]
        assert so["scaleTargetRef"].get("kind", "Deployment") == "Deployment", name
        assert 1 <= so["minReplicaCount"] <= so["maxReplicaCount"], name
        if overlay_max is not None:
            assert so["maxReplicaCount"] <= overlay_max, name
        rabbit = [t for t in so["triggers"] if t["type"] == "rabbitmq"]
        assert len(rabbit) == 1, f"{name}: one trigger on its RPC queue"
        meta = rabbit[0]["metadata"]
        assert meta["queueName"] == queues[name], f"{name}: not the queue its consumer declares"
        assert meta["vhostName"] == VHOST and meta["mode"] == "QueueLength", name
        assert float(meta["value"]) > 0, name
        auth = auths[rabbit[0]["authenticationRef"]["name"]]
        [host] = [r for r in auth["spec"]["secretTargetRef"] if r["parameter"] == "host"]
        url = urlsplit(secrets[host["name"]][host["key"]])
        assert url.scheme == meta["protocol"] == "http" and url.username, name
        others = {t["type"] for t in so["triggers"]} - {"rabbitmq"}
        assert others == ({"prometheus"} if name == "importer" else set()), name
    hpas = [d for _, d in docs if d["kind"] == "HorizontalPodAutoscaler"]
    assert [h["spec"]["scaleTargetRef"]["name"] for h in hpas] == [f"inventree-{GATEWAY}"]
    assert [m["resource"]["name"] for m in hpas[0]["spec"]["metrics"]] == ["cpu"]


def importer_queries(docs) -> list[str]:
    [so] = [d for _, d in docs if d["kind"] == "ScaledObject"
            and d["spec"]["scaleTargetRef"]["name"] == "inventree-importer"]
    return [t["metadata"]["query"] for t in so["spec"]["triggers"] if t["type"] == "prometheus"]


def check_disruption_budgets(docs):
    """Each Deployment's pods are covered by exactly one PodDisruptionBudget."""
    budgets = [d for _, d in docs if d["kind"] == "PodDisruptionBudget"]
    for name, dep in deployments(docs).items():
        labels = dep["spec"]["template"]["metadata"]["labels"]
        covering = [b for b in budgets if selects(b["spec"]["selector"]["matchLabels"], labels)]
        assert len(covering) == 1, f"{name}: {len(covering)} PodDisruptionBudgets"


def check_drain_time(docs):
    """terminationGracePeriodSeconds covers the drain: the gateway's preStop pause and
    gunicorn's graceful_timeout; a service's longest wait in a worker (a statement, a call
    to another service), as its settings and the ConfigMap set them."""
    config = configmap(docs)
    for name, dep in deployments(docs).items():
        grace = pod_spec(dep)["terminationGracePeriodSeconds"]
        main = main_container(dep)
        if name == GATEWAY:
            pause = main["lifecycle"]["preStop"]["exec"]["command"]
            assert pause[0] == "sleep", pause
            assert grace >= int(pause[1]) + gunicorn_graceful_timeout() + MARGIN, grace
            continue
        cls = settings_class(name)
        waits = {}
        for key in ("RPC_TIMEOUT", "DATABASE_STATEMENT_TIMEOUT", "IMPORT_TARGET_TIMEOUT"):
            if key in cls.model_fields:
                waits[key] = float(config.get(key, cls.model_fields[key].default))
        assert grace >= max(waits.values()) + MARGIN, f"{name}: {grace} s < {waits}"


def gunicorn_graceful_timeout() -> int:
    tree = ast.parse(GUNICORN_CONF.read_text())
    [value] = [node.value for node in tree.body if isinstance(node, ast.Assign)
               and any(getattr(t, "id", None) == "graceful_timeout" for t in node.targets)]
    return ast.literal_eval(value)


def check_probes(docs):
    """Every process is probed over HTTP: /readyz readiness, /healthz liveness."""
    for name, dep in deployments(docs).items():
        main = main_container(dep)
        for kind, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            assert main[kind].get("httpGet", {}).get("path") == path, (name, kind)
            assert "exec" not in main[kind], (name, kind)


def check_scraping(docs):
    """Every container's metrics port is a port of a Service selecting its pods, and a
    ServiceMonitor scrapes that Service's port (keeping the processes' own labels)."""
    services = [d for _, d in docs if d["kind"] == "Service"]
    monitors = [d for _, d in docs if d["kind"] == "ServiceMonitor"]
    for name, dep in deployments(docs).items():
        labels = dep["spec"]["template"]["metadata"]["labels"]
        ports = [p for p in main_container(dep)["ports"] if p.get("name") == "metrics"]
        assert len(ports) == 1, name
        exposing = [s for s in services if selects(s["spec"].get("selector", {}), labels)
                    and any(p["targetPort"] in ("metrics", ports[0]["containerPort"])
                            for p in s["spec"]["ports"])]
        assert len(exposing) == 1, f"{name}: its metrics port is not a Service's"
        service = exposing[0]
        port_name = next(p["name"] for p in service["spec"]["ports"]
                         if p["targetPort"] in ("metrics", ports[0]["containerPort"]))
        scraping = [m for m in monitors
                    if selects(m["spec"]["selector"]["matchLabels"],
                               service["metadata"]["labels"])
                    and any(e["port"] == port_name for e in m["spec"]["endpoints"])]
        assert len(scraping) == 1, f"{name}: no ServiceMonitor scrapes {port_name}"
        endpoint = next(e for e in scraping[0]["spec"]["endpoints"] if e["port"] == port_name)
        assert endpoint.get("path", "/metrics") == "/metrics", name
        assert endpoint.get("honorLabels") is True, f"{name}: its `service` label would be lost"


def alert_rules(docs) -> dict[str, str]:
    return {rule["alert"]: rule["expr"] for _, d in docs if d["kind"] == "PrometheusRule"
            for group in d["spec"]["groups"] for rule in group["rules"] if "alert" in rule}


def check_alerts_cover(docs):
    """Alerts on the relay's lag, dead letters, the 5xx rate, p99 latency and queue depth."""
    rules = alert_rules(docs)
    wanted = {"relay lag": "inventree_relay_oldest_unpublished_age_seconds",
              "dead letters": "inventree_dead_letters_total",
              "5xx rate": "inventree_gateway_request_seconds_count",
              "p99 latency": "inventree_gateway_request_seconds_bucket",
              "queue depth": "inventree_rpc_queue_messages"}
    for what, metric in wanted.items():
        assert any(metric in metric_names(expr) for expr in rules.values()), what
    assert any("0.99" in expr and "histogram_quantile" in expr for expr in rules.values())
    assert any('status="5xx"' in expr for expr in rules.values())


def unknown_metrics(exprs, exported_names) -> dict[str, set]:
    return {expr: metric_names(expr) - exported_names for expr in exprs
            if metric_names(expr) - exported_names}


def check_broker(docs, replicas: int):
    """The operator's RabbitmqCluster, the services' quorum queues, and the RPC message TTL
    the local brokers set (scripts/ensure_rabbitmq.sh) on exactly the RPC request queues."""
    [cluster] = [d for _, d in docs if d["kind"] == "RabbitmqCluster"]
    assert cluster["metadata"]["name"] == "rabbitmq" and cluster["spec"]["replicas"] == replicas
    config = configmap(docs)
    assert config["AMQP_QUEUE_TYPE"] == "quorum" and "quorum" in QUEUE_TYPES
    policies = [d["spec"] for _, d in docs if d["kind"] == "Policy"]
    assert all(p["vhost"] == VHOST for p in policies)
    ttl = ensure_rabbitmq_ttl()
    assert [p["pattern"] for p in policies if p["definition"].get("message-ttl") == ttl] == [
        RPC_TTL_PATTERN]
    queues = exported.rpc_queues().values()
    for queue in queues:
        applying = max((p for p in policies if re.search(p["pattern"], queue)
                        and p["applyTo"] in ("queues", "quorum_queues", "all")),
                       key=lambda p: p.get("priority", 0))
        assert applying["definition"].get("message-ttl") == ttl, queue
        for other in (f"{queue}.dead", f"rpc.reply-{queue[4:]}-{'a' * 36}", "evt-users-x--audit.y"):
            assert not any(p["definition"].get("message-ttl") for p in policies
                           if re.search(p["pattern"], other)), other
    assert any(p["applyTo"] == "quorum_queues" for p in policies)


def ensure_rabbitmq_ttl() -> int:
    """The message-ttl of the rpc-ttl policy of scripts/ensure_rabbitmq.sh (`make run`, the
    tests), the same as `make cluster`'s (svckit.cluster.rabbitmq)."""
    match = re.search(r"set_policy .*rpc-ttl '([^']*)' '(\{[^']*\})'", ENSURE_RABBITMQ.read_text())
    assert match, "scripts/ensure_rabbitmq.sh sets no rpc-ttl policy"
    ttl = json.loads(match.group(2))["message-ttl"]
    assert (match.group(1), ttl) == (RPC_TTL_PATTERN, RPC_TTL_MS)
    return ttl


def check_databases(docs, instances: int):
    [cluster] = [d for _, d in docs if d["kind"] == "Cluster"]
    assert cluster["spec"]["instances"] == instances


def check_all(overlay: str, exported_names):
    docs = rendered(overlay)
    check_scaling(docs, overlay_max=1 if overlay == "dev" else None)
    check_disruption_budgets(docs)
    check_drain_time(docs)
    check_probes(docs)
    check_scraping(docs)
    check_alerts_cover(docs)
    exprs = list(alert_rules(docs).values()) + importer_queries(docs)
    assert not unknown_metrics(exprs, exported_names), unknown_metrics(exprs, exported_names)
    check_broker(docs, replicas=1 if overlay == "dev" else 3)
    check_databases(docs, instances=1 if overlay == "dev" else 3)


# ---------------------------------------------------------------- tests

@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_rendered_document_validates(overlay):
    docs = rendered(overlay)
    assert {d["metadata"].get("namespace") for _, d in docs if d["kind"] != "Namespace"} == {
        NAMESPACE}
    for _, doc in docs:
        validate(doc)


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_overlay_holds_together(overlay, exported_names):
    check_all(overlay, exported_names)


def test_every_service_is_deployed_in_each_overlay():
    for overlay in ("dev", "prod"):
        assert set(deployments(rendered(overlay))) == {GATEWAY, *service_names()}, overlay


def test_dev_runs_one_replica_of_everything():
    for so in of("dev", "ScaledObject"):
        assert so["spec"]["minReplicaCount"] == so["spec"]["maxReplicaCount"] == 1
    [hpa] = of("dev", "HorizontalPodAutoscaler")
    assert hpa["spec"]["minReplicas"] == hpa["spec"]["maxReplicas"] == 1
    for budget in of("dev", "PodDisruptionBudget"):  # one pod: a node must still drain
        assert "minAvailable" not in budget["spec"] and budget["spec"]["maxUnavailable"] >= 1
    assert not of("dev", "OpenTelemetryCollector")
    assert configmap(rendered("dev"))["OTEL_SDK_DISABLED"] == "true"


def test_prod_scales_and_keeps_a_replica_through_disruptions():
    for so in of("prod", "ScaledObject"):
        assert so["spec"]["minReplicaCount"] >= 2 and so["spec"]["maxReplicaCount"] > 2
    [hpa] = of("prod", "HorizontalPodAutoscaler")
    assert hpa["spec"]["minReplicas"] >= 2
    for budget in of("prod", "PodDisruptionBudget"):
        assert budget["spec"]["minAvailable"] >= 1
    for dep in of("prod", "Deployment"):
        assert main_container(dep)["image"].startswith("registry.example.com/")


def test_prod_traces_through_its_collector():
    """Tracing on in prod, its OTLP endpoint the collector's Service (the operator names it
    `<name>-collector`) on a port the collector receives on; off in the base."""
    config = configmap(rendered("prod"))
    assert config["OTEL_SDK_DISABLED"] == "false"
    [collector] = of("prod", "OpenTelemetryCollector")
    endpoint = urlsplit(config["OTEL_EXPORTER_OTLP_ENDPOINT"])
    assert endpoint.hostname == (f"{collector['metadata']['name']}-collector.{NAMESPACE}"
                                 ".svc.cluster.local")
    protocols = collector["spec"]["config"]["receivers"]["otlp"]["protocols"]
    wanted = "http" if config["OTEL_EXPORTER_OTLP_PROTOCOL"].startswith("http") else "grpc"
    assert protocols[wanted]["endpoint"].rsplit(":", 1)[1] == str(endpoint.port)
    pipeline = collector["spec"]["config"]["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"] and pipeline["exporters"]
    assert 0 < float(config["OTEL_TRACES_SAMPLER_ARG"]) <= 1


def test_prod_carries_the_dashboard_for_grafanas_sidecar():
    [board] = [d for d in of("prod", "ConfigMap")
               if d["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
    [(key, text)] = board["data"].items()
    assert key.endswith(".json") and json.loads(text) == json.loads(DASHBOARD.read_text())
    assert not [d for d in of("dev", "ConfigMap")
                if d["metadata"].get("labels", {}).get("grafana_dashboard")]


def test_gateway_settings_read_by_the_probe_checks_exist():
    """The drain check reads real settings: a renamed one must fail it, not pass silently."""
    assert {"RPC_TIMEOUT"} <= set(GatewaySettings.model_fields)
    for name in service_names():
        assert {"RPC_TIMEOUT", "DATABASE_STATEMENT_TIMEOUT"} <= set(
            settings_class(name).model_fields), name
    assert gunicorn_graceful_timeout() > 0


def test_checks_reject_broken_overlays(exported_names):
    """The checks fail on what they are there to catch."""
    docs = rendered("prod")

    def broken(mutate, check):
        d = copy.deepcopy(list(docs))
        mutate(d)
        with pytest.raises(AssertionError):
            check(tuple(d))

    def scaled(d, name):
        return next(doc for _, doc in d if doc["kind"] == "ScaledObject"
                    and doc["metadata"]["name"] == f"inventree-{name}")

    def wrong_queue(d):
        scaled(d, "status")["spec"]["triggers"][0]["metadata"]["queueName"] = "status"

    def missing_scaler(d):
        d[:] = [(o, doc) for o, doc in d if not (doc["kind"] == "ScaledObject"
                                                 and doc["metadata"]["name"] == "inventree-audit")]

    def short_grace(d):
        pod_spec(deployments(d)["importer"])["terminationGracePeriodSeconds"] = 30

    def exec_probe(d):
        main_container(deployments(d)["users"])["livenessProbe"] = {
            "exec": {"command": ["python", "-m", "svckit.probe", "users"]}}

    def unscraped(d):
        d[:] = [(o, doc) for o, doc in d if not (doc["kind"] == "ServiceMonitor"
                                                 and doc["metadata"]["name"] == "inventree-system")]

    def no_budget(d):
        d[:] = [(o, doc) for o, doc in d if not (doc["kind"] == "PodDisruptionBudget"
                                                 and doc["metadata"]["name"] == "inventree-users")]

    def ttl_on_dead_letters(d):
        policy = next(doc for _, doc in d if doc["kind"] == "Policy"
                      and doc["spec"]["definition"].get("message-ttl"))
        policy["spec"]["pattern"] = "^rpc-"

    for mutate, check in ((wrong_queue, check_scaling), (missing_scaler, check_scaling),
                          (short_grace, check_drain_time), (exec_probe, check_probes),
                          (unscraped, check_scraping), (no_budget, check_disruption_budgets),
                          (ttl_on_dead_letters, lambda d: check_broker(d, 3))):
        broken(mutate, check)
    misspelled = 'rate(inventree_gateway_requests_total{status="5xx"}[5m]) > 1'
    assert unknown_metrics([misspelled], exported_names) == {
        misspelled: {"inventree_gateway_requests_total"}}
