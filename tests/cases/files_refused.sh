# Messages of refused dumps and restores (sourced by tests/run.sh; uses its helpers).
#
# files-refused: a dump of fd_zoo (vsock sockets, a userfaultfd, an io_uring, a POSIX message
# queue) must fail naming
# every one of them by kind and fd, per task, in one run, and leave the tree running and
# passing; its pipes, FIFO, unix sockets, eventfd, signalfd, (empty) epoll and the child's
# /proc/PID/status held by the parent, which cryo saves, are not named.
# epoll-refused: a dump of epoll_refused (a registration whose fd was closed while a child
# holds its file, a pseudo-terminal master; a fired one-shot on a signalfd read since, one on an expired timerfd; a
# pidfd) must fail naming the task, the epoll and each target fd, and leave the tree running
# and passing.
# inotify-queued: a dump of inotify_queued (an inotify with events not read yet) must fail
# naming the task, the fd and the bytes queued, and leave the test running with its events.
# inotify-nohandle: a dump of inotify_nohandle (a watch on a file of /proc) must fail naming
# the fd, the watch and the file system, and leave the test running with its watches.
# fanotify-refused: a dump of fanotify_refused (a fanotify of the content class, another with an
# event queued) must fail naming both fds and why, and leave the test running with its event.
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
		for want in "task $PID: fd [0-9]+, [0-9]+ are sockets" \
			"is a userfaultfd" "is an io_uring" "is a POSIX message queue"; do
			grep -Eq "$want" <<<"$msg" || fail_step "the refusal does not say '$want'"
		done
		grep "Error" <<<"$msg" | grep -q "anon_inode" && fail_step "the refusal says anon_inode"
		grep "Error" <<<"$msg" | grep -q "/proc/$kid/status" &&
			fail_step "the refusal names the child's /proc file"
		# supported kinds are not refused
		grep -Eq "Error: .*(pipe|FIFO|eventfd|signalfd|epoll|unix socket)" <<<"$msg" &&
			fail_step "the refusal names a pipe, FIFO, eventfd, signalfd, epoll or unix socket"
		alive "$PID" || fail_step "fd_zoo $PID gone after the failed dump"
		[ -z "$REASON" ] && check
	fi
	kill_leftovers
	report files-refused "$t0"
}

epoll_refused_case() {
	local t0 msg ep tfd ofd pfd tmfd mfd want
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/epoll-refused
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if start_test epoll_refused; then
		read -r ep tfd ofd pfd tmfd mfd < <(sed -n 's/^zt: epoll fd \([0-9]*\), closed target fd \([0-9]*\), fired one-shot fd \([0-9]*\), pidfd \([0-9]*\), timerfd \([0-9]*\), proc file \([0-9]*\)$/\1 \2 \3 \4 \5 \6/p' "$DIR/out.txt")
		[ -n "$mfd" ] || fail_step "epoll_refused did not say its fds"
		cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o dump.log
		msg=$(cat "$DIR/cryo-dump.txt" "$DIR/img/dump.log" 2>/dev/null)
		if [ $RC = 0 ]; then
			fail_step "cryo dumped epoll_refused"
		elif [ $RC -ge 124 ]; then
			fail_step "cryo dump exited $RC"
		fi
		for want in "task $PID: epoll fd $ep: target fd $tfd is held only by fd $tfd of task [0-9]+, a pseudo-terminal master: not supported yet" \
			"task $PID: epoll fd $ep: target fd $ofd is a one-shot registration that fired, on a signalfd, ready only once the task has its signals again" \
			"task $PID: epoll fd $ep: target fd $tmfd is a one-shot registration that fired, on a timerfd, ready only once it is armed again" \
			"task $PID: epoll fd $ep: target fd $pfd is a pidfd, which the restore makes after the epolls are filled" \
			"task $PID: epoll fd $ep: target fd $mfd is a file of /proc of another task of the tree"; do
			grep -Eq "$want" <<<"$msg" || fail_step "the refusal does not say '$want'"
		done
		[ -e "$DIR/img/inventory.img" ] && fail_step "a refused dump left inventory.img"
		alive "$PID" || fail_step "epoll_refused $PID gone after the failed dump"
		[ -z "$REASON" ] && check
	fi
	kill_leftovers
	report epoll-refused "$t0"
}

