"""URL validation with the rules of Django's URLValidator (which InvenTree's URL fields use)."""
import ipaddress
import re

_UL = "\u00a1-\uffff"
_HOST = rf"[a-z{_UL}0-9](?:[a-z{_UL}0-9-]{{0,61}}[a-z{_UL}0-9])?"
_DOMAIN = rf"(?:\.(?!-)[a-z{_UL}0-9-]{{1,63}}(?<!-))*"
_TLD = rf"\.(?!-)(?:[a-z{_UL}-]{{2,63}}|xn--[a-z0-9]{{1,59}})(?<!-)\.?"
_URL = re.compile(
    r"^(?P<scheme>[a-z0-9.+-]*)://"
    r"(?:[^\s:@/]+(?::[^\s:@/]*)?@)?"
    rf"(?P<host>\d{{1,3}}(?:\.\d{{1,3}}){{3}}|\[[0-9a-f:.]+\]|{_HOST}{_DOMAIN}{_TLD}|localhost)"
    r"(?::(?P<port>[0-9]{1,5}))?"
    r"(?:[/?#][^\s]*)?\Z", re.IGNORECASE)

INVALID = "Enter a valid URL."


def check_url(value: str, schemes=("http", "https", "ftp", "ftps"),
              require_scheme: bool = True) -> str:
    """`value` if it is a valid URL with one of `schemes`; a scheme-less value is read as
    http:// when `require_scheme` is off (InvenTree's INVENTREE_STRICT_URLS). Raises
    ValueError("Enter a valid URL.") otherwise."""
    if not isinstance(value, str) or len(value) > 2048:
        raise ValueError(INVALID)
    candidate = value if "://" in value or require_scheme else f"http://{value}"
    match = _URL.match(candidate)
    if not match or match["scheme"].lower() not in schemes:
        raise ValueError(INVALID)
    host = match["host"]
    if host[0].isdigit() and host.replace(".", "").isdigit():
        _ip(host)
    elif host.startswith("["):
        _ip(host[1:-1], version=6)
    if match["port"] and int(match["port"]) > 65535:
        raise ValueError(INVALID)
    return value


def _ip(text: str, version: int = 4):
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(INVALID)
    if address.version != version:
        raise ValueError(INVALID)
