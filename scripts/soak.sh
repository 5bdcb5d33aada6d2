#!/usr/bin/env bash
# Soak: runs redline for a long level at a high rate against the built-in simulator on 127.0.0.1
# and samples its resident memory, to show memory grows only with the per-request records.
# Usage: scripts/soak.sh [seconds=600] [qps=500]. Prints a summary; not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
qps=${2:-500}
cargo build --release --quiet
bin=target/release/redline
out=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" sim --profile fixed --port "$port" --ttft-ms 20 --itl-ms 2 --output-tokens 32 >/dev/null &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
sleep 1
"$bin" --endpoint "http://127.0.0.1:$port" --model redline-sim --dataset data/conversations.json \
  --qps "$qps" --duration "$secs" --max-tokens 32 --results-dir "$out" >"$out/stdout.txt" 2>"$out/stderr.txt" &
rl=$!
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
sleep 5
start=$(rss $rl); samples="$start"
echo "t=5s rss=${start} KiB"
t=5
while kill -0 $rl 2>/dev/null; do
  sleep 30; t=$((t + 30))
  r=$(rss $rl); [ "$r" != 0 ] && samples="$samples $r" && echo "t=${t}s rss=${r} KiB"
done
wait $rl || true
dir=$(ls -d "$out"/20* | head -1)
n=$(wc -l < "$dir/requests.jsonl")
end=$(echo "$samples" | awk '{print $NF}')
python3 - "$dir" "$start" "$end" "$n" "$secs" "$qps" <<'PY'
import json, sys
d, start, end, n, secs, qps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
l = json.load(open(f"{d}/benchmark_qps_results.json"))["results"][0]
grow = (end - start) * 1024
print(f"soak: {secs} s at {qps} QPS: {n} requests, success {l['success_rate']:.2f}%, errors {l['errors']}")
print(f"soak: actual QPS {l['actual_qps']:.2f}, schedule lag p99 {l['schedule_lag_s']['p99']*1e3:.2f} ms")
print(f"soak: RSS at 5 s {start} KiB, at the end {end} KiB: grew {grow/1e6:.1f} MB = {grow/max(n,1):.0f} bytes per request record")
PY
