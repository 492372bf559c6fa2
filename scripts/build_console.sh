#!/usr/bin/env bash
# Build the operator console (console/ -> console/dist, served by the gateway at /console/):
# Node.js and npm from Debian's packages when missing, the front-end libraries from the npm
# registry exactly as package-lock.json pins them (`npm ci`, only when the lockfile changed
# since the last install), then `npm run build`. Once installed, it needs no network.
set -euo pipefail
cd "$(dirname "$0")/../console"
command -v npm >/dev/null && command -v node >/dev/null || ../scripts/ensure_packages.sh nodejs npm
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build -- --logLevel warn
