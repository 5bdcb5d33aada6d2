#!/usr/bin/env bash
# Large request bodies (issue: images in requests): whether redline keeps its schedule at 100 req/s
# with bodies of several MB, and what it spends on them. Bodies are built once before the level,
# so the hot path only writes them; this measures it. All on 127.0.0.1, against the simulator
# (fixed 50 ms TTFT, no encoder time, no encoder cache), which must read every body too: on a small
# machine the two share the cores, so read the client's CPU and schedule lag, not the TTFT alone.
# Usage: bench/images.sh [rate=100] [seconds=10] [images=count=1,size=2048x2048,format=png]
#        BIN=path runs that redline binary (to compare two builds) instead of building this tree.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rate=${1:-100}
secs=${2:-10}
spec=${3:-count=1,size=2048x2048,format=png}
if [ -z "${BIN:-}" ]; then cargo build --release --quiet; fi
bin=${BIN:-$PWD/target/release/redline}
port=$(free_port)
"$bin" sim --profile fixed --port "$port" --ttft-ms 50 --itl-ms 10 --output-tokens 16 \
  --image-encode-ms 0 --image-encode-ms-per-mpx 0 --encoder-cache-images 0 >/dev/null &
sim=$!
trap 'kill $sim 2>/dev/null' EXIT
sleep 1
out=$(mktemp -d)
echo "# $(nproc) CPUs; --images $spec at $rate req/s for $secs s"
/usr/bin/time -f "client: %e s wall, %U s user, %S s system, peak RSS %M KiB" \
  "$bin" --endpoint "http://127.0.0.1:$port" --model redline-sim --dataset data/conversations.json \
  --images "$spec" --qps "$rate" --duration "$secs" --max-tokens 16 --results-dir "$out" 2>&1 \
  | grep -E "^Images|^client:|^QPS Target|^$rate|  QPS"
python3 - "$out" <<'PY'
import json, sys, glob
d = json.load(open(glob.glob(sys.argv[1] + "/*/benchmark_qps_results.json")[0]))
l = d["results"][0]
i = l["images"]
print(f"delivered {l['actual_qps']:.1f} req/s of {l['qps_target']}; schedule lag p99 {l['schedule_lag_s']['p99']*1e3:.2f} ms; "
      f"request body p50 {i['request_bytes']['p50']/2**20:.2f} MiB, {i['image_bytes_per_s']/2**20:.0f} MiB/s of images; "
      f"TTFT p50 {l['ttft']['p50']*1e3:.1f} ms (the simulator's own is 50 ms plus reading the body)")
PY
