# Debian's python3 running a small server on a unix socket (its own script, standard library
# only): the listening socket on a path, a worker process it talks to over a socket pair
# (requests and answers as datagrams), a count of requests served kept in memory. A client
# uses it before the checkpoint; after the restore new clients connect to the same path and
# get answers that go on counting, computed by the restored worker.
app_unix_server() {
	app_begin unix-server
	app_packages python3 || return
	local out want i
	cat >"$DIR/server.py" <<'PY'
import hashlib, os, socket, sys
path = sys.argv[1]
lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
lst.bind(path)
lst.listen(4)
up, down = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
if os.fork() == 0:
    # the worker: one request, one answer, boundaries kept by the socket
    lst.close(); up.close()
    while True:
        req = down.recv(65536)
        if not req:
            os._exit(0)
        down.send(hashlib.sha256(req).hexdigest().encode())
down.close()
served = 0
while True:
    conn, _ = lst.accept()
    with conn, conn.makefile("rwb") as f:
        for line in f:
            line = line.rstrip(b"\n")
            if line == b"quit":
                up.close()
                os.wait()
                sys.exit(0)
            up.send(line)
            served += 1
            f.write(b"%d %s\n" % (served, up.recv(256)))
            f.flush()
PY
	cat >"$DIR/client.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
f = s.makefile("rwb")
for w in sys.argv[2:]:
    f.write(w.encode() + b"\n")
    f.flush()
    if w != "quit":
        sys.stdout.write(f.readline().decode())
PY
	app_start /usr/bin/python3 server.py "$DIR/srv.sock"
	for ((i = 0; i < 100; i++)); do
		[ -S "$DIR/srv.sock" ] && break
		sleep 0.05
	done
	out=$(/usr/bin/python3 "$DIR/client.py" "$DIR/srv.sock" alpha beta 2>&1)
	want="1 $(printf alpha | sha256sum | cut -d' ' -f1)
2 $(printf beta | sha256sum | cut -d' ' -f1)"
	[ "$out" = "$want" ] || fail_step "before the checkpoint the server answered '$out'"
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		out=$(timeout 10 /usr/bin/python3 "$DIR/client.py" "$DIR/srv.sock" gamma 2>&1)
		out+=$'\n'$(timeout 10 /usr/bin/python3 "$DIR/client.py" "$DIR/srv.sock" delta quit 2>&1)
		want="3 $(printf gamma | sha256sum | cut -d' ' -f1)
4 $(printf delta | sha256sum | cut -d' ' -f1)"
		[ "$out" = "$want" ] ||
			fail_step "after the restore the server answered '$out', not '$want' (stderr: $(head -c 200 "$DIR/stderr"))"
		[ -z "$REASON" ] && app_wait_exit 10
	fi
	app_end
}
register_case app-unix-server app_unix_server
