# shellcheck shell=bash
# tcp-md5-refused: TCP_MD5SIG keys the dump cannot read as they are
# (tests/progs/tcp_md5_refused.c): a listener's key bound to an interface (TCP_MD5SIG_EXT
# ifindex), and a key on a socket only bound (sock_diag lists none there). The dump (-R) fails
# naming each, leaves no inventory.img, and the target runs on with its keys as they were.

tcp_md5_refused() {
	local t0 lport bport want
	local -a wants
	t0=$(now)
	REASON=
	DIR=$OUT/tcp-md5-refused
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if start_test tcp_md5_refused; then
		read -r lport bport <"$DIR/work/ports"
		wants=(
			"task $PID: fd [0-9]+: TCP_MD5SIG key 127.0.0.1/32 is bound to an interface \(TCP_MD5SIG_EXT ifindex\), which cannot be read: not supported"
			"task $PID: fd [0-9]+: TCP socket neither listening nor connected holds [0-9]+ bytes of option memory \(TCP_MD5SIG keys\?\), which cannot be read there: not supported"
		)
		cryo dump dump -t "$PID" -D "$DIR/img" -R -v4 -o dump.log
		for want in "${wants[@]}"; do
			grep -Eq -- "$want" "$DIR/cryo-dump.txt" ||
				fail_step "the refusal does not say '$want': $(grep -i error "$DIR/cryo-dump.txt" | head -c 600)"
		done
		if [ $RC = 0 ]; then
			fail_step "the dump succeeded"
		elif [ -e "$DIR/img/inventory.img" ]; then
			fail_step "a refused dump left inventory.img"
		elif ! alive "$PID"; then
			fail_step "target $PID gone after the refused dump"
		else
			check
		fi
	fi
	kill_leftovers
	report "tcp-md5-refused" "$t0"
}
register_case tcp-md5-refused tcp_md5_refused
