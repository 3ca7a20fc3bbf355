# Debian's redis-server with three clients outside the tree whose state lives in the server,
# held across the checkpoint (--tcp-established): redis-cli SUBSCRIBEd to a channel, a python
# client PSUBSCRIBEd to a pattern, and a client blocked in BLPOP on an empty list. Before the
# checkpoint one message is published (PUBLISH must say 2 receivers); after the restore
# PUBLISH must again say 2, both subscribers must get both messages byte for byte, the
# blocked client must be handed the element pushed after the restore, and CLIENT LIST must
# still show the three connections with their subscriptions.
app_redis_pubsub() {
	app_begin redis-pubsub
	app_packages redis-server redis-tools python3 || return
	local port out spid ppid bpid i n
	port=$(app_free_port)
	app_start /usr/bin/redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
		--dir "$DIR" --logfile "$DIR/redis.log"
	for ((i = 0; i < 100; i++)); do
		[ "$(timeout 5 redis-cli -p "$port" PING 2>/dev/null)" = PONG ] && break
		sleep 0.05
	done
	rc() { timeout 5 redis-cli -p "$port" "$@" 2>&1; }
	timeout 30 redis-cli -p "$port" --no-raw SUBSCRIBE news >"$DIR/sub.txt" 2>&1 &
	spid=$!
	# the pattern subscriber: both messages, then "ok"
	timeout 30 /usr/bin/python3 - "$port" >"$DIR/psub.txt" 2>&1 <<'PY' &
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=25)
f = s.makefile("rwb")
f.write(b"PSUBSCRIBE ne*\r\n")
f.flush()
def reply():
    line = f.readline()
    if line[:1] == b"*":
        return [reply() for _ in range(int(line[1:]))]
    if line[:1] == b"$":
        return f.read(int(line[1:]) + 2)[:-2]
    return line.strip()
r = reply()
if r != [b"psubscribe", b"ne*", b":1"]:
    sys.exit("psubscribe: %r" % r)
for want in (b"first \x00\xff message", b"second message after the restore"):
    r = reply()
    if r != [b"pmessage", b"ne*", b"news", want]:
        sys.exit("got %r, wanted %r" % (r, want))
print("ok")
PY
	ppid=$!
	timeout 30 redis-cli -p "$port" BLPOP jobs 0 >"$DIR/blpop.txt" 2>&1 &
	bpid=$!
	for ((i = 0; i < 100; i++)); do
		n=$(rc CLIENT LIST | grep -c -e 'cmd=subscribe' -e 'cmd=psubscribe' -e 'cmd=blpop')
		[ "$n" = 3 ] && break
		sleep 0.05
	done
	[ "$n" = 3 ] || fail_step "the three clients are not all there: $(rc CLIENT LIST)"
	out=$(printf 'first \0\377 message' | timeout 5 redis-cli -p "$port" -x PUBLISH news)
	[ -z "$REASON" ] && [ "$out" != 2 ] && fail_step "PUBLISH before the checkpoint reached '$out'"
	sleep 0.2
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	if [ -z "$REASON" ]; then
		n=$(rc CLIENT LIST | grep -c -e 'cmd=subscribe' -e 'cmd=psubscribe' -e 'cmd=blpop')
		[ "$n" = 3 ] || fail_step "after the restore CLIENT LIST shows: $(rc CLIENT LIST)"
	fi
	if [ -z "$REASON" ]; then
		out=$(rc PUBLISH news "second message after the restore")
		[ "$out" = 2 ] || fail_step "PUBLISH after the restore reached '$out'"
	fi
	if [ -z "$REASON" ]; then
		out=$(rc RPUSH jobs "the job for the blocked client")
		[ "$out" = 1 ] || fail_step "RPUSH after the restore: '$out'"
	fi
	wait "$bpid"
	out=$(tr '\n' '|' <"$DIR/blpop.txt")
	[ -z "$REASON" ] && [ "$out" != "jobs|the job for the blocked client|" ] &&
		fail_step "the client blocked in BLPOP got '$out'"
	wait "$ppid"
	out=$(cat "$DIR/psub.txt")
	[ -z "$REASON" ] && [ "$out" != ok ] && fail_step "the pattern subscriber: $out"
	# the channel subscriber runs until it is killed: what it printed so far
	for ((i = 0; i < 100; i++)); do
		grep -q "second message" "$DIR/sub.txt" && break
		sleep 0.05
	done
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	out=$(tr '\n' '|' <"$DIR/sub.txt")
	want='Reading messages... (press Ctrl-C to quit)|1) "subscribe"|2) "news"|3) (integer) 1|1) "message"|2) "news"|3) "first \x00\xff message"|1) "message"|2) "news"|3) "second message after the restore"|'
	[ -z "$REASON" ] && [ "$out" != "$want" ] && fail_step "the subscriber got '$out'"
	if [ -z "$REASON" ]; then
		rc SHUTDOWN NOSAVE >/dev/null
		app_wait_exit 10
	fi
	app_end
}
register_case app-redis-pubsub app_redis_pubsub
