#!/usr/bin/env python3
"""bench.py: registryd against registry:2 (Debian's docker-registry) in one
run, on loopback, with fresh roots (issue 6). See bench/README.md.

Prints one table (phase, registryd, registry:2, ratio, target) and one JSON
line. Every phase checks what comes back and reports an error instead of a
number when something is off. Every child process gets PR_SET_PDEATHSIG and
a time bound; servers are stopped on exit, the work directory is removed
unless --keep.
"""

import argparse
import base64
import ctypes
import hashlib
import http.client
import json
import os
import re
import select
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MiB = 1 << 20
GiB = 1 << 30
EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
MT_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

# ------------------------------------------------------------ processes

_libc = ctypes.CDLL(None, use_errno=True)
CHILDREN = []


def _pdeathsig():
    # The child dies with us, whatever kills us (PR_SET_PDEATHSIG = 1).
    _libc.prctl(1, signal.SIGTERM, 0, 0, 0)


def spawn(argv, **kw):
    p = subprocess.Popen(argv, preexec_fn=_pdeathsig, **kw)
    CHILDREN.append(p)
    return p


def run(argv, timeout, **kw):
    """Run to completion (bounded); return CompletedProcess with text."""
    return subprocess.run(argv, preexec_fn=_pdeathsig, capture_output=True,
                          text=True, timeout=timeout, **kw)


def stop(p, grace=10):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def stop_all():
    for p in reversed(CHILDREN):
        try:
            stop(p)
        except Exception:
            pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class BenchError(Exception):
    pass


def sha256_hex(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def proc_cpu(pid):
    """utime + stime of every thread of pid, seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_mem(pid):
    """(VmRSS, RssAnon, VmHWM) of pid in KiB."""
    v = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k = line.split(":", 1)[0]
            if k in ("VmRSS", "RssAnon", "VmHWM"):
                v[k] = int(line.split()[1])
    return v.get("VmRSS", 0), v.get("RssAnon", 0), v.get("VmHWM", 0)


# ------------------------------------------------------------ servers

class Server:
    """One registry under test: registryd or registry2. tls = (cert, key)
    serves HTTPS (clients verify with cert as the CA); auth = (htpasswd
    path, user, password) turns Basic auth on. tag names the instance
    (its own directory and root). s3 (a dict from Ceph.s3_settings) puts
    the registry in a bucket instead of root, blob GETs served by the
    server itself (redirects off); store is then the Ceph cluster, whose
    CPU the Sampler also takes."""

    def __init__(self, kind, work, binary=None, tag=None, tls=None,
                 auth=None, ini="", s3=None, store=None):
        self.kind = kind
        self.ini = ini  # more registryd.conf text (registryd only)
        self.s3 = s3
        self.store = store
        self.binary = binary
        self.tls = tls
        self.auth = auth
        self.dir = os.path.join(work, kind + ("-" + tag if tag else ""))
        self.root = os.path.join(self.dir, "root")
        os.makedirs(self.root, exist_ok=True)
        self.port = None
        self.proc = None
        self.log = os.path.join(self.dir, "server.log")
        self.repos = set()  # repositories pushed to through the API
        self.headers = {}
        self.curl_args = []
        if auth:
            tok = base64.b64encode(("%s:%s" % (auth[1], auth[2])).encode())
            self.headers["Authorization"] = "Basic " + tok.decode()
            self.curl_args += ["-u", "%s:%s" % (auth[1], auth[2])]
        if tls:
            self.curl_args += ["--cacert", tls[0]]
            self.ssl = ssl.create_default_context(cafile=tls[0])

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    @property
    def base(self):
        return ("https://" if self.tls else "http://") + self.addr

    def connection(self, timeout=60):
        if self.tls:
            return http.client.HTTPSConnection("127.0.0.1", self.port,
                                               timeout=timeout,
                                               context=self.ssl)
        return http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)

    def start(self):
        self.port = free_port()
        if self.kind == "registryd":
            conf = os.path.join(self.dir, "registryd.conf")
            with open(conf, "w") as f:
                f.write("[http]\naddr = %s\n\n" % self.addr)
                if self.s3:
                    f.write("[storage]\ndriver = s3\nredirect_disable = true\n"
                            "\n[s3]\nregion = %(region)s\n"
                            "regionendpoint = %(endpoint)s\n"
                            "bucket = %(bucket)s\naccesskey = %(access)s\n"
                            "secretkeyfile = %(secretfile)s\n"
                            "rootdirectory = %(root)s\nsecure = false\n"
                            "forcepathstyle = true\nchunksize = %(chunk)d\n"
                            % self.s3)
                else:
                    f.write("[storage]\nrootdirectory = %s\n" % self.root)
                f.write("\n[log]\nlevel = warn\naccess_log = false\n")
                if self.tls:
                    f.write("\n[tls]\ncertificate = %s\nkey = %s\n"
                            % self.tls)
                if self.auth:
                    f.write("\n[auth]\nhtpasswd = %s\nrealm = bench\n"
                            % self.auth[0])
                f.write(self.ini)
            argv = [self.binary, "serve", "-c", conf]
        else:
            conf = os.path.join(self.dir, "config.yml")
            with open(conf, "w") as f:
                f.write("version: 0.1\nlog:\n  level: warn\n  accesslog:\n"
                        "    disabled: true\nstorage:\n")
                if self.s3:
                    # Its s3 driver: path-style on plain HTTP to RGW, and
                    # blob GETs through the server like registryd's.
                    f.write("  s3:\n    region: %(region)s\n"
                            "    regionendpoint: %(endpoint)s\n"
                            "    forcepathstyle: true\n    secure: false\n"
                            "    bucket: %(bucket)s\n"
                            "    accesskey: %(access)s\n"
                            "    secretkey: %(secret)s\n"
                            "    rootdirectory: %(root)s\n"
                            "    chunksize: %(chunk)d\n"
                            "  redirect:\n    disable: true\n" % self.s3)
                else:
                    f.write("  filesystem:\n    rootdirectory: %s\n"
                            % self.root)
                f.write("http:\n  addr: %s\n" % self.addr)
                if self.tls:
                    f.write("  tls:\n    certificate: %s\n    key: %s\n"
                            % self.tls)
                # 2.8 answers n > maxentries (default 1000) with
                # 400 PAGINATION_NUMBER_INVALID.
                f.write("catalog:\n  maxentries: 100000\n")
                if self.auth:
                    f.write("auth:\n  htpasswd:\n    realm: bench\n"
                            "    path: %s\n" % self.auth[0])
            argv = ["docker-registry", "serve", conf]
        # Go's AWS SDK in registry:2's s3 driver panics on this
        # machine's AWS_CA_BUNDLE with a plain-HTTP endpoint.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("REGISTRY_") and "proxy" not in k.lower()
               and k != "AWS_CA_BUNDLE"}
        logf = open(self.log, "a")
        self.proc = spawn(argv, stdout=logf, stderr=logf,
                          stdin=subprocess.DEVNULL, env=env)
        logf.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError("%s exited at start (status %s), see %s"
                                 % (self.kind, self.proc.returncode, self.log))
            try:
                st, _, _ = self.request("GET", "/v2/")
                if st == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise BenchError("%s did not answer within 30 s" % self.kind)

    def stop(self):
        if self.proc is not None:
            stop(self.proc)
            self.proc = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cpu(self):
        """utime + stime of every thread, seconds."""
        return proc_cpu(self.proc.pid)

    def mem(self):
        """(VmRSS, RssAnon) in KiB."""
        return proc_mem(self.proc.pid)[:2]

    def hwm(self):
        """VmHWM in KiB: the peak VmRSS of the process's whole life."""
        return proc_mem(self.proc.pid)[2]

    def request(self, method, path, body=None, headers=None, conn=None,
                timeout=60):
        own = conn is None
        if own:
            conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body,
                         headers=dict(self.headers, **(headers or {})))
            r = conn.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            if own:
                conn.close()

    def push_small(self, repo, data):
        d = sha256_hex(data)
        st, h, b = self.request("POST", "/v2/%s/blobs/uploads/" % repo)
        if st != 202 or "location" not in h:
            raise BenchError("POST uploads: %d %s" % (st, b[:200]))
        loc = re.sub(r"^https?://[^/]+", "", h["location"])
        loc += ("&" if "?" in loc else "?") + "digest=" + d
        st, h, b = self.request("PUT", loc, body=data, headers={
            "Content-Type": "application/octet-stream"})
        if st != 201 or h.get("docker-content-digest") != d:
            raise BenchError("PUT blob: %d %s" % (st, b[:200]))
        self.repos.add(repo)
        return d


class Sampler:
    """Peak VmRSS and RssAnon of a server, sampled every 50 ms, plus its
    CPU seconds, over a `with` block."""

    def __init__(self, srv):
        self.srv = srv
        self.peak_rss = self.peak_anon = 0
        self._stop = threading.Event()

    def _sample(self):
        try:
            rss, anon = self.srv.mem()
        except OSError:
            return
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_anon = max(self.peak_anon, anon)

    def _loop(self):
        while not self._stop.wait(0.05):
            self._sample()

    def __enter__(self):
        self._sample()
        self.cpu0 = self.srv.cpu()
        self.store_cpu = None
        if self.srv.store is not None:
            self.store_cpu0 = self.srv.store.cpu()
        self.t0 = time.monotonic()
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self._sample()
        self.wall = time.monotonic() - self.t0
        if self.srv.alive():
            self.cpu = self.srv.cpu() - self.cpu0
        else:
            self.cpu = float("nan")
        if self.srv.store is not None:
            self.store_cpu = self.srv.store.cpu() - self.store_cpu0
        return False


