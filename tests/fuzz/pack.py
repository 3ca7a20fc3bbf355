#!/usr/bin/env python3
"""Seed inputs for the fuzz targets (tests/fuzz/fuzz.c) from a directory of real images.

  python3 tests/fuzz/pack.py IMAGES-DIR CORPUS-DIR [TAG]

Writes CORPUS-DIR/TARGET/TAG-FILE for every image (the decoder targets, `show`, `raw` with the
first two pages of a raw image) and CORPUS-DIR/restore/TAG: the whole directory as one input of
the restore target (records: u8 type, u32 id, u32 len, bytes; a raw image as its magic,
version and data size only).
"""
import os
import re
import struct
import sys

TYPES = [  # enum img_type order, file name pattern, decoder target
    (r"inventory\.img", "inventory"),
    (r"pstree\.img", "pstree"),
    (r"core-(\d+)\.img", "core"),
    (r"mm-(\d+)\.img", "mm"),
    (r"pagemap-(\d+)\.img", "pagemap"),
    (r"files-(\d+)\.img", "files"),
    (r"stats-dump\.img", "stats"),
    (r"pages-(\d+)\.img", None),
    (r"ghost-(\d+)\.img", None),
    (r"cpuinfo\.img", "show"),
    (r"memfd-(\d+)\.img", None),
    (r"ipc\.img", "show"),
    (r"sysvshm-(\d+)\.img", None),
]


def main():
    src, dst = sys.argv[1], sys.argv[2]
    tag = sys.argv[3] if len(sys.argv) > 3 else os.path.basename(os.path.normpath(src))
    records = b""
    for name in sorted(os.listdir(src)):
        for t, (pat, target) in enumerate(TYPES):
            m = re.fullmatch(pat, name)
            if m:
                break
        else:
            continue
        data = open(os.path.join(src, name), "rb").read()
        ident = int(m.group(1)) if m.groups() else 0
        outs = sorted({target, "show"}) if target else ["raw"]
        for o in outs:
            os.makedirs(os.path.join(dst, o), exist_ok=True)
            open(os.path.join(dst, o, f"{tag}-{name}"), "wb").write(data if target else data[:4096 + 64])
        if target:
            rec = data
        else:
            rec = data[:8] + struct.pack("<I", len(data) - 4096)
        records += struct.pack("<BII", t, ident, len(rec)) + rec
    os.makedirs(os.path.join(dst, "restore"), exist_ok=True)
    open(os.path.join(dst, "restore", tag), "wb").write(records)


if __name__ == "__main__":
    main()
