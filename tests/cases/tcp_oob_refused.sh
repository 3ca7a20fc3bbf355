# shellcheck shell=bash
# tcp-oob-refused: urgent data whose mark cannot be made again (tests/progs/tcp_oob_refused.c):
# a connection's reading end with an urgent pointer announced by the peer and its byte not
# received yet. The dump (-R, --tcp-established) fails naming the task, the fd and "urgent data
# (MSG_OOB)", leaves no inventory.img and no table of its lock, and the target runs on: it
# reads up to the mark and then the urgent byte.

tcp_oob_refused() {
	local t0 rport want table
	t0=$(now)
	REASON=
	DIR=$OUT/tcp-oob-refused
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if start_test tcp_oob_refused; then
		read -r rport _ <"$DIR/work/ports"
		want="task $PID: fd [0-9]+: TCP connection 127.0.0.1:$rport -> 127.0.0.1:[0-9]+: urgent data \(MSG_OOB\) announced by the peer and not received yet: not supported"
		cryo dump dump -t "$PID" -D "$DIR/img" -R -v4 -o dump.log --tcp-established
		grep -Eq -- "$want" "$DIR/cryo-dump.txt" ||
			fail_step "the refusal does not say '$want': $(grep -i error "$DIR/cryo-dump.txt" | head -c 600)"
		table=$(sed -n 's/.*nftables table inet \(cryo-lock-[0-9]*\).*/\1/p' "$DIR/img/dump.log" 2>/dev/null | head -n1)
		if [ -n "$REASON" ]; then
			:
		elif [ $RC = 0 ]; then
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
	report "tcp-oob-refused" "$t0"
}
register_case tcp-oob-refused tcp_oob_refused
