# Debian's lighttpd with children of its own: a FastCGI responder in perl (libfcgi-perl) that
# lighttpd spawns itself (bin-path) on a unix socket and that counts the requests it answered
# in its memory, and a CGI script (mod_cgi: a child forked and executed for each request).
# Three FastCGI requests before the checkpoint; the tree (lighttpd and its FastCGI child) is
# dumped and restored; then the counter must go on at 4, 5 (same child, same pid), the CGI
# must still run (a fork and exec from the restored lighttpd, its output piped back), and a
# POST body must come back from the FastCGI child byte for byte.
app_lighttpd_fastcgi() {
	app_begin lighttpd-fastcgi
	app_packages lighttpd libfcgi-perl curl || return
	local port i out fpid
	port=$(app_free_port)
	mkdir -p "$DIR/www"
	cat >"$DIR/count.fcgi" <<'PL'
#!/usr/bin/perl
use strict;
use FCGI;
my $req = FCGI::Request();
my $n = 0;
while ($req->Accept() >= 0) {
	$n++;
	my $body = "";
	my $len = $ENV{CONTENT_LENGTH} || 0;
	read(STDIN, $body, $len) if $len;
	binmode STDOUT;
	print "Content-Type: application/octet-stream\r\n\r\n";
	if ($len) { print $body } else { print "request $n to $$\n" }
}
PL
	printf '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\ncgi %%s\\n" "$QUERY_STRING"\n' \
		>"$DIR/www/hello.cgi"
	chmod +x "$DIR/count.fcgi" "$DIR/www/hello.cgi"
	cat >"$DIR/lighttpd.conf" <<CONF
server.modules = ( "mod_fastcgi", "mod_cgi" )
server.document-root = "$DIR/www"
server.port = $port
server.bind = "127.0.0.1"
server.errorlog = "$DIR/error.log"
cgi.assign = ( ".cgi" => "" )
fastcgi.server = ( "/count" => ( ( "socket" => "$DIR/fcgi.sock", "bin-path" => "$DIR/count.fcgi",
	"check-local" => "disable", "max-procs" => 1 ) ) )
CONF
	app_start lighttpd -D -f lighttpd.conf
	app_http_up "$port" count 5 || fail_step "lighttpd does not answer: $(cat "$DIR/error.log")"
	fpid=$(ps -o pid= --ppid "$PID" | tr -d ' ' | head -n1)
	[ -z "$REASON" ] && [ -z "$fpid" ] && fail_step "lighttpd has no FastCGI child"
	fetch() { curl -sf --max-time 10 "http://127.0.0.1:$port/$1"; }
	# app_http_up asked once
	for i in 2 3; do
		[ -z "$REASON" ] && [ "$(fetch count)" != "request $i to $fpid" ] &&
			fail_step "request $i before the checkpoint: '$(fetch count)'"
	done
	[ -z "$REASON" ] && app_checkpoint
	for i in 4 5; do
		if [ -z "$REASON" ]; then
			out=$(fetch count)
			[ "$out" = "request $i to $fpid" ] ||
				fail_step "request $i after the restore: '$out' (wanted 'request $i to $fpid')"
		fi
	done
	if [ -z "$REASON" ]; then
		out=$(fetch "hello.cgi?after")
		[ "$out" = "cgi after" ] || fail_step "the CGI after the restore: '$out'"
	fi
	if [ -z "$REASON" ]; then
		head -c 50000 /dev/urandom >"$DIR/body.bin"
		curl -sf --max-time 10 --data-binary "@$DIR/body.bin" \
			-H 'Content-Type: application/octet-stream' \
			"http://127.0.0.1:$port/count" -o "$DIR/echo.bin" &&
			cmp -s "$DIR/body.bin" "$DIR/echo.bin" ||
			fail_step "the POST body did not come back from the FastCGI child byte for byte"
	fi
	if [ -z "$REASON" ]; then
		kill -TERM "$PID"
		app_wait_exit 10
	fi
	app_end
}
register_case app-lighttpd-fastcgi app_lighttpd_fastcgi
