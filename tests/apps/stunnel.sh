# Debian's stunnel4 as a TLS front of a plain TCP server outside the tree (python, answering
# each line upper-cased): stunnel's threads (one per connection), the TLS session of a client
# connected through the checkpoint in its memory, the accepted connection and the one it made
# to the server. Dumped and restored with --tcp-established while a python TLS client sends a
# line every 20 ms: every line comes back upper-cased, in order, through the same TLS session;
# after the restore a second client makes a new handshake and is answered too.
app_stunnel() {
	app_begin stunnel
	app_packages stunnel4 openssl python3 || return
	local lport sport spid cpid i out
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$DIR/key.pem" -out "$DIR/cert.pem" \
		-days 1 -subj /CN=127.0.0.1 >"$DIR/req.txt" 2>&1 ||
		fail_step "openssl req failed: $(tail -n1 "$DIR/req.txt")"
	lport=$(app_free_port)
	sport=$(app_free_port)
	app_upper_server "$sport" &
	spid=$!
	cat >"$DIR/stunnel.conf" <<CFG
foreground = yes
pid =
syslog = no
output = $DIR/stunnel.log
[upper]
accept = 127.0.0.1:$lport
connect = 127.0.0.1:$sport
cert = $DIR/cert.pem
key = $DIR/key.pem
CFG
	[ -z "$REASON" ] && app_start /usr/bin/stunnel4 "$DIR/stunnel.conf"
	for ((i = 0; i < 100; i++)); do
		ss -Hltn "sport = :$lport" 2>/dev/null | grep -q . &&
			ss -Hltn "sport = :$sport" 2>/dev/null | grep -q . && break
		sleep 0.05
	done
	# tls_client SECONDS: one TLS connection, a line every 20 ms for SECONDS, each answer
	# checked; "ok N" at the end
	tls_client() {
		timeout 30 /usr/bin/python3 - "$lport" "$1" <<'PY'
import socket, ssl, sys, time
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
raw = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
c = ctx.wrap_socket(raw)
n, end = 0, time.time() + float(sys.argv[2])
while n == 0 or time.time() < end:
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
c.close()
print("ok", n)
PY
	}
	[ -z "$REASON" ] && { tls_client 5 >"$DIR/client.txt" 2>&1 & }
	cpid=$!
	sleep 1.5
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	wait "$cpid"
	out=$(cat "$DIR/client.txt")
	[ -z "$REASON" ] && [[ $out != "ok "* ]] && fail_step "the client held across: $out"
	if [ -z "$REASON" ]; then
		out=$(tls_client 0.5 2>&1)
		[[ $out == "ok "* ]] || fail_step "a new client after the restore: $out"
		kill -TERM "$PID"
		app_wait_exit 10
	fi
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	app_end
}
register_case app-stunnel app_stunnel
