# The crash cases of tests/run.sh (sourced by it; uses its helpers and counters): a dump that
# dies, or fails, at any instant must leave its target running correctly.
#
#  crash-dump         cryo dump SIGKILLs itself at fault point N (CRYO_FAULT=kill:N, see
#                     src/core/fault.h), for N over the points of a dump of each program,
#                     with and without -R. After each, the target must still run, be traced by
#                     nobody, and pass its own check.
#  crash-dump-random  cryo dump is SIGKILLed from outside after a random delay.
#  fail-dump          the N-th operation that can fail fails (CRYO_FAULT=fail:N): cryo exits
#                     non-zero, the target runs on and passes its check.
#
# The programs: ZT_CRASH_PROGS, or the seven of threads, trees and stops and three that hold
# sockets and pipes with data queued (the socket guard's windows, the pipes' tee).
# By default N is sampled (ZT_CRASH_SAMPLE points per program and mode, evenly spread from a
# random start); ZT_CRASH_ALL=1 walks every point (make crash-test). ZT_CRASH_RANDOM sets the
# number of random kills per program.

CRASH_PROGS=${ZT_CRASH_PROGS:-"threads_basic tree_3level job_stopped regs_fpu sigframe zombie thread_parent sk_opts_kept unix_pair pipes"}
CRASH_SAMPLE=${ZT_CRASH_SAMPLE:-10}
CRASH_RANDOM=${ZT_CRASH_RANDOM:-6}

