# Real programs from Debian (tests/apps/*.sh), sourced by tests/run.sh: each is started as a
# user would start it, checkpointed in the middle of its work, restored, and then used or
# checked by a real client (a second sqlite3, the result compared with a run that was never
# interrupted...). Each tests/apps/NAME.sh defines app_NAME and registers `app-NAME`; the
# Debian packages it needs are installed first (scripts/deps.sh). Helpers for them:

# app_packages PKG...: install what an app needs; skip (return 1) when that cannot be done.
app_packages() {
	if ! bash "$ROOT/scripts/deps.sh" "$@" >"$DIR/deps.txt" 2>&1; then
		skip "$APP" "cannot install $* ($(tail -n1 "$DIR/deps.txt"))"
		return 1
	fi
}

# app_free_port: a TCP port of 127.0.0.1 free now (the kernel's choice), to give a server as a
# user would
app_free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# app_begin NAME: a fresh directory $DIR for app NAME (APP_VARIANT, when set, is part of its
# name: app-NAME-VARIANT).
app_begin() {
	APP=app-$1${APP_VARIANT:+-$APP_VARIANT}
	T0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/apps/$1${APP_VARIANT:+-$APP_VARIANT}
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
}

# app_start CMD...: run CMD in its own session, in $DIR, stdin /dev/null, output in
# $DIR/stdout and $DIR/stderr, no inherited descriptor; sets PID (the session leader).
app_start() {
	rm -f "$DIR/app.pid"
	(cd "$DIR" && exec "$BUILD/tools/closefds" setsid bash -c 'echo $$ >app.pid; exec "$@"' \
		app "$@") </dev/null >"$DIR/stdout" 2>"$DIR/stderr" &
	# not a job of this shell: the dump kills it, which is no news to report
	disown $!
	local i
	for ((i = 0; i < 100; i++)); do
		[ -s "$DIR/app.pid" ] && break
		sleep 0.02
	done
	PID=$(cat "$DIR/app.pid" 2>/dev/null)
	[ -n "$PID" ] || fail_step "$1 did not start"
	APP_EXE=$(command -v "$1")
	APP_EXE=$(readlink -f "$APP_EXE")
	started_pids+=("$PID")
}

# app_checkpoint: dump $PID (it must be gone), restore it (same pid, running); in the gen2
# variant twice, the second time from the restored program. In the
# predump variant as a migration makes it: a pre-dump while the program runs on (it tracks
# what it writes), a moment of work, then the final dump of what changed since.
app_checkpoint() {
	if [ "${APP_VARIANT:-}" = predump ]; then
		mkdir -p "$DIR/img-pre"
		cryo predump pre-dump -t "$PID" -D "$DIR/img-pre" -v4 -o pre-dump.log $SHELL_JOB "$@"
		[ $RC = 0 ] || fail_step "cryo pre-dump exited $RC" || return 1
		alive "$PID" || fail_step "the program is gone after the pre-dump" || return 1
		sleep 0.2
		dump "$DIR/img" --track-mem --prev-images-dir ../img-pre "$@" && gone_after_dump &&
			restore "$DIR/img" "$@"
		return
	fi
	dump "$DIR/img" "$@" && gone_after_dump && restore "$DIR/img" "$@" || return
	# gen2: the restored program checkpointed again, a moment later (what a first restore
	# got wrong but did not show, a second dump of it often does)
	if [ "${APP_VARIANT:-}" = gen2 ]; then
		sleep 0.2
		mkdir -p "$DIR/img2"
		dump "$DIR/img2" "$@" && gone_after_dump && restore "$DIR/img2" "$@"
	fi
}

# A client outside the tree held across the checkpoint: started in the background (its pid
# given), its output in $DIR/client.txt, it makes $DIR/first once answered, then waits for
# $DIR/go and prints "ok" when all its answers after were right.
# app_client_answered [MARK [WHAT]]: wait (10 s) for its $DIR/MARK (first), else fail with
# "the client WHAT" (got no first answer)
app_client_answered() {
	local i mark=${1:-first}
	for ((i = 0; i < 200; i++)); do
		[ -e "$DIR/$mark" ] && break
		sleep 0.05
	done
	[ -e "$DIR/$mark" ] ||
		fail_step "the client ${2:-got no first answer}: $(cat "$DIR/client.txt")"
}
# app_client_done CPID WHAT: let it go on, wait for it, and fail (WHAT: its name in the
# message) unless it printed ok
app_client_done() {
	local out
	touch "$DIR/go"
	wait "$1"
	out=$(cat "$DIR/client.txt")
	[ -z "$REASON" ] && [ "$out" != ok ] && fail_step "$2: $out"
}

# app_tcp_up PORT [SECONDS]: wait (5 s, or SECONDS) until something listens on TCP port PORT
app_tcp_up() {
	local i
	for ((i = 0; i < ${2:-5} * 20; i++)); do
		ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
		sleep 0.05
	done
	return 1
}

