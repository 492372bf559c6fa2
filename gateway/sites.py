"""The site's own addresses: which origins a browser may post from, which hosts mailed links
may point at, and whether cookies must be `Secure`.

Settings: `INVENTREE_SITE_URL`, `INVENTREE_TRUSTED_ORIGINS`, `INVENTREE_ALLOWED_HOSTS`
(Django's patterns: `example.com`, `.example.com` for it and its subdomains, `*` for any),
`INVENTREE_COOKIE_SECURE`. `req.scheme` is "https" when the gateway is served over HTTPS,
or behind a trusted proxy that says so (gateway/proxies.py).
"""
import re
from urllib.parse import urlsplit

from svckit import config

# Django's host_validation_re: a domain or a bracketed IPv6 address, and an optional port
_HOST = re.compile(r"^([a-z0-9.-]+|\[[a-f0-9]*:[a-f0-9.:]+\])(?::([0-9]+))?$")


def request_host(req) -> tuple[str, str] | None:
    """(host, port) of the `Host` header, lower-cased; None if it is not a valid host
    (falcon's `req.host` raises on some)."""
    match = _HOST.match((req.get_header("Host") or "").strip().lower())
    return (match.group(1), match.group(2) or "") if match else None


def site_url() -> str:
    return config.setting("INVENTREE_SITE_URL", "").strip().rstrip("/")


def trusted_origins(req) -> set[str]:
    """The request's own origin, the site URL and INVENTREE_TRUSTED_ORIGINS."""
    trusted = {f"{req.scheme}://{req.netloc}"}
    if site_url():
        trusted.add(site_url())
    trusted.update(o.strip().rstrip("/") for o in
                   config.setting("INVENTREE_TRUSTED_ORIGINS", "").split(",") if o.strip())
    return trusted


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL ("" if it has none)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def host_allowed(host: str) -> bool:
    """Django's ALLOWED_HOSTS matching against INVENTREE_ALLOWED_HOSTS (empty: none)."""
    host = (host or "").lower().rstrip(".")
    for pattern in config.setting("INVENTREE_ALLOWED_HOSTS", "").split(","):
        pattern = pattern.strip().lower()
        if not pattern:
            continue
        if pattern == "*" or host == pattern or (
                pattern.startswith(".") and (host.endswith(pattern) or host == pattern[1:])):
            return True
    return False


def link_base(req) -> str | None:
    """Where links in mails point: INVENTREE_SITE_URL, else the request's own address if its
    host is an allowed host; None when neither (the Host header is the client's to choose)."""
    if site_url():
        return site_url()
    host = request_host(req)
    if host is not None and host_allowed(host[0]):
        return f"{req.scheme}://{host[0]}" + (f":{host[1]}" if host[1] else "")
    return None


def secure_cookies(req) -> bool:
    return config.setting("INVENTREE_COOKIE_SECURE", False, bool) or req.scheme == "https"
