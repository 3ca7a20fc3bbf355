# The cgroups case of tests/run.sh (sourced by it; uses its helpers and counters): a tree dumped
# from a cgroup of its own is restored into cryo's (no --manage-cgroups yet), and the restore
# says so, naming the process and both cgroups; nothing changes silently.

cgroup_warning_case() {
	local t0 cg rel p
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/cgroup-warning
	rm -rf "$DIR"
	mkdir -p "$DIR"
	if [ -d /sys/fs/cgroup/freezer ]; then
		cg=/sys/fs/cgroup/freezer/cryo-cg-$$
	elif [ -d /sys/fs/cgroup/unified ]; then
		cg=/sys/fs/cgroup/unified/cryo-cg-$$
	else
		skip cgroup-warning "no cgroup hierarchy to make a group in"
		return
	fi
	mkdir -p "$cg" || { skip cgroup-warning "cannot create $cg"; return; }
	rel=${cg#/sys/fs/cgroup/*/}
	if start_test counter; then
		echo "$PID" >"$cg/cgroup.procs" || fail_step "cannot move $PID into $cg"
		[ -z "$REASON" ] && dump "$DIR/img" && gone_after_dump && restore "$DIR/img"
		if [ -z "$REASON" ]; then
			grep -q "process $PID is not in the cgroups .*/$rel -> /.*manage-cgroups" \
				"$DIR/img/restore.log" ||
				fail_step "the restore does not say $PID left cgroup $rel: $(grep -i cgroup "$DIR/img/restore.log" | head -c 300)"
			check
		fi
	fi
	kill_leftovers
	for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	sleep 0.1
	rmdir "$cg" 2>/dev/null
	report cgroup-warning "$t0"
}
register_case cgroup-warning cgroup_warning_case
