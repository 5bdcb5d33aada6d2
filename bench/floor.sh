#!/usr/bin/env bash
# The floor under bench/events.sh: the least CPU any reader spends per streamed event on this
# machine, measured with bench/floor (event-floor: one thread, no runtime, no parsing, no records;
# epoll + recv, or io_uring multishot receive into provided buffers) against the same simulator
# (50 ms to the first token, an event every 10 ms), with the endpoint's CPU over the same seconds.
# Usage: bench/floor.sh [case...]   cases: 64x1000 (default) and 1000x100, as in events.sh: the
#        streams kept open are the rate times a reply's length, each sending its next request on
#        its connection as its reply ends. SECS (10) seconds each, the first 2 not counted.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
cases=${*:-64x1000 1000x100}
secs=${SECS:-10}
cargo build --release --quiet
(cd bench/floor && cargo build --release --quiet)
bin=$PWD/target/release/redline
floor=$PWD/bench/floor/target/release/event-floor
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
echo "# $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r)"
echo "| case | reader | events | user us/event | sys us/event | us/event | endpoint us/event | ratio |"
echo "|---|---|---|---|---|---|---|---|"
for c in $cases; do
  tokens=${c%x*}; rate=${c#*x}
  # Streams open: the rate times a reply's length (50 ms + 10 ms a token).
  streams=$(python3 -c "print(round($rate * (0.05 + 0.01 * $tokens)))")
  port=$(free_port)
  "$bin" sim --profile fixed --port "$port" --ttft-ms 50 --itl-ms 10 --output-tokens "$tokens" >/dev/null &
  sim=$!
  sleep 1
  for mode in epoll uring; do
    "$floor" "127.0.0.1:$port" $mode "$streams" "$tokens" "$secs" >"$port.$mode.out" &
    reader=$!
    sleep 2; e0=$(cpu $sim)
    wait $reader
    e1=$(cpu $sim)
    python3 - "$(cat "$port.$mode.out")" "$e0" "$e1" "$tck" "$c" "$mode" <<'PY'
import re, sys
line, e0, e1, tck, case, mode = sys.argv[1:]
f = lambda k: float(re.search(k + r" ([0-9.]+) us/event", line).group(1))
events = int(re.search(r"(\d+) events", line).group(1))
endpoint = (int(e1) - int(e0)) / float(tck) / max(events, 1) * 1e6
print(f"| {case} | {mode} | {events:,} | {f('user'):.2f} | {f('sys'):.2f} | {f('total'):.2f} | {endpoint:.1f} | {f('total') / endpoint:.2f} |")
PY
    rm -f "$port.$mode.out"
  done
  kill $sim
done
