# The refusals case of tests/run.sh (sourced by it; uses its helpers and counters): state cryo
# cannot restore exactly yet makes the dump refuse, naming the task and every such resource,
# and the target runs on unharmed (nothing is lost silently).
#
#  refuse-file-locks  flock, POSIX and OFD locks (tests/progs/file_locks.c): each named; the
#                     locks still held afterwards
#  refuse-namespaces  a process in network, UTS and IPC namespaces of its own
#                     (tests/progs/ns_own.c): each namespace named
#  refuse-mdwe        a process that denied itself W+X memory (tests/progs/mdwe_hold.c)
#  refuse-leases      file leases (tests/progs/leases.c) dumped without --file-locks
#  refuse-pidfd       a pidfd of init (outside the tree), one of a reaped child, an owner
#                     (F_SETOWN) outside the tree, a lease being broken
#                     (tests/progs/pidfd_outside.c)
#  refuse-aio         an AIO context (io_setup) with a request in flight (a poll), named; the
#                     poll completes afterwards (tests/progs/aio_hold.c)
#  refuse-proc        /proc/CHILD/task/TID/stat of a thread of a child, held by the parent
#                     (tests/progs/proc_thread_refused.c): made after the parent's descriptors
#  refuse-unix        a unix socket connected to a process outside the tree, a descriptor in
#                     flight (SCM_RIGHTS) that no task holds and is a timerfd,
#                     bytes sent on a connection not accepted yet, a name
#                     whose socket file was removed, a pair made by a child that exited (its peer credentials)
#                     (tests/progs/unix_outside.c): the bytes queued, the descriptor and the
#                     connection still there afterwards
#  refuse-unix-maker  a pair a child made (its peer credentials name the child), one end
#                     given to the root (SCM_RIGHTS), which is not below the child
#                     (tests/progs/unix_pair_child.c with UNIX_PAIR_CHILD_GIVE=1)
#  refuse-unix-maker-listener a connection of the root's accepted from a listener a child
#                     made (tests/progs/unix_listen_child.c with UNIX_LISTEN_CHILD_CONNECTED=1)
#  refuse-unix-peercred a connection whose listener was closed, its two ends holding different
#                     peer credentials (root's, and the ids its client connected with)
#                     (tests/progs/unix_peercred_refused.c): both still hold them afterwards

# refusal_case NAME PROG PATTERN...: dump PROG (-R and not), expect refusal lines matching
# every PATTERN, then the program's check.
refusal_case() {
	local name=$1 prog=$2 t0 p mode
	shift 2
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/$name
	rm -rf "$DIR"
	mkdir -p "$DIR"
	for mode in leave-running kill; do
		[ -n "$REASON" ] && break
		start_test "$prog" || break
		rm -rf "$DIR/img"
		mkdir -p "$DIR/img"
		if [ $mode = leave-running ]; then
			cryo "$mode" dump -t "$PID" -D "$DIR/img" -R -v4 -o dump.log
		else
			cryo "$mode" dump -t "$PID" -D "$DIR/img" -v4 -o dump.log
		fi
		[ $RC = 0 ] && fail_step "the dump ($mode) was not refused"
		[ $RC -ge 128 ] && fail_step "cryo crashed ($RC)"
		for p in "$@"; do
			grep -q -- "$p" "$DIR/cryo-$mode.txt" ||
				fail_step "the refusal does not name '$p': $(grep Error "$DIR/cryo-$mode.txt" | head -c 400)"
		done
		[ -e "$DIR/img/inventory.img" ] && fail_step "a refused dump left inventory.img"
		[ -z "$REASON" ] && target_unharmed "after the refused dump ($mode)"
		kill_leftovers
	done
	kill_leftovers
	report "$name" "$t0"
}

refuse_file_locks_case() {
	refusal_case refuse-file-locks file_locks "holds a file lock (.*FLOCK" \
		"holds a file lock (.*POSIX" "holds a file lock (.*OFDLCK" "--file-locks"
}

refuse_namespaces_case() {
	refusal_case refuse-namespaces ns_own "namespaces of its own (net, uts, ipc)"
}

refuse_mdwe_case() {
	refusal_case refuse-mdwe mdwe_hold "PR_SET_MDWE"
}

refuse_leases_case() {
	refusal_case refuse-leases leases "fd 3 holds a file lease (LEASE.*READ" \
		"fd 5 holds a file lease (LEASE.*WRITE" "--file-locks"
}

refuse_unix_case() {
	refusal_case refuse-unix unix_outside \
		"unix socket (unnamed) (socket:\[[0-9]*\]) is connected to socket:\[[0-9]*\] of process [0-9]* (unix_outside, fd [0-9]*) outside the tree" \
		"unix socket with a file in flight that no task of the tree holds (message 1, descriptor 0: anon_inode:\[timerfd\], a timerfd)" \
		"unix socket with data sent on a connection not accepted yet" \
		"unix socket bound to /tmp/zt-unix-outside-[0-9]*.sock, whose socket file was removed or replaced" \
		"unix socket whose peer credentials (SO_PEERCRED: pid [0-9]*, uid 0, gid 0) cannot be made again (process [0-9]*, which made it, is not in the tree)"
}

refuse_unix_maker_case() {
	UNIX_PAIR_CHILD_GIVE=1 refusal_case refuse-unix-maker unix_pair_child \
		"unix socket socket:\[[0-9]*\]: a pair made by task [0-9]*, held by task [0-9]* (fd [0-9]*), which is not below it in the tree: not supported yet"
}

refuse_unix_maker_listener_case() {
	UNIX_LISTEN_CHILD_CONNECTED=1 refusal_case refuse-unix-maker-listener unix_listen_child \
		"connected through a listening socket task [0-9]* made (the root makes it before that task exists): not supported yet"
}

refuse_unix_peercred_case() {
	refusal_case refuse-unix-peercred unix_peercred_refused \
		"unix socket socket:\[[0-9]*\]: peer credentials (uid [0-9]* gid [0-9]*, [0-9]* groups) other than its peer's, as a pair holds (uid [0-9]* gid [0-9]*, [0-9]* groups): not supported yet"
}

refuse_pidfd_case() {
	refusal_case refuse-pidfd pidfd_outside "fd [0-9]* is a pidfd of process 1, which is not in the dumped tree" \
		"fd [0-9]* is a pidfd of a process that has been reaped" \
		"fd [0-9]*: its owner (F_SETOWN) is process 1, which is not in the dumped tree" \
		"holds a file lease (LEASE  BREAKING.*a lease being broken cannot be saved"
}

refuse_proc_case() {
	refusal_case refuse-proc proc_thread_refused \
		"fd [0-9]* is /proc/[0-9]*/task/[0-9]*/stat, a file of thread [0-9]* of task [0-9]*, which the restore creates after this task's descriptors"
}

refuse_aio_case() {
	refusal_case refuse-aio aio_hold "the AIO context at 0x[0-9a-f]* has 1 request in flight"
}

register_case refuse-aio refuse_aio_case
register_case refuse-file-locks refuse_file_locks_case
register_case refuse-proc refuse_proc_case
register_case refuse-leases refuse_leases_case
register_case refuse-pidfd refuse_pidfd_case
register_case refuse-unix refuse_unix_case
register_case refuse-unix-peercred refuse_unix_peercred_case
register_case refuse-unix-maker refuse_unix_maker_case
register_case refuse-unix-maker-listener refuse_unix_maker_listener_case
register_case refuse-mdwe refuse_mdwe_case
register_case refuse-namespaces refuse_namespaces_case
