# util-linux's script(1) running a command on a pseudo-terminal it made (a terminal emulator
# in the tree: script holds the master, the command leads a session with the slave as its
# controlling terminal), checkpointed while the command sleeps. The restored command prints
# its terminal's name, which must be the one it had, writes through script to the typescript,
# and both exit.

app_script() {
	local pts child
	app_begin script
	app_packages bsdutils || return
	app_start script -q -e -c 'sleep 2; tty; echo done' typescript
	sleep 0.5
	child=$(cat /proc/"$PID"/task/"$PID"/children 2>/dev/null)
	pts=$(readlink /proc/"${child%% *}"/fd/0 2>/dev/null)
	case "$pts" in
	/dev/pts/*) ;;
	*) fail_step "script's command is not on a pseudo-terminal ($pts)" ;;
	esac
	[ -z "$REASON" ] && app_checkpoint
	[ -z "$REASON" ] && app_wait_exit 20
	if [ -z "$REASON" ]; then
		grep -q "^$pts" "$DIR/typescript" ||
			fail_step "the restored command is not on $pts: $(head -c 200 "$DIR/typescript")"
		grep -q "^done" "$DIR/typescript" || fail_step "the command did not finish its work"
	fi
	app_end
}
register_case app-script app_script
