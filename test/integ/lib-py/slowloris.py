#!/usr/bin/env python3
"""slowloris.py PORT N SECONDS READYFILE

Open N connections to 127.0.0.1:PORT, then send each an endless request
head one byte per second ("GET /v2/ HTTP/1.1\\r\\nHost: t\\r\\nX-Slow: aaa..."),
the first byte at once. Creates READYFILE once every connection is open and
has sent its first byte. Stops after SECONDS or when the server has closed
them all, and prints one JSON object: how many connected, how many the
server closed (EOF or reset) and the seconds from each connection's first
byte to its close (sorted). Used by t3700-slowloris.sh.
"""
import json
import os
import selectors
import socket
import sys
import time

HEAD = b"GET /v2/ HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 4096


def main():
    port, n, seconds, ready = (int(sys.argv[1]), int(sys.argv[2]),
                               float(sys.argv[3]), sys.argv[4])
    t_end = time.time() + seconds
    sel = selectors.DefaultSelector()
    conns = {}          # socket -> [bytes sent, first byte time]
    closed = []         # seconds from first byte to close
    failed = 0
    # Connect in batches so the listen backlog never overflows.
    for start in range(0, n, 200):
        batch = []
        for _ in range(start, min(n, start + 200)):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            batch.append(s)
        deadline = time.time() + 10
        pending = set(batch)
        while pending and time.time() < deadline:
            wsel = selectors.DefaultSelector()
            for s in pending:
                wsel.register(s, selectors.EVENT_WRITE)
            for key, _ in wsel.select(0.5):
                s = key.fileobj
                pending.discard(s)
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    failed += 1
                    s.close()
                    continue
                try:
                    s.send(HEAD[:1])
                except OSError:
                    failed += 1
                    s.close()
                    continue
                conns[s] = [1, time.time()]
                sel.register(s, selectors.EVENT_READ)
            wsel.close()
        for s in pending:
            failed += 1
            s.close()
    connected = len(conns)
    open(ready, "w").close()
    next_tick = time.time() + 1
    while conns and time.time() < t_end:
        for key, _ in sel.select(max(0, min(next_tick, t_end) - time.time())):
            s = key.fileobj
            try:
                b = s.recv(65536)
            except OSError:
                b = b""
            if not b:
                closed.append(time.time() - conns[s][1])
                sel.unregister(s)
                s.close()
                del conns[s]
        if time.time() >= next_tick:
            next_tick += 1
            for s, st in list(conns.items()):
                try:
                    s.send(HEAD[st[0]:st[0] + 1])
                    st[0] += 1
                except OSError:
                    closed.append(time.time() - st[1])
                    sel.unregister(s)
                    s.close()
                    del conns[s]
    for s in conns:
        s.close()
    closed.sort()
    print(json.dumps({"wanted": n, "connected": connected, "failed": failed,
                      "closed": len(closed), "still_open": len(conns),
                      "close_after": [round(x, 2) for x in closed]}))


if __name__ == "__main__":
    main()
