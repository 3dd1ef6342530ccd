#!/usr/bin/env python3
"""abandon.py PORT REQFILE KEEP

Send the bytes of REQFILE to 127.0.0.1:PORT, read until KEEP bytes of the
answer came (KEEP 0: read nothing, wait 0.5 s so that the server has the
request), then walk away: close with unread data, reset (SO_LINGER 0).
The socket asks for a small MSS and receive buffer, so that the server
cannot hand a whole blob to the kernel at once. Prints the bytes read.
Used by t3550-access-log.sh.
"""
import socket
import struct
import sys
import time


def main():
    port, path, keep = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    s = socket.socket()
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1000)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    s.sendall(open(path, "rb").read())
    got = 0
    if keep == 0:
        time.sleep(0.5)
    while got < keep:
        b = s.recv(min(4096, keep - got))
        if not b:
            break
        got += len(b)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    print(got)


if __name__ == "__main__":
    main()
