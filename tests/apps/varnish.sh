# Debian's Varnish Cache in the foreground (-F: the manager is the root of the tree, its
# cache child a process of its own running as an unprivileged user), caching in memory
# (-s malloc), its shared memory log and counters in files of its working directory that both
# processes map shared (what varnishstat reads). An origin outside the tree (python)
# numbers each request it serves; curl fetches an object through varnish, a miss then a hit.
# Varnish is checkpointed and restored; then the object must come from the cache (the
# origin not asked again, byte for byte), a new object from the origin, and varnishstat,
# reading the mapped files, must show the hit and miss counters going on from where they
# were (the restored processes write into the same files).
app_varnish() {
	app_begin varnish
	app_packages varnish curl python3 || return
	if [ "$(id -u)" != 0 ]; then
		skip "$APP" "needs root (the cache child runs as another user)"
		return
	fi
	local port oport opid i got hits misses
	port=$(app_free_port)
	oport=$(app_free_port)
	/usr/bin/python3 "$TESTS/tools/http_origin.py" "$oport" "$DIR/origin.log" 100000 >"$DIR/origin.txt" 2>&1 &
	opid=$!
	get() {
		rm -f "$DIR/got"
		curl -sf --max-time 10 -o "$DIR/got" "http://127.0.0.1:$port$1"
	}
	same() {
		/usr/bin/python3 -c 'import random, sys
p, n = sys.argv[1], int(sys.argv[2])
want = (b"request %d for %s\n" % (n, p.encode())) + random.Random(p).randbytes(100000)
sys.exit(open(sys.argv[3], "rb").read() != want)' "$1" "$2" "$DIR/got"
	}
	# counter FIELD: a counter, read by varnishstat from the mapped files
	varnish_counter() {
		timeout 5 varnishstat -n "$DIR/vd" -1 -f "MAIN.$1" 2>/dev/null | awk '{ print $2 }'
	}
	for ((i = 0; i < 200; i++)); do
		ss -Hltn "sport = :$oport" 2>/dev/null | grep -q . && break
		sleep 0.05
	done
	app_start /usr/sbin/varnishd -F -n "$DIR/vd" -a "127.0.0.1:$port" -b "127.0.0.1:$oport" \
		-s malloc,32m -p thread_pools=1 -p thread_pool_min=5 -p thread_pool_max=20
	for ((i = 0; i < 200; i++)); do
		ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && break
		sleep 0.05
	done
	get /object && same /object 1 || fail_step "the first fetch: $(tail -n3 "$DIR/stderr")"
	[ -z "$REASON" ] && ! { get /object && same /object 1; } && fail_step "the second fetch before the checkpoint"
	# the counters are published a moment after the request
	sleep 1.2
	hits=$(varnish_counter cache_hit)
	misses=$(varnish_counter cache_miss)
	[ -z "$REASON" ] && [ "$hits/$misses" != 1/1 ] && fail_step "before the checkpoint: $hits hits, $misses misses"
	# --tcp-established: varnish keeps its connection to the origin for the next fetch;
	# --file-locks: varnish holds an flock() lock on a file of its working directory
	[ -z "$REASON" ] && app_checkpoint --tcp-established --file-locks
	if [ -z "$REASON" ]; then
		get /object && same /object 1 || fail_step "after the restore /object: $(head -n1 "$DIR/got" 2>/dev/null)"
		[ -z "$REASON" ] && ! { get /other && same /other 2; } && fail_step "after the restore /other"
		[ -z "$REASON" ] && [ "$(wc -l <"$DIR/origin.log")" != 2 ] &&
			fail_step "the origin served $(wc -l <"$DIR/origin.log") requests, not 2"
	fi
	if [ -z "$REASON" ]; then
		for ((i = 0; i < 60; i++)); do
			[ "$(varnish_counter cache_hit)/$(varnish_counter cache_miss)" = 2/2 ] && break
			sleep 0.1
		done
		[ "$(varnish_counter cache_hit)/$(varnish_counter cache_miss)" = 2/2 ] ||
			fail_step "after the restore varnishstat says $(varnish_counter cache_hit) hits, $(varnish_counter cache_miss) misses (not 2 and 2)"
		kill -TERM "$PID"
		app_wait_exit 15
	fi
	kill "$opid" 2>/dev/null
	wait "$opid" 2>/dev/null
	app_end
}
register_case app-varnish app_varnish
