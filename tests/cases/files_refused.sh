# Messages of refused dumps and restores (sourced by tests/run.sh; uses its helpers).
#
# files-refused: a dump of fd_zoo (netlink sockets, an epoll, a timerfd, an inotify, the
# child's /proc/PID/status held by the parent) must fail naming every one of them by kind and
# fd, per task, in one run, and leave the tree running and passing; its pipes, FIFO, unix
# sockets, eventfd and signalfd, which cryo saves, are not named.
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
		for want in "task $PID: fd [0-9]+, [0-9]+ are netlink sockets" "is an epoll" \
			"is a timerfd" "is an inotify" \
			"fd [0-9]+ is /proc/$kid/status, a file of task $kid"; do
			grep -Eq "$want" <<<"$msg" || fail_step "the refusal does not say '$want'"
		done
		grep "Error" <<<"$msg" | grep -q "anon_inode" && fail_step "the refusal says anon_inode"
		# supported kinds are not refused
		grep -Eq "Error: .*(pipe|FIFO|eventfd|signalfd|unix socket)" <<<"$msg" &&
			fail_step "the refusal names a pipe, FIFO, eventfd, signalfd or unix socket"
		alive "$PID" || fail_step "fd_zoo $PID gone after the failed dump"
		[ -z "$REASON" ] && check
	fi
	kill_leftovers
	report files-refused "$t0"
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
register_case restore-empty-message restore_empty_message_case
register_case dump-ancestor dump_ancestor_case
