"""Signed caller contexts: the broker is a trust boundary.

Whoever sends an RPC (the gateway, a service calling another, a probe) signs the caller
context it puts in the message headers; a service runs a call only if the signature is
valid, was made for that service and method, and is fresh. Anyone who can publish to
RabbitMQ but does not hold a key cannot make a service act as anybody.

On the wire, beside `nameko.caller` (the caller's JSON, which carries the request id):

    nameko.caller_sig = "v1.<issued-at, unix seconds>.<hex HMAC-SHA256>"

the HMAC taken over "v1\\n<service>.<method>\\n<issued-at>\\n<caller JSON>", with the exact
bytes of the caller header (what is verified is what is parsed).

Keys: `CALLER_SIGNING_KEYS`, comma separated; the first signs, every one verifies (so a key
can be rotated without downtime). Without it, one key is generated into the data directory
(`caller-signing-key`), which every process of a local stack shares.
"""
import hashlib
import hmac
import time
from collections.abc import Mapping
from pathlib import Path

from svckit.layout import ROOT
from svckit.secretfile import shared_secret

CALLER_HEADER = "nameko.caller"
SIGNATURE_HEADER = "nameko.caller_sig"
VERSION = "v1"
MIN_KEY_CHARS = 32
CLOCK_SKEW_SECONDS = 30  # a signature may come from a clock this far ahead of ours
KEY_FILE = "caller-signing-key"


class CallerSigner:
    """Signs and verifies caller contexts with a list of keys (the first one signs)."""

    def __init__(self, keys, max_age: float = 300.0):
        # one keyed HMAC per key, copied per message (saves hashing the key every time)
        self._keys = [hmac.new(k.encode() if isinstance(k, str) else bytes(k),
                               digestmod=hashlib.sha256) for k in keys]
        if not self._keys:
            raise ValueError("a caller signer needs at least one key")
        self.max_age = max_age

    @staticmethod
    def _mac(key, caller_json: str, service: str, method: str, issued: str) -> str:
        mac = key.copy()
        mac.update(f"{VERSION}\n{service}.{method}\n{issued}\n{caller_json}".encode())
        return mac.hexdigest()

    def sign(self, caller_json: str, service: str, method: str, now: float | None = None) -> str:
        """The signature header of `caller_json` for a call of `service.method`."""
        issued = str(int(time.time() if now is None else now))
        mac = self._mac(self._keys[0], caller_json, service, method, issued)
        return f"{VERSION}.{issued}.{mac}"

    def verify(self, caller_json, signature, service: str, method: str,
               now: float | None = None) -> str | None:
        """None if `signature` is a valid, fresh signature of `caller_json` for
        `service.method`; otherwise why not."""
        if not isinstance(caller_json, str) or not caller_json:
            return "the call carries no caller context"
        if not isinstance(signature, str) or not signature:
            return "the caller context is not signed"
        version, _, rest = signature.partition(".")
        issued, _, mac = rest.partition(".")
        if version != VERSION or not issued.isdigit() or len(mac) != 64:
            return "the caller signature is malformed"
        if not any(hmac.compare_digest(mac, self._mac(key, caller_json, service, method, issued))
                   for key in self._keys):
            return "the caller signature does not match"
        age = (time.time() if now is None else now) - int(issued)
        if age > self.max_age:
            return f"the caller context is stale (signed {int(age)} s ago)"
        if age < -CLOCK_SKEW_SECONDS:
            return "the caller context is signed in the future"
        return None


def _generated_key(data_dir: Path) -> str:
    """The key in `data_dir/caller-signing-key`, created once."""
    return shared_secret(data_dir / KEY_FILE)


def load_keys(env: Mapping[str, str]) -> list[str]:
    """The signing keys of the processes a stack starts with environment `env` (its
    `CALLER_SIGNING_KEYS`, else the key generated into its data directory). A process's
    own keys come from its settings (svckit.settings.BrokerSettings.caller_signer)."""
    data_dir = Path(env.get("INVENTREE_DATA_DIR") or ROOT / "var")
    data_dir = data_dir if data_dir.is_absolute() else ROOT / data_dir  # a stack's cwd
    return parse_keys(env.get("CALLER_SIGNING_KEYS", ""), data_dir)


def parse_keys(raw: str, data_dir: Path) -> list[str]:
    """The keys of a `CALLER_SIGNING_KEYS` value (comma separated, each at least
    MIN_KEY_CHARS long); none: the one generated into `data_dir`."""
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    if not keys:
        return [_generated_key(data_dir)]
    if any(len(k) < MIN_KEY_CHARS for k in keys):
        raise ValueError(f"CALLER_SIGNING_KEYS: every key needs at least {MIN_KEY_CHARS} "
                         "characters")
    return keys


def signer_from_env(env: Mapping[str, str]) -> CallerSigner:
    """The signer of the processes a stack starts with environment `env`."""
    return CallerSigner(load_keys(env), float(env.get("CALLER_SIGNATURE_MAX_AGE") or 300.0))
