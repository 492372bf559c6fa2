#!/bin/sh
# Add a service to the Kubernetes manifests: deploy/add-service.sh <name>
# Copies k8s/service-status.yaml to k8s/service-<name>.yaml (status -> <name>, STATUS -> <NAME>
# on non-comment lines: the Deployment and its own RabbitMQ user, Secret and permissions),
# lists it in k8s/kustomization.yaml and adds a placeholder <NAME>_DATABASE_URL to
# k8s/secret.yaml. Then run the manifest test:
#   python -m pytest tests/deploy -q
set -eu
name=${1:-}
case "$name" in
  ''|[!a-z]*|*[!a-z0-9]*) echo "usage: $0 <name>  (lowercase letters and digits, e.g. system)" >&2; exit 2 ;;
esac
upper=$(printf '%s' "$name" | tr 'a-z' 'A-Z')
k8s=$(dirname "$0")/k8s
target=$k8s/service-$name.yaml
if [ -e "$target" ]; then echo "$target exists" >&2; exit 1; fi

sed -e "/^[[:space:]]*#/!{s/status/$name/g;s/STATUS/$upper/g;}" "$k8s/service-status.yaml" > "$target"

# list the file after the last service-*.yaml entry of kustomization.yaml
awk -v entry="  - service-$name.yaml" '
  { lines[NR] = $0 } /^  - service-.*\.yaml$/ { last = NR }
  END { for (i = 1; i <= NR; i++) { print lines[i]; if (i == last) print entry } }
' "$k8s/kustomization.yaml" > "$k8s/kustomization.yaml.new" && mv "$k8s/kustomization.yaml.new" "$k8s/kustomization.yaml"

# a placeholder database URL after the last *_DATABASE_URL of secret.yaml
awk -v entry="  ${upper}_DATABASE_URL: \"postgresql+psycopg2://inventree_$name:CHANGE-ME@postgres.inventree.svc.cluster.local:5432/inventree_$name\"" '
  { lines[NR] = $0 } /^  [A-Z0-9_]*_DATABASE_URL:/ { last = NR }
  END { for (i = 1; i <= NR; i++) { print lines[i]; if (i == last) print entry } }
' "$k8s/secret.yaml" > "$k8s/secret.yaml.new" && mv "$k8s/secret.yaml.new" "$k8s/secret.yaml"

echo "added $target; set ${upper}_DATABASE_URL in $k8s/secret.yaml and the password of inventree-amqp-$name in $target"
