# Pipes and FIFOs cryo must refuse, by name, leaving the target running (sourced by
# tests/run.sh; uses its helpers):
#  - a pipe whose other end a process outside the tree holds (`sleep | sleep`, the writer
#    dumped): the refusal names the outside process; both go on, untraced;
#  - a pipe with a page of plain bytes then a packet queued (written before and after
#    O_DIRECT was set), which one read returns together.
# Each is dumped with -R and without; neither leaves inventory.img.

# pipes_refused_one WHAT PATTERN CMD...: CMD writes its pid to $DIR/pid, then is dumped.
pipes_refused_one() {
	local what=$1 want=$2 mode tracer
	shift 2
	for mode in leave-running kill; do
		[ -n "$REASON" ] && return
		rm -rf "$DIR/img" "$DIR/pid" "$DIR/work"
		mkdir -p "$DIR/img" "$DIR/work"
		(cd "$DIR/work" && exec "$BUILD/tools/closefds" setsid "$@") </dev/null >/dev/null 2>&1 &
		local bg=$! i
		disown "$bg"
		for ((i = 0; i < 100; i++)); do
			[ -s "$DIR/work/pid" ] && break
			sleep 0.02
		done
		PID=$(cat "$DIR/work/pid" 2>/dev/null)
		[ -n "$PID" ] || { fail_step "$what: did not start"; return; }
		sleep 0.1
		if [ $mode = leave-running ]; then
			cryo "$what-$mode" dump -t "$PID" -D "$DIR/img" -R -v4 -o dump.log
		else
			cryo "$what-$mode" dump -t "$PID" -D "$DIR/img" -v4 -o dump.log
		fi
		[ $RC = 0 ] && fail_step "$what: the dump ($mode) was not refused"
		[ $RC -ge 124 ] && fail_step "$what: cryo exited $RC"
		grep -Eq -- "$want" "$DIR/cryo-$what-$mode.txt" ||
			fail_step "$what: the refusal does not say '$want': $(grep -i error "$DIR/cryo-$what-$mode.txt" | head -c 400)"
		[ -e "$DIR/img/inventory.img" ] && fail_step "$what: a refused dump left inventory.img"
		alive "$PID" || fail_step "$what: target $PID gone after the refused dump ($mode)"
		tracer=$(awk '/^TracerPid/ { print $2 }' "/proc/$PID/status" 2>/dev/null)
		[ "${tracer:-0}" = 0 ] || fail_step "$what: target still traced by $tracer"
		if [ -n "${OTHER_COMM:-}" ]; then
			local other
			other=$(grep -Eo "process [0-9]+ \\($OTHER_COMM" "$DIR/cryo-$what-$mode.txt" | head -n1 | awk '{print $2}')
			[ -n "$other" ] && ! alive "$other" && fail_step "$what: the outside process $other is gone"
		fi
		# ours: the session started above (setsid did not fork: its id is $bg)
		for p in $(ps -e -o pid=,sid= | awk -v s="$bg" '$2 == s { print $1 }'); do
			kill -9 "$p" 2>/dev/null
		done
		wait_gone "$bg" 5
	done
}

pipes_refused_case() {
	local t0
	t0=$(now)
	REASON=
	DIR=$OUT/pipes-refused
	rm -rf "$DIR"
	mkdir -p "$DIR"
	OTHER_COMM=sleep
	pipes_refused_one outside \
		"task [0-9]+: fd 1 is a pipe \(pipe:\[[0-9]+\]\) whose other holder, process [0-9]+ \(sleep, fd 0\), is outside the tree: dump it with --external pipe:\[[0-9]+\]" \
		bash -c 'bash -c "echo \$\$ >pid; exec sleep 600" | sleep 600'
	OTHER_COMM=
	pipes_refused_one packet "fd [0-9]+ is a pipe in which plain bytes and a packet \(O_DIRECT\) are read as one: a pipe written with and without packet mode is not supported yet" \
		python3 -c 'import os, time, fcntl
r, w = os.pipe()
os.write(w, b"x" * 4096)
fcntl.fcntl(w, fcntl.F_SETFL, os.O_DIRECT)
os.write(w, b"y" * 10)
open("pid", "w").write(str(os.getpid()))
time.sleep(600)'
	report pipes-refused "$t0"
}

register_case pipes-refused pipes_refused_case
