# The non-root case of tests/run.sh (sourced by it; uses its helpers and counters).
#
# cryo run by an unprivileged user on a tree that holds a task it may not trace (the root
# process is nobody's, its child root's): the dump must refuse, naming that child, and leave
# both running, untraced and answering signals.

non_root_case() {
	local t0 dir out status pids parent child p
	t0=$(now)
	REASON=
	SHELL_JOB=
	# nobody must reach the directory and cryo, wherever the checkout is: both under /tmp
	dir=$(mktemp -d /tmp/cryo-non-root.XXXXXX)
	mkdir -p "$dir/img"
	chmod 777 "$dir" "$dir/img"
	cp "$CRYO" "$dir/cryo"
	chmod 755 "$dir/cryo"
	setsid -f "$BUILD/tools/mixed_owner" "$dir" </dev/null >"$dir/tool.log" 2>&1
	for ((p = 0; p < 100; p++)); do
		[ -s "$dir/pids" ] && break
		sleep 0.05
	done
	read -r parent child <"$dir/pids" 2>/dev/null
	if [ -z "$parent" ] || [ -z "$child" ]; then
		fail_step "the two-owner tree did not start: $(cat "$dir/tool.log")"
	else
		out=$("$BUILD/tools/closefds" setpriv --reuid=65534 --regid=65534 --clear-groups \
			"$dir/cryo" dump -t "$parent" -D "$dir/img" -v4 -o "$dir/dump.log" 2>&1)
		status=$?
		if [ $status = 0 ]; then
			fail_step "the dump as nobody succeeded on a tree with a root-owned task"
		elif ! grep -q "process $child" <<<"$out"; then
			fail_step "the error does not name the task cryo may not trace ($child): $out"
		else
			for p in "$parent" "$child"; do
				if ! grep -q '^State:.*[SR] (' "/proc/$p/status" 2>/dev/null ||
					! grep -q '^TracerPid:[[:space:]]*0$' "/proc/$p/status"; then
					fail_step "process $p is not left running untraced: $(grep -E 'State|TracerPid' "/proc/$p/status" 2>&1 | tr '\n' ' ')"
					break
				fi
				kill -USR1 "$p"
			done
			for p in "$parent" "$child"; do
				[ -n "$REASON" ] && break
				for ((i = 0; i < 100; i++)); do
					[ -e "$dir/alive.$p" ] && break
					sleep 0.02
				done
				[ -e "$dir/alive.$p" ] || fail_step "process $p does not answer a signal after the failed dump"
			done
		fi
	fi
	[ -n "$parent" ] && kill -9 "$parent" "$child" 2>/dev/null
	[ -n "$REASON" ] && cp -r "$dir" "$OUT/non-root" 2>/dev/null
	rm -rf "$dir"
	kill_leftovers
	report non-root "$t0"
}
register_case non-root non_root_case
