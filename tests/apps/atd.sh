# Debian's atd in the foreground (-f), the daemon `at` wakes with a SIGHUP to the pid in
# /run/atd.pid. Before the checkpoint one job runs at once (so atd is asleep, waiting for the
# next one, when it is dumped) and one is queued for an hour later. After the restore `at now`
# queues a job that writes a file: the restored atd must wake on at's signal and run it within
# a few seconds (a fork, a setuid and an exec of the job's shell), and the later job must
# still be in the queue, which atrm then empties. The spool is the system's
# (/var/spool/cron/atjobs): the case is skipped when another atd runs. atd holds a POSIX lock
# on its pid file (--file-locks), which it must hold again.
app_atd() {
	app_begin atd
	app_packages at || return
	local i out later
	if pgrep -x atd >/dev/null; then
		skip "$APP" "an atd runs already (its spool is the one this case would use)"
		return
	fi
	app_start /usr/sbin/atd -f
	for ((i = 0; i < 100; i++)); do
		[ "$(cat /run/atd.pid 2>/dev/null)" = "$PID" ] && break
		sleep 0.05
	done
	[ "$(cat /run/atd.pid 2>/dev/null)" = "$PID" ] || fail_step "atd wrote no /run/atd.pid"
	# a job that ran before the checkpoint
	echo "echo ran >$DIR/before.txt" | at now 2>/dev/null
	for ((i = 0; i < 200; i++)); do
		[ -s "$DIR/before.txt" ] && break
		sleep 0.05
	done
	[ -z "$REASON" ] && [ ! -s "$DIR/before.txt" ] && fail_step "the job before the checkpoint did not run"
	echo "echo later >$DIR/later.txt" | at now + 1 hour 2>"$DIR/at.txt"
	later=$(sed -n 's/^job \([0-9]*\) .*/\1/p' "$DIR/at.txt")
	[ -z "$REASON" ] && [ -z "$later" ] && fail_step "at queued no job for later: $(cat "$DIR/at.txt")"
	sleep 0.3
	[ -z "$REASON" ] && app_checkpoint --file-locks
	if [ -z "$REASON" ]; then
		grep -q "POSIX *ADVISORY *WRITE $PID " /proc/locks ||
			fail_step "the restored atd holds no lock on its pid file: $(cat /proc/locks)"
	fi
	if [ -z "$REASON" ]; then
		echo "echo after >$DIR/after.txt" | at now 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			[ -s "$DIR/after.txt" ] && break
			sleep 0.05
		done
		[ "$(cat "$DIR/after.txt" 2>/dev/null)" = after ] ||
			fail_step "the restored atd did not run the job queued after the restore"
	fi
	if [ -z "$REASON" ]; then
		out=$(atq | awk '{ print $1 }' | tr '\n' ' ')
		[ "$out" = "$later " ] || fail_step "atq after the restore lists '$out', not job $later"
	fi
	[ -n "$later" ] && atrm "$later" 2>/dev/null
	if [ -z "$REASON" ]; then
		kill -TERM "$PID"
		app_wait_exit 10
	fi
	app_end
}
register_case app-atd app_atd
