#!/usr/bin/env bash
# CPU per streamed event (issue: a third of the CPU per streamed token). Runs redline against the
# simulator (fixed model: 50 ms to the first token, then one event every 10 ms) and reports, from
# the processes' own CPU counters over the same run: the client's user and system time per event,
# the endpoint's (the simulator, plus nginx when it terminates TLS), their ratio (which does not
# depend on the machine), the cores the client used, and its TTFT error: the client's TTFT p50 less
# the simulator's own (it logs, per reply, the time from the request to handing over the first
# token: /sim/stats); through nginx, the proxy's time is in it too. All on 127.0.0.1.
# Usage: bench/events.sh [case...]   cases: 64x1000 (64-token streams at 1,000 req/s, default),
#        1000x100 (1,000-token streams at 100 req/s); each runs SECS (10) seconds.
#        PROTO=https or PROTO=h2: through nginx terminating TLS (HTTP/1.1, or HTTP/2 with --http2);
#        EXTRA="..." adds run flags; CLIENT_ENV="TOKIO_WORKER_THREADS=1" sets the client's environment;
#        BIN=path runs that redline binary (to compare two builds) instead of building this tree.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
cases=${*:-64x1000 1000x100}
secs=${SECS:-10}
proto=${PROTO:-http}
if [ -z "${BIN:-}" ]; then cargo build --release --quiet; fi
bin=${BIN:-$PWD/target/release/redline}
tck=$(getconf CLK_TCK)
cpu() { local u=0 s=0 a b; for p in "$@"; do read -r a b < <(awk '{print $14, $15}' "/proc/$p/stat"); u=$((u + a)); s=$((s + b)); done; echo "$u $s"; }
work=$(mktemp -d)
if [ "$proto" != http ]; then
  command -v nginx >/dev/null || { echo "PROTO=$proto needs nginx (apt-get install nginx-light)"; exit 1; }
  make_certs "$work"
fi
echo "# $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $proto"
echo "| case | events | client user us/event | client sys us/event | client us/event | endpoint us/event | ratio | client cores | TTFT p50 error |"
echo "|---|---|---|---|---|---|---|---|---|"
for c in $cases; do
  tokens=${c%x*}; rate=${c#*x}
  port=$(free_port)
  "$bin" sim --profile fixed --port "$port" --ttft-ms 50 --itl-ms 10 --output-tokens "$tokens" >/dev/null &
  sim=$!
  endpoint=( $sim )
  url="http://127.0.0.1:$port"
  flags=()
  if [ "$proto" != http ]; then
    tls=$(free_port)
    h2=""; [ "$proto" = h2 ] && h2=" http2"
    cat > "$work/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile 65536;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 30000; }
http {
  access_log off;
  upstream sim { server 127.0.0.1:$port; keepalive 4096; }
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_buffering off;
  ssl_certificate $work/server.pem;
  ssl_certificate_key $work/server.key;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$tls ssl$h2; location / { proxy_pass http://sim; } }
}
CONF
    nginx -c "$work/nginx.conf" -p "$work"
    sleep 0.5
    master=$(cat "$work/nginx.pid")
    endpoint+=( $master $(pgrep -P "$master") )
    url="https://localhost:$tls"
    flags=(--cacert "$work/ca.pem")
    [ "$proto" = h2 ] && flags+=(--http2)
  fi
  sleep 1
  out=$(mktemp -d)
  curl -s "http://127.0.0.1:$port/sim/stats?reset=1" >/dev/null
  read -r su0 ss0 < <(cpu "${endpoint[@]}")
  env ${CLIENT_ENV:-} "$bin" --endpoint "$url" --model redline-sim --dataset data/conversations.json \
    --qps "$rate" --duration "$secs" --max-tokens "$tokens" --no-preflight --results-dir "$out" \
    "${flags[@]}" ${EXTRA:-} >/dev/null 2>"$out/stderr" &
  cl=$!
  # The client's counters are read just before it ends: it waits for the last streams, so poll.
  last=""
  while kill -0 $cl 2>/dev/null; do last=$(cpu $cl 2>/dev/null || echo "$last"); sleep 0.2; done
  wait $cl || true
  read -r su1 ss1 < <(cpu "${endpoint[@]}")
  curl -s "http://127.0.0.1:$port/sim/stats" >"$out/sim-stats.json"
  [ "$proto" != http ] && nginx -c "$work/nginx.conf" -p "$work" -s stop
  kill $sim
  read -r cu cs <<<"$last"
  python3 - "$out" "$tck" "$cu" "$cs" "$su0" "$ss0" "$su1" "$ss1" "$c" <<'PY'
import json, sys, glob
out, tck, cu, cs, su0, ss0, su1, ss1, case = sys.argv[1:]
tck = float(tck)
events = 0
for line in open(glob.glob(out + "/*/requests.jsonl")[0]):
    events += json.loads(line).get("chunks", 0)
d = json.load(open(glob.glob(out + "/*/benchmark_qps_results.json")[0]))["results"][0]
truth = json.load(open(out + "/sim-stats.json"))["ttft_p50_s"]
u, s = int(cu) / tck, int(cs) / tck
e = ((int(su1) - int(su0)) + (int(ss1) - int(ss0))) / tck
per = lambda t: t / max(events, 1) * 1e6
wall = d["duration_s"]
print(f"| {case} | {events:,} | {per(u):.1f} | {per(s):.1f} | {per(u + s):.1f} | {per(e):.1f} | {(u + s) / max(e, 1e-9):.2f} | "
      f"{(u + s) / wall:.2f} | {(d['ttft']['p50'] - truth) * 1e3:+.2f} ms |")
PY
done
