#!/usr/bin/env python3
"""gcpush.py PORT SECONDS WORKERS OUT.json

Pushes while garbage collection runs (t6000-gc.sh). WORKERS threads, each
on its own keep-alive connection to 127.0.0.1:PORT, for SECONDS:

  fresh    upload a random layer and config, PUT a manifest (tag t<n>)
  reuse    take a layer whose manifest was deleted (so: unreferenced,
           garbage for the collector), HEAD it (200: the client skips the
           upload), wait 0-1.5 s as a client uploading other layers would,
           then PUT a manifest referencing it; or mount it from its
           repository into another one first (POST ?mount=&from=)
  delete   DELETE an acknowledged manifest by digest: its layer becomes
           garbage, and a candidate for reuse
  orphan   upload a blob nothing will reference

A PUT answered 201 is an acknowledged push. One refused with
MANIFEST_BLOB_UNKNOWN (the collector took the layer before the push
touched it) is counted; the worker uploads the layer again and retries,
as a client would. At the end every acknowledged push that was not
deleted is pulled back: the manifest by digest and every blob, whose
bytes must hash to their digest. OUT.json gets the counts and the
failures; the exit status is 1 when any acknowledged push is not
pullable.
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


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


class Client:
    def __init__(self, port):
        self.port = port
        self.conn = None

    def req(self, method, path, body=None, headers=None):
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(
                        "127.0.0.1", self.port, timeout=30)
                self.conn.request(method, path, body=body,
                                  headers=headers or {})
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, dict(r.getheaders()), data
            except (OSError, http.client.HTTPException):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.05)

    def upload(self, repo, data):
        d = sha(data)
        st, _, body = self.req(
            "POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, d), data,
            {"Content-Type": "application/octet-stream"})
        if st != 201:
            raise RuntimeError("upload %s: %d %s" % (repo, st, body[:200]))
        return d

    def manifest(self, repo, ref, cfg, layer):
        m = json.dumps({
            "schemaVersion": 2, "mediaType": MT_MANIFEST,
            "config": {"mediaType": MT_CONFIG, "digest": cfg[0],
                       "size": cfg[1]},
            "layers": [{"mediaType": MT_LAYER, "digest": layer[0],
                        "size": layer[1]}]}).encode()
        st, _, body = self.req("PUT", "/v2/%s/manifests/%s" % (repo, ref), m,
                               {"Content-Type": MT_MANIFEST})
        code = None
        if st != 201:
            try:
                code = json.loads(body)["errors"][0]["code"]
            except (ValueError, KeyError, IndexError):
                code = "?"
        return st, sha(m), code


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}      # manifest digest -> (repo, [blob digests])
        self.garbage = []    # (repo, digest, bytes) of unreferenced layers
        self.counts = {"fresh": 0, "reuse": 0, "mount": 0, "delete": 0,
                       "orphan": 0, "refused": 0, "head_404": 0}
        self.errors = []

    def count(self, k):
        with self.lock:
            self.counts[k] += 1


def worker(port, deadline, st, wid):
    c = Client(port)
    rnd = random.Random(wid * 7919 + os.getpid())
    n = 0
    while time.time() < deadline:
        n += 1
        repo = "gc/w%d" % (wid % 3)
        try:
            act = rnd.random()
            with st.lock:
                have_garbage = len(st.garbage) > 0
                have_acked = len(st.acked) > 0
            if act < 0.35 or (act < 0.75 and not have_garbage):
                layer = os.urandom(rnd.randint(100, 5000))
                ld = c.upload(repo, layer)
                cfg = ("%d-%d-%f" % (wid, n, time.time())).encode()
                cd = c.upload(repo, cfg)
                code, md, err = c.manifest(repo, "t%d-%d" % (wid, n),
                                           (cd, len(cfg)), (ld, len(layer)))
                if code != 201:
                    raise RuntimeError("fresh PUT: %d %s" % (code, err))
                with st.lock:
                    st.acked[md] = (repo, [cd, ld], layer)
                st.count("fresh")
            elif act < 0.75:
                with st.lock:
                    g = st.garbage.pop(rnd.randrange(len(st.garbage)))
                grepo, ld, layer = g
                target = grepo
                if rnd.random() < 0.3:
                    target = "gc/m%d" % wid
                    s, _, _ = c.req(
                        "POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" %
                        (target, ld, grepo), b"")
                    if s != 201:
                        st.count("head_404")
                        c.upload(target, layer)
                    else:
                        st.count("mount")
                else:
                    s, _, _ = c.req("HEAD", "/v2/%s/blobs/%s" % (target, ld))
                    if s != 200:
                        st.count("head_404")
                        c.upload(target, layer)
                # A client uploads its other layers meanwhile.
                time.sleep(rnd.uniform(0, 1.5))
                cfg = ("%d-%d-%f" % (wid, n, time.time())).encode()
                cd = c.upload(target, cfg)
                for attempt in range(2):
                    code, md, err = c.manifest(target, "r%d-%d" % (wid, n),
                                               (cd, len(cfg)),
                                               (ld, len(layer)))
                    if code == 201:
                        break
                    if err != "MANIFEST_BLOB_UNKNOWN" or attempt == 1:
                        raise RuntimeError("reuse PUT: %d %s" % (code, err))
                    st.count("refused")
                    c.upload(target, layer)
                    cd = c.upload(target, cfg)
                with st.lock:
                    st.acked[md] = (target, [cd, ld], layer)
                st.count("reuse")
            elif act < 0.92 and have_acked:
                with st.lock:
                    if not st.acked:
                        continue
                    md = rnd.choice(list(st.acked))
                    repo2, blobs, layer = st.acked.pop(md)
                s, _, _ = c.req("DELETE", "/v2/%s/manifests/%s" % (repo2, md))
                if s != 202:
                    raise RuntimeError("DELETE %s: %d" % (md, s))
                with st.lock:
                    st.garbage.append((repo2, blobs[1], layer))
                st.count("delete")
            else:
                c.upload(repo, os.urandom(rnd.randint(10, 2000)))
                st.count("orphan")
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            with st.lock:
                st.errors.append("worker %d: %s" % (wid, e))
            time.sleep(0.1)


def verify(port, st):
    c = Client(port)
    bad = []
    for md, (repo, blobs, _) in sorted(st.acked.items()):
        s, h, body = c.req("GET", "/v2/%s/manifests/%s" % (repo, md),
                           headers={"Accept": MT_MANIFEST})
        if s != 200 or sha(body) != md:
            bad.append("%s@%s: manifest %d" % (repo, md, s))
            continue
        for b in blobs:
            s, _, data = c.req("GET", "/v2/%s/blobs/%s" % (repo, b))
            if s != 200 or sha(data) != b:
                bad.append("%s@%s: blob %s: %d" % (repo, md, b, s))
    return bad


def main():
    port, seconds, workers, out = (int(sys.argv[1]), float(sys.argv[2]),
                                   int(sys.argv[3]), sys.argv[4])
    st = State()
    deadline = time.time() + seconds
    ts = [threading.Thread(target=worker, args=(port, deadline, st, i))
          for i in range(workers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    bad = verify(port, st)
    res = {"counts": st.counts, "acked": len(st.acked), "unpullable": bad,
           "errors": st.errors[:20], "nerrors": len(st.errors)}
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
