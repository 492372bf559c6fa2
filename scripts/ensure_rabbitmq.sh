#!/usr/bin/env bash
# Make sure RabbitMQ answers on AMQP_URI. For a broker on this machine: start it if it is
# installed but stopped, install it from Debian's packages if missing (bound to 127.0.0.1),
# enable the management plugin (the tests create their own vhosts through it) and set the
# message TTL policy on RPC queues (a request nobody consumed in time is dropped, not run late;
# their dead-letter queues rpc-<service>.dead keep what they hold).
set -euo pipefail
uri="${AMQP_URI:-amqp://guest:guest@127.0.0.1:5672/}"
hostport="${uri#*://}"; hostport="${hostport#*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$host" ] && port=5672

answers() { timeout 2 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null; }

if answers; then :; else
  case "$host" in 127.0.0.1|localhost) ;; *) echo "RabbitMQ at $host:$port does not answer" >&2; exit 1;; esac
  command -v rabbitmq-server >/dev/null || "$(dirname "$0")/ensure_packages.sh" rabbitmq-server
  echo "starting RabbitMQ..."
  (service rabbitmq-server start || rabbitmq-server -detached) >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do answers && break; sleep 1; done
  answers || { echo "RabbitMQ did not start" >&2; exit 1; }
fi

case "$host" in 127.0.0.1|localhost)
  if command -v rabbitmq-plugins >/dev/null && [ "$(id -u)" = 0 ]; then
    rabbitmq-plugins list -e -m 2>/dev/null | grep -qx rabbitmq_management || \
      rabbitmq-plugins enable rabbitmq_management >/dev/null
    rabbitmqctl set_policy --apply-to queues rpc-ttl '^rpc-[a-z][a-z0-9]*$' '{"message-ttl": 30000}' >/dev/null 2>&1 || true
  fi;;
esac
echo "RabbitMQ answers on $host:$port"
