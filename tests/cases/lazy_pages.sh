# Lazy restore (`cryo lazy-pages` + `restore --lazy-pages`), the case `lazy-pages` (sourced by
# tests/run.sh; the memory tests themselves run lazily in the runner's mode `lazy`):
#
#  lazy-no-daemon   restore --lazy-pages with no daemon listening: refused with a message
#                   naming the daemon, before anything is created (the pid stays free)
#  lazy-symlink     a symbolic link named lazy-pages.socket: the daemon refuses to replace it
#                   (and leaves its target alone); the restore refuses to connect through one
#  lazy-killed      the daemon SIGKILLed while 256 MiB are still coming in: its guard kills
#                   the task, which never runs on with zeros where its pages were
#  lazy-restore-fails  the restore fails after the memory was handed over (its last failable
#                   step): it kills what it made, the daemon notices and ends with status 1
#  lazy-abuse       a client breaking the protocol (no descriptors, too many ranges, a bad
#                   type): refused with a message, the daemon ends with status 1
#  lazy-compress    a dump with --compress (LZ4 images) restored lazily
#  lazy-predump     a pre-dump chain (pages in the parent) restored lazily
#  lazy-refused     dump --lazy-pages without --port, lazy-pages --page-server without
#                   --address: refused (the remote form is tests/cases/remote_lazy.sh)

lazy_no_daemon() {
	start_test mem_anon && dump "$DIR/img" && gone_after_dump || return
	cryo restore restore -D "$DIR/img" -d -v4 -o restore.log --lazy-pages
	[ $RC = 1 ] && grep -q "no lazy-pages daemon listens" "$DIR/cryo-restore.txt" ||
		fail_step "restore without a daemon: exit $RC: $(tail -n1 "$DIR/cryo-restore.txt")" || return
	alive "$PID" && fail_step "process $PID was created" && return
	grep -q "creating the tree" "$DIR/img/restore.log" && fail_step "the restore created its tree"
}

