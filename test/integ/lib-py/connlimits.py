#!/usr/bin/env python3
"""connlimits.py MODE PORT ...: connection limits of registryd on
127.0.0.1:PORT, from chosen loopback source addresses. Prints one JSON
object. Used by t3650-conn-limits.sh.

  hold PORT SRC N OTHER
      Open N connections from SRC that send nothing and keep them; after
      0.5 s count how many the server already answered or closed
      ("refused_held"). Then one more from SRC ("extra"): what the server
      sends at once (a refusal) or, when it sends nothing within 1 s, the
      answer to GET /v2/ on it. Then GET /v2/ from OTHER ("other"). Status
      is the HTTP status, "close" (closed without one) or "timeout"; a
      refusal's OCI error code is "extra_code".
  silent PORT N SECONDS
      Open N connections that send nothing; print the seconds until the
      server closed each (null when it had not after SECONDS).
  keepalive PORT WAIT
      GET /v2/, wait WAIT seconds on the open connection, GET /v2/ again:
      the two statuses.
"""
import json
import selectors
import socket
import sys
import time

GET = b"GET /v2/ HTTP/1.1\r\nHost: t\r\n\r\n"


def connect(port, src="127.0.0.1"):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    return s


def read_response(s, timeout=5, until_eof=False):
    """(status, body) of one response on s; "close" or "timeout"."""
    s.settimeout(timeout)
    buf = b""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0 and not until_eof:
            head = buf[:end].decode("latin-1").split("\r\n")
            clen = 0
            for line in head[1:]:
                k, _, v = line.partition(":")
                if k.strip().lower() == "content-length":
                    clen = int(v.strip())
            if len(buf) >= end + 4 + clen:
                return head[0].split(" ")[1], buf[end + 4:end + 4 + clen]
        try:
            b = s.recv(65536)
        except socket.timeout:
            return "timeout", b""
        except OSError:
            b = b""
        if not b:
            if buf.startswith(b"HTTP/1.1 ") and end >= 0:
                return buf.split(b" ")[1].decode(), buf[end + 4:]
            return "close", b""
        buf += b


def code_of(body):
    try:
        return json.loads(body)["errors"][0]["code"]
    except Exception:
        return "-"


def hold(port, src, n, other):
    held = [connect(port, src) for _ in range(n)]
    time.sleep(0.5)
    sel = selectors.DefaultSelector()
    for s in held:
        sel.register(s, selectors.EVENT_READ)
    refused_held = len(sel.select(0))
    out = {"held": n, "refused_held": refused_held}
    x = connect(port, src)
    xs = selectors.DefaultSelector()
    xs.register(x, selectors.EVENT_READ)
    if xs.select(1):
        st, body = read_response(x, until_eof=True)
    else:
        x.sendall(GET)
        st, body = read_response(x)
    out["extra"], out["extra_code"] = st, code_of(body)
    o = connect(port, other)
    o.sendall(GET)
    out["other"] = read_response(o)[0]
    for s in held + [x, o]:
        s.close()
    return out


def silent(port, n, seconds):
    t0 = time.time()
    conns = [connect(port) for _ in range(n)]
    sel = selectors.DefaultSelector()
    for i, s in enumerate(conns):
        sel.register(s, selectors.EVENT_READ, i)
    closed = [None] * n
    while None in closed and time.time() < t0 + seconds:
        for key, _ in sel.select(0.2):
            s = key.fileobj
            try:
                b = s.recv(4096)
            except OSError:
                b = b""
            if not b:
                closed[key.data] = round(time.time() - t0, 2)
                sel.unregister(s)
    for s in conns:
        s.close()
    return {"closed_after": closed}


def keepalive(port, wait):
    s = connect(port)
    s.sendall(GET)
    first = read_response(s)[0]
    time.sleep(wait)
    try:
        s.sendall(GET)
        second = read_response(s)[0]
    except OSError:
        second = "close"
    return {"first": first, "second": second}


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    a = sys.argv[3:]
    if mode == "hold":
        out = hold(port, a[0], int(a[1]), a[2])
    elif mode == "silent":
        out = silent(port, int(a[0]), float(a[1]))
    elif mode == "keepalive":
        out = keepalive(port, float(a[0]))
    else:
        sys.exit("unknown mode " + mode)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
