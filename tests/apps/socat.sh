# Debian's socat relaying one TCP connection: a client outside the tree talks through socat to
# an echo server outside the tree (both python), line by line, the whole time. socat holds two
# established connections (the accepted one and the one it made) and is checkpointed with
# --tcp-established between two lines: every line must come back upper-cased, in order, with
# no reset, before and after the restore; the client's close then ends the relay as usual.
app_socat() {
	app_begin socat
	app_packages socat python3 || return
	local lport sport spid cpid i out
	lport=$(app_free_port)
	sport=$(app_free_port)
	app_upper_server "$sport" &
	spid=$!
	app_tcp_up "$sport"
	app_start socat "TCP-LISTEN:$lport,bind=127.0.0.1,reuseaddr" "TCP:127.0.0.1:$sport"
	app_tcp_up "$lport"
	# the client: a line every 20 ms for 4 s, each answer checked; "ok N" at the end
	app_line_client "$lport" 4 "the relay" >"$DIR/client.txt" 2>&1 &
	cpid=$!
	sleep 1
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	wait "$cpid"
	out=$(cat "$DIR/client.txt")
	[ -z "$REASON" ] && [[ $out != "ok "* ]] && fail_step "the client: $out"
	# the client's close goes through the relay to the server, whose close ends socat
	[ -z "$REASON" ] && app_wait_exit 10
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	app_end
}
register_case app-socat app_socat

# socat serving each connection in a child of its own (fork) that runs a filter through
# EXEC: the child makes the socket pair to the program it starts, so the pair's peer
# credentials name that child, not the tree's root (the restore makes it in that child). The
# client keeps its connection through the checkpoint (--tcp-established): every line must
# come back through `sed -u` upper-cased, in order; a second client connects after the restore
# and gets a child of its own.
app_socat_fork() {
	app_begin socat-fork
	app_packages socat python3 || return
	local lport cpid i out n
	lport=$(app_free_port)
	app_start socat "TCP-LISTEN:$lport,bind=127.0.0.1,reuseaddr,fork" "EXEC:sed -u y/abcdefghijklmnopqrstuvwxyz/ABCDEFGHIJKLMNOPQRSTUVWXYZ/"
	app_tcp_up "$lport"
	app_line_client "$lport" 4 sed >"$DIR/client.txt" 2>&1 &
	cpid=$!
	for ((i = 0; i < 100; i++)); do
		n=$(ps -o pid= --ppid "$PID" | wc -l)
		[ "$n" -ge 1 ] && break
		sleep 0.05
	done
	sleep 0.5
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	wait "$cpid"
	out=$(cat "$DIR/client.txt")
	[ -z "$REASON" ] && [[ $out != "ok "* ]] && fail_step "the client held across the checkpoint: $out"
	if [ -z "$REASON" ]; then
		out=$(app_line_client "$lport" 0.5 sed 2>&1)
		[[ $out == "ok "* ]] || fail_step "a client after the restore: $out"
	fi
	app_end
}
register_case app-socat-fork app_socat_fork
