"""Every environment variable the code reads is in the README's configuration table, and
every name in that table is read somewhere (what `/api/admin/config/` can list is documented;
nothing documented is invented)."""
import re
from pathlib import Path

from tests.helpers import service_packages

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("gateway", "services", "svckit", "scripts")
READ = re.compile(r'(?:setting\(|os\.environ\.get\(|os\.getenv\()\s*\n?\s*"([A-Z][A-Z0-9_]+)"')


def settings_read() -> set[str]:
    names = set()
    for top in SOURCES:
        for path in (ROOT / top).rglob("*.py"):
            names.update(READ.findall(path.read_text()))
    return names


def settings_documented() -> set[str]:
    """Names in the first column of the table under `## Configuration`; `_PORT` after
    `INVENTREE_EMAIL_HOST` is `INVENTREE_EMAIL_PORT`, `<SERVICE>` stands for each service."""
    text = (ROOT / "README.md").read_text()
    table = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in table.splitlines():
        if not line.startswith("| `"):
            continue
        tokens = re.findall(r"`([^`]+)`", line.split(" | ")[0])
        stem = tokens[0].rsplit("_", 1)[0]
        for token in tokens:
            name = stem + token if token.startswith("_") else token
            if name.startswith("<SERVICE>"):
                names.update(s.upper() + name[len("<SERVICE>"):] for s in SERVICES)
            else:
                names.add(name)
    return names


SERVICES = sorted(service_packages())


def test_every_setting_read_is_documented():
    assert settings_read() - settings_documented() == set()


def test_every_documented_setting_is_read():
    dynamic = {f"{s.upper()}_DATABASE_URL" for s in SERVICES}
    assert settings_documented() - settings_read() - dynamic == set()
