#!/usr/bin/env python3
"""ociimages.py DIR: build, without any network, an OCI image layout in DIR
for the web interface and docker search tests (t9600, t9700):

  tag "1.9"   one image, linux/amd64: a 1.5 MiB layer (random bytes, so
              gzip cannot shrink it) and a small one; a config with Env,
              Entrypoint, Cmd, Labels (among them the OCI description),
              history and a created date;
  tag "1.10"  an index of two images, linux/amd64 and linux/arm64/v8, each
              with its own layer and config, plus a buildx-style
              attestation entry (unknown/unknown); the index carries the
              description annotation.

It prints one JSON object: for each tag its digest, media type and, per
platform image, the digest, platform, created date and compressed size
(config + layers), which is what the interface must show.
"""

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DESC = "org.opencontainers.image.description"


def main():
    out = sys.argv[1]
    blobs = os.path.join(out, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)

    def put(data):
        d = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, d), "wb") as f:
            f.write(data)
        return "sha256:" + d

    def descriptor(mt, data, **extra):
        d = {"mediaType": mt, "digest": put(data), "size": len(data)}
        d.update(extra)
        return d

    def layer(files):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as t:
            for name, data in files:
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                ti.mtime = 0
                t.addfile(ti, io.BytesIO(data))
        tar = raw.getvalue()
        gz = gzip.compress(tar, compresslevel=1, mtime=0)
        return gz, "sha256:" + hashlib.sha256(tar).hexdigest()

    def image(arch, variant, created, sizes, labels, env, cmd):
        layers, diffs = [], []
        for i, n in enumerate(sizes):
            gz, diff = layer([("data%d.bin" % i, os.urandom(n))])
            layers.append(descriptor(MT_LAYER, gz))
            diffs.append(diff)
        cfg = {
            "created": created,
            "architecture": arch,
            "os": "linux",
            "config": {"Env": env, "Entrypoint": ["/bin/app"], "Cmd": cmd,
                       "WorkingDir": "/srv", "Labels": labels},
            "rootfs": {"type": "layers", "diff_ids": diffs},
            "history": [{"created": created, "created_by": "COPY data%d.bin /" % i}
                        for i in range(len(sizes))],
        }
        if variant:
            cfg["variant"] = variant
        cfg_bytes = json.dumps(cfg, separators=(",", ":")).encode()
        config = descriptor(MT_CONFIG, cfg_bytes)
        man = {"schemaVersion": 2, "mediaType": MT_MANIFEST, "config": config,
               "layers": layers}
        man_bytes = json.dumps(man, separators=(",", ":")).encode()
        size = config["size"] + sum(l["size"] for l in layers)
        return man_bytes, size

    report = {}
    index_entries = []

    # 1.9: one image.
    m19, size19 = image("amd64", None, "2024-03-01T10:00:00Z",
                        [1536 * 1024, 2000],
                        {DESC: "The team's app, single platform",
                         "org.opencontainers.image.version": "1.9"},
                        ["PATH=/usr/bin:/bin", "APP_MODE=production"],
                        ["--serve"])
    d19 = descriptor(MT_MANIFEST, m19)
    index_entries.append(dict(d19, annotations={
        "org.opencontainers.image.ref.name": "1.9"}))
    report["1.9"] = {"digest": d19["digest"], "mediaType": MT_MANIFEST,
                     "images": [{"digest": d19["digest"],
                                 "platform": "linux/amd64",
                                 "created": "2024-03-01T10:00:00Z",
                                 "size": size19}]}

    # 1.10: an index of two platforms and an attestation.
    children, images = [], []
    for arch, variant, created, n in (
            ("amd64", None, "2024-06-02T08:30:00Z", 300 * 1024),
            ("arm64", "v8", "2024-06-02T08:31:00Z", 600 * 1024)):
        m, size = image(arch, variant, created, [n],
                        {"org.opencontainers.image.version": "1.10"},
                        ["PATH=/usr/bin:/bin"], ["--serve"])
        platform = {"architecture": arch, "os": "linux"}
        if variant:
            platform["variant"] = variant
        d = descriptor(MT_MANIFEST, m, platform=platform)
        children.append(d)
        images.append({"digest": d["digest"],
                       "platform": "linux/%s%s" % (arch, "/" + variant if variant else ""),
                       "created": created, "size": size})
    att_cfg = descriptor("application/vnd.oci.image.config.v1+json", b"{}")
    att = {"schemaVersion": 2, "mediaType": MT_MANIFEST, "config": att_cfg,
           "layers": [descriptor("application/vnd.in-toto+json",
                                 b'{"predicateType":"https://slsa.dev/provenance/v0.2"}')]}
    att_bytes = json.dumps(att, separators=(",", ":")).encode()
    children.append(descriptor(MT_MANIFEST, att_bytes,
                               platform={"architecture": "unknown", "os": "unknown"},
                               annotations={"vnd.docker.reference.type": "attestation-manifest",
                                            "vnd.docker.reference.digest": children[0]["digest"]}))
    idx = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": children,
           "annotations": {DESC: "The team's app, for amd64 and arm64"}}
    idx_bytes = json.dumps(idx, separators=(",", ":")).encode()
    d110 = descriptor(MT_INDEX, idx_bytes)
    index_entries.append(dict(d110, annotations={
        "org.opencontainers.image.ref.name": "1.10"}))
    report["1.10"] = {"digest": d110["digest"], "mediaType": MT_INDEX,
                      "images": images}

    with open(os.path.join(out, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "mediaType": MT_INDEX,
                   "manifests": index_entries}, f)
    json.dump(report, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
