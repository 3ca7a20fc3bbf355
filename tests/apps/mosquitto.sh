# Debian's mosquitto MQTT broker on 127.0.0.1 with a subscriber outside the tree that stays
# connected (mosquitto_sub): two messages published before the checkpoint, the broker dumped
# and restored with --tcp-established, two more published after; the subscriber must have
# received all four, in order, on its one connection.
app_mosquitto() {
	app_begin mosquitto
	app_packages mosquitto mosquitto-clients || return
	local port i spid
	port=$(app_free_port)
	printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" >"$DIR/m.conf"
	app_start /usr/sbin/mosquitto -c m.conf
	for ((i = 0; i < 100; i++)); do
		ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && break
		sleep 0.05
	done
	timeout 30 mosquitto_sub -h 127.0.0.1 -p "$port" -t cryo/test -C 4 -q 1 >"$DIR/sub.txt" 2>&1 &
	spid=$!
	for ((i = 0; i < 100; i++)); do
		[ "$(ss -Htn state established "dport = :$port" 2>/dev/null | wc -l)" -ge 1 ] && break
		sleep 0.05
	done
	sleep 0.2
	for i in 1 2; do
		mosquitto_pub -h 127.0.0.1 -p "$port" -t cryo/test -q 1 -m "before $i" ||
			fail_step "publishing before the checkpoint failed"
	done
	sleep 0.2
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	if [ -z "$REASON" ]; then
		for i in 1 2; do
			mosquitto_pub -h 127.0.0.1 -p "$port" -t cryo/test -q 1 -m "after $i" ||
				fail_step "publishing after the restore failed"
		done
	fi
	wait "$spid"
	[ -z "$REASON" ] && [ "$(tr '\n' '|' <"$DIR/sub.txt")" != "before 1|before 2|after 1|after 2|" ] &&
		fail_step "the subscriber received '$(tr '\n' '|' <"$DIR/sub.txt")'"
	app_end
}
register_case app-mosquitto app_mosquitto
