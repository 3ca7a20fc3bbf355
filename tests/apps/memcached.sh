# Debian's memcached (threads, libevent over epoll, pipes between its threads, a TCP listener
# on a free port of 127.0.0.1): items stored by one client, checkpointed while idle, restored;
# a new client gets every item back byte for byte, stores more, and `stats` shows the items
# counted before and after.

# mc_client ADDR MODE: a client speaking memcached's text protocol to ADDR (a TCP port of
# 127.0.0.1, or the path of a unix socket): MODE store (50 items) or check
mc_client() {
	timeout 20 /usr/bin/python3 - "$1" "$2" <<'PY'
import socket, sys, time
addr, mode = sys.argv[1], sys.argv[2]
for _ in range(100):
    try:
        if addr.startswith("/"):
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(5)
            s.connect(addr)
        else:
            s = socket.create_connection(("127.0.0.1", int(addr)), timeout=5)
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

app_memcached() {
	app_begin memcached
	app_packages memcached python3 || return
	local port out
	port=$(app_free_port)
	app_start /usr/bin/memcached -u nobody -l 127.0.0.1 -p "$port" -U 0 -t 4 -m 16
	out=$(mc_client "$port" store 2>&1)
	[ "$out" = stored ] || fail_step "storing before the checkpoint: $out"
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		out=$(mc_client "$port" check 2>&1)
		[ "$out" = checked ] || fail_step "after the restore: $out"
		kill -TERM "$PID"
		app_wait_exit 10
	fi
	app_end
}
register_case app-memcached app_memcached

# memcached on a unix socket under a shell that waits for it (a wrapper script, as services
# are often run): the listener's peer credentials name memcached, a child of the tree's root,
# which makes it again at restore. The items stored before come back through the socket.
app_memcached_unix() {
	app_begin memcached-unix
	app_packages memcached python3 || return
	local out i
	app_start /bin/sh -c "/usr/bin/memcached -u root -s '$DIR/mc.sock' -t 2 -m 16; echo memcached ended"
	for ((i = 0; i < 100; i++)); do
		[ -S "$DIR/mc.sock" ] && break
		sleep 0.05
	done
	out=$(mc_client "$DIR/mc.sock" store 2>&1)
	[ "$out" = stored ] || fail_step "storing before the checkpoint: $out"
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		out=$(mc_client "$DIR/mc.sock" check 2>&1)
		[ "$out" = checked ] || fail_step "after the restore: $out"
		pkill -TERM -P "$PID" -x memcached
		app_wait_exit 10
		grep -q "memcached ended" "$DIR/stdout" || fail_step "the shell did not see memcached end"
	fi
	app_end
}
register_case app-memcached-unix app_memcached_unix
