# The --restore-sibling case of tests/run.sh (sourced by it; uses its helpers and counters).
#
# A restore with --restore-sibling makes the restored root a child of cryo's parent (as a
# container runtime or a shell wants it), and cryo returns once it runs: the root's parent
# must be the shell that ran cryo.

sibling_case() {
	local t0 out ppid status
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/restore-sibling
	rm -rf "$DIR"
	mkdir -p "$DIR"
	if start_test counter && dump "$DIR/img" && gone_after_dump; then
		# a shell that runs cryo, notes the root's parent and asks for the check
		out=$("$BUILD/tools/closefds" bash -c '
			"$1" restore -D "$2" --restore-sibling -v4 -o restore.log || exit 3
			ppid=$(awk "{ sub(/.*\\) /, \"\"); print \$2 }" /proc/$3/stat)
			kill -TERM $3
			for i in $(seq 100); do grep -qx PASS "$4" && break; sleep 0.05; done
			echo "ppid=$ppid shell=$$"
		' sh "$CRYO" "$DIR/img" "$PID" "$DIR/out.txt" 2>&1)
		status=$?
		ppid=$(sed -n 's/^ppid=\([0-9]*\) shell=\([0-9]*\)$/\1 \2/p' <<<"$out")
		if [ $status = 3 ]; then
			fail_step "cryo restore --restore-sibling failed"
		elif [ -z "$ppid" ] || [ "${ppid% *}" != "${ppid#* }" ]; then
			fail_step "the restored root's parent is not the shell that ran cryo: $out"
		elif ! grep -qx PASS "$DIR/out.txt"; then
			fail_step "no PASS from the restored root"
		fi
	fi
	kill_leftovers
	report restore-sibling "$t0"
}
register_case restore-sibling sibling_case
