# Debian's dnsmasq answering DNS on 127.0.0.1 (UDP and TCP listeners, a netlink socket for
# the interfaces, its signal pipe) from a hosts file: asked once, checkpointed, restored,
# then asked over UDP and TCP by dig: the answers are the file's.
# dnsmasq_up PORT [OPTION...]: dnsmasq on 127.0.0.1:PORT from $DIR/hosts, started and asked
# before.test until it answers 10.1.2.3
dnsmasq_up() {
	local port=$1 i got
	shift
	app_start /usr/sbin/dnsmasq -k -C /dev/null --no-resolv --no-hosts --addn-hosts="$DIR/hosts" \
		--listen-address=127.0.0.1 --port="$port" --pid-file= --user=root \
		--log-facility="$DIR/dnsmasq.log" "$@"
	for ((i = 0; i < 100; i++)); do
		got=$(dig +short +time=1 +tries=1 @127.0.0.1 -p "$port" before.test 2>/dev/null)
		[ "$got" = 10.1.2.3 ] && return 0
		sleep 0.05
	done
	fail_step "dnsmasq answered '$got' before the checkpoint"
}

app_dnsmasq() {
	app_begin dnsmasq
	app_packages dnsmasq-base dnsutils || return
	local port got
	port=$(app_free_port)
	printf '10.1.2.3 before.test\n10.4.5.6 after.test\n' >"$DIR/hosts"
	dnsmasq_up "$port" --bind-interfaces
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		got=$(dig +short +time=5 +tries=1 @127.0.0.1 -p "$port" after.test 2>&1)
		[ "$got" = 10.4.5.6 ] || fail_step "over UDP after the restore: '$got'"
		got=$(dig +short +tcp +time=5 +tries=1 @127.0.0.1 -p "$port" before.test 2>&1)
		[ -z "$REASON" ] && [ "$got" != 10.1.2.3 ] && fail_step "over TCP after the restore: '$got'"
		alive "$PID" || fail_step "the restored dnsmasq is gone"
	fi
	app_end
}
register_case app-dnsmasq app_dnsmasq

# The same dnsmasq on the wildcard address, as Debian's default runs it (one UDP socket on
# 0.0.0.0 that asks each query's destination and interface, IP_PKTINFO, to answer from the
# address the query was sent to), with a query queued at the checkpoint: dnsmasq is stopped
# (SIGSTOP), dig asks queued.test, and the query waits in its socket while it is dumped and
# restored. Continued after the restore, dnsmasq answers that very query, from 127.0.0.1 to
# the port dig asked from: dig, which never stopped waiting, prints the hosts file's answer.
app_dnsmasq_queued() {
	app_begin dnsmasq-queued
	app_packages dnsmasq-base dnsutils || return
	local port got dig_pid
	port=$(app_free_port)
	printf '10.1.2.3 before.test\n10.7.8.9 queued.test\n' >"$DIR/hosts"
	dnsmasq_up "$port"
	if [ -z "$REASON" ]; then
		kill -STOP "$PID"
		dig +short +time=20 +tries=1 @127.0.0.1 -p "$port" queued.test >"$DIR/queued.out" 2>&1 &
		dig_pid=$!
		sleep 0.3
		app_checkpoint
		[ -z "$REASON" ] && kill -CONT "$PID"
		wait "$dig_pid"
		got=$(cat "$DIR/queued.out")
		[ -z "$REASON" ] && [ "$got" != 10.7.8.9 ] &&
			fail_step "the query queued at the checkpoint was answered '$got'"
	fi
	if [ -z "$REASON" ]; then
		got=$(dig +short +time=5 +tries=1 @127.0.0.1 -p "$port" before.test 2>&1)
		[ "$got" = 10.1.2.3 ] || fail_step "over UDP after the restore: '$got'"
	fi
	app_end
}
register_case app-dnsmasq-queued app_dnsmasq_queued
