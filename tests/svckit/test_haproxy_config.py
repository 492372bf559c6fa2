"""The load balancer's generated configuration: valid for HAProxy, and adding the gateway's
own security headers to the answers HAProxy writes itself."""
import shutil
import subprocess

import pytest

from gateway.headers import SECURITY_HEADERS as GATEWAY_HEADERS
from svckit.cluster.haproxy import SECURITY_HEADERS, LoadBalancer


def test_the_load_balancer_adds_the_gateways_security_headers():
    assert SECURITY_HEADERS == GATEWAY_HEADERS


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="HAProxy is not installed")
def test_generated_configuration_is_valid(tmp_path):
    lb = LoadBalancer(tmp_path, "127.0.0.1:18000",
                      {"gateway-0": "127.0.0.1:18001", "gateway-1": "127.0.0.1:18002"})
    lb.write_config()
    text = lb.config.read_text()
    for name, _ in GATEWAY_HEADERS:
        assert f"http-after-response set-header {name} " in text
    head, body = (tmp_path / "400.http").read_bytes().decode().split("\r\n\r\n")
    assert head.startswith("HTTP/1.1 400 Bad Request\r\n") and body == '{"detail": "Bad request"}'
    for name, value in GATEWAY_HEADERS:
        assert f"\r\n{name}: {value}" in head
    checked = subprocess.run(["haproxy", "-c", "-f", str(lb.config)], capture_output=True,
                             text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
