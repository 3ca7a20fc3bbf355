# Debian's memcached (threads, libevent over epoll, pipes between its threads, a TCP listener
# on a free port of 127.0.0.1): items stored by one client, checkpointed while idle, restored;
# a new client gets every item back byte for byte, stores more, and `stats` shows the items
# counted before and after.
app_memcached() {
	app_begin memcached
	app_packages memcached python3 || return
	local port out
	port=$(app_free_port)
	app_start /usr/bin/memcached -u nobody -l 127.0.0.1 -p "$port" -U 0 -t 4 -m 16
	# a client speaking memcached's text protocol: MODE store (50 items) or check
	mc_client() {
		timeout 20 /usr/bin/python3 - "$port" "$1" <<'PY'
import socket, sys, time
port, mode = int(sys.argv[1]), sys.argv[2]
for _ in range(100):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit("cannot connect")
f = s.makefile("rwb")
def cmd(line, data=None):
    f.write(line + b"\r\n" + (data + b"\r\n" if data is not None else b""))
    f.flush()
def value(i):
    return (b"item-%d-" % i) * (i + 1)
if mode == "store":
    for i in range(50):
        cmd(b"set k%d 0 0 %d" % (i, len(value(i))), value(i))
        if f.readline() != b"STORED\r\n":
            sys.exit("set k%d failed" % i)
    print("stored")
else:
    for i in range(50):
        cmd(b"get k%d" % i)
        head = f.readline().split()
        if head[:2] != [b"VALUE", b"k%d" % i]:
            sys.exit("get k%d: %r" % (i, head))
        data = f.read(int(head[3]) + 2)[:-2]
        if data != value(i) or f.readline() != b"END\r\n":
            sys.exit("k%d came back as %r" % (i, data[:40]))
    cmd(b"set after 0 0 3", b"yes")
    if f.readline() != b"STORED\r\n":
        sys.exit("set after the restore failed")
    cmd(b"stats")
    stats = {}
    while True:
        line = f.readline()
        if line == b"END\r\n":
            break
        parts = line.split()
        stats[parts[1]] = parts[2]
    if stats.get(b"curr_items") != b"51":
        sys.exit("curr_items %r, not 51" % stats.get(b"curr_items"))
    print("checked")
PY
	}
	out=$(mc_client store 2>&1)
	[ "$out" = stored ] || fail_step "storing before the checkpoint: $out"
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		out=$(mc_client check 2>&1)
		[ "$out" = checked ] || fail_step "after the restore: $out"
		kill -TERM "$PID"
		app_wait_exit 10
	fi
	app_end
}
register_case app-memcached app_memcached
