#!/usr/bin/env bash
# Writes fresh random tokens for docker/compose.yaml into docker/secrets/ (kept out of git
# and out of images): the coordinator's tokens file, one "ROLE TOKEN" a line, and each
# role's token alone in ROLE.token for clients:
#
#   secrets/tokens            mounted into the coordinator (ACTGRID_TOKENS)
#   secrets/worker.token      mounted into every worker (ACTGRID_TOKEN_FILE)
#   secrets/submitter.token   for `actgrid submit` on the host: --token-file or ACTGRID_TOKEN_FILE
#   secrets/reader.token      for read-only clients (compare, curves, dashboards)
#   secrets/admin.token       everything, cancel included
#   secrets/k8s-secret.yaml   the Secret "actgrid-tokens" for docker/k8s (kubectl apply -f)
#
# Existing secrets are kept unless --force is given. The directory is private to its
# owner; the files are readable by the containers' unprivileged user (uid 10001).
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/secrets"
if [[ -e $dir/tokens && ${1:-} != --force ]]; then
  echo "$dir/tokens exists; keeping it (--force writes new tokens)"
  exit 0
fi
mkdir -p "$dir"
chmod 700 "$dir"
token() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }
: > "$dir/tokens.new"
for role in reader submitter worker admin; do
  t=$(token)
  printf '%s\n' "$t" > "$dir/$role.token"
  printf '%s %s\n' "$role" "$t" >> "$dir/tokens.new"
done
mv "$dir/tokens.new" "$dir/tokens"
chmod 644 "$dir"/tokens "$dir"/*.token
cat > "$dir/k8s-secret.yaml" <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: actgrid-tokens
type: Opaque
data:
  tokens: $(base64 -w0 < "$dir/tokens")
  worker.token: $(base64 -w0 < "$dir/worker.token")
YAML
chmod 600 "$dir/k8s-secret.yaml"
echo "wrote $dir/tokens, $dir/{reader,submitter,worker,admin}.token and $dir/k8s-secret.yaml"
