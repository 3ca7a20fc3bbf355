# shellcheck shell=bash
# tcp-failed-dump, tcp-killed-dump: a dump --tcp-established of tcp_peer (a connection to an
# echo server outside the tree, streaming the whole time) that fails (CRYO_FAULT=fail at the
# last point that can fail, after the connection was read and locked), or that is killed
# at two thirds of its fault points, the connection locked (CRYO_FAULT=kill), or while the
# connection is in repair mode for its read (tcp-killed-dump/in-repair, with tcp_mss_kept:
# its connections pass data and read as before at its check): the target
# goes on streaming with no byte lost or doubled and no
# reset, and no nftables table of that cryo is left (after a kill the socket guard
# removes it and turns repair mode off).

tcp_lock_table() {
	sed -n 's/.*nftables table inet \(cryo-lock-[0-9]*\).*/\1/p' "$1" 2>/dev/null | head -n1
}

tcp_fault_one() {
	local how=$1 prog=${2:-tcp_peer} n table i
	mkdir -p "$DIR/img"
	start_test "$prog" || return
	CRYO_FAULT=count cryo count dump -t "$PID" -D "$DIR/img" -R --tcp-established -v4 \
		-o count.log
	n=$(sed -n 's/^cryo: fault points passed: \([0-9]*\).*/\1/p' "$DIR/cryo-count.txt")
	[ "$RC" = 0 ] && [ -n "$n" ] || fail_step "the counting dump failed (exit $RC)" || return
	if [ "$how" = failed ]; then
		# the last operation that can fail
		n=$(sed -n 's/^cryo: fault points passed: [0-9]* (\([0-9]*\) of them can fail.*/\1/p' \
			"$DIR/cryo-count.txt")
		CRYO_FAULT=fail:$n cryo dump dump -t "$PID" -D "$DIR/img" --tcp-established -v4 \
			-o dump.log
	elif [ "$how" = killed-in-repair ]; then
		# while its socket is in repair mode: the guard turns it off (and the table goes)
		{ CRYO_FAULT="kill:@TCP connection: in repair mode" cryo dump dump -t "$PID" \
			-D "$DIR/img" --tcp-established -v4 -o dump.log; } 2>/dev/null
	else
		{ CRYO_FAULT=kill:$((n * 2 / 3)) cryo dump dump -t "$PID" -D "$DIR/img" \
			--tcp-established -v4 -o dump.log; } 2>/dev/null
	fi
	[ "$RC" != 0 ] || fail_step "the dump with a fault succeeded" || return
	table=$(tcp_lock_table "$DIR/img/dump.log")
	[ -n "$table" ] || fail_step "the dump did not lock the connection before the fault" || return
	for ((i = 0; i < 50; i++)); do
		nft list table inet "$table" >/dev/null 2>&1 || break
		sleep 0.1
	done
	! nft list table inet "$table" >/dev/null 2>&1 ||
		fail_step "table inet $table is left after the $how dump" || return
	alive "$PID" || fail_step "the target died" || return
	sleep 0.5
	check
}

tcp_failed_dump() { run_sub_case tcp-failed-dump tcp_fault_one failed; }
tcp_killed_dump() {
	run_sub_case tcp-killed-dump tcp_fault_one killed
	# an idle target: the tree runs on the moment cryo dies, a few microseconds before the
	# guard turns repair mode off (docs/design.md), which a program streaming all the time
	# can meet; this one uses its connections only at its check, then reads fail EPERM if
	# repair mode was left on
	run_sub_case tcp-killed-dump/in-repair tcp_fault_one killed-in-repair tcp_mss_kept
}
register_case tcp-failed-dump tcp_failed_dump
register_case tcp-killed-dump tcp_killed_dump

# tcp-lock-unused: with --tcp-established the lock's table is made before the freeze, whether
# the tree has connections or not. A tree with none (sleep_restart) must leave no table of the
# dumping cryo behind: after a dump -R, a dump killed at its first fault point (the watchdog
# removes it), and a dump that kills the tree (no image names the table, so no restore would
# remove it); the restored test then checks itself.
tcp_lock_tables() { nft list tables 2>/dev/null | grep -o 'cryo-lock-[0-9]*' | sort; }

tcp_lock_unused_one() {
	local before after i
	before=$(tcp_lock_tables)
	start_test sleep_restart || return
	dump "$DIR/img-r" -R --tcp-established || return
	grep -q "made before the freeze" "$DIR/img-r/dump.log" ||
		fail_step "the dump made no lock table before the freeze" || return
	[ "$(tcp_lock_tables)" = "$before" ] || fail_step "a lock table is left after dump -R" ||
		return
	mkdir -p "$DIR/img-k"
	CRYO_FAULT=kill:1 cryo killed dump -t "$PID" -D "$DIR/img-k" --tcp-established -v4 \
		-o dump.log
	[ "$RC" != 0 ] || fail_step "the dump killed at its first fault point succeeded" || return
	for ((i = 0; i < 50; i++)); do
		[ "$(tcp_lock_tables)" = "$before" ] && break
		sleep 0.1
	done
	[ "$(tcp_lock_tables)" = "$before" ] || fail_step "a lock table is left after a killed dump" ||
		return
	alive "$PID" || fail_step "the target died with the killed dump" || return
	dump "$DIR/img" --tcp-established || return
	after=$(tcp_lock_tables)
	[ "$after" = "$before" ] || fail_step "a lock table is left after the dump: $after" || return
	restore "$DIR/img" --tcp-established || return
	check
}
tcp_lock_unused() { run_sub_case tcp-lock-unused tcp_lock_unused_one; }
register_case tcp-lock-unused tcp_lock_unused
