"""Every RPC method the gateway can call is an `@rpc` entrypoint of that service's class.

The names are collected two ways: from the resources of the route table (their `service`
and each `*_method` attribute: the generic list, detail and metadata handlers call only
those), and from every call site in gateway/ that writes a method name out as a literal
(`self.call(req, "users", "me")`, `rpc.call("users", "authenticate_token", ...)`,
`self.cached(req, cache, key, "status", "status_document")`). Services never import each
other; this test imports them all to look at their entrypoints."""
import ast
import importlib
from pathlib import Path

from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from nameko.rpc import Rpc

import gateway
from gateway.app import create_app
from gateway.settings import GatewaySettings
from svckit.layout import service_names
from tests.gateway.fakerpc import FakeBus, FakeRpc

GATEWAY = Path(gateway.__file__).parent
# methods called of a service chosen at run time
OF_SEVERAL = {"ping": service_names(), "config_lookups": service_names(),
              "readiness": service_names(), "event_catalog": service_names(),
              "verify_event_log": service_names(),
              "media_file": ["attachments", "importer"]}


def entrypoints(service: str) -> set[str]:
    """The `@rpc` methods of the nameko class named `service`."""
    module = importlib.import_module(f"services.{service}.service")
    [cls] = [c for c in vars(module).values()
             if isinstance(c, type) and getattr(c, "name", None) == service]
    return {name for name in dir(cls)
            if any(isinstance(e, Rpc)
                   for e in getattr(getattr(cls, name), ENTRYPOINT_EXTENSIONS_ATTR, ()))}


def declared_on_routes() -> set[tuple[str, str]]:
    """(service, method) of every `*_method` attribute of a routed resource."""
    app = create_app(GatewaySettings(), rpc=FakeRpc(), bus=FakeBus())
    found = set()
    for _template, resource in app.routes:
        for attr in dir(resource):
            value = getattr(resource, attr)
            if attr.endswith("_method") and isinstance(value, str) and value:
                found.add((resource.service, value))
    return found


def _literal(node) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def written_at_call_sites() -> set[tuple[str, str]]:
    """(service, method) of every RPC call in gateway/ whose method is a literal: the
    service's literal too, or each of OF_SEVERAL's services."""
    found = set()
    for path in GATEWAY.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr == "cached":  # Resource.cached(req, cache, key, service, method)
                first = 3
            elif node.func.attr == "call":  # Resource.call(req, service, method), rpc.call(...)
                own = isinstance(node.func.value, ast.Name) and node.func.value.id == "self"
                first = 1 if own else 0
            else:
                continue
            service_arg, method_arg = node.args[first:first + 2]
            method = _literal(method_arg)
            if method is None:  # a `*_method` attribute or a helper's parameter
                continue
            service = _literal(service_arg)
            where = f"{path.relative_to(GATEWAY)}:{node.lineno}"
            assert service is not None or method in OF_SEVERAL, where
            found.update((s, method) for s in ([service] if service else OF_SEVERAL[method]))
    return found


def test_every_rpc_method_the_gateway_calls_is_an_entrypoint_of_that_service():
    declared, written = declared_on_routes(), written_at_call_sites()
    assert ("system", "list_project_codes") in declared and ("users", "me") in written
    assert ("users", "authenticate_token") in written and ("audit", "ping") in written
    called = declared | written
    known = {service: entrypoints(service) for service in service_names()}
    assert {service for service, _ in called} <= set(known)
    assert sorted(call for call in called if call[1] not in known[call[0]]) == []