class Ceph:
    """A throw-away single-node Ceph cluster with RGW, from the tests'
    harness: `test/s3/ceph.sh run DIR -- sh -c 'echo ready; cat'` keeps it
    up while our pipe to cat is open. stop() closes the pipe; the script's
    trap then kills the daemons and removes DIR. If this process dies
    instead, the script gets SIGTERM (our PDEATHSIG) and cat EOF, and the
    daemons also carry PDEATHSIG (SIGKILL) towards the script: nothing
    outlives the benchmark. The OSD keeps the data in its memory
    (memstore, capacity `capacity` bytes, about 1.8 bytes of RSS per byte
    stored). RGW deletes the data of a deleted object only in its garbage
    collection, by default two hours later, so that memory would only
    grow: gc_min_wait=0 (CEPH_ARGS, read by every daemon) and gc() after
    the deletes between workloads hand it back. One cluster per run,
    removed at the end."""

    TOOLS = ("ceph", "ceph-mon", "ceph-osd", "ceph-authtool", "monmaptool",
             "radosgw", "radosgw-admin", "s3cmd", "setpriv")

    @classmethod
    def missing(cls):
        return [t for t in cls.TOOLS if shutil.which(t) is None]

    def __init__(self, work, capacity):
        self.dir = os.path.join(work, "ceph")
        self.log = os.path.join(work, "ceph.log")
        self.capacity = capacity
        self.proc = None
        self.env = {}

    def start(self, timeout=180):
        env = dict(os.environ, CEPH_MEMSTORE_BYTES=str(self.capacity),
                   CEPH_ARGS="--rgw-gc-obj-min-wait=0")
        logf = open(self.log, "a")
        t0 = time.monotonic()
        self.proc = spawn(["bash", os.path.join(TOP, "test/s3/ceph.sh"),
                           "run", self.dir, "--", "sh", "-c",
                           "echo ready && exec cat >/dev/null"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=logf, env=env)
        logf.close()
        fd = self.proc.stdout.fileno()
        out = b""
        while b"ready\n" not in out:
            left = t0 + timeout - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise BenchError("no cluster within %d s, see %s"
                                 % (timeout, self.log))
            b = os.read(fd, 4096)
            if not b:
                raise BenchError("ceph.sh run exited (status %s), see %s"
                                 % (self.proc.wait(10), self.log))
            out += b
        self.start_secs = time.monotonic() - t0
        with open(os.path.join(self.dir, "env")) as f:
            for line in f:
                w = shlex.split(line)
                if len(w) == 2 and w[0] == "export" and "=" in w[1]:
                    k, v = w[1].split("=", 1)
                    self.env[k] = v
        self.secret_file = os.path.join(os.path.dirname(self.dir),
                                        "s3-secret")
        fd = os.open(self.secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.env["S3_SECRET_KEY"] + "\n")

    def stop(self):
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()
            self.proc.wait(60)
        except (OSError, subprocess.TimeoutExpired):
            stop(self.proc)
        self.proc = None

    def s3_settings(self, root, chunk):
        e = self.env
        return {"region": e["S3_REGION"], "endpoint": e["S3_ENDPOINT"],
                "bucket": e["S3_BUCKET"], "access": e["S3_ACCESS_KEY"],
                "secret": e["S3_SECRET_KEY"], "secretfile": self.secret_file,
                "root": root, "chunk": chunk}

    def pids(self):
        """name -> PID of the daemons (the last one recorded per name)."""
        p = {}
        with open(os.path.join(self.dir, "pids")) as f:
            for line in f:
                w = line.split()
                if len(w) == 2:
                    p[w[0]] = int(w[1])
        return p

    def cpu(self):
        """CPU seconds of the gateway, the OSD and the mon together."""
        t = 0.0
        for pid in self.pids().values():
            try:
                t += proc_cpu(pid)
            except OSError:
                pass
        return t

    def hwm(self, name):
        return proc_mem(self.pids()[name])[2]

    def gc(self):
        """Run RGW's garbage collection now: the deleted objects' data
        leaves the OSD (and its memory)."""
        r = run(["radosgw-admin", "-c", self.env["CEPH_CONF"], "gc",
                 "process", "--include-all"], timeout=300)
        if r.returncode != 0:
            raise BenchError("radosgw-admin gc process: %s"
                             % r.stderr.strip()[-300:])

    def s3cmd(self, *args, timeout=300):
        r = run(["s3cmd", "-c", self.env["S3CMD_CONF"]] + list(args),
                timeout=timeout)
        if r.returncode != 0:
            raise BenchError("s3cmd %s: %s" % (args[0], r.stderr.strip()[-300:]))
        return r.stdout

    def ls(self, prefix):
        """[(size, key)] of every object under prefix in the bucket."""
        out = self.s3cmd("ls", "-r", "s3://%s/%s" % (self.env["S3_BUCKET"],
                                                     prefix))
        pre = "s3://%s/" % self.env["S3_BUCKET"]
        objs = []
        for line in out.splitlines():
            w = line.split(None, 3)
            if len(w) == 4 and w[3].startswith(pre) and w[2].isdigit():
                objs.append((int(w[2]), w[3][len(pre):]))
        return objs

    def delete(self, keys):
        b = self.env["S3_BUCKET"]
        for i in range(0, len(keys), 100):
            self.s3cmd("del", *["s3://%s/%s" % (b, k)
                                for k in keys[i:i + 100]])


# ------------------------------------------------------------ the image

def image_blobs():
    """A small deterministic image: layer, config, manifest (bytes)."""
    layer = b"".join(hashlib.sha256(b"registryd-bench %d" % i).digest()
                     for i in range(128))  # 4096 bytes
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers",
                                    "diff_ids": [sha256_hex(layer)]},
                         "config": {}}, separators=(",", ":")).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "size": len(config),
                   "digest": sha256_hex(config)},
        "layers": [{"mediaType": MT_LAYER, "size": len(layer),
                    "digest": sha256_hex(layer)}]},
        indent=3).encode()
    return layer, config, manifest


