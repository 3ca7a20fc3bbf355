# shellcheck shell=bash
# tcp-fin-refused: what a half-closed connection's save still refuses
# (tests/progs/tcp_fin_refused.c): with --tcp-established, a connection the program shut down
# for reading (no FIN received) and one marked with the network lock's own mark; without it,
# the half-closed ones by their state (FIN_WAIT2, CLOSE_WAIT) and the option. Each dump (-R)
# fails naming each, leaves no inventory.img and no table of its lock, and the target runs on:
# every connection still carries data.

tcp_fin_refused_one() {
	local opt=$1 t0 lport xport mport hport want table
	local -a wants
	t0=$(now)
	REASON=
	DIR=$OUT/tcp-fin-refused/${opt:-plain}
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if start_test tcp_fin_refused; then
		read -r lport xport mport hport <"$DIR/work/ports"
		if [ -n "$opt" ]; then
			wants=(
				"task $PID: fd [0-9]+: TCP socket 127.0.0.1:$xport was shut down for reading \(shutdown\): not supported yet"
				"task $PID: fd [0-9]+: TCP connection 127.0.0.1:$mport -> 127.0.0.1:$lport is marked 0x6372796f \(SO_MARK\), the network lock's own mark: not supported"
			)
		else
			wants=(
				"task $PID: fd [0-9]+: TCP connection 127.0.0.1:$hport -> 127.0.0.1:$lport in state FIN_WAIT2: not supported yet \(--tcp-established\)"
				"task $PID: fd [0-9]+: TCP connection 127.0.0.1:$lport -> 127.0.0.1:$hport in state CLOSE_WAIT: not supported yet \(--tcp-established\)"
			)
		fi
		# shellcheck disable=SC2086
		cryo dump dump -t "$PID" -D "$DIR/img" -R -v4 -o dump.log $opt
		for want in "${wants[@]}"; do
			grep -Eq -- "$want" "$DIR/cryo-dump.txt" ||
				fail_step "the refusal does not say '$want': $(grep -i error "$DIR/cryo-dump.txt" | head -c 600)"
		done
		table=$(sed -n 's/.*nftables table inet \(cryo-lock-[0-9]*\).*/\1/p' "$DIR/img/dump.log" 2>/dev/null | head -n1)
		if [ $RC = 0 ]; then
			fail_step "the dump succeeded"
		elif [ -e "$DIR/img/inventory.img" ]; then
			fail_step "a refused dump left inventory.img"
		elif [ -n "$table" ] && nft list table inet "$table" >/dev/null 2>&1; then
			fail_step "the refused dump left table inet $table"
		elif ! alive "$PID"; then
			fail_step "target $PID gone after the refused dump"
		else
			check
		fi
	fi
	kill_leftovers
	report "tcp-fin-refused/${opt:-plain}" "$t0"
}

tcp_fin_refused() {
	tcp_fin_refused_one --tcp-established
	tcp_fin_refused_one ""
}
register_case tcp-fin-refused tcp_fin_refused