tracer_of() {
	awk '/^TracerPid:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# crash_points PROG [ARGS]: how many fault points a dump of PROG passes (0 on failure).
crash_points() {
	local prog=$1 n
	shift
	DIR=$OUT/crash/$prog/count
	rm -rf "$DIR"
	mkdir -p "$DIR"
	start_test "$prog" || { echo 0; return; }
	CRYO_FAULT=count cryo count dump -t "$PID" -D "$DIR" -R "$@"
	n=$(sed -n 's/^cryo: fault points passed: \([0-9]*\).*/\1/p' "$DIR/cryo-count.txt")
	kill -TERM "$PID" 2>/dev/null
	kill_leftovers
	echo "${n:-0}"
}

# The points to try: all, or a sample spread evenly from a random start.
crash_sample() {
	local total=$1 step i
	if [ "${ZT_CRASH_ALL:-0}" = 1 ] || [ "$total" -le "$CRASH_SAMPLE" ]; then
		seq 1 "$total"
		return
	fi
	step=$((total / CRASH_SAMPLE))
	for ((i = 1 + RANDOM % step; i <= total; i += step)); do
		echo "$i"
	done
}

# Threads of the tree (its session) still traced: after cryo dies the kernel lets them go one
# by one, and each needs the CPU to get back where it was (a job-stopped one to its stop).
traced_in_tree() {
	local p t
	for p in $(pgrep -s "$PID"); do
		for t in /proc/"$p"/task/*; do
			[ "$(awk '/^TracerPid:/ { print $2 }' "$t/status" 2>/dev/null)" = 0 ] ||
				[ ! -e "$t/status" ] || return 0
		done
	done
	return 1
}

# After cryo died or failed: the target runs, untraced, and passes its check.
target_unharmed() {
	local what=$1 tracer p
	for ((p = 0; p < 40; p++)); do
		tracer=$(tracer_of "$PID")
		[ "$tracer" = 0 ] && ! traced_in_tree && break
		sleep 0.05
	done
	# let the released threads get where they go (a stopped one back into its stop)
	sleep 0.1
	alive "$PID" || fail_step "$what: the target died ($(death_of "$PID"))" || return 1
	[ "$tracer" = 0 ] || fail_step "$what: the target is still traced by $tracer" || return 1
	check || { REASON="$what: $REASON"; return 1; }
}

crash_dump_case() {
	local prog mode n total t0 args
	for prog in $CRASH_PROGS; do
		for mode in leave-running kill; do
			t0=$(now)
			REASON=
			SHELL_JOB=
			args=()
			[ $mode = leave-running ] && args=(-R)
			total=$(crash_points "$prog" "${args[@]}")
			DIR=$OUT/crash/$prog/$mode
			rm -rf "$DIR"
			mkdir -p "$DIR"
			if [ "$total" -lt 10 ]; then
				fail_step "a dump of $prog passes only $total fault points"
			fi
			for n in $(crash_sample "$total"); do
				[ -n "$REASON" ] && break
				rm -rf "$DIR/img"
				mkdir -p "$DIR/img"
				start_test "$prog" || break
				# (braces: no "Killed" line from bash for the job that died)
				{ CRYO_FAULT=kill:$n cryo kill dump -t "$PID" -D "$DIR/img" -v4 \
					-o dump.log "${args[@]}"; } 2>/dev/null
				if [ $RC = 0 ] && [ $mode = kill ]; then
					# the dump was done before point n: the target is gone, as it must
					wait_gone "$PID" 5 ||
						fail_step "point $n: dump exited 0, target still there"
				elif [ $RC != 137 ] && [ $RC != 0 ]; then
					fail_step "point $n: cryo exited $RC instead of dying"
				else
					target_unharmed "killed at point $n of $total"
				fi
				kill_leftovers
			done
			report "crash-dump/$prog/$mode" "$t0"
		done
	done
}

crash_dump_random_case() {
	local prog i t0 delay cpid
	for prog in $CRASH_PROGS; do
		t0=$(now)
		REASON=
		SHELL_JOB=
		DIR=$OUT/crash-random/$prog
		rm -rf "$DIR"
		mkdir -p "$DIR"
		for ((i = 0; i < CRASH_RANDOM; i++)); do
			rm -rf "$DIR/img"
			mkdir -p "$DIR/img"
			start_test "$prog" || break
			# a dump of these takes 2-20 ms: a delay of 0-25 ms lands before, in it, after
			delay=$(printf '0.%03d' $((RANDOM % 25)))
			"$BUILD/tools/closefds" "$CRYO" dump -t "$PID" -D "$DIR/img" -R -v4 \
				-o dump.log >"$DIR/cryo.txt" 2>&1 </dev/null &
			cpid=$!
			sleep "$delay"
			kill -9 "$cpid" 2>/dev/null
			wait "$cpid" 2>/dev/null
			target_unharmed "dump killed after ${delay}s" || break
			kill_leftovers
		done
		kill_leftovers
		report "crash-dump-random/$prog" "$t0"
	done
}

fail_dump_case() {
	local prog n total t0
	for prog in $CRASH_PROGS; do
		t0=$(now)
		REASON=
		SHELL_JOB=
		DIR=$OUT/fail/$prog
		rm -rf "$DIR"
		mkdir -p "$DIR"
		start_test "$prog" || { report "fail-dump/$prog" "$t0"; continue; }
		CRYO_FAULT=count cryo count dump -t "$PID" -D "$DIR" -R -v4 -o count.log
		kill -TERM "$PID" 2>/dev/null
		kill_leftovers
		# the points that can fail are logged as such only when they fail: walk until
		# the dump succeeds
		for ((n = 1; ; n++)); do
			[ -n "$REASON" ] && break
			rm -rf "$DIR/img"
			mkdir -p "$DIR/img"
			start_test "$prog" || break
			CRYO_FAULT=fail:$n cryo fail dump -t "$PID" -D "$DIR/img" -R -v4 -o dump.log
			if [ $RC = 0 ]; then
				check
				kill_leftovers
				break
			fi
			if ! grep -q "fault point $n (" "$DIR/img/dump.log"; then
				fail_step "fail:$n: cryo exited $RC without reaching the point"
			elif [ $RC -ge 128 ]; then
				fail_step "fail:$n: cryo crashed ($RC)"
			elif [ -e "$DIR/img/inventory.img" ]; then
				fail_step "fail:$n: a failed dump left inventory.img"
			else
				target_unharmed "failure at point $n"
			fi
			kill_leftovers
			[ $n -gt 400 ] && fail_step "more than 400 points that fail" && break
		done
		report "fail-dump/$prog" "$t0"
	done
}

register_case crash-dump crash_dump_case
register_case crash-dump-random crash_dump_random_case
register_case fail-dump fail_dump_case

# Two dumps of one target at once: the one that comes second is refused, naming the tracer;
# the target passes its check.
dump_concurrent_case() {
	local t0 i rc1 rc2 c1
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/dump-concurrent
	rm -rf "$DIR"
	mkdir -p "$DIR"
	for ((i = 0; i < 5; i++)); do
		rm -rf "$DIR/a" "$DIR/b"
		mkdir -p "$DIR/a" "$DIR/b"
		start_test threads_basic || break
		"$BUILD/tools/closefds" "$CRYO" dump -t "$PID" -D "$DIR/a" -R -v4 -o dump.log \
			>"$DIR/cryo-a.txt" 2>&1 </dev/null &
		c1=$!
		"$BUILD/tools/closefds" "$CRYO" dump -t "$PID" -D "$DIR/b" -R -v4 -o dump.log \
			>"$DIR/cryo-b.txt" 2>&1 </dev/null
		rc2=$?
		wait "$c1"
		rc1=$?
		if [ $rc1 -ge 128 ] || [ $rc2 -ge 128 ]; then
			fail_step "a dump crashed ($rc1, $rc2)"
		elif [ $rc1 != 0 ] && [ $rc2 != 0 ]; then
			fail_step "both dumps failed: $(tail -n1 "$DIR/cryo-a.txt")"
		elif [ $rc1 != 0 ] && ! grep -q "traced by process\|being traced" "$DIR/cryo-a.txt"; then
			fail_step "the refused dump does not say why: $(tail -n2 "$DIR/cryo-a.txt")"
		elif [ $rc2 != 0 ] && ! grep -q "traced by process\|being traced" "$DIR/cryo-b.txt"; then
			fail_step "the refused dump does not say why: $(tail -n2 "$DIR/cryo-b.txt")"
		fi
		[ -n "$REASON" ] && break
		target_unharmed "two dumps at once" || break
		kill_leftovers
	done
	kill_leftovers
	report dump-concurrent "$t0"
}

# A process of the tree killed by someone else while the dump runs: the dump fails (or
# succeeds, if the kill came before the freeze or after the images), never crashes, and
# leaves the rest of the tree untraced and running.
dump_target_killed_case() {
	local t0 i delay cpid rc victim p st
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/dump-target-killed
	rm -rf "$DIR"
	mkdir -p "$DIR"
	for ((i = 0; i < 10; i++)); do
		rm -rf "$DIR/img"
		mkdir -p "$DIR/img"
		start_test tree_3level || break
		victim=$(pgrep -P "$PID" | head -n1)
		[ -n "$victim" ] || { fail_step "tree_3level has no child"; break; }
		delay=$(printf '0.%03d' $((RANDOM % 15)))
		"$BUILD/tools/closefds" "$CRYO" dump -t "$PID" -D "$DIR/img" -R -v4 -o dump.log \
			>"$DIR/cryo.txt" 2>&1 </dev/null &
		cpid=$!
		sleep "$delay"
		kill -9 "$victim"
		wait "$cpid"
		rc=$?
		[ $rc -ge 128 ] && { fail_step "cryo crashed ($rc) when $victim was killed"; break; }
		for p in $(pgrep -s "$PID"); do
			st=$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$p/stat" 2>/dev/null)
			[ "$(tracer_of "$p")" = 0 ] || [ -z "$st" ] ||
				fail_step "process $p still traced after the dump"
			[ "$st" = t ] && fail_step "process $p left in a tracing stop"
		done
		alive "$PID" || fail_step "the root $PID died"
		[ -n "$REASON" ] && break
		kill_leftovers
	done
	kill_leftovers
	report dump-target-killed "$t0"
}

register_case dump-concurrent dump_concurrent_case
register_case dump-target-killed dump_target_killed_case

# --freeze-cgroup, cryo killed at each point of its freeze: the cgroup must be thawed again
# (by cryo's watchdog) and the tree pass its check.
crash_freeze_cgroup_case() {
	local t0 cg p n state base
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/crash-freeze-cgroup
	rm -rf "$DIR"
	mkdir -p "$DIR"
	if [ -d /sys/fs/cgroup/freezer ]; then
		cg=/sys/fs/cgroup/freezer/cryo-crash-$$
		state=freezer.state
	else
		skip crash-freeze-cgroup "no cgroup v1 freezer on this machine"
		return
	fi
	mkdir -p "$cg" || { skip crash-freeze-cgroup "cannot create cgroup $cg"; return; }
	for n in 1 2 3 4 5 6; do
		rm -rf "$DIR/img"
		mkdir -p "$DIR/img"
		start_test tree_3level || break
		for p in $(ps -e -o pid=,sid= | awk -v s="$PID" '$2 == s { print $1 }'); do
			echo "$p" >"$cg/cgroup.procs" 2>/dev/null
		done
		{ CRYO_FAULT=kill:$n cryo kill dump -t "$PID" -D "$DIR/img" -R -v4 -o dump.log \
			--freeze-cgroup "$cg"; } 2>/dev/null
		for ((p = 0; p < 40; p++)); do
			grep -q THAWED "$cg/$state" && break
			sleep 0.05
		done
		grep -q THAWED "$cg/$state" ||
			fail_step "killed at point $n: cgroup left $(cat "$cg/$state")"
		[ -z "$REASON" ] && target_unharmed "killed at point $n of a --freeze-cgroup dump"
		kill_leftovers
		[ -n "$REASON" ] && break
	done
	kill_leftovers
	for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	sleep 0.1
	rmdir "$cg" 2>/dev/null
	report crash-freeze-cgroup "$t0"
}
register_case crash-freeze-cgroup crash_freeze_cgroup_case
