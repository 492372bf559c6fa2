"""The site's own addresses: which origins a browser may post from, which hosts mailed links
may point at, and whether cookies must be `Secure`.

Settings: `INVENTREE_SITE_URL`, `INVENTREE_TRUSTED_ORIGINS`, `INVENTREE_ALLOWED_HOSTS`
(Django's patterns: `example.com`, `.example.com` for it and its subdomains, `*` for any),
`INVENTREE_COOKIE_SECURE`. `req.scheme` is "https" when the gateway is served over HTTPS,
or behind a trusted proxy that says so (gateway/proxies.py).
"""
from urllib.parse import urlsplit

from svckit import config


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
    if host_allowed(req.host):
        return f"{req.scheme}://{req.netloc}"
    return None


def secure_cookies(req) -> bool:
    return config.setting("INVENTREE_COOKIE_SECURE", False, bool) or req.scheme == "https"
