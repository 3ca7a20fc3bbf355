# shellcheck shell=bash
# netpkt-refused: netlink and packet socket state cryo cannot restore (tests/progs/
# netpkt_refused.c): a netlink socket with a message queued, a NETLINK_GENERIC socket, a
# packet socket with a PACKET_RX_RING, one with two frames queued, one in a fanout group with a
# socket of a process outside the tree. The dump, with -R and
# without, fails naming each by task, fd and what (the bytes queued), leaves no inventory.img,
# and the target runs on with its message, frames and ring.
# netlink-port-taken: netlink_sk dumped, then the port id of its route monitor taken by a
# netlink socket of another process: the restore fails naming the port id, leaves no process
# with the test's pid, and once the port is free the same images restore and pass.
# packet-iface: below.

netpkt_refused_one() {
	local mode=$1 t0 q gen ring pq fo group
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/netpkt-refused/$mode
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if start_test netpkt_refused; then
		read -r q gen ring pq fo group < <(sed -n 's/^zt: queued fd \([0-9]*\), generic fd \([0-9]*\), ring fd \([0-9]*\), packets fd \([0-9]*\), fanout fd \([0-9]*\) group \([0-9]*\)$/\1 \2 \3 \4 \5 \6/p' "$DIR/out.txt")
		[ -n "$group" ] || fail_step "netpkt_refused did not say its fds"
		# shellcheck disable=SC2046 # -R or nothing
		cryo dump dump -t "$PID" -D "$DIR/img" $([ "$mode" = leave-running ] && echo -R) \
			-v4 -o dump.log
		expect_refused "netlink and packet sockets it cannot restore" \
			"task $PID: fd $q: NETLINK_ROUTE socket has messages queued to be read \([0-9]+ bytes with overhead\): not supported" \
			"task $PID: fd $gen: a NETLINK_GENERIC netlink socket: not supported yet" \
			"task $PID: fd $ring: packet socket with a PACKET_RX_RING ring \(mapped in the task's memory\): not supported yet" \
			"task $PID: fd $pq: packet socket has packets queued to be read \([0-9]+ bytes with overhead\): not supported yet" \
			"task $PID: fd $fo: packet socket in fanout group $group with packet socket [0-9]+, which no task of the dumped tree holds: not supported"
	fi
	kill_leftovers
	report "netpkt-refused/$mode" "$t0"
}

netpkt_refused() {
	netpkt_refused_one leave-running
	netpkt_refused_one kill
}
register_case netpkt-refused netpkt_refused

netlink_port_taken() {
	local t0 port=
	t0=$(now)
	REASON=
	DIR=$OUT/netlink-port-taken
	SHELL_JOB=
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if start_test netlink_sk; then
		dump "$DIR/img" && gone_after_dump
		port=$(grep -Eo "NETLINK_ROUTE socket, port id [0-9]+, 3 groups" "$DIR/img/dump.log" |
			head -n1 | grep -Eo "id [0-9]+" | cut -d' ' -f2)
		[ -n "$port" ] || fail_step "the dump log does not name the monitor's port id"
	fi
	# shellcheck disable=SC2016 # the blocker's python, not shell
	restore_taken "port id $port" "$port" \
		"cannot bind the netlink socket \(protocol 0\) to port id $port: another socket has it" \
		'import socket, sys, time
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
s.bind((int(sys.argv[1]), 0))
open(sys.argv[2], "w").close()
time.sleep(60)'
	kill_leftovers
	report netlink-port-taken "$t0"
}
register_case netlink-port-taken netlink_port_taken

# packet-iface: packet_iface bound to a veth interface the case made; dumped, then the
# interface renamed: the restore fails naming the index and both names, and leaves no process;
# with the name back, the same images restore and pass. The veth pair is removed at the end.
packet_iface() {
	local t0 name
	t0=$(now)
	REASON=
	DIR=$OUT/packet-iface
	SHELL_JOB=
	rm -rf "$DIR"
	mkdir -p "$DIR/img" "$DIR/work"
	name=ztpk$(($$ % 100000))
	if ! ip link add "$name" type veth peer name "${name}p" >"$DIR/ip.txt" 2>&1 ||
		! ip link set "$name" up >>"$DIR/ip.txt" 2>&1; then
		fail_step "cannot make a veth pair: $(cat "$DIR/ip.txt")"
	fi
	echo "$name" >"$DIR/work/ifname"
	if [ -z "$REASON" ] && start_test packet_iface; then
		dump "$DIR/img" && gone_after_dump
	fi
	if [ -z "$REASON" ]; then
		ip link set "$name" down && ip link set "$name" name "${name}x" ||
			fail_step "cannot rename $name"
	fi
	if [ -z "$REASON" ]; then
		cryo restore-renamed restore -D "$DIR/img" -d -v4 -o restore-renamed.log
		[ $RC = 0 ] && fail_step "the restore succeeded with $name renamed"
		grep -Eq "fd [0-9]+: interface [0-9]+ of the packet socket is ${name}x here, $name at dump" \
			"$DIR/cryo-restore-renamed.txt" ||
			fail_step "the failed restore does not name the interface: $(grep -i error "$DIR/cryo-restore-renamed.txt" | head -c 400)"
		wait_gone "$PID" 5 || fail_step "the failed restore left process $PID"
	fi
	if [ -z "$REASON" ]; then
		ip link set "${name}x" name "$name" && ip link set "$name" up ||
			fail_step "cannot rename ${name}x back"
	fi
	if [ -z "$REASON" ]; then
		restore "$DIR/img" && check
	fi
	kill_leftovers
	ip link del "$name" 2>/dev/null
	ip link del "${name}x" 2>/dev/null
	report packet-iface "$t0"
}
register_case packet-iface packet_iface
