#!/usr/bin/env python3
"""manifest_hold.py PORT PID N SIZE

Open N connections to 127.0.0.1:PORT, each sending a manifest PUT
(Content-Length: SIZE) and all of its body but the last byte, then one more
connection that sends the same request head. While they are all open, read
the server's VmRSS (from /proc/PID/status) and whatever each connection got
back. Prints one JSON object:

  rss_before, rss_held   VmRSS in KiB before the first connection and with
                         all of them open
  answered               how many of the N connections got an answer
                         before or while sending their body (nothing is
                         expected while they fit: their bodies are
                         incomplete); such a connection stops sending
  statuses               the status codes of those answers
  extra                  the first line and the Retry-After value of the
                         answer to connection N+1, and its body

Then closes every connection. Used by t3150-manifest-memory.sh.
"""
import json
import select
import socket
import sys
import time


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def head(i, size):
    return ("PUT /v2/hold/img/manifests/t%d HTTP/1.1\r\nHost: t\r\n"
            "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n"
            "Content-Length: %d\r\n\r\n" % (i, size)).encode()


def send_or_answer(s, data, seconds=30):
    """Send data unless the server answers first: None when all was sent,
    else the status code of the answer (0 when the connection failed)."""
    s.setblocking(False)
    off, deadline = 0, time.time() + seconds
    while off < len(data) and time.time() < deadline:
        r, w, _ = select.select([s], [s], [], 1)
        if r:
            return status_of(s)
        if w:
            try:
                off += s.send(data[off:off + 262144])
            except BlockingIOError:
                pass
            except OSError:
                return status_of(s)
    if off < len(data):
        return 0
    r, _, _ = select.select([s], [], [], 0.2)
    return status_of(s) if r else None


def status_of(s):
    s.settimeout(5)
    try:
        line = s.recv(65536).split(b"\r\n", 1)[0].split()
        return int(line[1]) if len(line) > 1 else 0
    except (OSError, ValueError):
        return 0


def main():
    port, pid, n, size = (int(sys.argv[1]), int(sys.argv[2]),
                          int(sys.argv[3]), int(sys.argv[4]))
    body = b"{" + b" " * (size - 2)     # size - 1 bytes: never complete
    out = {"rss_before": rss(pid)}
    conns, statuses = [], []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        st = send_or_answer(s, head(i, size) + body)
        if st is not None:
            statuses.append(st)
        conns.append(s)
    time.sleep(0.5)                     # let the server read it all
    out["rss_held"] = rss(pid)
    for s in conns:
        s.setblocking(False)
        try:
            if s.recv(1) != b"":
                statuses.append(-1)     # a late answer
        except (BlockingIOError, OSError):
            pass
    out["answered"] = len(statuses)
    out["statuses"] = statuses
    x = socket.create_connection(("127.0.0.1", port), timeout=10)
    x.sendall(head(n, size))
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            b = x.recv(65536)
            if not b:
                break
            data += b
        h, _, rest = data.partition(b"\r\n\r\n")
        lines = h.decode("latin-1").split("\r\n")
        hdrs = {k.strip().lower(): v.strip() for k, _, v in
                (l.partition(":") for l in lines[1:])}
        cl = int(hdrs.get("content-length", "0"))
        while len(rest) < cl:
            b = x.recv(65536)
            if not b:
                break
            rest += b
        out["extra"] = {"status_line": lines[0],
                        "retry_after": hdrs.get("retry-after"),
                        "body": rest[:cl].decode("latin-1")}
    except OSError as e:
        out["extra"] = {"error": str(e)}
    x.close()
    for s in conns:
        s.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
