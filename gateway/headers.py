"""Security headers on every answer of the gateway, and no `Server` header.

The Falcon middleware covers the app's answers; `install_in_gunicorn()` (called from
gunicorn_conf.py before workers fork) drops gunicorn's `Server` header and adds the same
headers to the error page gunicorn writes itself for a request it cannot parse."""
import html

SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    # the gateway serves JSON, plain text and downloads, never a page: nothing may load or
    # run, and a `/media/` file opened in a browser stays inert
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; sandbox"),
)


class SecurityHeadersMiddleware:
    """A resource with a `content_security_policy` of its own (the console's pages, which
    load scripts and styles from this origin) has it instead of the default."""

    def process_response(self, req, resp, resource, req_succeeded):
        for name, value in SECURITY_HEADERS:
            resp.set_header(name, value)
        policy = getattr(resource, "content_security_policy", None)
        if policy:
            resp.set_header("Content-Security-Policy", policy)


def _without_server(default_headers):
    def headers(self):
        return [line for line in default_headers(self)
                if not line.lower().startswith("server:")]
    headers.no_server = True  # type: ignore[attr-defined]  # marks the patch as installed
    return headers


def _write_error(sock, status_int, reason, mesg):
    """gunicorn's `util.write_error`, with the security headers."""
    from gunicorn import util
    body = (f"<html>\n  <head>\n    <title>{reason}</title>\n  </head>\n  <body>\n"
            f"    <h1><p>{reason}</p></h1>\n    {html.escape(mesg)}\n  </body>\n</html>\n")
    head = "".join(f"{name}: {value}\r\n" for name, value in SECURITY_HEADERS)
    util.write_nonblock(sock, (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
                               f"Content-Type: text/html\r\nContent-Length: {len(body)}\r\n"
                               f"{head}\r\n{body}").encode("latin1"))


def install_in_gunicorn():
    from gunicorn import util
    from gunicorn.http import wsgi
    if not getattr(wsgi.Response.default_headers, "no_server", False):
        wsgi.Response.default_headers = (  # type: ignore[method-assign]  # a deliberate patch
            _without_server(wsgi.Response.default_headers))
    util.write_error = _write_error
