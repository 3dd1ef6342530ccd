"""httpsock: the plain-socket pieces the Python test helpers share.

Import it from a script in this directory (its directory is on sys.path),
or from inline Python in a test with PYTHONPATH=$TEST_DIRECTORY/integ/lib-py.
"""
import socket

# A request for the base endpoint that asks the server to close after it.
GET_V2 = b"GET /v2/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"


def connect(port, timeout=10):
    """A connection to the server under test on 127.0.0.1:port."""
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def read_to_eof(s):
    """Every byte the peer sends until it closes its side."""
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            return out
        out += b
