# The crash cases of a restore (sourced by tests/run.sh; uses its helpers and counters): a
# restore that dies or fails at any point leaves nothing behind, and the same images restore
# afterwards.
#
#  crash-restore  cryo restore SIGKILLs itself at fault point N (CRYO_FAULT=kill:N), for a
#                 sample of the points of restores of trees with threads and session helpers;
#  fail-restore   the N-th operation that can fail fails (CRYO_FAULT=fail:N), every N.
# After each: within 2 s no process of the dumped tree exists; at the end a plain restore
# passes the program's own check. ZT_CRASH_ALL=1 walks every point of crash-restore.

CRASH_RESTORE_PROGS="threads_basic tree_3level session_dead_leader"

# The pids of the tree of $PID (its session: the tests are session leaders).
tree_pids() {
	ps -e -o pid=,sid= | awk -v s="$1" '$2 == s { print $1 }'
}

# nothing_left PIDS...: none of them exists within 2 s
nothing_left() {
	local p left end=$(($(date +%s%N) + 2000000000))
	while :; do
		left=
		for p in "$@"; do
			[ -e "/proc/$p" ] && left="$left $p"
		done
		[ -z "$left" ] && return 0
		[ "$(date +%s%N)" -ge "$end" ] && break
		sleep 0.05
	done
	fail_step "left behind:$left ($(for p in $left; do cat /proc/$p/comm 2>/dev/null; done | tr '\n' ' '))"
}

# crash_restore_walk PROG MODE(kill|fail)
crash_restore_walk() {
	local prog=$1 mode=$2 t0 total n pids
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/crash-restore/$prog/$mode
	rm -rf "$DIR"
	mkdir -p "$DIR"
	if ! start_test "$prog"; then
		report "$mode-restore/$prog" "$t0"
		return
	fi
	pids=$(tree_pids "$PID")
	dump "$DIR/img" && gone_after_dump || { report "$mode-restore/$prog" "$t0"; return; }
	nothing_left $pids || { report "$mode-restore/$prog" "$t0"; return; }
	# how many points a restore passes; that restore is checked too
	CRYO_FAULT=count cryo count restore -D "$DIR/img" -d -v4 -o count.log
	total=$(sed -n 's/^cryo: fault points passed: \([0-9]*\).*/\1/p' "$DIR/cryo-count.txt")
	local failable
	failable=$(sed -n 's/^cryo: fault points passed: .*(\([0-9]*\) of them can fail)/\1/p' \
		"$DIR/cryo-count.txt")
	[ "$RC" = 0 ] || fail_step "the plain restore failed"
	[ -z "$REASON" ] && check
	kill_leftovers
	nothing_left $pids
	total=${total:-0}
	[ -z "$REASON" ] && [ "$total" -lt 10 ] && fail_step "a restore passes only $total points"
	local points
	if [ $mode = fail ]; then
		points=$(seq 1 "${failable:-$total}")
	elif [ "${ZT_CRASH_ALL:-0}" = 1 ]; then
		points=$(seq 1 "$total")
	else
		points=$(crash_sample "$total")
	fi
	for n in $points; do
		[ -n "$REASON" ] && break
		{ CRYO_FAULT=$mode:$n cryo "$mode" restore -D "$DIR/img" -d -v4 \
			-o "restore-$n.log"; } 2>/dev/null
		if [ $RC = 0 ]; then
			# done before point n (fail mode: points that cannot fail are not counted)
			check
			kill_leftovers
			nothing_left $pids
			[ $mode = fail ] && break
			continue
		fi
		if [ $mode = kill ] && [ $RC != 137 ]; then
			fail_step "kill:$n: cryo exited $RC instead of dying"
		elif [ $mode = fail ] && [ $RC -ge 128 ]; then
			fail_step "fail:$n: cryo crashed ($RC)"
		elif [ $mode = fail ] && ! grep -q "failed; nothing was \(left behind\|created\)" "$DIR/cryo-fail.txt"; then
			fail_step "fail:$n: no message: $(tail -n1 "$DIR/cryo-fail.txt")"
		fi
		[ -z "$REASON" ] && nothing_left $pids
		[ -n "$REASON" ] && REASON="point $n of $total: $REASON"
		kill_leftovers
	done
	# the images are intact: one more restore passes
	if [ -z "$REASON" ]; then
		cryo final restore -D "$DIR/img" -d -v4 -o final.log
		[ $RC = 0 ] || fail_step "the restore after the crashes failed"
		[ -z "$REASON" ] && check
	fi
	kill_leftovers
	report "$mode-restore/$prog" "$t0"
}

crash_restore_case() {
	local prog
	for prog in $CRASH_RESTORE_PROGS; do
		crash_restore_walk "$prog" kill
	done
}

fail_restore_case() {
	local prog
	for prog in $CRASH_RESTORE_PROGS; do
		crash_restore_walk "$prog" fail
	done
}

register_case crash-restore crash_restore_case
register_case fail-restore fail_restore_case
