#!/usr/bin/env python3
"""referrers.py gen ROOT NAME SUBJECT COUNT [START]
referrers.py race PORT SLOWPATH K FASTPATH [DELAY_MS]

gen: write COUNT OCI artifact manifests whose subject is SUBJECT into
repository NAME of the registry:2 tree under ROOT the way registry:2
stores a manifest PUT (the blob's data, the revision link, the empty
config blob and its layer link), without registryd's referrers index.
Manifest i (from START, default 0) has artifactType
application/vnd.example.sig when i is odd, else .sbom, and the
annotation org.example.seq = i. Prints the digests, one a line.

race: send K requests GET SLOWPATH on K connections to 127.0.0.1:PORT,
then, once all are sent and DELAY_MS (default 20) have passed, GET
FASTPATH on another; read every response whole. Prints one JSON object:
"fast" (seconds from its send to its last byte), "slow" (the same for
each of the K, in completion order), "fast_first" (true when the fast
response was complete before any slow one), "fast_before_any" (true
when it was complete before the first byte of any slow one, which a
big slow response sent in many writes cannot blur), "statuses" and
"sizes" (of the slow
bodies: how many entries their "manifests", "tags" or "repositories"
list). Used by t3100-referrers.sh and t3060-big-listings.sh to show that
long queries do not hold the event loop: a server that ran them on the
loop answers the fast request after them all, however quick it is.
"""
import hashlib
import json
import os
import selectors
import socket
import sys
import time

EMPTY = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_EMPTY = "application/vnd.oci.empty.v1+json"


def put(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".gen.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def gen(root, name, subject, count, start):
    v2 = os.path.join(root, "docker/registry/v2")
    repo = os.path.join(v2, "repositories", name)
    put(os.path.join(v2, "blobs/sha256", EMPTY[7:9], EMPTY[7:], "data"), b"{}")
    put(os.path.join(repo, "_layers/sha256", EMPTY[7:], "link"), EMPTY.encode())
    for i in range(start, start + count):
        m = {
            "schemaVersion": 2,
            "mediaType": MT_MANIFEST,
            "artifactType": "application/vnd.example."
            + ("sig" if i % 2 else "sbom"),
            "config": {"mediaType": MT_EMPTY, "digest": EMPTY, "size": 2},
            "layers": [{"mediaType": MT_EMPTY, "digest": EMPTY, "size": 2}],
            "subject": {"mediaType": MT_MANIFEST, "digest": subject, "size": 100},
            "annotations": {"org.example.seq": str(i)},
        }
        b = json.dumps(m, separators=(",", ":")).encode()
        h = hashlib.sha256(b).hexdigest()
        put(os.path.join(v2, "blobs/sha256", h[:2], h, "data"), b)
        put(os.path.join(repo, "_manifests/revisions/sha256", h, "link"),
            ("sha256:" + h).encode())
        print("sha256:" + h)


class Exchange:
    """One request on its own connection, and its response as it comes."""

    def __init__(self, port, path):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Connection: close\r\n\r\n" % path).encode()
        self.buf = b""
        self.sent = None
        self.first = None
        self.done = None

    def send(self):
        self.sock.sendall(self.req)
        self.sent = time.monotonic()
        self.sock.setblocking(False)

    def feed(self):
        """Read what is there; True once the server closed."""
        try:
            data = self.sock.recv(1 << 20)
        except BlockingIOError:
            return False
        if data:
            if self.first is None:
                self.first = time.monotonic()
            self.buf += data
            return False
        self.done = time.monotonic()
        self.sock.close()
        return True

    def status(self):
        line = self.buf.split(b"\r\n", 1)[0].split()
        return int(line[1]) if len(line) > 1 else 0

    def body(self):
        return self.buf.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in self.buf else b""


def entries(answer):
    """How many entries a listing answer lists."""
    for key in ("manifests", "tags", "repositories"):
        if isinstance(answer.get(key), list):
            return len(answer[key])
    return 0


def race(port, slowpath, k, fastpath, delay_ms=20):
    slow = [Exchange(port, slowpath) for _ in range(k)]
    for x in slow:
        x.send()
    time.sleep(delay_ms / 1000)
    fast = Exchange(port, fastpath)
    fast.send()
    sel = selectors.DefaultSelector()
    for x in slow + [fast]:
        sel.register(x.sock, selectors.EVENT_READ, x)
    left = k + 1
    deadline = time.monotonic() + 120
    while left > 0 and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            if key.data.feed():
                sel.unregister(key.fileobj)
                left -= 1
    order = sorted(slow, key=lambda x: x.done or float("inf"))
    first_slow = min((x.done for x in slow if x.done), default=float("inf"))
    start_slow = min((x.first for x in slow if x.first),
                     default=float("inf"))
    print(json.dumps({
        "fast": round(fast.done - fast.sent, 4) if fast.done else None,
        "fast_status": fast.status(),
        "slow": [round(x.done - x.sent, 4) if x.done else None for x in order],
        "fast_first": fast.done is not None and fast.done < first_slow,
        "fast_before_any": fast.done is not None and fast.done < start_slow,
        "statuses": [x.status() for x in order],
        "sizes": [entries(json.loads(x.body() or b"{}")) for x in order],
    }))


def main():
    if len(sys.argv) >= 6 and sys.argv[1] == "gen":
        gen(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]),
            int(sys.argv[6]) if len(sys.argv) > 6 else 0)
    elif len(sys.argv) in (6, 7) and sys.argv[1] == "race":
        race(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5],
             float(sys.argv[6]) if len(sys.argv) > 6 else 20)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
