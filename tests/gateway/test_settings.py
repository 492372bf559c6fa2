"""The gateway's settings: read once from the environment into GatewaySettings, passed to
what needs them, and listed by `/api/admin/config/` with where each came from."""
import re
from pathlib import Path

import gateway
from gateway.settings import GatewaySettings
from svckit.config_keys import config_key
from tests.gateway.fakerpc import FakeRpc, make_app, request

GATEWAY = Path(gateway.__file__).parent


def test_lookups_list_every_setting_with_its_source_and_never_its_value(monkeypatch):
    monkeypatch.setenv("GATEWAY_MAX_BODY_BYTES", "987654321")
    monkeypatch.delenv("LIST_MAX_ROWS", raising=False)
    settings = GatewaySettings()
    assert settings.GATEWAY_MAX_BODY_BYTES == 987654321
    lookups = {item["key"]: item for item in settings.lookups()}
    assert set(lookups) == set(GatewaySettings.model_fields)
    assert lookups["GATEWAY_MAX_BODY_BYTES"]["source"] == "env"
    assert lookups["LIST_MAX_ROWS"]["source"] == "default"
    for key, item in lookups.items():
        assert item["env_var"] == key and item["config_key"] == config_key(key)
        assert set(item) == {"key", "env_var", "config_key", "source", "accessed"}
    assert "987654321" not in str(lookups)


def test_flags_read_as_every_process_reads_them(monkeypatch):
    for raw, value in [("yes", True), ("ON", True), ("1", True), ("false", False),
                       ("maybe", False), ("", False)]:
        monkeypatch.setenv("INVENTREE_DOCKER", raw)
        assert GatewaySettings().INVENTREE_DOCKER is value, raw


def test_admin_config_lists_the_gateways_settings(tmp_path, monkeypatch):
    monkeypatch.setattr("gateway.resources.root.service_names", lambda: ["users"])
    monkeypatch.setenv("INVENTREE_INSTANCE", "Shop")
    monkeypatch.delenv("GATEWAY_BIND", raising=False)
    app = make_app(FakeRpc({"config_lookups": [{"key": "PASSWORD_ITERATIONS",
                                                "accessed": "2026-01-01"}]}), tmp_path)
    keys = {item["key"]: item for item in request(app, "GET", "/api/admin/config/").json}
    assert set(GatewaySettings.model_fields) | {"PASSWORD_ITERATIONS"} == set(keys)
    assert (keys["INVENTREE_INSTANCE"]["source"], keys["GATEWAY_BIND"]["source"]) == (
        "env", "default")
    assert request(app, "GET", "/api/").json["instance"] == "Shop"


def test_the_body_limit_is_the_one_passed_in(tmp_path):
    rpc = FakeRpc()
    app = make_app(rpc, tmp_path, GATEWAY_MAX_BODY_BYTES=60)
    result = request(app, "POST", "/api/project-code/", {"code": "x" * 60})
    assert (result.status, result.json) == (413, {"detail": "Request body exceeds 60 bytes"})
    assert rpc.calls == []
    assert request(app, "POST", "/api/project-code/", {"code": "x"}).status == 201


def test_the_gateway_reads_no_environment_but_through_its_settings():
    """Every value comes from the GatewaySettings passed to create_app."""
    reads = re.compile(r"os\.environ|os\.getenv|svckit\.config\b|from svckit import config")
    found = [f"{path.relative_to(GATEWAY)}:{n}" for path in GATEWAY.rglob("*.py")
             for n, line in enumerate(path.read_text().splitlines(), 1) if reads.search(line)]
    assert found == []
