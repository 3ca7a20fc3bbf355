# Debian's python3 serving a directory (`python3 -m http.server`) on a free port of 127.0.0.1,
# asked for a file once, checkpointed while it waits for the next request (its listener with
# SO_REUSEADDR; the connection it answered before is in TIME_WAIT, which the restored
# listener's bind must pass), restored, then curl fetches two files: both come back byte for
# byte. If the dump is refused for an epoll (a later python may wait in one), the case is
# skipped saying so.
app_http_server() {
	app_begin http-server
	app_packages python3 curl || return
	local port i got
	mkdir -p "$DIR/www"
	head -c 300000 /dev/urandom >"$DIR/www/data.bin"
	echo "served after the restore" >"$DIR/www/index.txt"
	# a port free now (the kernel's choice), given to the server as a user would
	port=$(app_free_port)
	app_start /usr/bin/python3 -m http.server "$port" --bind 127.0.0.1 --directory www
	for ((i = 0; i < 100; i++)); do
		curl -sf --max-time 5 -o "$DIR/before.bin" "http://127.0.0.1:$port/data.bin" && break
		sleep 0.05
	done
	cmp -s "$DIR/before.bin" "$DIR/www/data.bin" || fail_step "the server did not serve before the checkpoint"
	sleep 0.3
	if [ -z "$REASON" ]; then
		cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o dump.log
		if [ $RC != 0 ] && grep -q "is an epoll" "$DIR/cryo-dump.txt"; then
			skip "$APP" "the dump refuses the server's epoll (not supported yet)"
			app_end_skip
			return
		fi
		[ $RC = 0 ] || fail_step "cryo dump exited $RC: $(grep Error "$DIR/cryo-dump.txt" | head -c 400)"
	fi
	[ -z "$REASON" ] && gone_after_dump && restore "$DIR/img"
	if [ -z "$REASON" ]; then
		got=$(curl -sf --max-time 10 "http://127.0.0.1:$port/index.txt")
		[ "$got" = "served after the restore" ] ||
			fail_step "after the restore index.txt came back as '$got' (stderr: $(tail -c 300 "$DIR/stderr"))"
		curl -sf --max-time 10 -o "$DIR/after.bin" "http://127.0.0.1:$port/data.bin"
		cmp -s "$DIR/after.bin" "$DIR/www/data.bin" ||
			fail_step "after the restore data.bin differs ($(stat -c %s "$DIR/after.bin" 2>/dev/null) bytes)"
		alive "$PID" || fail_step "the server is gone after serving"
	fi
	app_end
}

# the skipped case's cleanup: app_end without its report
app_end_skip() {
	REASON=
	local p
	if [ -n "${PID:-}" ] && alive "$PID"; then
		for p in $(ps -e -o pid=,sid= | awk -v s="$PID" '$2 == s { print $1 }'); do
			kill -9 "$p" 2>/dev/null
		done
	fi
	kill_leftovers
}
register_case app-http-server app_http_server
