# Debian's redis-server as a cache on a unix socket (no TCP port), with data in it: checkpointed
# between two client sessions. After the restore redis-cli must find what was stored before,
# store more, and the server must save its data to disk on SHUTDOWN SAVE, all of it.
app_redis() {
	app_begin redis
	app_packages redis-server redis-tools || return
	local sock=$DIR/redis.sock cli i
	cli() { timeout 10 redis-cli -s "$sock" "$@" 2>&1; }
	app_start /usr/bin/redis-server --port 0 --unixsocket "$sock" --dir "$DIR" \
		--daemonize no --save "" --appendonly no --logfile "$DIR/redis.log"
	for ((i = 0; i < 100; i++)); do
		[ "$(cli PING)" = PONG ] && break
		sleep 0.05
	done
	[ "$(cli PING)" = PONG ] || fail_step "redis-server does not answer: $(tail -n2 "$DIR/redis.log")"
	if [ -z "$REASON" ]; then
		cli SET before "stored before the checkpoint" >/dev/null
		for ((i = 0; i < 100; i++)); do echo "RPUSH list item$i"; done | cli >/dev/null
		app_checkpoint
	fi
	if [ -z "$REASON" ]; then
		[ "$(cli GET before)" = "stored before the checkpoint" ] ||
			fail_step "GET before: '$(cli GET before)'"
		[ "$(cli LLEN list)" = 100 ] || fail_step "LLEN list: '$(cli LLEN list)'"
		[ "$(cli SET after yes)" = OK ] || fail_step "SET after the restore failed"
		cli SHUTDOWN SAVE >/dev/null
		app_wait_exit 20
		[ -s "$DIR/dump.rdb" ] || fail_step "no dump.rdb after SHUTDOWN SAVE: $(tail -n2 "$DIR/redis.log")"
	fi
	app_end
}
register_case app-redis app_redis
