# GNU tail -f (coreutils), which follows a file with inotify, its output in a file:
# checkpointed while it waits for the file to grow; lines appended after the restore must
# come out of the restored tail, after exactly what it had printed before.
tail_f_wait_lines() { # N: until tail's output has N lines, 5 s at most
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(wc -l <"$DIR/stdout")" -ge "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

app_tail_f() {
	app_begin tail-f
	app_packages coreutils || return
	seq 1 20 | sed 's/^/before /' >"$DIR/input"
	{
		seq 11 20 | sed 's/^/before /'
		echo "while 1"
		seq 1 3 | sed 's/^/after /'
	} >"$DIR/ref"
	app_start tail -f input
	tail_f_wait_lines 10 || fail_step "tail printed $(wc -l <"$DIR/stdout") lines, not 10"
	echo "while 1" >>"$DIR/input"
	[ -z "$REASON" ] && { tail_f_wait_lines 11 || fail_step "tail did not follow the file"; }
	[ -z "$REASON" ] && ! ls -l "/proc/$PID/fd" 2>/dev/null | grep -q "anon_inode:inotify" &&
		fail_step "tail does not follow the file with inotify here"
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		local i
		for i in 1 2 3; do
			echo "after $i" >>"$DIR/input"
			sleep 0.1
		done
		tail_f_wait_lines 14 ||
			fail_step "the restored tail printed nothing of the lines added after the restore (stderr: $(head -c 200 "$DIR/stderr"))"
	fi
	[ -z "$REASON" ] && ! cmp -s "$DIR/stdout" "$DIR/ref" &&
		fail_step "the restored tail printed '$(tr '\n' '|' <"$DIR/stdout" | head -c 300)'"
	[ -z "$REASON" ] && ! alive "$PID" && fail_step "the restored tail exited"
	app_end
}
register_case app-tail-f app_tail_f
