"""The README's configuration table and the settings classes agree: every process's
settings class (the gateway's, each service's, their tools', the operator's scripts') has
each of its fields in the table with its default, and the table names nothing that no class
reads (what `/api/admin/config/` can list is documented; nothing documented is invented); a
row's "read by" column says which processes read its variables."""
import re
from pathlib import Path

from gateway.settings import GatewaySettings
from services.users.settings import UsersCliSettings
from svckit.deadletters import DeadLettersSettings
from svckit.layout import service_names, settings_class
from svckit.probe import ProbeSettings
from svckit.script_settings import ClusterSettings, StackSettings
from svckit.settings import RecordedSettings, ServiceSettings
from svckit.subscribe import SubscribeSettings

ROOT = Path(__file__).resolve().parent.parent
SERVICES = service_names()
SERVICE_CLASSES = [settings_class(name) for name in SERVICES]
TOOL_CLASSES = [UsersCliSettings, ProbeSettings, DeadLettersSettings,  # the services' tools
                SubscribeSettings]
SCRIPT_CLASSES = [StackSettings, ClusterSettings]  # read by an operator's script (scripts/)
# settings whose default the code works out at run time; the README says how
DESCRIBED = {"INVENTREE_DATA_DIR": "`var/`",
             "CALLER_SIGNING_KEYS": "generated into `var/caller-signing-key`",
             "USERS_TOKEN_SECRET": "generated into `var/users-token-secret`",
             "INVENTREE_ADMIN_PASSWORD": "generated",
             "MEDIA_ROOT": "`$INVENTREE_DATA_DIR/media`",
             "S3_ENDPOINT_URL": "AWS", "S3_ACCESS_KEY_ID": "boto's",
             "S3_SECRET_ACCESS_KEY": "boto's",
             "AUDIT_SOURCES": "every process", "ERROR_REPORT_SOURCES": "every process",
             "NEWS_FEED_URL": "InvenTree's feed", "CLUSTER_DATA_DIR": "`var/cluster`",
             # json in every process, text in those `make run` starts (StackSettings)
             "LOG_FORMAT": "`json` (`make run`: `text`)",
             **{f"{name.upper()}_DATABASE_URL": "`sqlite:///var/<service>.sqlite3`"
                for name in SERVICES}}


def fields(*classes) -> dict:
    """name -> field of every setting of `classes`."""
    return {name: field for cls in classes for name, field in cls.model_fields.items()}


GATEWAY = fields(GatewaySettings)
SERVICE_READS = fields(*SERVICE_CLASSES, *TOOL_CLASSES)
SCRIPT_READS = fields(*SCRIPT_CLASSES)


def settings_read() -> set[str]:
    return set(GATEWAY) | set(SERVICE_READS) | set(SCRIPT_READS)


def table_rows() -> list[tuple[list[str], list[str], str]]:
    """(names, defaults, read by) of each row of the table under `## Configuration`;
    `_PORT` after `INVENTREE_EMAIL_HOST` is `INVENTREE_EMAIL_PORT`, `<SERVICE>` stands for
    each service. Names and defaults are listed alike: `A` / `B` and `x` / `y`, or
    `A`, `B` and x, y (a default list may stop short with `...`; one default for several
    names is each one's)."""
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
        if len(defaults) == 1:
            defaults = defaults * len(names)
        elif defaults[-1] == "...":
            defaults += ["..."] * (len(names) - len(defaults))
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


def test_every_process_has_one_settings_class():
    """Each service's class is the one its Service is given (svckit.run builds it)."""
    import importlib
    for name, cls in zip(SERVICES, SERVICE_CLASSES):
        assert issubclass(cls, ServiceSettings), name
        assert f"{name.upper()}_DATABASE_URL" in cls.model_fields, name
        service = importlib.import_module(f"services.{name}.service").Service
        assert service.settings.settings_class is cls, name
    for cls in (GatewaySettings, *TOOL_CLASSES, *SCRIPT_CLASSES):
        assert issubclass(cls, RecordedSettings)


def test_every_setting_read_is_documented():
    assert settings_read() - settings_documented() == set()


def test_every_documented_setting_is_read():
    assert settings_documented() - settings_read() == set()


def test_read_by_names_the_processes_that_read_the_row():
    readers = (("gateway", set(GATEWAY)), ("services", set(SERVICE_READS)))
    wrong = [(names[0], read_by) for names, _, read_by in table_rows()
             if read_by != (", ".join(label for label, read in readers if set(names) & read)
                            or "scripts")]  # read only by an operator's script (scripts/)
    assert wrong == []


def test_every_setting_is_documented_with_its_default():
    documented = {name: default.replace("unset", "empty") for names, defaults, _ in table_rows()
                  for name, default in zip(names, defaults)}
    every = [(cls.__name__, name, field) for cls in
             (GatewaySettings, *SERVICE_CLASSES, *TOOL_CLASSES, *SCRIPT_CLASSES)
             for name, field in cls.model_fields.items()]
    assert [(owner, name) for owner, name, _ in every if name not in documented] == []
    wrong = {(owner, name): (documented[name], documented_default(name, field.default))
             for owner, name, field in every
             if documented[name] != "..." and
             documented[name] != documented_default(name, field.default)}
    assert wrong == {}
