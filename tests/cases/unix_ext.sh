# The unix-ext case of tests/run.sh (sourced by it; uses its helpers): a datagram socket
# connected to a named socket outside the tree (tests/progs/unix_ext.c, a service left to the
# reaper). Dumped without --ext-unix-sk the dump is refused naming the outside process and the
# target runs on; dumped with it, the restored socket is connected to the service's name again
# and the service answers it.
unix_ext_case() {
	local t0
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/unix-ext
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if start_test unix_ext; then
		cryo refused dump -t "$PID" -D "$DIR/img" -v4 -o dump.log
		[ $RC = 0 ] && fail_step "dumped without --ext-unix-sk"
		grep -q "is connected to socket:\[[0-9]*\] of process [0-9]* (unix_ext, fd [0-9]*) outside the tree" \
			"$DIR/cryo-refused.txt" ||
			fail_step "the refusal does not name the service: $(grep Error "$DIR/cryo-refused.txt" | head -c 300)"
		alive "$PID" || fail_step "$PID gone after the refused dump"
		[ -z "$REASON" ] && dump "$DIR/img" --ext-unix-sk && gone_after_dump &&
			restore "$DIR/img" && check
	fi
	kill_leftovers
	report unix-ext "$t0"
}

register_case unix-ext unix_ext_case
