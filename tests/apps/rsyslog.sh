# Debian's rsyslogd (-n: in the foreground; three threads) reading a unix datagram socket at a
# path of its own and writing a file: a message logged with logger before the checkpoint, the
# daemon dumped and restored, then another: both must be in its file, once each, in order.
app_rsyslog() {
	app_begin rsyslog
	app_packages rsyslog bsdutils || return
	local i
	cat >"$DIR/rs.conf" <<CONF
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$DIR/log.sock")
*.* action(type="omfile" file="$DIR/log.txt" template="RSYSLOG_FileFormat")
CONF
	app_start /usr/sbin/rsyslogd -n -f rs.conf -i "$DIR/rs.pid"
	for ((i = 0; i < 100; i++)); do
		[ -S "$DIR/log.sock" ] && break
		sleep 0.05
	done
	logger -u "$DIR/log.sock" "cryo before the checkpoint" || fail_step "logger failed"
	for ((i = 0; i < 100; i++)); do
		grep -q "cryo before" "$DIR/log.txt" 2>/dev/null && break
		sleep 0.05
	done
	[ -z "$REASON" ] && ! grep -q "cryo before" "$DIR/log.txt" 2>/dev/null &&
		fail_step "rsyslogd logged nothing before the checkpoint"
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		logger -u "$DIR/log.sock" "cryo after the restore" || fail_step "logger failed after the restore"
		for ((i = 0; i < 100; i++)); do
			grep -q "cryo after" "$DIR/log.txt" 2>/dev/null && break
			sleep 0.05
		done
		[ "$(grep -o 'cryo [a-z]*' "$DIR/log.txt" | tr '\n' '|')" = "cryo before|cryo after|" ] ||
			fail_step "the restored rsyslogd wrote: $(tail -c 300 "$DIR/log.txt")"
	fi
	app_end
}
register_case app-rsyslog app_rsyslog
