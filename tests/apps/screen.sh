# Debian's GNU screen, started detached in the foreground (-D -m: no fork, screen is the
# root of the tree) with its socket in a directory of its own (SCREENDIR) and a bash on a pty:
# the shell is given a variable before the checkpoint, and after the restore a new screen
# client reaches the same session (-X stuff) and has the shell compute from that variable;
# (screen expands $NAME in its commands itself: \$ is the shell's) hardcopy shows the window's text from before and after.
app_screen() {
	app_begin screen
	app_packages screen || return
	local i
	export SCREENDIR=$DIR/screens
	mkdir -m 700 "$SCREENDIR"
	sc() { timeout 10 screen -S cryo "$@" 2>&1; }
	app_start /usr/bin/screen -D -m -S cryo -c /dev/null bash --norc --noprofile
	for ((i = 0; i < 100; i++)); do
		sc -Q select . >/dev/null && break
		sleep 0.05
	done
	sc -X stuff 'x=41; echo "before-\$x"; echo \$x >before.txt\n' >/dev/null
	for ((i = 0; i < 100; i++)); do
		[ -s "$DIR/before.txt" ] && break
		sleep 0.05
	done
	[ "$(cat "$DIR/before.txt" 2>/dev/null)" = 41 ] || fail_step "the shell in screen did not run the first line"
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		sc -X stuff 'echo "after-\$((x+1))"; echo \$((x+1)) >after.txt\n' >/dev/null
		for ((i = 0; i < 100; i++)); do
			[ -s "$DIR/after.txt" ] && break
			sleep 0.05
		done
		[ "$(cat "$DIR/after.txt" 2>/dev/null)" = 42 ] ||
			fail_step "the restored shell wrote '$(cat "$DIR/after.txt" 2>/dev/null)', not 42"
	fi
	if [ -z "$REASON" ]; then
		sc -X hardcopy "$DIR/window.txt" >/dev/null
		for ((i = 0; i < 100; i++)); do
			[ -s "$DIR/window.txt" ] && break
			sleep 0.05
		done
		grep -q '^before-41$' "$DIR/window.txt" && grep -q '^after-42$' "$DIR/window.txt" ||
			fail_step "the window shows: $(cat "$DIR/window.txt" 2>/dev/null | tr -s '\n' '|')"
		sc -X quit >/dev/null
		app_wait_exit 10
	fi
	unset SCREENDIR
	app_end
}
register_case app-screen app_screen
