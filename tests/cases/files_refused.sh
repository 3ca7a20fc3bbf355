# Messages of refused dumps and restores (sourced by tests/run.sh; uses its helpers).
#
# files-refused: a dump of fd_zoo (sockets, an eventfd, an epoll, a signalfd, a timerfd, an
# inotify, the child's /proc/PID/status held by the parent) must fail naming every one of
# them by kind and fd, per task, in one run, and leave the tree running and passing; its
# pipes, FIFO, eventfd, signalfd and (empty) epoll, which cryo saves, are not named.
# epoll-refused: a dump of epoll_refused (a registration whose fd was closed while a child
# holds its file; a fired one-shot on a signalfd read since; a pidfd) must fail naming the task, the
# epoll and each target fd, and leave the tree running and passing.
# restore-empty-message: a restore from a directory without images says so.
# dump-ancestor: cryo asked to dump the shell that runs it says it cannot dump its ancestor.

files_refused_case() {
	local t0 msg kid
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/files-refused
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if start_test fd_zoo; then
		cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o dump.log
		msg=$(cat "$DIR/cryo-dump.txt" "$DIR/img/dump.log" 2>/dev/null)
		kid=$(cat /proc/"$PID"/task/"$PID"/children 2>/dev/null | awk '{print $1}')
		if [ $RC = 0 ]; then
			fail_step "cryo dumped fd_zoo"
		elif [ $RC -ge 124 ]; then
			fail_step "cryo dump exited $RC"
		fi
		local want
		for want in "task $PID: fd [0-9]+, [0-9]+ are unix sockets" \
			"is a timerfd" "is an inotify" \
			"fd [0-9]+ is /proc/$kid/status, a file of task $kid"; do
			grep -Eq "$want" <<<"$msg" || fail_step "the refusal does not say '$want'"
		done
		grep "Error" <<<"$msg" | grep -q "anon_inode" && fail_step "the refusal says anon_inode"
		# supported kinds are not refused
		grep -Eq "Error: .*(pipe|FIFO|eventfd|signalfd|epoll)" <<<"$msg" &&
			fail_step "the refusal names a pipe, FIFO, eventfd, signalfd or epoll"
		alive "$PID" || fail_step "fd_zoo $PID gone after the failed dump"
		[ -z "$REASON" ] && check
	fi
	kill_leftovers
	report files-refused "$t0"
}

epoll_refused_case() {
	local t0 msg ep tfd ofd pfd want
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/epoll-refused
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if start_test epoll_refused; then
		read -r ep tfd ofd pfd < <(sed -n 's/^zt: epoll fd \([0-9]*\), closed target fd \([0-9]*\), fired one-shot fd \([0-9]*\), pidfd \([0-9]*\)$/\1 \2 \3 \4/p' "$DIR/out.txt")
		[ -n "$pfd" ] || fail_step "epoll_refused did not say its fds"
		cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o dump.log
		msg=$(cat "$DIR/cryo-dump.txt" "$DIR/img/dump.log" 2>/dev/null)
		if [ $RC = 0 ]; then
			fail_step "cryo dumped epoll_refused"
		elif [ $RC -ge 124 ]; then
			fail_step "cryo dump exited $RC"
		fi
		for want in "task $PID: epoll fd $ep: target fd $tfd \(events 0x19\) now holds another file, and the registered file is held by no fd of the task" \
			"task $PID: epoll fd $ep: target fd $ofd is a one-shot registration that fired, on a file that is not ready now" \
			"task $PID: epoll fd $ep: target fd $pfd is a pidfd, which the restore makes after the epolls are filled"; do
			grep -Eq "$want" <<<"$msg" || fail_step "the refusal does not say '$want'"
		done
		[ -e "$DIR/img/inventory.img" ] && fail_step "a refused dump left inventory.img"
		alive "$PID" || fail_step "epoll_refused $PID gone after the failed dump"
		[ -z "$REASON" ] && check
	fi
	kill_leftovers
	report epoll-refused "$t0"
}

restore_empty_message_case() {
	local t0
	t0=$(now)
	REASON=
	DIR=$OUT/restore-empty-message
	rm -rf "$DIR"
	mkdir -p "$DIR/empty"
	cryo restore restore -D "$DIR/empty" -d -v4 -o "$DIR/restore.log"
	[ $RC != 0 ] || fail_step "restore from an empty directory succeeded"
	grep -q "holds no images" "$DIR/cryo-restore.txt" ||
		fail_step "the message does not say the directory holds no images"
	grep -q "process 0" "$DIR/cryo-restore.txt" && fail_step "the message names process 0"
	report restore-empty-message "$t0"
}

dump_ancestor_case() {
	local t0
	t0=$(now)
	REASON=
	DIR=$OUT/dump-ancestor
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	# a shell that runs cryo on itself
	"$BUILD/tools/closefds" bash -c '"$1" dump -t $$ -D "$2" -v4 -o dump.log; echo "rc=$?"' \
		sh "$CRYO" "$DIR/img" >"$DIR/cryo-dump.txt" 2>&1 </dev/null
	grep -q "rc=0" "$DIR/cryo-dump.txt" && fail_step "cryo dumped its own parent"
	grep -q "its own ancestor" "$DIR/cryo-dump.txt" ||
		fail_step "the message does not say cryo cannot dump its own ancestor"
	report dump-ancestor "$t0"
}

register_case files-refused files_refused_case
register_case epoll-refused epoll_refused_case
register_case restore-empty-message restore_empty_message_case
register_case dump-ancestor dump_ancestor_case
