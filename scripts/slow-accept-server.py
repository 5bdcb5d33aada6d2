#!/usr/bin/env python3
"""An endpoint that accepts one connection at a time (listen backlog 1) and answers each streamed
chat request after 300 ms: once its accept queue is full, new connections wait for the kernel to
retry their SYN a second later. It shows how redline tells an endpoint slow to accept connections
(`slow_accept`, `accept_wait_s`) from a client that fell behind its schedule. 127.0.0.1 only.

    python3 scripts/slow-accept-server.py 18690 &
    redline --endpoint http://127.0.0.1:18690 --model m --dataset data/conversations.json \
        --qps 8 --duration 1 --no-preflight --timeout 40
"""
import socket
import sys
import time

BODY = b'data: {"choices":[{"delta":{"content":"x"}}]}\n\ndata: [DONE]\n\n'


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        rest += chunk


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 18690
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(1)
    while True:
        conn, _ = server.accept()
        with conn:
            read_request(conn)
            time.sleep(0.3)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n" % len(BODY)
                + BODY
            )


if __name__ == "__main__":
    main()
