# sqlite3 inside a write transaction, checkpointed with --file-locks: after the restore the
# transaction still holds the database (a second sqlite3 is refused: "database is locked"),
# then it commits, and both the old row and the transaction's row are there.
app_sqlite3() {
	app_begin sqlite3
	app_packages sqlite3 || return
	local out i
	(cd "$DIR" && sqlite3 db.sqlite "create table t(x text); insert into t values('before');")
	cat >"$DIR/tx.sql" <<'SQL'
BEGIN IMMEDIATE;
INSERT INTO t VALUES('in the transaction');
.shell sleep 2
COMMIT;
SQL
	app_start sqlite3 db.sqlite ".read tx.sql"
	# in the transaction once another writer is refused
	for ((i = 0; i < 100; i++)); do
		out=$(cd "$DIR" && sqlite3 -cmd ".timeout 0" db.sqlite "insert into t values('x');" 2>&1) ||
			break
		sleep 0.05
	done
	grep -q "locked" <<<"$out" || fail_step "sqlite3 never held its transaction: $out"
	[ -z "$REASON" ] && app_checkpoint --file-locks
	if [ -z "$REASON" ]; then
		out=$(cd "$DIR" && sqlite3 -cmd ".timeout 0" db.sqlite "insert into t values('other');" 2>&1)
		[ $? != 0 ] && grep -q "locked" <<<"$out" ||
			fail_step "after the restore another writer got in: $out"
		app_wait_exit 20
	fi
	if [ -z "$REASON" ]; then
		out=$(cd "$DIR" && sqlite3 db.sqlite "select x from t order by rowid;" 2>&1 | tr '\n' ',')
		[ "$out" = "before,in the transaction," ] ||
			fail_step "the table holds '$out' after the commit (stderr: $(head -c 200 "$DIR/stderr"))"
	fi
	app_end
}
register_case app-sqlite3 app_sqlite3
