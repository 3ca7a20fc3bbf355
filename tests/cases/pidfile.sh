# The --pidfile case of tests/run.sh (sourced by it; uses its helpers and counters): as with the
# original tool, a relative pid file is inside the images directory; no pid file is written
# through a symbolic link; a dump whose pid file cannot be written fails before it touches
# the tree.

pidfile_case() {
	local t0 victim
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/pidfile
	rm -rf "$DIR"
	mkdir -p "$DIR/img" "$DIR/bad"
	victim=$DIR/victim
	echo untouched >"$victim"
	if start_test counter; then
		# a symlink planted as the pid file: refused, the tree never touched
		ln -s "$victim" "$DIR/bad/dump.pid"
		cryo bad dump -t "$PID" -D "$DIR/bad" -R --pidfile dump.pid -v4 -o dump.log
		[ $RC != 0 ] || fail_step "a dump wrote its pid file through a symlink"
		[ "$(cat "$victim")" = untouched ] || fail_step "the symlink's target was written"
		grep -q "dump.pid" "$DIR/cryo-bad.txt" ||
			fail_step "the refusal does not name the pid file: $(tail -n1 "$DIR/cryo-bad.txt")"
		[ -e "$DIR/bad/inventory.img" ] && fail_step "the refused dump wrote images"
		alive "$PID" || fail_step "the target died"
		[ "$(tracer_of "$PID")" = 0 ] || fail_step "the target is left traced"
	fi
	if [ -z "$REASON" ]; then
		dump "$DIR/img" --pidfile dump.pid && gone_after_dump
		[ -z "$REASON" ] && [ "$(cat "$DIR/img/dump.pid" 2>/dev/null)" != "$PID" ] &&
			fail_step "a relative dump --pidfile is not in the images directory"
	fi
	if [ -z "$REASON" ]; then
		cryo restore restore -D "$DIR/img" -d --pidfile restored.pid -v4 -o restore.log
		[ $RC = 0 ] || fail_step "restore exited $RC"
		[ "$(cat "$DIR/img/restored.pid" 2>/dev/null)" = "$PID" ] ||
			fail_step "a relative restore --pidfile is not in the images directory"
		[ -z "$REASON" ] && check
	fi
	kill_leftovers
	report pidfile "$t0"
}
register_case pidfile pidfile_case
