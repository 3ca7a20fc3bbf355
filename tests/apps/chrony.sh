# Debian's chronyd as an NTP server of its own local clock (-x: it never sets the clock) on a
# UDP port of 127.0.0.1, with its command socket a unix datagram socket at a path (chronyc
# binds one of its own and is answered there). A client (chronyd -Q, which only measures)
# asks it once; checkpointed while idle, restored: chronyc still reaches it, its tracking
# state is the same reference as before, a second client is answered, and the server's count
# of NTP packets goes on from the first one's instead of starting again.
app_chrony() {
	app_begin chrony
	app_packages chrony || return
	local port out before after i
	port=$(app_free_port)
	# chronyd wants its socket's directory closed to others
	mkdir -m 700 "$DIR/run"
	cat >"$DIR/chrony.conf" <<CFG
cmdport 0
bindcmdaddress $DIR/run/chronyd.sock
pidfile $DIR/run/chronyd.pid
driftfile $DIR/drift
local stratum 10
allow 127.0.0.1
port $port
bindaddress 127.0.0.1
CFG
	chrony_ctl() { timeout 10 chronyc -h "$DIR/run/chronyd.sock" "$@" 2>&1; }
	# ntp_ask: one measurement against the server; prints chronyd -Q's last line
	ntp_ask() {
		timeout 15 chronyd -Q -t 10 -f /dev/null "server 127.0.0.1 port $port iburst maxsamples 1" 2>&1 |
			grep -v exiting | tail -n1
	}
	app_start /usr/sbin/chronyd -x -d -u root -f "$DIR/chrony.conf"
	for ((i = 0; i < 200; i++)); do
		chrony_ctl tracking | grep -q '^Stratum *: 10' && break
		sleep 0.05
	done
	before=$(chrony_ctl tracking | grep -E '^(Reference ID|Stratum|Ref time)')
	[ "$(grep -c . <<<"$before")" = 3 ] || fail_step "chronyc tracking before: $(chrony_ctl tracking)"
	out=$(ntp_ask)
	[ -z "$REASON" ] && ! grep -q 'System clock wrong by' <<<"$out" && fail_step "the first NTP client: $out"
	local n1
	n1=$(chrony_ctl serverstats | sed -n 's/^NTP packets received *: //p')
	[ -z "$REASON" ] && ! [ "${n1:-0}" -ge 1 ] 2>/dev/null && fail_step "serverstats before: '$n1'"
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		after=$(chrony_ctl tracking | grep -E '^(Reference ID|Stratum|Ref time)')
		[ "$after" = "$before" ] || fail_step "tracking after the restore: '$after', not '$before'"
		out=$(ntp_ask)
		[ -z "$REASON" ] && ! grep -q 'System clock wrong by' <<<"$out" &&
			fail_step "the NTP client after the restore: $out"
		local n2
		n2=$(chrony_ctl serverstats | sed -n 's/^NTP packets received *: //p')
		[ -z "$REASON" ] && ! [ "${n2:-0}" -gt "$n1" ] 2>/dev/null &&
			fail_step "NTP packets received: $n2 after the restore, $n1 before"
		kill -TERM "$PID"
		app_wait_exit 10
	fi
	app_end
}
register_case app-chrony app_chrony
