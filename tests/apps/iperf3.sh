# Debian's iperf3 server (one test, -1) with a client outside the tree sending for 5 s at
# 200 Mbit/s: the server holds the control connection and the data connection (a stream in
# progress, bytes in flight both ways) and is checkpointed with --tcp-established in the middle
# of the transfer. The client must finish without an error and the server's report (written
# by the restored server, JSON) must count exactly the bytes the client says it sent: not one
# lost or doubled across the dump.
app_iperf3() {
	app_begin iperf3
	app_packages iperf3 python3 || return
	local port cpid i sent got
	port=$(app_free_port)
	app_start /usr/bin/iperf3 -s -1 -B 127.0.0.1 -p "$port" -J
	for ((i = 0; i < 100; i++)); do
		ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && break
		sleep 0.05
	done
	timeout 40 iperf3 -c 127.0.0.1 -p "$port" -t 5 -b 200M -J >"$DIR/client.json" 2>&1 &
	cpid=$!
	sleep 1.5
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	wait "$cpid" || [ -n "$REASON" ] || fail_step "the client failed: $(grep -m1 error "$DIR/client.json")"
	[ -z "$REASON" ] && app_wait_exit 10
	if [ -z "$REASON" ]; then
		# bytes FILE: what a report says was sent (client) or received (server)
		bytes() {
			/usr/bin/python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
if "error" in j:
    sys.exit(j["error"])
print(j["end"][sys.argv[2]]["bytes"])' "$1" "$2"
		}
		sent=$(bytes "$DIR/client.json" sum_sent 2>&1)
		got=$(bytes "$DIR/stdout" sum_received 2>&1)
		[[ $sent =~ ^[0-9]+$ ]] && [ "$sent" -gt 10000000 ] ||
			fail_step "the client's report: $sent"
		[ -z "$REASON" ] && [ "$got" != "$sent" ] &&
			fail_step "the server received $got bytes, the client sent $sent"
	fi
	kill "$cpid" 2>/dev/null
	app_end
}
register_case app-iperf3 app_iperf3
