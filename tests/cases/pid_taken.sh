# The pid-taken case of tests/run.sh (sourced by it; uses its helpers and counters): a pid the
# restore needs is taken by someone else, at each stage of the tree (the root, a child, a
# grandchild, a thread): the restore fails saying which pid is taken and by what, leaves
# nothing of the tree behind, leaves the holder alone, and the same images restore once the
# pid is free again.

# pid_taken_one PROG WHICH: WHICH is root, child, grandchild or thread.
pid_taken_one() {
	local prog=$1 which=$2 t0 pids target holder
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/pid-taken/$which
	rm -rf "$DIR"
	mkdir -p "$DIR"
	if start_test "$prog"; then
		case $which in
		root) target=$PID ;;
		child) target=$(pgrep -P "$PID" | head -n1) ;;
		grandchild) target=$(pgrep -P "$(pgrep -P "$PID" | head -n1)" | head -n1) ;;
		thread) target=$(ls "/proc/$PID/task" | grep -vx "$PID" | head -n1) ;;
		esac
		[ -n "$target" ] || fail_step "$prog has no $which"
		pids=$(ps -e -o pid=,sid= | awk -v s="$PID" '$2 == s { print $1 }')
	fi
	if [ -z "$REASON" ] && dump "$DIR/img" && gone_after_dump; then
		# the dumped tree is gone; its pid may still be a zombie for a moment
		for ((holder = 0; holder < 40; holder++)); do
			"$BUILD/tools/hold_pid" "$target" 30 2>/dev/null && break
			sleep 0.05
		done
		if [ -d "/proc/$target" ] && [ "$(cat "/proc/$target/comm")" = pid-holder ]; then
			cryo taken restore -D "$DIR/img" -d -v4 -o restore.log
			[ $RC = 0 ] && fail_step "the restore succeeded with pid $target taken"
			grep -q "$target.*taken by .*pid-holder" "$DIR/cryo-taken.txt" ||
				fail_step "the restore does not say $target is taken by pid-holder: $(grep Error "$DIR/cryo-taken.txt" | head -c 300)"
			grep -qi "out of range" "$DIR/cryo-taken.txt" && fail_step "'out of range' for a taken pid"
			[ "$(cat "/proc/$target/comm" 2>/dev/null)" = pid-holder ] ||
				fail_step "the holder of $target was harmed"
			[ -z "$REASON" ] && nothing_left $(grep -vx "$target" <<<"$pids")
			kill -9 "$target" 2>/dev/null
			wait_gone "$target" 5
			[ -z "$REASON" ] && restore "$DIR/img" && check
		else
			fail_step "could not take pid $target for the test"
		fi
	fi
	kill_leftovers
	report "pid-taken/$which" "$t0"
}

pid_taken_case() {
	pid_taken_one counter root
	pid_taken_one tree_3level child
	pid_taken_one tree_3level grandchild
	pid_taken_one threads_basic thread
}
register_case pid-taken pid_taken_case
