# Real programs from Debian (tests/apps/*.sh), sourced by tests/run.sh: each is started as a
# user would start it, checkpointed in the middle of its work, restored, and then used or
# checked by a real client (a second sqlite3, the result compared with a run that was never
# interrupted...). Each tests/apps/NAME.sh defines app_NAME and registers `app-NAME`; the
# Debian packages it needs are installed first (scripts/deps.sh). Helpers for them:

# app_packages PKG...: install what an app needs; skip (return 1) when that cannot be done.
app_packages() {
	if ! bash "$ROOT/scripts/deps.sh" "$@" >"$DIR/deps.txt" 2>&1; then
		skip "$APP" "cannot install $* ($(tail -n1 "$DIR/deps.txt"))"
		return 1
	fi
}

# app_begin NAME: a fresh directory $DIR for app NAME.
app_begin() {
	APP=app-$1
	T0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/apps/$1
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
}

# app_start CMD...: run CMD in its own session, in $DIR, stdin /dev/null, output in
# $DIR/stdout and $DIR/stderr, no inherited descriptor; sets PID (the session leader).
app_start() {
	rm -f "$DIR/app.pid"
	(cd "$DIR" && exec "$BUILD/tools/closefds" setsid bash -c 'echo $$ >app.pid; exec "$@"' \
		app "$@") </dev/null >"$DIR/stdout" 2>"$DIR/stderr" &
	# not a job of this shell: the dump kills it, which is no news to report
	disown $!
	local i
	for ((i = 0; i < 100; i++)); do
		[ -s "$DIR/app.pid" ] && break
		sleep 0.02
	done
	PID=$(cat "$DIR/app.pid" 2>/dev/null)
	[ -n "$PID" ] || fail_step "$1 did not start"
	APP_EXE=$(command -v "$1")
	APP_EXE=$(readlink -f "$APP_EXE")
	started_pids+=("$PID")
}

# app_checkpoint: dump $PID (it must be gone), restore it (same pid, running).
app_checkpoint() {
	dump "$DIR/img" "$@" && gone_after_dump && restore "$DIR/img" "$@"
}

# app_wait_exit SECONDS: the restored program finishes its work and exits.
app_wait_exit() {
	wait_gone "$PID" "$1" || fail_step "the restored program did not finish within $1 s"
}

# The app's processes, if a failure left them: the session we started, while its leader still
# runs the program we started (pids are reused).
app_end() {
	local exe p
	if [ -n "${PID:-}" ] && alive "$PID"; then
		exe=$(readlink "/proc/$PID/exe" 2>/dev/null)
		if [ -n "$exe" ] && [ "$exe" = "${APP_EXE:-}" ]; then
			for p in $(ps -e -o pid=,sid= | awk -v s="$PID" '$2 == s { print $1 }'); do
				kill -9 "$p" 2>/dev/null
			done
		fi
	fi
	kill_leftovers
	report "$APP" "$T0"
}

for f in "$TESTS"/apps/*.sh; do
	# shellcheck disable=SC1090
	source "$f"
done
