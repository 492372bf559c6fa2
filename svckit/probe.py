"""Readiness/liveness probe: `python -m svckit.probe <name>` exits 0 if the service answers
an RPC round trip in time, 1 otherwise."""
import sys

from svckit import config
from svckit.rpc_client import RpcClient


def main(argv=None):
    argv = argv if argv is not None else sys.argv[1:]
    name = argv[0]
    client = RpcClient(config.amqp_uri(), config.setting("PROBE_TIMEOUT", 5.0, float))
    try:
        ok = client.call(name, "ping") == "pong"
    except Exception as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        ok = False
    finally:
        client.close()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
