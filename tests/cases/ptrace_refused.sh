# shellcheck shell=bash
# ptrace-refused: a tree whose threads trace processes outside it (tests/progs/
# ptrace_outside.c: strace -p or gdb attached to a running program, in small): one tracee of
# the main thread, one of a second thread. The ptrace links cannot be restored (the restored
# tracer would trace nothing, and killing it at the dump lets its tracees go), so the dump,
# with -R and without, fails naming the tracer's task and thread and each tracee, leaves no
# inventory.img, and the test still traces both, from the same threads.

ptrace_refused_one() {
	local mode=$1 t0 a b th
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/ptrace-refused/$mode
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if start_test ptrace_outside; then
		read -r a b th < <(sed -n 's/^zt: tracees \([0-9]*\) \([0-9]*\), thread \([0-9]*\)$/\1 \2 \3/p' "$DIR/out.txt")
		[ -n "$th" ] || fail_step "ptrace_outside did not say its tracees"
		# shellcheck disable=SC2046 # -R or nothing
		[ -z "$REASON" ] && cryo dump dump -t "$PID" -D "$DIR/img" \
			$([ "$mode" = leave-running ] && echo -R) -v4 -o dump.log
		[ -z "$REASON" ] && expect_refused "a tracer of processes outside the tree" \
			"task $PID \(ptrace_outside\): thread $PID traces thread $a of process $a \([^)]*\), which is outside the tree: a ptrace link cannot be restored" \
			"task $PID \(ptrace_outside\): thread $th traces thread $b of process $b "
		[ -n "$a" ] && kill -9 "$a" "$b" 2>/dev/null
	fi
	kill_leftovers
	report "ptrace-refused/$mode" "$t0"
}

ptrace_refused() {
	ptrace_refused_one leave-running
	ptrace_refused_one kill
}
register_case ptrace-refused ptrace_refused
