"""schemathesis hooks for fuzzing the gateway (loaded through `SCHEMATHESIS_HOOKS`).

Configured by environment variables set by `tests/e2e/fuzz.py`:
`FUZZ_URL`, `FUZZ_USERNAME`, `FUZZ_PASSWORD` (the account the run acts as) and
`FUZZ_STATS` (a JSON file: responses per operation and status code, written at exit).

- Authentication: the account's API token, fetched with HTTP basic auth and fetched again
  after a 401 (a fuzzed logout or token delete revokes it).
- `{id}` paths are often one of the seeded objects (1-3), not only random numbers.
- The acting account stays usable: writes to it (`/api/user/me/`, `/api/auth/user/`,
  `/api/user/<its pk>/`) lose the keys that would lock it out (password, username,
  active/staff/superuser flags), and deleting it is not tried.
- `ast.parse` is serialised: Hypothesis parses source to describe lambdas while it builds
  strategies, and CPython 3.11's AST conversion keeps its recursion depth in per-interpreter
  state, so two workers parsing at once can fail with "SystemError: AST constructor
  recursion depth mismatch" (CPython gh-106905), a runtime error of the fuzzer that is no
  answer of the server.
"""
import ast
import atexit
import json
import os
import threading
from collections import Counter, defaultdict

import requests
import schemathesis
from hypothesis import strategies as st

URL = os.environ.get("FUZZ_URL", "")
CREDENTIALS = (os.environ.get("FUZZ_USERNAME", ""), os.environ.get("FUZZ_PASSWORD", ""))
STATS_PATH = os.environ.get("FUZZ_STATS", "")
PROTECTED_KEYS = ("password", "username", "is_active", "is_staff", "is_superuser")
SELF_PATHS = ("/api/user/me/", "/api/auth/user/")

_parse = ast.parse
_parse_lock = threading.Lock()


def _serial_parse(*args, **kwargs):
    with _parse_lock:
        return _parse(*args, **kwargs)


ast.parse = _serial_parse

_stats: dict[str, Counter] = defaultdict(Counter)
_lock = threading.Lock()
_me: dict = {}


def _my_pk() -> int | None:
    if "pk" not in _me:
        r = requests.get(f"{URL}/api/user/me/", auth=CREDENTIALS, timeout=30)
        _me["pk"] = r.json().get("pk") if r.status_code == 200 else None
    return _me["pk"]


@schemathesis.auth()
class TokenAuth:
    def get(self, case, context):
        r = requests.get(f"{URL}/api/user/token/", auth=CREDENTIALS, timeout=30)
        r.raise_for_status()
        return r.json()["token"]

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Token {data}"


def _targets_me(case) -> bool:
    path = case.operation.path
    if path in SELF_PATHS:
        return True
    if path == "/api/user/{id}/":
        return str(case.path_parameters.get("id")) == str(_my_pk())
    return False


@schemathesis.hook
def before_load_schema(context, raw_schema):
    """`DELETE /api/user/me/` would delete the acting account: not tried."""
    raw_schema["paths"].get("/api/user/me/", {}).pop("delete", None)


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    if not isinstance(path_parameters, dict) or "id" not in path_parameters:
        return st.just(path_parameters)
    return st.one_of(st.just(path_parameters), st.sampled_from([1, 2, 3]).map(
        lambda pk: {**path_parameters, "id": pk}))


@schemathesis.hook
def filter_case(context, case):
    return not (case.method.upper() == "DELETE" and _targets_me(case))


@schemathesis.hook
def map_case(context, case):
    if case.method.upper() in ("PUT", "PATCH") and _targets_me(case) \
            and isinstance(case.body, dict):
        case.body = {k: v for k, v in case.body.items() if k not in PROTECTED_KEYS}
    return case


@schemathesis.hook
def after_call(context, case, response):
    with _lock:
        _stats[f"{case.method.upper()} {case.operation.path}"][str(response.status_code)] += 1


@atexit.register
def _write_stats():
    if STATS_PATH:
        with open(STATS_PATH, "w") as f:
            json.dump({op: dict(codes) for op, codes in sorted(_stats.items())}, f, indent=1)
