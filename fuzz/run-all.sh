#!/bin/sh
# Runs every fuzz target for SECS seconds (default 150), one after the other,
# continuing after crashes (fork mode); logs go to fuzz/logs/<target>.log and
# crashing inputs to fuzz/artifacts/<target>/.
# Needs the targets built first: RUSTC_BOOTSTRAP=1 cargo fuzz build -O
set -u
cd "$(dirname "$0")"
SECS=${SECS:-150}
BIN=target/x86_64-unknown-linux-gnu/release
TARGETS=${TARGETS:-"format_yaml format_json format_dotenv format_ini format_binary enc_value metadata sops_config tree_path decrypt format_toml preserve merge check_scan"}
mkdir -p logs
for t in $TARGETS; do
    mkdir -p "corpus/$t" "artifacts/$t"
    "$BIN/$t" "corpus/$t" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -max_total_time="$SECS" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="artifacts/$t/" >"logs/$t.log" 2>&1
    echo "$t: exit $?, $(ls "artifacts/$t" | wc -l) artifacts"
done
