"""The README's configuration table and the settings the code reads agree: every environment
variable read is in the table and every name in it is read somewhere (what
`/api/admin/config/` can list is documented; nothing documented is invented); a row's
"read by" column says which processes read its variables; and each of the gateway's
settings (gateway.settings.GatewaySettings) is documented with its default."""
import re
from pathlib import Path

from gateway.settings import GatewaySettings
from tests.helpers import service_packages

ROOT = Path(__file__).resolve().parent.parent
SERVICE_SOURCES = ("services", "svckit")  # the service processes and their tools
TOOL_SOURCES = ("scripts",)
READ = re.compile(r'(?:setting\(|os\.environ\.get\(|os\.getenv\()\s*\n?\s*"([A-Z][A-Z0-9_]+)"')
SERVICES = sorted(service_packages())
DATABASE_URLS = {f"{s.upper()}_DATABASE_URL" for s in SERVICES}  # read by name built at run time
GATEWAY = GatewaySettings.model_fields
# gateway settings whose default the code works out at run time; the README says how
DESCRIBED = {"INVENTREE_DATA_DIR": "`var/`",
             "CALLER_SIGNING_KEYS": "generated into `var/caller-signing-key`",
             "MEDIA_ROOT": "`$INVENTREE_DATA_DIR/media`",
             "S3_ENDPOINT_URL": "AWS", "S3_ACCESS_KEY_ID": "boto's",
             "S3_SECRET_ACCESS_KEY": "boto's"}


def read_in(tops) -> set[str]:
    names = set()
    for top in tops:
        for path in (ROOT / top).rglob("*.py"):
            names.update(READ.findall(path.read_text()))
    return names


def read_by_services() -> set[str]:
    return read_in(SERVICE_SOURCES) | DATABASE_URLS


def settings_read() -> set[str]:
    return read_by_services() | read_in(TOOL_SOURCES) | set(GATEWAY)


def table_rows() -> list[tuple[list[str], list[str], str]]:
    """(names, defaults, read by) of each row of the table under `## Configuration`;
    `_PORT` after `INVENTREE_EMAIL_HOST` is `INVENTREE_EMAIL_PORT`, `<SERVICE>` stands for
    each service. Names and defaults are listed alike: `A` / `B` and `x` / `y`, or
    `A`, `B` and x, y (a default list may stop short with `...`)."""
    text = (ROOT / "README.md").read_text()
    table = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in table.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        tokens = re.findall(r"`([^`]+)`", cells[0])
        stem = tokens[0].rsplit("_", 1)[0]
        names = []
        for token in tokens:
            name = stem + token if token.startswith("_") else token
            if name.startswith("<SERVICE>"):
                names.extend(s.upper() + name[len("<SERVICE>"):] for s in SERVICES)
            else:
                names.append(name)
        separator = " / " if " / " in cells[0] else ", "
        defaults = cells[1].split(separator) if len(names) > 1 else [cells[1]]
        rows.append((names, defaults, cells[2]))
    return rows


def settings_documented() -> set[str]:
    return {name for names, _, _ in table_rows() for name in names}


def documented_default(name: str, value) -> str:
    """How the table writes a default: `false`, `10`, `PIP`; an empty or missing one as
    "empty" (or "unset")."""
    if name in DESCRIBED:
        return DESCRIBED[name]
    if value is None or value == "":
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def test_every_setting_read_is_documented():
    assert settings_read() - settings_documented() == set()


def test_every_documented_setting_is_read():
    assert settings_documented() - settings_read() == set()


def test_read_by_names_the_processes_that_read_the_row():
    readers = (("gateway", set(GATEWAY)), ("services", read_by_services()))
    wrong = [(names[0], read_by) for names, _, read_by in table_rows()
             if read_by != (", ".join(label for label, read in readers if set(names) & read)
                            or "scripts")]  # read only by an operator's script (scripts/)
    assert wrong == []


def test_every_gateway_setting_is_documented_with_its_default():
    documented = {name: default.replace("unset", "empty") for names, defaults, _ in table_rows()
                  for name, default in zip(names, defaults)}
    assert [name for name in GATEWAY if name not in documented] == []
    wrong = {name: (documented[name], documented_default(name, field.default))
             for name, field in GATEWAY.items()
             if documented[name] != documented_default(name, field.default)}
    assert wrong == {}
