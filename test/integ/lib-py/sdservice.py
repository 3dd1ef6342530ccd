#!/usr/bin/env python3
"""sdservice.py MODE ARGS...: the service manager's side of sd_notify and
socket activation, for tests that run registryd without systemd.

notify ADDR OUT PORT
    Bind a datagram socket at ADDR (a path, or @name for an abstract
    socket) and append every message received to OUT, one line each, its
    newlines shown as ' | '. After a message with READY=1 it sends GET /v2/
    to 127.0.0.1:PORT at once and appends "probe: STATUS" (or "probe:
    refused"): readiness must mean the server answers. Runs until killed.
activate PORT [--pid-mismatch] -- CMD ARGS...
    Listen on 127.0.0.1:PORT, then exec CMD with that socket as fd 3 and
    LISTEN_FDS=1, LISTEN_PID=<its pid> (or a wrong pid with
    --pid-mismatch), as systemd does for registryd.socket.
Used by t0100-service.sh.
"""
import os
import socket
import sys


def probe(port):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        return "refused"
    try:
        s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Connection: close\r\n\r\n")
        data = b""
        while b"\r\n" not in data:
            b = s.recv(4096)
            if not b:
                break
            data += b
        parts = data.split(b" ", 2)
        return parts[1].decode() if len(parts) > 1 else "none"
    except OSError as e:
        return "error %s" % e
    finally:
        s.close()


def notify(addr, out, port):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
    while True:
        msg = s.recv(4096).decode(errors="replace")
        lines = [msg.replace("\n", " | ")]
        if "READY=1" in msg.split("\n"):
            lines.append("probe: %s" % probe(port))
        with open(out, "a") as f:
            f.write("\n".join(lines) + "\n")


def activate(port, mismatch, argv):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)
    if s.fileno() != 3:
        os.dup2(s.fileno(), 3)
        s.close()
    os.set_inheritable(3, True)
    env = dict(os.environ)
    env["LISTEN_FDS"] = "1"
    env["LISTEN_FDNAMES"] = "registryd.socket"
    env["LISTEN_PID"] = str(os.getpid() + (1 if mismatch else 0))
    os.execvpe(argv[0], argv, env)


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "notify":
        notify(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) >= 4 and sys.argv[1] == "activate":
        args = sys.argv[3:]
        mismatch = False
        if args and args[0] == "--pid-mismatch":
            mismatch = True
            args = args[1:]
        if not args or args[0] != "--" or len(args) < 2:
            sys.exit(__doc__)
        activate(int(sys.argv[2]), mismatch, args[1:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
