# Node.js (Debian's nodejs) serving HTTP on 127.0.0.1 on a port the kernel chose (written to a
# file, as a service reports it), asked once, checkpointed while libuv waits in epoll_wait
# (its listener in the epoll), restored: the next request is answered by the same server,
# which counted the first one.
app_node_http() {
	app_begin node-http
	app_packages nodejs curl || return
	local port i got
	cat >"$DIR/srv.js" <<'JS'
const http = require('http');
let n = 0;
const s = http.createServer((q, r) => { n++; r.end(`hello ${q.url} ${n}\n`); });
s.listen(0, '127.0.0.1', () => require('fs').writeFileSync('port', String(s.address().port)));
JS
	app_start node srv.js
	for ((i = 0; i < 100; i++)); do
		[ -s "$DIR/port" ] && break
		sleep 0.05
	done
	port=$(cat "$DIR/port" 2>/dev/null)
	[ -n "$port" ] || fail_step "node did not listen (stderr: $(head -c 200 "$DIR/stderr"))"
	if [ -z "$REASON" ]; then
		got=$(curl -s --max-time 5 "http://127.0.0.1:$port/before")
		[ "$got" = "hello /before 1" ] || fail_step "before the checkpoint node answered '$got'"
	fi
	sleep 0.3
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		got=$(curl -s --max-time 10 "http://127.0.0.1:$port/after")
		[ "$got" = "hello /after 2" ] ||
			fail_step "after the restore node answered '$got', not 'hello /after 2' (stderr: $(tail -c 300 "$DIR/stderr"))"
	fi
	app_end
}
register_case app-node-http app_node_http
