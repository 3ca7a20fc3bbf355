# Debian's uwsgi with its python3 plugin: a master (with its cache sweeper thread) and two
# worker processes serving a WSGI app over HTTP. The app counts hits in a uwsgi cache, memory
# that the master mapped shared before forking the workers (and guards with its locks), keeps
# each worker's own count in the interpreter, and stores under /put/KEY the body posted, for
# /get/KEY to answer from whichever worker. Requests before the checkpoint; the tree is dumped
# and restored. After the restore: the shared count goes on from where it was, whichever
# worker answers (so the workers still share the one cache), each worker's own count goes on,
# only the workers seen before answer, values put before the checkpoint are got back byte for
# byte, and one put after it by one worker is read back by the other.
app_uwsgi() {
	app_begin uwsgi
	app_packages uwsgi uwsgi-plugin-python3 curl python3 || return
	local port i out
	port=$(app_free_port)
	cat >"$DIR/app.py" <<'PY'
import os, uwsgi
mine = 0
def application(env, start_response):
    global mine
    path = env["PATH_INFO"]
    if path.startswith("/put/"):
        n = int(env.get("CONTENT_LENGTH") or 0)
        uwsgi.cache_update(path[5:], env["wsgi.input"].read(n), 0, "c")
        text = b"%d stored\n" % os.getpid()
    elif path.startswith("/get/"):
        text = b"%d " % os.getpid() + (uwsgi.cache_get(path[5:], "c") or b"(none)")
    else:
        mine += 1
        uwsgi.cache_inc("hits", 1, 0, "c")
        text = b"%d %d %d\n" % (os.getpid(), uwsgi.cache_num("hits", "c"), mine)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [text]
PY
	app_start /usr/bin/uwsgi --plugin python3 --http-socket "127.0.0.1:$port" --master \
		--processes 2 --chdir "$DIR" --wsgi-file app.py --die-on-term \
		--cache2 name=c,items=100,blocksize=65536 --disable-logging
	app_http_up "$port" get/nothing
	uwsgi_client() {
		timeout 60 /usr/bin/python3 - "$port" "$DIR" "$1" <<'PY'
import json, os, socket, sys, time, urllib.request
port, d, phase = int(sys.argv[1]), sys.argv[2], sys.argv[3]
base = "http://127.0.0.1:%d" % port
def ask(path, data=None):
    # a fresh connection each time: either worker may take it
    r = urllib.request.urlopen(base + path, data=data, timeout=10)
    pid, _, rest = r.read().partition(b" ")
    return int(pid), rest
def blob(k):
    return bytes((k * 7 + i) % 256 for i in range(20000 + k))
if phase == "before":
    st = {"hits": 0, "mine": {}}
    for k in range(3):
        ask("/put/k%d" % k, blob(k))
else:
    st = json.load(open(d + "/state.json"))
workers = set(st["mine"])
# at least 40 requests, and on until both workers have answered: a worker just forked may
# still be starting when the first requests come, and then the other takes them all
for i in range(400):
    if i >= 40 and len(st["mine"]) == 2:
        break
    pid, rest = ask("/")
    hits, mine = map(int, rest.split())
    if hits != st["hits"] + 1:
        sys.exit("hit %d counted %d by worker %d (shared count)" % (st["hits"] + 1, hits, pid))
    st["hits"] = hits
    p = str(pid)
    if phase == "after" and p not in workers:
        sys.exit("worker %d answered, not one of %s" % (pid, sorted(workers)))
    if p in st["mine"] and mine != st["mine"][p] + 1:
        sys.exit("worker %d counted its own request %d after %d" % (pid, mine, st["mine"][p]))
    st["mine"][p] = mine
    time.sleep(0.02)
if len(st["mine"]) != 2:
    sys.exit("answers came from %d workers, not 2" % len(st["mine"]))
if phase == "after":
    for k in range(3):
        pid, got = ask("/get/k%d" % k)
        if got != blob(k):
            sys.exit("value k%d from worker %d: %d bytes, not the %d put" % (k, pid, len(got), len(blob(k))))
    writer, _ = ask("/put/late", b"put after the restore")
    # the kernel hands each connection to the worker that waited last, so the writer would
    # take the gets back to back: from the second try on, an idle connection first keeps one
    # worker busy reading it (the one that waited last), and the get goes to the other
    for i in range(100):
        idle = None
        if i:
            idle = socket.create_connection(("127.0.0.1", port), timeout=10)
            time.sleep(0.05)
        pid, got = ask("/get/late")
        if idle:
            idle.close()
        if got != b"put after the restore":
            sys.exit("worker %d got %r for the value worker %d put" % (pid, got, writer))
        if pid != writer:
            break
        time.sleep(0.02)
    else:
        sys.exit("only worker %d answered" % writer)
json.dump(st, open(d + "/state.json", "w"))
print(phase, "ok")
PY
	}
	out=$(uwsgi_client before 2>&1)
	[ "$out" = "before ok" ] || fail_step "before the checkpoint: $out ($(tail -n3 "$DIR/stderr"))"
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		out=$(uwsgi_client after 2>&1)
		[ "$out" = "after ok" ] || fail_step "after the restore: $out ($(tail -n3 "$DIR/stderr"))"
	fi
	if [ -z "$REASON" ]; then
		kill -TERM "$PID"
		app_wait_exit 15
	fi
	unset -f uwsgi_client
	app_end
}
register_case app-uwsgi app_uwsgi
