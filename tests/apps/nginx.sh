# Debian's nginx (nginx-light) as it runs in production: a master (root) and two workers
# (nobody), in the foreground (`daemon off;`, so the master is the root of the tree cryo is
# given), with a configuration, pid file and logs of its own and a port of its own on
# 127.0.0.1. Each worker waits in epoll_wait on the listener inherited from the master, with
# an eventfd (its thread pool's notifier) and channel socket pairs to the master; the master
# waits in sigsuspend. curl fetches a static page, then cryo dumps the tree with -R (nginx
# must go on serving), then dumps it and restores it: several fetches, each byte for byte
# (and two more after a second generation: the restored tree dumped and restored again),
# `nginx -s quit` (a SIGQUIT the restored master handles, telling its workers over their
# channels) stops the whole tree, and the access log has every request made after the
# restore, written through the descriptor the master opened before the dump.
app_nginx() {
	app_begin nginx
	app_packages nginx-light curl python3 || return
	if [ "$(id -u)" != 0 ]; then
		skip "$APP" "needs root (a master that starts its workers as nobody)"
		return
	fi
	local www port i n before p workers
	# the files the workers (nobody) serve, where nobody can read them
	www=$(mktemp -d /tmp/cryo-nginx.XXXXXX)
	chmod 755 "$www"
	head -c 300000 /dev/urandom >"$www/data.bin"
	echo "served by nginx" >"$www/index.html"
	chmod 644 "$www"/*
	port=$(app_free_port)
	cat >"$DIR/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 2;
pid $DIR/nginx.pid;
error_log $DIR/error.log info;
events { worker_connections 64; }
http {
	access_log $DIR/access.log;
	client_body_temp_path $DIR/tmp-body;
	proxy_temp_path $DIR/tmp-proxy;
	fastcgi_temp_path $DIR/tmp-fastcgi;
	uwsgi_temp_path $DIR/tmp-uwsgi;
	scgi_temp_path $DIR/tmp-scgi;
	server {
		listen 127.0.0.1:$port;
		root $www;
	}
}
EOF
	ngx() { timeout 10 /usr/sbin/nginx -c "$DIR/nginx.conf" -p "$DIR" -e "$DIR/error.log" "$@"; }
	# fetch N: N fetches of data.bin, each compared with the file
	fetch() {
		local k
		for ((k = 0; k < $1; k++)); do
			rm -f "$DIR/got.bin"
			curl -sf --max-time 10 -o "$DIR/got.bin" "http://127.0.0.1:$port/data.bin" &&
				cmp -s "$DIR/got.bin" "$www/data.bin" || return 1
		done
	}
	app_start /usr/sbin/nginx -c "$DIR/nginx.conf" -p "$DIR" -e "$DIR/error.log"
	for ((i = 0; i < 100; i++)); do
		[ "$(curl -s --max-time 2 "http://127.0.0.1:$port/index.html")" = "served by nginx" ] && break
		sleep 0.05
	done
	[ "$(curl -s --max-time 5 "http://127.0.0.1:$port/index.html")" = "served by nginx" ] ||
		fail_step "nginx does not serve: $(tail -n3 "$DIR/error.log" 2>/dev/null)"
	n=$(ps -o pid= --ppid "$PID" 2>/dev/null | wc -l)
	[ -z "$REASON" ] && [ "$n" != 2 ] && fail_step "the master has $n workers, not 2"
	[ -z "$REASON" ] && [ "$(cat "$DIR/nginx.pid" 2>/dev/null)" != "$PID" ] &&
		fail_step "nginx.pid is '$(cat "$DIR/nginx.pid" 2>/dev/null)', not the master $PID"
	sleep 0.3
	if [ -z "$REASON" ]; then
		dump "$DIR/img-r" -R
		alive "$PID" || fail_step "the master is gone after dump -R"
		[ -z "$REASON" ] && ! fetch 2 && fail_step "after dump -R nginx does not serve data.bin"
	fi
	sleep 0.3
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		before=$(wc -l <"$DIR/access.log")
		n=$(ps -o pid= --ppid "$PID" 2>/dev/null | wc -l)
		[ "$n" = 2 ] || fail_step "after the restore the master has $n workers, not 2"
		[ -z "$REASON" ] && ! fetch 5 &&
			fail_step "after the restore data.bin came back wrong ($(stat -c %s "$DIR/got.bin" 2>/dev/null) bytes; error.log: $(tail -n2 "$DIR/error.log"))"
		[ -z "$REASON" ] && [ "$(curl -s --max-time 5 "http://127.0.0.1:$port/index.html")" != "served by nginx" ] &&
			fail_step "after the restore index.html is not served"
	fi
	if [ -z "$REASON" ]; then
		# the access log is written when a request ends: give the workers a moment
		for ((i = 0; i < 50; i++)); do
			[ $(($(wc -l <"$DIR/access.log") - before)) -ge 6 ] && break
			sleep 0.05
		done
		n=$(tail -n +"$((before + 1))" "$DIR/access.log" | grep -c '"GET /data.bin HTTP/1.1" 200 300000')
		[ "$n" = 5 ] || fail_step "the access log has $n of the 5 fetches of data.bin after the restore"
	fi
	# a second generation: the restored tree dumped and restored again serves on
	[ -z "$REASON" ] && dump "$DIR/img2" && gone_after_dump && restore "$DIR/img2"
	[ -z "$REASON" ] && ! fetch 2 && fail_step "after the second restore data.bin came back wrong"
	if [ -z "$REASON" ]; then
		workers=$(ps -o pid= --ppid "$PID")
		ngx -s quit || fail_step "nginx -s quit failed"
		wait_gone "$PID" 20 || fail_step "the master did not exit on nginx -s quit"
		for p in $workers; do
			alive "$p" && fail_step "worker $p still runs after the master exited"
		done
		grep -q "#$PID: exit" "$DIR/error.log" ||
			fail_step "the error log does not say the master exited"
		[ -e "$DIR/nginx.pid" ] && fail_step "the master left its pid file"
	fi
	rm -rf "$www"
	app_end
}
register_case app-nginx app_nginx
