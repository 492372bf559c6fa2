"""Settings are read once, when a process starts, never while its modules are imported:
importing every module of services/ and svckit/ reads no environment variable and builds
no settings object (issue 17, item 3)."""
import json
import subprocess
import sys

from svckit.layout import ROOT

SKIPPED = ("migrations", "migration_template")  # Alembic revision files, loaded by Alembic


def modules() -> list[str]:
    names = []
    for top in ("svckit", "services"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if any(p in SKIPPED for p in parts):
                continue
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def reads_while_importing(*names: str) -> list[str]:
    """What importing `names` in a fresh interpreter read (tests/import_guard.py)."""
    done = subprocess.run([sys.executable, "-m", "tests.import_guard", *names], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_importing_every_module_reads_no_environment():
    names = modules()
    assert {"svckit.listing", "services.audit.service", "services.system.webhooks",
            "services.system.service.errorreports", "svckit.run"} <= set(names)
    assert reads_while_importing(*names) == []


def test_the_guard_sees_a_read_and_a_settings_object_made_at_import(tmp_path):
    module = tmp_path / "eager.py"
    module.write_text("import os\n"
                      "from svckit.settings import BrokerSettings\n"
                      "LIMIT = int(os.environ.get('SEARCH_MAX_TERMS', '20'))\n"
                      "PRESENT = 'AMQP_URI' in os.environ\n"
                      "SETTINGS = BrokerSettings()\n")
    found = reads_while_importing(str(module))
    assert [line.split(" ", 1)[1] for line in found] == [
        "reads SEARCH_MAX_TERMS", "looks up AMQP_URI", "builds BrokerSettings"]
