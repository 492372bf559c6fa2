"""The requests Session the OTLP span exporter posts with (svckit.tracing_setup): one that
reads what the environment says about its endpoint once, when it is made.

A plain Session reads it again for every request (`trust_env`): the proxy variables (all of
`os.environ` walked, `no_proxy` matched), the CA bundle variables and `~/.netrc` (a file
looked up), about 140 µs of an exporting thread's CPU per POST. The same settings apply:
the proxies `HTTP(S)_PROXY`/`ALL_PROXY`/`NO_PROXY` give the endpoint, `REQUESTS_CA_BUNDLE`
or `CURL_CA_BUNDLE` in place of the default CA certificates, the netrc login for its host;
read like every other setting, at start.
"""
import os

import requests
from requests.utils import get_environ_proxies, get_netrc_auth


class EnvironmentReadOnce(requests.Session):
    """A Session for `endpoint` with the environment's proxies, CA bundle and netrc login
    for it read now (and never again)."""

    def __init__(self, endpoint: str):
        super().__init__()
        self.proxies.update(get_environ_proxies(endpoint))
        self.auth = get_netrc_auth(endpoint)
        self.ca_bundle = (os.environ.get("REQUESTS_CA_BUNDLE")
                          or os.environ.get("CURL_CA_BUNDLE"))
        self.trust_env = False

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        """As requests' with `trust_env`, from what was read at start: a request's own
        `verify` left unset or True means the environment's CA bundle, when it names one."""
        if self.ca_bundle and (verify is True or verify is None):
            verify = self.ca_bundle
        return super().merge_environment_settings(url, proxies, stream, verify, cert)
