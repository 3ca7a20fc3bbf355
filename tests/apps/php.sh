# PHP's built-in web server (`php -S`, Debian's php-cli) with a router script: static files
# from a directory, and /count, a PHP page that adds one to a counter file and answers the
# new value with the sha1 of the body it was posted. Before the checkpoint: a static file
# and three counts by curl; then a client outside the tree sends half of a request's header
# and waits: php is dumped and restored with --tcp-established in the middle of reading it.
# After the restore that client sends the rest on the same connection and must get count 4
# with the right digest; then curl fetches the static file byte for byte and count 5 on new
# connections.
app_php() {
	app_begin php
	app_packages php-cli curl python3 || return
	local port i cpid out
	port=$(app_free_port)
	mkdir -p "$DIR/www"
	head -c 300000 /dev/urandom >"$DIR/www/blob.bin"
	echo 0 >"$DIR/counter"
	cat >"$DIR/router.php" <<'PHP'
<?php
if ($_SERVER['REQUEST_URI'] === '/count') {
	$f = fopen(__DIR__ . '/counter', 'c+');
	flock($f, LOCK_EX);
	$n = (int)stream_get_contents($f) + 1;
	ftruncate($f, 0);
	rewind($f);
	fwrite($f, "$n\n");
	fclose($f);
	header('Content-Type: text/plain');
	echo "count $n " . sha1(file_get_contents('php://input')) . "\n";
	return true;
}
return false;
PHP
	app_start /usr/bin/php -S "127.0.0.1:$port" -t "$DIR/www" "$DIR/router.php"
	for ((i = 0; i < 100; i++)); do
		curl -sf --max-time 5 -o "$DIR/before.bin" "http://127.0.0.1:$port/blob.bin" && break
		sleep 0.05
	done
	cmp -s "$DIR/before.bin" "$DIR/www/blob.bin" || fail_step "php -S did not serve blob.bin"
	for i in 1 2 3; do
		out=$(curl -sf --max-time 5 --data-binary "body $i" "http://127.0.0.1:$port/count")
		[ "$out" = "count $i $(printf 'body %s' $i | sha1sum | cut -d' ' -f1)" ] ||
			fail_step "count $i before the checkpoint: '$out'"
	done
	# the client: half a POST, then (after the file "go") the rest of it
	timeout 40 /usr/bin/python3 - "$port" "$DIR" >"$DIR/client.txt" 2>&1 <<'PY' &
import hashlib, os, socket, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
body = bytes(range(256)) * 64
s = socket.create_connection(("127.0.0.1", port), timeout=20)
s.sendall(b"POST /count HTTP/1.1\r\nHost: 127.0.0.1\r\n")
open(d + "/half", "w").close()
while not os.path.exists(d + "/go"):
    time.sleep(0.02)
s.sendall(b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
got = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
head, _, text = got.partition(b"\r\n\r\n")
want = b"count 4 " + hashlib.sha1(body).hexdigest().encode() + b"\n"
if not head.startswith(b"HTTP/1.1 200") or text != want:
    sys.exit("answer %r" % got[:300])
print("ok")
PY
	cpid=$!
	app_client_answered half "did not connect"
	sleep 0.3 # php has read the half
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	app_client_done "$cpid" "the client across the checkpoint"
	if [ -z "$REASON" ]; then
		curl -sf --max-time 10 -o "$DIR/after.bin" "http://127.0.0.1:$port/blob.bin"
		cmp -s "$DIR/after.bin" "$DIR/www/blob.bin" ||
			fail_step "blob.bin after the restore: $(stat -c %s "$DIR/after.bin" 2>/dev/null) bytes"
		out=$(curl -sf --max-time 5 --data-binary "body 5" "http://127.0.0.1:$port/count")
		[ "$out" = "count 5 $(printf 'body 5' | sha1sum | cut -d' ' -f1)" ] ||
			fail_step "count 5 after the restore: '$out'"
	fi
	app_end
}
register_case app-php app_php
