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
