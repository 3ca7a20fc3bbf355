# The terminal cases of tests/run.sh (sourced by it; uses its helpers and counters). A job
# is started by tests/tools/pty_run, a small terminal emulator that outlives the job (as a
# tmux server or `script` does), as the leader of a session on a pseudo-terminal; the job
# (tests/tools/tty_state) puts its terminal in raw mode with a 37x101 window.
#   tty-own   cryo restores without a terminal of its own (CI, a container runtime): the job
#             gets its own terminal back as controlling terminal, same device, settings,
#             window and foreground, and is still its session's leader.
#   tty-fg    the same with the job's foreground a child's process group: it is again.
#   tty-cryo  cryo restores on a terminal of its own (made by `script`): the job gets that
#             one, with its settings, as controlling terminal (/dev/tty opens).
#   tty-taken the job's terminal is still the controlling terminal of its session, whose
#             leader (a shell) is alive: a cryo without a terminal must not take it away
#             from that session; it fails, says why, and leaves nothing.
#   tty-ptmx  a job holding a pseudo-terminal master whose slave no task opened (a pair made
#             inside the tree, not in use yet): the dump refuses it by name and leaves the
#             job running.

# term_start MODE [LEADER...]: the job under pty_run in $DIR (started by LEADER if given,
# which then leads the session); sets PID and PTY_RUN.
term_start() {
	local i mode=$1
	shift
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	"$BUILD/tools/closefds" "$BUILD/tools/pty_run" "$DIR" "$@" "$BUILD/tools/tty_state" \
		"$DIR/out.txt" "$DIR/test.pid" "$mode" </dev/null >"$DIR/pty_run.txt" 2>&1 &
	PTY_RUN=$!
	for ((i = 0; i < 200; i++)); do
		[ -s "$DIR/test.pid" ] && break
		sleep 0.02
	done
	PID=$(cat "$DIR/test.pid" 2>/dev/null)
	[ -n "$PID" ] || fail_step "the job did not start on pty_run's terminal: $(head -c 300 "$DIR/out.txt" 2>/dev/null)" || return 1
	started_pids+=("$PID")
}

term_end() {
	kill "$PTY_RUN" 2>/dev/null
	wait "$PTY_RUN" 2>/dev/null
	kill_leftovers
}

tty_own_case() {
	local t0
	t0=$(now)
	REASON=
	DIR=$OUT/tty-own
	SHELL_JOB=--shell-job
	term_start own && dump "$DIR/img" && gone_after_dump && restore "$DIR/img" && check
	SHELL_JOB=
	term_end
	report tty-own "$t0"
}

tty_fg_case() {
	local t0
	t0=$(now)
	REASON=
	DIR=$OUT/tty-fg
	SHELL_JOB=--shell-job
	term_start fgchild && dump "$DIR/img" && gone_after_dump && restore "$DIR/img" && check
	SHELL_JOB=
	term_end
	report tty-fg "$t0"
}

tty_cryo_case() {
	local t0 job
	t0=$(now)
	REASON=
	DIR=$OUT/tty-cryo
	if ! command -v script >/dev/null; then
		skip tty-cryo "no 'script' command (util-linux)"
		return
	fi
	SHELL_JOB=--shell-job
	if term_start cryo && dump "$DIR/img" && gone_after_dump; then
		"$BUILD/tools/closefds" script -qec "$CRYO restore -D $DIR/img --shell-job -v4 \
			-o restore.log --pidfile $DIR/restored.pid; echo \$? >$DIR/restore.rc" \
			/dev/null >"$DIR/cryo-restore.txt" 2>&1 </dev/null &
		job=$!
		if ! wait_file "$DIR/restored.pid" 20; then
			fail_step "cryo restore --shell-job on a terminal did not restore the job"
		else
			check
			wait_file "$DIR/restore.rc" 10
			[ -n "$REASON" ] || [ "$(cat "$DIR/restore.rc" 2>/dev/null)" = 0 ] ||
				fail_step "cryo restore returned '$(cat "$DIR/restore.rc" 2>/dev/null)', not the job's status 0"
		fi
		kill "$job" 2>/dev/null
		wait "$job" 2>/dev/null
	fi
	SHELL_JOB=
	term_end
	report tty-cryo "$t0"
}

tty_taken_case() {
	local t0
	t0=$(now)
	REASON=
	DIR=$OUT/tty-taken
	SHELL_JOB=--shell-job
	if term_start own sh -c '"$@"; sleep 1000' sh && dump "$DIR/img" && gone_after_dump; then
		cryo restore-taken restore -D "$DIR/img" -d -v4 -o restore.log --shell-job
		if [ $RC = 0 ]; then
			fail_step "the job was restored on a terminal that another session holds"
		elif ! grep -q "is the controlling terminal of another session" \
			"$DIR/cryo-restore-taken.txt"; then
			fail_step "the failure does not say why: $(head -c 300 "$DIR/cryo-restore-taken.txt")"
		elif alive "$PID"; then
			fail_step "the failed restore left process $PID"
		fi
	fi
	SHELL_JOB=
	term_end
	report tty-taken "$t0"
}

tty_ptmx_case() {
	local t0
	t0=$(now)
	REASON=
	DIR=$OUT/tty-ptmx
	if term_start ptmx; then
		cryo dump-refused dump -t "$PID" -D "$DIR/img" -v4 -o dump.log --shell-job
		if [ $RC = 0 ]; then
			fail_step "a job holding a pseudo-terminal master was dumped"
		elif ! grep -Eq "fd 6 is the master of the pseudo-terminal /dev/pts/[0-9]+, whose slave no task of the tree holds" "$DIR/cryo-dump-refused.txt"; then
			fail_step "the refusal does not name the master: $(head -c 300 "$DIR/cryo-dump-refused.txt")"
		elif ! alive "$PID"; then
			fail_step "the refused dump did not leave the job running"
		fi
	fi
	term_end
	report tty-ptmx "$t0"
}

register_case tty-own tty_own_case
register_case tty-fg tty_fg_case
register_case tty-cryo tty_cryo_case
register_case tty-taken tty_taken_case
register_case tty-ptmx tty_ptmx_case
