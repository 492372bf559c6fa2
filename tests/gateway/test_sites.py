"""Where mailed links may point: the site URL, or an allowed host (Django's patterns)."""
import pytest
from falcon import testing

from gateway.settings import GatewaySettings
from gateway.sites import Site


@pytest.mark.parametrize("site, allowed, host, base", [
    ("", "", "evil.example", None),                                   # nothing configured
    ("https://inv.example.com/", "", "evil.example", "https://inv.example.com"),
    ("", "inv.example.com", "inv.example.com:8443", "http://inv.example.com:8443"),
    ("", "inv.example.com", "evil.example", None),
    ("", ".example.com", "shop.example.com", "http://shop.example.com"),
    ("", ".example.com", "example.com", "http://example.com"),
    ("", ".example.com", "evil-example.com", None),
    ("", "*", "anything.test", "http://anything.test"),
    ("", "127.0.0.1", "127.0.0.1:80@evil.example", None),             # not a valid Host
    ("", "127.0.0.1", "evil.example/x:127.0.0.1", None),
    ("", "*", "evil.example/path", None),
    ("", "[::1]", "[::1]:8000", "http://[::1]:8000"),
])
def test_link_base(site, allowed, host, base):
    settings = GatewaySettings(INVENTREE_SITE_URL=site, INVENTREE_ALLOWED_HOSTS=allowed)
    assert Site(settings).link_base(testing.create_req(headers={"Host": host})) == base
