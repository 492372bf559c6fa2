"""Readiness/liveness probe: `python -m svckit.probe <name>` exits 0 if the service answers
an RPC round trip in time, 1 otherwise."""
import sys

from svckit.rpc_client import RpcClient
from svckit.settings import BrokerSettings


class ProbeSettings(BrokerSettings):
    """What `svckit.probe` reads."""

    PROBE_TIMEOUT: float = 5.0


def main(argv=None):
    argv = argv if argv is not None else sys.argv[1:]
    name = argv[0]
    settings = ProbeSettings()
    client = RpcClient(settings.AMQP_URI, settings.PROBE_TIMEOUT, settings.caller_signer())
    try:
        ok = client.call(name, "ping", strict_deadline=True) == "pong"
    except Exception as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        ok = False
    finally:
        client.close()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
