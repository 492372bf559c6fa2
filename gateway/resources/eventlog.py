"""`GET /api/events/catalog/` (the AsyncAPI 3.0 document of every event type, built from
each service's event catalog) and `GET /api/events/verify/` (each service walks its own
hash-chained log; the audit service adds its signed digest of it). Staff only."""
from gateway import http
from svckit import asyncapi, chainlog
from svckit.errors import PermissionDenied, ValidationFailed
from svckit.eventcatalog import EventCatalog
from svckit.layout import service_names

from .base import Resource
from .root import API_VERSION

VERIFY_PARAMS = ("service", "after", "before")


def _require_staff(req):
    caller = req.context.caller
    if not caller.is_admin:
        raise PermissionDenied()


class Catalog(Resource):
    def on_get(self, req, resp):
        _require_staff(req)
        catalogs = {name: self.call(req, name, "event_catalog") for name in service_names()}
        # the gateway publishes its own error.logged events (gateway.bus)
        catalogs["gateway"] = EventCatalog("gateway", {}).describe()
        http.send(resp, asyncapi.document(catalogs, self.api.settings.AMQP_URI,
                                          str(API_VERSION)))


class Verify(Resource):
    def on_get(self, req, resp):
        _require_staff(req)
        params = http.query(req)
        unknown = sorted(set(params) - set(VERIFY_PARAMS))
        if unknown:
            raise ValidationFailed({name: ["Unknown filter."] for name in unknown})
        known = service_names()
        services = known
        if params.get("service"):
            services = list(dict.fromkeys(str(params["service"]).split(",")))
            wrong = [s for s in services if s not in known]
            if wrong:
                raise ValidationFailed({"service": [
                    f"Unknown service {w!r}; one of: {', '.join(known)}." for w in wrong]})
        after = chainlog.time_param(params, "after")
        before = chainlog.time_param(params, "before")
        if after and before and after >= before:
            raise ValidationFailed({"before": ["Must be later than after."]})
        whole = after is None and before is None
        digests = self.call(req, "audit", "chain_digests", services=services)
        answers = []
        for name in services:
            received = digests.get(name) or {}
            digest = received.get("digest")
            call = {k: params[k] for k in ("after", "before") if params.get(k)}
            if whole and digest:
                call["digest"] = {"last_seq": digest["last_seq"],
                                  "last_hash": digest["last_hash"]}
            answer = self.call(req, name, "verify_event_log", params=call)
            answer["last_digest"] = digest
            answer["received_faults"] = received.get("received_faults", 0)
            if digest and not digest["signature_valid"] and answer["status"] == "intact":
                answer["status"] = "broken"
                answer["failure"] = {"problem": "digest", "detail": (
                    f"the audit service's digest of {digest['hour']} does not match its "
                    "signature")}
            answers.append(answer)
        status = "intact" if all(a["status"] == "intact" for a in answers) else "broken"
        http.send(resp, {"status": status, "services": answers})


def register(app, api):
    app.add_route("/api/events/catalog/", Catalog(api))
    app.add_route("/api/events/verify/", Verify(api))
