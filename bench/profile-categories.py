"""Reads `perf script` output (call stacks, leaf first) and prints the share of samples in each
category of a streaming client's work, for bench/profile.sh. A sample goes to the first category
its stack matches, in the order below; multiply a share by the run's CPU per event (from
bench/events.sh) to get microseconds per event."""
import collections
import re
import sys

FRAME = re.compile(r"^\s*([0-9a-f]+) (.*) \((.*)\)\s*$")


def stacks(path):
    cur = []
    for line in open(path):
        if not line.strip():
            if cur:
                yield cur
            cur = []
            continue
        if line[0] not in " \t":
            cur = []
            continue
        m = FRAME.match(line)
        if m:
            cur.append((m.group(2).split("+0x")[0], m.group(3)))
    if cur:
        yield cur


def category(stack):
    syms = [s for s, _ in stack]
    leaf, dso = stack[0]
    if "__sys_recvfrom" in syms:
        if "__tcp_transmit_skb" in syms and "tcp_recvmsg_locked" in syms:
            if any(s in syms for s in ("do_softirq.part.0", "net_rx_action", "process_backlog")):
                return "receive: the ACK, the endpoint's socket taking it (softirq over loopback)"
            return "receive: the ACK, built and sent"
        if "skb_copy_datagram_iter" in syms:
            return "receive: copying the bytes"
        return "receive: the rest (syscall entry, socket lock, freeing the segment)"
    if "__x64_sys_epoll_wait" in syms or "do_epoll_wait" in syms:
        return "epoll_wait, sleeping in it and waking"
    if "__x64_sys_futex" in syms:
        return "futex: threads parking and unparking"
    if any(s in syms for s in ("__x64_sys_sendto", "__x64_sys_write", "__x64_sys_writev")):
        return "send and write (requests, wake-ups)"
    if any(s in syms for s in ("__x64_sys_clock_nanosleep", "do_nanosleep")):
        return "the scheduler thread's sleeps"
    if "kernel" in dso:
        return "other kernel work (context switches, faults, interrupts)"
    if "serde" in leaf:
        return "serde_json reading each chunk"
    if leaf.startswith("redline::measure::sse"):
        return "the SSE scan"
    if leaf.startswith(("redline::measure::chat", "redline::measure::events")):
        return "the event into the record"
    if leaf.startswith("redline::measure::http1") or "reply::" in leaf:
        return "HTTP/1.1 body decoding"
    if leaf.startswith("redline"):
        return "redline: request tasks, scheduler, records"
    if "tokio" in leaf or "mio" in leaf:
        return "tokio's scheduler and I/O driver"
    if any(s in leaf for s in ("malloc", "free", "memmove", "memcpy", "realloc")):
        return "malloc, free, memcpy"
    return "other user code (clock reads, libc, ...)"


counts = collections.Counter(category(s) for s in stacks(sys.argv[1]))
total = sum(counts.values()) or 1
print("| where | share |")
print("|---|---|")
for name, n in counts.most_common():
    print(f"| {name} | {n / total * 100:.1f}% |")
print(f"{total} samples")
