#!/usr/bin/env bash
# https through a real TLS terminator: nginx (from the OS packages) on 127.0.0.1 with a certificate
# generated here, in front of the fixed-latency simulator (50 ms to first token, 10 ms between
# tokens, 64 tokens). For each rate: redline over plain http through nginx, redline over https
# (HTTP/1.1, the default) and with --http2, and oha over the same https (HTTP/1.1 and --http2) when
# it is installed. Then client memory per in-flight TLS stream. Everything is stopped at the end.
# Usage: bench/https.sh [rates=200,500,1000] [seconds=10] [streams=5000]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rates=${1:-200,500,1000}
secs=${2:-10}
streams=${3:-5000}
if ! command -v nginx >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq nginx-light >/dev/null 2>&1 || apt-get install -y -qq nginx >/dev/null
  else
    echo "nginx is not installed (apt-get install nginx-light): https rows skipped"; exit 0
  fi
fi
cargo build --release --quiet
bin=$PWD/target/release/redline
work=$(mktemp -d)
sim_port=$(free_port); plain=$(free_port); h1=$(free_port); h2=$(free_port)

# A CA and a server certificate for localhost and 127.0.0.1, signed by it.
make_certs "$work"

cat > "$work/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile 65536;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 30000; }
http {
  access_log off;
  upstream sim { server 127.0.0.1:$sim_port; keepalive 4096; }
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_buffering off;
  proxy_read_timeout 120s;
  ssl_certificate $work/server.pem;
  ssl_certificate_key $work/server.key;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$plain; location / { proxy_pass http://sim; } }
  server { listen 127.0.0.1:$h1 ssl; location / { proxy_pass http://sim; } }
  server { listen 127.0.0.1:$h2 ssl http2; location / { proxy_pass http://sim; } }
}
CONF

"$bin" sim --profile fixed --port "$sim_port" --ttft-ms 50 --itl-ms 10 --output-tokens 64 >/dev/null &
sim=$!
nginx -c "$work/nginx.conf" -p "$work"
cleanup() { nginx -c "$work/nginx.conf" -p "$work" -s stop 2>/dev/null || true; kill $sim 2>/dev/null || true; }
trap cleanup EXIT
sleep 1
echo "# nginx $(nginx -v 2>&1 | cut -d/ -f2) terminating TLS (1 worker) in front of the simulator; $(nproc) CPUs shared by all"

row() { # label endpoint rate [flags...]
  local label=$1 endpoint=$2 rate=$3; shift 3
  local out; out=$(mktemp -d)
  "$bin" --endpoint "$endpoint" --model redline-sim --dataset data/conversations.json --qps "$rate" \
    --duration "$secs" --max-tokens 64 --results-dir "$out" "$@" >/dev/null 2>&1 || true
  python3 - "$label" "$rate" "$out" <<'PY'
import json, sys, glob
label, rate, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
l = json.load(open(glob.glob(out + "/*/benchmark_qps_results.json")[0]))["results"][0]
m = json.load(open(glob.glob(out + "/*/metadata.json")[0]))
lag = l["schedule_lag_s"]["p99"] or 0
conns = m.get("connection", {}).get("http2_stream_limits", [])
extra = f", {len(conns)} HTTP/2 connections" if conns else ""
print(f"{label:<22} {rate:>6.0f} req/s: delivered {l['actual_qps']:7.1f} ({100*l['actual_qps']/rate:5.1f}%), "
      f"success {l['success_rate']:5.1f}%, TTFT p50 {1e3*l['ttft']['p50']:6.2f} ms, p99 {1e3*l['ttft']['p99']:7.2f} ms, "
      f"lag p99 {1e3*lag:6.2f} ms, client-limited {l['client_limited']}{extra}")
PY
}

oha_row() { # label url rate [flags...]
  local label=$1 url=$2 rate=$3; shift 3
  local n; n=$(python3 -c "print(int($rate*$secs))")
  local body='{"model":"redline-sim","messages":[{"role":"user","content":"hi"}],"max_tokens":64,"stream":true}'
  local out; out=$(oha --no-tui -n "$n" -q "$rate" -c 4000 -m POST -T application/json -d "$body" "$@" "$url" 2>&1 || true)
  python3 - "$label" "$rate" "$n" <<PY
import re, sys
label, rate, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
out = """$out"""
m = [re.search(k + r":\s+([0-9.]+) (m?s)", out) for k in ("Total", "Average")]
okm = re.search(r"Success rate:\s+([0-9.]+)%", out)
if not all(m) or not okm:
    print(f"{label:<22} {rate:>6.0f} req/s: oha gave no summary: {out.strip()[-300:]!r}")
    sys.exit(0)
sec = lambda x: float(x.group(1)) / (1e3 if x.group(2) == "ms" else 1)
total, avg = sec(m[0]), sec(m[1])
d = n / (total - avg)
print(f"{label:<22} {rate:>6.0f} req/s: delivered {d:7.1f} ({100*d/rate:5.1f}%), success {okm.group(1)}%")
PY
}

echo; echo "## https through nginx: $secs s per level, 64-token replies (true TTFT 50 ms)"
for rate in ${rates//,/ }; do
  row "redline http (nginx)" "http://127.0.0.1:$plain" "$rate"
  row "redline https h1.1" "https://localhost:$h1" "$rate" --cacert "$work/ca.pem"
  row "redline https --http2" "https://localhost:$h2" "$rate" --cacert "$work/ca.pem" --http2
  if command -v oha >/dev/null; then
    oha_row "oha https h1.1" "https://localhost:$h1/v1/chat/completions" "$rate" --insecure
    oha_row "oha https --http2" "https://localhost:$h2/v1/chat/completions" "$rate" --insecure --http2
  fi
done

echo; echo "## client memory per in-flight TLS stream ($streams streams held open by a 60 s TTFT, HTTP/1.1 over TLS)"
kill $sim; wait $sim 2>/dev/null || true
"$bin" sim --profile fixed --port "$sim_port" --ttft-ms 60000 --itl-ms 10 --output-tokens 4 >/dev/null &
sim=$!
sleep 1
for mode in h1 h2; do
  port=$h1; flags=(--cacert "$work/ca.pem")
  if [ $mode = h2 ]; then port=$h2; flags+=(--http2); fi
  out=$(mktemp -d)
  "$bin" --endpoint "https://localhost:$port" --model redline-sim --dataset data/conversations.json \
    --qps $((streams / 5)) --duration 5 --timeout 7 --max-tokens 4 --no-preflight --results-dir "$out" "${flags[@]}" >/dev/null 2>&1 &
  rl=$!
  rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
  sleep 0.5; base=$(rss $rl)
  sleep 4.8; full=$(rss $rl)
  wait $rl || true
  python3 - "$base" "$full" "$out" "$mode" "$streams" <<'PY'
import json, sys, glob
base, full, out, mode, n = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
l = json.load(open(glob.glob(out + "/*/benchmark_qps_results.json")[0]))["results"][0]
m = json.load(open(glob.glob(out + "/*/metadata.json")[0]))
conns = len(m["connection"]["http2_stream_limits"])
# Sending runs at n/5 per second for 5 s: 0.5 s in, a tenth were open; at 5.3 s, all of them.
added = n * 0.9
print(f"{mode}: RSS {base} KiB at 0.5 s, {full} KiB at 5.3 s; {l['requests_sent']} streams sent, none ended before 7 s"
      f"{f', over {conns} HTTP/2 connections' if conns else ''}: {(full-base)/added:.1f} KiB per stream")
PY
done
