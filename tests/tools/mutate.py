#!/usr/bin/env python3
"""Mutation probe for cryo's restore-side checks.

Dumps a few test programs once each, then, trial after trial, copies the good images, damages
them in one way (a field set to a value outside its domain, an id pointing nowhere, a repeated
entry duplicated, another task's image in place of this one's, a header field, a truncation, a
missing file...), restores and sorts the outcome:

  refused   cryo exited non-zero (< 128) with a message, and no process of the dump is left
  passed    cryo restored it and the test program still wrote PASS
  broken    cryo restored it and the test failed, died or hung; or cryo failed but left a
            process behind (the bad case: the damage was not noticed)
  crash     cryo exited >= 128, timed out, or a sanitizer reported an error

Fields whose every value is a legal state (register values, page contents, signal masks,
timer values...) are never changed: no check could tell a damaged value from a real one.

  python3 tests/tools/mutate.py [--cryo build/cryo] [--trials 300] [--seed 1] [--progs a,b]
                                [--out /tmp/mutate] [-v] [--fields msg.field,...]

--fields makes every trial a field mutation of one of those fields (e.g. the ghost references
of ghost_cwd, ghost_two_opens, ghost_map and the /proc files of proc_files:
task_core.cwd_ghost_id,vma.ghost_id,fd_entry.ghost_id,fd_entry.proc_pid,fd_entry.proc_rel).

Prints one line per trial that is not refused or passed, then the counts. Exit status 1 when
there was a broken or crash outcome. Run as root, like the test suite.
"""
import argparse
import ctypes
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TASK_SIZE = 0x7FFFFFFFF000
U64 = (1 << 64) - 1
U32 = (1 << 32) - 1

# ---- the schema, read from images/cryo.proto -------------------------------------------------


def parse_proto(path):
    text = re.sub(r"//[^\n]*", "", open(path).read())
    msgs, enums = {}, set()
    for m in re.finditer(r"enum\s+(\w+)\s*{", text):
        enums.add(m.group(1))
    for m in re.finditer(r"message\s+(\w+)\s*{([^}]*)}", text):
        fields = {}
        for f in re.finditer(r"(required|optional|repeated)\s+(\w+)\s+(\w+)\s*=\s*(\d+)", m.group(2)):
            fields[int(f.group(4))] = (f.group(1), f.group(2), f.group(3))
        msgs[m.group(1)] = fields
    return msgs, enums


MSGS, ENUMS = parse_proto(os.path.join(ROOT, "images", "cryo.proto"))

IMAGE_MSG = [
    (r"inventory\.img", "inventory"),
    (r"pstree\.img", "pstree"),
    (r"core-\d+\.img", "task_core"),
    (r"mm-\d+\.img", "mm"),
    (r"pagemap-\d+\.img", "pagemap"),
    (r"files-\d+\.img", "files"),
    (r"stats-dump\.img", "dump_stats"),
]


def msg_of(name):
    for pat, msg in IMAGE_MSG:
        if re.fullmatch(pat, name):
            return msg
    return None


# ---- protobuf wire format -------------------------------------------------------------------


class Bad(Exception):
    pass


def get_varint(b, i):
    v = s = 0
    while True:
        if i >= len(b) or s > 63:
            raise Bad()
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if not c & 0x80:
            return v & U64, i


def put_varint(v):
    v &= U64
    out = bytearray()
    while True:
        c = v & 0x7F
        v >>= 7
        if v:
            out.append(c | 0x80)
        else:
            out.append(c)
            return bytes(out)


def decode(b, msg):
    """-> list of [field_no, wire_type, value]; value: int, bytes, or a list (submessage)"""
    out, i, fields = [], 0, MSGS[msg]
    while i < len(b):
        key, i = get_varint(b, i)
        no, wt = key >> 3, key & 7
        if wt == 0:
            v, i = get_varint(b, i)
        elif wt == 1:
            if i + 8 > len(b):
                raise Bad()
            v, i = struct.unpack_from("<Q", b, i)[0], i + 8
        elif wt == 5:
            if i + 4 > len(b):
                raise Bad()
            v, i = struct.unpack_from("<I", b, i)[0], i + 4
        elif wt == 2:
            n, i = get_varint(b, i)
            if i + n > len(b):
                raise Bad()
            v, i = b[i : i + n], i + n
            typ = fields.get(no, (None, None))[1]
            if typ in MSGS:
                v = decode(v, typ)
        else:
            raise Bad()
        out.append([no, wt, v])
    return out