def write_file(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def gen_tree(root, nrepos, ntags):
    """Write nrepos repositories bench/cat/rNNNNN (tag latest) and one
    repository bench/tags with ntags tags directly on disk, in registry:2's
    layout (reference/distribution-layout.md). Returns the repo names."""
    layer, config, manifest = image_blobs()
    v2 = os.path.join(root, "docker/registry/v2")
    blobs = {}
    for b in (layer, config, manifest):
        h = hashlib.sha256(b).hexdigest()
        blobs[h] = b
        write_file(os.path.join(v2, "blobs/sha256", h[:2], h, "data"), b)
    mh = hashlib.sha256(manifest).hexdigest()
    link = ("sha256:" + mh).encode()

    def repo(name, tags, full):
        # The catalog repositories get the minimum a registry needs to list
        # them and serve the tag (fewer inodes to create and remove):
        # one layer link (registry:2.8 lists directories holding _layers),
        # the revision link and current/link, no tag index link.
        r = os.path.join(v2, "repositories", name)
        for h in blobs:
            if h != mh:
                write_file(os.path.join(r, "_layers/sha256", h, "link"),
                           ("sha256:" + h).encode())
                if not full:
                    break
        write_file(os.path.join(r, "_manifests/revisions/sha256", mh, "link"),
                   link)
        for t in tags:
            tdir = os.path.join(r, "_manifests/tags", t)
            write_file(os.path.join(tdir, "current/link"), link)
            if full:
                write_file(os.path.join(tdir, "index/sha256", mh, "link"),
                           link)

    names = ["bench/cat/r%05d" % i for i in range(nrepos)]
    for n in names:
        repo(n, ["latest"], False)
    repo("bench/tags", ["t%05d" % i for i in range(ntags)], False)
    return set(names) | {"bench/tags"}


# ------------------------------------------------------------ phases

class Bench:
    def __init__(self, args):
        self.a = args
        self.work = args.work
        self.rbc = args.rbc
        self.results = {}   # (row key, server kind) -> list of samples
        self.errors = []    # (row key, server kind, message)
        self.limits = {}
        self.mem = {}       # (phase, kind) -> (peak rss KiB, peak anon KiB)
        self.catalog_extra = {}  # kind -> blob-only repos it listed
        self.notes = []

    # -- bookkeeping

    def put(self, key, kind, value):
        self.results.setdefault((key, kind), []).append(value)

    def err(self, key, kind, msg):
        self.errors.append((key, kind, str(msg)))
        self.results.setdefault((key, kind), []).append(None)
        print("  ! %s %s: %s" % (kind, key, msg), file=sys.stderr)

    def note_mem(self, phase, srv, s):
        old = self.mem.get((phase, srv.kind), (0, 0))
        self.mem[(phase, srv.kind)] = (max(old[0], s.peak_rss),
                                       max(old[1], s.peak_anon))

    def say(self, msg):
        print("bench: %s" % msg, file=sys.stderr, flush=True)

    def rbc_run(self, *args, timeout=600, srv=None):
        env = None
        if srv is not None and "Authorization" in srv.headers:
            env = dict(os.environ,
                       RBC_AUTHORIZATION=srv.headers["Authorization"])
        r = run([self.rbc] + [str(x) for x in args], timeout=timeout,
                env=env)
        out = r.stdout.strip()
        if r.returncode != 0 or not out.startswith("ok"):
            raise BenchError(out or r.stderr.strip() or "rbc failed")
        return dict(kv.split("=", 1) for kv in out.split()[1:])

    def put_store_cpu(self, key, srv, s, nbytes):
        """The store's CPU-s per GiB in the Sampler s (S3 phases)."""
        if s.store_cpu is not None:
            self.put(key + "_store_cpu", srv.kind, s.store_cpu * GiB / nbytes)

    def sync(self):
        # Earlier writes (registry:2 does not fsync) must not be flushed
        # on the next server's time.
        run(["sync"], timeout=120)

    # -- machine limits

    def machine_limits(self, src):
        a = self.a
        self.say("machine limits: openssl speed, dd, O_DSYNC, nginx")
        try:
            r = run(["openssl", "speed", "-evp", "sha256", "-seconds",
                     str(a.sha_secs), "-bytes", "16384"], timeout=60)
            m = re.findall(r"^sha256\s+([\d.]+)k\s*$", r.stdout, re.M)
            if not m:
                raise BenchError("cannot parse openssl speed output")
            self.limits["sha256_MBps"] = float(m[-1]) * 1000 / 1e6
        except Exception as e:
            self.limits["sha256_MBps"] = None
            self.errors.append(("sha256", "machine", str(e)))
        dd = os.path.join(self.work, "dd.bin")
        try:
            n = a.dd_mib
            t0 = time.monotonic()
            r = run(["dd", "if=/dev/zero", "of=" + dd, "bs=1M",
                     "count=%d" % n, "conv=fdatasync"], timeout=300)
            t = time.monotonic() - t0
            if r.returncode != 0:
                raise BenchError(r.stderr.strip())
            self.limits["dd_fdatasync_MBps"] = n * MiB / t / 1e6
            t0 = time.monotonic()
            r = run(["dd", "if=/dev/zero", "of=" + dd, "bs=4k",
                     "count=%d" % a.dsync_count, "oflag=dsync"], timeout=120)
            t = time.monotonic() - t0
            if r.returncode != 0:
                raise BenchError(r.stderr.strip())
            self.limits["dsync_4k_per_s"] = a.dsync_count / t
        except Exception as e:
            self.limits.setdefault("dd_fdatasync_MBps", None)
            self.limits.setdefault("dsync_4k_per_s", None)
            self.errors.append(("dd", "machine", str(e)))
        finally:
            if os.path.exists(dd):
                os.unlink(dd)

    def nginx_limits(self, blob_path, size):
        www = os.path.join(self.work, "nginx", "www")
        os.makedirs(www, exist_ok=True)
        target = os.path.join(www, "blob")
        if os.path.exists(target):
            os.unlink(target)
        os.link(blob_path, target)
        port = free_port()
        ndir = os.path.join(self.work, "nginx")
        conf = os.path.join(ndir, "nginx.conf")
        user = "user root root;\n" if os.getuid() == 0 else ""
        with open(conf, "w") as f:
            f.write("""%sdaemon off;
master_process off;
worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path %s/tmp;
    server {
        listen 127.0.0.1:%d;
        root %s;
    }
}
""" % (user, ndir, ndir, ndir, port, www))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        p = spawn([nginx, "-c", conf, "-p", ndir, "-e", ndir + "/error.log"],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = "http://127.0.0.1:%d/blob" % port
        try:
            for _ in range(100):
                if p.poll() is not None:
                    raise BenchError("nginx exited (status %s), see %s/"
                                     "error.log" % (p.returncode, ndir))
                r = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                         "-r", "0-0", url], timeout=10)
                if r.stdout == "206":
                    break
                time.sleep(0.05)
            else:
                raise BenchError("nginx did not answer")
            for par, key in ((1, "nginx_dl1_MBps"), (4, "nginx_dl4_MBps")):
                try:
                    self.limits[key] = self.curl_download(url, size, par)[0]
                except BenchError as e:
                    self.limits[key] = None
                    self.errors.append((key, "machine", str(e)))
        except BenchError as e:
            for key in ("nginx_dl1_MBps", "nginx_dl4_MBps"):
                self.limits[key] = None
                self.errors.append((key, "machine", str(e)))
        finally:
            stop(p)
            os.unlink(target)

    # -- phase 1: uploads

    def up_stream(self, srv, rep, src, key="1a_stream", mem="1 uploads"):
        key1, key2 = key + "_MBps", key + "_cpu"
        self.sync()
        try:
            with Sampler(srv) as s:
                r = self.rbc_run("stream", srv.addr, "bench/up", src, 0,
                                 self.a.blob_bytes, "%s-%s-stream" %
                                 (srv.kind, rep), self.a.chunk, srv=srv)
            b = int(r["bytes"])
            self.put(key1, srv.kind, b / float(r["secs"]) / 1e6)
            self.put(key2, srv.kind, s.cpu * GiB / b)
            self.put_store_cpu(key, srv, s, b)
            self.note_mem(mem, srv, s)
            srv.repos.add("bench/up")
            return r["digest"], b
        except (BenchError, subprocess.TimeoutExpired) as e:
            self.err(key1, srv.kind, e)
            return None, 0

    def up_mono(self, srv, rep, src, key="1b_mono", mem="1 uploads"):
        key1, key2 = key + "_MBps", key + "_cpu"
        self.sync()
        try:
            with Sampler(srv) as s:
                r = self.rbc_run("mono", srv.addr, "bench/up", src, 0,
                                 self.a.blob_bytes, "%s-%s-mono" %
                                 (srv.kind, rep), srv=srv)
            b = int(r["bytes"])
            self.put(key1, srv.kind, b / float(r["secs"]) / 1e6)
            self.put(key2, srv.kind, s.cpu * GiB / b)
            self.note_mem(mem, srv, s)
            srv.repos.add("bench/up")
        except (BenchError, subprocess.TimeoutExpired) as e:
            self.err(key1, srv.kind, e)

    # -- phase 2: downloads

    def curl_download(self, url, size, par, extra=()):
        """par parallel curl -o /dev/null; (aggregate MB/s, wall s)."""
        fmt = "%{http_code} %{size_download}"
        t0 = time.monotonic()
        ps = [spawn(["curl", "-s", "-m", "300", "-o", "/dev/null", "-w", fmt]
                    + list(extra) + [url], stdout=subprocess.PIPE, text=True)
              for _ in range(par)]
        outs = []
        for p in ps:
            out, _ = p.communicate(timeout=320)
            outs.append(out.split())
        wall = time.monotonic() - t0
        for o in outs:
            if len(o) != 2 or o[0] != "200" or int(o[1]) != size:
                raise BenchError("download: got %s, want 200 %d"
                                 % (" ".join(o), size))
        return par * size / wall / 1e6, wall

    def verify_blob(self, srv, digest, size):
        """Fetch once (untimed) and check the digest of what comes back."""
        url = "%s/v2/bench/up/blobs/%s" % (srv.base, digest)
        p = spawn(["curl", "-sf", "-m", "300"] + srv.curl_args + [url],
                  stdout=subprocess.PIPE)
        h = hashlib.sha256()
        n = 0
        while True:
            b = p.stdout.read(4 * MiB)
            if not b:
                break
            h.update(b)
            n += len(b)
        p.wait(60)
        if p.returncode != 0 or n != size or \
                "sha256:" + h.hexdigest() != digest:
            raise BenchError("GET blob: %d bytes, digest %s, want %s"
                             % (n, h.hexdigest()[:12], digest))

    def download(self, srv, digest, size, verify,
                 cases=((1, "2a_dl1"), (4, "2b_dl4")), mem="2 downloads"):
        url = "%s/v2/bench/up/blobs/%s" % (srv.base, digest)
        for par, key in cases:
            try:
                if digest is None:
                    raise BenchError("no blob (upload failed)")
                if verify and par == 1:
                    self.verify_blob(srv, digest, size)
                with Sampler(srv) as s:
                    mbps, _ = self.curl_download(url, size, par,
                                                 srv.curl_args)
                self.put(key + "_MBps", srv.kind, mbps)
                self.put(key + "_cpu", srv.kind, s.cpu * GiB / (par * size))
                self.put_store_cpu(key, srv, s, par * size)
                self.note_mem(mem, srv, s)
            except (BenchError, subprocess.TimeoutExpired) as e:
                self.err(key + "_MBps", srv.kind, e)

    # -- phase 3: concurrent pushes

    def many(self, srv, rep, src, key="3_many", mem="3 concurrent pushes"):
        a = self.a
        self.sync()
        try:
            with Sampler(srv) as s:
                r = self.rbc_run("many", srv.addr, "bench/many", a.many_n, src,
                                 a.many_bytes, "%s-%d-many" % (srv.kind, rep),
                                 a.chunk, srv=srv)
            b = int(r["bytes"])
            self.put(key + "_MBps", srv.kind, b / float(r["secs"]) / 1e6)
            self.put(key + "_cpu", srv.kind, s.cpu * GiB / b)
            self.put_store_cpu(key, srv, s, b)
            self.note_mem(mem, srv, s)
            srv.repos.add("bench/many")
        except (BenchError, subprocess.TimeoutExpired) as e:
            self.err(key + "_MBps", srv.kind, e)

    def drop_blobs(self, srv, keep):
        """Delete the big blobs this rep uploaded (bench/up, bench/many),
        except keep (the download source), to bound the disk used; the
        servers are never asked for them again."""
        base = os.path.join(srv.root, "docker/registry/v2/blobs/sha256")
        for xx in os.listdir(base) if os.path.isdir(base) else []:
            for h in os.listdir(os.path.join(base, xx)):
                p = os.path.join(base, xx, h, "data")
                try:
                    big = os.path.getsize(p) >= MiB
                except OSError:
                    continue
                if big and "sha256:" + h != keep:
                    os.unlink(p)

    # -- phase 4: small uploads on one connection

    def small(self, srv):
        self.sync()
        try:
            with Sampler(srv) as s:
                # registry:2 2.8 answers POST ?digest= with 202 (it does
                # not do single-request uploads), so both get POST + PUT.
                r = self.rbc_run("small", srv.addr, "bench/small",
                                 self.a.small_n, 4096, "%s-small" % srv.kind,
                                 "put")
            n = int(r["uploads"])
            self.put("4_small_per_s", srv.kind, n / float(r["secs"]))
            self.put("4_small_cpu_ms", srv.kind, s.cpu * 1000 / n)
            self.note_mem("4 small uploads", srv, s)
            srv.repos.add("bench/small")
            if r.get("reconnects", "0") != "0":
                self.errors.append(("4_small_per_s", srv.kind,
                                    "server closed keep-alive %s times"
                                    % r["reconnects"]))
        except (BenchError, subprocess.TimeoutExpired) as e:
            self.err("4_small_per_s", srv.kind, e)

    def small_par(self, srv, conns=8):
        """Phase 4b: the same uploads from conns connections at once, each
        a keep-alive rbc small of small_n / conns uploads; the rate is all
        uploads over the wall time of the slowest. registryd's concurrent
        commits share their syncs (group commit), which one connection
        cannot show."""
        self.sync()
        each = max(1, self.a.small_n // conns)
        key = "4b_small%d_per_s" % conns
        try:
            with Sampler(srv) as s:
                t0 = time.monotonic()
                procs = [spawn([self.rbc, "small", srv.addr, "bench/smallp",
                                str(each), "4096",
                                "%s-smallp-%d" % (srv.kind, i), "put"],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
                         for i in range(conns)]
                outs = [p.communicate(timeout=600) for p in procs]
                secs = time.monotonic() - t0
            for p, (out, err) in zip(procs, outs):
                if p.returncode != 0 or not out.startswith("ok"):
                    raise BenchError((out or err).strip() or "rbc failed")
                if "reconnects=0" not in out:
                    self.errors.append((key, srv.kind,
                                        "server closed keep-alive: %s"
                                        % out.strip()))
            n = each * conns
            self.put(key, srv.kind, n / secs)
            self.put("4b_small%d_cpu_ms" % conns, srv.kind,
                     s.cpu * 1000 / n)
            self.note_mem("4 small uploads", srv, s)
            srv.repos.add("bench/smallp")
        except (BenchError, subprocess.TimeoutExpired) as e:
            self.err(key, srv.kind, e)

    # -- phase 5: wrk

    def setup_image(self, srv):
        layer, config, manifest = image_blobs()
        srv.push_small("bench/img", layer)
        srv.push_small("bench/img", config)
        if srv.push_small("bench/img", b"") != EMPTY:
            raise BenchError("empty blob digest")
        st, h, b = srv.request("PUT", "/v2/bench/img/manifests/latest",
                               body=manifest,
                               headers={"Content-Type": MT_MANIFEST})
        if st != 201 or h.get("docker-content-digest") != sha256_hex(manifest):
            raise BenchError("PUT manifest: %d %s" % (st, b[:200]))
        return manifest

    def check_wrk_targets(self, srv, manifest):
        st, h, b = srv.request("GET", "/v2/bench/img/manifests/latest",
                               headers={"Accept": MT_MANIFEST})
        if st != 200 or b != manifest or \
                h.get("docker-content-digest") != sha256_hex(manifest):
            raise BenchError("GET manifest: %d, %d bytes" % (st, len(b)))
        st, h, b = srv.request("HEAD", "/v2/bench/img/blobs/" + EMPTY)
        if st != 200 or h.get("content-length") != "0" or \
                h.get("docker-content-digest") != EMPTY:
            raise BenchError("HEAD blob: %d %s" % (st, h))
        st, h, b = srv.request("GET", "/v2/bench/img/tags/list")
        if st != 200 or json.loads(b).get("tags") != ["latest"]:
            raise BenchError("tags/list: %d %s" % (st, b[:200]))

    WRK = [("5a_manifest", "GET", "/v2/bench/img/manifests/latest"),
           ("5b_head_blob", "HEAD", "/v2/bench/img/blobs/" + EMPTY),
           ("5c_tags", "GET", "/v2/bench/img/tags/list"),
           ("5d_base", "GET", "/v2/")]

    def wrk(self, srv, key, method, path, mem="5 wrk"):
        a = self.a
        # registry:2 checks bcrypt (cost 10) on every request: with 64
        # connections queued on 2 cores its latency runs into seconds.
        argv = ["wrk", "-t2", "-c64", "-d%ds" % a.wrk_secs, "--latency",
                "--timeout", "30s" if srv.auth else "5s",
                "-H", "Accept: " + MT_MANIFEST]
        for k, v in srv.headers.items():
            argv += ["-H", "%s: %s" % (k, v)]
        if method == "HEAD":
            lua = os.path.join(self.work, "head.lua")
            with open(lua, "w") as f:
                f.write('wrk.method = "HEAD"\n')
            argv += ["-s", lua]
        argv.append(srv.base + path)
        try:
            with Sampler(srv) as s:
                r = run(argv, timeout=a.wrk_secs + 30)
            out = r.stdout
            if r.returncode != 0:
                raise BenchError("wrk: %s" % (r.stderr or out)[-300:])
            m = re.search(r"Requests/sec:\s+([\d.]+)", out)
            n = re.search(r"(\d+) requests in", out)
            p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
            if not (m and n and p99):
                raise BenchError("cannot parse wrk output: %s" % out[-300:])
            bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
            if bad:
                raise BenchError("%s non-2xx responses" % bad.group(1))
            sock = re.search(r"Socket errors: connect (\d+), read (\d+), "
                             r"write (\d+), timeout (\d+)", out)
            if sock and (int(sock.group(1)) or int(sock.group(4))):
                raise BenchError("wrk socket errors: " + sock.group(0))
            unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
            self.put(key + "_rps", srv.kind, float(m.group(1)))
            self.put(key + "_p99", srv.kind, float(p99.group(1)) * unit)
            self.put(key + "_cpu_us", srv.kind,
                     s.cpu * 1e6 / max(1, int(n.group(1))))
            self.note_mem(mem, srv, s)
        except (BenchError, subprocess.TimeoutExpired) as e:
            self.err(key + "_rps", srv.kind, e)

    # -- phase 6: catalog and tags with many entries

    def walk(self, srv, first, field):
        """Follow Link rel=next over one keep-alive connection; returns
        (items, pages, seconds)."""
        conn = srv.connection(120)
        items, pages, path = [], 0, first
        t0 = time.monotonic()
        try:
            while path is not None:
                pages += 1
                if pages > 10 * (self.a.repos // 100 + 10):
                    raise BenchError("more pages than entries")
                st, h, b = srv.request("GET", path, conn=conn)
                if st != 200:
                    raise BenchError("GET %s: %d %s" % (path, st, b[:200]))
                items += json.loads(b)[field] or []
                m = re.search(r"<([^>]+)>\s*;\s*rel=\"?next", h.get("link", ""))
                path = re.sub(r"^https?://[^/]+", "", m.group(1)) if m else None
        finally:
            conn.close()
        return items, pages, time.monotonic() - t0

    def catalog(self, srv, expected):
        # Repositories that hold blobs but no manifest: registry:2.8 lists
        # them (its walk keys on _layers), the layout reference and
        # registryd key on _manifests. Either answer is accepted.
        optional = srv.repos - {"bench/img"}
        want = sorted(expected | {"bench/img"})
        tags = ["t%05d" % i for i in range(self.a.tags)]
        cases = [("6a_catalog_page", "/v2/_catalog?n=100000", "repositories",
                  want, 3),
                 ("6b_catalog_walk", "/v2/_catalog?n=100", "repositories",
                  want, 1),
                 ("6c_tags_page", "/v2/bench/tags/tags/list", "tags", tags, 3),
                 ("6d_tags_walk", "/v2/bench/tags/tags/list?n=100", "tags",
                  tags, 1)]
        for key, path, field, expect, tries in cases:
            try:
                best = None
                with Sampler(srv) as s:
                    for _ in range(tries):
                        items, pages, secs = self.walk(srv, path, field)
                        if field == "repositories":
                            extra = sorted(set(items) & optional)
                            items = [i for i in items if i not in optional]
                            self.catalog_extra[srv.kind] = extra
                        if sorted(items) != sorted(expect) or \
                                len(set(items)) != len(items):
                            missing = set(expect) - set(items)
                            raise BenchError(
                                "%d entries (%d unique), want %d; missing "
                                "e.g. %s" % (len(items), len(set(items)),
                                             len(expect),
                                             sorted(missing)[:3]))
                        best = secs if best is None else min(best, secs)
                self.put(key + "_ms", srv.kind, best * 1000)
                self.put(key + "_pages", srv.kind, pages)
                self.note_mem("6 catalog/tags", srv, s)
            except (BenchError, subprocess.TimeoutExpired, ValueError) as e:
                self.err(key + "_ms", srv.kind, e)

    # -- phase 8: TLS and Basic auth

    P8_TLS_KEYS = ("8a_tls_stream_MBps", "8b_tls_mono_MBps", "8c_tls_dl1_MBps")
    P8_AUTH_KEYS = ("8d_auth_stream_MBps", "8e_auth_mono_MBps",
                    "8f_auth_dl1_MBps", "8g_base_auth_rps")

    def tls_auth_setup(self):
        """A self-signed certificate for 127.0.0.1 (clients use it as the
        CA) and an htpasswd file with one bcrypt cost-10 line from
        `registryd passwd`, used by both servers."""
        d = os.path.join(self.work, "p8")
        os.makedirs(d, exist_ok=True)
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        r = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                 "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                 "-addext", "subjectAltName=IP:127.0.0.1"], timeout=60)
        if r.returncode != 0:
            raise BenchError("openssl req: " + r.stderr.strip()[-300:])
        user = "bench"
        pw = base64.urlsafe_b64encode(os.urandom(12)).decode()
        r = run([self.a.registryd, "passwd", user], timeout=60,
                input=pw + "\n")
        line = r.stdout.strip()
        if r.returncode != 0 or not re.match(
                r"^bench:\$2[aby]\$10\$[./A-Za-z0-9]{53}$", line):
            raise BenchError("registryd passwd: %r %s" % (
                line, r.stderr.strip()[-200:]))
        htp = os.path.join(d, "htpasswd")
        fd = os.open(htp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(line + "\n")
        return (cert, key), (htp, user, pw)

    def tls_cipher(self, srv):
        """Protocol and cipher that openssl s_client negotiates (a note)."""
        try:
            r = run(["openssl", "s_client", "-connect", srv.addr, "-CAfile",
                     srv.tls[0], "-brief", "-verify_return_error"],
                    timeout=10, input="")
            m = re.search(r"Protocol version: (\S+)", r.stderr)
            c = re.search(r"Ciphersuite: (\S+)", r.stderr)
            if m and c:
                return "%s %s" % (m.group(1), c.group(1))
        except subprocess.TimeoutExpired:
            pass
        return "?"

    def curl_upload(self, srv, repo, src, size, salt, stream):
        """The phase 1 uploads with curl as the client (rbc speaks plain
        HTTP only): POST; then either PATCH with Transfer-Encoding: chunked
        and PUT ?digest=, or PUT ?digest= with a Content-Length body. The
        body, salt + src[:size], is piped into curl by head(1). Returns
        (digest, bytes, seconds from the POST to the 201)."""
        saltb = (salt + "\n").encode()
        h = hashlib.sha256(saltb)
        with open(src, "rb") as f:
            left = size
            while left > 0:
                b = f.read(min(left, 4 * MiB))
                if not b:
                    raise BenchError("source file too short")
                h.update(b)
                left -= len(b)
        digest = "sha256:" + h.hexdigest()
        n = len(saltb) + size

        def path_of(loc):
            return re.sub(r"^https?://[^/]+", "", loc)

        def curl_body(method, url, extra):
            feed = spawn(["sh", "-c", 'printf "%s\\n" "$1" && '
                          'exec head -c "$2" -- "$3"', "sh", salt,
                          str(size), src], stdout=subprocess.PIPE)
            fmt = "%{http_code}\\n%header{location}\\n" \
                  "%header{docker-content-digest}\\n"
            c = spawn(["curl", "-s", "-m", "600", "-o", "/dev/null", "-w",
                       fmt, "-X", method, "-T", "-", "-H",
                       "Content-Type: application/octet-stream", "-H",
                       "Expect:"] + extra + srv.curl_args + [url],
                      stdin=feed.stdout, stdout=subprocess.PIPE, text=True)
            feed.stdout.close()
            out, _ = c.communicate(timeout=620)
            feed.wait(30)
            return (out.split("\n") + ["", "", ""])[:3]

        t0 = time.monotonic()
        st, hd, b = srv.request("POST", "/v2/%s/blobs/uploads/" % repo)
        if st != 202 or "location" not in hd:
            raise BenchError("POST uploads: %d %s" % (st, b[:200]))
        loc = path_of(hd["location"])
        sep = "&" if "?" in loc else "?"
        if stream:
            code, loc2, _ = curl_body("PATCH", srv.base + loc, [])
            if code != "202":
                raise BenchError("PATCH (curl): status %s" % code)
            loc = path_of(loc2) if loc2 else loc
            sep = "&" if "?" in loc else "?"
            st, hd, b = srv.request("PUT", loc + sep + "digest=" + digest)
            got = (str(st), hd.get("docker-content-digest", ""))
        else:
            code, _, dig = curl_body(
                "PUT", srv.base + loc + sep + "digest=" + digest,
                ["-H", "Content-Length: %d" % n, "-H", "Transfer-Encoding:"])
            got = (code, dig)
        secs = time.monotonic() - t0
        if got != ("201", digest):
            raise BenchError("PUT ?digest= (%s): %s %s, want 201 %s" % (
                "after PATCH" if stream else "curl", got[0], got[1], digest))
        srv.repos.add(repo)
        return digest, n, secs

    def tls_phase(self, srv, src):
        size = self.a.blob_bytes
        digest = None
        for stream, key in ((True, "8a_tls_stream"), (False, "8b_tls_mono")):
            self.sync()
            try:
                with Sampler(srv) as s:
                    d, n, secs = self.curl_upload(
                        srv, "bench/up", src, size, "%s-tls-%s" % (
                            srv.kind, key), stream)
                self.put(key + "_MBps", srv.kind, n / secs / 1e6)
                self.put(key + "_cpu", srv.kind, s.cpu * GiB / n)
                self.note_mem("8 TLS", srv, s)
                if stream:
                    digest, dsize = d, n
            except (BenchError, OSError, subprocess.TimeoutExpired) as e:
                self.err(key + "_MBps", srv.kind, e)
        if digest is None:
            self.err("8c_tls_dl1_MBps", srv.kind, "no blob (upload failed)")
            return
        self.download(srv, digest, dsize, True, ((1, "8c_tls_dl1"),),
                      "8 TLS")

    def auth_phase(self, srv, src):
        digest, size = self.up_stream(srv, "auth", src, "8d_auth_stream",
                                      "8 auth")
        self.up_mono(srv, "auth", src, "8e_auth_mono", "8 auth")
        if digest is None:
            self.err("8f_auth_dl1_MBps", srv.kind, "no blob (upload failed)")
        else:
            self.download(srv, digest, size, True, ((1, "8f_auth_dl1"),),
                          "8 auth")
        # Without credentials the server must refuse.
        st, _, _ = srv.request("GET", "/v2/", headers={"Authorization":
                                                       "Basic Og=="})
        if st != 401:
            self.err("8g_base_auth_rps", srv.kind,
                     "GET /v2/ with empty credentials: %d, want 401" % st)
            return
        self.say("%s: wrk GET /v2/ with Basic auth" % srv.kind)
        self.wrk(srv, "8g_base_auth", "GET", "/v2/", "8 auth")

    def phase8(self, src):
        try:
            tls, auth = self.tls_auth_setup()
        except (BenchError, OSError, subprocess.TimeoutExpired) as e:
            for k in self.P8_TLS_KEYS + self.P8_AUTH_KEYS:
                for kind in ("registryd", "registry2"):
                    self.err(k, kind, "setup: %s" % e)
            return
        for mode, keys, fn in (("tls", self.P8_TLS_KEYS, self.tls_phase),
                               ("auth", self.P8_AUTH_KEYS, self.auth_phase)):
            for kind, binary in (("registryd", self.a.registryd),
                                 ("registry2", None)):
                srv = Server(kind, self.work, binary, tag=mode,
                             tls=tls if mode == "tls" else None,
                             auth=auth if mode == "auth" else None)
                self.say("%s: phase 8, %s" % (kind, "TLS" if mode == "tls"
                                               else "Basic auth"))
                try:
                    srv.start()
                    if mode == "tls":
                        self.notes.append("TLS with curl/OpenSSL: %s %s" % (
                            kind, self.tls_cipher(srv)))
                    fn(srv, src)
                    if not srv.alive():
                        raise BenchError("server died, see %s" % srv.log)
                except (BenchError, OSError,
                        subprocess.TimeoutExpired) as e:
                    for k in keys:
                        if (k, kind) not in self.results:
                            self.err(k, kind, e)
                    if srv.proc is not None and not srv.alive():
                        self.errors.append((mode, kind, "server died, see %s"
                                            % srv.log))
                finally:
                    srv.stop()
                    self.drop_blobs(srv, keep=None)

    # -- phase 8i: failed logins, known and unknown user names

    LOGIN_N = 40  # failed logins per kind of name and server

    def login_phase(self):
        """Time one failed login (GET /v2/ with Basic credentials, 401) for
        a user of the file with a wrong password and for a name that is not
        in it, LOGIN_N of each, interleaved, one at a time over one
        keep-alive connection; medians in ms. The htpasswd file is
        `registryd passwd -C 5`, the cost `htpasswd -B` writes: a dummy hash
        of another cost for unknown names would show here as a ratio far
        from 1, which tells an attacker which names exist. registryd runs
        with fail_limit = 0 (its limiter would answer 429 without a crypt
        after 10 failures); registry:2 has no limiter. Each password is
        new, so no cache can answer."""
        keys = ("8i_login_known_ms", "8i_login_unknown_ms")
        d = os.path.join(self.work, "p8i")
        os.makedirs(d, exist_ok=True)
        user = "bench"
        pw = base64.urlsafe_b64encode(os.urandom(12)).decode()
        try:
            r = run([self.a.registryd, "passwd", "-C", "5", user],
                    timeout=60, input=pw + "\n")
            line = r.stdout.strip()
            if r.returncode != 0 or not re.match(
                    r"^bench:\$2[aby]\$05\$[./A-Za-z0-9]{53}$", line):
                raise BenchError("registryd passwd -C 5: %r %s" % (
                    line, r.stderr.strip()[-200:]))
            htp = os.path.join(d, "htpasswd")
            with open(htp, "w") as f:
                f.write(line + "\n")
        except (BenchError, OSError, subprocess.TimeoutExpired) as e:
            for k in keys:
                for kind in ("registryd", "registry2"):
                    self.err(k, kind, "setup: %s" % e)
            return
        for kind, binary in (("registryd", self.a.registryd),
                             ("registry2", None)):
            srv = Server(kind, self.work, binary, tag="login",
                         auth=(htp, user, pw),
                         ini="fail_limit = 0\n")
            self.say("%s: phase 8i, failed logins" % kind)
            try:
                srv.start()
                conn = srv.connection(timeout=60)
                times = {"known": [], "unknown": []}
                for i in range(self.LOGIN_N + 2):
                    for who, name in (("known", user),
                                      ("unknown", "nosuchuser%d" % i)):
                        cred = "%s:wrong%d-%s" % (name, i, os.urandom(4).hex())
                        hdr = {"Authorization": "Basic " + base64.b64encode(
                            cred.encode()).decode()}
                        t0 = time.monotonic()
                        st, _, _ = srv.request("GET", "/v2/", headers=hdr,
                                               conn=conn)
                        ms = (time.monotonic() - t0) * 1000
                        if st != 401:
                            raise BenchError("failed login (%s user): %d, "
                                             "want 401" % (who, st))
                        if i >= 2:  # the first two warm up
                            times[who].append(ms)
                conn.close()
                for who in ("known", "unknown"):
                    v = sorted(times[who])
                    self.put("8i_login_%s_ms" % who, kind, v[len(v) // 2])
                if not srv.alive():
                    raise BenchError("server died, see %s" % srv.log)
            except (BenchError, OSError, subprocess.TimeoutExpired) as e:
                for k in keys:
                    if (k, kind) not in self.results:
                        self.err(k, kind, e)
            finally:
                srv.stop()

    # -- phase 9: the S3 backend, on a throw-away Ceph cluster

    S3_KEYS = ("9a_s3_stream_MBps", "9b_s3_dl1_MBps", "9c_s3_many_MBps")

    def s3_capacity(self):
        """Memstore bytes for the OSD: each server drops its big blobs
        after use (s3_drop, with RGW's garbage collection), so at most one
        workload is in the bucket at a time: its parts, and its copy while
        both exist (both servers assemble the blob server-side), plus
        room for what the commits delete before the next collection."""
        a = self.a
        one = max(a.blob_bytes, a.many_n * a.many_bytes)
        return max(4 * GiB, 3 * one + 2 * GiB)

    def s3_drop(self, ceph, srv):
        """Delete the blobs of 1 MiB and more that srv stored, as
        drop_blobs does on disk (they are never asked for again), so that
        the OSD's memory holds one workload at a time."""
        pre = "%s/docker/registry/v2/blobs/" % srv.s3["root"].strip("/")
        ceph.delete([k for n, k in ceph.ls(pre)
                     if n >= MiB and k.endswith("/data")])
        ceph.gc()

    def s3_leftovers(self, ceph, srv):
        """Objects under _uploads/ after every upload was committed: what
        a driver forgot to delete (a note, not an error)."""
        root = srv.s3["root"].strip("/")
        left = [(n, k) for n, k in ceph.ls(root + "/docker/registry/v2/"
                                           "repositories/")
                if "/_uploads/" in k]
        if left:
            self.notes.append("S3: %s left %d objects (%d bytes) under "
                              "_uploads/, e.g. %s" % (
                                  srv.kind, len(left), sum(n for n, _ in left),
                                  left[0][1][len(root) + 1:]))

    def s3_phase(self, src):
        """registryd (driver s3) and registry:2 (its s3 driver) on one RGW,
        each under its own rootdirectory of one bucket, redirects off so
        every byte crosses the server: the phase 1a upload, the phase 2a
        download of that blob and the phase 3 concurrent pushes, A B A B,
        with server and store CPU and peak memory."""
        a = self.a
        missing = Ceph.missing()
        if missing:
            for k in self.S3_KEYS:
                for kind in ("registryd", "registry2"):
                    self.err(k, kind, "Ceph tools missing: %s "
                             "(scripts/install-deps.sh test)"
                             % " ".join(missing))
            return
        ceph = Ceph(self.work, self.s3_capacity())
        self.say("S3: a Ceph cluster with RGW (memstore %.1f GiB)"
                 % (ceph.capacity / GiB))
        servers = []
        try:
            try:
                ceph.start()
            except (BenchError, OSError, KeyError,
                    subprocess.TimeoutExpired) as e:
                for k in self.S3_KEYS:
                    for kind in ("registryd", "registry2"):
                        self.err(k, kind, "Ceph: %s" % e)
                return
            self.limits["ceph_start_s"] = ceph.start_secs
            self.limits["ceph_memstore_GiB"] = ceph.capacity / GiB
            for kind, binary in (("registryd", a.registryd),
                                 ("registry2", None)):
                srv = Server(kind, self.work, binary, tag="s3",
                             s3=ceph.s3_settings("/bench-" + kind,
                                                 a.s3_chunk),
                             store=ceph)
                try:
                    srv.start()
                    time.sleep(0.5)
                    rss, anon = srv.mem()
                    self.put("9_idle_anon", kind, anon / 1024)
                    self.put("9_idle_rss", kind, rss / 1024)
                    servers.append(srv)
                except (BenchError, OSError) as e:
                    for k in self.S3_KEYS:
                        self.err(k, kind, e)
            for rep in range(a.reps):
                for srv in servers:
                    if not srv.alive():
                        continue
                    self.say("S3 rep %d/%d %s: upload, download, %d "
                             "concurrent pushes" % (rep + 1, a.reps,
                                                    srv.kind, a.many_n))
                    # Peak memory per rep ("#2"): after 9c a server keeps
                    # some of what the 32 uploads used (malloc arenas, Go's
                    # heap), which then shows in the next rep's upload;
                    # the targets are on the first rep.
                    m = "" if rep == 0 else " #%d" % (rep + 1)
                    try:
                        d, size = self.up_stream(srv, rep, src, "9a_s3_stream",
                                                 "9 S3 upload" + m)
                        if d is None:
                            self.err("9b_s3_dl1_MBps", srv.kind,
                                     "no blob (upload failed)")
                        else:
                            self.download(srv, d, size, rep == 0,
                                          ((1, "9b_s3_dl1"),),
                                          "9 S3 download" + m)
                        self.s3_drop(ceph, srv)
                        self.many(srv, rep, src, "9c_s3_many",
                                  "9 S3 pushes" + m)
                        self.s3_drop(ceph, srv)
                    except (BenchError, subprocess.TimeoutExpired) as e:
                        self.errors.append(("9 S3", srv.kind, str(e)))
                    if not srv.alive():
                        self.errors.append(("9 S3", srv.kind,
                                            "server died, see %s" % srv.log))
            for srv in servers:
                if srv.alive():
                    self.put("9_hwm_rss", srv.kind, srv.hwm() / 1024)
                try:
                    self.s3_leftovers(ceph, srv)
                except (BenchError, subprocess.TimeoutExpired) as e:
                    self.errors.append(("9 S3 leftovers", srv.kind, str(e)))
            try:
                # Lines "date\ts3://bucket/key\tid" after a header.
                pre = "s3://%s/" % ceph.env["S3_BUCKET"]
                mp = [w[1][len(pre):] for w in
                      (x.split("\t") for x in ceph.s3cmd(
                          "multipart", pre).splitlines())
                      if len(w) >= 3 and w[1].startswith(pre)]
                if mp:
                    self.notes.append("S3: %d multipart uploads left "
                                      "unfinished in the bucket, e.g. %s"
                                      % (len(mp), ", ".join(mp[:3])))
                self.limits["osd_hwm_GiB"] = ceph.hwm("osd") / 1048576
                self.limits["rgw_hwm_GiB"] = ceph.hwm("rgw") / 1048576
            except (BenchError, OSError, KeyError,
                    subprocess.TimeoutExpired) as e:
                self.errors.append(("9 S3 cluster", "ceph", str(e)))
        finally:
            for srv in servers:
                srv.stop()
            ceph.stop()

    # -- the run

    def write_src(self):
        a = self.a
        src = os.path.join(self.work, "src.bin")
        need = max(a.blob_bytes, a.many_n * a.many_bytes)
        self.say("work dir %s; writing %d MiB of random data" %
                 (self.work, need // MiB))
        with open(src, "wb") as f:
            left = need
            while left > 0:
                k = min(left, 64 * MiB)
                f.write(os.urandom(k))
                left -= k
        return src

    def main(self):
        if self.a.only == "login":
            os.makedirs(self.work, exist_ok=True)
            self.limits["loadavg_start"] = os.getloadavg()[0]
            self.login_phase()
            self.limits["loadavg_end"] = os.getloadavg()[0]
            self.report()
            return
        if self.a.only == "s3":
            os.makedirs(self.work, exist_ok=True)
            src = self.write_src()
            self.limits["loadavg_start"] = os.getloadavg()[0]
            self.s3_phase(src)
            self.limits["loadavg_end"] = os.getloadavg()[0]
            self.report()
            return
        a = self.a
        os.makedirs(self.work, exist_ok=True)
        src = self.write_src()
        self.limits["loadavg_start"] = os.getloadavg()[0]
        self.machine_limits(src)

        rd = Server("registryd", self.work, a.registryd)
        r2 = Server("registry2", self.work, None)
        servers = [rd, r2]
        self.say("generating %d repositories and %d tags on disk, twice" %
                 (a.repos, a.tags))
        expected = None
        for srv in servers:
            expected = gen_tree(srv.root, a.repos, a.tags)
        idle = {}
        for srv in servers:
            srv.start()
            time.sleep(0.5)
            idle[srv.kind] = srv.mem()
            self.put("7_idle_anon", srv.kind, idle[srv.kind][1] / 1024)
            self.put("7_idle_rss", srv.kind, idle[srv.kind][0] / 1024)
        cpu_start = {srv.kind: srv.cpu() for srv in servers}

        dl = {}
        for rep in range(a.reps):
            for srv in servers:
                self.say("rep %d/%d %s: uploads, downloads, %d concurrent "
                         "pushes" % (rep + 1, a.reps, srv.kind, a.many_n))
                digest, size = self.up_stream(srv, rep, src)
                self.up_mono(srv, rep, src)
                if rep == 0 and digest:
                    dl[srv.kind] = (digest, size)
                d = dl.get(srv.kind, (None, 0))
                self.download(srv, d[0], d[1], verify=(rep == 0))
                self.many(srv, rep, src)
                self.drop_blobs(srv, keep=dl.get(srv.kind, (None,))[0])
        if "registryd" in dl:
            h = dl["registryd"][0].split(":")[1]
            self.nginx_limits(os.path.join(
                rd.root, "docker/registry/v2/blobs/sha256", h[:2], h, "data"),
                dl["registryd"][1])
        for srv in servers:
            self.say("%s: %d small uploads, 1 and 8 connections"
                     % (srv.kind, a.small_n))
            self.small(srv)
            self.small_par(srv)
        manifests = {}
        for srv in servers:
            try:
                manifests[srv.kind] = self.setup_image(srv)
                self.check_wrk_targets(srv, manifests[srv.kind])
            except (BenchError, OSError) as e:
                for key, _, _ in self.WRK:
                    self.err(key + "_rps", srv.kind, "setup: %s" % e)
        for key, method, path in self.WRK:
            for srv in servers:
                if srv.kind in manifests:
                    self.say("%s: wrk %s %s" % (srv.kind, method, path))
                    self.wrk(srv, key, method, path)
        for srv in servers:
            self.say("%s: _catalog and tags/list" % srv.kind)
            self.catalog(srv, expected)
        for srv in servers:
            if srv.alive():
                self.put("7_total_cpu", srv.kind,
                         srv.cpu() - cpu_start[srv.kind])
            else:
                self.err("7_total_cpu", srv.kind, "server died, see %s"
                         % srv.log)
            srv.stop()
        # Phase 8: fresh instances of both servers, one at a time, with
        # TLS and then with Basic auth.
        self.phase8(src)
        self.login_phase()
        # Phase 9: the S3 backend, when Ceph is installed (--s3 yes: an
        # error when it is not).
        if a.s3 == "yes" or (a.s3 == "auto" and not Ceph.missing()):
            self.s3_phase(src)
        elif a.s3 == "auto":
            self.notes.append("9 S3: skipped, Ceph tools missing: %s "
                              "(scripts/install-deps.sh test installs them)"
                              % " ".join(Ceph.missing()))
        self.limits["loadavg_end"] = os.getloadavg()[0]
        self.report()

    # ------------------------------------------------------------ report

    def val(self, key, kind, how):
        v = [x for x in self.results.get((key, kind), []) if x is not None]
        bad = None in self.results.get((key, kind), [])
        if bad or not v:
            return None
        return max(v) if how == "max" else min(v)

    def report(self):
        L = self.limits
        dd = L.get("dd_fdatasync_MBps")

        def min_of(*xs):
            xs = [x for x in xs if x is not None]
            return min(xs) if xs else None

        # key, label, unit, best-of (max/min), target(rd, r2) -> (ok, text)
        def ge(f, text):
            return lambda rd, r2: (None if r2 is None else rd >= f * r2,
                                   text)

        def le(f, text):
            return lambda rd, r2: (None if r2 is None else rd <= f * r2,
                                   text)

        def absle(x, text):
            return lambda rd, r2: (rd <= x, text)

        def absge(x, text):
            return lambda rd, r2: (rd >= x, text)

        def up_target(f):
            def t(rd, r2):
                if r2 is None:
                    return None, ""
                need = min_of(f * r2, 0.85 * dd if dd else None)
                return rd >= need, ">=%.0f (%gx r2|85%% dd)" % (need, f)
            return t

        def nginx_target(k):
            def t(rd, r2):
                n = L.get(k)
                if n is None:
                    return None, "nginx n/a"
                return rd >= 0.95 * n, ">=95%% nginx %.0f" % n
            return t

        blob = self.a.blob_bytes / GiB
        blob_s = ("%g GiB" % blob) if blob >= 1 else \
            ("%d MiB" % (self.a.blob_bytes // MiB))
        rows = [
            ("1a_stream_MBps", "1a streamed upload %s MB/s" % blob_s, "max",
             up_target(1.5)),
            ("1a_stream_cpu", "   server CPU-s per GiB", "min",
             le(0.2, "<=1/5 r2")),
            ("1b_mono_MBps", "1b monolithic upload %s MB/s" % blob_s, "max",
             up_target(2.0)),
            ("1b_mono_cpu", "   server CPU-s per GiB", "min",
             le(0.2, "<=1/5 r2")),
            ("2a_dl1_MBps", "2a download %s x1 MB/s" % blob_s, "max",
             nginx_target("nginx_dl1_MBps")),
            ("2a_dl1_cpu", "   server CPU-s per GiB", "min",
             absle(0.2, "<=0.2")),
            ("2b_dl4_MBps", "2b download %s x4 MB/s (sum)" % blob_s, "max",
             nginx_target("nginx_dl4_MBps")),
            ("2b_dl4_cpu", "   server CPU-s per GiB", "min",
             absle(0.2, "<=0.2")),
            ("3_many_MBps", "3  %d concurrent %d MiB pushes MB/s" %
             (self.a.many_n, self.a.many_bytes // MiB), "max", None),
            ("3_many_cpu", "   server CPU-s per GiB", "min", None),
            ("4_small_per_s", "4  %d x 4 KiB uploads, 1 conn, /s" %
             self.a.small_n, "max", ge(3, ">=3x r2")),
            ("4_small_cpu_ms", "   server CPU ms per upload", "min", None),
            ("4b_small8_per_s", "4b %d x 4 KiB uploads, 8 conns, /s" %
             (self.a.small_n // 8 * 8), "max", None),
            ("4b_small8_cpu_ms", "   server CPU ms per upload", "min", None),
        ]
        wl = {"5a_manifest": "5a wrk GET manifest by tag",
              "5b_head_blob": "5b wrk HEAD blob (empty)",
              "5c_tags": "5c wrk GET tags/list",
              "5d_base": "5d wrk GET /v2/"}
        for k, label in wl.items():
            hard = k in ("5a_manifest", "5b_head_blob")
            rows += [(k + "_rps", label + " req/s", "max",
                      ge(10, ">=10x r2") if hard else None),
                     (k + "_p99", "   p99 ms", "min",
                      le(0.1, "<=1/10 r2") if hard else None),
                     (k + "_cpu_us", "   server CPU us per request", "min",
                      None)]
        rows += [
            ("6a_catalog_page_ms", "6a _catalog n=100000 (%d repos) ms" %
             self.a.repos, "min", le(1 / 50, "<=1/50 r2")),
            ("6b_catalog_walk_ms", "6b _catalog walk n=100 ms", "min",
             le(1 / 100, "<=1/100 r2")),
            ("6b_catalog_walk_pages", "   pages", "min", None),
            ("6c_tags_page_ms", "6c tags/list (%d tags) ms" % self.a.tags,
             "min", None),
            ("6d_tags_walk_ms", "6d tags/list walk n=100 ms", "min", None),
            ("6d_tags_walk_pages", "   pages", "min", None),
            ("7_idle_anon", "7  idle RssAnon MiB", "min",
             absle(4, "<=4 MiB")),
            ("7_idle_rss", "   idle VmRSS MiB", "min", None),
        ]
        phases = sorted({p for p, _ in self.mem})
        for p in phases:
            for kind in ("registryd", "registry2"):
                rss, anon = self.mem.get((p, kind), (None, None))
                if rss is not None:
                    self.put("7_peak_anon:" + p, kind, anon / 1024)
                    self.put("7_peak_rss:" + p, kind, rss / 1024)
            tgt = absle(16, "<=16 MiB") if p.startswith("3") else None
            # S3: an upload buffers at most two parts, a download less
            # (4 MiB read-ahead); 8 MiB for the rest.
            part = self.a.s3_chunk / MiB + 0.25  # a part's buffer
            if p in ("9 S3 upload", "9 S3 download"):
                tgt = absle(2 * part + 8, "<=2 parts+8 MiB")
            elif p == "9 S3 pushes":
                tgt = absle(self.a.many_n * 2 * part + 8,
                            "<=%dx2 parts+8 MiB" % self.a.many_n)
            rows += [("7_peak_anon:" + p, "7  peak RssAnon MiB, %s" % p, "max",
                      tgt),
                     ("7_peak_rss:" + p, "   peak VmRSS MiB, %s" % p, "max",
                      None)]
        rows.append(("7_total_cpu", "7  server CPU-s, whole run", "min", None))
        # Phase 8, and the rows derived from it and from 2a / 5d.
        for kind in ("registryd", "registry2"):
            tls, plain = (self.val("8c_tls_dl1_MBps", kind, "max"),
                          self.val("2a_dl1_MBps", kind, "max"))
            if tls is not None and plain:
                self.put("8c_tls_dl1_frac", kind, tls / plain)
            auth, noauth = (self.val("8g_base_auth_rps", kind, "max"),
                            self.val("5d_base_rps", kind, "max"))
            if auth is not None and noauth:
                self.put("8h_base_auth_frac", kind, auth / noauth)
            auth, noauth = (self.val("8g_base_auth_cpu_us", kind, "min"),
                            self.val("5d_base_cpu_us", kind, "min"))
            if auth is not None and noauth is not None:
                self.put("8h_base_auth_cpu_us", kind, auth - noauth)
            unknown, known = (self.val("8i_login_unknown_ms", kind, "min"),
                              self.val("8i_login_known_ms", kind, "min"))
            if unknown is not None and known:
                self.put("8i_login_frac", kind, unknown / known)
        rows += [
            ("8a_tls_stream_MBps", "8a TLS streamed upload %s MB/s (curl)" %
             blob_s, "max", None),
            ("8a_tls_stream_cpu", "   server CPU-s per GiB", "min", None),
            ("8b_tls_mono_MBps", "8b TLS monolithic upload %s MB/s (curl)" %
             blob_s, "max", None),
            ("8b_tls_mono_cpu", "   server CPU-s per GiB", "min", None),
            ("8c_tls_dl1_MBps", "8c TLS download %s x1 MB/s" % blob_s, "max",
             None),
            ("8c_tls_dl1_cpu", "   server CPU-s per GiB", "min", None),
            ("8c_tls_dl1_frac", "   TLS / plain download (8c / 2a)", "max",
             absge(0.6, ">=0.6")),
            ("8d_auth_stream_MBps", "8d auth streamed upload %s MB/s" %
             blob_s, "max", None),
            ("8d_auth_stream_cpu", "   server CPU-s per GiB", "min", None),
            ("8e_auth_mono_MBps", "8e auth monolithic upload %s MB/s" %
             blob_s, "max", None),
            ("8e_auth_mono_cpu", "   server CPU-s per GiB", "min", None),
            ("8f_auth_dl1_MBps", "8f auth download %s x1 MB/s" % blob_s,
             "max", None),
            ("8f_auth_dl1_cpu", "   server CPU-s per GiB", "min", None),
            ("8g_base_auth_rps", "8g wrk GET /v2/ with auth req/s", "max",
             None),
            ("8g_base_auth_p99", "   p99 ms", "min", None),
            ("8g_base_auth_cpu_us", "   server CPU us per request", "min",
             None),
            ("8h_base_auth_frac", "8h GET /v2/ req/s, auth / no auth (5d)",
             "max", None),
            ("8h_base_auth_cpu_us", "   added CPU us per request (8g - 5d)",
             "min", None),
            ("8i_login_known_ms", "8i failed login, known user ms (cost 5)",
             "min", None),
            ("8i_login_unknown_ms", "   failed login, unknown user ms", "min",
             None),
            ("8i_login_frac", "   unknown / known user", "min",
             lambda rd, r2: (0.8 <= rd <= 1.25, "0.8-1.25")),
        ]
        faster = lambda rd, r2: (None if r2 is None else rd > r2, ">r2")
        s3 = "RGW+OSD+mon CPU-s per GiB"
        rows += [
            ("9a_s3_stream_MBps", "9a S3 streamed upload %s MB/s" % blob_s,
             "max", faster),
            ("9a_s3_stream_cpu", "   server CPU-s per GiB", "min", None),
            ("9a_s3_stream_store_cpu", "   " + s3, "min", None),
            ("9b_s3_dl1_MBps", "9b S3 download %s x1 MB/s" % blob_s, "max",
             faster),
            ("9b_s3_dl1_cpu", "   server CPU-s per GiB", "min", None),
            ("9b_s3_dl1_store_cpu", "   " + s3, "min", None),
            ("9c_s3_many_MBps", "9c S3 %d concurrent %d MiB pushes MB/s" %
             (self.a.many_n, self.a.many_bytes // MiB), "max", faster),
            ("9c_s3_many_cpu", "   server CPU-s per GiB", "min", None),
            ("9c_s3_many_store_cpu", "   " + s3, "min", None),
            ("9_idle_anon", "9  S3 idle RssAnon MiB", "min", None),
            ("9_idle_rss", "   idle VmRSS MiB", "min", None),
            ("9_hwm_rss", "9  S3 peak VmRSS MiB, whole life (VmHWM)", "max",
             None),
        ]

        out = []
        jrows = []
        hdr = "%-44s %11s %11s %7s  %s" % ("phase", "registryd", "registry:2",
                                          "ratio", "target")
        out.append(hdr)
        out.append("-" * len(hdr))

        def fmt(v):
            if v is None:
                return "ERROR"
            if abs(v) >= 100:
                return "%.0f" % v
            if abs(v) >= 10:
                return "%.1f" % v
            return "%.2f" % v if abs(v) >= 0.1 else "%.3f" % v

        met = missed = 0
        for key, label, how, target in rows:
            if not any(k == key for k, _ in self.results):
                continue
            rd = self.val(key, "registryd", how)
            r2 = self.val(key, "registry2", how)
            ratio = rd / r2 if rd is not None and r2 else None
            ok, text = (None, "")
            if target and rd is not None:
                ok, text = target(rd, r2)
            if ok is True:
                met += 1
            elif ok is False:
                missed += 1
            t = "" if not text else "%s %s" % (
                text, {True: "met", False: "MISSED", None: "?"}[ok])
            out.append("%-44s %11s %11s %7s  %s" % (
                label, fmt(rd), fmt(r2),
                "%.2fx" % ratio if ratio is not None else "-", t))
            jrows.append({"key": key, "registryd": rd, "registry2": r2,
                          "ratio": ratio, "target": text or None,
                          "met": ok,
                          "samples": {k: self.results.get((key, k), [])
                                      for k in ("registryd", "registry2")}})
        out.append("ratio = registryd / registry:2 (higher is better for "
                   "MB/s, req/s, /s; lower for ms, CPU, MiB)")
        out.append("-" * len(hdr))
        lim = [("sha256_MBps", "SHA-256 1 core, 16 KiB blocks MB/s"),
               ("dd_fdatasync_MBps", "dd %d MiB conv=fdatasync MB/s" %
                self.a.dd_mib),
               ("dsync_4k_per_s", "4 KiB O_DSYNC writes /s"),
               ("nginx_dl1_MBps", "nginx sendfile %s x1 MB/s (curl)" % blob_s),
               ("nginx_dl4_MBps", "nginx sendfile %s x4 MB/s (sum)" % blob_s),
               ("ceph_start_s", "Ceph cluster up (s3 phase) s"),
               ("ceph_memstore_GiB", "Ceph memstore capacity GiB"),
               ("osd_hwm_GiB", "Ceph OSD peak VmRSS GiB"),
               ("rgw_hwm_GiB", "Ceph RGW peak VmRSS GiB"),
               ("loadavg_start", "load average (1 min) at start"),
               ("loadavg_end", "load average (1 min) at the end")]
        for k, label in lim:
            if k not in L:  # a phase that did not run (--only)
                continue
            v = L.get(k)
            out.append("machine: %-35s %11s" % (label, fmt(v)))
        if max(L.get("loadavg_start") or 0, L.get("loadavg_end") or 0) > 3:
            out.append("warning: other work was running on this machine "
                       "(load average > 3): figures are noisy")
        out.append("targets: %d met, %d missed" % (met, missed))
        for kind, extra in sorted(self.catalog_extra.items()):
            if extra:
                out.append("note: %s lists repositories without manifests "
                           "in _catalog: %s" % (kind, " ".join(extra)))
        for n in self.notes:
            out.append("note: " + n)
        for key, kind, msg in self.errors:
            out.append("error: %s %s: %s" % (kind, key, msg))
        print("\n".join(out))
        j = {"bench": "registryd-vs-registry2", "quick": self.a.quick,
             "reps": self.a.reps, "blob_bytes": self.a.blob_bytes,
             "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "limits": L, "targets_met": met, "targets_missed": missed,
             "rows": jrows, "notes": self.notes,
             "errors": [{"key": k, "server": s, "error": m}
                        for k, s, m in self.errors]}
        line = json.dumps(j, separators=(",", ":"))
        print(line)
        if self.a.json_out:
            with open(self.a.json_out, "w") as f:
                f.write(line + "\n")
        self.failed = bool(self.errors)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="~1 minute: smaller blobs, one rep, short wrk")
    ap.add_argument("--registryd", default=os.path.join(TOP, "build/registryd"))
    ap.add_argument("--rbc", default=os.path.join(TOP, "build/bench/rbc"))
    ap.add_argument("--work", default=os.path.join(TOP, "build/bench/work"))
    ap.add_argument("--json-out", default=None)
    ap.add_argument("--keep", action="store_true",
                    help="keep the work directory (roots, logs)")
    ap.add_argument("--only", choices=("login", "s3"), default=None,
                    help="run one phase alone: login (8i, failed logins "
                    "of known and unknown users, ~10 s); s3 (9, the S3 "
                    "backend on a throw-away Ceph cluster, ~5 min)")
    ap.add_argument("--s3", choices=("auto", "yes", "no"), default="auto",
                    help="phase 9 (S3 on Ceph RGW) in a full run: auto "
                    "(when the Ceph packages are installed), yes, no")
    a = ap.parse_args()
    if a.quick:
        a.blob_bytes, a.reps, a.many_n, a.many_bytes = 256 * MiB, 1, 32, 8 * MiB
        a.small_n, a.wrk_secs, a.repos, a.tags = 300, 3, 2000, 2000
        a.sha_secs, a.dd_mib, a.dsync_count = 1, 256, 500
    else:
        a.blob_bytes, a.reps, a.many_n, a.many_bytes = GiB, 2, 32, 32 * MiB
        a.small_n, a.wrk_secs, a.repos, a.tags = 2000, 10, 10000, 10000
        a.sha_secs, a.dd_mib, a.dsync_count = 2, 1024, 2000
    a.chunk = MiB
    a.s3_chunk = 10 * MiB  # registry:2's default chunksize, for both
    a.work = os.path.abspath(a.work)
    a.registryd = os.path.abspath(a.registryd)
    a.rbc = os.path.abspath(a.rbc)
    for k in list(os.environ):
        if k.lower() in ("http_proxy", "https_proxy", "all_proxy"):
            del os.environ[k]
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "*"
    os.environ["LC_ALL"] = "C"
    if os.path.exists(a.work):
        shutil.rmtree(a.work)
    for tool in ("curl", "wrk", "openssl", "docker-registry", "dd"):
        if shutil.which(tool) is None:
            sys.exit("bench: %s is missing (bench/install-deps.sh)" % tool)
    if a.only == "s3" and Ceph.missing():
        sys.exit("bench: --only s3 needs %s (scripts/install-deps.sh test)"
                 % " ".join(Ceph.missing()))
    for f in (a.registryd,) + ((a.rbc,) if a.only != "login" else ()):
        if not os.access(f, os.X_OK):
            sys.exit("bench: %s is missing (make bench builds it)" % f)

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    b = Bench(a)
    t0 = time.monotonic()
    rc = 1
    try:
        b.main()
        rc = 1 if b.failed else 0
    finally:
        stop_all()
        print("bench: %.0f s%s" % (time.monotonic() - t0,
                                    "; work dir kept: " + a.work
                                    if a.keep else ""), file=sys.stderr)
        if not a.keep:
            # rm(1) is faster than shutil.rmtree on ~100k directories.
            t1 = time.monotonic()
            try:
                subprocess.run(["rm", "-rf", "--one-file-system", a.work],
                               timeout=600, preexec_fn=_pdeathsig)
            except subprocess.TimeoutExpired:
                print("bench: removing %s took over 600 s; left behind"
                      % a.work, file=sys.stderr)
            print("bench: removed the work directory in %.0f s"
                  % (time.monotonic() - t1), file=sys.stderr)
    sys.exit(rc)


if __name__ == "__main__":
    main()
