# A tiny authoritative DNS server for the resolver cases (tests/apps/unbound.sh, named.sh):
# UDP on 127.0.0.1:PORT; each A query for a name under test. gets the next address,
# 10.9.0.1, 10.9.0.2..., with a TTL of an hour; every query seen is noted in LOG.
# Usage: python3 dns_stub.py PORT LOG
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.settimeout(60)
log = open(sys.argv[2], "a", buffering=1)
n = 0
while True:
    q, peer = s.recvfrom(4096)
    qid, flags, qd = struct.unpack(">HHH", q[:6])
    i, labels = 12, []
    while q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode())
        i += 1 + q[i]
    qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
    question = q[12:i + 5]
    name = ".".join(labels).lower()
    log.write("%s %d\n" % (name, qtype))
    answer = b""
    if qtype == 1 and name.endswith("test") and name != "test":
        n += 1
        answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 3600, 4) + bytes([10, 9, 0, n])
    head = struct.pack(">HHHHHH", qid, 0x8400 | (flags & 0x0100), 1, 1 if answer else 0, 0, 0)
    s.sendto(head + question + answer, peer)
