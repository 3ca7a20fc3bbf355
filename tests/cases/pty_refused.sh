# Pseudo-terminal pairs made inside the tree that cryo must refuse, by name, leaving the
# target running (sourced by tests/run.sh; uses its helpers and pipes_refused_one of
# pipes_refused.sh):
#  - a pair in packet mode with a status byte its master has not read yet (a flush of the
#    slave's input made it: TIOCPKT_FLUSHREAD);
#  - a pair with input queued in EXTPROC mode (the master's program does the line editing:
#    the kernel's line marks are not kept that way);
#  - a pair whose slave's output is stopped (tcflow TCOOFF) with output queued: the restore
#    would not stop it again;
#  - a pair with more input typed than the slave's line discipline holds (the rest waits in
#    the kernel's flip buffer, unprocessed);
# (bytes queued either way are saved: tests/progs/pty_queued.c, pty_full.c)
# and a restore that cannot have the pair's number back:
#  - pty-taken: a pair dumped (the task killed), then its /dev/pts/N taken by another
#    process before the restore: the restore fails saying so, and leaves no process.

pty_refused_case() {
	local t0
	t0=$(now)
	REASON=
	DIR=$OUT/pty-refused
	rm -rf "$DIR"
	mkdir -p "$DIR"
	OTHER_COMM=
	pipes_refused_one packet-status "fd [0-9]+ is the master of the pseudo-terminal /dev/pts/[0-9]+ in packet mode, with a status not read yet" \
		python3 -c 'import os, time, fcntl, struct, termios
m, s = os.openpty()
fcntl.ioctl(m, termios.TIOCPKT, struct.pack("i", 1))
termios.tcflush(s, termios.TCIFLUSH)
open("pid", "w").write(str(os.getpid()))
time.sleep(600)'
	pipes_refused_one extproc "fd [0-9]+ is the master of the pseudo-terminal /dev/pts/[0-9]+, with 4 bytes of input queued in EXTPROC mode" \
		python3 -c 'import os, time, termios
m, s = os.openpty()
a = termios.tcgetattr(s)
a[3] |= 0x10000
termios.tcsetattr(s, termios.TCSANOW, a)
os.write(m, b"abc\n")
open("pid", "w").write(str(os.getpid()))
time.sleep(600)'
	pipes_refused_one stopped "fd [0-9]+ is the master of the pseudo-terminal /dev/pts/[0-9]+, whose slave.s output is stopped" \
		python3 -c 'import os, time, termios
m, s = os.openpty()
os.write(s, b"".join(b"%05d queued line\n" % i for i in range(300)))
termios.tcflow(s, termios.TCOOFF)
open("pid", "w").write(str(os.getpid()))
time.sleep(600)'
	pipes_refused_one typed-ahead "fd [0-9]+ is the master of the pseudo-terminal /dev/pts/[0-9]+, with more bytes queued than its buffers hold \\(0 of output, at most [0-9]+; [0-9]+ of input, at most 4095" \
		python3 -c 'import os, time, termios
m, s = os.openpty()
os.set_blocking(m, False)
a = termios.tcgetattr(s)
a[3] &= ~termios.ECHO
termios.tcsetattr(s, termios.TCSANOW, a)
try:
    for i in range(400):
        os.write(m, b"%05d typed ahead\n" % i)
except BlockingIOError:
    pass
open("pid", "w").write(str(os.getpid()))
time.sleep(600)'
	report pty-refused "$t0"
}

pty_taken_case() {
	local t0 n holder i
	t0=$(now)
	REASON=
	DIR=$OUT/pty-taken
	rm -rf "$DIR"
	mkdir -p "$DIR/img" "$DIR/work"
	(cd "$DIR/work" && exec "$BUILD/tools/closefds" setsid python3 -c 'import os, time
m, s = os.openpty()
open("n", "w").write(os.ttyname(s).split("/")[-1])
open("pid", "w").write(str(os.getpid()))
time.sleep(600)') </dev/null >/dev/null 2>&1 &
	disown $!
	for ((i = 0; i < 100; i++)); do
		[ -s "$DIR/work/pid" ] && break
		sleep 0.02
	done
	PID=$(cat "$DIR/work/pid" 2>/dev/null)
	n=$(cat "$DIR/work/n" 2>/dev/null)
	if [ -z "$PID" ] || [ -z "$n" ]; then
		fail_step "the pair did not start"
	else
		started_pids+=("$PID")
		cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o dump.log
		[ $RC = 0 ] || fail_step "the dump failed: $(grep -i error "$DIR/cryo-dump.txt" | head -c 300)"
		wait_gone "$PID" 5
		# numbers 0..n taken by another process (the kernel gives the lowest free one)
		"$BUILD/tools/closefds" python3 -c 'import os, sys, time
n = int(sys.argv[1])
held = [os.openpty() for _ in range(n + 1)]
open(sys.argv[2], "w").write("ok")
time.sleep(60)' "$n" "$DIR/held" </dev/null >/dev/null 2>&1 &
		holder=$!
		for ((i = 0; i < 100; i++)); do
			[ -s "$DIR/held" ] && break
			sleep 0.02
		done
		if [ -z "$REASON" ]; then
			cryo restore restore -D "$DIR/img" -d -v4 -o restore.log
			[ $RC = 0 ] && fail_step "the restore took a pseudo-terminal number another process holds"
			grep -q "the pseudo-terminal /dev/pts/$n is taken" "$DIR/cryo-restore.txt" ||
				fail_step "the restore does not say /dev/pts/$n is taken: $(grep -i error "$DIR/cryo-restore.txt" | head -c 300)"
			alive "$PID" && fail_step "the failed restore left process $PID"
		fi
		kill "$holder" 2>/dev/null
		wait "$holder" 2>/dev/null
	fi
	kill_leftovers
	report pty-taken "$t0"
}

register_case pty-refused pty_refused_case
register_case pty-taken pty_taken_case
