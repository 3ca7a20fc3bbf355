# shellcheck shell=bash
# fd-table-full: a process whose descriptor table is full up to RLIMIT_NOFILE, cryo's hard
# limit too (tests/progs/fd_full_table.c): the restore would find no free number for its own
# descriptors, so the dump (with -R and without) must be refused naming the task, its highest
# fd and the limit, leave no inventory.img, and the program runs on with every descriptor.

fd_room_case() {
	local t0 mode limit
	t0=$(now)
	REASON=
	SHELL_JOB=
	limit=$(ulimit -Hn)
	for mode in leave-running kill; do
		[ -n "$REASON" ] && break
		DIR=$OUT/fd-table-full/$mode
		rm -rf "$DIR"
		mkdir -p "$DIR/img"
		if start_test fd_full_table; then
			if [ $mode = leave-running ]; then
				cryo dump dump -t "$PID" -D "$DIR/img" -R -v4 -o dump.log
			else
				cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o dump.log
			fi
			expect_refused "a full descriptor table ($mode)" \
				"task $PID: fd $((limit - 1)) \\(of its $limit descriptors\\).*RLIMIT_NOFILE $limit" \
				"the restore needs up to [0-9]+ numbers .* and 0 are free"
		fi
		kill_leftovers
	done
	report fd-table-full "$t0"
}
register_case fd-table-full fd_room_case
