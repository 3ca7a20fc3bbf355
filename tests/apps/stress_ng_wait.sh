# Debian's stress-ng with its wait stressor: one child pauses, another stops and continues it
# with SIGSTOP and SIGCONT as fast as it can, and the parent follows it with waitpid
# (WUNTRACED, WCONTINUED). Signals that stop and continue a task of the tree arrive while it
# is frozen, and a task is often stopped when the dump finds it. Dumped with -R three times
# (the tree must go on), then checkpointed three times; the run completes and stress-ng
# reports success, no stressor failed.
app_stress_ng_wait() {
	app_begin stress-ng-wait
	app_packages stress-ng || return
	app_start stress-ng --wait 1 -t 6 --metrics-brief
	sleep 0.8
	local i
	for ((i = 0; i < 3 && !${#REASON}; i++)); do
		dump "$DIR/img-r$i" -R || break
		alive "$PID" || fail_step "stress-ng is gone after a dump with -R"
		sleep 0.2
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
register_case app-stress-ng-wait app_stress_ng_wait
