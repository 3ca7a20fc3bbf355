# Debian's BIRD 2 routing daemon (netlink route sockets: one it asks, one it hears the
# kernel's changes on; its control socket, a unix listener at a path) with two static routes
# and a kernel protocol that learns the host's routes but exports nothing (the host's table is
# left alone), scanning the kernel's table every second over netlink. Checkpointed while
# idle: after the restore birdc reaches it on the same socket, its routes and protocols are
# as before, scans go on without a netlink error, and `birdc configure` reads a new
# configuration with a third static route, which it then has.
app_bird2() {
	app_begin bird2
	app_packages bird2 || return
	local out before i
	# bird_conf N: the configuration with N static routes
	bird_conf() {
		{
			echo 'log stderr all;'
			echo 'router id 192.0.2.1;'
			echo 'protocol device { scan time 10; }'
			echo 'protocol kernel k4 { ipv4 { import all; export none; }; scan time 1; learn; }'
			echo 'protocol static s1 { ipv4;'
			for ((i = 1; i <= $1; i++)); do
				echo "  route 198.51.100.$((i * 16))/28 blackhole;"
			done
			echo '}'
		} >"$DIR/bird.conf"
	}
	bird_ctl() { timeout 10 birdc -s "$DIR/bird.ctl" "$@" 2>&1; }
	bird_conf 2
	app_start /usr/sbin/bird -f -c "$DIR/bird.conf" -s "$DIR/bird.ctl"
	for ((i = 0; i < 200; i++)); do
		bird_ctl show status | grep -q 'Daemon is up and running' && break
		sleep 0.05
	done
	before=$(bird_ctl show route count | grep 'routes for')
	[ -n "$before" ] || fail_step "birdc got no route count: $(bird_ctl show route count)"
	sleep 1.2
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		out=$(bird_ctl show route count | grep 'routes for')
		[ "$out" = "$before" ] || fail_step "the route count after the restore: '$out', not '$before'"
		out=$(bird_ctl show protocols | awk '$1 ~ /^(device1|k4|s1)$/ { print $1, $4 }' | sort | tr '\n' ' ')
		[ -z "$REASON" ] && [ "$out" != "device1 up k4 up s1 up " ] &&
			fail_step "the protocols after the restore: '$out'"
		# two scans of the kernel's table by the restored daemon
		sleep 2.2
		bird_conf 3
		out=$(bird_ctl configure)
		[ -z "$REASON" ] && ! grep -q 'Reconfigured' <<<"$out" && fail_step "birdc configure: $out"
		out=$(bird_ctl show route for 198.51.100.48/28)
		[ -z "$REASON" ] && ! grep -q 'blackhole' <<<"$out" &&
			fail_step "the third static route after configure: $out"
		[ -z "$REASON" ] && grep -Eqi 'netlink.*(error|fail)|cannot' "$DIR/stderr" &&
			fail_step "bird logged: $(grep -Ei 'netlink|cannot' "$DIR/stderr" | head -n2)"
		bird_ctl down >/dev/null
		app_wait_exit 10
	fi
	app_end
}
register_case app-bird2 app_bird2
