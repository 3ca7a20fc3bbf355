# shellcheck shell=bash
# fd-table-full: a process whose descriptor table is full up to RLIMIT_NOFILE, cryo's hard
# limit too (tests/progs/fd_full_table.c): the restore would find no free number for its own
# descriptors, so the dump (with -R and without) must be refused naming the task, its highest
# fd and the limit, leave no inventory.img, and the program runs on with every descriptor.
# fd-room-restore: fd_full_table with its own limits lowered to 1000 and those 1000 numbers
# open, dumped by cryo (which has room above them), then restored by a cryo whose hard limit
# is 1000: the restore must fail saying it has no free number, before it creates anything (no
# process left), and a cryo with the full limit then restores it: every descriptor, its limits.

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

fd_room_restore_case() {
	local t0 real=$CRYO
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/fd-room-restore
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if FD_FULL_LIMIT=1000 start_test fd_full_table && dump "$DIR/img"; then
		wait_gone "$PID" 5 || fail_step "process $PID still there after the dump"
		printf '#!/bin/sh\nexec prlimit --nofile=1000:1000 %s "$@"\n' "$real" >"$DIR/cryo-low"
		chmod +x "$DIR/cryo-low"
		CRYO=$DIR/cryo-low cryo restore-low restore -D "$DIR/img" -d -v4 -o restore-low.log
		[ "$RC" = 0 ] && fail_step "a cryo with RLIMIT_NOFILE 1000 restored 1000 descriptors"
		grep -Eq "the restore needs [0-9]+ descriptors .*RLIMIT_NOFILE hard limit 1000: only 0 are free" \
			"$DIR/cryo-restore-low.txt" ||
			fail_step "the failed restore does not say there is no room: $(grep -i error "$DIR/cryo-restore-low.txt" | head -c 400)"
		alive "$PID" && fail_step "the failed restore left process $PID"
		[ -z "$REASON" ] && restore "$DIR/img" && check
	fi
	kill_leftovers
	report fd-room-restore "$t0"
}
register_case fd-room-restore fd_room_restore_case
