# Debian's Apache httpd in the foreground (-D FOREGROUND: the parent is the root of the tree)
# with its event MPM (two children of worker threads and a listener thread each, which also
# watches the kept-alive connections) and, as app-apache2-prefork, its prefork MPM (a child
# process per connection, taking turns at accept). The children run as www-data; the
# scoreboard (the counters mod_status shows) is memory the parent shares with them. A client
# outside the tree holds a keep-alive connection through the checkpoint (--tcp-established)
# and asks for a file on it after the restore; curl fetches it five times more on new
# connections, byte for byte; and server-status's Total Accesses goes on counting from
# where it was: exactly the requests made since, not from zero, not lost.
app_apache2() {
	app_begin apache2
	app_packages apache2 curl python3 || return
	if [ "$(id -u)" != 0 ]; then
		skip "$APP" "needs root (a parent that starts its children as www-data)"
		return
	fi
	local www port i mpm cpid out before after n
	mpm=event
	[ "${APP_VARIANT:-}" = prefork ] && mpm=prefork
	www=$(mktemp -d /tmp/cryo-apache2.XXXXXX)
	chmod 755 "$www"
	head -c 300000 /dev/urandom >"$www/data.bin"
	echo "served by apache2" >"$www/index.html"
	chmod 644 "$www"/*
	port=$(app_free_port)
	mkdir -p "$DIR/run"
	cat >"$DIR/apache2.conf" <<CFG
ServerRoot $DIR
ServerName 127.0.0.1
DefaultRuntimeDir $DIR/run
PidFile $DIR/run/apache2.pid
Listen 127.0.0.1:$port
LoadModule mpm_${mpm}_module /usr/lib/apache2/modules/mod_mpm_${mpm}.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule status_module /usr/lib/apache2/modules/mod_status.so
User www-data
Group www-data
ErrorLog $DIR/error.log
LogLevel info
DocumentRoot $www
KeepAlive On
KeepAliveTimeout 60
MaxKeepAliveRequests 0
StartServers 2
ServerLimit 2
MinSpareThreads 4
MaxSpareThreads 8
ThreadsPerChild 4
MaxRequestWorkers 8
ExtendedStatus On
<Directory $www>
	Require all granted
</Directory>
<Location /server-status>
	SetHandler server-status
	Require all granted
</Location>
CFG
	# prefork: two processes, no threads (and a directive of its own for their number)
	[ "$mpm" = prefork ] && sed -i '/ThreadsPerChild\|MinSpareThreads\|MaxSpareThreads/d; s/^MaxRequestWorkers 8/MaxRequestWorkers 2\nMinSpareServers 2\nMaxSpareServers 2/' "$DIR/apache2.conf"
	# accesses: the Total Accesses of server-status (this request not counted yet)
	accesses() {
		curl -sf --max-time 5 "http://127.0.0.1:$port/server-status?auto" |
			awk -F': ' '$1 == "Total Accesses" { print $2 }'
	}
	fetch() {
		local k
		for ((k = 0; k < $1; k++)); do
			rm -f "$DIR/got.bin"
			curl -sf --max-time 10 -o "$DIR/got.bin" "http://127.0.0.1:$port/data.bin" &&
				cmp -s "$DIR/got.bin" "$www/data.bin" || return 1
		done
	}
	app_start /usr/sbin/apache2 -D FOREGROUND -f "$DIR/apache2.conf"
	for ((i = 0; i < 200; i++)); do
		[ "$(curl -s --max-time 2 "http://127.0.0.1:$port/index.html")" = "served by apache2" ] && break
		sleep 0.05
	done
	[ "$(curl -s --max-time 5 "http://127.0.0.1:$port/index.html")" = "served by apache2" ] ||
		fail_step "apache2 does not serve: $(tail -n3 "$DIR/error.log" 2>/dev/null)"
	# the workers all started (the scoreboard settles)
	sleep 1
	timeout 40 /usr/bin/python3 - "$port" "$DIR" "$www" >"$DIR/client.txt" 2>&1 <<'PY' &
import http.client, os, sys, time
port, d, www = int(sys.argv[1]), sys.argv[2], sys.argv[3]
want = open(www + "/data.bin", "rb").read()
c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
def get(path, body):
    c.request("GET", path)
    r = c.getresponse()
    got = r.read()
    if r.status != 200 or got != body:
        sys.exit("%s: status %d, %d bytes" % (path, r.status, len(got)))
get("/index.html", b"served by apache2\n")
sock = c.sock
open(d + "/first", "w").close()
while not os.path.exists(d + "/go"):
    time.sleep(0.02)
get("/data.bin", want)
if c.sock is not sock:
    sys.exit("the keep-alive connection was not kept")
print("ok")
PY
	cpid=$!
	app_client_answered
	before=$(accesses)
	[ -z "$REASON" ] && ! [[ $before =~ ^[0-9]+$ ]] && fail_step "server-status: '$before'"
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	app_client_done "$cpid" "the kept client"
	[ -z "$REASON" ] && ! fetch 5 && fail_step "after the restore data.bin came back wrong"
	if [ -z "$REASON" ]; then
		# the status request that read $before, the kept client's, five fetches
		after=$(accesses)
		[ "$after" = $((before + 7)) ] ||
			fail_step "Total Accesses was $before before the dump, $after after 7 requests"
		n=$(pgrep -c -P "$PID")
		[ -z "$REASON" ] && [ "$n" != 2 ] && fail_step "the parent has $n children after the restore, not 2"
		kill -TERM "$PID"
		app_wait_exit 15
	fi
	kill "$cpid" 2>/dev/null
	rm -rf "$www"
	app_end
}
register_case app-apache2 app_apache2
app_variant prefork apache2
