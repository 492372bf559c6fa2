"""Regenerate gateway/openapi.json: InvenTree 264's exported schema cut down to the routes
this gateway serves (and the methods each serves), plus our own `/api/events/`.

    python scripts/build_openapi.py path/to/inventree-api-264.yaml
"""
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.app import create_app  # noqa: E402
from gateway.settings import GatewaySettings  # noqa: E402

EVENTS_PATH = {
    "get": {
        "operationId": "events_list",
        "description": "Domain events of every service, as recorded by the audit service "
                       "(staff only). Not part of InvenTree.",
        "parameters": [
            {"name": n, "in": "query", "required": False, "schema": {"type": t},
             "description": d} for n, t, d in (
                ("service", "string", "Source services, comma separated"),
                ("type", "string", "Event types, comma separated"),
                ("stream", "string", "<stream_type>[:<stream_id>]"),
                ("stream_type", "string", "Stream types, comma separated"),
                ("stream_id", "string", "Stream ids, comma separated"),
                ("after", "string", "ISO time: events at or after"),
                ("before", "string", "ISO time: events before"),
                ("search", "string", "Search type, stream type and actor"),
                ("ordering", "string", "id, created, service, type (prefix - to reverse)"),
                ("limit", "integer", "Page size"), ("offset", "integer", "Page start"),
                ("payload", "boolean", "false: each event without its payload"))],
        "tags": ["events"],
        "security": [{"tokenAuth": []}, {"basicAuth": []}, {"cookieAuth": []}],
        "responses": {"200": {"description": "Events (a bare array unless limit is given)"}},
    }
}


def refs(node, found: set):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value.rsplit("/", 1)[-1])
            else:
                refs(value, found)
    elif isinstance(node, list):
        for item in node:
            refs(item, found)


def build(spec: dict) -> dict:
    app = create_app(GatewaySettings())
    paths = {}
    for template, resource in app.routes:
        template = re.sub(r"\{(\w+):\w+\}", r"{\1}", template)  # drop field converters
        methods = [m for m in ("get", "post", "put", "patch", "delete")
                   if callable(getattr(resource, f"on_{m}", None))]  # as Falcon maps them
        if template == "/api/events/":
            paths[template] = EVENTS_PATH
            continue
        source = spec["paths"].get(template)
        if source:
            paths[template] = {m: op for m, op in source.items() if m in methods}
    schemas = spec["components"]["schemas"]
    needed, todo = set(), set()
    refs(paths, todo)
    while todo:
        name = todo.pop()
        if name in needed or name not in schemas:
            continue
        needed.add(name)
        refs(schemas[name], todo)
    return {"openapi": spec["openapi"],
            "info": {**spec["info"], "description": "InvenTree 264's General API as served "
                                                   "by this deployment"},
            "paths": paths,
            "components": {"schemas": {n: schemas[n] for n in sorted(needed)},
                           "securitySchemes": spec["components"].get("securitySchemes", {})}}


def main():
    spec = yaml.safe_load(Path(sys.argv[1]).read_text())
    out = ROOT / "gateway" / "openapi.json"
    out.write_text(json.dumps(build(spec), indent=1, sort_keys=False) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
