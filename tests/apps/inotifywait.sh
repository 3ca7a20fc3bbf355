# Debian's inotifywait (inotify-tools) watching a directory (-m: for ever), its events in a
# file: checkpointed between two files created there, restored; the files created after the
# restore must be reported too, after exactly what it had reported before (the watch, its
# mask and the events queued come back).
app_inotifywait() {
	app_begin inotifywait
	app_packages inotify-tools || return
	local i
	mkdir -p "$DIR/watched"
	app_start inotifywait -m -q -e create,moved_to --format '%e %f' watched
	for ((i = 0; i < 100; i++)); do
		ls -l "/proc/$PID/fd" 2>/dev/null | grep -q "anon_inode:inotify" && break
		sleep 0.05
	done
	sleep 0.2
	touch "$DIR/watched/before"
	for ((i = 0; i < 100; i++)); do
		grep -q before "$DIR/stdout" && break
		sleep 0.05
	done
	grep -q before "$DIR/stdout" || fail_step "inotifywait reported nothing before the checkpoint"
	# one event queued, not read yet, in the dump: made while inotifywait is stopped
	[ -z "$REASON" ] && kill -STOP "$PID" && touch "$DIR/watched/queued" && kill -CONT "$PID"
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		touch "$DIR/watched/after"
		mv "$DIR/watched/after" "$DIR/watched/moved"
		for ((i = 0; i < 100; i++)); do
			[ "$(wc -l <"$DIR/stdout")" -ge 4 ] && break
			sleep 0.05
		done
		printf 'CREATE before\nCREATE queued\nCREATE after\nMOVED_TO moved\n' >"$DIR/ref"
		cmp -s "$DIR/stdout" "$DIR/ref" ||
			fail_step "the restored inotifywait reported '$(tr '\n' '|' <"$DIR/stdout")' (stderr: $(head -c 200 "$DIR/stderr"))"
	fi
	[ -z "$REASON" ] && ! alive "$PID" && fail_step "the restored inotifywait exited"
	app_end
}
register_case app-inotifywait app_inotifywait
