# Debian's PostgreSQL 15 as a service runs it: a cluster made by initdb in a directory of
# its own, its postmaster started as the postgres user (setpriv; it refuses root), listening
# on a unix socket in that directory and on a port of its own on 127.0.0.1, with its helpers
# (checkpointer, background writer, walwriter, autovacuum launcher, logical replication
# launcher). Between them: the shared buffers (shared anonymous memory), a small System V
# segment (its interlock), the postmaster's death-watch pipe, a signalfd and an epoll in each
# helper. psql makes a table and fills it, and exits: no client is connected while cryo
# dumps the postmaster's tree, once with -R (it must go on answering), then for good; after
# the restore psql finds every row, over the unix socket and over TCP (each connection a
# backend the restored postmaster forks), INSERT and SELECT work, a client of the unix socket
# reads the postmaster's own pid and the postgres user's ids as its peer credentials, the
# restored cluster dumped and restored again takes one more row, and
# `pg_ctl stop -m fast` shuts the cluster down cleanly (a shutdown checkpoint, every process
# gone, the System V segment removed).
app_postgres() {
	app_begin postgres
	app_packages postgresql-15 postgresql-client-15 python3 || return
	if [ "$(id -u)" != 0 ]; then
		skip "$APP" "needs root (to run the cluster as the postgres user)"
		return
	fi
	local bin=/usr/lib/postgresql/15/bin user tmp port i got shmid pids
	user=postgres
	id -u "$user" >/dev/null 2>&1 || user=nobody
	tmp=$(mktemp -d /tmp/cryo-pg.XXXXXX)
	chown "$user:" "$tmp"
	chmod 700 "$tmp"
	as_user() { timeout 60 setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups "$@"; }
	# psql as a client would run it, bounded in time
	sql() { timeout 15 psql -X -q -v ON_ERROR_STOP=1 -At -U postgres -p "$port" "$@" 2>&1; }
	port=$(app_free_port)
	as_user "$bin/initdb" -D "$tmp/data" -A trust -U postgres -E UTF8 --locale=C --no-sync \
		>"$DIR/initdb.txt" 2>&1 || fail_step "initdb failed: $(tail -n2 "$DIR/initdb.txt")"
	if [ -z "$REASON" ]; then
		app_start setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups \
			"$bin/postgres" -D "$tmp/data" -k "$tmp" -h 127.0.0.1 -p "$port"
		# shellcheck disable=SC2034 # read by app_end: what the session leader runs once setpriv has exec'd
		APP_EXE=$bin/postgres
		for ((i = 0; i < 200; i++)); do
			[ "$(sql -h "$tmp" -c 'select 1')" = 1 ] && break
			sleep 0.05
		done
		[ "$(sql -h "$tmp" -c 'select 1')" = 1 ] ||
			fail_step "postgres does not answer: $(tail -n3 "$DIR/stderr")"
	fi
	if [ -z "$REASON" ]; then
		shmid=$(awk 'NR == 7 { print $2 }' "$tmp/data/postmaster.pid")
		[ "$(head -n1 "$tmp/data/postmaster.pid")" = "$PID" ] ||
			fail_step "postmaster.pid names $(head -n1 "$tmp/data/postmaster.pid"), not $PID"
		got=$(sql -h "$tmp" -c "create table t (id int primary key, v text);
			insert into t select g, 'row ' || g from generate_series(1, 1000) g;
			select count(*), sum(id) from t;")
		[ "$got" = "1000|500500" ] || fail_step "filling the table gave '$got'"
	fi
	sleep 0.3
	if [ -z "$REASON" ]; then
		dump "$DIR/img-r" -R
		alive "$PID" || fail_step "the postmaster is gone after dump -R"
		got=$(sql -h "$tmp" -c "select count(*) from t")
		[ -z "$REASON" ] && [ "$got" != 1000 ] && fail_step "after dump -R: count '$got'"
	fi
	sleep 0.3
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		got=$(sql -h "$tmp" -c "select count(*), sum(id), max(v) from t")
		[ "$got" = "1000|500500|row 999" ] || fail_step "after the restore (unix socket): '$got'"
	fi
	if [ -z "$REASON" ]; then
		got=$(sql -h 127.0.0.1 -c "insert into t values (1001, 'after the restore');
			select v from t where id = 1001; select count(*) from t;")
		[ "$got" = $'after the restore\n1001' ] || fail_step "after the restore (TCP): '$got'"
	fi
	if [ -z "$REASON" ]; then
		got=$(sql -h "$tmp" -c "select count(*), sum(id) from t")
		[ "$got" = "1001|501501" ] || fail_step "a new connection after the insert: '$got'"
		# what a client of the unix socket reads of its server
		got=$(timeout 10 /usr/bin/python3 -c 'import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
print("%d %d %d" % struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)))' \
			"$tmp/.s.PGSQL.$port" 2>&1)
		[ "$got" = "$PID $(id -u "$user") $(id -g "$user")" ] ||
			fail_step "the unix socket's peer credentials are '$got', not '$PID $(id -u "$user") $(id -g "$user")'"
	fi
	# a second generation: the restored cluster, which forked backends, dumped and restored
	[ -z "$REASON" ] && dump "$DIR/img2" && gone_after_dump && restore "$DIR/img2"
	if [ -z "$REASON" ]; then
		got=$(sql -h 127.0.0.1 -c "insert into t values (1002, 'second'); select count(*), sum(id) from t;")
		[ "$got" = "1002|502503" ] || fail_step "after the second restore: '$got'"
	fi
	if [ -z "$REASON" ]; then
		pids=$(ps -o pid= --ppid "$PID")
		as_user "$bin/pg_ctl" -D "$tmp/data" stop -m fast -t 30 >"$DIR/pg_ctl.txt" 2>&1 ||
			fail_step "pg_ctl stop failed: $(tail -n2 "$DIR/pg_ctl.txt")"
		wait_gone "$PID" 10 || fail_step "the postmaster did not exit"
		for i in $pids; do
			alive "$i" && fail_step "process $i ($(cat "/proc/$i/comm" 2>/dev/null)) still runs"
		done
		grep -q "database system is shut down" "$DIR/stderr" ||
			fail_step "the log does not say the cluster was shut down: $(tail -n2 "$DIR/stderr")"
		grep -q "checkpoint complete" "$DIR/stderr" || fail_step "no shutdown checkpoint in the log"
		[ -n "$shmid" ] && shm_nattch "$shmid" >/dev/null &&
			fail_step "the System V segment $shmid is left"
	fi
	app_end
	# what a failure left: the interlock segment of a postmaster that was killed, the cluster
	if [ -n "${shmid:-}" ] && [ "$(shm_nattch "$shmid")" = 0 ]; then
		ipcrm -m "$shmid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
# shm_nattch ID: the number of attaches of System V segment ID; fails if there is none
shm_nattch() {
	ipcs -m | awk -v id="$1" '$2 == id { print $6; found = 1 } END { exit !found }'
}
register_case app-postgres app_postgres
