"""A span per HTTP request (svckit.tracing; nothing when tracing is off): kind SERVER, named
`<METHOD> <route template>` (`<METHOD>` alone when no route matched: never a raw path),
continuing the client's trace when it sent a W3C `traceparent`. RPC calls made for the
request are its children (svckit.rpc_client)."""
from gateway.metrics import method_of
from svckit import tracing


class TracingMiddleware:
    """The span starts bare (its name the method) and gets its name and every attribute
    once, as the answer goes: one pass of the SDK's attribute checks, not three."""

    def process_request(self, req, resp):
        if not tracing.enabled():
            return
        carrier = None
        env = req.env  # what req.get_header reads, without its name's conversion
        parent = env.get("HTTP_TRACEPARENT")
        if parent:
            carrier = {"traceparent": parent[:512]}
            state = env.get("HTTP_TRACESTATE")
            if state:
                carrier["tracestate"] = state[:512]
        req.context.span = tracing.start(method_of(req), tracing.SERVER, carrier)

    def process_response(self, req, resp, resource, req_succeeded):
        handle = req.context.pop("span", None)
        if handle is None:
            return
        status = resp.status_code
        method = method_of(req)
        attributes = {"http.request.method": method, "url.path": req.path[:1000],
                      "url.scheme": req.scheme, "http.response.status_code": status}
        if req.uri_template:
            handle[0].update_name(f"{method} {req.uri_template}")
            attributes["http.route"] = req.uri_template
        error = req.context.get("error")
        tracing.finish(handle, error if status >= 500 else None, attributes=attributes,
                       failed=str(status) if status >= 500 else "")
