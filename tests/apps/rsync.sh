# Debian's rsync as a daemon (`rsync --daemon --no-detach`, rate-limited with --bwlimit)
# serving a read-only module and a writable one. A client outside the tree pulls a 3 MB file;
# in the middle of that transfer the daemon, and the child it forked for the client, are
# dumped and restored with --tcp-established and --file-locks (both hold a POSIX lock: the
# pid file, the lock file of max connections). The pull must then finish with the file byte
# for byte (rsync checks its own sum of the whole file too). After the restore, new clients
# list the modules, pull the whole module (compared with diff -r) and push a file into the
# writable module, which must land there intact.
app_rsync() {
	app_begin rsync
	app_packages rsync || return
	local port i cpid out
	port=$(app_free_port)
	mkdir -p "$DIR/data/sub" "$DIR/inbox" "$DIR/got" "$DIR/all"
	head -c 3000000 /dev/urandom >"$DIR/data/big.bin"
	seq 1 5000 >"$DIR/data/sub/numbers.txt"
	echo "a small file" >"$DIR/data/small.txt"
	head -c 100000 /dev/urandom >"$DIR/push.bin"
	cat >"$DIR/rsyncd.conf" <<CONF
use chroot = no
log file = $DIR/rsyncd.log
pid file = $DIR/rsyncd.pid
lock file = $DIR/rsyncd.lock
max connections = 10
uid = root
gid = root

[data]
	path = $DIR/data
	comment = the files to fetch
	read only = yes

[inbox]
	path = $DIR/inbox
	comment = where files are pushed
	read only = no
CONF
	app_start /usr/bin/rsync --daemon --no-detach --config="$DIR/rsyncd.conf" \
		--address=127.0.0.1 --port="$port" --bwlimit=400
	for ((i = 0; i < 100; i++)); do
		rsync "rsync://127.0.0.1:$port/" >"$DIR/list.txt" 2>&1 && break
		sleep 0.05
	done
	grep -q '^data' "$DIR/list.txt" || fail_step "the daemon did not list its modules: $(cat "$DIR/list.txt")"
	# the pull that the checkpoint interrupts
	timeout 120 rsync --partial-dir=.partial "rsync://127.0.0.1:$port/data/big.bin" \
		"$DIR/got/" >"$DIR/pull.txt" 2>&1 &
	cpid=$!
	# the daemon's child for it, busy sending
	for ((i = 0; i < 100; i++)); do
		[ -n "$(ps -o pid= --ppid "$PID")" ] && break
		sleep 0.05
	done
	sleep 1.5
	[ -n "$(ps -o pid= --ppid "$PID")" ] || fail_step "the daemon has no child serving the pull"
	[ -z "$REASON" ] && ! kill -0 "$cpid" 2>/dev/null && fail_step "the pull ended before the checkpoint"
	[ -z "$REASON" ] && app_checkpoint --tcp-established --file-locks
	wait "$cpid"
	out=$?
	[ -z "$REASON" ] && [ $out != 0 ] && fail_step "the pull across the checkpoint exited $out: $(tail -n3 "$DIR/pull.txt")"
	[ -z "$REASON" ] && ! cmp -s "$DIR/got/big.bin" "$DIR/data/big.bin" &&
		fail_step "big.bin pulled across the checkpoint differs ($(stat -c %s "$DIR/got/big.bin" 2>/dev/null) bytes)"
	if [ -z "$REASON" ]; then
		rsync "rsync://127.0.0.1:$port/" >"$DIR/list2.txt" 2>&1
		grep -q '^inbox.*where files are pushed' "$DIR/list2.txt" ||
			fail_step "the module list after the restore: $(cat "$DIR/list2.txt")"
	fi
	if [ -z "$REASON" ]; then
		timeout 60 rsync -a "rsync://127.0.0.1:$port/data/" "$DIR/all/" >"$DIR/pull2.txt" 2>&1 ||
			fail_step "a pull of the module after the restore: $(tail -n3 "$DIR/pull2.txt")"
		[ -z "$REASON" ] && ! diff -r "$DIR/data" "$DIR/all" >"$DIR/diff.txt" 2>&1 &&
			fail_step "the module pulled after the restore differs: $(head -c 300 "$DIR/diff.txt")"
	fi
	if [ -z "$REASON" ]; then
		timeout 60 rsync "$DIR/push.bin" "rsync://127.0.0.1:$port/inbox/" >"$DIR/push.txt" 2>&1 ||
			fail_step "a push after the restore: $(tail -n3 "$DIR/push.txt")"
		[ -z "$REASON" ] && ! cmp -s "$DIR/push.bin" "$DIR/inbox/push.bin" &&
			fail_step "the file pushed after the restore differs"
	fi
	if [ -z "$REASON" ]; then
		kill -TERM "$PID"
		app_wait_exit 10
	fi
	app_end
}
register_case app-rsync app_rsync
