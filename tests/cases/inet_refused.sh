# shellcheck shell=bash
# inet-refused: TCP state cryo cannot restore yet (tests/progs/tcp_established.c): an
# established connection (both of its ends) and a listener with a connection queued but not
# accepted, a UDP socket with a datagram queued and IP_PKTINFO (its datagrams would come with
# the address they were sent to), one shut down for reading. The dump, with -R and without, fails naming each (the connection by its
# addresses and --tcp-established), leaves no inventory.img, and the target runs on: the
# connection still carries data both ways and the queued one is accepted.

inet_refused_one() {
	local mode=$1 t0 lport cport qport uport want
	t0=$(now)
	REASON=
	DIR=$OUT/inet-refused/$mode
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if start_test tcp_established; then
		read -r lport cport qport uport <"$DIR/work/ports"
		if [ "$mode" = leave-running ]; then
			cryo dump dump -t "$PID" -D "$DIR/img" -R -v4 -o dump.log
		else
			cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o dump.log
		fi
		for want in \
			"task $PID: fd [0-9]+: established TCP connection 127.0.0.1:$cport -> 127.0.0.1:$lport: not supported yet \(--tcp-established\)" \
			"task $PID: fd [0-9]+: established TCP connection 127.0.0.1:$lport -> 127.0.0.1:$cport: not supported yet \(--tcp-established\)" \
			"task $PID: fd [0-9]+: listening TCP socket 127.0.0.1:$qport has 1 connection not accepted yet: not supported yet" \
			"task $PID: fd [0-9]+: UDP socket 127.0.0.1:$uport has datagrams queued and IP_PKTINFO set \(each datagram comes with ancillary data of its arrival\): not supported yet" \
			"task $PID: fd [0-9]+: UDP socket 0.0.0.0:0 was shut down for reading \(shutdown\): not supported yet"; do
			grep -Eq -- "$want" "$DIR/cryo-dump.txt" ||
				fail_step "the refusal does not say '$want': $(grep -i error "$DIR/cryo-dump.txt" | head -c 600)"
		done
		if [ $RC = 0 ]; then
			fail_step "the dump of an established connection succeeded"
		elif [ -e "$DIR/img/inventory.img" ]; then
			fail_step "a refused dump left inventory.img"
		elif ! alive "$PID"; then
			fail_step "target $PID gone after the refused dump"
		else
			check
		fi
	fi
	kill_leftovers
	report "inet-refused/$mode" "$t0"
}

inet_refused() {
	inet_refused_one leave-running
	inet_refused_one kill
}
register_case inet-refused inet_refused
