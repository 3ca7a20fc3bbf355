# app-gunicorn: sync workers; app-gunicorn-gthread (below): a threaded worker.
# Debian's gunicorn (python3-gunicorn) serving a small WSGI app with a master and two sync
# workers. Each worker keeps a count of the requests it answered, in memory, and answers
# "PID N SHA256-OF-THE-BODY". The master watches its workers through a heartbeat: each
# worker keeps touching (fchmod) a temporary file it unlinked at once, and the master kills
# a worker whose file it has not seen touched for --timeout (3 s here). Requests before the
# checkpoint; then the whole tree is dumped and restored. After the restore, requests for
# more than two heartbeat timeouts: every answer must come from one of the workers seen
# before (none was replaced), with its count going on from where it was, and the digest of
# the body right.
app_gunicorn() {
	app_begin gunicorn
	app_packages python3-gunicorn curl python3 || return
	local port i out
	port=$(app_free_port)
	cat >"$DIR/app.py" <<'PY'
import hashlib, os
served = 0
def application(environ, start_response):
    global served
    served += 1
    n = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(n)
    text = "%d %d %s\n" % (os.getpid(), served, hashlib.sha256(body).hexdigest())
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [text.encode()]
PY
	app_start /usr/bin/python3 -m gunicorn --chdir "$DIR" --bind "127.0.0.1:$port" \
		--workers 2 --timeout 3 --graceful-timeout 3 app:application
	for ((i = 0; i < 200; i++)); do
		curl -sf --max-time 5 -o /dev/null -d x "http://127.0.0.1:$port/" && break
		sleep 0.05
	done
	# gunicorn_client PHASE SECONDS: requests for that long; before: takes down each worker's
	# count; after: checks them against it
	gunicorn_client() {
		timeout 60 /usr/bin/python3 - "$port" "$DIR" "$1" "$2" <<'PY'
import hashlib, json, os, sys, time, urllib.request
port, d, phase, secs = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
state = d + "/counts.json"
seen = {} if phase == "before" else {int(k): v for k, v in json.load(open(state)).items()}
workers = set(seen)
end, i = time.time() + secs, 0
while time.time() < end or i < 20:
    i += 1
    body = os.urandom(1000 + i)
    r = urllib.request.urlopen("http://127.0.0.1:%d/" % port, data=body, timeout=10)
    pid, n, digest = r.read().decode().split()
    pid, n = int(pid), int(n)
    if digest != hashlib.sha256(body).hexdigest():
        sys.exit("request %d: wrong digest from worker %d" % (i, pid))
    if phase == "after" and pid not in workers:
        sys.exit("request %d answered by worker %d, not one of %s: a worker was replaced"
                 % (i, pid, sorted(workers)))
    if pid in seen and n != seen[pid] + 1:
        sys.exit("worker %d answered its request %d after %d" % (pid, n, seen[pid]))
    seen[pid] = n
    time.sleep(0.05)
json.dump(seen, open(state, "w"))
print(phase, "ok")
PY
	}
	out=$(gunicorn_client before 1 2>&1)
	[ "$out" = "before ok" ] || fail_step "before the checkpoint: $out ($(tail -n3 "$DIR/stderr"))"
	[ "$(ps -o pid= --ppid "$PID" | wc -l)" = 2 ] || fail_step "gunicorn does not run 2 workers"
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		out=$(gunicorn_client after 8 2>&1)
		[ "$out" = "after ok" ] || fail_step "after the restore: $out ($(tail -n3 "$DIR/stderr"))"
	fi
	if [ -z "$REASON" ]; then
		kill -TERM "$PID"
		app_wait_exit 15
	fi
	unset -f gunicorn_client
	app_end
}
register_case app-gunicorn app_gunicorn

# gunicorn's threaded worker (gthread, 4 threads: it keeps connections alive, in a selector of
# its own) with a client outside the tree holding a keep-alive connection, one answer got;
# dumped and restored with --tcp-established, then nothing asked for longer than the
# heartbeat's --timeout (the worker must still touch its file for the master), then the next
# request on the same connection: answered by the same worker, with its count going on.
app_gunicorn_gthread() {
	app_begin gunicorn-gthread
	app_packages python3-gunicorn curl python3 || return
	local port i cpid out
	port=$(app_free_port)
	cat >"$DIR/app.py" <<'PY'
import os, threading
served = 0
lock = threading.Lock()
def application(environ, start_response):
    global served
    with lock:
        served += 1
        text = b"%d %d %s\n" % (os.getpid(), served, threading.current_thread().name.encode())
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(text)))])
    return [text]
PY
	app_start /usr/bin/python3 -m gunicorn --chdir "$DIR" --bind "127.0.0.1:$port" \
		--workers 1 --worker-class gthread --threads 4 --keep-alive 60 --timeout 3 \
		app:application
	app_http_up "$port" ""
	timeout 40 /usr/bin/python3 - "$port" "$DIR" >"$DIR/client.txt" 2>&1 <<'PY' &
import http.client, os, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
def get():
    c.request("GET", "/")
    r = c.getresponse()
    if r.status != 200:
        sys.exit("status %d" % r.status)
    pid, n, _ = r.read().split()
    return int(pid), int(n)
pid, n = get()
sock = c.sock
open(d + "/first", "w").close()
while not os.path.exists(d + "/go"):
    time.sleep(0.02)
for i in range(1, 4):
    got = get()
    if got != (pid, n + i):
        sys.exit("answer %d after the restore: worker %d count %d, not worker %d count %d"
                 % (i, got[0], got[1], pid, n + i))
if c.sock is not sock:
    sys.exit("the keep-alive connection was not kept")
print("ok")
PY
	cpid=$!
	app_client_answered
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	[ -z "$REASON" ] && sleep 5 # longer than --timeout
	app_client_done "$cpid" "the client across the checkpoint ($(tail -n2 "$DIR/stderr"))"
	if [ -z "$REASON" ]; then
		kill -TERM "$PID"
		app_wait_exit 15
	fi
	app_end
}
register_case app-gunicorn-gthread app_gunicorn_gthread
