#!/usr/bin/env python3
"""pullcheck.py PORT LIST

Pull every image of LIST (lines "digest repository tag") from the
registry on 127.0.0.1:PORT by digest, over one keep-alive connection:
the manifest and every blob it names (config, layers) must come back
200 and hash to their digests. Prints how many were checked; exits 1
at the first that does not. Used by t6200-backup.sh.
"""
import hashlib
import http.client
import json
import sys

ACCEPT = ", ".join([
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
])


def get(conn, path, accept=None):
    headers = {"Accept": accept} if accept else {}
    conn.request("GET", path, headers=headers)
    r = conn.getresponse()
    return r.status, r.read()


def check(conn, repo, digest, what, accept=None):
    status, body = get(conn, "/v2/%s/%s/%s" % (repo, what, digest), accept)
    got = "sha256:" + hashlib.sha256(body).hexdigest()
    if status != 200 or got != digest:
        sys.stdout.write("%s %s@%s: status %d, %d bytes hashing to %s\n"
                         % (what, repo, digest, status, len(body), got))
        sys.exit(1)
    return body


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    seen = set()
    for line in open(path):
        if not line.strip():
            continue
        digest, repo = line.split()[:2]
        if (repo, digest) in seen:
            continue
        seen.add((repo, digest))
        m = json.loads(check(conn, repo, digest, "manifests", ACCEPT))
        for d in [m["config"]] + m.get("layers", []):
            check(conn, repo, d["digest"], "blobs")
    print("pulled %d images whole" % len(seen))


if __name__ == "__main__":
    main()
