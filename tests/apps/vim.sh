# vim in a terminal, checkpointed with --shell-job while it waits for keys in raw mode, then
# typed at after the restore: `ihello<Esc>:wq<Enter>` must be taken as vim commands (raw
# mode, no echo by the terminal) and the file written. Two places to restore it:
#   app-vim       cryo has no terminal (CI, a container runtime): vim gets its own terminal
#                 back, the pseudo-terminal of tests/tools/pty_run, which outlived the dump.
#   app-vim-cryo  cryo runs on a terminal of its own (`script`, typed at through a FIFO):
#                 vim gets that terminal, set as vim had its own.
# Also here: less (app-less): it reads its keys from /dev/tty; `q` after the restore quits.

# the vim to run: Debian's vim if there, else vim-tiny (installed); sets VIM
vim_pick() {
	VIM=$(command -v vim.basic || command -v vim.tiny)
	if [ -z "$VIM" ]; then
		app_packages vim-tiny || return 1
		VIM=$(command -v vim.tiny)
	fi
	[ -n "$VIM" ] || { skip "$APP" "no vim after installing vim-tiny"; return 1; }
}

# pty_start CMD...: CMD under pty_run in $DIR; sets PID and PTY_RUN once CMD runs $APP_EXE
# with its terminal in raw mode.
pty_start() {
	local i
	"$BUILD/tools/closefds" "$BUILD/tools/pty_run" "$DIR" "$@" </dev/null \
		>"$DIR/pty_run.txt" 2>&1 &
	PTY_RUN=$!
	APP_EXE=$(readlink -f "$1")
	for ((i = 0; i < 200; i++)); do
		PID=$(cat "$DIR/pid" 2>/dev/null)
		[ -n "$PID" ] && [ "$(readlink "/proc/$PID/exe" 2>/dev/null)" = "$APP_EXE" ] &&
			stty -F "$(cat "$DIR/pts")" -a 2>/dev/null | grep -q -- -icanon && break
		PID=
		sleep 0.05
	done
	[ -n "$PID" ] || fail_step "$1 did not start in raw mode on pty_run's terminal" || return 1
	started_pids+=("$PID")
	sleep 0.3 # done drawing
}

pty_stop() {
	kill "$PTY_RUN" 2>/dev/null
	wait "$PTY_RUN" 2>/dev/null
}

# vim_type FIFO: the keys, with pauses (an Esc alone is an Esc after a moment)
vim_type() {
	printf 'ihello' >"$1"
	sleep 0.3
	printf '\033' >"$1"
	sleep 0.6
	printf ':wq\r' >"$1"
}

# vim_written SCREEN: vim exited and wrote the file; the keys were never echoed
vim_written() {
	app_wait_exit 10
	[ -z "$REASON" ] || return 1
	[ "$(cat "$DIR/f.txt" 2>/dev/null)" = hello ] ||
		fail_step "vim did not write the file after the keys ('$(head -c 100 "$DIR/f.txt" 2>/dev/null)')" ||
		return 1
	! grep -q ihello "$1" || fail_step "the terminal echoed the keys: it is not in raw mode"
}

app_vim() {
	app_begin vim
	vim_pick || return
	SHELL_JOB=--shell-job
	if pty_start "$VIM" -u NONE -i NONE -N -n "$DIR/f.txt" && app_checkpoint; then
		: >"$DIR/out"
		stty -F "$(cat "$DIR/pts")" -a | grep -q -- '-icanon.*-echo ' ||
			fail_step "the terminal is not in raw mode after the restore: $(stty -F "$(cat "$DIR/pts")")"
		vim_type "$DIR/in"
		vim_written "$DIR/out"
	fi
	SHELL_JOB=
	pty_stop
	app_end
}

app_vim_cryo() {
	local kfd job
	app_begin vim-cryo
	vim_pick || return
	if ! command -v script >/dev/null; then
		skip "$APP" "no 'script' command (util-linux)"
		return
	fi
	SHELL_JOB=--shell-job
	if pty_start "$VIM" -u NONE -i NONE -N -n "$DIR/f.txt" && dump "$DIR/img" &&
		gone_after_dump; then
		mkfifo "$DIR/keys"
		exec {kfd}<>"$DIR/keys"
		"$BUILD/tools/closefds" script -qec "$CRYO restore -D $DIR/img --shell-job -v4 \
			-o restore.log --pidfile $DIR/restored.pid" /dev/null \
			<"$DIR/keys" >"$DIR/screen" 2>&1 &
		job=$!
		if ! wait_file "$DIR/restored.pid" 20; then
			fail_step "cryo restore --shell-job on a terminal did not restore vim"
		else
			sleep 0.3
			vim_type "$DIR/keys"
			vim_written "$DIR/screen"
		fi
		exec {kfd}>&-
		kill "$job" 2>/dev/null
		wait "$job" 2>/dev/null
	fi
	SHELL_JOB=
	pty_stop
	app_end
}

app_less() {
	app_begin less
	app_packages less || return
	seq 1 1000 >"$DIR/numbers.txt"
	SHELL_JOB=--shell-job
	if pty_start "$(command -v less)" "$DIR/numbers.txt" && app_checkpoint; then
		: >"$DIR/out"
		printf ' ' >"$DIR/in" # a page down: it must still read keys, in raw mode
		sleep 0.5
		grep -q '^4[0-9]' <(tr '\r' '\n' <"$DIR/out" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g') ||
			fail_step "less did not page down after the restore: $(head -c 200 "$DIR/out" | cat -v)"
		printf 'q' >"$DIR/in"
		app_wait_exit 10
	fi
	SHELL_JOB=
	pty_stop
	app_end
}

register_case app-vim app_vim
register_case app-vim-cryo app_vim_cryo
register_case app-less app_less