def encode(fields):
    out = bytearray()
    for no, wt, v in fields:
        out += put_varint(no << 3 | wt)
        if wt == 0:
            out += put_varint(v)
        elif wt == 1:
            out += struct.pack("<Q", v & U64)
        elif wt == 5:
            out += struct.pack("<I", v & U32)
        else:
            data = encode(v) if isinstance(v, list) else v
            out += put_varint(len(data)) + data
    return bytes(out)


def leaves(fields, msg, path=()):
    """Yield (path, msg, field name, entry) for every field of every (sub)message."""
    for k, e in enumerate(fields):
        name = MSGS[msg].get(e[0], (None, None, "?"))[2]
        yield path + (k,), msg, name, e, fields
        if isinstance(e[2], list):
            yield from leaves(e[2], MSGS[msg][e[0]][1], path + (k,))


def field(fields, msg, name):
    for no, (_, _, n) in MSGS[msg].items():
        if n == name:
            return [e for e in fields if e[0] == no]
    return []


def value(fields, msg, name, default=None):
    f = field(fields, msg, name)
    return f[-1][2] if f else default


def s64(v):
    return v - (1 << 64) if v >= 1 << 63 else v


# ---- values outside each field's domain -------------------------------------------------------
# msg.field -> function(original value, context) -> candidate values; each is a legal encoding
# that no real dump of this machine could hold.


def neg(x):
    return x & U64  # varint of a negative int32/int64


def addr_bad(v, c):
    return [TASK_SIZE + 0x1000, 1 << 63, U64 & ~0xFFF]


