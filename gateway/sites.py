"""The site's own addresses: which origins a browser may post from, which hosts mailed links
may point at, and whether cookies must be `Secure`.

Settings: `INVENTREE_SITE_URL`, `INVENTREE_TRUSTED_ORIGINS`, `INVENTREE_ALLOWED_HOSTS`
(Django's patterns: `example.com`, `.example.com` for it and its subdomains, `*` for any),
`INVENTREE_COOKIE_SECURE`. `req.scheme` is "https" when the gateway is served over HTTPS,
or behind a trusted proxy that says so (gateway/proxies.py).
"""
import re
from urllib.parse import urlsplit

from gateway.settings import GatewaySettings

# Django's host_validation_re: a domain or a bracketed IPv6 address, and an optional port
_HOST = re.compile(r"^([a-z0-9.-]+|\[[a-f0-9]*:[a-f0-9.:]+\])(?::([0-9]+))?$")


def request_host(req) -> tuple[str, str] | None:
    """(host, port) of the `Host` header, lower-cased; None if it is not a valid host
    (falcon's `req.host` raises on some)."""
    match = _HOST.match((req.get_header("Host") or "").strip().lower())
    return (match.group(1), match.group(2) or "") if match else None


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL ("" if it has none)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


class Site:
    """The site's addresses and cookie rule, from the gateway's settings."""

    def __init__(self, settings: GatewaySettings):
        self.url = settings.INVENTREE_SITE_URL.strip().rstrip("/")
        self.origins = {o.strip().rstrip("/") for o in
                        settings.INVENTREE_TRUSTED_ORIGINS.split(",") if o.strip()}
        self.allowed_hosts = [p.strip().lower() for p in
                              settings.INVENTREE_ALLOWED_HOSTS.split(",") if p.strip()]
        self.cookie_secure = settings.INVENTREE_COOKIE_SECURE

    def trusted_origins(self, req) -> set[str]:
        """The request's own origin, the site URL and INVENTREE_TRUSTED_ORIGINS."""
        trusted = {f"{req.scheme}://{req.netloc}"} | self.origins
        if self.url:
            trusted.add(self.url)
        return trusted

    def host_allowed(self, host: str) -> bool:
        """Django's ALLOWED_HOSTS matching against INVENTREE_ALLOWED_HOSTS (empty: none)."""
        host = (host or "").lower().rstrip(".")
        return any(pattern == "*" or host == pattern or (
                       pattern.startswith(".") and (host.endswith(pattern) or host == pattern[1:]))
                   for pattern in self.allowed_hosts)

    def link_base(self, req) -> str | None:
        """Where links in mails point: INVENTREE_SITE_URL, else the request's own address if
        its host is an allowed host; None when neither (the Host header is the client's to
        choose)."""
        if self.url:
            return self.url
        host = request_host(req)
        if host is not None and self.host_allowed(host[0]):
            return f"{req.scheme}://{host[0]}" + (f":{host[1]}" if host[1] else "")
        return None

    def secure_cookies(self, req) -> bool:
        return self.cookie_secure or req.scheme == "https"
