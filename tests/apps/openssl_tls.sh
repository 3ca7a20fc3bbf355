# shellcheck shell=bash
# Debian's `openssl s_server -rev` (a TLS server that answers each line reversed) with a
# client outside the tree, `openssl s_client`, connected through the checkpoint: the server is
# dumped and restored with --tcp-established while the client keeps sending a line every
# 50 ms. The TLS session lives in the server's memory (keys, sequence numbers): one byte
# or record lost, doubled or out of place and the client's TLS layer fails. Every line must
# come back reversed, in order.
app_openssl_tls() {
	app_begin openssl-tls
	app_packages openssl || return
	local port i n
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$DIR/key.pem" -out "$DIR/cert.pem" \
		-days 1 -subj /CN=127.0.0.1 >"$DIR/req.txt" 2>&1 || {
		fail_step "openssl req failed: $(tail -n1 "$DIR/req.txt")"
		app_end
		return
	}
	port=$(app_free_port)
	app_start /usr/bin/openssl s_server -accept "127.0.0.1:$port" -cert "$DIR/cert.pem" \
		-key "$DIR/key.pem" -rev
	for ((i = 0; i < 100; i++)); do
		ss -ltn 2>/dev/null | grep -q "127.0.0.1:$port " && break
		sleep 0.05
	done
	# the client: 120 lines, one every 50 ms; what comes back goes to client.txt
	(for ((n = 1; n <= 120; n++)); do
		echo "line $n of the client"
		sleep 0.05
	done
	# the last answers arrive before stdin's end closes the connection
	sleep 1) | timeout 30 "$BUILD/tools/closefds" setsid openssl s_client -connect "127.0.0.1:$port" \
		-quiet -no_ign_eof >"$DIR/client.txt" 2>"$DIR/client.err" &
	local cpid=$!
	sleep 1.5
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	wait "$cpid"
	if [ -z "$REASON" ]; then
		n=$(grep -c "^tneilc eht fo [0-9]* enil$" "$DIR/client.txt")
		[ "$n" = 120 ] || fail_step "the client got $n answers of 120: $(tail -n2 "$DIR/client.err")"
		for ((i = 1; i <= 120; i++)); do
			[ "$(sed -n "${i}p" "$DIR/client.txt")" = "$(echo "line $i of the client" | rev)" ] ||
				{ fail_step "answer $i is '$(sed -n "${i}p" "$DIR/client.txt")'"; break; }
		done
		alive "$PID" || fail_step "the restored server is gone"
	fi
	app_end
}
register_case app-openssl-tls app_openssl_tls
