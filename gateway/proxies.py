"""Who the client is, believing `X-Forwarded-For` only from trusted proxies.

`GATEWAY_TRUSTED_PROXIES` lists addresses or CIDR networks (comma separated; `*` trusts any
peer). The same list is gunicorn's `forwarded_allow_ips` (gateway/gunicorn_conf.py), so
`X-Forwarded-Proto: https` makes `req.scheme` "https" only from those peers too.
"""
import ipaddress


def _networks(value: str) -> tuple | None:
    """The parsed list; "*" (any peer) as None."""
    items = [v.strip() for v in value.split(",") if v.strip()]
    if "*" in items:
        return None
    return tuple(ipaddress.ip_network(v, strict=False) for v in items)


def _ip(text: str):
    """An IP address, also written with a port (`192.0.2.1:4711`, `[2001:db8::1]:4711`, as
    some proxies do); None for anything else."""
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1:text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class TrustedProxies:
    """The proxies of a `GATEWAY_TRUSTED_PROXIES` value."""

    def __init__(self, setting: str):
        self._networks = _networks(setting)

    def is_trusted(self, address: str) -> bool:
        if self._networks is None:
            return True
        ip = _ip(address or "")
        return ip is not None and any(ip in net for net in self._networks)

    def client_address(self, req) -> str:
        """The socket peer; behind trusted proxies, the nearest address in `X-Forwarded-For`
        (read from the right) that is not itself a trusted proxy."""
        address = req.remote_addr or ""
        if not self.is_trusted(address):
            return address
        hops = [h.strip() for h in (req.get_header("X-Forwarded-For") or "").split(",")]
        for hop in reversed([h for h in hops if h]):
            if _ip(hop) is None:
                break  # garbage from further out: the last trusted hop is what we know
            address = str(_ip(hop))
            if not self.is_trusted(address):
                break
        return address
