# Debian's NSD, an authoritative DNS server, in the foreground (-d) with its tree: xfrd (the
# process started), the main process its child, and two server children of that sharing the
# UDP and TCP sockets of 127.0.0.1, with pipes and unix sockets between them, and a control
# socket (nsd-control over a unix socket in the test's directory). A zone made here; dig asks
# for its records. The main process makes the socket pairs to its server children itself, so
# their peer credentials (SO_PEERCRED) name it, not the tree's root: the restore makes those
# pairs in that process again, before it creates its children. After the restore dig asks
# again over UDP and TCP, `nsd-control status` answers, then the zone file is changed and
# `nsd-control reload` reads it again (a reload forks a new process that takes over from the
# server children, talking to them over those pairs): dig gets the new serial and the new
# record, and `nsd-control stop` ends it all.
app_nsd() {
	app_begin nsd
	app_packages nsd dnsutils || return
	local port i got n
	port=$(app_free_port)
	zone() {
		cat >"$DIR/example.test.zone" <<ZONE
\$ORIGIN example.test.
\$TTL 3600
@	IN SOA ns.example.test. admin.example.test. ( $1 3600 600 86400 300 )
	IN NS ns
ns	IN A 192.0.2.1
www	IN A 192.0.2.80
txt	IN TXT "a checkpointed answer" "second string"
${2:-}
ZONE
	}
	zone 1
	cat >"$DIR/nsd.conf" <<CONF
server:
	ip-address: 127.0.0.1
	port: $port
	server-count: 2
	username: ""
	chroot: ""
	zonesdir: "$DIR"
	database: ""
	zonelistfile: "$DIR/zone.list"
	xfrdfile: "$DIR/xfrd.state"
	xfrdir: "$DIR"
	pidfile: "$DIR/nsd.pid"
	logfile: "$DIR/nsd.log"
	verbosity: 1
remote-control:
	control-enable: yes
	control-interface: "$DIR/nsd.ctl"
zone:
	name: example.test
	zonefile: example.test.zone
CONF
	app_start /usr/sbin/nsd -d -c "$DIR/nsd.conf"
	ask() {
		dig +short +time=5 +tries=1 @127.0.0.1 -p "$port" "$@" 2>&1
	}
	ctl() { timeout 20 nsd-control -c "$DIR/nsd.conf" "$@" 2>&1; }
	app_dns_up "$port"
	got=$(ask www.example.test A)
	[ "$got" = 192.0.2.80 ] || fail_step "nsd answered '$got' before the checkpoint: $(tail -n3 "$DIR/nsd.log" "$DIR/stderr")"
	n=$(ps -o pid= -s "$PID" | wc -l)
	[ -z "$REASON" ] && [ "$n" != 4 ] && fail_step "nsd runs as $n processes, not 4: $(ps -o pid=,ppid= -s "$PID")"
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		n=$(ps -o pid= -s "$PID" | wc -l)
		[ "$n" != 4 ] && fail_step "nsd runs as $n processes after the restore, not 4"
	fi
	[ -z "$REASON" ] && app_dns_check "$port" "after the restore"
	if [ -z "$REASON" ]; then
		got=$(ctl status)
		grep -q '^version:' <<<"$got" || fail_step "nsd-control status after the restore: $got"
	fi
	if [ -z "$REASON" ]; then
		zone 2 'new	IN A 192.0.2.99'
		got=$(ctl reload example.test)
		[ "$got" = ok ] || fail_step "nsd-control reload after the restore: $got"
		for ((i = 0; i < 100; i++)); do
			[ "$(ask new.example.test A)" = 192.0.2.99 ] && break
			sleep 0.1
		done
		got=$(ask new.example.test A)
		[ -z "$REASON" ] && [ "$got" != 192.0.2.99 ] && fail_step "the new record after the reload: '$got' $(tail -n3 "$DIR/nsd.log")"
		got=$(ask +tcp example.test SOA)
		[ -z "$REASON" ] && [ "$(awk '{ print $3 }' <<<"$got")" != 2 ] && fail_step "the serial after the reload: '$got'"
		got=$(ask www.example.test A)
		[ -z "$REASON" ] && [ "$got" != 192.0.2.80 ] && fail_step "www after the reload: '$got'"
	fi
	if [ -z "$REASON" ]; then
		got=$(ctl stop)
		[ "$got" = ok ] || fail_step "nsd-control stop: $got"
		app_wait_exit 20
	fi
	app_end
}
register_case app-nsd app_nsd
