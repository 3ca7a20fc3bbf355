# Node.js (Debian's nodejs) counting on a timer: a setInterval that appends one numbered line
# to a file every 20 ms, checkpointed while it counts. libuv's loop sits in epoll_wait on its
# epolls, with its eventfds and pipes, and seven threads. The restored node counts on from
# where it was to the end: every number once, in order, none lost.
app_node() {
	app_begin node
	app_packages nodejs || return
	cat >"$DIR/count.js" <<'JS'
const fs = require('fs');
let i = 0;
const t = setInterval(() => {
	fs.appendFileSync('count.txt', `${i++}\n`);
	if (i === 300) {
		clearInterval(t);
		fs.writeFileSync('done', 'ok\n');
	}
}, 20);
JS
	app_start node count.js
	# counting: node may take a while to start on a loaded machine
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$( { wc -l <"$DIR/count.txt"; } 2>/dev/null)" -ge 10 ] 2>/dev/null && break
		sleep 0.05
	done
	[ "$( { wc -l <"$DIR/count.txt"; } 2>/dev/null)" -ge 10 ] 2>/dev/null ||
		fail_step "node did not start counting (stderr: $(head -c 200 "$DIR/stderr"))"
	alive "$PID" || fail_step "node finished before the checkpoint"
	[ -z "$REASON" ] && app_checkpoint
	local at
	at=$(wc -l <"$DIR/count.txt" 2>/dev/null)
	[ -z "$REASON" ] && app_wait_exit 30
	if [ -z "$REASON" ]; then
		[ -s "$DIR/done" ] || fail_step "the restored node did not finish its count (stderr: $(head -c 200 "$DIR/stderr"))"
		seq 0 299 | cmp -s - "$DIR/count.txt" ||
			fail_step "the count is not 0..299 once each: $(awk 'NR != $1 + 1 { print "line " NR ": " $0; exit }' "$DIR/count.txt") ($(wc -l <"$DIR/count.txt") lines)"
		[ "${at:-0}" -lt 300 ] || fail_step "node had counted to the end before it was restored"
	fi
	app_end
}
register_case app-node app_node
