#!/usr/bin/env python3
"""soak.py PORT PID SECONDS WORKERS OUT.json

The soak driver for test/soak/soak.sh: WORKERS threads push (monolithic,
POST+PUT, chunked PATCHes), pull and delete images on 127.0.0.1:PORT for
SECONDS, while a sampler reads the server's VmRSS and descriptor count
(/proc/PID) every second. Then it checks that every push that completed
(its manifest PUT got 201) and was not deleted pulls byte-identical: the
manifest by tag equals the bytes pushed, every blob hashes to its digest
with the pushed size. Writes a JSON summary to OUT.json; exits 1 on any
unexpected answer.
"""
import hashlib
import http.client
import json
import os
import random
import sys
import threading
import time

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar"
REPOS = ["soak/r%d" % i for i in range(8)]

lock = threading.Lock()
live = []            # completed pushes not deleted
stats = {"push": 0, "pull": 0, "delete": 0, "list": 0, "errors": 0,
         "bytes_up": 0, "bytes_down": 0, "reconnects": 0}
errors = []          # first few unexpected answers
stop = threading.Event()


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def error(msg):
    with lock:
        stats["errors"] += 1
        if len(errors) < 20:
            errors.append(msg)


class Client:
    def __init__(self, port):
        self.port = port
        self.c = None

    def req(self, method, path, body=None, headers=None):
        """One request on the kept-alive connection; (status, headers, body)."""
        for attempt in (0, 1):
            if self.c is None:
                self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                with lock:
                    stats["reconnects"] += 1
            try:
                self.c.request(method, path, body=body, headers=headers or {})
                r = self.c.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.close()
                return r.status, r, data
            except (OSError, http.client.HTTPException) as e:
                self.close()
                # A kept-alive connection the server closed while idle may
                # fail once; retry only idempotent requests.
                if attempt == 0 and method in ("GET", "HEAD"):
                    continue
                raise RuntimeError("%s %s: %s" % (method, path, e))
        raise AssertionError("unreachable")

    def close(self):
        if self.c is not None:
            self.c.close()
            self.c = None


def upload(cl, repo, data):
    """Push one blob with a random method; returns its digest."""
    d = sha(data)
    how = random.random()
    octet = {"Content-Type": "application/octet-stream"}
    if how < 0.25:
        st, r, _ = cl.req("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, d), data, octet)
        if st != 201:
            raise RuntimeError("monolithic POST %s: %d" % (repo, st))
        return d
    st, r, _ = cl.req("POST", "/v2/%s/blobs/uploads/" % repo, b"")
    if st != 202:
        raise RuntimeError("POST upload %s: %d" % (repo, st))
    loc = r.getheader("Location")
    if how < 0.6:
        body = data
    else:
        # Chunked: up to four PATCHes with Content-Range, then an empty PUT.
        n = random.randint(1, 4)
        step = max(1, (len(data) + n - 1) // n)
        off = 0
        while off < len(data):
            part = data[off:off + step]
            h = dict(octet)
            h["Content-Range"] = "%d-%d" % (off, off + len(part) - 1)
            st, r, _ = cl.req("PATCH", loc, part, h)
            if st != 202:
                raise RuntimeError("PATCH %s: %d" % (repo, st))
            loc = r.getheader("Location")
            off += len(part)
        body = b""
    sep = "&" if "?" in loc else "?"
    st, r, _ = cl.req("PUT", "%s%sdigest=%s" % (loc, sep, d), body, octet)
    if st != 201:
        raise RuntimeError("PUT blob %s: %d" % (repo, st))
    return d


def op_push(cl, wid, n):
    repo = random.choice(REPOS)
    size = random.choice([1024, 50000, 300000, 1 << 20, 3 << 20])
    layer = os.urandom(size)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [sha(layer)]},
                         "nonce": os.urandom(8).hex()}).encode()
    blobs = []
    for b in (layer, config):
        blobs.append((upload(cl, repo, b), len(b)))
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": blobs[1][0], "size": blobs[1][1]},
        "layers": [{"mediaType": MT_LAYER, "digest": blobs[0][0], "size": blobs[0][1]}],
    }).encode()
    tag = "w%d-%d" % (wid, n)
    st, r, body = cl.req("PUT", "/v2/%s/manifests/%s" % (repo, tag), manifest,
                         {"Content-Type": MT_MANIFEST})
    if st != 201:
        raise RuntimeError("PUT manifest %s:%s: %d %s" % (repo, tag, st, body[:200]))
    with lock:
        live.append({"repo": repo, "tag": tag, "manifest": manifest.decode(),
                     "digest": sha(manifest), "blobs": blobs, "deleted": False})
        stats["push"] += 1
        stats["bytes_up"] += size


def verify(cl, p, during_load):
    """Pull p; returns None when it is byte-identical, else a message. During
    load a concurrent delete may remove it: then a 404 is fine."""
    st, r, body = cl.req("GET", "/v2/%s/manifests/%s" % (p["repo"], p["tag"]),
                         headers={"Accept": MT_MANIFEST})
    if st == 404 and during_load and p["deleted"]:
        return None
    if st != 200 or body != p["manifest"].encode():
        return "manifest %s:%s: %d" % (p["repo"], p["tag"], st)
    for d, size in p["blobs"]:
        st, r, body = cl.req("GET", "/v2/%s/blobs/%s" % (p["repo"], d))
        if st == 404 and during_load and p["deleted"]:
            return None
        if st != 200 or len(body) != size or sha(body) != d:
            return "blob %s@%s: %d, %d bytes" % (p["repo"], d, st, len(body))
        with lock:
            stats["bytes_down"] += size
    return None


