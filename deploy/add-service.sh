#!/bin/sh
# Add a service to the Kubernetes manifests: deploy/add-service.sh <name>
# Copies k8s/base/service-status.yaml to k8s/base/service-<name>.yaml (status -> <name>,
# STATUS -> <NAME> on non-comment lines: the Deployment, its RabbitMQ user, Secret and
# permissions, its PostgreSQL role Secret and Database, metrics Service, ServiceMonitor,
# PodDisruptionBudget and KEDA ScaledObject), lists it in k8s/base/kustomization.yaml and adds
# its role to the CloudNativePG Cluster (k8s/base/postgres.yaml). Then add it to the dev
# overlay's patches, regenerate the dashboard and run the manifest tests:
#   python scripts/grafana_dashboard.py && python -m pytest tests/deploy -q
set -eu
name=${1:-}
case "$name" in
  ''|[!a-z]*|*[!a-z0-9]*) echo "usage: $0 <name>  (lowercase letters and digits, e.g. system)" >&2; exit 2 ;;
esac
upper=$(printf '%s' "$name" | tr 'a-z' 'A-Z')
k8s=$(dirname "$0")/k8s/base
target=$k8s/service-$name.yaml
if [ -e "$target" ]; then echo "$target exists" >&2; exit 1; fi

sed -e "/^[[:space:]]*#/!{s/status/$name/g;s/STATUS/$upper/g;}" "$k8s/service-status.yaml" > "$target"

# list the file after the last service-*.yaml entry of kustomization.yaml
awk -v entry="  - service-$name.yaml" '
  { lines[NR] = $0 } /^  - service-.*\.yaml$/ { last = NR }
  END { for (i = 1; i <= NR; i++) { print lines[i]; if (i == last) print entry } }
' "$k8s/kustomization.yaml" > "$k8s/kustomization.yaml.new" && mv "$k8s/kustomization.yaml.new" "$k8s/kustomization.yaml"

# its role after the last managed role of postgres.yaml
awk -v entry="      - {name: inventree_$name, ensure: present, login: true, passwordSecret: {name: inventree-db-$name}}" '
  { lines[NR] = $0 } /^      - \{name: inventree_/ { last = NR }
  END { for (i = 1; i <= NR; i++) { print lines[i]; if (i == last) print entry } }
' "$k8s/postgres.yaml" > "$k8s/postgres.yaml.new" && mv "$k8s/postgres.yaml.new" "$k8s/postgres.yaml"

echo "added $target; set the passwords of inventree-amqp-$name and inventree-db-$name in it"
