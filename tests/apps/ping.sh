# Debian's ping (iputils, run by root: a raw ICMP socket and a raw ICMPv6 one, with the ICMP
# filters it sets) pinging 127.0.0.1 once a second, checkpointed mid-run and restored: it goes
# on with the next sequence number, every echo request it sent is answered, and on SIGINT its
# summary counts as many replies as requests, with no sequence number twice. The dump comes
# right after a reply was printed: a reply that arrives while the tree is frozen waits in the
# raw socket, and a raw socket with a packet queued is refused (README), which a dump at a
# random instant of a faster ping meets now and then.
app_ping() {
	app_begin ping
	app_packages iputils-ping || return
	local out sent got before i
	app_start /usr/bin/ping -n -i 1 127.0.0.1
	for ((i = 0; i < 400; i++)); do
		grep -q "icmp_seq=2 " "$DIR/stdout" 2>/dev/null && break
		sleep 0.01
	done
	grep -q "icmp_seq=2 " "$DIR/stdout" || fail_step "ping did not start: $(head -c 300 "$DIR/stderr")"
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		before=$(grep -c "icmp_seq=" "$DIR/stdout")
		for ((i = 0; i < 100; i++)); do
			[ "$(grep -c "icmp_seq=" "$DIR/stdout")" -ge $((before + 3)) ] && break
			sleep 0.05
		done
		kill -INT "$PID"
		app_wait_exit 10
		out=$(cat "$DIR/stdout")
		[ "$(grep -c "icmp_seq=" <<<"$out")" -ge $((before + 3)) ] ||
			fail_step "the restored ping got no more replies: $(tail -n3 <<<"$out")"
		sent=$(sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\1/p' <<<"$out")
		got=$(sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\2/p' <<<"$out")
		[ -n "$sent" ] && [ "$sent" = "$got" ] ||
			fail_step "ping's summary: '$(grep transmitted <<<"$out")'"
		[ -z "$(grep -o 'icmp_seq=[0-9]*' <<<"$out" | sort | uniq -d)" ] ||
			fail_step "a sequence number came twice: $(grep -o 'icmp_seq=[0-9]*' <<<"$out" | sort | uniq -d | head -3)"
	fi
	app_end
}
register_case app-ping app_ping
