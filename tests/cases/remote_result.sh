# The remote-result case of tests/run.sh (sourced by it; uses its helpers and counters): a
# single remote call made during a dump returns the call's own result. (The dead man's
# switch ends each call with a tgkill, whose result once overwrote the call's: every such
# call read 0.) Checked with the overrun count of a POSIX timer (tests/progs/timer_overrun.c),
# which the dump asks the task with one call: the image must hold what the task saw.

remote_result_case() {
	local want got
	if start_test timer_overrun; then
		want=$(sed -n 's/^zt: overrun \([0-9]*\)$/\1/p' "$DIR/out.txt")
		dump "$DIR/img" -R
		got=$("$CRYO" show "$DIR/img/core-$PID.img" 2>/dev/null | sed -n 's/.*"overrun": \([0-9]*\).*/\1/p' | head -n1)
		[ -n "$want" ] || fail_step "the test did not say its overrun count"
		[ -z "$REASON" ] && [ "$got" != "$want" ] &&
			fail_step "the dump saved overrun '$got', the task had $want"
		[ -z "$REASON" ] && check
	fi
}
remote_result() { run_sub_case remote-result remote_result_case; }
register_case remote-result remote_result
