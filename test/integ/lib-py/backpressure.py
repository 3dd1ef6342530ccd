#!/usr/bin/env python3
"""backpressure.py MODE PORT ARGS...

stall PORT PATH PID SECONDS READ_MIB
    GET PATH with a 4 KiB receive buffer and read nothing for SECONDS while
    sampling the server's VmRSS (/proc/PID/status) every 0.25 s and checking
    that GET /v2/ on another connection still answers; then read READ_MIB
    MiB of the body (checking the status line and that the bytes are zeros)
    and close. Prints JSON: rss_before_kib, rss_max_kib, rss_after_kib,
    side_ok, status, read.
slow-body PORT PATH CHUNKS INTERVAL
    PATCH PATH with Content-Length CHUNKS * 64 KiB, sending one 64 KiB
    piece every INTERVAL seconds; prints the response.
stop-body PORT PATH WAIT
    PATCH PATH announcing 1 MiB, send 64 KiB, then nothing; prints JSON with
    the seconds until the server closed (or null after WAIT s) and what it
    sent.
Used by t3800-backpressure.sh.
"""
import json
import socket
import sys
import time


def rss(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def side_get(port):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        b = s.recv(100)
        s.close()
        return b.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def stall(port, path, pid, seconds, read_mib):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    before = rss(pid)
    s.sendall(("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path).encode())
    mx, side_ok = before, True
    t_end = time.time() + seconds
    while time.time() < t_end:
        time.sleep(0.25)
        mx = max(mx, rss(pid))
        side_ok = side_ok and side_get(port)
    after = rss(pid)
    s.settimeout(20)
    want = read_mib << 20
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        if not b:
            break
        buf += b
    head, _, body = buf.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1].decode() if head else "none"
    n, zeros = len(body), body.count(0) == len(body)
    while n < want:
        b = s.recv(1 << 20)
        if not b:
            break
        n += len(b)
        zeros = zeros and b.count(0) == len(b)
    s.close()
    return {"rss_before_kib": before, "rss_max_kib": mx, "rss_after_kib": after,
            "side_ok": side_ok, "status": status, "read": n, "zeros": zeros}


def head_and_read(s):
    out = b""
    while True:
        try:
            b = s.recv(65536)
        except OSError:
            break
        if not b:
            break
        out += b
    return out


def slow_body(port, path, chunks, interval):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(("PATCH %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
               "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
               % (path, chunks * 65536)).encode())
    for i in range(chunks):
        time.sleep(interval)
        s.sendall(b"x" * 65536)
    sys.stdout.buffer.write(head_and_read(s))


def stop_body(port, path, wait):
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    s.sendall(("PATCH %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
               "Content-Type: application/octet-stream\r\n\r\n"
               % (path, 1 << 20)).encode())
    s.sendall(b"x" * 65536)
    t0 = time.time()
    try:
        out = head_and_read(s)
        after = round(time.time() - t0, 2)
    except socket.timeout:
        out, after = b"", None
    return {"closed_after": after, "response": out[:200].decode("latin-1")}


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    a = sys.argv[3:]
    if mode == "stall":
        print(json.dumps(stall(port, a[0], int(a[1]), float(a[2]), int(a[3]))))
    elif mode == "slow-body":
        slow_body(port, a[0], int(a[1]), float(a[2]))
    elif mode == "stop-body":
        print(json.dumps(stop_body(port, a[0], float(a[1]))))


if __name__ == "__main__":
    main()
