#!/usr/bin/env python3
"""Packs files into a container image archive that `ctr images import` takes (the layout of
`docker save`: manifest.json, the image configuration, one uncompressed layer), without a
registry or a container engine. Reproducible: owners 0, times 0, names sorted.

  make-image.py OUT.tar NAME:TAG --entrypoint /path/in/image [--file SRC:/path/in/image[:MODE]]...
                [--link /path/in/image:TARGET]...
"""
import argparse
import hashlib
import io
import json
import os
import tarfile


def add_dirs(tar, path, seen):
    parts = path.strip("/").split("/")[:-1]
    for i in range(1, len(parts) + 1):
        d = "/".join(parts[:i])
        if d in seen:
            continue
        seen.add(d)
        info = tarfile.TarInfo(d)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)


def layer(files, links):
    buf = io.BytesIO()
    seen = set()
    entries = sorted([(dst, "file", src, mode) for src, dst, mode in files] +
                     [(dst, "link", target, 0) for dst, target in links])
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dst, kind, src, mode in entries:
            add_dirs(tar, dst, seen)
            info = tarfile.TarInfo(dst.lstrip("/"))
            if kind == "link":
                info.type = tarfile.SYMTYPE
                info.linkname = src
                info.mode = 0o777
                tar.addfile(info)
                continue
            info.size = os.path.getsize(src)
            info.mode = mode
            with open(src, "rb") as f:
                tar.addfile(info, f)
    return buf.getvalue()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("name")
    p.add_argument("--entrypoint", required=True)
    p.add_argument("--file", action="append", default=[])
    p.add_argument("--link", action="append", default=[])
    a = p.parse_args()
    files = []
    for spec in a.file:
        parts = spec.split(":")
        mode = int(parts[2], 8) if len(parts) > 2 else 0o755
        files.append((parts[0], parts[1], mode))
    links = [tuple(spec.split(":", 1)) for spec in a.link]
    data = layer(files, links)
    diff_id = "sha256:" + hashlib.sha256(data).hexdigest()
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": a.entrypoint.split(" "),
                   "Env": ["PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "kaas scripts/images/make-image.py"}],
    }, sort_keys=True).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    layer_name = diff_id[len("sha256:"):] + "/layer.tar"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [a.name],
                            "Layers": [layer_name]}]).encode()
    tmp = a.out + ".partial"
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, blob in sorted([(config_name, config), (layer_name, data),
                                  ("manifest.json", manifest)]):
            if "/" in name:
                d = tarfile.TarInfo(name.split("/")[0])
                d.type = tarfile.DIRTYPE
                d.mode = 0o755
                tar.addfile(d)
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(blob))
    os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
