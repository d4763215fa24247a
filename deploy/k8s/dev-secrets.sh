#!/bin/sh
# Creates the dev overlay's Secrets that do not exist yet, with random values, straight into the
# cluster: no value is ever written to a file or committed. Existing ones are kept (a new
# respondent-key secret would change event ids mid-week; rotation is README.md's procedure).
# Usage: deploy/k8s/dev-secrets.sh [NAMESPACE]
# Prod Secrets are created the same way from the organisation's secret store (README.md).
set -eu
ns="${1:-rituals-dev}"
rand() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }   # 64 hex characters
apply() {
  if kubectl -n "$ns" get secret "$1" >/dev/null 2>&1; then echo "kept $1"; return; fi
  kubectl -n "$ns" create secret generic "$@"
}

pg="$(kubectl -n "$ns" get secret rituals-dev-postgres -o jsonpath='{.data.password}' 2>/dev/null \
      | base64 -d || true)"
[ -n "$pg" ] || pg="$(rand)"   # keep the password PostgreSQL was initialised with
url() { echo "postgresql+asyncpg://postgres:${pg}@postgres:5432/$1"; }

apply rituals-dev-postgres --from-literal=password="$pg"
apply rituals-scheduler --from-literal=database-url="$(url scheduler)" \
  --from-literal=operator-token="$(rand)"
apply rituals-notifier --from-literal=database-url="$(url notifier)" \
  --from-literal=operator-token="$(rand)" --from-literal=link-signing-key="$(rand)" \
  --from-literal=respondent-key-secret="$(rand)"
apply rituals-insights --from-literal=database-url="$(url insights)" \
  --from-literal=operator-token="$(rand)" --from-literal=analyst-token="$(rand)"
