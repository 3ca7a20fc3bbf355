# Full-screen programs of Debian on a pseudo-terminal (tests/tools/pty_run, with pty_start
# and pty_stop of vim.sh), dumped and restored with --shell-job and restored without a
# terminal of cryo's own, so they get theirs back:
#   app-nano  nano editing a file, with words typed before the checkpoint that only its memory
#             holds; after the restore more words, ^O Enter to write, ^X to leave: the file
#             must hold both, in order.
#   app-htop  htop refreshing every 0.3 s its list of the processes whose command line has a
#             mark (itself); after the restore a new process with the mark is started, ^L
#             makes htop draw its whole screen again: it must list itself (same pid) and the
#             new process (so it reads /proc afresh), then quit on q.

app_nano() {
	app_begin nano
	app_packages nano || return
	SHELL_JOB=--shell-job
	printf 'line one\n' >"$DIR/f.txt"
	if TERM=xterm pty_start /bin/nano -R0 --ignorercfiles --nohelp "$DIR/f.txt"; then
		# at the end of the file (Alt-/), then the first words
		printf '\033/' >"$DIR/in"
		sleep 0.3
		printf 'typed before ' >"$DIR/in"
		sleep 0.5
		grep -q 'typed before' "$DIR/out" || fail_step "nano did not show the words typed"
	fi
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		stty -F "$(cat "$DIR/pts")" -a | grep -q -- '-icanon.*-echo ' ||
			fail_step "the terminal is not in raw mode after the restore: $(stty -F "$(cat "$DIR/pts")")"
		printf 'and after the restore' >"$DIR/in"
		sleep 0.3
		printf '\017' >"$DIR/in" # ^O: write out
		sleep 0.5
		printf '\r' >"$DIR/in"    # the name it offers
		sleep 0.5
		printf '\030' >"$DIR/in" # ^X: leave
		app_wait_exit 10
	fi
	if [ -z "$REASON" ]; then
		[ "$(cat "$DIR/f.txt")" = "line one
typed before and after the restore" ] ||
			fail_step "nano wrote '$(head -c 200 "$DIR/f.txt")'"
	fi
	SHELL_JOB=
	pty_stop
	app_end
}

app_htop() {
	local n npid
	app_begin htop
	app_packages htop || return
	SHELL_JOB=--shell-job
	# the filter shows the processes whose command line has the mark: htop itself and, after
	# the restore, a new one
	TERM=xterm pty_start /usr/bin/htop -d 3 -F zz-cryo-mark && sleep 1 &&
		{ sed 's/\x1b\[[0-9;?]*[A-Za-z]/ /g' "$DIR/out" | grep -qE "(^| )$PID +root " ||
			fail_step "htop did not list itself"; }
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		perl -e 'sleep 20' zz-cryo-mark &
		npid=$!
		sleep 1
		: >"$DIR/out"
		printf '\014' >"$DIR/in" # ^L: draw it all again
		sleep 1
		n=$(wc -c <"$DIR/out")
		sed 's/\x1b\[[0-9;?]*[A-Za-z]/ /g' "$DIR/out" >"$DIR/screen.txt"
		grep -qE "(^| )$PID +root " "$DIR/screen.txt" ||
			fail_step "htop's screen after the restore ($n bytes) does not show its pid $PID"
		grep -qE "(^| )$npid +root " "$DIR/screen.txt" ||
			fail_step "htop's screen after the restore does not show the process $npid started after it"
		kill "$npid"
		wait "$npid" 2>/dev/null
		printf 'q' >"$DIR/in"
		app_wait_exit 10
	fi
	SHELL_JOB=
	pty_stop
	app_end
}

register_case app-nano app_nano
register_case app-htop app_htop