def op_pull(cl):
    with lock:
        if not live:
            return
        p = random.choice(live)
    msg = verify(cl, p, True)
    if msg:
        raise RuntimeError("pull: " + msg)
    with lock:
        stats["pull"] += 1


def op_delete(cl):
    with lock:
        if len(live) < 10:
            return
        p = live.pop(random.randrange(len(live)))
        p["deleted"] = True
    st, r, body = cl.req("DELETE", "/v2/%s/manifests/%s" % (p["repo"], p["digest"]))
    if st != 202:
        raise RuntimeError("DELETE manifest %s: %d %s" % (p["repo"], st, body[:200]))
    for d, _ in p["blobs"]:
        st, r, body = cl.req("DELETE", "/v2/%s/blobs/%s" % (p["repo"], d))
        if st != 202:
            raise RuntimeError("DELETE blob %s: %d %s" % (p["repo"], st, body[:200]))
    for path in ("/v2/%s/manifests/%s" % (p["repo"], p["tag"]),
                 "/v2/%s/manifests/%s" % (p["repo"], p["digest"]),
                 "/v2/%s/blobs/%s" % (p["repo"], p["blobs"][0][0])):
        st, r, body = cl.req("GET", path)
        if st != 404:
            raise RuntimeError("after delete, GET %s: %d" % (path, st))
    with lock:
        stats["delete"] += 1


def op_list(cl):
    repo = random.choice(REPOS)
    st, r, body = cl.req("GET", "/v2/%s/tags/list" % repo)
    if st not in (200, 404):
        raise RuntimeError("tags/list %s: %d" % (repo, st))
    st, r, body = cl.req("GET", "/v2/_catalog?n=100")
    if st != 200:
        raise RuntimeError("catalog: %d" % st)
    with lock:
        stats["list"] += 1


def worker(port, wid):
    cl = Client(port)
    n = 0
    while not stop.is_set():
        n += 1
        x = random.random()
        try:
            if x < 0.40:
                op_push(cl, wid, n)
            elif x < 0.75:
                op_pull(cl)
            elif x < 0.90:
                op_delete(cl)
            else:
                op_list(cl)
        except Exception as e:
            error("worker %d: %s" % (wid, e))
            cl.close()
        # Churn connections now and then (descriptor leaks show up).
        if random.random() < 0.05:
            cl.close()
    cl.close()


def proc_sample(pid):
    rss = -1
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return rss, len(os.listdir("/proc/%d/fd" % pid))


def main():
    port, pid, seconds, nworkers, out = (int(sys.argv[1]), int(sys.argv[2]),
                                         float(sys.argv[3]), int(sys.argv[4]),
                                         sys.argv[5])
    rss0, fd0 = proc_sample(pid)
    samples = []

    def sampler():
        t0 = time.time()
        while not stop.is_set():
            r, f = proc_sample(pid)
            samples.append((round(time.time() - t0, 1), r, f))
            stop.wait(1)

    smp = threading.Thread(target=sampler)
    smp.start()
    ws = [threading.Thread(target=worker, args=(port, i)) for i in range(nworkers)]
    for w in ws:
        w.start()
    time.sleep(seconds)
    stop.set()
    for w in ws:
        w.join(120)
    smp.join(5)
    hung = sum(w.is_alive() for w in ws)

    # Every completed push that was not deleted pulls byte-identical.
    todo = list(live)
    bad = []

    def check(part):
        cl = Client(port)
        for p in part:
            try:
                m = verify(cl, p, False)
            except Exception as e:
                m = str(e)
            if m:
                bad.append(m)
        cl.close()

    vs = [threading.Thread(target=check, args=(todo[i::8],)) for i in range(8)]
    for v in vs:
        v.start()
    for v in vs:
        v.join(600)

    # Descriptors back to the baseline once every client has gone.
    fd_end = None
    for _ in range(50):
        fd_end = proc_sample(pid)[1]
        if fd_end <= fd0 + 2:
            break
        time.sleep(0.2)
    rss_end = proc_sample(pid)[0]
    warm = min(10, max(1, int(seconds / 6)))
    load = [s for s in samples if s[0] >= warm] or samples
    res = {
        "seconds": seconds, "workers": nworkers, "stats": stats,
        "completed_pushes": stats["push"], "deleted": stats["delete"],
        "verified": len(todo), "verify_failures": len(bad),
        "verify_errors": bad[:20], "errors": errors, "hung_workers": hung,
        "rss_kib": {"before_load": rss0, "first": load[0][1], "last": load[-1][1],
                    "max": max(s[1] for s in samples), "after_verify": rss_end,
                    "first_at_s": load[0][0], "samples": len(samples)},
        "fds": {"baseline": fd0, "max": max(s[2] for s in samples), "end": fd_end},
    }
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    with open(out + ".samples", "w") as f:
        for s in samples:
            f.write("%s %d %d\n" % s)
    ok = (stats["errors"] == 0 and not bad and hung == 0 and stats["push"] > 0
          and res["rss_kib"]["last"] <= res["rss_kib"]["first"] + 8192
          and fd_end <= fd0 + 2 and fd_end >= fd0 - 2)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
