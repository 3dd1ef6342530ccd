#!/usr/bin/env python3
"""rawreq.py PORT REQFILE BODYOUT [TIMEOUT]
rawreq.py PORT --serve


Send the bytes of REQFILE to 127.0.0.1:PORT on one connection, reading
while sending (so an early reply and close does not lose the response),
and parse the first HTTP response. Prints its status code on stdout, or
"close" when the server closed (or reset) the connection without a
complete status line. The first response's body goes to BODYOUT. Exits 0
unless the server stayed silent for TIMEOUT seconds (default 10): then it
prints "timeout" and exits 2. With --serve it reads lines
"REQFILE BODYOUT TIMEOUT" on stdin and answers each with one line (the
status, "close" or "timeout"), so that a shell coprocess pays Python's start
once. A fourth field ROOT adds three answer fields: the first OCI error code
of the body (or -), the status of a GET /v2/ sent afterwards (the server is
still up), and how many paths appeared or vanished under ROOT outside
_uploads directories (listed in BODYOUT.diff). Used by t3600-hostile.sh.
"""
import json
import os
import selectors
import socket
import sys
import time

import httpsock


def tree(root):
    """Every path under root, except what lies in _uploads directories."""
    out = set()
    for d, dirs, files in os.walk(root):
        if "_uploads" in dirs:
            dirs.remove("_uploads")
        for n in dirs + files:
            out.add(os.path.join(d, n))
    return out


def first_code(path):
    try:
        return json.load(open(path, "rb"))["errors"][0]["code"]
    except Exception:
        return "-"


def alive(port):
    """Status of GET /v2/ on a new connection, or "down"."""
    try:
        s = httpsock.connect(port, 5)
        s.sendall(httpsock.GET_V2)
        buf = httpsock.read_to_eof(s)
        s.close()
        return buf.split(b" ", 2)[1].decode()
    except Exception:
        return "down"


def parse(buf):
    """(status, body) when buf holds a complete first response, else None.
    A response without Content-Length ends at EOF (handled by the caller)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end].decode("latin-1").split("\r\n")
    parts = head[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        return ("garbage", b"")
    status = parts[1]
    clen = None
    for line in head[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            try:
                clen = int(v.strip())
            except ValueError:
                return (status, b"")
    if status.startswith("1"):          # 100 Continue: skip it
        rest = parse(buf[end + 4:])
        return rest
    if clen is None:
        return None
    body = buf[end + 4:end + 4 + clen]
    if len(body) < clen:
        return None
    return (status, body)


def one(port, path, out, timeout):
    """Send one request file; returns the status string."""
    data = open(path, "rb").read()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    sent, buf, eof = 0, b"", False
    last = time.time()
    result = None
    while True:
        if time.time() - last > timeout:
            s.close()
            return "timeout"
        for key, ev in sel.select(0.2):
            if ev & selectors.EVENT_READ:
                try:
                    b = s.recv(1 << 20)
                except (ConnectionResetError, BrokenPipeError):
                    b = b""
                except BlockingIOError:
                    continue
                last = time.time()
                if not b:
                    eof = True
                buf += b
            if ev & selectors.EVENT_WRITE and not eof:
                try:
                    n = s.send(data[sent:sent + (1 << 20)])
                    sent += n
                    last = time.time()
                except BlockingIOError:
                    pass
                except OSError:
                    # The server closed or reset: keep reading what it said.
                    sent = len(data)
                if sent >= len(data):
                    sel.modify(s, selectors.EVENT_READ)
        result = parse(buf)
        if result is not None or eof:
            break
    s.close()
    if result is None:
        # EOF: a response without Content-Length ends here.
        end = buf.find(b"\r\n\r\n")
        if buf.startswith(b"HTTP/") and end >= 0:
            result = (buf.split(b" ", 2)[1].decode(), buf[end + 4:])
        else:
            result = ("close", b"")
    with open(out, "wb") as f:
        f.write(result[1])
    return result[0]


def main():
    port = int(sys.argv[1])
    if sys.argv[2] == "--serve":
        for line in sys.stdin:
            f = line.split()
            path, out, timeout = f[:3]
            before = tree(f[3]) if len(f) > 3 else None
            try:
                r = one(port, path, out, float(timeout))
            except OSError as e:
                r = "error:%s" % e.__class__.__name__
            if before is not None:
                after = tree(f[3])
                diff = sorted(["+" + p for p in after - before] +
                              ["-" + p for p in before - after])
                with open(out + ".diff", "w") as fd:
                    fd.write("".join(p + "\n" for p in diff))
                r = "%s %s %s %d" % (r, first_code(out), alive(port), len(diff))
            print(r, flush=True)
        return
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0
    r = one(port, sys.argv[2], sys.argv[3], timeout)
    print(r)
    sys.exit(2 if r == "timeout" else 0)


if __name__ == "__main__":
    main()
