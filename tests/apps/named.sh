# Debian's BIND 9 named as a caching resolver (-g: in the foreground, the root of the tree;
# libuv's event loops on two threads, UDP and TCP listeners on 127.0.0.1) forwarding the
# zone test. to a tiny server outside the tree (python) that gives each query it sees the
# next address, 10.9.0.1, 10.9.0.2..., with a TTL of an hour, and notes each. dig asks named
# for a.test, which it forwards and caches; named is checkpointed and restored; then dig asks
# again, over UDP and TCP: the answer must be the cached 10.9.0.1 with its TTL counting
# down, and the forwarder must not have been asked again, while b.test is fetched as usual.
app_named() {
	app_begin named
	app_packages bind9 dnsutils python3 || return
	local port sport spid i got ttl
	port=$(app_free_port)
	sport=$(app_free_port)
	/usr/bin/python3 "$TESTS/tools/dns_stub.py" "$sport" "$DIR/asked.txt" >"$DIR/stub.txt" 2>&1 &
	spid=$!
	cat >"$DIR/named.conf" <<CFG
options {
	directory "$DIR";
	listen-on port $port { 127.0.0.1; };
	listen-on-v6 { none; };
	pid-file "$DIR/named.pid";
	session-keyfile "$DIR/session.key";
	managed-keys-directory "$DIR";
	recursion yes;
	allow-query { 127.0.0.1; };
	dnssec-validation no;
	edns-udp-size 1232;
};
// the forwarder speaks plain DNS, without EDNS
server 127.0.0.1 { edns no; };
zone "test" {
	type forward;
	forward only;
	forwarders { 127.0.0.1 port $sport; };
};
controls { };
CFG
	app_start /usr/sbin/named -g -n 2 -c "$DIR/named.conf"
	ask() {
		dig +noall +answer +time=5 +tries=1 @127.0.0.1 -p "$port" "$@" A 2>&1 |
			awk '{ print $5, $2 }'
	}
	for ((i = 0; i < 200; i++)); do
		ss -Hlun "sport = :$port" 2>/dev/null | grep -q . && break
		sleep 0.05
	done
	got=$(ask a.test)
	[ "${got% *}" = 10.9.0.1 ] || fail_step "named answered '$got' for a.test before the checkpoint: $(tail -n2 "$DIR/stderr")"
	sleep 1.2
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		got=$(ask a.test)
		ttl=${got#* }
		[ "${got% *}" = 10.9.0.1 ] || fail_step "a.test over UDP after the restore: '$got'"
		[ -z "$REASON" ] && ! { [ "$ttl" -lt 3600 ] && [ "$ttl" -gt 3500 ]; } &&
			fail_step "a.test came back with a TTL of $ttl"
		got=$(ask +tcp a.test)
		[ -z "$REASON" ] && [ "${got% *}" != 10.9.0.1 ] && fail_step "a.test over TCP after the restore: '$got'"
		got=$(ask b.test)
		[ -z "$REASON" ] && [ "${got% *}" != 10.9.0.2 ] && fail_step "b.test after the restore: '$got'"
		[ -z "$REASON" ] && [ "$(grep -c '^a.test 1$' "$DIR/asked.txt")" != 1 ] &&
			fail_step "the forwarder was asked for a.test $(grep -c '^a.test 1$' "$DIR/asked.txt") times (the cache was lost)"
		kill -TERM "$PID"
		app_wait_exit 10
	fi
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	app_end
}
register_case app-named app_named
