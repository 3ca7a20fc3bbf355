# The ext-pipe case of tests/run.sh (sourced by it; uses its helpers): a filter whose stdin
# and stdout are pipes held outside the tree (tests/tools/pipe_echo: the case writes its input
# and a cat outside reads its output), with a child holding the same descriptions and a dup
# of stdout.
#  - Dumped without --external, the dump is refused naming both pipes and the option, and
#    the filter runs on.
#  - Dumped with --external pipe:[A] --external pipe:[B]; lines written while it is gone wait
#    in the pipe. Restored without --inherit-fd, the restore is refused naming the key and
#    the option, and leaves nothing behind.
#  - Restored with --inherit-fd fd[7]:pipe:[A] --inherit-fd fd[8]:pipe:[B] (the case's own
#    ends): the parent and child share each description again (kcmp), and every line, before,
#    during and after the checkpoint, reaches the cat exactly once, in order.
#  - Dumped again and restored again the same way (a second generation).
#  - Its stderr, a regular file, is given another file with --inherit-fd fd[9]:PATH (PATH
#    without its leading '/'): what it writes there after the restore goes to that file.

# ext_pipe_same PID1 FD1 PID2 FD2: one open file description (kcmp KCMP_FILE)?
ext_pipe_same() {
	python3 -c 'import ctypes, sys
a = [int(x) for x in sys.argv[1:]]
libc = ctypes.CDLL(None, use_errno=True)
sys.exit(0 if libc.syscall(312, a[0], a[2], 0, a[1], a[3]) == 0 else 1)' "$@"
}

# ext_pipe_restore IMG: restore with the case's ends of both pipes and another stderr file
# (uses ext_pipe_case's variables)
ext_pipe_restore() {
	CLOSEFDS_KEEP="7 8 9" "$BUILD/tools/closefds" timeout --foreground -k 5 "$CRYO_TIMEOUT" \
		"$CRYO" restore -D "$DIR/$1" -d -v4 -o restore.log \
		--inherit-fd "fd[7]:$keya" --inherit-fd "fd[8]:$keyb" \
		--inherit-fd "fd[9]:${DIR#/}/stderr" \
		7<&"$ra" 8>&"$wb" 9>>"$DIR/stderr2" >"$DIR/cryo-restore-$1.txt" 2>&1 </dev/null
	RC=$?
	[ $RC = 0 ] || fail_step "cryo restore ($1) with --inherit-fd exited $RC: $(grep Error "$DIR/cryo-restore-$1.txt" | head -c 300)"
}

