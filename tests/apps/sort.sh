# GNU sort with two threads and a small buffer (so it spills to temporary files), checkpointed
# in the middle: the restored sort's output is that of an uninterrupted run.
app_sort() {
	app_begin sort
	app_packages coreutils || return
	mkdir -p "$DIR/tmp"
	seq 1 4000000 | shuf --random-source=<(yes) >"$DIR/input"
	LC_ALL=C sort --parallel=2 -S 8M -T "$DIR/tmp" "$DIR/input" >"$DIR/ref"
	app_start env LC_ALL=C sort --parallel=2 -S 8M -T tmp input -o sorted
	sleep 0.4
	alive "$PID" || fail_step "sort finished before the checkpoint"
	[ -z "$REASON" ] && app_checkpoint
	[ -z "$REASON" ] && app_wait_exit 60
	[ -z "$REASON" ] && ! cmp -s "$DIR/sorted" "$DIR/ref" &&
		fail_step "the restored sort's output differs from an uninterrupted run (stderr: $(head -c 200 "$DIR/stderr"))"
	rm -f "$DIR/input" "$DIR/ref" "$DIR/sorted"
	app_end
}
register_case app-sort app_sort
