#!/bin/sh
# Runs every fuzz target for SECS seconds (default 150), one after the other,
# in fork mode; logs go to fuzz/logs/<target>.log and failing inputs to
# fuzz/artifacts/<target>/ (crash-*, oom-*, timeout-*).
#
# Parsing must be bounded in memory and time whatever the input, so an input
# that makes a target use more than RSS_MB megabytes (default 512) or run
# longer than TIMEOUT seconds (default 10) is a finding like a crash: fork
# mode ignores both by default, so -ignore_ooms=0 and -ignore_timeouts=0 stop
# the target's campaign at the first one. Crashes are still collected and
# the campaign goes on (-ignore_crashes=1).
#
# Exits 1 when any target left an artifact.
# Needs the targets built first: RUSTC_BOOTSTRAP=1 cargo fuzz build -O
set -u
cd "$(dirname "$0")"
SECS=${SECS:-150}
RSS_MB=${RSS_MB:-512}
TIMEOUT=${TIMEOUT:-10}
BIN=${BIN:-target/x86_64-unknown-linux-gnu/release}
TARGETS=${TARGETS:-"format_yaml format_json format_dotenv format_ini format_binary enc_value metadata sops_config tree_path decrypt format_toml preserve merge check_scan"}
mkdir -p logs
findings=0
for t in $TARGETS; do
    mkdir -p "corpus/$t" "artifacts/$t"
    "$BIN/$t" "corpus/$t" -fork=1 -ignore_crashes=1 -ignore_ooms=0 -ignore_timeouts=0 \
        -max_total_time="$SECS" -max_len=16384 -timeout="$TIMEOUT" \
        -rss_limit_mb="$RSS_MB" -malloc_limit_mb="$RSS_MB" \
        -artifact_prefix="artifacts/$t/" >"logs/$t.log" 2>&1
    status=$?
    crashes=$(ls "artifacts/$t" | grep -c '^crash-')
    ooms=$(ls "artifacts/$t" | grep -c '^oom-')
    timeouts=$(ls "artifacts/$t" | grep -c '^timeout-')
    echo "$t: exit $status, $crashes crashes, $ooms out-of-memory, $timeouts timeouts"
    if [ $((crashes + ooms + timeouts)) -gt 0 ] || [ "$status" -ne 0 ]; then
        findings=1
    fi
done
exit $findings
