"""Caller signatures without a broker: what is signed, staleness, rotation, keys."""
import hashlib
import hmac
import importlib
import inspect
import time
from types import SimpleNamespace

import pytest
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from nameko.rpc import Rpc

from svckit.context import Caller
from svckit.layout import service_names
from svckit.settings import BrokerSettings
from svckit.signed_rpc import SignedRpc, verified_caller
from svckit.signing import CallerSigner, load_keys, parse_keys, signer_from_env

OLD, NEW = "o" * 40, "n" * 40
ADMIN = Caller(user_id=1, username="admin", is_staff=True, is_superuser=True,
               request_id="req-1").model_dump_json()


def test_a_signature_verifies_for_its_caller_service_and_method_only():
    signer = CallerSigner([NEW])
    sig = signer.sign(ADMIN, "users", "create_user")
    assert signer.verify(ADMIN, sig, "users", "create_user") is None
    assert "does not match" in signer.verify(ADMIN, sig, "users", "delete_user")
    assert "does not match" in signer.verify(ADMIN, sig, "status", "create_user")
    other_request = ADMIN.replace("req-1", "req-2")
    assert "does not match" in signer.verify(other_request, sig, "users", "create_user")
    assert "does not match" in CallerSigner([OLD]).verify(ADMIN, sig, "users", "create_user")


def test_the_wire_format_is_the_documented_hmac():
    signature = CallerSigner([NEW]).sign(ADMIN, "users", "me", now=1700000000.7)
    version, issued, mac = signature.split(".")
    assert (version, issued) == ("v1", "1700000000")
    assert mac == hmac.new(NEW.encode(), f"v1\nusers.me\n1700000000\n{ADMIN}".encode(),
                           hashlib.sha256).hexdigest()


def test_unsigned_malformed_and_missing_contexts_are_refused():
    signer = CallerSigner([NEW])
    assert "not signed" in signer.verify(ADMIN, None, "users", "me")
    assert "no caller context" in signer.verify(None, "v1.1.ab", "users", "me")
    for bad in ("v1", "v2.1." + "0" * 64, "v1.x." + "0" * 64, "v1.1.abc", 7):
        assert signer.verify(ADMIN, bad, "users", "me"), bad


def test_a_stale_or_future_signature_is_refused_within_small_clock_skew():
    signer = CallerSigner([NEW], max_age=300)
    now = time.time()
    assert signer.verify(ADMIN, signer.sign(ADMIN, "s", "m", now - 299), "s", "m", now) is None
    assert "stale" in signer.verify(ADMIN, signer.sign(ADMIN, "s", "m", now - 301), "s", "m", now)
    assert signer.verify(ADMIN, signer.sign(ADMIN, "s", "m", now + 20), "s", "m", now) is None
    assert "future" in signer.verify(ADMIN, signer.sign(ADMIN, "s", "m", now + 60), "s", "m", now)


def test_rotation_the_first_key_signs_every_key_verifies():
    during = CallerSigner([NEW, OLD])
    assert during.verify(ADMIN, CallerSigner([OLD]).sign(ADMIN, "s", "m"), "s", "m") is None
    assert CallerSigner([NEW]).verify(ADMIN, during.sign(ADMIN, "s", "m"), "s", "m") is None


def keys_of(settings: BrokerSettings) -> list[str]:
    return parse_keys(settings.CALLER_SIGNING_KEYS, settings.data_dir())


def test_keys_from_the_environment_must_be_long(monkeypatch, tmp_path):
    monkeypatch.setenv("CALLER_SIGNING_KEYS", f" {NEW} , {OLD} ,")
    assert keys_of(BrokerSettings()) == [NEW, OLD]
    monkeypatch.setenv("CALLER_SIGNING_KEYS", f"{NEW},short")
    with pytest.raises(ValueError, match="at least 32"):
        BrokerSettings().caller_signer()


def test_without_keys_the_processes_of_a_data_dir_share_a_generated_key(monkeypatch, tmp_path):
    monkeypatch.delenv("CALLER_SIGNING_KEYS", raising=False)
    monkeypatch.setenv("INVENTREE_DATA_DIR", str(tmp_path))
    first = keys_of(BrokerSettings())
    assert len(first[0]) == 64 and (tmp_path / "caller-signing-key").stat().st_mode & 0o077 == 0
    assert keys_of(BrokerSettings()) == first == load_keys({"INVENTREE_DATA_DIR": str(tmp_path)})
    assert load_keys({"INVENTREE_DATA_DIR": str(tmp_path / "other")}) != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["caller-signing-key", "other"]
    assert signer_from_env({"INVENTREE_DATA_DIR": str(tmp_path),
                            "CALLER_SIGNATURE_MAX_AGE": "60"}).max_age == 60
    assert BrokerSettings(CALLER_SIGNATURE_MAX_AGE=60).caller_signer().max_age == 60


def test_every_rpc_entrypoint_of_every_service_checks_signatures():
    found = 0
    for name in service_names():
        service = importlib.import_module(f"services.{name}.service").Service
        for attr, method in inspect.getmembers(service, inspect.isfunction):
            for entrypoint in getattr(method, ENTRYPOINT_EXTENSIONS_ATTR, ()):
                if isinstance(entrypoint, Rpc):
                    assert isinstance(entrypoint, SignedRpc), f"{name}.{attr}"
                    found += 1
    assert found > 100


def test_callers_of_workers_that_are_not_signed_rpc_calls_are_anonymous():
    """An event's headers are nobody's word: a handler sees an anonymous caller."""
    worker = SimpleNamespace(entrypoint=object(), data={"caller": ADMIN})
    anonymous = verified_caller(worker)
    assert anonymous == Caller(request_id=anonymous.request_id)
    signed = SimpleNamespace(entrypoint=SignedRpc.__new__(SignedRpc), data={"caller": ADMIN})
    assert verified_caller(signed).is_superuser
