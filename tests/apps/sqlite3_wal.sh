# Debian's python3 with its sqlite3 (libsqlite3) reading a database in WAL mode inside a read
# transaction, while a writer outside the tree (another python3) goes on writing: the reader
# holds the -shm file mapped shared with the writer and its read mark as a POSIX lock on it.
# Checkpointed with --file-locks in the middle of the transaction: after the restore the
# writer's RESTART checkpoint is still held back by the reader's mark (busy), the reader's
# snapshot is the same 100 rows as before, and after its COMMIT it sees all 500; once it is
# gone the writer's TRUNCATE checkpoint completes.
app_sqlite3_wal() {
	app_begin sqlite3-wal
	app_packages python3 || return
	local out i
	# wal_write N MODE: N more rows, then a checkpoint of that mode; prints "busy LOG DONE"
	wal_write() {
		timeout 20 /usr/bin/python3 - "$DIR/db" "$1" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0.1)
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE IF NOT EXISTS t (v TEXT)")
for i in range(int(sys.argv[2])):
    db.execute("INSERT INTO t VALUES (?)", ("x" * 3000 + str(i),))
print(*db.execute("PRAGMA wal_checkpoint(%s)" % sys.argv[3]).fetchone())
PY
	}
	out=$(wal_write 100 PASSIVE 2>&1)
	[ "${out%% *}" = 0 ] || fail_step "the first writer: $out"
	cat >"$DIR/reader.py" <<'PY'
import os, sqlite3, sys, time
db = sqlite3.connect("db", isolation_level=None)
db.execute("BEGIN")
snap = db.execute("SELECT count(*), sum(length(v)) FROM t").fetchone()
with open("reader.txt", "w") as f:
    print("snapshot", *snap, file=f)
while not os.path.exists("go"):
    time.sleep(0.05)
again = db.execute("SELECT count(*), sum(length(v)) FROM t").fetchone()
db.execute("COMMIT")
with open("reader.txt", "a") as f:
    print("again", *again, "then", *db.execute("SELECT count(*) FROM t").fetchone(), file=f)
PY
	[ -z "$REASON" ] && app_start /usr/bin/python3 reader.py
	for ((i = 0; i < 200; i++)); do
		[ -s "$DIR/reader.txt" ] && break
		sleep 0.05
	done
	local snap
	snap=$(cat "$DIR/reader.txt" 2>/dev/null)
	[ -z "$REASON" ] && [ "${snap% *}" != "snapshot 100" ] && fail_step "the reader's snapshot: '$snap'"
	[ -z "$REASON" ] && out=$(wal_write 200 RESTART 2>&1) && [ "${out%% *}" != 1 ] &&
		fail_step "the RESTART checkpoint was not held back by the reader before the dump: $out"
	[ -z "$REASON" ] && app_checkpoint --file-locks
	if [ -z "$REASON" ]; then
		out=$(wal_write 200 RESTART 2>&1)
		[ "${out%% *}" = 1 ] ||
			fail_step "the RESTART checkpoint after the restore was not held back by the reader (its read mark lost): $out"
		touch "$DIR/go"
		app_wait_exit 10
		out=$(sed -n 2p "$DIR/reader.txt")
		[ -z "$REASON" ] && [ "$out" != "again ${snap#snapshot } then 500" ] &&
			fail_step "the restored reader read '$out' after '$snap'"
		out=$(wal_write 0 TRUNCATE 2>&1)
		[ -z "$REASON" ] && [ "$out" != "0 0 0" ] && fail_step "the TRUNCATE checkpoint once the reader was gone: $out"
	fi
	app_end
}
register_case app-sqlite3-wal app_sqlite3_wal
