"""svckit.otlp_session: the exporter's Session applies the environment's proxies, CA bundle
and netrc login as requests' own Session does, read once."""
import requests

from svckit.otlp_session import EnvironmentReadOnce

URL = "http://collector.example:4318/v1/traces"


def settings_of(session: requests.Session, url: str = URL) -> dict:
    request = session.prepare_request(requests.Request("POST", url, data=b"x"))
    merged = session.merge_environment_settings(request.url, {}, None, None, None)
    return {**merged, "authorization": request.headers.get("Authorization")}


def test_the_environment_s_settings_apply_as_requests_applies_them(monkeypatch, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine collector.example login otel password secret\n")
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "elsewhere.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
    ours = settings_of(EnvironmentReadOnce(URL))
    assert ours == settings_of(requests.Session())
    assert ours["proxies"]["http"] == "http://proxy.example:3128"
    assert ours["verify"] == str(tmp_path / "ca.pem")
    assert ours["authorization"].startswith("Basic ")


def test_the_environment_is_read_when_the_session_is_made_only(monkeypatch):
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "REQUESTS_CA_BUNDLE",
                 "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", "/nonexistent")
    session = EnvironmentReadOnce(URL)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/elsewhere/ca.pem")
    ours = settings_of(session)
    assert ours["proxies"] == {} and ours["verify"] is True and ours["authorization"] is None


def test_no_proxy_keeps_the_endpoint_direct(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "collector.example")
    assert settings_of(EnvironmentReadOnce(URL))["proxies"] == {}
