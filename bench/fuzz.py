"""A longer schemathesis run than the one in `make test` (tests/e2e/test_fuzz_schema.py):
every operation of gateway/openapi.json, coverage and fuzzing phases, `not_a_server_error`,
as a plain user and then as the superuser, against a stack of its own (port 8120, its own
RabbitMQ vhost, a loopback exchange-rate server). Reports the cases tried per operation,
the status codes seen and every server error, in bench/results/fuzz-<date>.md; exits 1 if
there was any server error.

    .venv/bin/python bench/fuzz.py [--max-examples 100] [--seed 264] [--workers 2]
"""
import argparse
import sys
from collections import Counter

import requests

from common import ADMIN, ROOT, bench_stack, write_report

sys.path.insert(0, str(ROOT))
from tests.e2e import fuzz  # noqa: E402
from tests.ratesserver import RatesServer  # noqa: E402

PLAIN = ("fuzzplain", "Quartz-Lamp-4711")


def make_plain_user(url: str, token: str):
    r = requests.post(f"{url}/api/user/", headers={"Authorization": f"Token {token}"},
                      json={"username": PLAIN[0], "password": PLAIN[1], "first_name": "",
                            "last_name": "", "email": ""}, timeout=30)
    r.raise_for_status()


def report_lines(args, runs: dict) -> list[str]:
    lines = [f"# Fuzzing the gateway with schemathesis (seed {args.seed}, "
             f"max {args.max_examples} examples per operation and phase, "
             f"{args.workers} workers)", ""]
    served = fuzz.served_operations()
    operations = sorted({op for result in runs.values() for op in result.stats})
    lines += ["| account | cases | served operations tried | server errors | time (s) |",
              "| --- | --- | --- | --- | --- |"]
    for account, result in runs.items():
        tried = len(served & set(result.stats))
        lines.append(f"| {account} | {result.cases} | {tried} of {len(served)} | "
                     f"{len(result.failures)} | {result.report.get('running_time', 0):.0f} |")
    lines += ["", "Cases per operation, both accounts (methods the schema does not list are "
              "the coverage phase's unsupported-method checks, marked *):", "",
              "| operation | " + " | ".join(runs) + " | status codes |",
              "| --- | " + " | ".join("---" for _ in runs) + " | --- |"]
    for op in operations:
        codes = Counter()
        for result in runs.values():
            codes.update(result.stats.get(op, {}))
        counts = " | ".join(str(sum(r.stats.get(op, {}).values())) for r in runs.values())
        seen = ", ".join(f"{c}: {n}" for c, n in sorted(codes.items()))
        mark = "" if op in served else " *"
        lines.append(f"| `{op}`{mark} | {counts} | {seen} |")
    lines += ["", "Server errors:", ""]
    failures = [f"- {account}: {line}" for account, r in runs.items() for line in r.failures]
    lines += failures or ["none"]
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=264)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rates = RatesServer()
    env = {"CURRENCY_API_URL": rates.url, "LOGIN_THROTTLE_ATTEMPTS": "100000",
           "PASSWORD_ITERATIONS": "1000", "RPC_TIMEOUT": "5"}
    runs = {}
    try:
        with bench_stack("fuzz", 8120, env, wrk=False) as (stack, token, _):
            make_plain_user(stack.url, token)
            fuzz.seed_objects(stack.url, token)
            for account, credentials in (("plain user", PLAIN), ("superuser", ADMIN)):
                print(f"fuzzing as {account} ...", flush=True)
                runs[account] = fuzz.run(stack.url, credentials, seed=args.seed,
                                         max_examples=args.max_examples,
                                         workers=args.workers, timeout=7200)
    finally:
        rates.close()
    write_report("fuzz", report_lines(args, runs))
    sys.exit(1 if any(r.failures or r.exit_code for r in runs.values()) else 0)


if __name__ == "__main__":
    main()
