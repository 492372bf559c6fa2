"""Static facts about this deployment: version, version history, licenses, feature flags."""
import base64
import gzip
import hashlib
import json
import platform
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from svckit.context import Caller
from svckit.errors import NotFound
from svckit.layout import ROOT

API_VERSION = 264
SERVER_VERSION = "0.17.0 dev"


@lru_cache(maxsize=1)
def _git(*args) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                             timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def version_document() -> dict:
    """`GET /api/version/` (up_to_date: InvenTree says True while no newer release is known,
    and this deployment never looks one up)."""
    return {"dev": SERVER_VERSION.endswith("dev"), "up_to_date": True,
            "version": {"server": SERVER_VERSION, "api": API_VERSION,
                        "commit_hash": _git("rev-parse", "--short=7", "HEAD"),
                        "commit_date": _git("show", "-s", "--format=%cs", "HEAD"),
                        "commit_branch": _git("rev-parse", "--abbrev-ref", "HEAD"),
                        "python": platform.python_version(), "django": None},
            "links": {"doc": "https://docs.inventree.org/en/latest/",
                      "code": "https://github.com/inventree/InvenTree",
                      "credit": "https://docs.inventree.org/en/latest/credits/",
                      "app": "https://docs.inventree.org/en/latest/app/app/",
                      "bug": "https://github.com/inventree/InvenTree/issues"}}


def version_text() -> dict:
    """`GET /api/version-text`: the ten versions before ours. InvenTree 264's changelog parser
    finds no text for them (its entries use " - " where it splits on " -> "), so each is null."""
    return {f"v{v}": None for v in range(API_VERSION - 10, API_VERSION)}


def _license_of(dist) -> str:
    meta = dist.metadata
    text = (meta.get("License-Expression") or meta.get("License") or "").strip()
    if text and "\n" not in text and len(text) < 100:
        return text
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or ()
                   if c.startswith("License ::")]
    return "; ".join(classifiers) or "UNKNOWN"


@lru_cache(maxsize=1)
def licenses() -> dict:
    """`GET /api/license/`: the installed Python distributions this deployment runs on
    (pip-licenses' fields, lower-cased keys, one entry per name). There is no frontend."""
    seen = {}
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if name and name.lower() not in seen:
            seen[name.lower()] = {"name": name, "version": dist.version,
                                  "license": _license_of(dist)}
    return {"backend": sorted(seen.values(), key=lambda d: d["name"].lower()), "frontend": []}


ICONS_FILE = Path(__file__).resolve().parent / "data" / "tabler_icons.json.gz"


@lru_cache(maxsize=1)
def icon_packs() -> dict:
    """`GET /api/icons/`: the icon packs (the Tabler pack InvenTree 264 ships; see
    scripts/build_icons.py), as a gzipped JSON array with its ETag. Compressed, the 0.6 MB
    document travels over RPC as about 0.1 MB."""
    pack = json.loads(gzip.decompress(ICONS_FILE.read_bytes()))
    body = json.dumps([pack], ensure_ascii=False, separators=(",", ":")).encode()
    return {"etag": '"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            "gzip": base64.b64encode(gzip.compress(body, mtime=0)).decode()}


def flag_definitions(debug: bool, extra: str) -> dict:
    """django-flags settings: the built-ins (`debug`: INVENTREE_DEBUG), then `extra`
    (INVENTREE_FLAGS, a JSON object)."""
    flags = {"EXPERIMENTAL": [{"condition": "boolean", "value": debug},
                              {"condition": "parameter", "value": "experimental="}],
             "NEXT_GEN": [{"condition": "parameter", "value": "ngen="}]}
    if extra:
        try:
            custom = json.loads(extra)
        except ValueError:
            custom = None
        if not isinstance(custom, dict):
            print("INVENTREE_FLAGS is not a JSON object; ignored", file=sys.stderr)
        else:
            flags.update(custom)
    return flags


def _condition_met(condition: dict, query: dict) -> bool:
    kind, value = condition.get("condition"), condition.get("value")
    if kind == "boolean":
        return value is True or str(value).lower() in ("true", "1", "yes", "on")
    if kind == "parameter":
        name, sep, expected = str(value).partition("=")
        return query.get(name) == (expected if sep else "True")
    return False


def flag(key: str, conditions: list, query: dict, caller: Caller) -> dict:
    """A flag's state for this request; superusers also see its conditions."""
    item = {"key": key, "state": any(_condition_met(c, query) for c in conditions)}
    if caller.is_superuser:
        item["conditions"] = conditions
    return item


def flags(query: dict, caller: Caller, definitions: dict) -> list:
    """Every flag of `definitions` (flag_definitions) for this request."""
    return [flag(k, v, query, caller) for k, v in definitions.items()]


def one_flag(key: str, query: dict, caller: Caller, definitions: dict) -> dict:
    if key not in definitions:
        raise NotFound()
    return flag(key, definitions[key], query, caller)

