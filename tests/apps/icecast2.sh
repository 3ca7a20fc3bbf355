# Debian's icecast2 (started as root, it gives up root for the icecast2 user; its threads: the
# connection acceptor, the source's, the stats', the slave's) relaying a live stream: a
# source outside the tree (python, HTTP PUT) sends numbered lines every 10 ms, a listener
# outside the tree (python) reads the mount the whole time. icecast is dumped and restored
# with --tcp-established under both connections: the listener must get every number in order,
# none lost or doubled, and numbers sent after the restore; a new listener is served too.
app_icecast2() {
	app_begin icecast2
	app_packages icecast2 python3 curl || return
	local port spid lpid i out
	port=$(app_free_port)
	mkdir -p "$DIR/log"
	chmod 777 "$DIR/log"
	cat >"$DIR/icecast.xml" <<CFG
<icecast>
  <limits><clients>20</clients><sources>2</sources><burst-size>0</burst-size>
    <queue-size>1048576</queue-size><source-timeout>20</source-timeout></limits>
  <authentication><source-password>srcpw</source-password>
    <admin-user>admin</admin-user><admin-password>adminpw</admin-password></authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>$port</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <fileserve>1</fileserve>
  <paths><basedir>/usr/share/icecast2</basedir><logdir>$DIR/log</logdir>
    <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot></paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>
  <security><chroot>0</chroot><changeowner><user>icecast2</user><group>icecast</group></changeowner></security>
</icecast>
CFG
	app_start /usr/bin/icecast2 -c "$DIR/icecast.xml"
	app_http_up "$port" status-json.xsl || fail_step "icecast did not answer: $(tail -n2 "$DIR/log/error.log")"
	# the source: lines "%09d\n", 100 every 10 ms, for 6 s
	[ -z "$REASON" ] && /usr/bin/python3 - "$port" >"$DIR/source.txt" 2>&1 <<'PY' &
import base64, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
auth = base64.b64encode(b"source:srcpw").decode()
s.sendall(("PUT /live HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic %s\r\n"
           "Content-Type: audio/mpeg\r\nIce-Public: 0\r\nExpect: 100-continue\r\n\r\n"
           % auth).encode())
if not s.recv(1000).startswith(b"HTTP/1.1 100"):
    sys.exit("the source was not accepted")
n, end = 0, time.time() + 6
while time.time() < end:
    s.sendall(b"".join(b"%09d\n" % (n + i) for i in range(100)))
    n += 100
    time.sleep(0.01)
print("sent", n)
PY
	spid=$!
	# ice_listen SECONDS: read the mount for SECONDS; "ok FIRST LAST" when the numbers were
	# consecutive (the first line may be cut: a listener joins between two writes)
	ice_listen() {
		timeout 30 /usr/bin/python3 - "$port" "$1" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /live HTTP/1.0\r\n\r\n")
buf, end = b"", time.time() + float(sys.argv[2])
while time.time() < end:
    d = s.recv(65536)
    if not d:
        break
    buf += d
head, _, body = buf.partition(b"\r\n\r\n")
if not head.startswith(b"HTTP/1.0 200"):
    sys.exit("the listener got %r" % head[:80])
nums = [int(l) for l in body.split(b"\n")[1:-1]]
if len(nums) < 100:
    sys.exit("the listener got %d lines" % len(nums))
for a, b in zip(nums, nums[1:]):
    if b != a + 1:
        sys.exit("the listener got %d after %d" % (b, a))
print("ok", nums[0], nums[-1])
PY
	}
	for ((i = 0; i < 100; i++)); do
		curl -sf --max-time 5 "http://127.0.0.1:$port/status-json.xsl" 2>/dev/null |
			grep -q '"listenurl"' && break
		sleep 0.05
	done
	[ -z "$REASON" ] && { ice_listen 4.5 >"$DIR/client.txt" 2>&1 & }
	lpid=$!
	sleep 1.2
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	wait "$lpid"
	out=$(cat "$DIR/client.txt")
	if [ -z "$REASON" ]; then
		[[ $out == "ok "* ]] || fail_step "the listener held across: $out"
		# 10000 lines a second: the last ones were sent well after the checkpoint
		local last=${out##* } first=${out#ok }
		first=${first% *}
		[ -z "$REASON" ] && [ $((last - first)) -lt 20000 ] &&
			fail_step "the listener got only $first..$last (nothing after the restore?)"
		out=$(ice_listen 0.5 2>&1)
		[ -z "$REASON" ] && [[ $out != "ok "* ]] && fail_step "a new listener after the restore: $out"
	fi
	wait "$spid"
	[ -z "$REASON" ] && [[ $(cat "$DIR/source.txt") != "sent "* ]] &&
		fail_step "the source: $(cat "$DIR/source.txt")"
	if [ -z "$REASON" ]; then
		kill -TERM "$PID"
		app_wait_exit 10
	fi
	app_end
}
register_case app-icecast2 app_icecast2
