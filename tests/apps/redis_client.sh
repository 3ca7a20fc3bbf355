# Debian's redis-server on a TCP port of 127.0.0.1 with a client outside the tree that stays
# connected and keeps sending INCR the whole time: the server is checkpointed and restored
# with --tcp-established under the client's feet. The client must see no reset and no lost
# or doubled reply: every answer is the next number, through the dump and after the restore.
app_redis_client() {
	app_begin redis-client
	app_packages redis-server redis-tools python3 || return
	local port out cpid i
	port=$(app_free_port)
	app_start /usr/bin/redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
		--dir "$DIR" --logfile "$DIR/redis.log"
	for ((i = 0; i < 100; i++)); do
		[ "$(timeout 5 redis-cli -p "$port" PING 2>/dev/null)" = PONG ] && break
		sleep 0.05
	done
	# the client: INCR every 5 ms for 8 s on one connection; "ok N" when every reply was
	# the next number
	timeout 30 /usr/bin/python3 - "$port" >"$DIR/client.txt" 2>&1 <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
f = s.makefile("rwb")
n, end = 0, time.time() + 8
while time.time() < end:
    f.write(b"INCR counter\r\n")
    f.flush()
    r = f.readline()
    n += 1
    if r != b":%d\r\n" % n:
        sys.exit("reply %d was %r" % (n, r))
    time.sleep(0.005)
print("ok", n)
PY
	cpid=$!
	sleep 2
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	wait "$cpid"
	out=$(cat "$DIR/client.txt")
	if [ -z "$REASON" ]; then
		[[ $out == "ok "* ]] || fail_step "the client: $out"
		[ "$(timeout 5 redis-cli -p "$port" GET counter)" = "${out#ok }" ] ||
			fail_step "counter is '$(timeout 5 redis-cli -p "$port" GET counter)', the client counted ${out#ok }"
		timeout 5 redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1
		app_wait_exit 10
		# this dump's table only: another run on the machine may hold one of its own
		local table
		table=$(grep -o 'cryo-lock-[0-9]*' "$DIR/img/dump.log" 2>/dev/null | head -n1)
		[ -n "$table" ] || fail_step "the dump named no network lock table"
		[ -n "$table" ] && nft list table inet "$table" >/dev/null 2>&1 &&
			fail_step "the network lock table $table was left"
	fi
	app_end
}
register_case app-redis-client app_redis_client
