# iproute2's `ip monitor link`: a netlink route socket subscribed to the link group, as
# network daemons and scripts watch interfaces. Checkpointed (dump, restore), then a veth pair
# is made and removed: the restored monitor must print both new links and the removal, so
# its group membership came back with its socket.
app_ip_monitor() {
	app_begin ip-monitor
	app_packages iproute2 || return
	local a=zt$$a b=zt$$b
	app_start ip monitor link
	sleep 0.3
	app_checkpoint
	if [ -z "$REASON" ]; then
		ip link add "$a" type veth peer name "$b" >"$DIR/ip.txt" 2>&1 ||
			fail_step "cannot make a veth pair: $(cat "$DIR/ip.txt")"
		ip link del "$a" >>"$DIR/ip.txt" 2>&1
		local i
		for ((i = 0; i < 50; i++)); do
			grep -q "Deleted.*$a" "$DIR/stdout" && break
			sleep 0.1
		done
		grep -q ": $a@" "$DIR/stdout" && grep -q ": $b@" "$DIR/stdout" ||
			fail_step "the restored monitor did not print the new links: $(head -c 300 "$DIR/stdout")"
		grep -q "Deleted.*$a" "$DIR/stdout" ||
			fail_step "the restored monitor did not print the removal"
	fi
	ip link del "$a" 2>/dev/null
	app_end
}
register_case app-ip-monitor app_ip_monitor
