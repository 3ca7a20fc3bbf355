# Debian's stress-ng with its fork stressor: the worker forks children that exit at once and
# reaps them, as fast as it can, so children exit while the dump seizes them (each is then a
# zombie of the worker, saved as one). Dumped with -R five times (the tree goes on), then
# checkpointed three times; the run completes and stress-ng reports success.
app_stress_ng_fork() {
	app_begin stress-ng-fork
	app_packages stress-ng || return
	app_start stress-ng --fork 1 -t 6 --metrics-brief
	sleep 0.8
	local i
	for ((i = 0; i < 5 && !${#REASON}; i++)); do
		dump "$DIR/img-r$i" -R || break
		alive "$PID" || fail_step "stress-ng is gone after a dump with -R"
	done
	for ((i = 0; i < 3 && !${#REASON}; i++)); do
		app_checkpoint
		sleep 0.3
	done
	[ -z "$REASON" ] && app_wait_exit 30
	if [ -z "$REASON" ]; then
		grep -q "successful run completed" "$DIR/stderr" "$DIR/stdout" ||
			fail_step "stress-ng did not report success: $(tail -n 3 "$DIR/stderr")"
		grep -qiE "fail|error" "$DIR/stderr" "$DIR/stdout" &&
			fail_step "stress-ng: $(grep -hiE "fail|error" "$DIR/stderr" "$DIR/stdout" | head -n 2)"
	fi
	app_end
}
register_case app-stress-ng-fork app_stress_ng_fork
