# Debian's zsh, interactive on a pseudo-terminal (tests/tools/pty_run, pty_start and pty_stop
# of vim.sh; its line editor puts the terminal in raw mode at each prompt), dumped and
# restored with --shell-job. Before the checkpoint, typed at it: a variable, a function, a
# directory pushed on its stack, a job in the background (sleep, a process group of its own
# in the shell's session), and then half of a command line, not entered. After the restore
# the rest of that line is typed and entered: the command must be the whole line (the line
# editor's buffer came back), and then the variable, the function, the stack, the job (still
# running, still the shell's, killed by %1) and the history are written to a file and checked.
app_zsh() {
	app_begin zsh
	app_packages zsh || return
	local res spid
	SHELL_JOB=--shell-job
	# zsh_keys TEXT: keys typed on the terminal, and a moment for zsh
	zsh_keys() {
		printf '%s' "$1" >"$DIR/in"
		sleep 0.3
	}
	if TERM=xterm PS1='zsh> ' pty_start /usr/bin/zsh -f -i; then
		zsh_keys "cd ${DIR@Q}; pushd -q /; pushd -q ${DIR@Q}"$'\r'
		zsh_keys $'n=41; note="set before the checkpoint"\r'
		zsh_keys $'greet() { print -r -- "hello, $1"; }\r'
		zsh_keys $'sleep 1000 &\r'
		zsh_keys 'print -r -- par'
		sleep 0.3
		grep -q 'print -r -- par' "$DIR/out" || fail_step "zsh did not show the keys typed: $(tail -c 200 "$DIR/out" | cat -v)"
		[ -z "$REASON" ] && [ "$(ps -o comm= --ppid "$PID")" != sleep ] &&
			fail_step "zsh has no background sleep: $(ps -o pid=,args= --ppid "$PID")"
		spid=$(ps -o pid= --ppid "$PID" | tr -d ' ')
	fi
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		stty -F "$(cat "$DIR/pts")" -a | grep -q -- '-icanon.*-echo ' ||
			fail_step "the terminal is not in raw mode after the restore: $(stty -F "$(cat "$DIR/pts")")"
		zsh_keys $'tial >partial.txt\r'
		zsh_keys $'(( n++ )); { print -r -- "$n $note"; greet restore; dirs -p; jobs -l; fc -ln 1 } >state.txt\r'
		zsh_keys $'kill %1\r'
		sleep 0.3
		zsh_keys $'exit\r'
		app_wait_exit 10
	fi
	if [ -z "$REASON" ]; then
		[ "$(cat "$DIR/partial.txt" 2>/dev/null)" = partial ] ||
			fail_step "the half-typed line after the restore: '$(head -c 100 "$DIR/partial.txt" 2>/dev/null)'"
	fi
	if [ -z "$REASON" ]; then
		res=$(cat "$DIR/state.txt" 2>/dev/null)
		[ "$(sed -n 1,2p <<<"$res")" = "42 set before the checkpoint
hello, restore" ] || fail_step "the shell's variables or functions after the restore: $(head -c 300 <<<"$res")"
	fi
	if [ -z "$REASON" ]; then
		[ "$(sed -n 3,5p <<<"$res")" = "$DIR
/
$DIR" ] || fail_step "the directory stack after the restore: $(sed -n 3,5p <<<"$res")"
	fi
	if [ -z "$REASON" ]; then
		grep -qE "^\[1\] +\+ +$spid running +sleep 1000\$" <<<"$res" ||
			fail_step "the job after the restore: $(grep -v '^/' <<<"$res" | sed -n 3,4p)"
		grep -qx 'greet() { print -r -- "hello, $1"; }' <<<"$res" && grep -qx 'print -r -- partial >partial.txt' <<<"$res" ||
			fail_step "the history after the restore: $(tail -n 8 <<<"$res")"
		grep -q 'terminated  sleep 1000' "$DIR/out" ||
			fail_step "zsh did not tell of its job killed by %1: $(tail -c 300 "$DIR/out" | cat -v)"
	fi
	SHELL_JOB=
	pty_stop
	app_end
}
register_case app-zsh app_zsh
# also checkpointed twice
app_variant gen2 zsh
