#!/usr/bin/env bash
# Regenerate secrets.enc.yaml (the README demo file) with the reference sops and
# the public demo key. The plaintext is embedded below.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SOPS=${ENSEAL_SOPS_REF:-$ROOT/.tools/bin/sops}
[[ -x "$SOPS" ]] || { echo "reference sops not found at $SOPS (run scripts/install-test-deps)" >&2; exit 1; }
for v in $(env | sed -n 's/^\(SOPS_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
SCRATCH=$(mktemp -d /tmp/enseal-demo.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
mkdir -p "$SCRATCH/home"
export HOME=$SCRATCH/home
cd "$SCRATCH"
cat > secrets.yaml <<'YAML'
# Demo secrets for the enseal README (encrypted with the public demo key).
database:
    host: db.example.internal
    port: 5432
    user: app
    password: correct-horse-battery-staple
api:
    # rotate quarterly
    token: tok_demo_0123456789abcdef
    endpoints:
        - https://api.example.com/v1
        - https://backup.example.com/v1
debug: false
YAML
R=$(sed -n 's/^# public key: //p' "$HERE/demo-age-key.txt")
"$SOPS" encrypt --age "$R" secrets.yaml > "$HERE/secrets.enc.yaml"
SOPS_AGE_KEY_FILE=$HERE/demo-age-key.txt "$SOPS" decrypt "$HERE/secrets.enc.yaml" | cmp - secrets.yaml
echo "wrote $HERE/secrets.enc.yaml"
