# Debian's stress-ng, stressors that make a tree change under a dump:
#   wait  one child pauses, another stops and continues it with SIGSTOP and SIGCONT as fast as
#         it can, the parent follows it with waitpid (WUNTRACED, WCONTINUED): stops and
#         continues arrive while the tree is frozen, a task is often stopped when found
#   fork  the worker forks children that exit at once and reaps them: children exit while
#         the dump seizes them (then zombies of the worker, saved as such)
# stress_ng_run STRESSOR DUMPS: dumped with -R DUMPS times (the tree goes on), then
# checkpointed three times; the run completes and stress-ng reports success.
stress_ng_run() {
	app_begin "stress-ng-$1"
	app_packages stress-ng || return
	app_start stress-ng "--$1" 1 -t 6 --metrics-brief
	sleep 0.8
	local i
	for ((i = 0; i < $2 && !${#REASON}; i++)); do
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
app_stress_ng_wait() { stress_ng_run wait 3; }
app_stress_ng_fork() { stress_ng_run fork 5; }
register_case app-stress-ng-wait app_stress_ng_wait
register_case app-stress-ng-fork app_stress_ng_fork
