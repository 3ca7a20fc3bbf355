# shellcheck shell=bash
# inet-refused: TCP state cryo cannot restore yet (tests/progs/tcp_established.c): an
# established connection (both of its ends) and a listener with a connection queued but not
# accepted, a UDP socket with a datagram queued and SO_TIMESTAMP (its datagrams would come with
# the time they arrived), one shut down for reading, a TCP client whose connection
# was reset. The dump, with -R and without, fails naming each (the connection by its
# addresses and --tcp-established), leaves no inventory.img, and the target runs on: the
# connection still carries data both ways and the queued one is accepted.

inet_refused_one() {
	local mode=$1 t0 lport cport qport uport eport
	t0=$(now)
	REASON=
	DIR=$OUT/inet-refused/$mode
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if start_test tcp_established; then
		read -r lport cport qport uport eport <"$DIR/work/ports"
		# shellcheck disable=SC2046 # -R or nothing
		cryo dump dump -t "$PID" -D "$DIR/img" $([ "$mode" = leave-running ] && echo -R) \
			-v4 -o dump.log
		expect_refused "an established connection" \
			"task $PID: fd [0-9]+: established TCP connection 127.0.0.1:$cport -> 127.0.0.1:$lport: not supported yet \(--tcp-established\)" \
			"task $PID: fd [0-9]+: established TCP connection 127.0.0.1:$lport -> 127.0.0.1:$cport: not supported yet \(--tcp-established\)" \
			"task $PID: fd [0-9]+: listening TCP socket 127.0.0.1:$qport has 1 connection not accepted yet: not supported yet" \
			"task $PID: fd [0-9]+: UDP socket 127.0.0.1:$uport has datagrams queued and SO_TIMESTAMP set \(each datagram comes with ancillary data of its arrival\): not supported yet" \
			"task $PID: fd [0-9]+: UDP socket 0.0.0.0:0 was shut down for reading \(shutdown\): not supported yet" \
			"task $PID: fd [0-9]+: TCP socket 127.0.0.1:$eport whose connection ended: not supported yet"
	fi
	kill_leftovers
	report "inet-refused/$mode" "$t0"
}

inet_refused() {
	inet_refused_one leave-running
	inet_refused_one kill
}
register_case inet-refused inet_refused

# inet-port-taken: tcp_listen dumped, then its port taken by another listener (a process
# outside the images): the restore fails naming the address and port, leaves no process with
# the test's pid, and once the port is free again the same images restore and pass.
inet_port_taken() {
	local t0 port=
	t0=$(now)
	REASON=
	DIR=$OUT/inet-port-taken
	SHELL_JOB=
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if start_test tcp_listen; then
		dump "$DIR/img" && gone_after_dump
		port=$(grep -Eo "TCP socket 127\.0\.0\.1:[0-9]+ listening" "$DIR/img/dump.log" | head -n1 |
			grep -Eo "[0-9]+ listening" | cut -d' ' -f1)
		[ -n "$port" ] || fail_step "the dump log does not name the listener's port"
	fi
	# shellcheck disable=SC2016 # the blocker's python, not shell
	restore_taken "port $port" "$port" \
		"cannot bind the TCP socket to 127\.0\.0\.1:$port \(the port is taken" \
		'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
open(sys.argv[2], "w").close()
time.sleep(60)'
	kill_leftovers
	report inet-port-taken "$t0"
}
register_case inet-port-taken inet_port_taken

# inet-skip-in-flight: a listener (tests/progs/tcp_inflight.c) with a connection of a client
# outside the tree waiting in its accept queue: the dump without --skip-in-flight refuses it;
# with it, the dump names the connection left out, the client sees a reset, and the restored
# listener accepts a new connection, the only one in its queue.
inet_skip_in_flight() {
	local t0 port i
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/inet-skip-in-flight
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if start_test tcp_inflight; then
		port=$(cat "$DIR/work/port")
		rm -f "$DIR/client.up"
		/usr/bin/python3 -c 'import socket, sys, time
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
open(sys.argv[2], "w").close()
c.settimeout(30)
try:
    print("read", c.recv(10))
except ConnectionResetError:
    print("reset")' "$port" "$DIR/client.up" </dev/null >"$DIR/client.txt" 2>&1 &
		local client=$!
		for ((i = 0; i < 100; i++)); do
			[ -e "$DIR/client.up" ] && break
			sleep 0.05
		done
		[ -e "$DIR/client.up" ] || fail_step "the client did not connect: $(cat "$DIR/client.txt")"
		if [ -z "$REASON" ]; then
			cryo refused dump -t "$PID" -D "$DIR/img" -R -v4 -o dump-refused.log
			[ $RC = 0 ] && fail_step "the dump without --skip-in-flight succeeded"
			grep -Eq "listening TCP socket 127\.0\.0\.1:$port has 1 connection not accepted yet: not supported yet" \
				"$DIR/cryo-refused.txt" || fail_step "the refusal does not name the listener: $(grep -i error "$DIR/cryo-refused.txt" | head -c 300)"
		fi
		if [ -z "$REASON" ]; then
			dump "$DIR/img" --skip-in-flight && gone_after_dump
			grep -Eq "listening TCP socket 127\.0\.0\.1:$port: 1 connection not accepted yet left out \(--skip-in-flight\)" \
				"$DIR/img/dump.log" || fail_step "the dump does not name the connection it left out"
		fi
		wait "$client" 2>/dev/null
		[ -z "$REASON" ] && ! grep -q "^reset" "$DIR/client.txt" &&
			fail_step "the client left out did not see a reset: $(cat "$DIR/client.txt")"
		[ -z "$REASON" ] && restore "$DIR/img" && check
	fi
	kill_leftovers
	report inet-skip-in-flight "$t0"
}
register_case inet-skip-in-flight inet_skip_in_flight
