"""Offline checks of the Kubernetes manifests in deploy/k8s/base/ (no cluster, no network);
tests/deploy/test_overlays.py checks what the overlays render, and the custom resources.

Every YAML document is validated against the Kubernetes JSON schemas shipped with the
`kubernetes-validate` package (strict: unknown fields fail), then the set is checked for the
things a schema cannot see: kustomization.yaml lists exactly the manifest files, each service
Deployment migrates and probes its own service, the gateway Service selects the gateway pods,
every ConfigMap/Secret reference resolves, each process has its own RabbitMQ user limited to
its own queues and exchanges and gets the shared caller signing key, and
deploy/add-service.sh yields a valid copy. Custom resources (RabbitMQ's operators, KEDA,
CloudNativePG, prometheus-operator, OpenTelemetry) are validated against the CRD schemas in
tests/deploy/crd-schemas/.
"""
import copy
import json
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.helpers import service_packages

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s" / "base"
# The oldest Kubernetes the manifests target; strict schemas of this version must accept them.
K8S_VERSION = "1.30"
NAMESPACE = "inventree"
PART_OF = "inventree-general"
IMAGE = "inventree-general"
GATEWAY = "gateway"
SHARED_SECRET = "inventree-secrets"
VHOST = "inventree"
MONITOR = "inventree-monitor"  # KEDA's RabbitMQ user
POSTGRES = "postgres"  # the CloudNativePG Cluster
CRD_SCHEMAS = Path(__file__).resolve().parent / "crd-schemas"
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# ---------------------------------------------------------------- loading

