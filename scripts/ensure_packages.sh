#!/usr/bin/env bash
# Install those of the Debian packages named on the command line that are missing. A RabbitMQ
# installed here listens on 127.0.0.1 only (its service starts with the package).
set -euo pipefail
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [[ " ${missing[*]} " == *" rabbitmq-server "* ]]; then
  mkdir -p /etc/rabbitmq
  grep -q NODE_IP_ADDRESS /etc/rabbitmq/rabbitmq-env.conf 2>/dev/null || \
    echo "NODE_IP_ADDRESS=127.0.0.1" >> /etc/rabbitmq/rabbitmq-env.conf
fi
echo "installing ${missing[*]} from Debian's packages..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
