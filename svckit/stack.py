"""Starts and stops the whole system as local processes: every service and the gateway
(more replicas of a service, and more gateway instances, when asked).

Used by `make run` (scripts/run_stack.py), by the end-to-end tests, which run their own
stack on another port, vhost and data directory, and by svckit.cluster (`make cluster`).
Without `CALLER_SIGNING_KEYS`, the processes of a stack share the caller signing key
generated into its data directory.
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from svckit import children
from svckit.layout import ROOT, service_names
from svckit.signing import signer_from_env


def readiness_of(url: str, timeout: float = 10.0) -> tuple[bool, str]:
    """(ready, why not) from `GET <url>/readyz` of a gateway or an operations port: ready is
    a 200 whose status is "ready" (a gateway answers 200 "degraded", with each service's
    state, while a service is not ready: it could serve the others, see gateway/health.py)."""
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=timeout) as answer:
            body = answer.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return False, exc.read().decode(errors="replace")[:500]
    except OSError as exc:
        return False, str(exc)
    try:
        ready = json.loads(body).get("status") == "ready"
    except (ValueError, AttributeError):
        ready = False
    return ready, "" if ready else body[:500]


class Stack:
    def __init__(self, env: dict | None = None, bind: str = "127.0.0.1:8000", log=None,
                 replicas: dict | None = None, process_env: dict | None = None,
                 gateway_binds: list[str] | None = None):
        """`replicas`: processes per service (default 1); `gateway_binds`: one gateway
        instance per address, named `gateway-<i>` (default: one, `gateway`, on `bind`)."""
        self.env = {**os.environ, **(env or {}), "GATEWAY_BIND": bind,
                    "PYTHONPATH": str(ROOT)}
        self.bind = bind
        binds = gateway_binds or [bind]
        self.gateway_binds = ({"gateway": binds[0]} if len(binds) == 1 else
                              {f"gateway-{i}": b for i, b in enumerate(binds)})
        self.log = log  # file object for the children's output (None: inherit)
        self.replicas = replicas or {}
        # "gateway" or a service -> settings of its own (e.g. its own AMQP_URI)
        self.process_env = process_env or {}
        self.procs: dict[str, subprocess.Popen] = {}
        self.commands: dict[str, list[str]] = {}

    @property
    def url(self) -> str:
        return f"http://{self.bind}"

    def _spawn(self, name: str):
        own = self.process_env.get(name if name == "gateway" else name.rsplit("-", 1)[0], {})
        if name in self.gateway_binds:
            own = {**own, "GATEWAY_BIND": self.gateway_binds[name]}
        self.procs[name] = children.spawn(self.commands[name], {**self.env, **own}, self.log)

    def run_tool(self, *args) -> str:
        out = subprocess.run([sys.executable, *args], env=self.env, cwd=ROOT,
                             check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def start(self, wait: float = 60.0):
        signer_from_env(self.env)  # generates the shared key, if none is configured
        for svc in service_names():
            for i in range(self.replicas.get(svc, 1)):
                self.commands[f"{svc}-{i}"] = [sys.executable, "-m", "svckit.run", svc]
        for name in self.gateway_binds:
            self.commands[name] = [sys.executable, "-m", "gunicorn", "-c",
                                   "gateway/gunicorn_conf.py", "gateway.wsgi:app"]
        for name in self.commands:
            self._spawn(name)
        self.wait_ready(wait)

    def wait_ready(self, wait: float):
        """Until every gateway answers `GET /readyz` with 200 "ready": it is connected to the
        broker and every service answered that it is ready (gateway/health.py)."""
        deadline = time.monotonic() + wait
        pending = dict.fromkeys(self.gateway_binds.values(), "no answer yet")
        while time.monotonic() < deadline:
            self.check_alive()
            for bind in list(pending):
                ready, why = readiness_of(f"http://{bind}")
                if ready:
                    del pending[bind]
                else:
                    pending[bind] = why
            if not pending:
                return
            time.sleep(0.2)
        raise RuntimeError(f"stack not ready after {wait}s: {pending}")

    def check_alive(self):
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {proc.returncode}")

    def restart_dead(self) -> list[str]:
        restarted = []
        for name, proc in list(self.procs.items()):
            if proc.poll() is not None:
                self._spawn(name)
                restarted.append(name)
        return restarted

    def kill(self, name: str, sig=signal.SIGKILL):
        self.procs[name].send_signal(sig)
        self.procs[name].wait()

    def kill_group(self, name: str):
        """SIGKILL to `name` and everything it started (a pod dying: `kill -9`)."""
        children.kill(self.procs[name])

    def names(self, service: str) -> list[str]:
        """The processes of `service` ("gateway" for the gateway instances), in order."""
        if service == "gateway":
            return list(self.gateway_binds)
        return [n for n in list(self.procs) if n.rsplit("-", 1)[0] == service]

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.procs.items()}

    def add_replica(self, service: str) -> str:
        """Start one more process of `service` (a rollout's surge pod); its name."""
        taken = {int(n.rsplit("-", 1)[1]) for n in list(self.commands)
                 if n.rsplit("-", 1)[0] == service}
        name = f"{service}-{max(taken, default=-1) + 1}"
        self.commands[name] = [sys.executable, "-m", "svckit.run", service]
        self._spawn(name)
        return name

    def start_one(self, name: str):
        """Start `name` again (its command as before)."""
        self._spawn(name)

    def terminate(self, name: str, timeout: float = 30.0, forget: bool = False) -> float:
        """SIGTERM to `name`'s process group, as Kubernetes stops a pod; the seconds it took
        to exit. Killed after `timeout` (RuntimeError). `forget`: drop it from the stack
        (a replaced replica)."""
        proc = self.procs.pop(name) if forget else self.procs[name]
        if forget:
            del self.commands[name]
        started = time.monotonic()
        children.signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            children.kill(proc)
            raise RuntimeError(f"{name} did not exit within {timeout:g} s of SIGTERM") from None
        return time.monotonic() - started

    def stop(self, timeout: float = 15.0):
        children.stop(self.procs.values(), timeout=timeout)