lazy_symlink() {
	start_test mem_anon && dump "$DIR/img" && gone_after_dump || return
	: >"$DIR/target"
	ln -s "$DIR/target" "$DIR/img/lazy-pages.socket"
	cryo lazy lazy-pages -D "$DIR/img" -v4 -o lazy.log
	[ $RC = 1 ] && grep -q "not a socket cryo may replace" "$DIR/cryo-lazy.txt" ||
		fail_step "the daemon replaced a symlink: exit $RC: $(tail -n1 "$DIR/cryo-lazy.txt")" || return
	[ -f "$DIR/target" ] && [ ! -s "$DIR/target" ] || fail_step "the symlink's target changed" || return
	# a daemon elsewhere, reached through a symlink in -D: refused
	rm -f "$DIR/img/lazy-pages.socket"
	mkdir -p "$DIR/other"
	cp "$DIR"/img/*.img "$DIR/other/"
	lazy_start "$DIR/other" || return
	ln -s "$DIR/other/lazy-pages.socket" "$DIR/img/lazy-pages.socket"
	cryo restore restore -D "$DIR/img" -d -v4 -o restore.log --lazy-pages
	[ $RC = 1 ] && grep -q "no lazy-pages daemon listens" "$DIR/cryo-restore.txt" ||
		fail_step "restore through a symlink: exit $RC: $(tail -n1 "$DIR/cryo-restore.txt")"
	alive "$PID" && fail_step "process $PID was created"
	kill "$LAZY_PID" 2>/dev/null
	wait "$LAZY_PID" 2>/dev/null
	LAZY_PID=
}

lazy_killed() {
	local i
	start_test lazy_big && dump "$DIR/img" && gone_after_dump || return
	rm -f "$DIR/img/lazy-pages.socket"
	# the daemon dies at its 40th background run (40 MiB of 256 in)
	# (in a subshell whose stderr goes nowhere: bash's "Killed" is expected here)
	(CRYO_FAULT=kill:40 "$BUILD/tools/closefds" timeout -k 5 "$CRYO_TIMEOUT" "$CRYO" \
		lazy-pages -D "$DIR/img" -v4 -o lazy.log >"$DIR/cryo-lazy-pages.txt" 2>&1 </dev/null
	exit $?) 2>/dev/null &
	LAZY_PID=$!
	for i in $(seq 100); do
		[ -S "$DIR/img/lazy-pages.socket" ] && break
		sleep 0.05
	done
	cryo restore restore -D "$DIR/img" -d -v4 -o restore.log --lazy-pages \
		--pidfile "$DIR/restored.pid"
	wait "$LAZY_PID" 2>/dev/null
	LAZY_PID=
	wait_gone "$PID" 10 || fail_step "task $PID still runs after its daemon died" || return
	grep -q "lazy-pages guard: killing task $PID" "$DIR/img/lazy.log" ||
		fail_step "the guard did not say it killed $PID: $(tail -n 3 "$DIR/img/lazy.log")" || return
	# the task never reported a verdict: it never ran its check on wrong memory
	grep -q "^PASS\|^FAIL" "$DIR/out.txt" && fail_step "the task ran its check: $(cat "$DIR/out.txt")"
	return 0
}

lazy_restore_fails() {
	local n
	start_test lazy_big && dump "$DIR/img1" -R && dump "$DIR/img2" && gone_after_dump || return
	# how many steps of a lazy restore can fail: the last one comes after the hand-over
	lazy_start "$DIR/img1" || return
	CRYO_FAULT=count "$BUILD/tools/closefds" "$CRYO" restore -D "$DIR/img1" -d --lazy-pages \
		-o restore.log >"$DIR/cryo-count.txt" 2>&1 </dev/null
	n=$(sed -n 's/.*(\([0-9]*\) of them can fail).*/\1/p' "$DIR/cryo-count.txt")
	[ -n "$n" ] || fail_step "no count: $(cat "$DIR/cryo-count.txt")" || return
	kill -9 "$PID"
	wait "$LAZY_PID"
	LAZY_PID=
	wait_gone "$PID" 5 || fail_step "the first restore's process does not go" || return
	lazy_start "$DIR/img2" || return
	CRYO_FAULT=fail:$n "$BUILD/tools/closefds" "$CRYO" restore -D "$DIR/img2" -d --lazy-pages \
		-v4 -o restore.log >"$DIR/cryo-fail.txt" 2>&1 </dev/null
	[ $? = 1 ] || fail_step "the restore did not fail at point $n" || return
	wait "$LAZY_PID"
	local rc=$?
	LAZY_PID=
	grep -q "pages to come" "$DIR/img2/lazy.log" ||
		fail_step "the memory was not handed over before the failure" || return
	[ $rc = 1 ] && grep -q "the restore ended before it sent every task" "$DIR/img2/lazy.log" ||
		fail_step "the daemon exited $rc: $(tail -n 2 "$DIR/img2/lazy.log")" || return
	alive "$PID" && fail_step "process $PID still runs after the failed restore"
	return 0
}

# lazy_abuse_one NAME PY: a client (python) sends something wrong; the daemon must refuse it,
# say so, and end with status 1
lazy_abuse_one() {
	local name=$1 py=$2 rc
	lazy_start "$DIR/img" || return
	python3 - "$DIR/img/lazy-pages.socket" >"$DIR/client-$name.txt" 2>&1 <<PY
import socket, struct, sys, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
$py
try:
    s.recv(8)
except Exception:
    pass
PY
	wait "$LAZY_PID"
	rc=$?
	LAZY_PID=
	cp "$DIR/img/lazy.log" "$DIR/lazy-$name.log"
	[ $rc = 1 ] || fail_step "$name: the daemon exited $rc" || return
	grep -q "lazy-pages: the restore" "$DIR/lazy-$name.log" ||
		fail_step "$name: no message: $(tail -n 2 "$DIR/lazy-$name.log")"
}

