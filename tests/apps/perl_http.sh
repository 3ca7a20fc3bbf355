# A small HTTP server in Debian's perl, given with -e (IO::Socket::INET and IO::Select: one
# process, every connection in one select loop, a buffer of its own for each): /count adds
# one to a counter, POST /store/KEY keeps the body in a hash, GET /store/KEY answers it;
# connections are kept alive. A client outside the tree, on one connection, counts, stores a
# 60 KB value, then sends the header and half the body of a second store, and perl is dumped
# and restored with --tcp-established with that half in its buffer. After the restore the
# client sends the other half on the same connection; both values must come back byte for
# byte and the count go on; curl on a new connection counts too.
app_perl_http() {
	app_begin perl-http
	app_packages perl curl python3 || return
	local port i cpid out prog
	port=$(app_free_port)
	# shellcheck disable=SC2016 # perl's own $variables
	prog='
use IO::Socket::INET; use IO::Select;
my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ARGV[0], Listen => 16,
	ReuseAddr => 1) or die "listen: $!";
my $sel = IO::Select->new($l); my (%buf, %store); my $count = 0;
sub answer { my ($c, $body) = @_;
	print $c "HTTP/1.1 200 OK\r\nContent-Length: " . length($body) . "\r\n\r\n" . $body; }
while (1) {
	for my $c ($sel->can_read) {
		if ($c == $l) { my $n = $l->accept; $n->autoflush(1); $sel->add($n); $buf{$n} = ""; next; }
		my $r = sysread($c, my $data, 65536);
		if (!$r) { $sel->remove($c); delete $buf{$c}; close $c; next; }
		$buf{$c} .= $data;
		while ($buf{$c} =~ /\A(\w+) (\S+) HTTP\/1\.1\r\n(.*?)\r\n\r\n/s) {
			my ($m, $path, $head, $start) = ($1, $2, $3, $+[0]);
			my $len = $head =~ /^Content-Length: *(\d+)/mi ? $1 : 0;
			last if length($buf{$c}) < $start + $len;
			my $body = substr($buf{$c}, $start, $len);
			substr($buf{$c}, 0, $start + $len) = "";
			if ($path eq "/count") { answer($c, "count " . ++$count . "\n"); }
			elsif ($path =~ m{^/store/(\w+)$} && $m eq "POST") { $store{$1} = $body;
				answer($c, "stored " . length($body) . "\n"); }
			elsif ($path =~ m{^/store/(\w+)$}) { answer($c, $store{$1} // ""); }
			else { answer($c, "?\n"); }
		}
	}
}'
	app_start /usr/bin/perl -e "$prog" "$port"
	for ((i = 0; i < 200; i++)); do
		out=$(curl -sf --max-time 5 "http://127.0.0.1:$port/count") && break
		sleep 0.05
	done
	[ "$out" = "count 1" ] || fail_step "the first count: '$out' ($(head -c 300 "$DIR/stderr"))"
	timeout 40 /usr/bin/python3 - "$port" "$DIR" >"$DIR/client.txt" 2>&1 <<'PY' &
import os, socket, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=20)
f = s.makefile("rb")
def answer():
    status = f.readline()
    n = None
    while True:
        h = f.readline()
        if h == b"\r\n":
            break
        if h.lower().startswith(b"content-length:"):
            n = int(h.split(b":")[1])
    if not status.startswith(b"HTTP/1.1 200") or n is None:
        sys.exit("answer %r" % status)
    return f.read(n)
def req(method, path, body=b""):
    return b"%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (method, path, len(body)) + body
def check(got, want, what):
    if got != want:
        sys.exit("%s: %r (%d bytes), wanted %d bytes" % (what, got[:60], len(got), len(want)))
v1 = bytes(range(256)) * 240
v2 = os.urandom(90000)
s.sendall(req(b"GET", b"/count"))
check(answer(), b"count 2\n", "count 2")
s.sendall(req(b"POST", b"/store/one", v1))
check(answer(), b"stored %d\n" % len(v1), "storing one")
second = req(b"POST", b"/store/two", v2)
half = len(second) // 2
s.sendall(second[:half])
open(d + "/half", "w").close()
while not os.path.exists(d + "/go"):
    time.sleep(0.02)
s.sendall(second[half:])
check(answer(), b"stored %d\n" % len(v2), "storing two")
s.sendall(req(b"GET", b"/store/one") + req(b"GET", b"/store/two") + req(b"GET", b"/count"))
check(answer(), v1, "value one")
check(answer(), v2, "value two")
check(answer(), b"count 3\n", "count 3")
print("ok")
PY
	cpid=$!
	app_client_answered half "did not get to the half"
	sleep 0.3 # perl has read the half
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	app_client_done "$cpid" "the client across the checkpoint"
	if [ -z "$REASON" ]; then
		out=$(curl -sf --max-time 5 "http://127.0.0.1:$port/count")
		[ "$out" = "count 4" ] || fail_step "a new connection after the restore: '$out'"
	fi
	app_end
}
register_case app-perl-http app_perl_http
