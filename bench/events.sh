#!/usr/bin/env bash
# CPU per streamed event (issue: a third of the CPU per streamed token). Runs redline against the
# simulator (fixed model: 50 ms to the first token, then one event every 10 ms) and reports, from
# the two processes' own CPU counters over the same run: the client's user and system time per
# event, the endpoint's, their ratio (machine-independent), the cores the client used, and its
# TTFT error (the simulator's true TTFT is 50 ms). All on 127.0.0.1.
# Usage: bench/events.sh [case...]   cases: 64x1000 (64-token streams at 1,000 req/s, default),
#        1000x100 (1,000-token streams at 100 req/s); each runs 10 s. EXTRA="--http2 ..." adds flags;
#        CLIENT_ENV="TOKIO_WORKER_THREADS=1" sets the client's environment only.
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${*:-64x1000 1000x100}
secs=${SECS:-10}
cargo build --release --quiet
bin=$PWD/target/release/redline
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14, $15}' "/proc/$1/stat"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
echo "# $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "| case | events | client user us/event | client sys us/event | client us/event | endpoint us/event | ratio | client cores | TTFT p50 error |"
echo "|---|---|---|---|---|---|---|---|---|"
for c in $cases; do
  tokens=${c%x*}; rate=${c#*x}
  port=$(free_port)
  "$bin" sim --profile fixed --port "$port" --ttft-ms 50 --itl-ms 10 --output-tokens "$tokens" >/dev/null &
  sim=$!
  sleep 1
  out=$(mktemp -d)
  read -r su0 ss0 < <(cpu $sim)
  env ${CLIENT_ENV:-} "$bin" --endpoint "http://127.0.0.1:$port" --model redline-sim --dataset data/conversations.json \
    --qps "$rate" --duration "$secs" --max-tokens "$tokens" --no-preflight --results-dir "$out" \
    ${EXTRA:-} >/dev/null 2>"$out/stderr" &
  cl=$!
  # The client's counters are read just before it ends: it waits for the last streams, so poll.
  last=""
  while kill -0 $cl 2>/dev/null; do last=$(cpu $cl 2>/dev/null || echo "$last"); sleep 0.2; done
  wait $cl || true
  read -r su1 ss1 < <(cpu $sim)
  kill $sim
  read -r cu cs <<<"$last"
  python3 - "$out" "$tck" "$cu" "$cs" "$su0" "$ss0" "$su1" "$ss1" "$secs" "$c" <<'PY'
import json, sys, glob
out, tck, cu, cs, su0, ss0, su1, ss1, secs, case = sys.argv[1:]
tck = float(tck)
events = 0
for line in open(glob.glob(out + "/*/requests.jsonl")[0]):
    events += json.loads(line).get("chunks", 0)
d = json.load(open(glob.glob(out + "/*/benchmark_qps_results.json")[0]))["results"][0]
u, s = int(cu) / tck, int(cs) / tck
e = ((int(su1) - int(su0)) + (int(ss1) - int(ss0))) / tck
per = lambda t: t / max(events, 1) * 1e6
wall = d["duration_s"]
print(f"| {case} | {events:,} | {per(u):.1f} | {per(s):.1f} | {per(u + s):.1f} | {per(e):.1f} | {(u + s) / max(e, 1e-9):.2f} | "
      f"{(u + s) / wall:.2f} | {(d['ttft']['p50'] - 0.050) * 1e3:+.1f} ms |")
PY
done
