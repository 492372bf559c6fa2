"""A span per HTTP request (svckit.tracing; nothing when tracing is off): kind SERVER, named
`<METHOD> <route template>` (`<METHOD>` alone when no route matched: never a raw path),
continuing the client's trace when it sent a W3C `traceparent`. RPC calls made for the
request are its children (svckit.rpc_client)."""
from gateway.metrics import method_of
from svckit import tracing


class TracingMiddleware:
    def process_request(self, req, resp):
        if not tracing.enabled():
            return
        carrier = {}
        for name in ("traceparent", "tracestate"):
            value = req.get_header(name)
            if value:
                carrier[name] = value[:512]
        req.context.span = tracing.start(
            method_of(req), tracing.SERVER, carrier or None,
            attributes={"http.request.method": method_of(req), "url.path": req.path[:1000],
                        "url.scheme": req.scheme})

    def process_resource(self, req, resp, resource, params):
        handle = req.context.get("span")
        if handle is not None and req.uri_template:
            handle[0].update_name(f"{method_of(req)} {req.uri_template}")
            handle[0].set_attribute("http.route", req.uri_template)

    def process_response(self, req, resp, resource, req_succeeded):
        handle = req.context.pop("span", None)
        if handle is None:
            return
        status = resp.status_code
        error = req.context.get("error")
        tracing.finish(handle, error if status >= 500 else None,
                       attributes={"http.response.status_code": status},
                       failed=str(status) if status >= 500 else "")