BAD = {
    "inventory.format_version": lambda v, c: [0, 2, U32],
    "inventory.root_pid": lambda v, c: [0, v + 1, 1 << 23],
    "inventory.page_size": lambda v, c: [0, 8192, 4095],
    "pstree_task.pid": lambda v, c: [0, 1, U32, c["other_pid"]],
    "pstree_task.ppid": lambda v, c: [0, U32, c["self_pid"]] + ([] if c["is_root"] else [c["free_pid"]]),
    "pstree_task.pgid": lambda v, c: [0, U32, 1 << 23],
    "pstree_task.sid": lambda v, c: [0, U32, 1 << 23],
    "pstree_task.threads": lambda v, c: [0, U32, 1 << 23],
    "pstree_task.exit_signal": lambda v, c: [65, neg(-1), 1000],
    "pstree_task.stop_signal": lambda v, c: [9, 65, neg(-1)],
    "pstree_task.parent_tid": lambda v, c: [0, U32, c["free_pid"]],
    "thread_core.tid": lambda v, c: [0, U32, c["free_pid"]],
    "thread_core.altstack_flags": lambda v, c: [8, U32, 3],
    "thread_core.rseq_ptr": lambda v, c: [v + 1, TASK_SIZE + 0x1000] if v else [],
    "thread_core.rseq_len": lambda v, c: [0, 1, 1 << 20] if v else [],
    "thread_core.robust_list": lambda v, c: addr_bad(v, c) if v else [],
    "thread_core.robust_list_len": lambda v, c: [0, 25, 1 << 20] if v else [],
    "thread_core.clear_child_tid": addr_bad,
    "thread_core.sched_policy": lambda v, c: [4, 7, 100, neg(-1)],
    "thread_core.sched_prio": lambda v, c: [100, neg(-1)],
    "thread_core.nice": lambda v, c: [20, neg(-21), 1000],
    "thread_core.comm": lambda v, c: [b"a" * 16, b"x" * 100],
    "thread_core.timer_slack_ns": lambda v, c: [0],
    "thread_core.ioprio": lambda v, c: [0xFFFF, neg(-1), 4 << 13],
    "thread_core.cpu_affinity": lambda v, c: [b"", b"\0" * len(v), b"\xff" * 200],
    "thread_core.xstate": lambda v, c: [b"", v[: len(v) // 2], v + b"\0" * 64],
    "creds.uid": lambda v, c: [U32],
    "creds.euid": lambda v, c: [U32],
    "creds.suid": lambda v, c: [U32],
    "creds.fsuid": lambda v, c: [U32],
    "creds.gid": lambda v, c: [U32],
    "creds.egid": lambda v, c: [U32],
    "creds.sgid": lambda v, c: [U32],
    "creds.fsgid": lambda v, c: [U32],
    "creds.groups": lambda v, c: [U32],
    "creds.cap_inh": lambda v, c: [1 << 63, 1 << 45],
    "creds.cap_prm": lambda v, c: [1 << 63, 1 << 45],
    "creds.cap_eff": lambda v, c: [1 << 63, 1 << 45],
    "creds.cap_bnd": lambda v, c: [1 << 63, 1 << 45],
    "creds.cap_amb": lambda v, c: [1 << 63, 1 << 45],
    "creds.securebits": lambda v, c: [0x100, U32],
    "siginfo.raw": lambda v, c: [b"", v[:64], v + b"\0", b"\x00" * 128, b"\x41" + v[1:]],
    "sigaction_entry.signo": lambda v, c: [0, 65, 9, 19, 1000],
    "sigaction_entry.handler": lambda v, c: addr_bad(v, c) if v > 1 else [],
    "sigaction_entry.flags": lambda v, c: [v | 1 << 40, v | 0x00000100],
    "sigaction_entry.restorer": lambda v, c: addr_bad(v, c) if v else [],
    "timeval_pair.interval_nsec": lambda v, c: [1000000000, U64],
    "timeval_pair.value_nsec": lambda v, c: [1000000000, U64],
    "timeval_pair.interval_sec": lambda v, c: [1 << 63, U64],
    "timeval_pair.value_sec": lambda v, c: [1 << 63, U64],
    # any id in 0..INT_MAX is one the kernel can give (it counts up and wraps): only a
    # negative one is out of the domain
    "posix_timer.id": lambda v, c: [neg(-1)],
    "posix_timer.clock": lambda v, c: [12, 100, neg(-1)],
    "posix_timer.notify": lambda v, c: [3, 5, 100, neg(-1)],
    "posix_timer.signo": lambda v, c: [65, 1000, neg(-1)],
    "posix_timer.notify_tid": lambda v, c: [0, U32, c["free_pid"]],
    "posix_timer.overrun": lambda v, c: [neg(-1)],
    "rlimit_entry.resource": lambda v, c: [16, 100, U32],
    "task_core.personality": lambda v, c: [U32, 0x10000000],
    "task_core.umask": lambda v, c: [0o1000, U32],
    "task_core.pdeathsig": lambda v, c: [65, neg(-1)],
    "task_core.dumpable": lambda v, c: [3, neg(-1), 100],
    "task_core.seccomp_mode": lambda v, c: [3, 100] + ([2] if v == 0 else [0]),
    "task_core.oom_score_adj": lambda v, c: [1001, neg(-1001)],
    "task_core.cwd": lambda v, c: [b"relative/dir", b""],
    "task_core.root": lambda v, c: [b"relative/dir", b""],
    "task_core.exit_signal": lambda v, c: [65, neg(-1)],
    "task_core.mce_kill": lambda v, c: [5, neg(-1)],
    "task_core.files_shared_with_parent": lambda v, c: [1] if c["is_root"] else [],
    "task_core.fs_shared_with_parent": lambda v, c: [1] if c["is_root"] else [],
    "seccomp_filter.insns": lambda v, c: [b"", v[:-3], b"\0" * 8 * 5000],
    "vma.start": lambda v, c: [v + 1, TASK_SIZE + 0x1000, U64 & ~0xFFF],
    "vma.end": lambda v, c: [v + 1, 1 << 48, 0],
    "vma.kind": lambda v, c: [0, 8, 100],
    "vma.prot": lambda v, c: [8, U32, 0x10],
    "vma.flags": lambda v, c: [v | 0x10, v | 0x100000, U32, 0, 3],
    "vma.madvise": lambda v, c: [v | 1 << 9, v | 1 << 31],
    "vma.pgoff": lambda v, c: [v + 1, U64 & ~0xFFF],
    "vma.path": lambda v, c: [b"relative/file", b""],
    "vma.ghost_file": lambda v, c: [1000, U32],
    "vma.cow_from_parent": lambda v, c: [1] if c["is_root"] else [],
    "prefork_page.vaddr": lambda v, c: [v + 1, TASK_SIZE + 0x1000],
    "prefork_page.provider": lambda v, c: [0, U32, c["self_pid"]],
    "mm.start_code": addr_bad,
    "mm.end_code": addr_bad,
    "mm.start_data": addr_bad,
    "mm.end_data": addr_bad,
    "mm.start_brk": addr_bad,
    "mm.brk": addr_bad,
    "mm.start_stack": addr_bad,
    "mm.arg_start": addr_bad,
    "mm.arg_end": addr_bad,
    "mm.env_start": addr_bad,
    "mm.env_end": addr_bad,
    "mm.exe_path": lambda v, c: [b"relative/exe", b""],
    "page_run.vaddr": lambda v, c: [v + 1, TASK_SIZE + 0x1000],
    "page_run.nr_pages": lambda v, c: [0, v + 1, 1 << 63],
    "pagemap.total_pages": lambda v, c: [v + 1, 0 if v else 1],
    "fd_entry.fd": lambda v, c: [neg(-1), 1 << 20, 1 << 30, 30000],
    "fd_entry.kind": lambda v, c: [0, 8, 100],
    "fd_entry.flags": lambda v, c: [v | 0x80000000, v | 3, U32],
    "fd_entry.pos": lambda v, c: [1 << 63, U64],
    "fd_entry.path": lambda v, c: [b"relative/file", b""],
    "fd_entry.mode": lambda v, c: [0, 0o170000 | 0o644, U32],
    "fd_entry.ghost": lambda v, c: [1000, neg(-2)] if s64(v) >= 0 else [],
    "fd_entry.dup_of": lambda v, c: [99999, neg(-1)],
    "fd_entry.dup_of_pid": lambda v, c: [0, U32, c["free_pid"]],
    "fd_entry.pipe_chunk_len": lambda v, c: [0, 4097, U32, v + 1],
    "fd_entry.fifo_uid": lambda v, c: [U32],
    "fd_entry.fifo_atime_ns": lambda v, c: [U64],
    "fd_entry.pty_id": lambda v, c: [4096, U32, v + 1],
    "fd_entry.pty_index": lambda v, c: [1 << 20, U32],
    "fd_entry.pty_mode": lambda v, c: [0o10000, U32],
    "fd_entry.pty_uid": lambda v, c: [U32],
    "fd_entry.unix_peer_uid": lambda v, c: [U32],
    "fd_entry.unix_peer_gid": lambda v, c: [U32],
    "fd_entry.unix_peer_groups": lambda v, c: [U32],
    "fd_entry.inflight_same": lambda v, c: [v + 1000, U32],
    "unix_msg.fds": lambda v, c: [v + 1000, U32],
    "unix_msg.cred_pid": lambda v, c: [0, (1 << 22) + 1, U32],
    "unix_msg.cred_uid": lambda v, c: [U32],
    "unix_msg.cred_gid": lambda v, c: [U32],
    "fd_entry.pty_session": lambda v, c: [neg(-1), c["free_pid"], 4194305],
    "fd_entry.pty_fg_pgrp": lambda v, c: [neg(-1), c["free_pid"]],
    "epoll_target.fd": lambda v, c: [neg(-1), 1 << 20, 1 << 30, 99999],
    # an unknown bit, no bits at all, an armed mask without EPOLLERR|EPOLLHUP, exclusive
    # with one-shot
    "epoll_target.events": lambda v, c: [v | 0x08000000, 0, v & ~0x18 if v & 0x18 else v | 1,
                                         0x50000019],
    "epoll_target.src_fd": lambda v, c: [99999, neg(-1), 1 << 30],
    "ghost_file.id": lambda v, c: [1000, U32],
    "task_core.cwd_ghost_id": lambda v, c: [1000, U32],
    "task_core.root_ghost_id": lambda v, c: [1000, U32],
    "task_core.exe_ghost_id": lambda v, c: [1000, U32],
    "vma.ghost_id": lambda v, c: [1000, U32],
    "fd_entry.ghost_id": lambda v, c: [1000, U32],
    "fd_entry.proc_pid": lambda v, c: [0, U32, c["free_pid"]],
    "fd_entry.proc_rel": lambda v, c: [b"../../etc/passwd", b"/status", b"x" * 5000],
    "ghost_file.orig_path": lambda v, c: [b"relative", b""],
    "ghost_file.mode": lambda v, c: [0o040644, U32],
    "ghost_file.size": lambda v, c: [v + 1, 1 << 63],
    # the bytes queued in a pseudo-terminal pair: beyond what a pair holds, an unknown end
    "fd_entry.pty_out": lambda v, c: [b"x" * 40000],
    "pty_line.data": lambda v, c: [b"y" * 5000],
    "pty_line.end": lambda v, c: [3, U32],
}

# --fields: only these BAD keys are mutated
ONLY = set()

# repeated entries that must be unique or in order: a copy of one must be refused
DUPLICABLE = {
    "pstree.tasks", "pstree_task.threads", "task_core.threads", "task_core.sigactions",
    "task_core.posix_timers", "task_core.rlimits", "mm.vmas", "mm.prefork", "pagemap.runs",
    "files.fds", "files.ghosts", "fd_entry.epoll_targets",
}

# ---- mutations ------------------------------------------------------------------------------


class Dump:
    def __init__(self, prog, dir, pids, tids, outfile, out_saved):
        self.prog, self.dir, self.pids, self.tids = prog, dir, pids, tids
        self.outfile, self.out_saved = outfile, out_saved
        self.images = sorted(f for f in os.listdir(dir) if f.endswith(".img"))


def read_meta(path):
    b = open(path, "rb").read()
    return b[:12], decode(b[12:], msg_of(os.path.basename(path)))


def write_meta(path, hdr, fields):
    data = encode(fields)
    magic, ver, _ = struct.unpack("<III", hdr)
    open(path, "wb").write(struct.pack("<III", magic, ver, len(data)) + data)


def image_pid(name):
    m = re.search(r"-(\d+)\.img$", name)
    return int(m.group(1)) if m else 0


def mut_field(rng, d, work):
    """A field set to a value outside its domain."""
    metas = [f for f in d.images if msg_of(f) and msg_of(f) != "dump_stats"]
    for _ in range(50):
        name = rng.choice(metas)
        hdr, fields = read_meta(os.path.join(work, name))
        msg = msg_of(name)
        cands = []
        for path, m, fname, e, parent in leaves(fields, msg):
            key = m + "." + fname
            if key not in BAD or isinstance(e[2], list) or (ONLY and key not in ONLY):
                continue
            cands.append((key, e))
        if not cands:
            continue
        key, e = rng.choice(cands)
        pid = image_pid(name) or (d.pids[0] if d.pids else 0)
        ctx = {
            "self_pid": pid,
            "other_pid": next((p for p in d.pids if p != pid), pid),
            "free_pid": 4194000 + rng.randrange(100),
            "is_root": pid == d.pids[0],
        }
        if key.startswith("pstree_task."):
            ctx["is_root"] = True  # approximate: only values bad for any task
            ctx["self_pid"] = d.pids[0]
        vals = [v for v in BAD[key](e[2], ctx) if v != e[2]]
        if not vals:
            continue
        v = rng.choice(vals)
        if isinstance(v, int) and e[1] != 0:
            continue
        e[2] = v
        write_meta(os.path.join(work, name), hdr, fields)
        return f"{name}: {key} = {v if isinstance(v, int) else repr(v[:24])}"
    return None


def mut_dup(rng, d, work):
    """A repeated entry that must be unique, duplicated (or moved out of order)."""
    metas = [f for f in d.images if msg_of(f)]
    for _ in range(50):
        name = rng.choice(metas)
        hdr, fields = read_meta(os.path.join(work, name))
        cands = []
        for path, m, fname, e, parent in leaves(fields, msg_of(name)):
            if m + "." + fname in DUPLICABLE:
                cands.append((m + "." + fname, e, parent))
        if not cands:
            continue
        key, e, parent = rng.choice(cands)
        same = [x for x in parent if x[0] == e[0]]
        k = parent.index(e)
        if rng.random() < 0.5 or len(same) < 2:
            parent.insert(k + 1, [e[0], e[1], e[2]])
            what = "duplicated"
        else:
            # swap two entries: order matters (sorted VMAs, runs, parents first, leader first)
            j = rng.choice([i for i, x in enumerate(parent) if x[0] == e[0] and x is not e])
            if encode([parent[j]]) == encode([e]):
                continue
            parent[k], parent[j] = parent[j], parent[k]
            what = "reordered"
        write_meta(os.path.join(work, name), hdr, fields)
        return f"{name}: a {key} entry {what}"
    return None


def mut_swap(rng, d, work):
    """Another task's image in place of this one's, or an image of another kind."""
    per_task = [f for f in d.images if image_pid(f) and not f.startswith("ghost-")]
    a = rng.choice(per_task)
    kind = a.split("-")[0]
    others = [f for f in per_task if f.split("-")[0] == kind and f != a]
    if others and rng.random() < 0.7:
        b = rng.choice(others)
        what = "another task's"
    else:
        b = rng.choice([f for f in per_task if f.split("-")[0] != kind and image_pid(f) == image_pid(a)])
        what = "another kind's"
    shutil.copyfile(os.path.join(d.dir, b), os.path.join(work, a))
    return f"{a}: replaced by {what} image {b}"


def mut_header(rng, d, work):
    name = rng.choice(d.images)
    p = os.path.join(work, name)
    b = bytearray(open(p, "rb").read())
    off, what = rng.choice([(0, "magic"), (4, "version"), (8, "length")])
    if name.startswith(("pages-", "ghost-")) and off == 8:
        off, what = 0, "magic"
    old = struct.unpack_from("<I", b, off)[0]
    new = rng.choice([0, old + 1, old - 1 & U32, U32, old ^ 1 << rng.randrange(32)])
    if new == old:
        new = old ^ 1
    struct.pack_into("<I", b, off, new)
    open(p, "wb").write(b)
    return f"{name}: header {what} {old:#x} -> {new:#x}"


def mut_truncate(rng, d, work):
    name = rng.choice(d.images)
    p = os.path.join(work, name)
    size = os.path.getsize(p)
    if name.startswith(("pages-", "ghost-")):
        cands = [0, 100, 4095, size - 1, size + 1, size - 4096 if size > 4096 else 1, size + 4096]
        if name.startswith("ghost-"):
            cands = [0, 100, 4095, size - 1 if size > 4096 else 5000, size + 1]
    else:
        cands = [0, 5, 11, 12, size - 1, size // 2, size + 1]
    new = rng.choice([c for c in cands if c != size and c >= 0])
    if new > size:
        with open(p, "ab") as f:
            f.write(b"\0" * (new - size))
    else:
        os.truncate(p, new)
    return f"{name}: size {size} -> {new}"


def mut_missing(rng, d, work):
    name = rng.choice([f for f in d.images if f != "stats-dump.img"])
    os.unlink(os.path.join(work, name))
    return f"{name}: removed"


def structure_changed_only_free(a, b, msg):
    """Do two decodings differ only in fields no check can judge (registers, masks, ...)?"""
    return False


def mut_flip(rng, d, work):
    """A bit flipped in the framing of a metadata image (a tag or a length byte)."""
    metas = [f for f in d.images if msg_of(f) and msg_of(f) != "dump_stats"]
    name = rng.choice(metas)
    p = os.path.join(work, name)
    b = bytearray(open(p, "rb").read())
    msg = msg_of(name)
    # find the offsets of tag and length bytes
    spans = []

    def walk(buf, base, m):
        i = 0
        while i < len(buf):
            st = i
            key, i = get_varint(buf, i)
            spans.append((base + st, base + i))
            no, wt = key >> 3, key & 7
            if wt == 0:
                _, i = get_varint(buf, i)
            elif wt == 1:
                i += 8
            elif wt == 5:
                i += 4
            else:
                ls = i
                n, i = get_varint(buf, i)
                spans.append((base + ls, base + i))
                typ = MSGS[m].get(no, (0, 0))[1]
                if typ in MSGS:
                    walk(buf[i : i + n], base + i, typ)
                i += n

    walk(bytes(b[12:]), 12, msg)
    s, e = rng.choice(spans)
    off = rng.randrange(s, e)
    bit = rng.randrange(8)
    b[off] ^= 1 << bit
    # a flip that still decodes to the same fields but moves free values around cannot be
    # judged by any check: only keep flips that break the message or change its shape
    try:
        new = decode(bytes(b[12:]), msg)
        old = decode(open(os.path.join(d.dir, name), "rb").read()[12:], msg)
        if shape(new, msg) == shape(old, msg):
            return None
    except (Bad, KeyError):
        pass
    open(p, "wb").write(b)
    return f"{name}: bit {bit} of byte {off} (framing) flipped"


def shape(fields, msg):
    """Field numbers, wire types and nesting, without the values."""
    out = []
    for no, wt, v in fields:
        sub = MSGS[msg].get(no, (0, 0))[1]
        out.append((no, wt, shape(v, sub) if isinstance(v, list) else len(v) if wt == 2 else None))
    return out


MUTATIONS = [
    (mut_field, 50),
    (mut_dup, 12),
    (mut_swap, 10),
    (mut_header, 8),
    (mut_truncate, 8),
    (mut_missing, 4),
    (mut_flip, 8),
]

# ---- running test programs ------------------------------------------------------------------

libc = ctypes.CDLL(None, use_errno=True)


def alive(pid):
    try:
        st = open(f"/proc/{pid}/stat").read()
    except OSError:
        return False
    return st[st.rfind(")") + 2] not in "ZX"


def exists(pid):
    return os.path.exists(f"/proc/{pid}")


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def ours(pid, cryo):
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return False
    return exe.startswith(os.path.join(ROOT, "tests", "build")) or exe.startswith(cryo)


def kill_tree(ids, cryo, wait=5.0):
    """Kill what is left of the dumped processes (only programs of ours) and reap them."""
    for p in ids:
        if exists(p) and ours(p, cryo):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
    end = time.time() + wait
    while time.time() < end:
        reap()
        if not any(exists(p) for p in ids):
            return True
        time.sleep(0.01)
    return False


def run(cmd, timeout, env=None, cwd=None):
    # output to a file, not a pipe: a process left behind by a failed restore may hold the
    # pipe open, and reading it to its end would wait for that process
    with tempfile.TemporaryFile() as out:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env, cwd=cwd)
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            rc = 124
        out.seek(0)
        return rc, out.read().decode(errors="replace")


def tree_ids(dir):
    _, pst = read_meta(os.path.join(dir, "pstree.img"))
    pids, tids = [], []
    for e in field(pst, "pstree", "tasks"):
        pids.append(value(e[2], "pstree_task", "pid"))
        tids += [x[2] for x in field(e[2], "pstree_task", "threads")]
    return pids, tids


def make_dump(prog, cryo, out):
    base = os.path.join(out, prog)
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(os.path.join(base, "work"))
    img = os.path.join(base, "img")
    os.makedirs(img)
    pidfile, outfile = os.path.join(base, "test.pid"), os.path.join(base, "out.txt")
    rc, txt = run([os.path.join(ROOT, "tests", "build", prog), "--pidfile", pidfile, "--outfile", outfile],
                  15, cwd=os.path.join(base, "work"))
    reap()
    if rc != 0:
        print(f"{prog}: setup failed ({rc}): {txt[:200]}")
        return None
    pid = int(open(pidfile).read())
    rc, txt = run([cryo, "dump", "-t", str(pid), "-D", img, "-v4", "-o", "dump.log"], 60)
    if rc != 0:
        print(f"{prog}: dump failed ({rc}): {txt[:300]}")
        kill_tree([pid], cryo)
        return None
    pids, tids = tree_ids(img)
    if not kill_tree(pids + tids, cryo):
        print(f"{prog}: dumped processes do not go away")
        return None
    for f in os.listdir(img):
        if f.endswith(".log"):
            os.unlink(os.path.join(img, f))
    saved = open(outfile, "rb").read() if os.path.exists(outfile) else b""
    d = Dump(prog, img, pids, tids, outfile, saved)
    d.work = os.path.join(base, "work")
    d.files = snapshot(d.work)
    return d


def snapshot(top):
    """The regular files of a test's work directory, to put back before every trial."""
    files = {}
    for dirpath, _, names in os.walk(top):
        for n in names:
            p = os.path.join(dirpath, n)
            if os.path.isfile(p) and not os.path.islink(p):
                files[p] = open(p, "rb").read()
    return files


def put_back(d):
    """In place (same inodes: mapped files are identified by them), new files removed."""
    for p, data in d.files.items():
        try:
            fd = os.open(p, os.O_WRONLY)
        except OSError:
            continue
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
        os.close(fd)
    for dirpath, _, names in os.walk(d.work):
        for n in names:
            p = os.path.join(dirpath, n)
            if p not in d.files:
                os.unlink(p)


SAN = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")


def trial(d, cryo, work, check_timeout=8.0):
    """Restore work (a copy of d's images, maybe damaged): returns (outcome, detail)."""
    ids = d.pids + d.tids
    open(d.outfile, "wb").write(d.out_saved)
    put_back(d)
    pidfile = os.path.join(work, "restored.pid")
    env = dict(os.environ, ASAN_OPTIONS="abort_on_error=1:detect_leaks=0",
               UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1")
    rc, txt = run([cryo, "restore", "-D", work, "-d", "-v4", "-o", "restore.log", "--pidfile", pidfile],
                  30, env)
    log = ""
    try:
        log = open(os.path.join(work, "restore.log"), errors="replace").read()
    except OSError:
        pass
    if any(s in txt or s in log for s in SAN) or rc >= 124 or rc < 0:
        kill_tree(ids, cryo)
        return "crash", f"exit {rc}: " + next((l for l in (txt + log).splitlines() if any(s in l for s in SAN)), txt[-300:])
    if rc != 0:
        msg = (txt.strip().splitlines() or [""])[-1]
        # nothing of the dump may be left (a dying one is given a moment)
        end = time.time() + 3
        while time.time() < end and any(alive(p) for p in ids):
            reap()
            time.sleep(0.01)
        left = [p for p in ids if alive(p)]
        kill_tree(ids, cryo)
        if left:
            return "broken", f"refused but left {left}: {msg}"
        if not txt.strip() and "Error" not in log:
            return "broken", "refused without a message"
        return "refused", msg
    root = d.pids[0]
    if not alive(root):
        kill_tree(ids, cryo)
        return "broken", "restored, but the root is not running"
    os.kill(root, signal.SIGTERM)
    end = time.time() + check_timeout
    verdict = None
    while time.time() < end:
        reap()
        out = open(d.outfile, "rb").read()[len(d.out_saved):].decode(errors="replace")
        m = re.search(r"^(PASS|FAIL[^\n]*)", out, re.M)
        if m:
            verdict = m.group(1)
            break
        if not exists(root):
            break
        time.sleep(0.01)
    kill_tree(ids, cryo)
    if verdict == "PASS":
        return "passed", ""
    return "broken", f"restored, then: {verdict or 'no verdict (died or hung)'}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cryo", default=os.path.join(ROOT, "build", "cryo"))
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--progs", default="session_leader,mem_anon,signals,posix_timers,threads_basic,files,tree_3level,rlimits,prctl_misc")
    ap.add_argument("--out", default="/tmp/cryo-mutate")
    ap.add_argument("-v", action="store_true")
    ap.add_argument("--fields", default="",
                    help="only field mutations, of these fields (msg.field,...)")
    a = ap.parse_args()
    if a.fields:
        ONLY.update(a.fields.split(","))
    cryo = os.path.realpath(a.cryo)
    if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER: restored orphans come to us
        print("cannot become a subreaper")
        return 2
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(a.seed)
    dumps = []
    for prog in a.progs.split(","):
        d = make_dump(prog, cryo, a.out)
        if not d:
            continue
        work = os.path.join(a.out, prog + "-trial")
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(d.dir, work)
        res, det = trial(d, cryo, work)
        if res != "passed":
            print(f"{prog}: the undamaged images do not restore and pass ({res}: {det}); left out")
            continue
        dumps.append(d)
    if not dumps:
        print("no usable dump")
        return 2
    counts = {"refused": 0, "passed": 0, "broken": 0, "crash": 0}
    by_mut = {}
    weights = [w for _, w in MUTATIONS]
    n = 0
    while n < a.trials:
        d = rng.choice(dumps)
        work = os.path.join(a.out, d.prog + "-trial")
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(d.dir, work)
        fn = mut_field if ONLY else rng.choices([m for m, _ in MUTATIONS], weights)[0]
        try:
            desc = fn(rng, d, work)
        except (Bad, IndexError, ValueError):
            desc = None
        if not desc:
            continue
        n += 1
        res, det = trial(d, cryo, work)
        counts[res] += 1
        by_mut.setdefault(fn.__name__, {}).setdefault(res, 0)
        by_mut[fn.__name__][res] += 1
        if res in ("broken", "crash") or a.v:
            print(f"[{n}] {d.prog}: {desc}: {res.upper()} {det}", flush=True)
    for m, c in sorted(by_mut.items()):
        print(f"  {m:14s} " + " ".join(f"{k} {v}" for k, v in sorted(c.items())))
    print(f"{n} mutations: refused {counts['refused']}, passed {counts['passed']}, "
          f"broken {counts['broken']}, crash {counts['crash']}")
    return 1 if counts["broken"] or counts["crash"] else 0


if __name__ == "__main__":
    sys.exit(main())
