#!/usr/bin/env python3
"""A userspace stand-in for `tc qdisc ... netem loss P% delay D`, for kernels built without
sch_netem: forwards every Ethernet frame between two interfaces (AF_PACKET), dropping each
with probability LOSS and holding the rest for DELAY ms, in both directions.

Usage: impair.py IFACE_A IFACE_B LOSS_PERCENT DELAY_MS SEED
Prints a line of counters every 2 s (and flushes), so the test log shows what was dropped.
"""
import heapq
import random
import select
import socket
import sys
import time

ETH_P_ALL = 3
PACKET_OUTGOING = 4


def open_raw(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((ifname, 0))
    s.setblocking(False)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    return s


def main():
    a_name, b_name, loss, delay_ms, seed = sys.argv[1:6]
    loss = float(loss) / 100.0
    delay = float(delay_ms) / 1000.0
    rng = random.Random(int(seed))
    a, b = open_raw(a_name), open_raw(b_name)
    peer = {a: b, b: a}
    label = {a: f"{a_name}->{b_name}", b: f"{b_name}->{a_name}"}
    counts = {k: [0, 0] for k in label.values()}  # forwarded, dropped
    queue = []  # (due, seq, out socket, frame)
    seq = 0
    next_report = time.monotonic() + 2
    print(f"impair: {a_name} <-> {b_name}, loss {loss:.0%}, delay {delay * 1000:.0f} ms", flush=True)
    while True:
        now = time.monotonic()
        timeout = max(0.0, min(queue[0][0] - now if queue else 1.0, next_report - now))
        readable, _, _ = select.select([a, b], [], [], timeout)
        for s in readable:
            while True:
                try:
                    frame, addr = s.recvfrom(65536)
                except BlockingIOError:
                    break
                # Our own sends show up as outgoing frames on the other socket: skip them.
                if addr[2] == PACKET_OUTGOING:
                    continue
                c = counts[label[s]]
                if rng.random() < loss:
                    c[1] += 1
                    continue
                c[0] += 1
                seq += 1
                heapq.heappush(queue, (time.monotonic() + delay, seq, peer[s], frame))
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, out, frame = heapq.heappop(queue)
            try:
                out.send(frame)
            except OSError as e:
                print(f"impair: send of {len(frame)} bytes failed: {e}", flush=True)
        if now >= next_report:
            next_report = now + 2
            print("impair: " + ", ".join(f"{k} forwarded {f} dropped {d}" for k, (f, d) in counts.items()), flush=True)


if __name__ == "__main__":
    main()
