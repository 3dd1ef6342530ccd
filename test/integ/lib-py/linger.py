#!/usr/bin/env python3
"""linger.py PORT INTERVAL SECONDS

Send GET /v2/ with "Connection: close" to 127.0.0.1:PORT, read the reply
up to the server's EOF (it shuts its write side and lingers), then keep
sending one byte every INTERVAL seconds, as a client that never stops
talking would. Stops when a send or receive fails (the server closed the
connection: reset) or after SECONDS, and prints one JSON object: the
reply's status and "closed_after", the seconds from the reply's end to
the close (null: still open after SECONDS). Used by t3700-slowloris.sh.
"""
import json
import sys
import time

import httpsock


def main():
    port, interval, seconds = (int(sys.argv[1]), float(sys.argv[2]),
                               float(sys.argv[3]))
    s = httpsock.connect(port)
    s.sendall(httpsock.GET_V2)
    reply = httpsock.read_to_eof(s)
    t0 = time.monotonic()
    closed = None
    while time.monotonic() - t0 < seconds:
        try:
            s.send(b"x")
            time.sleep(interval)
            # A reset shows on the next call; an EOF again means nothing.
            s.setblocking(False)
            try:
                s.recv(1)
            except BlockingIOError:
                pass
            s.setblocking(True)
        except OSError:
            closed = round(time.monotonic() - t0, 2)
            break
    s.close()
    line = reply.split(b"\r\n", 1)[0].split()
    print(json.dumps({
        "status": int(line[1]) if len(line) > 1 else 0,
        "closed_after": closed,
    }))


if __name__ == "__main__":
    main()
