# Debian's tinyproxy (a thread for each connection) in the foreground on 127.0.0.1, between
# clients and servers outside the tree. Before the checkpoint: two GETs through it to a
# python http.server, and a client that opens a CONNECT tunnel to the upper-casing server and
# keeps it open, a line every 20 ms the whole time. tinyproxy is dumped and restored with
# --tcp-established (each tunnel is two established connections held by one thread): every
# line must come back upper-cased, in order. After the restore, a GET through the proxy comes
# back byte for byte, and tinyproxy's statistics page (StatHost, counted in its memory) must
# count every request made through it, before and after.
app_tinyproxy() {
	app_begin tinyproxy
	app_packages tinyproxy curl python3 || return
	local port hport uport hpid upid cpid out want i
	port=$(app_free_port)
	hport=$(app_free_port)
	uport=$(app_free_port)
	mkdir -p "$DIR/www"
	head -c 100000 /dev/urandom >"$DIR/www/data.bin"
	(cd "$DIR/www" && exec timeout 60 /usr/bin/python3 -m http.server -b 127.0.0.1 "$hport") \
		>"$DIR/http.txt" 2>&1 &
	hpid=$!
	app_upper_server "$uport" &
	upid=$!
	cat >"$DIR/tinyproxy.conf" <<CONF
Port $port
Listen 127.0.0.1
Timeout 60
MaxClients 20
Allow 127.0.0.1
StatHost "stats.test"
LogLevel Info
LogFile "$DIR/tinyproxy.log"
CONF
	app_start /usr/bin/tinyproxy -d -c "$DIR/tinyproxy.conf"
	app_tcp_up "$port" || fail_step "tinyproxy does not listen"
	app_tcp_up "$hport" || fail_step "the http server does not listen"
	app_tcp_up "$uport" || fail_step "the upper server does not listen"
	get() {
		curl -sf --max-time 10 -x "127.0.0.1:$port" "http://127.0.0.1:$hport/data.bin" \
			-o "$DIR/got.bin" && cmp -s "$DIR/got.bin" "$DIR/www/data.bin"
	}
	# stats: the number of requests tinyproxy counted (its statistics page)
	stats() {
		curl -s --max-time 10 -x "127.0.0.1:$port" http://stats.test/ |
			sed -n 's/.*Number of requests[^0-9]*\([0-9]*\).*/\1/p' | head -n1
	}
	if [ -z "$REASON" ]; then
		get && get || fail_step "a GET through tinyproxy before the checkpoint"
	fi
	# the client: a CONNECT tunnel to the upper server, a line every 20 ms for 4 s
	timeout 30 /usr/bin/python3 - "$port" "$uport" >"$DIR/client.txt" 2>&1 <<'PY' &
import socket, sys, time
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
c.sendall(b"CONNECT 127.0.0.1:%s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n\r\n" % (sys.argv[2].encode(), sys.argv[2].encode()))
head = b""
while b"\r\n\r\n" not in head:
    d = c.recv(1)
    if not d:
        sys.exit("tinyproxy closed the CONNECT")
    head += d
if b" 200 " not in head.split(b"\r\n")[0]:
    sys.exit("CONNECT answered %r" % head)
n, end = 0, time.time() + 4
while time.time() < end:
    msg = b"line %d through the tunnel\n" % n
    c.sendall(msg)
    got = b""
    while len(got) < len(msg):
        d = c.recv(len(msg) - len(got))
        if not d:
            sys.exit("the tunnel closed after %d lines" % n)
        got += d
    if got != msg.upper():
        sys.exit("line %d came back as %r" % (n, got))
    n += 1
    time.sleep(0.02)
print("ok", n)
PY
	cpid=$!
	sleep 1
	want=$(stats)
	[ -z "$REASON" ] && [ -z "$want" ] && fail_step "no request count on the statistics page"
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	wait "$cpid"
	out=$(cat "$DIR/client.txt")
	[ -z "$REASON" ] && [[ $out != "ok "* ]] && fail_step "the tunnel held across the checkpoint: $out"
	if [ -z "$REASON" ]; then
		get || fail_step "a GET through tinyproxy after the restore"
	fi
	if [ -z "$REASON" ]; then
		# the stats request before, and the GET after, were counted on top of it
		out=$(stats)
		[ "$out" = $((want + 2)) ] ||
			fail_step "tinyproxy counts $out requests, $((want + 2)) were made"
	fi
	if [ -z "$REASON" ]; then
		kill -TERM "$PID"
		app_wait_exit 10
	fi
	kill "$hpid" "$upid" 2>/dev/null
	wait "$hpid" "$upid" 2>/dev/null
	app_end
}
register_case app-tinyproxy app_tinyproxy
