#!/usr/bin/env python3
"""Set one field of an image, for the tests of the restore's checks of what images say.

  python3 tests/tools/set_field.py IMAGE MESSAGE.FIELD VALUE [NTH]

Every occurrence of FIELD inside a MESSAGE (at any depth of the image; NTH: only the NTH one,
counted from 0) takes the integer VALUE. Prints how many were set; exit 1 when none was.
Uses the wire format helpers of mutate.py (this directory)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mutate  # noqa: E402


def main():
    path, spec, val = sys.argv[1], sys.argv[2], int(sys.argv[3], 0)
    nth = int(sys.argv[4]) if len(sys.argv) > 4 else None
    msg, name = spec.split(".", 1)
    hdr, fields = mutate.read_meta(path)
    top = mutate.msg_of(os.path.basename(path))
    seen = done = 0
    for _, m, n, e, _ in list(mutate.leaves(fields, top)):
        if m == msg and n == name and not isinstance(e[2], (list, bytes)):
            if nth is None or seen == nth:
                e[2] = val
                done += 1
            seen += 1
    if not done:
        sys.exit("%s: no %s in %s" % (path, spec, os.path.basename(path)))
    mutate.write_meta(path, hdr, fields)
    print(done)


if __name__ == "__main__":
    main()
