# Debian's tmux: a detached server (its own unix socket, a pty pair, a bash on the pty's
# slave side) with a command already run in its pane, checkpointed with no client attached,
# restored; then a new tmux client must reach the same server: send-keys runs a command in
# the restored bash, capture-pane shows both the line from before and the new output, and
# kill-server ends it all.
app_tmux() {
	app_begin tmux
	app_packages tmux || return
	local sock=$DIR/tmux.sock pane i
	tm() { timeout 10 tmux -S "$sock" "$@" 2>&1; }
	# -D: the server stays in the foreground, the root of the tree (a plain new-session
	# would make it a daemon, child of nothing we started)
	app_start /usr/bin/tmux -S "$sock" -f /dev/null -D
	for ((i = 0; i < 100; i++)); do
		[ -S "$sock" ] && break
		sleep 0.05
	done
	tm new-session -d -x 80 -y 24 'bash --norc --noprofile' >/dev/null ||
		fail_step "tmux new-session failed"
	tm send-keys 'echo before-$((6*7))' Enter >/dev/null
	for ((i = 0; i < 100; i++)); do
		tm capture-pane -p | grep -q '^before-42$' && break
		sleep 0.05
	done
	tm capture-pane -p | grep -q '^before-42$' || fail_step "the pane did not run the first command"
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		tm send-keys 'echo after-$((6*8))' Enter >/dev/null
		for ((i = 0; i < 100; i++)); do
			tm capture-pane -p | grep -q '^after-48$' && break
			sleep 0.05
		done
		pane=$(tm capture-pane -p)
		grep -q '^before-42$' <<<"$pane" || fail_step "the pane lost its first output: $pane"
		grep -q '^after-48$' <<<"$pane" ||
			fail_step "the restored bash did not run the new command: $pane"
		tm kill-server >/dev/null
		app_wait_exit 10
	fi
	app_end
}
register_case app-tmux app_tmux
