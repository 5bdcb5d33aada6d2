#!/usr/bin/env bash
# Where the client's CPU per streamed event goes: runs redline against the simulator (64-token
# streams at 1,000 req/s by default, as bench/events.sh), records the client with `perf record -g`
# for 3 s mid-level, and puts each sample in the first category its stack matches (the receive
# and its ACK, epoll, futex, the runtime, JSON, ...; bench/profile-categories.py). Needs perf
# (Debian: linux-perf) and permission to profile (root, or kernel.perf_event_paranoid <= 1).
# Usage: bench/profile.sh [tokens=64] [rate=1000]; CLIENT_ENV= and BIN= as in events.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
tokens=${1:-64}
rate=${2:-1000}
command -v perf >/dev/null || { echo "needs perf (apt-get install linux-perf)"; exit 1; }
if [ -z "${BIN:-}" ]; then cargo build --release --quiet; fi
bin=${BIN:-$PWD/target/release/redline}
work=$(mktemp -d)
port=$(free_port)
"$bin" sim --profile fixed --port "$port" --ttft-ms 50 --itl-ms 10 --output-tokens "$tokens" >/dev/null &
sim=$!
trap 'kill $sim 2>/dev/null' EXIT
sleep 1
env ${CLIENT_ENV:-} "$bin" --endpoint "http://127.0.0.1:$port" --model redline-sim \
  --dataset data/conversations.json --qps "$rate" --duration 8 --max-tokens "$tokens" \
  --no-preflight --results-dir "$work/out" >/dev/null 2>&1 &
client=$!
sleep 3
perf record -F 2000 -g -p $client -o "$work/perf.data" -- sleep 3 >/dev/null 2>&1
wait $client || true
perf script -i "$work/perf.data" 2>/dev/null >"$work/stacks.txt"
echo "# client at $rate req/s of $tokens-token streams, 3 s mid-level"
python3 bench/profile-categories.py "$work/stacks.txt"