# app_upper_server PORT: a TCP server on 127.0.0.1:PORT outside the tree, run in the
# background (`app_upper_server PORT & spid=$!`): each connection in a thread, each read sent
# back upper-cased, closed when its client closes; it ends after 40 s without a connection.
app_upper_server() {
	exec /usr/bin/python3 - "$1" >"$DIR/server.txt" 2>&1 <<'PY'
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
s.settimeout(40)
def serve(c):
    c.settimeout(40)
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d.upper())
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
}

# app_line_client PORT SECONDS LABEL: one connection to 127.0.0.1:PORT that sends a line
# every 20 ms for SECONDS (0: one line), each to come back upper-cased before the next;
# prints "ok N" (N lines), or why it stopped. LABEL goes into the lines and messages.
app_line_client() {
	timeout 30 /usr/bin/python3 - "$1" "$2" "$3" <<'PY'
import socket, sys, time
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
n, end, what = 0, time.time() + float(sys.argv[2]), sys.argv[3]
while n == 0 or time.time() < end:
    msg = b"line %d through %s\n" % (n, what.encode())
    c.sendall(msg)
    got = b""
    while len(got) < len(msg):
        d = c.recv(len(msg) - len(got))
        if not d:
            sys.exit("%s closed the connection after %d lines" % (what, n))
        got += d
    if got != msg.upper():
        sys.exit("line %d came back as %r" % (n, got))
    n += 1
    time.sleep(0.02)
print("ok", n)
PY
}

# app_http_up PORT PATH [SECONDS]: wait (10 s, or SECONDS) until http://127.0.0.1:PORT/PATH
# answers with success
app_http_up() {
	local i end=$(($(date +%s) + ${3:-10}))
	for ((i = 0; ; i++)); do
		curl -sf --max-time 5 -o /dev/null "http://127.0.0.1:$1/$2" && return 0
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.05
	done
}

# app_dns_up PORT: wait (10 s, while $PID runs) until the zone of the DNS server tests answers
# www.example.test's A on PORT of 127.0.0.1
app_dns_up() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$(dig +short +time=5 +tries=1 @127.0.0.1 -p "$1" www.example.test A 2>&1)" = \
			192.0.2.80 ] && return 0
		alive "$PID" || return 1
		sleep 0.05
	done
	return 1
}

# app_dns_check PORT WHEN: the zone of the DNS server tests (knot, nsd) answers on PORT of
# 127.0.0.1: www.example.test's A over UDP, txt.example.test's two strings over TCP; WHEN
# names the moment in the message ("after the restore")
app_dns_check() {
	local got
	got=$(dig +short +time=5 +tries=1 @127.0.0.1 -p "$1" www.example.test A 2>&1)
	[ "$got" = 192.0.2.80 ] || fail_step "www over UDP $2: '$got'" || return
	got=$(dig +short +time=5 +tries=1 @127.0.0.1 -p "$1" +tcp txt.example.test TXT 2>&1)
	[ "$got" = '"a checkpointed answer" "second string"' ] ||
		fail_step "txt over TCP $2: '$got'"
}

# app_variant VARIANT NAME...: also run each app NAME as app-NAME-VARIANT
app_variant() {
	local v=$1 name
	shift
	for name in "$@"; do
		eval "app_${name//-/_}_$v() { APP_VARIANT=$v app_${name//-/_}; }"
		register_case "app-$name-$v" "app_${name//-/_}_$v"
	done
}

# app_wait_exit SECONDS: the restored program finishes its work and exits.
app_wait_exit() {
	wait_gone "$PID" "$1" || fail_step "the restored program did not finish within $1 s"
}

# The app's processes, if a failure left them: the session we started, while its leader still
# runs the program we started (pids are reused).
app_end() {
	local exe p
	if [ -n "${PID:-}" ] && alive "$PID"; then
		exe=$(readlink "/proc/$PID/exe" 2>/dev/null)
		if [ -n "$exe" ] && [ "$exe" = "${APP_EXE:-}" ]; then
			for p in $(ps -e -o pid=,sid= | awk -v s="$PID" '$2 == s { print $1 }'); do
				kill -9 "$p" 2>/dev/null
			done
		fi
	fi
	kill_leftovers
	report "$APP" "$T0"
}

for f in "$TESTS"/apps/*.sh; do
	# shellcheck disable=SC1090
	source "$f"
done
# the programs a migration most often meets, through a pre-dump first
app_variant predump node python3-asyncio tail-f pipeline redis sqlite3 python3-multiprocessing \
	beanstalkd gawk lua ruby uwsgi php ngircd nginx postgres
# the servers and trees, checkpointed twice
app_variant gen2 redis-client nginx postgres node-ipc python3-multiprocessing lighttpd socat make \
	haproxy apache2 unbound php ruby perl-http git-daemon uwsgi
