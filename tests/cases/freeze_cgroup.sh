# The --freeze-cgroup case of tests/run.sh (sourced by it; uses its helpers and counters).
#
# A tree with threads (tree_3level) is put in a cgroup of its own; the dump freezes it with
# the cgroup's freezer, seizes every thread while none runs, and the restored tree must pass
# its own check. The cgroup v1 freezer is used where it is mounted, else cgroup v2.

freeze_cgroup_case() {
	local t0 cg p
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/freeze-cgroup
	rm -rf "$DIR"
	mkdir -p "$DIR"
	if [ -d /sys/fs/cgroup/freezer ]; then
		cg=/sys/fs/cgroup/freezer/cryo-test-$$
	elif [ -e /sys/fs/cgroup/cgroup.freeze ] || [ -e /sys/fs/cgroup/unified ]; then
		cg=$( [ -d /sys/fs/cgroup/unified ] && echo /sys/fs/cgroup/unified || echo /sys/fs/cgroup)/cryo-test-$$
	else
		skip freeze-cgroup "no cgroup freezer on this machine"
		return
	fi
	if ! mkdir -p "$cg"; then
		skip freeze-cgroup "cannot create cgroup $cg"
		return
	fi
	if start_test tree_3level; then
		# the whole tree: every process of the test's session
		for p in $(ps -e -o pid=,sid= | awk -v s="$PID" '$2 == s { print $1 }'); do
			echo "$p" >"$cg/cgroup.procs" 2>/dev/null
		done
		grep -qx "$PID" "$cg/cgroup.procs" || fail_step "cannot move the test into $cg"
		[ -z "$REASON" ] && dump "$DIR/img" --freeze-cgroup "$cg" && gone_after_dump &&
			restore "$DIR/img" && check
		[ -z "$REASON" ] && ! grep -q 'cgroup .* frozen' "$DIR/img/dump.log" &&
			fail_step "the dump log does not show the cgroup frozen"
	fi
	kill_leftovers
	for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	sleep 0.1
	rmdir "$cg" 2>/dev/null
	report freeze-cgroup "$t0"
}
register_case freeze-cgroup freeze_cgroup_case