ext_pipe_case() {
	local t0 ra wa wb catpid keya keyb pid child i
	t0=$(now)
	REASON=
	SHELL_JOB=
	DIR=$OUT/ext-pipe
	rm -rf "$DIR"
	mkdir -p "$DIR/img" "$DIR/work"
	# pipe A: the filter's stdin (the case holds both ends); pipe B: its stdout, to a cat
	exec {ra}< <(:)
	exec {wa}>"/proc/self/fd/$ra"
	exec {wb}> >(exec cat >"$DIR/got")
	catpid=$!
	keya=$(readlink "/proc/self/fd/$ra")
	keyb=$(readlink "/proc/self/fd/$wb")
	(cd "$DIR/work" && exec "$BUILD/tools/closefds" setsid "$BUILD/tools/pipe_echo") \
		<&"$ra" >&"$wb" 2>"$DIR/stderr" &
	disown $!
	for ((i = 0; i < 100; i++)); do
		[ -s "$DIR/work/pid" ] && break
		sleep 0.02
	done
	read -r pid child <"$DIR/work/pid" 2>/dev/null
	PID=$pid
	[ -n "$pid" ] || fail_step "pipe_echo did not start"
	started_pids+=("$pid" "$child")
	for ((i = 1; i <= 50; i++)); do echo "$i"; done >&"$wa"
	echo e-before >&"$wa"
	for ((i = 0; i < 100; i++)); do
		[ "$(wc -l <"$DIR/got")" = 51 ] && break
		sleep 0.02
	done
	[ -z "$REASON" ] && [ "$(wc -l <"$DIR/got")" != 51 ] && fail_step "the filter did not echo"
	if [ -z "$REASON" ]; then
		cryo refused dump -t "$pid" -D "$DIR/img" -v4 -o dump.log
		[ $RC = 0 ] && fail_step "dumped without --external"
		for k in "$keya" "$keyb"; do
			grep -qF -- "--external $k" "$DIR/cryo-refused.txt" ||
				fail_step "the refusal does not name --external $k: $(grep Error "$DIR/cryo-refused.txt" | head -c 300)"
		done
		[ -e "$DIR/img/inventory.img" ] && fail_step "a refused dump left inventory.img"
		alive "$pid" || fail_step "$pid gone after the refused dump"
	fi
	# bytes in the pipe at the dump: they stay in it (external), the restored filter reads them
	[ -z "$REASON" ] && for ((i = 51; i <= 60; i++)); do echo "$i"; done >&"$wa"
	: >"$DIR/want"
	[ -z "$REASON" ] && dump "$DIR/img" --external "$keya" --external "$keyb" && gone_after_dump
	[ -z "$REASON" ] && { wait_gone "$child" 5 || fail_step "child $child still running after the dump"; }
	[ -z "$REASON" ] && for ((i = 61; i <= 100; i++)); do echo "$i"; done >&"$wa"
	if [ -z "$REASON" ]; then
		cryo norestore restore -D "$DIR/img" -d -v4 -o restore-refused.log
		[ $RC = 0 ] && fail_step "restored without --inherit-fd"
		grep -qF -- "--inherit-fd fd[N]:$keya" "$DIR/cryo-norestore.txt" ||
			fail_step "the refusal does not name --inherit-fd fd[N]:$keya: $(grep Error "$DIR/cryo-norestore.txt" | head -c 300)"
		alive "$pid" && fail_step "a refused restore left $pid"
		alive "$child" && fail_step "a refused restore left $child"
	fi
	# the inherited fd is checked: the write end given for the read end, a file for a pipe
	if [ -z "$REASON" ]; then
		CLOSEFDS_KEEP="7 8" "$BUILD/tools/closefds" "$CRYO" restore -D "$DIR/img" -d -v4 \
			-o restore-wrong.log --inherit-fd "fd[7]:$keya" --inherit-fd "fd[8]:$keyb" \
			7>&"$wa" 8>&"$wb" >"$DIR/cryo-wrong.txt" 2>&1 </dev/null &&
			fail_step "restored with the write end given for the read end"
		grep -qF "is the read end of $keya, but fd 7 given for it (--inherit-fd) is not open for that" \
			"$DIR/cryo-wrong.txt" || fail_step "no refusal of the wrong end: $(grep Error "$DIR/cryo-wrong.txt" | head -c 300)"
		CLOSEFDS_KEEP="7 8" "$BUILD/tools/closefds" "$CRYO" restore -D "$DIR/img" -d -v4 \
			-o restore-wrong2.log --inherit-fd "fd[7]:$keya" --inherit-fd "fd[8]:$keyb" \
			7<"$DIR/want" 8>&"$wb" >"$DIR/cryo-wrong2.txt" 2>&1 </dev/null &&
			fail_step "restored with a regular file given for a pipe"
		grep -qF -- "--inherit-fd fd[7]:$keya: fd 7 is not a pipe" "$DIR/cryo-wrong2.txt" ||
			fail_step "no refusal of a file for a pipe: $(grep Error "$DIR/cryo-wrong2.txt" | head -c 300)"
		"$CRYO" restore -D "$DIR/img" --inherit-fd "fd[0]:socket:[12345]" >"$DIR/cryo-sk.txt" 2>&1 &&
			fail_step "--inherit-fd with a socket key was accepted"
		grep -qF "the key socket:[12345] is not supported yet" "$DIR/cryo-sk.txt" ||
			fail_step "no refusal of a socket key: $(head -c 300 "$DIR/cryo-sk.txt")"
		"$CRYO" dump -t 1 -D "$DIR/img" --external "unix[12345]" >"$DIR/cryo-ext.txt" 2>&1 &&
			fail_step "--external unix[...] was accepted"
		grep -qF -- "--external unix[12345]: not supported yet" "$DIR/cryo-ext.txt" ||
			fail_step "no refusal of --external unix[...]: $(head -c 300 "$DIR/cryo-ext.txt")"
		alive "$pid" && fail_step "a refused restore left $pid"
	fi
	[ -z "$REASON" ] && ext_pipe_restore img
	if [ -z "$REASON" ]; then
		alive "$pid" && alive "$child" || fail_step "the restored filter is not running"
		[ "$(readlink /proc/"$pid"/fd/0)" = "$(readlink /proc/self/fd/"$ra")" ] ||
			fail_step "the restored stdin is $(readlink /proc/"$pid"/fd/0), not $keya"
		ext_pipe_same "$pid" 0 "$child" 0 || fail_step "parent and child stdin are two descriptions"
		ext_pipe_same "$pid" 1 "$child" 1 || fail_step "parent and child stdout are two descriptions"
		ext_pipe_same "$pid" 1 "$pid" 5 || fail_step "fd 5 is not a dup of stdout"
		ext_pipe_same "$pid" 1 "$child" 5 || fail_step "the child's fd 5 is not the stdout"
	fi
	# a second generation: the restored external pipes dumped and restored again
	[ -z "$REASON" ] && for ((i = 101; i <= 120; i++)); do echo "$i"; done >&"$wa"
	for ((i = 0; i < 100; i++)); do
		grep -qx echo:120 "$DIR/got" && break
		sleep 0.02
	done
	[ -z "$REASON" ] && dump "$DIR/img2" --external "$keya" --external "$keyb" && gone_after_dump
	[ -z "$REASON" ] && { wait_gone "$child" 5 || fail_step "child $child still running after the second dump"; }
	[ -z "$REASON" ] && for ((i = 121; i <= 130; i++)); do echo "$i"; done >&"$wa"
	[ -z "$REASON" ] && ext_pipe_restore img2
	if [ -z "$REASON" ]; then
		alive "$pid" && alive "$child" || fail_step "the filter restored again is not running"
		ext_pipe_same "$pid" 1 "$child" 1 || fail_step "gen2: parent and child stdout are two descriptions"
	fi
	[ -z "$REASON" ] && { for ((i = 131; i <= 150; i++)); do echo "$i"; done; echo e-after; echo quit; } >&"$wa"
	exec {wa}>&- {ra}<&- {wb}>&-
	[ -z "$REASON" ] && { wait_gone "$pid" 10 || fail_step "the restored filter did not exit on quit"; }
	wait_gone "$catpid" 10 || fail_step "the cat outside did not see the end of its pipe"
	if [ -z "$REASON" ]; then
		{ seq 1 50; echo e-before; seq 51 150; echo e-after; } | sed 's/^/echo:/' >"$DIR/want"
		[ "$(cat "$DIR/stderr")" = "err:e-before" ] ||
			fail_step "the dumped stderr file has '$(head -c 100 "$DIR/stderr")', not err:e-before alone"
		[ "$(cat "$DIR/stderr2")" = "err:e-after" ] ||
			fail_step "the inherited stderr file has '$(head -c 100 "$DIR/stderr2")', not err:e-after"
		cmp -s "$DIR/want" "$DIR/got" ||
			fail_step "the cat got other lines than echo:1..150 (and e-before, e-after) once each: $(diff "$DIR/want" "$DIR/got" | head -c 300)"
	fi
	kill_ours "$catpid" 2>/dev/null
	kill_leftovers
	report ext-pipe "$t0"
}

register_case ext-pipe ext_pipe_case