inotify_queued_case() {
	local t0 msg fd
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/inotify-queued
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if start_test inotify_queued; then
		fd=$(sed -n 's/^zt: fd \([0-9]*\): \([0-9]*\) bytes queued$/\1 \2/p' "$DIR/out.txt")
		cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o dump.log
		msg=$(cat "$DIR/cryo-dump.txt" 2>/dev/null)
		if [ $RC = 0 ]; then
			fail_step "cryo dumped an inotify with events queued"
		elif [ $RC -ge 124 ]; then
			fail_step "cryo dump exited $RC"
		fi
		[ -n "$fd" ] || fd="? ?"
		# shellcheck disable=SC2086
		set -- $fd
		grep -q "task $PID: fd $1: an inotify with $2 bytes of events not read yet" <<<"$msg" ||
			fail_step "the refusal does not name fd $1 and its $2 bytes: $(head -c 300 <<<"$msg")"
		alive "$PID" || fail_step "inotify_queued $PID gone after the failed dump"
		[ -z "$REASON" ] && check
	fi
	kill_leftovers
	report inotify-queued "$t0"
}

inotify_nohandle_case() {
	local t0 msg ids
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/inotify-nohandle
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if start_test inotify_nohandle; then
		ids=$(sed -n 's/^zt: fd \([0-9]*\): watch \([0-9]*\) on \/proc$/\1 \2/p' "$DIR/out.txt")
		cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o dump.log
		msg=$(cat "$DIR/cryo-dump.txt" 2>/dev/null)
		if [ $RC = 0 ]; then
			fail_step "cryo dumped an inotify watch on /proc"
		elif [ $RC -ge 124 ]; then
			fail_step "cryo dump exited $RC"
		fi
		[ -n "$ids" ] || ids="? ?"
		# shellcheck disable=SC2086
		set -- $ids
		grep -Eq "task $PID: fd $1: inotify watch $2 is on inode [0-9]+ of device [0-9]+:[0-9]+ \(proc, mounted at /proc\), which cannot be reopened by its file handle" <<<"$msg" ||
			fail_step "the refusal does not name fd $1, watch $2 and /proc: $(head -c 300 <<<"$msg")"
		alive "$PID" || fail_step "inotify_nohandle $PID gone after the failed dump"
		[ -z "$REASON" ] && check
	fi
	kill_leftovers
	report inotify-nohandle "$t0"
}

fanotify_refused_case() {
	local t0 msg ids
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/fanotify-refused
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if start_test fanotify_refused; then
		ids=$(sed -n 's/^zt: content fd \([0-9]*\), queued fd \([0-9]*\): \([0-9]*\) bytes$/\1 \2 \3/p' "$DIR/out.txt")
		cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o dump.log
		msg=$(cat "$DIR/cryo-dump.txt" 2>/dev/null)
		if [ $RC = 0 ]; then
			fail_step "cryo dumped a fanotify it cannot rebuild"
		elif [ $RC -ge 124 ]; then
			fail_step "cryo dump exited $RC"
		fi
		[ -n "$ids" ] || ids="? ? ?"
		# shellcheck disable=SC2086
		set -- $ids
		grep -q "task $PID: fd $1: a fanotify of the content class" <<<"$msg" ||
			fail_step "the refusal does not name the content-class fd $1: $(head -c 300 <<<"$msg")"
		grep -q "task $PID: fd $2: a fanotify with $3 bytes of events not read yet" <<<"$msg" ||
			fail_step "the refusal does not name fd $2 and its $3 bytes: $(head -c 300 <<<"$msg")"
		alive "$PID" || fail_step "fanotify_refused $PID gone after the failed dump"
		[ -z "$REASON" ] && check
	fi
	kill_leftovers
	report fanotify-refused "$t0"
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
register_case inotify-queued inotify_queued_case
register_case inotify-nohandle inotify_nohandle_case
register_case fanotify-refused fanotify_refused_case
register_case restore-empty-message restore_empty_message_case
register_case dump-ancestor dump_ancestor_case
