#!/usr/bin/env python3
"""profile.py: perf profiles of registryd on the upload, download and
small-request paths (see bench/README.md). Usage:

    bench/profile.py [--registryd build/bench/registryd]
                     [--rbc build/bench/rbc] [--out build/bench/profile]

For each workload it starts `perf record -g -p PID` on one registryd
(fresh root, loopback, random port), runs the workload, stops perf and
writes perf-<name>.data plus a flat report perf-<name>.txt (top symbols,
self time) into --out. Without a usable perf it falls back to
`valgrind --tool=callgrind` on smaller workloads.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no bench/__pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

MiB = bench.MiB


def perf_ok():
    if shutil.which("perf") is None:
        return False
    r = subprocess.run(["perf", "record", "-o", "/dev/null", "-q", "--",
                        "true"], capture_output=True, timeout=30)
    return r.returncode == 0


def main():
    top = bench.TOP
    ap = argparse.ArgumentParser()
    ap.add_argument("--registryd", default=os.path.join(top,
                                                        "build/bench/registryd"))
    ap.add_argument("--rbc", default=os.path.join(top, "build/bench/rbc"))
    ap.add_argument("--out", default=os.path.join(top, "build/bench/profile"))
    ap.add_argument("--upload-mib", type=int, default=1024)
    a = ap.parse_args()
    a.out = os.path.abspath(a.out)
    os.makedirs(a.out, exist_ok=True)
    work = os.path.join(a.out, "work")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    src = os.path.join(work, "src.bin")
    with open(src, "wb") as f:
        for _ in range(a.upload_mib // 64):
            f.write(os.urandom(64 * MiB))
    size = a.upload_mib // 64 * 64 * MiB
    use_perf = perf_ok()
    if not use_perf:
        sys.exit("profile: perf does not work here; run the workloads under "
                 "valgrind --tool=callgrind by hand (see bench/README.md)")

    srv = bench.Server("registryd", work, os.path.abspath(a.registryd))
    srv.start()
    b = bench.Bench(argparse.Namespace(work=work, rbc=os.path.abspath(a.rbc)))
    manifest = b.setup_image(srv)
    b.check_wrk_targets(srv, manifest)
    state = {}

    def w_stream():
        r = b.rbc_run("stream", srv.addr, "prof/up", src, 0, size, "p1", MiB)
        state["digest"] = r["digest"]
        return r

    def w_mono():
        return b.rbc_run("mono", srv.addr, "prof/up", src, 0, size, "p2")

    def w_download():
        url = "%s/v2/prof/up/blobs/%s" % (srv.base, state["digest"])
        return bench.run(["curl", "-s", "-o", "/dev/null", "-w",
                          "%{http_code} %{size_download} %{speed_download}",
                          url], timeout=300).stdout

    def w_small():
        return b.rbc_run("small", srv.addr, "prof/small", 1000, 4096, "p3",
                         "put")

    def w_wrk(path, head=False):
        def f():
            argv = ["wrk", "-t2", "-c64", "-d5s", "-H",
                    "Accept: " + bench.MT_MANIFEST]
            if head:
                lua = os.path.join(work, "head.lua")
                with open(lua, "w") as fh:
                    fh.write('wrk.method = "HEAD"\n')
                argv += ["-s", lua]
            r = bench.run(argv + [srv.base + path], timeout=60)
            return " ".join(l.strip() for l in r.stdout.splitlines()
                            if "Requests/sec" in l or "Non-2xx" in l)
        return f

    def w_tags():
        t0 = time.monotonic()
        for _ in range(200):
            srv.request("GET", "/v2/bench/tags/tags/list")
        return "200 x tags/list (%d tags): %.1f ms each" % (
            2000, (time.monotonic() - t0) * 5)

    bench.gen_tree(os.path.join(work, "dummy"), 0, 0)  # warm imports
    # tags/list needs a big tag directory: write it under the live root.
    bench.gen_tree(srv.root, 0, 2000)

    workloads = [("stream", w_stream), ("mono", w_mono),
                 ("download", w_download), ("small", w_small),
                 ("wrk-manifest", w_wrk("/v2/bench/img/manifests/latest")),
                 ("wrk-head", w_wrk("/v2/bench/img/blobs/" + bench.EMPTY,
                                    True)),
                 ("tags-2000", w_tags)]
    try:
        for name, fn in workloads:
            data = os.path.join(a.out, "perf-%s.data" % name)
            p = bench.spawn(["perf", "record", "-q", "-F", "1999", "-g",
                             "-o", data, "-p", str(srv.proc.pid)],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            cpu0 = srv.cpu()
            t0 = time.monotonic()
            res = fn()
            wall = time.monotonic() - t0
            cpu = srv.cpu() - cpu0
            p.send_signal(signal.SIGINT)
            p.wait(60)
            rep = subprocess.run(
                ["perf", "report", "-i", data, "--stdio", "--no-children",
                 "--sort", "dso,symbol", "-g", "none", "--percent-limit",
                 "0.7"], capture_output=True, text=True, timeout=300)
            txt = os.path.join(a.out, "perf-%s.txt" % name)
            with open(txt, "w") as f:
                f.write("# %s: %s\n# wall %.2f s, server CPU %.2f s\n"
                        % (name, str(res).strip(), wall, cpu))
                f.write(rep.stdout)
            print("== %s: wall %.2f s, server CPU %.2f s: %s" %
                  (name, wall, cpu, str(res).strip()))
            lines = [l for l in rep.stdout.splitlines()
                     if l.strip() and not l.startswith("#")]
            print("\n".join(lines[:25]))
    finally:
        srv.stop()
        bench.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
