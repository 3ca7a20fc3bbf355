# Debian's haproxy in TCP mode (two threads, epoll, a unix stats socket) proxying to an echo
# server outside the tree (python), with a client outside the tree that holds one connection
# through haproxy the whole time, a line every 20 ms: haproxy holds two established
# connections per client (the accepted one and the one to the backend) and is checkpointed
# with --tcp-established between two lines. Every line must come back upper-cased, in order,
# with no reset; after the restore a new connection is proxied too, and the stats socket's
# counters (CumConns: the connections accepted since haproxy started) go on from where they
# were, not from zero.
app_haproxy() {
	app_begin haproxy
	app_packages haproxy python3 || return
	local port bport spid cpid i out before after
	port=$(app_free_port)
	bport=$(app_free_port)
	app_upper_server "$bport" &
	spid=$!
	cat >"$DIR/haproxy.cfg" <<CFG
global
	nbthread 2
	maxconn 64
	stats socket $DIR/admin.sock mode 600 level admin
defaults
	mode tcp
	timeout connect 5s
	timeout client 60s
	timeout server 60s
frontend relay
	bind 127.0.0.1:$port
	default_backend echo
backend echo
	server upper 127.0.0.1:$bport
CFG
	# -db: in the foreground, no master process: haproxy is the root of the tree
	app_start /usr/sbin/haproxy -db -f "$DIR/haproxy.cfg"
	for ((i = 0; i < 100; i++)); do
		ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && ss -Hltn "sport = :$bport" | grep -q . && break
		sleep 0.05
	done
	# info FIELD: one field of the stats socket's `show info`
	info() {
		timeout 5 /usr/bin/python3 - "$DIR/admin.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"show info\n")
d = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    d += b
for line in d.decode().splitlines():
    k, _, v = line.partition(": ")
    if k == sys.argv[2]:
        print(v)
PY
	}
	# relay SECONDS: lines through haproxy for SECONDS, each checked; "ok N"
	relay() { app_line_client "$port" "$1" haproxy; }
	relay 0.3 >"$DIR/first.txt" 2>&1
	grep -q '^ok [1-9]' "$DIR/first.txt" || fail_step "haproxy does not relay: $(cat "$DIR/first.txt") $(tail -n3 "$DIR/stderr")"
	relay 5 >"$DIR/client.txt" 2>&1 &
	cpid=$!
	sleep 1
	before=$(info CumConns)
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	wait "$cpid"
	out=$(cat "$DIR/client.txt")
	[ -z "$REASON" ] && [[ $out != "ok "* ]] && fail_step "the kept client: $out"
	if [ -z "$REASON" ]; then
		out=$(relay 0.3 2>&1)
		[[ $out == "ok "* ]] || fail_step "a new connection after the restore: $out"
		# since $before: the stats connection that read it, this new one, the stats one now
		after=$(info CumConns)
		[ -z "$REASON" ] && [ "$after" != $((before + 2)) ] &&
			fail_step "CumConns was $before before the dump, $after after two more connections"
		kill -USR1 "$PID" # soft stop: haproxy exits once its connections are done
		app_wait_exit 10
	fi
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	app_end
}
register_case app-haproxy app_haproxy
