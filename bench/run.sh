#!/usr/bin/env bash
# Measures redline's speed targets on this machine (docs/performance.md), all on 127.0.0.1:
#  1. client ceiling and measurement error (redline calibrate: delivered rate, lag, TTFT error
#     against the simulator's own first-token times), with CPU and peak memory from /usr/bin/time;
#  2. the same endpoint driven by a plain HTTP load generator (oha), when it is installed
#     (`cargo install oha`), for the delivered-rate comparison;
#  3. client memory per in-flight stream (streams held open by a long TTFT);
#  4. summarising 1,000,000 request records (cargo bench --bench summary);
#  5. https through a real TLS terminator (bench/https.sh: nginx on 127.0.0.1, HTTP/1.1 and --http2).
# Usage: bench/run.sh [rates=500,1000,2000,3000] [seconds=5] [streams=15000]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rates=${1:-500,1000,2000,3000}
secs=${2:-5}
streams=${3:-15000}
cargo build --release --quiet
bin=$PWD/target/release/redline
echo "# machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# open files: soft $(ulimit -Sn), hard $(ulimit -Hn); local ports $(cat /proc/sys/net/ipv4/ip_local_port_range | tr '\t' '-')"

echo; echo "## 1. redline calibrate --rates $rates --duration $secs (64-token replies, TTFT 50 ms, 10 ms between tokens)"
/usr/bin/time -f "calibrate: %e s wall, %U s user, %S s system, peak RSS %M KiB (client only)" \
  "$bin" calibrate --rates "$rates" --duration "$secs" --no-save 2>&1 | grep -v "^Open-file"


if command -v oha >/dev/null; then
  echo; echo "## 2. oha against the same simulator (oha reads each streamed body to its end, without parsing it)"
  port=$(free_port)
  "$bin" sim --profile fixed --port "$port" --ttft-ms 50 --itl-ms 10 --output-tokens 64 >/dev/null &
  sim=$!
  sleep 1
  body='{"model":"redline-sim","messages":[{"role":"user","content":"hi"}],"max_tokens":64,"stream":true}'
  for rate in ${rates//,/ }; do
    n=$(python3 -c "print(int($rate*$secs))")
    # Without latency correction each latency runs from oha's actual send, so Total - Average is the
    # span over which it really sent: n / that span is the rate it delivered.
    out=$(oha --no-tui -n "$n" -q "$rate" -c 4000 -m POST -T application/json -d "$body" \
      "http://127.0.0.1:$port/v1/chat/completions" 2>&1)
    python3 - "$rate" "$n" <<PY
import re, sys
rate, n = float(sys.argv[1]), int(sys.argv[2])
out = """$out"""
get = lambda k: float(re.search(k + r":\s+([0-9.]+) ms", out).group(1)) / 1e3
ok = re.search(r"Success rate:\s+([0-9.]+)%", out).group(1)
total, avg = get("Total"), get("Average")
p50 = float(re.search(r"50.00% in ([0-9.]+) ms", out).group(1))
d = n / (total - avg)
print(f"oha target {rate:.0f} req/s: delivered {d:.0f} req/s ({100*d/rate:.1f}% of target), success {ok}%, latency p50 {p50:.1f} ms (true E2E 680 ms)")
PY
  done
  kill $sim
else
  echo; echo "## 2. oha is not installed: skipped (cargo install oha)"
fi

echo; echo "## 3. client memory per in-flight stream ($streams streams held open by a 60 s TTFT)"
port=$(free_port)
"$bin" sim --profile fixed --port "$port" --ttft-ms 60000 --itl-ms 10 --output-tokens 4 >/dev/null &
sim=$!
sleep 1
qps=$((streams / 5))
out=$(mktemp -d)
"$bin" --endpoint "http://127.0.0.1:$port" --model redline-sim --dataset data/conversations.json \
  --qps "$qps" --duration 5 --timeout 7 --max-tokens 4 --no-preflight --results-dir "$out" >/dev/null 2>&1 &
rl=$!
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
sleep 0.3; base=$(rss $rl)
sleep 5; full=$(rss $rl)
wait $rl || true
kill $sim
python3 - "$base" "$full" "$streams" "$out" <<'PY'
import json, sys, glob
base, full, n, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
l = json.load(open(glob.glob(out + "/*/benchmark_qps_results.json")[0]))["results"][0]
held = l["in_flight_at_send_end"]
print(f"RSS {base} KiB at 0.3 s, {full} KiB with {held} streams in flight: {(full-base)*1024/max(held,1)/1024:.1f} KiB per stream")
print(f"those requests ended as: {l['errors']} (the 60 s TTFT outlasts --timeout 7, by design)")
PY

echo; echo "## 4. summarising 1,000,000 records"
cargo bench --quiet --bench summary 2>&1 | grep -E "summary|built"

echo; echo "## 5. https through nginx (HTTP/1.1 and --http2), beside plain http and oha"
bench/https.sh
