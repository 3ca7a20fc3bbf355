# Debian's MariaDB server (mariadbd: InnoDB with its buffer pool, redo log and background
# threads, Aria for the system tables), a data directory made by mariadb-install-db in the
# test's directory, listening on a unix socket there and on 127.0.0.1. A table of 2000 rows is
# made and filled. A client outside the tree (the mariadb command line, fed through a FIFO)
# connects over TCP, sets a session variable and opens a transaction with one row inserted,
# not committed, and stays connected while mariadbd is checkpointed with --tcp-established.
# After the restore that client, on the same connection, still sees its variable and its row,
# and commits; a new client over the socket finds the 2001 rows with the right sum and the
# committed row, and inserts more; then `mariadb-admin shutdown` stops the server cleanly.
# InnoDB runs with --innodb-use-native-aio=0 (its own I/O threads): with native AIO, as
# Debian's build has it by default, it holds an io_uring, which cryo refuses (the dump names
# the descriptor and leaves mariadbd running); MARIADB_AIO=1 runs it so. Its temporary files
# (in its --tmpdir, the test's directory: made with O_TMPFILE, never named) come back as
# they were.
app_mariadb() {
	app_begin mariadb
	app_packages mariadb-server mariadb-client || return
	local port i out kfd cpid sock=$DIR/mysql.sock
	port=$(app_free_port)
	mariadb-install-db --no-defaults --datadir="$DIR/data" --user=root \
		--auth-root-authentication-method=normal --skip-test-db >"$DIR/install.txt" 2>&1 ||
		fail_step "mariadb-install-db: $(tail -n3 "$DIR/install.txt")"
	[ -z "$REASON" ] && app_start /usr/sbin/mariadbd --no-defaults --datadir="$DIR/data" \
		--socket="$sock" --port="$port" --bind-address=127.0.0.1 --user=root \
		--pid-file="$DIR/mariadbd.pid" --log-error="$DIR/error.log" \
		--innodb-use-native-aio="${MARIADB_AIO:-0}" --tmpdir="$DIR" --innodb-buffer-pool-size=64M
	sql() { timeout 20 mariadb --no-defaults -S "$sock" -u root -N -B "$@" 2>&1; }
	for ((i = 0; i < 300; i++)); do
		[ -n "$REASON" ] && break
		[ "$(sql -e 'select 1')" = 1 ] && break
		alive "$PID" || break
		sleep 0.1
	done
	if [ -z "$REASON" ]; then
		out=$(sql -e "create database t; use t; create table t.r (id int primary key, v varchar(64)) engine=innodb;
			insert into t.r select seq, concat('row ', seq) from seq_1_to_2000;
			create user app@'127.0.0.1'; grant all on t.* to app@'127.0.0.1';
			select count(*), sum(id) from t.r")
		[ "$out" = "2000	2001000" ] || fail_step "filling the table: $out $(tail -n3 "$DIR/error.log")"
	fi
	if [ -z "$REASON" ]; then
		mkfifo "$DIR/keys"
		exec {kfd}<>"$DIR/keys"
		timeout 60 mariadb --no-defaults -h 127.0.0.1 -P "$port" -u app -N -B -n t \
			<"$DIR/keys" >"$DIR/client.txt" 2>&1 {kfd}>&- &
		cpid=$!
		printf '%s\n' "set @note = 'kept across';" "begin;" \
			"insert into r values (5000, 'not yet committed');" "select 'ready';" >&"$kfd"
		for ((i = 0; i < 100; i++)); do
			grep -q '^ready$' "$DIR/client.txt" && break
			sleep 0.1
		done
		grep -q '^ready$' "$DIR/client.txt" || fail_step "the client before the checkpoint: $(cat "$DIR/client.txt")"
	fi
	[ -z "$REASON" ] && app_checkpoint --tcp-established --file-locks
	if [ -n "${kfd:-}" ]; then
		if [ -z "$REASON" ]; then
			printf '%s\n' "select @note, v from r where id = 5000;" "commit;" "select 'done';" >&"$kfd"
			for ((i = 0; i < 100; i++)); do
				grep -q '^done$' "$DIR/client.txt" && break
				sleep 0.1
			done
			grep -q "^kept across	not yet committed$" "$DIR/client.txt" && grep -q '^done$' "$DIR/client.txt" ||
				fail_step "the client across the checkpoint: $(cat "$DIR/client.txt")"
		fi
		exec {kfd}>&-
		wait "$cpid"
	fi
	if [ -z "$REASON" ]; then
		out=$(sql t -e "select count(*), sum(id) from t.r; select v from t.r where id = 5000;
			insert into t.r select seq, concat('new ', seq) from seq_6000_to_6099;
			select count(*) from t.r where v like 'new %'")
		[ "$out" = "2001	2006000
not yet committed
100" ] || fail_step "a new client after the restore: $out $(tail -n3 "$DIR/error.log")"
	fi
	if [ -z "$REASON" ]; then
		timeout 30 mariadb-admin --no-defaults -S "$sock" -u root shutdown >"$DIR/shutdown.txt" 2>&1 ||
			fail_step "mariadb-admin shutdown: $(cat "$DIR/shutdown.txt")"
		app_wait_exit 30
	fi
	app_end
}
register_case app-mariadb app_mariadb
# also through a pre-dump (the buffer pool written to while tracked) and checkpointed twice
app_variant predump mariadb
app_variant gen2 mariadb
