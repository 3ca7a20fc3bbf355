# Debian's lighttpd serving a directory on 127.0.0.1, with a client outside the tree that
# holds a keep-alive connection: one request answered before the checkpoint, the server
# dumped and restored with --tcp-established, then two more requests on the same connection
# and one with curl on a new connection, each answered byte for byte.
app_lighttpd() {
	app_begin lighttpd
	app_packages lighttpd curl python3 || return
	local port i cpid out
	port=$(app_free_port)
	mkdir -p "$DIR/www"
	head -c 200000 /dev/urandom >"$DIR/www/data.bin"
	echo "served by lighttpd" >"$DIR/www/index.html"
	cat >"$DIR/lighttpd.conf" <<CONF
server.document-root = "$DIR/www"
server.port = $port
server.bind = "127.0.0.1"
server.errorlog = "$DIR/error.log"
server.max-keep-alive-idle = 60
index-file.names = ( "index.html" )
CONF
	app_start lighttpd -D -f lighttpd.conf
	app_http_up "$port" "" 5
	# the client: GET / on one connection, then (after the file "go") two more on it
	timeout 40 /usr/bin/python3 - "$port" "$DIR" >"$DIR/client.txt" 2>&1 <<'PY' &
import http.client, os, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
want = open(d + "/www/data.bin", "rb").read()
c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
def get(path, body):
    c.request("GET", path)
    r = c.getresponse()
    got = r.read()
    if r.status != 200 or got != body:
        sys.exit("%s: status %d, %d bytes" % (path, r.status, len(got)))
get("/", b"served by lighttpd\n")
sock = c.sock
open(d + "/first", "w").close()
while not os.path.exists(d + "/go"):
    time.sleep(0.02)
get("/data.bin", want)
get("/", b"served by lighttpd\n")
if c.sock is not sock:
    sys.exit("the keep-alive connection was not kept")
print("ok")
PY
	cpid=$!
	app_client_answered
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	app_client_done "$cpid" "the client"
	if [ -z "$REASON" ]; then
		curl -sf --max-time 10 -o "$DIR/after.bin" "http://127.0.0.1:$port/data.bin"
		cmp -s "$DIR/after.bin" "$DIR/www/data.bin" ||
			fail_step "a new connection after the restore got $(stat -c %s "$DIR/after.bin" 2>/dev/null) bytes of data.bin"
	fi
	app_end
}
register_case app-lighttpd app_lighttpd
