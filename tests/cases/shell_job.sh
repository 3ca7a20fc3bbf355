# The --shell-job case of tests/run.sh (sourced by it; uses its helpers and counters).
#
# A job started from a terminal is dumped with --shell-job and restored by a cryo that itself
# runs on a (different) terminal, without -d: the restored job must read and write its new
# terminal, have it as controlling terminal, and cryo must return the job's exit status.
# Without --shell-job the dump must refuse, naming the terminal, and leave the job running.
# `script` (util-linux) gives each side a pseudo-terminal; CI has none of its own.

# wait_file FILE SECONDS
wait_file() {
	local end=$(($(date +%s) + $2))
	until [ -s "$1" ]; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.05
	done
}

shell_job_case() {
	local t0 job rpid
	t0=$(now)
	REASON=
	DIR=$OUT/shell-job
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if ! command -v script >/dev/null; then
		skip shell-job "no 'script' command (util-linux)"
		return
	fi
	# sh is the session leader and terminal owner, the job its foreground child
	"$BUILD/tools/closefds" script -qec \
		"sh -c '$BUILD/tools/tty_job $DIR/out.txt $DIR/test.pid; true'" \
		/dev/null >/dev/null 2>&1 </dev/null &
	if ! wait_file "$DIR/test.pid" 10; then
		fail_step "the job did not start on a terminal"
		report shell-job "$t0"
		return
	fi
	PID=$(cat "$DIR/test.pid")
	started_pids+=("$PID")

	cryo dump-refused dump -t "$PID" -D "$DIR/img" -v4 -o dump-refused.log
	if [ $RC = 0 ]; then
		fail_step "dump without --shell-job of a job on a terminal succeeded"
	elif ! grep -q -- '--shell-job' "$DIR/cryo-dump-refused.txt"; then
		fail_step "the refusal does not mention --shell-job"
	elif ! alive "$PID"; then
		fail_step "the refused dump did not leave the job running"
	else
		rm -f "$DIR/img/dump-refused.log"
		cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o dump.log --shell-job
		[ $RC = 0 ] || fail_step "cryo dump --shell-job exited $RC"
	fi
	if [ -z "$REASON" ]; then
		gone_after_dump
	fi
	if [ -z "$REASON" ]; then
		"$BUILD/tools/closefds" script -qec "$CRYO restore -D $DIR/img --shell-job -v4 \
			-o restore.log --pidfile $DIR/restored.pid; echo \$? >$DIR/restore.rc" \
			/dev/null >"$DIR/cryo-restore.txt" 2>&1 </dev/null &
		job=$!
		if ! wait_file "$DIR/restored.pid" 20; then
			fail_step "cryo restore --shell-job did not restore the job"
		else
			rpid=$(cat "$DIR/restored.pid")
			[ "$rpid" = "$PID" ] || fail_step "restored pid $rpid is not $PID"
			case $(readlink "/proc/$PID/fd/0") in
			/dev/pts/*) ;;
			*) fail_step "the restored job's stdin is $(readlink "/proc/$PID/fd/0")" ;;
			esac
			[ -z "$REASON" ] && check
			wait_file "$DIR/restore.rc" 10
			[ "$(cat "$DIR/restore.rc" 2>/dev/null)" = 0 ] ||
				fail_step "cryo restore returned '$(cat "$DIR/restore.rc" 2>/dev/null)', not the job's status 0"
		fi
		kill "$job" 2>/dev/null
		wait "$job" 2>/dev/null
	fi
	kill_leftovers
	report shell-job "$t0"
}
register_case shell-job shell_job_case
