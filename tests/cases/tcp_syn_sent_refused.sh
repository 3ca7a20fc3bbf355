# shellcheck shell=bash
# tcp-syn-sent-refused: a TCP connect in progress (SYN_SENT), dumped with --tcp-close, then
# without --tcp-established, makes each dump fail naming the task, the fd and the state, and
# the program runs on: its connects complete once the peer accepts (tests/progs/tcp_syn_sent.c).

tcp_syn_sent_refused() {
	local t0
	t0=$(now)
	REASON=
	DIR=$OUT/tcp-syn-sent-refused
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if start_test tcp_syn_sent; then
		# --tcp-close saves no connection, and cannot give a connect in progress back
		cryo dump-close dump -t "$PID" -D "$DIR/img" -v4 -o dump-close.log --tcp-close
		if [ "$RC" = 0 ]; then
			fail_step "the dump with --tcp-close succeeded"
		elif ! grep -Eq "task $PID: fd [0-9]+: TCP connect in progress \(SYN_SENT\) from .*: not supported with --tcp-close" "$DIR/cryo-dump-close.txt"; then
			fail_step "the refusal with --tcp-close does not name the connect: $(grep -i error "$DIR/cryo-dump-close.txt" | head -c 600)"
		fi
		rm -rf "$DIR/img" && mkdir -p "$DIR/img"
		cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o dump.log
		expect_refused "a connect in progress" \
			"task $PID: fd [0-9]+: TCP connection .* in state SYN_SENT: not supported yet \(--tcp-established\)"
	fi
	kill_leftovers
	report tcp-syn-sent-refused "$t0"
}
register_case tcp-syn-sent-refused tcp_syn_sent_refused
