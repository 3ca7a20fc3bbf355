# Debian's nats-server (Go: a runtime of many threads, its netpoller on epoll, timers) with
# JetStream storing to files in the test's directory: a stream of 10 messages published and
# acknowledged before the checkpoint, and a subscriber outside the tree connected the whole
# time, checkpointed with --tcp-established after 5 of its 10 messages. After the restore
# the subscriber gets the other 5, in order, on the same connection; a new client finds the
# stream with its 10 messages, reads message 3 back byte for byte, and its next publish is
# acknowledged as message 11 (the stream's files and counters went on where they were).
app_nats() {
	app_begin nats
	app_packages nats-server python3 || return
	local port cpid out i
	port=$(app_free_port)
	mkdir -p "$DIR/js"
	app_start /usr/sbin/nats-server -a 127.0.0.1 -p "$port" -js -sd "$DIR/js" -l "$DIR/nats.log"
	for ((i = 0; i < 200; i++)); do
		ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && break
		sleep 0.05
	done
	# nats_client MODE: a client; MODE sub (the subscriber kept), setup, live N (5 messages from N),
	# check
	nats_client() {
		timeout 30 /usr/bin/python3 - "$port" "$1" "$DIR" "${2:-}" <<'PY'
import base64, json, os, socket, sys, time
port, mode, d, arg = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = socket.create_connection(("127.0.0.1", port), timeout=20)
f = s.makefile("rwb")
def send(b):
    f.write(b)
    f.flush()
def line():
    while True:
        l = f.readline()
        if not l:
            sys.exit("the server closed the connection")
        if l.startswith(b"PING"):
            send(b"PONG\r\n")
            continue
        if l.startswith(b"+OK") or l.startswith(b"PONG") or l.startswith(b"INFO"):
            continue
        if l.startswith(b"-ERR"):
            sys.exit("server error: %r" % l)
        return l
def msg():
    h = line().split()
    if h[0] != b"MSG":
        sys.exit("not a message: %r" % h)
    data = f.read(int(h[-1]) + 2)[:-2]
    return h[1], data
def pub(subj, data, reply=b""):
    send(b"PUB %s %s %d\r\n%s\r\n" % (subj, reply, len(data), data))
def request(subj, data):
    pub(subj, data, b"_INBOX.cryo")
    return json.loads(msg()[1])
def order(i):
    return b"order %d: " % i + bytes(range(i * 7 % 200, i * 7 % 200 + 50))
f.readline()  # INFO
send(b'CONNECT {"verbose":false,"pedantic":false}\r\nSUB _INBOX.cryo 9\r\nPING\r\n')
while not f.readline().startswith(b"PONG"):
    pass
if mode == "sub":
    send(b"SUB live.* 1\r\nPING\r\n")
    while not f.readline().startswith(b"PONG"):
        pass
    open(d + "/subscribed", "w").close()
    for i in range(10):
        subj, data = msg()
        if data != b"live %d" % i:
            sys.exit("message %d was %r on %r" % (i, data, subj))
        if i == 4:
            open(d + "/got5", "w").close()
    print("ok")
elif mode == "setup":
    r = request(b"$JS.API.STREAM.CREATE.ORDERS",
                json.dumps({"name": "ORDERS", "subjects": ["orders.*"], "storage": "file"}).encode())
    if "error" in r:
        sys.exit("stream create: %r" % r)
    for i in range(1, 11):
        r = request(b"orders.new", order(i))
        if r.get("seq") != i:
            sys.exit("publish %d acknowledged as %r" % (i, r))
    print("stored")
elif mode == "live":
    for i in range(int(arg), int(arg) + 5):
        pub(b"live.x", b"live %d" % i)
    send(b"PING\r\n")
    while not f.readline().startswith(b"PONG"):
        pass
    print("sent")
else:
    r = request(b"$JS.API.STREAM.INFO.ORDERS", b"")
    if r.get("state", {}).get("messages") != 10:
        sys.exit("stream info: %r" % r.get("state", r))
    r = request(b"$JS.API.STREAM.MSG.GET.ORDERS", b'{"seq":3}')
    if base64.b64decode(r.get("message", {}).get("data", "")) != order(3):
        sys.exit("message 3: %r" % r)
    r = request(b"orders.new", order(11))
    if r.get("seq") != 11:
        sys.exit("the publish after the restore acknowledged as %r" % r)
    print("checked")
PY
	}
	out=$(nats_client setup 2>&1)
	[ "$out" = stored ] || fail_step "before the checkpoint: $out"
	nats_client sub >"$DIR/sub.txt" 2>&1 &
	cpid=$!
	for ((i = 0; i < 200; i++)); do
		[ -e "$DIR/subscribed" ] && break
		sleep 0.05
	done
	[ -z "$REASON" ] && [ "$(nats_client live 0 2>&1)" != sent ] && fail_step "publishing before the checkpoint failed"
	for ((i = 0; i < 200; i++)); do
		[ -e "$DIR/got5" ] && break
		sleep 0.05
	done
	[ -z "$REASON" ] && [ ! -e "$DIR/got5" ] && fail_step "the subscriber did not get 5 messages: $(cat "$DIR/sub.txt")"
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	if [ -z "$REASON" ]; then
		out=$(nats_client live 5 2>&1)
		[ "$out" = sent ] || fail_step "publishing after the restore: $out"
	fi
	wait "$cpid"
	out=$(cat "$DIR/sub.txt")
	[ -z "$REASON" ] && [ "$out" != ok ] && fail_step "the subscriber: $out"
	if [ -z "$REASON" ]; then
		out=$(nats_client check 2>&1)
		[ "$out" = checked ] || fail_step "after the restore: $out"
		kill -TERM "$PID"
		app_wait_exit 10
	fi
	kill "$cpid" 2>/dev/null
	app_end
}
register_case app-nats app_nats
