# shellcheck shell=bash
# unix-oob-refused: urgent data (MSG_OOB) in a unix stream socket's queue, a byte pending (sent
# by the reader's peer or by another process, read inline or apart) or the mark of one read
# before (SIOCATMARK, a read that stops where it was), makes the dump fail naming the task, the
# fd and urgent data, and the program runs on and passes its check: the stops, the marks, the
# urgent byte and every byte in order (tests/progs/unix_oob_refused.c).

unix_oob_refused_one() {
	local kind=$1 t0 fd
	t0=$(now)
	REASON=
	DIR=$OUT/unix-oob-refused/$kind
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if ZT_OOB_KIND=$kind start_test unix_oob_refused; then
		fd=$(cat "$DIR/work/fd")
		cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o dump.log
		expect_refused "urgent data ($kind)" "task $PID: fd $fd: unix socket .*urgent data \(MSG_OOB\)"
	fi
	kill_leftovers
	report "unix-oob-refused/$kind" "$t0"
}

unix_oob_refused() {
	local kind
	for kind in pending other inline mark stop; do
		unix_oob_refused_one "$kind"
	done
}
register_case unix-oob-refused unix_oob_refused
