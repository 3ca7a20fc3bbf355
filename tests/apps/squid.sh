# Debian's squid, a caching HTTP proxy, in the foreground without a daemon (-N: one process,
# the root of the tree), running as the proxy user, with its memory cache only. An origin
# server outside the tree (python) numbers each request it serves; curl fetches an object
# of 200 kB through squid, which caches it (an hour of max-age). Squid is checkpointed and
# restored; then the same object fetched through it must be the cached copy (a HIT, byte
# for byte, the origin not asked again), and an object not cached is fetched from the
# origin as usual. Squid's pinger (a child holding raw ICMP sockets) comes back too; it
# outlives squid's exit (even with no checkpoint at all), so the test ends it.
app_squid() {
	app_begin squid
	app_packages squid curl python3 || return
	if [ "$(id -u)" != 0 ]; then
		skip "$APP" "needs root (squid starts as root and runs as proxy)"
		return
	fi
	local port oport opid i got pinger
	port=$(app_free_port)
	oport=$(app_free_port)
	/usr/bin/python3 "$TESTS/tools/http_origin.py" "$oport" "$DIR/origin.log" 200000 >"$DIR/origin.txt" 2>&1 &
	opid=$!
	cat >"$DIR/squid.conf" <<CFG
http_port 127.0.0.1:$port
pid_filename $DIR/squid.pid
cache_log $DIR/cache.log
access_log stdio:$DIR/access.log
cache_store_log none
coredump_dir $DIR
cache_effective_user proxy
cache_mem 16 MB
maximum_object_size_in_memory 1 MB
acl localnet src 127.0.0.1/32
http_access allow localnet
http_access deny all
shutdown_lifetime 1 seconds
netdb_filename none
logfile_rotate 0
CFG
	chown proxy "$DIR"
	# get PATH: through squid, into $DIR/got; prints the X-Cache header's HIT or MISS
	get() {
		rm -f "$DIR/got"
		curl -sf --max-time 10 -x "http://127.0.0.1:$port" -D "$DIR/head" -o "$DIR/got" \
			"http://127.0.0.1:$oport$1" && grep -io '^x-cache: [a-z]*' "$DIR/head" | awk '{ print $2 }'
	}
	# same PATH N: $DIR/got is what the origin sent for PATH as its request N
	same() {
		/usr/bin/python3 -c 'import random, sys
p, n = sys.argv[1], int(sys.argv[2])
want = (b"request %d for %s\n" % (n, p.encode())) + random.Random(p).randbytes(200000)
sys.exit(open(sys.argv[3], "rb").read() != want)' "$1" "$2" "$DIR/got"
	}
	for ((i = 0; i < 200; i++)); do
		ss -Hltn "sport = :$oport" 2>/dev/null | grep -q . && break
		sleep 0.05
	done
	app_start /usr/sbin/squid -N -f "$DIR/squid.conf"
	for ((i = 0; i < 200; i++)); do
		ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && break
		sleep 0.05
	done
	got=$(get /object)
	[ "$got" = MISS ] && same /object 1 || fail_step "the first fetch: '$got' $(tail -n3 "$DIR/cache.log")"
	got=$(get /object)
	[ -z "$REASON" ] && ! { [ "$got" = HIT ] && same /object 1; } && fail_step "the second fetch before the checkpoint: '$got'"
	pinger=$(pgrep -P "$PID" -x pinger)
	[ -z "$REASON" ] && [ -z "$pinger" ] && fail_step "squid started no pinger"
	# --tcp-established: squid keeps its connection to the origin open for the next request
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	if [ -z "$REASON" ]; then
		got=$(get /object)
		[ "$got" = HIT ] && same /object 1 ||
			fail_step "after the restore /object was '$got' ($(head -n1 "$DIR/got" 2>/dev/null))"
		got=$(get /other)
		[ -z "$REASON" ] && ! { [ "$got" = MISS ] && same /other 2; } && fail_step "after the restore /other was '$got'"
		[ -z "$REASON" ] && [ "$(wc -l <"$DIR/origin.log")" != 2 ] &&
			fail_step "the origin served $(wc -l <"$DIR/origin.log") requests, not 2"
		[ -z "$REASON" ] && [ -n "$pinger" ] && [ "$(pgrep -P "$PID" -x pinger)" != "$pinger" ] &&
			fail_step "the pinger $pinger is not squid's child after the restore"
		kill -TERM "$PID"
		app_wait_exit 10
	fi
	[ -n "$pinger" ] && [ "$(ps -o comm= -p "$pinger")" = pinger ] && kill "$pinger"
	kill "$opid" 2>/dev/null
	wait "$opid" 2>/dev/null
	app_end
}
register_case app-squid app_squid