def load_dir(k8s: Path):
    """(kustomization, [(file name, document), ...]) for a manifest directory."""
    kustomization = yaml.load((k8s / "kustomization.yaml").read_text(), Loader=Loader)
    docs = []
    for path in sorted(k8s.glob("*.y*ml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.load_all(path.read_text(), Loader=Loader):
            if doc:
                docs.append((path.name, doc))
    return kustomization, docs


@lru_cache(maxsize=None)
def manifests():
    return load_dir(K8S)


def docs_of(docs, kind):
    return [doc for _, doc in docs if doc.get("kind") == kind]


def deployments(docs) -> dict[str, dict]:
    """Deployments by name, without the `inventree-` prefix (e.g. "gateway", "status")."""
    found = {}
    for doc in docs_of(docs, "Deployment"):
        name = doc["metadata"]["name"]
        assert name.startswith("inventree-"), name
        found[name.removeprefix("inventree-")] = doc
    return found


def service_deployments(docs) -> dict[str, dict]:
    return {name: d for name, d in deployments(docs).items() if name != GATEWAY}


def pod_spec(deployment):
    return deployment["spec"]["template"]["spec"]


def all_containers(deployment):
    spec = pod_spec(deployment)
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def main_container(deployment):
    containers = pod_spec(deployment)["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    return containers[0]


def command(container) -> list[str]:
    return list(container.get("command", [])) + list(container.get("args", []))


def doc_id(item):
    name, doc = item
    return f"{name}:{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# ---------------------------------------------------------------- checks (on any directory)

def check_kustomization(k8s: Path, kustomization: dict):
    assert kustomization.get("namespace") == NAMESPACE
    listed = kustomization.get("resources", [])
    assert len(listed) == len(set(listed)), "a resource is listed twice"
    missing = [name for name in listed if not (k8s / name).is_file()]
    assert not missing, f"kustomization.yaml lists missing files: {missing}"
    present = {p.name for p in k8s.glob("*.y*ml")} - {"kustomization.yaml"}
    unlisted = sorted(present - set(listed))
    assert not unlisted, f"manifest files not listed in kustomization.yaml: {unlisted}"


def check_metadata(docs):
    namespaces = [d["metadata"]["name"] for d in docs_of(docs, "Namespace")]
    assert namespaces == [NAMESPACE]
    seen = set()
    for _, doc in docs:
        meta = doc["metadata"]
        key = (doc["kind"], meta["name"])
        assert key not in seen, f"duplicate {key}"
        seen.add(key)
        assert meta.get("labels", {}).get("app.kubernetes.io/part-of") == PART_OF, key
        if doc["kind"] != "Namespace":
            assert meta.get("namespace") == NAMESPACE, key


def check_deployment_common(name, dep):
    labels = {"app.kubernetes.io/name": f"inventree-{name}", "app.kubernetes.io/part-of": PART_OF}
    for where in (dep["metadata"]["labels"], dep["spec"]["template"]["metadata"]["labels"]):
        assert labels.items() <= where.items(), (name, where)
    assert selects(dep["spec"]["selector"]["matchLabels"],
                   dep["spec"]["template"]["metadata"]["labels"]), name
    assert dep["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == f"inventree-{name}"
    spec = pod_spec(dep)
    assert spec.get("terminationGracePeriodSeconds", 0) > 0, name
    pod_sc = spec.get("securityContext", {})
    assert pod_sc.get("runAsNonRoot") is True, name
    assert pod_sc.get("runAsUser", 0) != 0, name
    for c in all_containers(dep):
        where = f"{name}/{c['name']}"
        assert c["image"].split(":")[0] == IMAGE, where
        for part in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(c.get("resources", {}).get(part, {})), where
        sc = c.get("securityContext", {})
        assert sc.get("allowPrivilegeEscalation") is False, where
        assert sc.get("runAsUser", pod_sc["runAsUser"]) != 0, where


def env_value(container, configmap: dict, key: str):
    """The value a container sees for `key`: its own env first, then the ConfigMap."""
    for var in container.get("env", []):
        if var["name"] == key:
            return var.get("value", var.get("valueFrom"))
    return configmap.get(key)


def secret_env(container) -> dict[str, tuple[str, str]]:
    return {v["name"]: (v["valueFrom"]["secretKeyRef"]["name"], v["valueFrom"]["secretKeyRef"]["key"])
            for v in container.get("env", []) if "secretKeyRef" in v.get("valueFrom", {})}


def check_process_secrets(name, container):
    """A process connects as its own RabbitMQ user and gets the shared caller signing key."""
    env = secret_env(container)
    assert env.get("AMQP_URI") == (f"inventree-amqp-{name}", "AMQP_URI"), f"{name}: AMQP_URI"
    assert env.get("CALLER_SIGNING_KEYS") == (SHARED_SECRET, "CALLER_SIGNING_KEYS"), name


def database_url_env(name, container):
    """The container's <NAME>_DATABASE_URL: spelled from PGUSER / PGPASSWORD, which come
    from the service's role Secret (inventree-db-<name>, CloudNativePG's too), to its own
    database on the CloudNativePG cluster's primary."""
    env = {v["name"]: v for v in container.get("env", [])}
    secrets = secret_env(container)
    where = f"{name}/{container['name']}"
    assert secrets.get("PGUSER") == (f"inventree-db-{name}", "username"), where
    assert secrets.get("PGPASSWORD") == (f"inventree-db-{name}", "password"), where
    names = list(env)
    url_var = f"{name.upper()}_DATABASE_URL"
    assert names.index("PGUSER") < names.index(url_var) > names.index("PGPASSWORD"), (
        f"{where}: $(PGUSER) expands only when defined before {url_var}")
    assert env[url_var].get("value") == (
        f"postgresql+psycopg2://$(PGUSER):$(PGPASSWORD)@{POSTGRES}-rw.{NAMESPACE}.svc.cluster"
        f".local:5432/inventree_{name}"), where


def check_service_deployment(name, dep, configmap):
    assert "replicas" not in dep["spec"], f"{name}: KEDA owns its replicas"
    spec = pod_spec(dep)
    inits = spec.get("initContainers", [])
    assert [command(c) for c in inits] == [["python", "-m", "svckit.migrate", name]], name
    main = main_container(dep)
    assert command(main) == ["python", "-m", "svckit.run", name], name
    for c in (inits[0], main):
        database_url_env(name, c)
    check_process_secrets(name, main)
    metrics_port = int(env_value(main, configmap, "METRICS_PORT") or 0)
    assert metrics_port, f"{name}: METRICS_PORT is off, nothing serves its probes"
    assert env_value(main, configmap, "METRICS_HOST") == "0.0.0.0", f"{name}: METRICS_HOST"
    ports = {p.get("name"): p["containerPort"] for p in main.get("ports", [])}
    ready_timeout = float(env_value(main, configmap, "READYZ_TIMEOUT") or 2)
    probes = {}
    for kind, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        probe = main.get(kind)
        assert probe, f"{name}: no {kind}"
        get = probe.get("httpGet", {})
        assert get.get("path") == path, f"{name}: {kind} path"
        assert ports.get(get.get("port"), get.get("port")) == metrics_port, f"{name}: {kind} port"
        # the service's own database check must fit in the kubelet's timeout
        assert probe.get("timeoutSeconds", 1) > ready_timeout, f"{name}: {kind} timeout"
        probes[kind] = probe
    ready, live = probes["readinessProbe"], probes["livenessProbe"]
    patience = lambda p: p.get("periodSeconds", 10) * p.get("failureThreshold", 3)  # noqa: E731
    assert live.get("periodSeconds", 10) >= ready.get("periodSeconds", 10), name
    assert patience(live) > patience(ready), f"{name}: liveness must be more patient"


def check_gateway(docs, configmap):
    dep = deployments(docs)[GATEWAY]
    assert "replicas" not in dep["spec"], "the gateway's HPA owns its replicas"
    main = main_container(dep)
    assert command(main) == ["gunicorn", "-c", "gateway/gunicorn_conf.py", "gateway.wsgi:app"]
    assert env_value(main, configmap, "GATEWAY_BIND") == "0.0.0.0:8000"
    check_process_secrets(GATEWAY, main)
    ports = {p.get("name"): p["containerPort"] for p in main.get("ports", [])}
    assert 8000 in ports.values()

    def port_number(port):
        return ports.get(port, port)

    for kind, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        get = main.get(kind, {}).get("httpGet")
        assert get, f"gateway: no httpGet {kind}"
        assert get["path"] == path and port_number(get["port"]) == 8000, kind
    metrics_port = int(env_value(main, configmap, "METRICS_PORT") or 0)
    assert metrics_port and metrics_port in ports.values() and metrics_port != 8000

    services = [s for s in docs_of(docs, "Service") if s["metadata"]["name"] == "gateway"]
    assert len(services) == 1
    svc = services[0]["spec"]
    assert svc.get("type", "ClusterIP") == "ClusterIP"
    assert [(p["port"], port_number(p["targetPort"])) for p in svc["ports"]] == [(80, 8000)]
    pods = {n: d["spec"]["template"]["metadata"]["labels"] for n, d in deployments(docs).items()}
    assert [n for n, labels in pods.items() if selects(svc["selector"], labels)] == [GATEWAY]

    hpas = docs_of(docs, "HorizontalPodAutoscaler")
    assert [h["spec"]["scaleTargetRef"]["name"] for h in hpas] == ["inventree-gateway"]
    hpa = hpas[0]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    assert hpa["spec"]["minReplicas"] >= 1
    assert hpa["spec"]["maxReplicas"] >= hpa["spec"]["minReplicas"]
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]


def check_references(docs):
    """Every envFrom/env reference names a ConfigMap/Secret (and key) defined in the set."""
    defined = {}
    for kind in ("ConfigMap", "Secret"):
        for doc in docs_of(docs, kind):
            keys = set(doc.get("data", {})) | set(doc.get("stringData", {}))
            defined[(kind, doc["metadata"]["name"])] = keys
    problems = []
    for name, dep in deployments(docs).items():
        for c in all_containers(dep):
            where = f"{name}/{c['name']}"
            refs = []
            for source in c.get("envFrom", []):
                for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    if field in source:
                        refs.append((kind, source[field]["name"], None))
            for var in c.get("env", []):
                value_from = var.get("valueFrom", {})
                for field, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                    if field in value_from:
                        refs.append((kind, value_from[field]["name"], value_from[field]["key"]))
            for kind, ref, key in refs:
                if (kind, ref) not in defined:
                    problems.append(f"{where}: {kind} {ref} is not defined")
                elif key is not None and key not in defined[(kind, ref)]:
                    problems.append(f"{where}: {kind} {ref} has no key {key}")
            if not any(kind == "ConfigMap" for kind, _, _ in refs):
                problems.append(f"{where}: no shared ConfigMap")
    assert not problems, problems


def check_config(docs):
    configmaps = docs_of(docs, "ConfigMap")
    assert len(configmaps) == 1
    data = configmaps[0]["data"]
    for key in ("RPC_TIMEOUT", "GATEWAY_WORKERS", "GATEWAY_THREADS", "INVENTREE_INSTANCE",
                "INVENTREE_SITE_URL", "LOG_LEVEL", "GATEWAY_TRUSTED_PROXIES"):
        assert key in data, key
    assert float(data["RPC_TIMEOUT"]) > 0
    secrets = [d for d in docs_of(docs, "Secret") if d["metadata"]["name"] == SHARED_SECRET]
    assert len(secrets) == 1
    values = secrets[0]["stringData"]
    assert "AMQP_URI" not in values, "every process has its own AMQP_URI (inventree-amqp-<name>)"
    assert "CALLER_SIGNING_KEYS" in values
    for key, value in values.items():
        assert "CHANGE-ME" in value, f"{key}: secret values must be marked placeholders"
        assert not key.endswith("_DATABASE_URL"), f"{key}: built from inventree-db-<name>"
    # secrets never go into the ConfigMap
    assert not any(k == "AMQP_URI" or k.endswith("_DATABASE_URL") for k in data)


def broker_resources(docs, kind) -> dict[str, dict]:
    """rabbitmq.com resources of `kind` by the user they belong to (e.g. "inventree-status")."""
    found = {}
    for doc in docs_of(docs, kind):
        if kind == "User":
            user = doc["metadata"]["name"]
        else:
            user = doc["spec"]["userReference"]["name"]
        assert user not in found, f"two {kind}s for {user}"
        found[user] = doc
    return found


def check_broker_users(docs):
    """Each Deployment's own RabbitMQ user: its Secret (username, password, an AMQP_URI with
    them on the vhost), the operator's User importing it, its Permission and its topic
    permission on the RPC exchange; no user without a Deployment."""
    vhosts = [d["spec"]["name"] for d in docs_of(docs, "Vhost")]
    assert vhosts == [VHOST]
    users, permissions = broker_resources(docs, "User"), broker_resources(docs, "Permission")
    topics = broker_resources(docs, "TopicPermission")
    secrets = {d["metadata"]["name"]: d.get("stringData", {}) for d in docs_of(docs, "Secret")}
    expected = {f"inventree-{name}" for name in deployments(docs)}
    assert set(users) == set(permissions) == expected | {MONITOR}
    assert set(topics) == expected
    check_monitor_user(users[MONITOR], permissions[MONITOR], secrets)
    for name in deployments(docs):
        user = f"inventree-{name}"
        secret = secrets.get(f"inventree-amqp-{name}")
        assert secret, f"{name}: no Secret inventree-amqp-{name}"
        assert secret["username"] == user, name
        assert "CHANGE-ME" in secret["password"], f"{name}: password must be a placeholder"
        uri = urlsplit(secret["AMQP_URI"])
        assert (uri.username, uri.password) == (user, secret["password"]), f"{name}: AMQP_URI"
        assert uri.path == f"/{VHOST}", f"{name}: AMQP_URI vhost"
        assert users[user]["spec"]["importCredentialsSecret"]["name"] == f"inventree-amqp-{name}"
        for doc in (permissions[user], topics[user]):
            assert doc["spec"]["vhost"] == VHOST, f"{name}: {doc['kind']} vhost"
            for regex in doc["spec"]["permissions"].values():
                re.compile(regex)
        assert topics[user]["spec"]["permissions"]["exchange"] == "nameko-rpc"
        check_least_privilege(name, permissions[user]["spec"]["permissions"],
                              topics[user]["spec"]["permissions"], set(deployments(docs)))


def check_monitor_user(user, permission, secrets):
    """KEDA's user reads queue lengths from the management API (tag `monitoring`) and may
    declare, publish and consume nothing."""
    assert user["spec"]["tags"] == ["monitoring"]
    secret = secrets[user["spec"]["importCredentialsSecret"]["name"]]
    assert secret["username"] == MONITOR and "CHANGE-ME" in secret["password"]
    url = urlsplit(secret["MANAGEMENT_URL"])
    assert (url.username, url.password, url.port) == (MONITOR, secret["password"], 15672)
    assert permission["spec"]["vhost"] == VHOST
    for regex in permission["spec"]["permissions"].values():
        for name in ("rpc-users", "users.events", "nameko-rpc", "dead-letters", "amq.default"):
            assert not allowed(regex, name), (regex, name)


def allowed(regex: str, name: str) -> bool:
    """RabbitMQ's test of a permission regex (unanchored search; ours anchor themselves)."""
    return bool(regex) and re.search(regex, name) is not None


def check_least_privilege(name, perms, topic, processes):
    """What a process may touch: its own RPC queue and events, never another's."""
    own = name != GATEWAY
    for other in processes - {name, GATEWAY}:
        where = f"{name} vs {other}"
        for resource in (f"rpc-{other}", f"rpc.reply-{other}-{'a' * 8}-{'b' * 4}-{'c' * 4}-"
                         f"{'d' * 4}-{'e' * 12}"):
            assert not allowed(perms["read"], resource), f"{where}: reads {resource}"
            assert not allowed(perms["configure"], resource), f"{where}: declares {resource}"
        assert not allowed(perms["write"], f"{other}.events"), f"{where}: publishes its events"
        assert not allowed(topic["read"], f"{other}.*"), f"{where}: binds to its RPC calls"
        if own:
            assert not allowed(perms["read"], f"evt-{name}-#--{other}.on_{name}_event"), where
    if own:
        assert allowed(perms["read"], f"rpc-{name}") and allowed(topic["read"], f"{name}.*")
        assert allowed(perms["write"], f"{name}.events")
        assert allowed(topic["write"], f"{name}.ping")  # its probe
        assert allowed(topic["write"], "0" * 32), f"{name}: RPC replies"
    else:
        assert all(allowed(topic["write"], f"{other}.ping") for other in processes - {name})
    assert allowed(perms["read"], f"rpc.reply-client-{'0' * 32}"), f"{name}: its RPC client"


def check_postgres(docs):
    """One CloudNativePG Cluster; per service a managed role (login, its password from
    inventree-db-<name>, whose username is the role) owning one Database of its own."""
    clusters = docs_of(docs, "Cluster")
    assert [c["metadata"]["name"] for c in clusters] == [POSTGRES]
    roles = {r["name"]: r for r in clusters[0]["spec"]["managed"]["roles"]}
    secrets = {d["metadata"]["name"]: d for d in docs_of(docs, "Secret")}
    databases = {d["spec"]["name"]: d["spec"] for d in docs_of(docs, "Database")}
    services = set(service_deployments(docs))
    assert set(roles) == {f"inventree_{s}" for s in services}
    assert set(databases) == {f"inventree_{s}" for s in services}
    for name in services:
        role = roles[f"inventree_{name}"]
        assert role.get("login") is True and role.get("ensure", "present") == "present", name
        assert not any(role.get(p) for p in ("superuser", "createdb", "createrole")), name
        secret = secrets[role["passwordSecret"]["name"]]
        assert secret["metadata"]["name"] == f"inventree-db-{name}", name
        assert secret["type"] == "kubernetes.io/basic-auth", name
        assert secret["stringData"]["username"] == role["name"], name
        assert "CHANGE-ME" in secret["stringData"]["password"], name
        database = databases[f"inventree_{name}"]
        assert database["owner"] == role["name"] and database["cluster"]["name"] == POSTGRES
        assert database.get("databaseReclaimPolicy") == "retain", name


def check_all(k8s: Path, loaded=None):
    kustomization, docs = loaded or load_dir(k8s)
    check_kustomization(k8s, kustomization)
    check_metadata(docs)
    configmap = docs_of(docs, "ConfigMap")[0]["data"]
    for name, dep in deployments(docs).items():
        check_deployment_common(name, dep)
    for name, dep in service_deployments(docs).items():
        check_service_deployment(name, dep, configmap)
    check_gateway(docs, configmap)
    check_references(docs)
    check_config(docs)
    check_broker_users(docs)
    check_postgres(docs)
    return docs


# ---------------------------------------------------------------- tests

def test_kustomization_lists_every_manifest_file():
    check_kustomization(K8S, manifests()[0])


@lru_cache(maxsize=None)
def crd_validator(group: str, kind: str, version: str) -> jsonschema.Draft7Validator:
    """Not jsonschema.validate: it checks the schema first, and one has a Go-only pattern
    (crd-schemas/README.md)."""
    path = CRD_SCHEMAS / group / f"{kind.lower()}_{version}.json"
    assert path.is_file(), f"no schema for {group}/{version} {kind}: add {path}"
    return jsonschema.Draft7Validator(json.loads(path.read_text()))


def validate(doc):
    """Core kinds against Kubernetes' own schemas (strict), custom resources against their
    CRD's (a group with a dot that is not a Kubernetes API group)."""
    group, _, version = doc["apiVersion"].rpartition("/")
    if "." in group and not group.endswith(".k8s.io"):
        validator = crd_validator(group, doc["kind"], version)
        try:
            validator.validate(doc)
        except re.error as exc:  # see crd-schemas/README.md
            raise AssertionError(f"{doc['kind']}: a Go-only pattern of its schema ({exc}); "
                                 "leave out partial_response_strategy") from exc
    else:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("item", manifests()[1], ids=doc_id)
def test_schema(item):
    validate(item[1])


def test_schema_validation_catches_mistakes():
    """The validator really rejects a broken manifest (a typo'd field, a wrong type)."""
    dep = deployments(manifests()[1])[GATEWAY]
    typo = copy.deepcopy(dep)
    main = main_container(typo)
    main["imagePullPolcy"] = main.pop("imagePullPolicy", "IfNotPresent")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, K8S_VERSION, strict=True)
    wrong_type = copy.deepcopy(dep)
    wrong_type["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong_type, K8S_VERSION, strict=True)
    permission = copy.deepcopy(docs_of(manifests()[1], "Permission")[0])
    permission["spec"]["permissions"]["consume"] = ".*"
    with pytest.raises(jsonschema.ValidationError):
        validate(permission)
    for kind, mutate in (
            ("ScaledObject", lambda d: d["spec"].update(minReplicaCount="two")),
            ("Policy", lambda d: d["spec"].update(applyTo="every_queue")),
            ("Cluster", lambda d: d["spec"].update(instances=0)),
            ("Database", lambda d: d["spec"].pop("owner")),
            ("ServiceMonitor", lambda d: d["spec"]["endpoints"][0].update(scheme="ftp")),
            ("PrometheusRule", lambda d: d["spec"]["groups"][0].pop("name"))):
        doc = copy.deepcopy(docs_of(manifests()[1], kind)[0])
        mutate(doc)
        with pytest.raises(jsonschema.ValidationError):
            validate(doc)


def test_metadata_labels_and_namespace():
    check_metadata(manifests()[1])


def test_deployments():
    docs = manifests()[1]
    found = deployments(docs)
    assert GATEWAY in found and {"users", "status", "audit"} <= set(found)
    for name, dep in found.items():
        check_deployment_common(name, dep)


@pytest.mark.parametrize("name", sorted(service_deployments(manifests()[1])))
def test_service_deployment(name):
    docs = manifests()[1]
    configmap = docs_of(docs, "ConfigMap")[0]["data"]
    check_service_deployment(name, service_deployments(docs)[name], configmap)


def test_service_deployments_match_service_packages():
    """Each service Deployment runs a package under services/, and each package is deployed."""
    deployed = set(service_deployments(manifests()[1]))
    packages = service_packages()
    assert not deployed - packages, f"deployments without a services/ package: {deployed - packages}"
    assert not packages - deployed, (
        f"services without a Deployment: {sorted(packages - deployed)} "
        "(add with deploy/add-service.sh <name>)")


def test_gateway():
    docs = manifests()[1]
    check_gateway(docs, docs_of(docs, "ConfigMap")[0]["data"])


def test_configmap_and_secret_references():
    check_references(manifests()[1])


def test_config_and_secret_contents():
    check_config(manifests()[1])


def test_each_process_has_its_own_broker_user():
    check_broker_users(manifests()[1])


def test_checks_reject_a_broken_set():
    """The set checks fail on broken manifests, not only the schema."""
    kustomization, docs = manifests()
    check_all(K8S, (kustomization, docs))  # the real set passes

    def broken(mutate):
        k, d = copy.deepcopy((kustomization, docs))
        mutate(k, d)
        with pytest.raises(AssertionError):
            check_all(K8S, (k, d))

    def dep(d, name):
        return deployments(d)[name]

    def migrate_wrong_service(k, d):
        pod_spec(dep(d, "status"))["initContainers"][0]["command"][-1] = "users"

    def no_readiness(k, d):
        del main_container(dep(d, "status"))["readinessProbe"]

    def gateway_relabelled(k, d):
        dep(d, GATEWAY)["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] = "gw"

    def unknown_secret_key(k, d):
        env = main_container(dep(d, "audit"))["env"]
        next(v for v in env if v["name"] == "AMQP_URI")["valueFrom"]["secretKeyRef"][
            "key"] = "AMQP_URL"

    def other_database(k, d):
        env = main_container(dep(d, "audit"))["env"]
        url = next(v for v in env if v["name"] == "AUDIT_DATABASE_URL")
        url["value"] = url["value"].replace("inventree_audit", "inventree_users")

    def shared_role(k, d):
        roles = docs_of(d, "Cluster")[0]["spec"]["managed"]["roles"]
        roles[0]["passwordSecret"]["name"] = roles[1]["passwordSecret"]["name"]

    def monitor_may_consume(k, d):
        broker_resources(d, "Permission")[MONITOR]["spec"]["permissions"]["read"] = ".*"

    def unknown_configmap(k, d):
        main_container(dep(d, "users"))["envFrom"][0]["configMapRef"]["name"] = "other-config"

    def unlisted_file(k, d):
        k["resources"].remove("service-audit.yaml")

    def root_user(k, d):
        pod_spec(dep(d, "users"))["securityContext"]["runAsUser"] = 0

    def shared_broker_user(k, d):
        env = main_container(dep(d, "status"))["env"]
        next(v for v in env if v["name"] == "AMQP_URI")["valueFrom"]["secretKeyRef"][
            "name"] = "inventree-amqp-users"

    def reads_every_queue(k, d):
        broker_resources(d, "Permission")["inventree-status"]["spec"]["permissions"][
            "read"] = ".*"

    def binds_every_call(k, d):
        broker_resources(d, "TopicPermission")["inventree-audit"]["spec"]["permissions"][
            "read"] = ".*"

    def no_signing_key(k, d):
        env = main_container(dep(d, GATEWAY))["env"]
        env[:] = [v for v in env if v["name"] != "CALLER_SIGNING_KEYS"]

    for mutate in (migrate_wrong_service, no_readiness, gateway_relabelled, unknown_secret_key,
                   unknown_configmap, unlisted_file, root_user, shared_broker_user,
                   reads_every_queue, binds_every_call, no_signing_key, other_database,
                   monitor_may_consume, shared_role):
        broken(mutate)


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs sh")
def test_add_service_script(tmp_path):
    """deploy/add-service.sh produces a listed, valid Deployment for a new service."""
    deploy = tmp_path / "deploy"
    shutil.copytree(K8S, deploy / "k8s" / "base")
    shutil.copy(DEPLOY / "add-service.sh", deploy / "add-service.sh")
    subprocess.run(["sh", str(deploy / "add-service.sh"), "newsvc"], check=True,
                   capture_output=True, timeout=10)
    docs = check_all(deploy / "k8s" / "base")
    dep = service_deployments(docs)["newsvc"]
    assert "status" not in yaml.safe_dump(dep)
    kubernetes_validate.validate(dep, K8S_VERSION, strict=True)
    bad = subprocess.run(["sh", str(deploy / "add-service.sh"), "Bad-Name"],
                         capture_output=True, timeout=10)
    assert bad.returncode != 0


def kustomize(directory: Path) -> str:
    """`kubectl kustomize <directory>` (offline): `make test` installs kubectl (k8s-tools)."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is missing: `make k8s-tools` installs Debian's kubernetes-client"
    return subprocess.run([kubectl, "kustomize", str(directory)], check=True,
                          capture_output=True, text=True, timeout=120).stdout


def test_kustomize_builds():
    """`kubectl kustomize` (offline) renders the set: the same objects, all in the namespace."""
    out = kustomize(K8S)
    built = [d for d in yaml.safe_load_all(out) if d]
    assert sorted((d["kind"], d["metadata"]["name"]) for d in built) == sorted(
        (d["kind"], d["metadata"]["name"]) for _, d in manifests()[1])
    assert all(d["metadata"].get("namespace") == NAMESPACE
               for d in built if d["kind"] != "Namespace")
    assert re.search(r"image: inventree-general:\S+", out)
