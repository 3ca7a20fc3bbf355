# shellcheck shell=bash
# restart-after-stop, restart-after-leave-running: threads asleep in calls that the kernel
# continues as restart_syscall after a stop (restart_kinds: nanosleep, the raw nanosleep
# call, an absolute clock_nanosleep, a futex wait, poll). The test is stopped and continued
# (SIGSTOP, SIGCONT), or dumped with -R, first: each sleep is then a restart_syscall, whose
# record a restored task would not have (EINTR). The dump must save the call each continues
# (one log line per thread: 4, the absolute sleep is made again as itself by the kernel) and
# the restored test see every sleep end as asked.

restart_one() {
	local how=$1 n
	start_test restart_kinds || return
	if [ "$how" = stop ]; then
		kill -STOP "$PID"
		sleep 0.2
		kill -CONT "$PID"
		sleep 0.2
	else
		dump "$DIR/img-r" -R || return
	fi
	dump "$DIR/img" || return
	n=$(grep -c "its restart_syscall continues" "$DIR/img/dump.log")
	[ "$n" = 4 ] || fail_step "the dump saw $n threads in restart_syscall, not 4" || return
	restore "$DIR/img" || return
	check
}

restart_after_stop() { run_sub_case restart-after-stop restart_one stop; }
restart_after_leave_running() { run_sub_case restart-after-leave-running restart_one leave; }
register_case restart-after-stop restart_after_stop
register_case restart-after-leave-running restart_after_leave_running
