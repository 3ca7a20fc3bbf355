# OpenSSH's ssh-agent (-D: in the foreground) listening on a unix socket path, holding a key
# added with ssh-add, not dumpable (it clears PR_SET_DUMPABLE for its secrets): checkpointed,
# restored; ssh-add -l must list the key, and a signature made through the restored agent
# must verify with the public key.
app_ssh_agent() {
	app_begin ssh-agent
	app_packages openssh-client || return
	local i
	ssh-keygen -q -t ed25519 -N "" -C cryo-test -f "$DIR/key" || fail_step "ssh-keygen failed"
	[ -z "$REASON" ] && app_start ssh-agent -D -a "$DIR/agent.sock"
	for ((i = 0; i < 100; i++)); do
		[ -S "$DIR/agent.sock" ] && break
		sleep 0.05
	done
	[ -z "$REASON" ] && ! SSH_AUTH_SOCK=$DIR/agent.sock ssh-add -q "$DIR/key" </dev/null 2>"$DIR/add.txt" &&
		fail_step "ssh-add failed: $(cat "$DIR/add.txt")"
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		SSH_AUTH_SOCK=$DIR/agent.sock ssh-add -l >"$DIR/list.txt" 2>&1 </dev/null
		grep -q "cryo-test (ED25519)" "$DIR/list.txt" ||
			fail_step "the restored agent lists: $(cat "$DIR/list.txt")"
	fi
	if [ -z "$REASON" ]; then
		echo "signed after the restore" >"$DIR/msg"
		echo "cryo-test $(cat "$DIR/key.pub")" >"$DIR/allowed"
		SSH_AUTH_SOCK=$DIR/agent.sock ssh-keygen -Y sign -f "$DIR/key.pub" -n file "$DIR/msg" \
			</dev/null >"$DIR/sign.txt" 2>&1 || fail_step "signing through the agent: $(cat "$DIR/sign.txt")"
		[ -z "$REASON" ] && ! ssh-keygen -Y verify -f "$DIR/allowed" -I cryo-test -n file \
			-s "$DIR/msg.sig" <"$DIR/msg" >"$DIR/verify.txt" 2>&1 &&
			fail_step "the signature does not verify: $(cat "$DIR/verify.txt")"
	fi
	app_end
}
register_case app-ssh-agent app_ssh_agent
