# The ext-fifo case of tests/run.sh (sourced by it; uses its helpers): a filter whose stdin
# and stdout are FIFOs that processes outside the tree hold open too (tests/tools/pipe_echo:
# the case writes into one FIFO, a cat outside reads the other), with a child holding the
# same descriptions and a dup of stdout. The case holds both FIFOs open read-write as well,
# as a supervisor would, so that neither sees its end while the filter is gone.
#  - Dumped without --external, the dump is refused naming both FIFOs and the option
#    (--external fifo:PATH), and the filter runs on.
#  - Dumped with --external fifo:IN --external fifo:OUT; lines written while it is gone wait
#    in the FIFO (they are its outside holder's, not the image's).
#  - Restored when IN's path leads to another FIFO: refused, naming it, nothing left behind.
#  - Restored: the parent and child share each description again (kcmp), and every line,
#    before, during and after the checkpoint, reaches the cat exactly once, in order (a
#    FIFO's bytes written back from the image would come twice).
#  - Dumped again and restored again, IN given by the case's own descriptor of it
#    (--inherit-fd fd[7]:PATH), its path moved away first: the restored filter reads from the
#    FIFO given (a second generation).

ext_fifo_case() {
	local t0 rin rout catpid pid child i k
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/ext-fifo
	rm -rf "$DIR"
	mkdir -p "$DIR/img" "$DIR/work"
	mkfifo "$DIR/in" "$DIR/out"
	# read-write: no partner is waited for
	exec {rin}<>"$DIR/in"
	exec {rout}<>"$DIR/out"
	cat <"$DIR/out" >"$DIR/got" {rin}<&- {rout}<&- &
	catpid=$!
	(cd "$DIR/work" && exec "$BUILD/tools/closefds" setsid "$BUILD/tools/pipe_echo") \
		<"$DIR/in" >"$DIR/out" 2>/dev/null &
	disown $!
	for ((i = 0; i < 100; i++)); do
		[ -s "$DIR/work/pid" ] && break
		sleep 0.02
	done
	read -r pid child <"$DIR/work/pid" 2>/dev/null
	PID=$pid
	[ -n "$pid" ] || fail_step "pipe_echo did not start"
	started_pids+=("$pid" "$child")
	[ -z "$REASON" ] && { seq 1 50; echo e-before; } >&"$rin"
	for ((i = 0; i < 100; i++)); do
		[ "$(wc -l <"$DIR/got")" = 51 ] && break
		sleep 0.02
	done
	[ -z "$REASON" ] && [ "$(wc -l <"$DIR/got")" != 51 ] && fail_step "the filter did not echo"
	if [ -z "$REASON" ]; then
		cryo refused dump -t "$pid" -D "$DIR/img" -v4 -o dump.log
		[ $RC = 0 ] && fail_step "dumped without --external"
		for k in in out; do
			grep -qF -- "--external fifo:$DIR/$k" "$DIR/cryo-refused.txt" ||
				fail_step "the refusal does not name --external fifo:$DIR/$k: $(grep Error "$DIR/cryo-refused.txt" | head -c 300)"
		done
		[ -e "$DIR/img/inventory.img" ] && fail_step "a refused dump left inventory.img"
		alive "$pid" || fail_step "$pid gone after the refused dump"
	fi
	# bytes in the FIFO at the dump stay in it: the restored filter reads them
	[ -z "$REASON" ] && seq 51 60 >&"$rin"
	[ -z "$REASON" ] && dump "$DIR/img" --external "fifo:$DIR/in" --external "fifo:$DIR/out" &&
		gone_after_dump
	[ -z "$REASON" ] && { wait_gone "$child" 5 || fail_step "child $child still running after the dump"; }
	[ -z "$REASON" ] && seq 61 100 >&"$rin"
	if [ -z "$REASON" ]; then
		# another FIFO at IN's path: the outside holder would not share it with the tree
		mv "$DIR/in" "$DIR/in.held" && mkfifo "$DIR/in"
		cryo other restore -D "$DIR/img" -d -v4 -o restore-other.log
		[ $RC = 0 ] && fail_step "restored onto another FIFO at $DIR/in"
		grep -qF "$DIR/in is not the FIFO held outside the tree at the dump" "$DIR/cryo-other.txt" ||
			fail_step "no refusal of the other FIFO: $(grep Error "$DIR/cryo-other.txt" | head -c 300)"
		alive "$pid" && fail_step "a refused restore left $pid"
		alive "$child" && fail_step "a refused restore left $child"
		rm -f "$DIR/in" && mv "$DIR/in.held" "$DIR/in"
	fi
	[ -z "$REASON" ] && restore "$DIR/img"
	if [ -z "$REASON" ]; then
		alive "$child" || fail_step "the restored child is not running"
		[ "$(readlink /proc/"$pid"/fd/0)" = "$DIR/in" ] ||
			fail_step "the restored stdin is $(readlink /proc/"$pid"/fd/0), not $DIR/in"
		ext_pipe_same "$pid" 0 "$child" 0 || fail_step "parent and child stdin are two descriptions"
		ext_pipe_same "$pid" 1 "$child" 1 || fail_step "parent and child stdout are two descriptions"
		ext_pipe_same "$pid" 1 "$pid" 5 || fail_step "fd 5 is not a dup of stdout"
	fi
	# a second generation
	[ -z "$REASON" ] && seq 101 120 >&"$rin"
	for ((i = 0; i < 100; i++)); do
		grep -qx echo:120 "$DIR/got" && break
		sleep 0.02
	done
	[ -z "$REASON" ] && dump "$DIR/img2" --external "fifo:$DIR/in" --external "fifo:$DIR/out" &&
		gone_after_dump
	[ -z "$REASON" ] && { wait_gone "$child" 5 || fail_step "child $child still running after the second dump"; }
	[ -z "$REASON" ] && seq 121 130 >&"$rin"
	if [ -z "$REASON" ]; then
		# IN given by the caller (--inherit-fd fd[7]:PATH, the case's own descriptor of it),
		# its path moved away: the restore must take the FIFO from fd 7, not look for it
		mv "$DIR/in" "$DIR/in.moved"
		CLOSEFDS_KEEP=7 "$BUILD/tools/closefds" timeout --foreground -k 5 "$CRYO_TIMEOUT" \
			"$CRYO" restore -D "$DIR/img2" -d -v4 -o restore.log \
			--inherit-fd "fd[7]:${DIR#/}/in" 7<&"$rin" >"$DIR/cryo-restore-inherit.txt" \
			2>&1 </dev/null
		RC=$?
		[ $RC = 0 ] || fail_step "cryo restore with --inherit-fd for the FIFO exited $RC: $(grep Error "$DIR/cryo-restore-inherit.txt" | head -c 300)"
	fi
	if [ -z "$REASON" ]; then
		alive "$child" || fail_step "the child restored again is not running"
		ext_pipe_same "$pid" 1 "$child" 1 || fail_step "gen2: parent and child stdout are two descriptions"
		[ "$(readlink /proc/"$pid"/fd/0)" = "$DIR/in.moved" ] ||
			fail_step "the stdin restored with --inherit-fd is $(readlink /proc/"$pid"/fd/0), not the FIFO given ($DIR/in.moved)"
	fi
	[ -z "$REASON" ] && { seq 131 150; echo e-after; echo quit; } >&"$rin"
	[ -z "$REASON" ] && { wait_gone "$pid" 10 || fail_step "the restored filter did not exit on quit"; }
	exec {rin}<&- {rout}<&-
	wait_gone "$catpid" 10 || fail_step "the cat outside did not see the end of its FIFO"
	if [ -z "$REASON" ]; then
		{ seq 1 50; echo e-before; seq 51 150; echo e-after; } | sed 's/^/echo:/' >"$DIR/want"
		cmp -s "$DIR/want" "$DIR/got" ||
			fail_step "the cat got other lines than echo:1..150 (and e-before, e-after) once each: $(diff "$DIR/want" "$DIR/got" | head -c 300)"
	fi
	kill_ours "$catpid" 2>/dev/null
	kill_leftovers
	report ext-fifo "$t0"
}

register_case ext-fifo ext_fifo_case
