# The outside-session case of tests/run.sh (sourced by it; uses its helpers and counters): a
# process whose session and process group are led from outside cryo's pid namespace (the
# kernel shows them as 0), as under a container's or a CI runner's shell. Without --shell-job
# the dump refuses, naming the process, and leaves it running; with it, the job is dumped and
# restored into the restoring cryo's session and passes its own check (tests/progs/pgid_member.c).
#
# Everything runs inside a new pid namespace whose first process, a shell, was not made a
# session leader: to the processes in it, that session has no leader they can see.

outside_session_inner() {
	local d=$1 build=$2 cryo=$3 pid rc
	cd "$d" || return 1
	"$build/tools/closefds" "$build/pgid_member" --pidfile "$d/test.pid" --outfile "$d/out.txt" </dev/null \
		>"$d/start.txt" 2>&1 || { echo "setup failed"; return 1; }
	pid=$(cat "$d/test.pid")
	echo "pid $pid sid $(ps -o sid= -p "$pid" | tr -d " ")"
	mkdir -p "$d/refused" "$d/img"
	"$cryo" dump -t "$pid" -D "$d/refused" -v4 -o dump.log >"$d/cryo-refused.txt" 2>&1
	rc=$?
	[ $rc = 0 ] && echo "FAIL: the dump without --shell-job was not refused"
	grep -q "process $pid: its session's leader is outside cryo's pid namespace" \
		"$d/cryo-refused.txt" || echo "FAIL: the refusal does not say why: $(tail -n1 "$d/cryo-refused.txt")"
	kill -0 "$pid" 2>/dev/null || echo "FAIL: the refused dump killed the target"
	[ -e "$d/refused/inventory.img" ] && echo "FAIL: the refused dump wrote images"
	"$cryo" dump -t "$pid" -D "$d/img" --shell-job -v4 -o dump.log >"$d/cryo-dump.txt" 2>&1 ||
		echo "FAIL: the dump with --shell-job failed"
	"$cryo" restore -D "$d/img" --shell-job -d -v4 -o restore.log >"$d/cryo-restore.txt" 2>&1 ||
		echo "FAIL: the restore with --shell-job failed"
	kill -TERM "$pid" 2>/dev/null || echo "FAIL: no process $pid after restore"
	for _ in $(seq 100); do
		grep -q -e '^PASS' -e '^FAIL' "$d/out.txt" 2>/dev/null && break
		sleep 0.1
	done
	grep -qx PASS "$d/out.txt" || echo "FAIL: the restored job's check: $(grep -m1 FAIL "$d/out.txt")"
	kill -9 "$pid" 2>/dev/null
	echo done
}

outside_session_case() {
	local t0 log
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/outside-session
	rm -rf "$DIR"
	mkdir -p "$DIR"
	log=$DIR/inner.txt
	if ! unshare --pid --fork --mount-proc true 2>/dev/null; then
		skip outside-session "cannot make a pid namespace here"
		return
	fi
	# the inner shell is pid 1 of the namespace, and no session leader
	timeout -k 5 60 unshare --pid --fork --mount-proc bash -c \
		"$(declare -f outside_session_inner); outside_session_inner '$DIR' '$BUILD' '$CRYO'" \
		>"$log" 2>&1 </dev/null
	grep -q '^done' "$log" || fail_step "the run in a pid namespace did not finish: $(tail -n2 "$log")"
	grep -q '^FAIL' "$log" && fail_step "$(grep -m1 '^FAIL' "$log")"
	grep -q "sid 0$" "$log" || fail_step "the target's session was visible: $(head -n1 "$log")"
	report outside-session "$t0"
}
register_case outside-session outside_session_case