lazy_abuse() {
	mkdir -p "$DIR/img"
	# a task without its descriptors
	lazy_abuse_one nofds 's.send(struct.pack("IIII", 1, 1, 1, 0))' || return
	grep -q "sent message 1 with 0 descriptors" "$DIR/lazy-nofds.log" || fail_step "nofds: $(tail -n1 "$DIR/lazy-nofds.log")" || return
	# too many ranges, with two descriptors that are not what they should be
	lazy_abuse_one ranges 'fd = os.open("/dev/null", os.O_RDONLY)
socket.send_fds(s, [struct.pack("IIII", 1, 1, 1 << 30, 0)], [fd, fd])' || return
	grep -q "with 1073741824 ranges" "$DIR/lazy-ranges.log" || fail_step "ranges: $(tail -n1 "$DIR/lazy-ranges.log")" || return
	# an unknown message
	lazy_abuse_one type 's.send(struct.pack("IIII", 99, 0, 0, 0))' || return
	grep -q "sent message 99" "$DIR/lazy-type.log" || fail_step "type: $(tail -n1 "$DIR/lazy-type.log")" || return
	# a short header, then gone
	lazy_abuse_one short 's.send(b"abc"); s.close()' || return
}

lazy_compress() {
	start_test mem_anon && dump "$DIR/img" --compress && gone_after_dump || return
	"$CRYO" show "$DIR/img/pagemap-$PID.img" | grep -q "LZ4" ||
		fail_step "the dump is not compressed" || return
	lazy_start "$DIR/img" && restore "$DIR/img" --lazy-pages && check && lazy_wait
}

lazy_predump() {
	start_test lazy_big || return
	mkdir -p "$DIR/1"
	cryo pre pre-dump -t "$PID" -D "$DIR/1" -v4 -o dump.log
	[ $RC = 0 ] || fail_step "pre-dump exited $RC" || return
	dump "$DIR/2" --track-mem --prev-images-dir ../1 && gone_after_dump || return
	grep -q "pages in the parent" "$DIR/2/dump.log" || fail_step "no pages in the parent" || return
	lazy_start "$DIR/2" && restore "$DIR/2" --lazy-pages && check && lazy_wait
}

# lazy_chain PROG: a pre-dump, the final dump (its pages mostly in the parent), then a lazy
# restore of the chain, which is not merged: the restore copies
# in what it fills itself (shared, read-only, locked, file-private memory...), the daemon
# takes the rest from each level's own image
lazy_chain() {
	start_test "$1" || return
	mkdir -p "$DIR/1"
	cryo pre pre-dump -t "$PID" -D "$DIR/1" -v4 -o dump.log
	[ $RC = 0 ] || fail_step "pre-dump exited $RC" || return
	dump "$DIR/2" --track-mem --prev-images-dir ../1 && gone_after_dump || return
	lazy_start "$DIR/2" && restore "$DIR/2" --lazy-pages || return
	grep -q "copied in as they are needed" "$DIR/2/restore.log" ||
		fail_step "the restore merged the chain" || return
	check && lazy_wait
}

lazy_refused() {
	start_test mem_anon || return
	cryo dump dump -t "$PID" -D "$DIR/img" --lazy-pages
	[ $RC = 1 ] && grep -q "dump --lazy-pages needs --port" "$DIR/cryo-dump.txt" ||
		fail_step "dump --lazy-pages: exit $RC: $(tail -n1 "$DIR/cryo-dump.txt")" || return
	alive "$PID" || fail_step "the test died" || return
	mkdir -p "$DIR/srv"
	cryo lazy lazy-pages -D "$DIR/srv" --page-server --port 1
	[ $RC = 1 ] && grep -q "need --page-server, --address and --port" "$DIR/cryo-lazy.txt" ||
		fail_step "lazy-pages --page-server: exit $RC: $(tail -n1 "$DIR/cryo-lazy.txt")" || return
	check
}

lazy_case() {
	run_sub_case lazy-no-daemon lazy_no_daemon
	run_sub_case lazy-symlink lazy_symlink
	run_sub_case lazy-killed lazy_killed
	run_sub_case lazy-restore-fails lazy_restore_fails
	run_sub_case lazy-abuse lazy_abuse
	run_sub_case lazy-compress lazy_compress
	run_sub_case lazy-predump lazy_predump
	run_sub_case lazy-chain-vmflags lazy_chain mem_vmflags
	run_sub_case lazy-chain-shared lazy_chain mem_shared
	run_sub_case lazy-chain-madvise lazy_chain mem_madvise
	run_sub_case lazy-chain-file lazy_chain mem_file_private
	run_sub_case lazy-refused lazy_refused
}

register_case lazy-pages lazy_case
