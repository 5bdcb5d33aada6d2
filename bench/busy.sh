#!/usr/bin/env bash
# The demo's answer on a busy client machine: a second process burns one core in a busy loop for
# the whole run, and `redline demo` must still find maximum sustainable 30 and saturation 40 (lag
# from the busy core may mark a level client-limited, but endpoint errors stay the endpoint's and a
# PASS whose load was delivered stands). About a minute of real time, on the release build; it
# was a test until the test suite had to fit in five minutes, and prints PASS or FAIL.
# The rules it exercises are unit-tested in src/analyze/verdict_tests.rs (client-limited levels,
# delivered PASS) and end to end in tests/it/engine.rs (the demo's sweep on an idle machine).
# Usage: bench/busy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
results=$(mktemp -d)
trap 'kill "$burner" 2>/dev/null || true; rm -rf "$results"' EXIT
( while :; do :; done ) &
burner=$!
out=$(target/release/redline demo --results-dir "$results")
kill "$burner"
echo "$out"
if grep -q "Maximum sustainable QPS: 30.0" <<<"$out" && grep -q "Saturation point: 40.0 QPS" <<<"$out"; then
  echo "PASS: the demo's answer held with a core busy"
else
  echo "FAIL: the demo's answer moved with a core busy"; exit 1
fi
