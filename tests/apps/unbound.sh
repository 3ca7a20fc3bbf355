# Debian's unbound, a caching resolver (two threads, UDP and TCP listeners on 127.0.0.1), with
# a stub zone test. served by a tiny authoritative server outside the tree (python) that gives
# each query it sees the next address, 10.9.0.1, 10.9.0.2..., with a TTL of an hour, and
# notes each. dig asks unbound for a.test, which it asks the stub and caches; unbound is
# checkpointed and restored; then dig asks again, over UDP and TCP: the answer must be the
# cached 10.9.0.1 (with its TTL counting down, not reset), and the stub must not have been
# asked again, while a name not cached (b.test) is fetched as usual.
app_unbound() {
	app_begin unbound
	app_packages unbound dnsutils python3 || return
	local port sport spid i got ttl
	port=$(app_free_port)
	sport=$(app_free_port)
	/usr/bin/python3 "$TESTS/tools/dns_stub.py" "$sport" "$DIR/asked.txt" >"$DIR/stub.txt" 2>&1 &
	spid=$!
	cat >"$DIR/unbound.conf" <<CFG
server:
	interface: 127.0.0.1
	port: $port
	do-ip6: no
	do-daemonize: no
	chroot: ""
	username: ""
	directory: "$DIR"
	pidfile: ""
	use-syslog: no
	logfile: "$DIR/unbound.log"
	num-threads: 2
	module-config: "iterator"
	access-control: 127.0.0.0/8 allow
	do-not-query-localhost: no
	qname-minimisation: no
	prefetch: no
	domain-insecure: "test."
	# test. is one of the names unbound answers itself by default (RFC 6761)
	local-zone: "test." nodefault
stub-zone:
	name: "test."
	stub-addr: 127.0.0.1@$sport
remote-control:
	control-enable: no
CFG
	app_start /usr/sbin/unbound -d -c "$DIR/unbound.conf"
	# ask NAME [DIG-OPTION...]: the address and TTL unbound answers
	ask() {
		dig +noall +answer +time=5 +tries=1 @127.0.0.1 -p "$port" "$@" A 2>&1 |
			awk '{ print $5, $2 }'
	}
	for ((i = 0; i < 200; i++)); do
		ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && break
		sleep 0.05
	done
	got=$(ask a.test)
	[ "${got% *}" = 10.9.0.1 ] || fail_step "unbound answered '$got' for a.test before the checkpoint"
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
			fail_step "the stub was asked for a.test $(grep -c '^a.test 1$' "$DIR/asked.txt") times (the cache was lost)"
		kill -TERM "$PID"
		app_wait_exit 10
	fi
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	app_end
}
register_case app-unbound app_unbound
