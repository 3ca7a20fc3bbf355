# shellcheck shell=bash
# memfd-outside-refused: memfds the tree shares with a process outside it (tests/progs/
# memfd_outside.c): one the outsider made (the test opened it through /proc), one the
# outsider only maps, one the test only maps (the outsider holds its fd); and shared
# anonymous memory the outsider inherited when the test forked it; a deleted file both hold
# by an fd (saved as a ghost, a copy). The restore would make
# each anew, no longer shared: the dump, with -R and without, fails naming the test's fd or
# mapping and the outsider's fd or mapping for each, leaves no inventory.img, and each is
# still shared afterwards.

memfd_outside_one() {
	local mode=$1 t0 o m1 o1 m2 a b o3 c d og
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/memfd-outside-refused/$mode
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if start_test memfd_outside; then
		read -r o m1 o1 m2 a b o3 c d < <(sed -n 's/^zt: outsider \([0-9]*\) m1 fd \([0-9]*\) (its \([0-9]*\)), m2 fd \([0-9]*\), m3 mapping \(0x[0-9a-f]*\)-\(0x[0-9a-f]*\) (its fd \([0-9]*\)), anon \(0x[0-9a-f]*\)-\(0x[0-9a-f]*\), ghost.*$/\1 \2 \3 \4 \5 \6 \7 \8 \9/p' "$DIR/out.txt")
		read -r _ og < <(sed -n 's/^zt: outsider .*, ghost fd \([0-9]*\) (its \([0-9]*\))$/\1 \2/p' "$DIR/out.txt")
		[ -n "$og" ] || fail_step "memfd_outside did not say its memfds"
		# shellcheck disable=SC2046 # -R or nothing
		[ -z "$REASON" ] && cryo dump dump -t "$PID" -D "$DIR/img" \
			$([ "$mode" = leave-running ] && echo -R) -v4 -o dump.log
		[ -z "$REASON" ] && expect_refused "memfds shared with a process outside the tree" \
			"task $PID: fd $m1 is a memfd that process $o \([^)]*\) outside the tree holds too \(its fd $o1\): not supported" \
			"task $PID: fd $m2 is a memfd that process $o \([^)]*\) outside the tree holds too \(its mapping 0x[0-9a-f]+-0x[0-9a-f]+\)" \
			"task $PID: mapping $a-$b is a memfd that process $o \([^)]*\) outside the tree holds too \(its fd $o3\)" \
			"task $PID: mapping $c-$d is shared anonymous memory that process $o \([^)]*\) outside the tree holds too \(its mapping $c-$d\)" \
			"task $PID: the deleted file [^ ]*/ghost.dat \(ghost [0-9]+\) is a file that process $o \([^)]*\) outside the tree holds too \(its fd $og\)"
		[ -n "$o" ] && kill -9 "$o" 2>/dev/null
	fi
	kill_leftovers
	report "memfd-outside-refused/$mode" "$t0"
}

memfd_outside_refused() {
	memfd_outside_one leave-running
	memfd_outside_one kill
}
register_case memfd-outside-refused memfd_outside_refused
