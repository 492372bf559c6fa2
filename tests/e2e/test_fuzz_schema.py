"""schemathesis over every served operation of gateway/openapi.json (coverage and fuzzing
phases, seeded, bounded), once as a plain user and once as the superuser, against a stack of
its own: not one server error (issue 15 §2). A longer run: bench/fuzz.py."""
import subprocess
import sys

import pytest
import requests

from tests.e2e import fuzz
from tests.e2e.conftest import ADMIN, own_vhost, running_stack

SEED = 264
MAX_EXAMPLES = 5  # per operation in the fuzzing phase; the coverage phase adds its own cases


@pytest.fixture(scope="module")
def fuzz_stack(rates_server, smtp, tmp_path_factory):
    # a slow answer on a busy machine must not become a 503 (RPC) or a client timeout, and
    # fuzzed logins must not lock the fuzzing accounts out; a live-feed answer
    # (`/api/events/stream/`) ends at once instead of holding the fuzzer for an hour, and
    # the listener cap (a 503, which the fuzzer counts as a server error) is out of reach
    with own_vhost() as vhost, running_stack(tmp_path_factory.mktemp("fuzz"), vhost,
                                             rates_server, smtp, RPC_TIMEOUT="20",
                                             LOGIN_THROTTLE_ATTEMPTS="100000",
                                             EVENTS_STREAM_MAX_SECONDS="0.2",
                                             GATEWAY_THREADS="12",
                                             EVENTS_STREAM_MAX_LISTENERS="11") as s:
        token = requests.get(f"{s.url}/api/user/token/", auth=ADMIN, timeout=10).json()["token"]
        password = "Quartz-Lamp-4711"
        r = requests.post(f"{s.url}/api/user/", headers={"Authorization": f"Token {token}"},
                          json={"username": "fuzzplain", "first_name": "", "last_name": "",
                                "email": "", "password": password}, timeout=10)
        assert r.status_code == 201, r.text
        fuzz.seed_objects(s.url, token)
        s.plain = ("fuzzplain", password)
        yield s


def check(result: fuzz.FuzzResult):
    assert result.report.get("complete"), result.output[-3000:]
    assert result.untried() == set(), result.output[-3000:]  # every served operation
    assert not result.failures, "\n".join(result.failures)
    assert result.exit_code == 0, result.output[-3000:]
    assert result.cases > 1000


@pytest.mark.cost(60)  # tests/shards.py: a minute or more each
def test_no_server_error_as_a_plain_user(fuzz_stack):
    # first: the superuser's run may change or delete the plain user
    check(fuzz.run(fuzz_stack.url, fuzz_stack.plain, seed=SEED, max_examples=MAX_EXAMPLES))


@pytest.mark.cost(60)  # tests/shards.py: a minute or more each
def test_no_server_error_as_the_superuser(fuzz_stack):
    check(fuzz.run(fuzz_stack.url, ADMIN, seed=SEED, max_examples=MAX_EXAMPLES))


def test_the_fuzzer_parses_source_one_thread_at_a_time():
    """Two workers parsing at once crashed the superuser's run with CPython 3.11's "AST
    constructor recursion depth mismatch"; the hooks serialise `ast.parse` (checked in a
    process of its own: schemathesis must not be imported before eventlet patches ssl)."""
    probe = ("import ast\n"
             "import tests.e2e.fuzz_hooks as hooks\n"
             "seen = []\n"
             "hooks._parse = lambda *a, **k: seen.append(hooks._parse_lock.locked())\n"
             "ast.parse('x = 1')\n"
             "assert seen == [True], seen\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=fuzz.ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
