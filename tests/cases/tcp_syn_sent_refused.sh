# shellcheck shell=bash
# tcp-syn-sent-refused: a TCP connect in progress (SYN_SENT), dumped without
# --tcp-established, makes the dump fail naming the task, the fd and the state, and the
# program runs on: its connect completes once the peer accepts (tests/progs/tcp_syn_sent.c).

tcp_syn_sent_refused() {
	local t0
	t0=$(now)
	REASON=
	DIR=$OUT/tcp-syn-sent-refused
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if start_test tcp_syn_sent; then
		cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o dump.log
		expect_refused "a connect in progress" \
			"task $PID: fd [0-9]+: TCP connection .* in state SYN_SENT: not supported yet \(--tcp-established\)"
	fi
	kill_leftovers
	report tcp-syn-sent-refused "$t0"
}
register_case tcp-syn-sent-refused tcp_syn_sent_refused
