"""Runs schemathesis (its CLI, in a process of its own) over every operation of
gateway/openapi.json against a running stack, as one account, checking only
`not_a_server_error`; used by tests/e2e/test_fuzz_schema.py and bench/fuzz.py.

The hooks (tests/e2e/fuzz_hooks.py) authenticate with the account's token and keep the
account usable; `seed_objects` gives the `{id}` paths something to find."""
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "gateway" / "openapi.json"
HOOKS = Path(__file__).with_name("fuzz_hooks.py")
# served operations the hooks leave out: deleting the acting account would end the run
NOT_TRIED = {"DELETE /api/user/me/"}


def served_operations() -> set[str]:
    """`METHOD /path` of every operation gateway/openapi.json lists."""
    paths = json.loads(SCHEMA.read_text())["paths"]
    return {f"{method.upper()} {path}" for path, methods in paths.items()
            for method in methods if method in ("get", "post", "put", "patch", "delete")}


@dataclass
class FuzzResult:
    exit_code: int
    report: dict  # schemathesis' JSON report
    stats: dict  # {"METHOD /path": {"<status>": count}}
    output: str
    failures: list = field(default_factory=list)  # one line per server error

    @property
    def cases(self) -> int:
        return sum(sum(codes.values()) for codes in self.stats.values())

    def untried(self) -> set[str]:
        """Served operations (but NOT_TRIED) that got no case at all."""
        return served_operations() - NOT_TRIED - set(self.stats)


def run(url: str, credentials: tuple[str, str], *, seed: int, max_examples: int,
        phases: str = "coverage,fuzzing", workers: int = 2, timeout: float = 900,
        extra_args=()) -> FuzzResult:
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        report_path, stats_path = Path(tmp) / "report.json", Path(tmp) / "stats.json"
        env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS), "FUZZ_URL": url,
               "FUZZ_USERNAME": credentials[0], "FUZZ_PASSWORD": credentials[1],
               "FUZZ_STATS": str(stats_path), "NO_COLOR": "1"}
        command = [sys.executable, "-m", "schemathesis.cli", "run", str(SCHEMA), "--url", url,
                   "--phases", phases, "--checks", "not_a_server_error",
                   "--max-examples", str(max_examples), "--seed", str(seed),
                   "--workers", str(workers), "--no-shrink", "--continue-on-failure",
                   "--request-timeout", "90", "--suppress-health-check", "all",
                   "--report", "json", "--report-json-path", str(report_path), *extra_args]
        done = subprocess.run(command, env=env, cwd=tmp, capture_output=True, text=True,
                              timeout=timeout)
        report = json.loads(report_path.read_text()) if report_path.exists() else {}
        stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    output = done.stdout + done.stderr
    return FuzzResult(done.returncode, report, stats, output, _failures(output))


def _failures(output: str) -> list[str]:
    """`<operation>: <status> <body>` for each failure printed by schemathesis."""
    found, operation = [], None
    lines = output.splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip("_ ").strip()
        if line.startswith("___") and stripped.split(" ")[0] in (
                "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            operation = stripped
        elif line.startswith("[5") and operation:
            body = next((x.strip() for x in lines[i + 1:i + 4] if x.strip()), "")
            found.append(f"{operation}: {line.strip()} {body[:300]}")
    return found


def seed_objects(url: str, token: str):
    """A few objects of each kind, so that `{id}` paths (the coverage phase tries small ids)
    reach the services' logic and not only their 404."""
    s = requests.Session()
    s.headers["Authorization"] = f"Token {token}"
    for n in range(3):
        s.post(f"{url}/api/project-code/", json={"code": f"FUZZ{n}", "description": "seed"},
               timeout=30)
        s.post(f"{url}/api/units/", json={"name": f"fuzzunit{n}", "definition": "m",
                                          "symbol": f"fu{n}"}, timeout=30)
        s.post(f"{url}/api/attachment/", data={"model_type": "part", "model_id": "1"},
               files={"attachment": (f"seed{n}.txt", b"seed")}, timeout=30)
        s.post(f"{url}/api/attachment/", json={"model_type": "part", "model_id": 1,
                                               "link": "https://example.com/x"}, timeout=30)
        session = s.post(f"{url}/api/importer/session/", data={"model_type": "projectcode"},
                         files={"data_file": ("codes.csv", b"Code,Description\nIMP1,one\n")},
                         timeout=60).json()
        if "pk" in session:
            s.post(f"{url}/api/importer/session/{session['pk']}/accept_fields/", timeout=60)
    content_types = s.get(f"{url}/api/contenttype/", timeout=30).json()
    model = next((t["pk"] for t in content_types if t.get("model") == "stockitem"), 1)
    for n in range(3):
        s.post(f"{url}/api/generic/status/custom/", json={
            "key": 100 + n, "logical_key": 10, "name": f"FUZZ{n}", "label": f"Fuzz {n}",
            "model": model, "reference_status": "StockStatus"}, timeout=30)
