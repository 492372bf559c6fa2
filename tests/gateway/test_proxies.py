"""The client's address behind proxies: X-Forwarded-For only from trusted peers."""
import pytest
from falcon import testing

from gateway.proxies import TrustedProxies


def request(peer, forwarded=None):
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    return testing.create_req(remote_addr=peer, headers=headers)


@pytest.mark.parametrize("trusted, peer, forwarded, client", [
    ("127.0.0.1,::1", "127.0.0.1", "203.0.113.9", "203.0.113.9"),      # the local proxy says
    ("127.0.0.1,::1", "198.51.100.4", "203.0.113.9", "198.51.100.4"),  # a stranger's claim
    ("127.0.0.1,::1", "127.0.0.1", None, "127.0.0.1"),
    ("10.0.0.0/8", "10.1.2.3", "203.0.113.9, 10.9.9.9", "203.0.113.9"),  # proxies in a row
    ("10.0.0.0/8", "10.1.2.3", "1.1.1.1, 203.0.113.9", "203.0.113.9"),  # spoofed left part
    ("10.0.0.0/8", "10.1.2.3", "not-an-address", "10.1.2.3"),
    ("", "127.0.0.1", "203.0.113.9", "127.0.0.1"),                      # none trusted
    ("*", "198.51.100.4", "203.0.113.9", "203.0.113.9"),
    ("::1", "::1", "2001:db8::5", "2001:db8::5"),
    ("127.0.0.1", "127.0.0.1", "203.0.113.9:4711", "203.0.113.9"),       # with a port
    ("127.0.0.1", "127.0.0.1", "[2001:db8::5]:4711", "2001:db8::5"),
])
def test_client_address(trusted, peer, forwarded, client):
    assert TrustedProxies(trusted).client_address(request(peer, forwarded)) == client
