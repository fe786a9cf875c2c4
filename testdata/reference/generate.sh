#!/usr/bin/env bash
# Regenerate the reference fixtures in this directory with the reference sops.
#
#   testdata/reference/generate.sh            (sops from $ENSEAL_SOPS_REF, else .tools/bin/sops;
#                                              run scripts/install-test-deps first)
#   testdata/reference/generate.sh --extracts-only
#                                             (only the --extract goldens, from the committed
#                                              fixtures: no new ciphertexts)
#
# For every line of cases.tsv: encrypt the plaintext input with the reference
# (keys from ../keys/), write NAME.enc.EXT, then write the reference's
# `sops decrypt` of it as NAME.dec.EXT (the golden plaintext). Every run makes
# new ciphertexts (random data keys and IVs); the .dec files stay the same.
# Each sops call runs with a scratch HOME, in a scratch directory (no .sops.yaml
# above it) and with no SOPS_* variable except the one it needs.
set -euo pipefail

EXTRACTS_ONLY=false
case ${1:-} in
  '') ;;
  --extracts-only) EXTRACTS_ONLY=true ;;
  *) echo "usage: generate.sh [--extracts-only]" >&2; exit 2 ;;
esac

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SOPS=${ENSEAL_SOPS_REF:-$ROOT/.tools/bin/sops}
[[ -x "$SOPS" ]] || { echo "generate.sh: reference sops not found at $SOPS (run scripts/install-test-deps)" >&2; exit 1; }
KEY1=$ROOT/testdata/keys/test-age-key.txt
KEY2=$ROOT/testdata/keys/test-age-key-2.txt
R1=$(sed -n 's/^# public key: //p' "$KEY1")
R2=$(sed -n 's/^# public key: //p' "$KEY2")

for v in $(env | sed -n 's/^\(SOPS_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
SCRATCH=$(mktemp -d /tmp/enseal-fixtures.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
mkdir -p "$SCRATCH/home" "$SCRATCH/cwd"
export HOME=$SCRATCH/home
cd "$SCRATCH/cwd"

echo "generate.sh: using $("$SOPS" --version --disable-version-check 2>/dev/null | head -1) ($SOPS)"
if $EXTRACTS_ONLY; then
  rm -f "$HERE"/extract/*.out
else
  rm -f "$HERE"/*.enc.* "$HERE"/*.dec.* "$HERE"/extract/*.out
fi
mkdir -p "$HERE/extract"
n=0
while IFS=$'\t' read -r name input keys args; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  ext=${input##*.}
  src=$HERE/$input
  [[ -f "$src" ]] || { echo "generate.sh: missing input $src" >&2; exit 1; }
  case $keys in
    1) recips=$R1 ;;
    2) recips=$R1,$R2 ;;
    *) echo "generate.sh: bad keys column '$keys' for $name" >&2; exit 1 ;;
  esac
  # The input is copied into the scratch directory under its own name so the
  # file name the reference sees (store selection) is the plain one.
  cp "$src" "$SCRATCH/cwd/$(basename "$input")"
  argv=()
  for a in $args; do
    a=${a//\{R\}/$recips}
    a=${a//\{IN\}/$(basename "$input")}
    argv+=("$a")
  done
  enc=$HERE/$name.enc.$ext
  dec=$HERE/$name.dec.$ext
  SOPS_AGE_KEY_FILE=$KEY1 "$SOPS" "${argv[@]}" > "$enc"
  SOPS_AGE_KEY_FILE=$KEY1 "$SOPS" decrypt "$enc" > "$dec"
  if [[ $keys == 2 ]]; then
    # both recipients must be able to decrypt on their own
    SOPS_AGE_KEY_FILE=$KEY2 "$SOPS" decrypt "$enc" | cmp -s - "$dec" \
      || { echo "generate.sh: $name does not decrypt with key 2" >&2; exit 1; }
  fi
  rm -f "$SCRATCH/cwd/$(basename "$input")"
  n=$((n + 1))
  printf '  %-34s %s\n' "$name" "sops ${argv[*]}"
done < <($EXTRACTS_ONLY || cat "$HERE/cases.tsv")
$EXTRACTS_ONLY || echo "generate.sh: wrote $n cases to $HERE"

# --extract goldens (extracts.tsv): extract/NAME.out = `sops decrypt --extract PATH NAME.enc.EXT`
m=0
while IFS=$'\t' read -r name case path; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  enc=$(ls "$HERE/$case".enc.* 2>/dev/null | head -1)
  [[ -n "$enc" ]] || { echo "generate.sh: extracts.tsv: no fixture for case $case" >&2; exit 1; }
  SOPS_AGE_KEY_FILE=$KEY1 "$SOPS" decrypt --extract "$path" "$enc" > "$HERE/extract/$name.out"
  m=$((m + 1))
  printf '  %-34s %s\n' "extract/$name.out" "sops decrypt --extract '$path' $(basename "$enc")"
done < "$HERE/extracts.tsv"
echo "generate.sh: wrote $m extract goldens to $HERE/extract"
