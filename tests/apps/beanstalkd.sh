# Debian's beanstalkd, a work queue, with its binlog (-b: every put and delete appended to a
# file it keeps open): 20 jobs put by one client; a second client, outside the tree, reserves
# the first job and keeps its connection open while beanstalkd is checkpointed with
# --tcp-established and --file-locks (beanstalkd holds a POSIX lock on its binlog directory's
# lock file; a reservation lives only as long as the connection that made it). After
# the restore that client deletes its job (beanstalkd must still know it reserved it), a new
# client reserves and deletes jobs 2 to 10 in order, each body byte for byte, and puts one more,
# which must get the next id (21). Then beanstalkd is stopped and started again from its
# binlog, out of cryo's hands: the jobs left (11 to 21) must all be there, so what the
# restored beanstalkd appended landed where it belongs in the file.
app_beanstalkd() {
	app_begin beanstalkd
	app_packages beanstalkd python3 || return
	local port cpid out i
	port=$(app_free_port)
	mkdir -p "$DIR/binlog"
	app_start /usr/bin/beanstalkd -l 127.0.0.1 -p "$port" -b "$DIR/binlog"
	# bs MODE: a client; MODE put, hold (reserve job 1, then after the file "go" delete it),
	# work (jobs 2-10, put one more), left (what is left, after the restart)
	bs() {
		timeout 30 /usr/bin/python3 - "$port" "$1" "$DIR" <<'PY'
import os, socket, sys, time
port, mode, d = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for _ in range(100):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=20)
        break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit("cannot connect")
f = s.makefile("rwb")
def cmd(line, data=None):
    f.write(line + b"\r\n" + (data + b"\r\n" if data is not None else b""))
    f.flush()
    return f.readline().split()
def body(i):
    return (b"job %d: " % i) + bytes(range(i, i + 40)) * i
def reserve(want):
    r = cmd(b"reserve-with-timeout 5")
    if r[0] != b"RESERVED":
        sys.exit("reserve: %r" % r)
    got = f.read(int(r[2]) + 2)[:-2]
    if int(r[1]) != want or got != body(want):
        sys.exit("reserved job %s (%d bytes), not job %d" % (r[1], len(got), want))
cmd(b"use work")
cmd(b"watch work")
if mode == "put":
    for i in range(1, 21):
        r = cmd(b"put %d 0 120 %d" % (i, len(body(i))), body(i))
        if r != [b"INSERTED", b"%d" % i]:
            sys.exit("put %d: %r" % (i, r))
    print("put")
elif mode == "hold":
    reserve(1)
    open(d + "/reserved", "w").close()
    while not os.path.exists(d + "/go"):
        time.sleep(0.02)
    r = cmd(b"delete 1")
    if r != [b"DELETED"]:
        sys.exit("delete of the reserved job 1 after the restore: %r" % r)
    print("held")
elif mode == "work":
    for i in range(2, 11):
        reserve(i)
        if cmd(b"delete %d" % i) != [b"DELETED"]:
            sys.exit("delete %d failed" % i)
    r = cmd(b"put 21 0 120 %d" % len(body(21)), body(21))
    if r != [b"INSERTED", b"21"]:
        sys.exit("the put after the restore: %r" % r)
    print("worked")
else:
    for i in range(11, 22):
        reserve(i)
    r = cmd(b"reserve-with-timeout 0")
    if r != [b"TIMED_OUT"]:
        sys.exit("one more job than 11-21: %r" % r)
    print("left")
PY
	}
	out=$(bs put 2>&1)
	[ "$out" = put ] || fail_step "putting the jobs: $out"
	bs hold >"$DIR/hold.txt" 2>&1 &
	cpid=$!
	for ((i = 0; i < 200; i++)); do
		[ -e "$DIR/reserved" ] && break
		sleep 0.05
	done
	[ -z "$REASON" ] && [ ! -e "$DIR/reserved" ] && fail_step "job 1 was not reserved: $(cat "$DIR/hold.txt")"
	[ -z "$REASON" ] && app_checkpoint --tcp-established --file-locks
	touch "$DIR/go"
	wait "$cpid"
	out=$(cat "$DIR/hold.txt")
	[ -z "$REASON" ] && [ "$out" != held ] && fail_step "the client holding job 1: $out"
	if [ -z "$REASON" ]; then
		out=$(bs work 2>&1)
		[ "$out" = worked ] || fail_step "after the restore: $out"
	fi
	if [ -z "$REASON" ]; then
		kill -TERM "$PID"
		app_wait_exit 10
	fi
	if [ -z "$REASON" ]; then
		app_start /usr/bin/beanstalkd -l 127.0.0.1 -p "$port" -b "$DIR/binlog"
		out=$(bs left 2>&1)
		[ "$out" = left ] || fail_step "beanstalkd started again from its binlog: $out"
		kill -TERM "$PID"
		app_wait_exit 10
	fi
	app_end
}
register_case app-beanstalkd app_beanstalkd
