# shellcheck shell=bash
# Live migration (src/migrate/), the case `migrate` (sourced by tests/run.sh; uses its
# helpers and page_server.sh's ps_port):
#
#  migrate-mem_writer  `cryo migrate-target -d` and `cryo migrate` over loopback of a program
#                      that writes its memory all the time: pre-dumps while it runs, the final
#                      dump, the restore on the target; every page checked at its version,
#                      each iteration and the downtime printed, the target's directory a
#                      chain 1, 2..., final
#  migrate-predump     the same with a tree (predump: a parent and a child at work)
#  migrate-lazy        mem_writer with --lazy-pages (post-copy): the tree runs on the target
#                      before its memory is there, the target's lazy-pages daemon brings it in
#  migrate-refused     a page server is no migrate-target (the migration fails before the
#                      tree is touched, which runs on and passes); a plain dump to a
#                      migrate-target is refused; migrate without --to
#  migrate-abuse       a client breaking the target's rules (a session name that is no
#                      number, files before the final dump, a file name with '/', a pages
#                      image in a files session): refused by name, nothing written outside

# mt_start DIR [OPTS...]: a migrate-target in the background on a free port; MT_PORT, MT_PID
mt_start() {
	server_start mt migrate-target "$@" || return 1
	MT_PORT=$SRV_PORT MT_PID=$SRV_PID
}

migrate_one() {
	local prog=$1 out
	shift
	start_test "$prog" || return
	sleep 0.3
	mt_start "$DIR/tgt" || return
	cryo migrate migrate -t "$PID" --to "127.0.0.1:$MT_PORT" -D "$DIR/work" -v4 -o migrate.log "$@"
	out=$DIR/cryo-migrate.txt
	[ $RC = 0 ] || fail_step "cryo migrate exited $RC: $(grep -m1 Error "$DIR/work/migrate.log")" || return
	grep -q "^migrate: pre-dump 1: " "$out" || fail_step "no line for the first pre-dump" || return
	grep -q "^migrate: final dump: " "$out" || fail_step "no line for the final dump" || return
	grep -q "downtime [0-9.]* ms" "$out" || fail_step "no downtime printed" || return
	wait_gone "$MT_PID" 10 || fail_step "migrate-target still runs after the migration" || return
	grep -q "the migration is restored" "$DIR/mt.log" ||
		fail_step "the target did not say it restored: $(grep -m1 Error "$DIR/mt.log")" || return
	[ "$(readlink "$DIR/tgt/final/parent")" = "../$(ls "$DIR/work" | grep -c '^[0-9]')" ] ||
		fail_step "the final dump's parent on the target is '$(readlink "$DIR/tgt/final/parent")'" || return
	[ -e "$DIR/tgt/final/core-$PID.img" ] && [ -e "$DIR/tgt/1/pages-$PID.img" ] ||
		fail_step "the target's directory lacks images" || return
	alive "$PID" || fail_step "the migrated process $PID is not running" || return
	if [ "${1:-}" = --lazy-pages ]; then
		grep -q "every page in place" "$DIR/mt.log" ||
			fail_step "the target's lazy-pages daemon did not finish: $(grep -m1 Error "$DIR/mt.log")" || return
	fi
	check
}

migrate_refused() {
	start_test mem_anon || return
	# a page server is not a migrate-target: refused at the hello, the tree untouched
	ps_start "$DIR/srv" || return
	mkdir -p "$DIR/w1"
	cryo to-ps migrate -t "$PID" --to "127.0.0.1:$PS_PORT" -D "$DIR/w1" -v4 -o m.log
	[ $RC != 0 ] || fail_step "a migration to a page server succeeded" || return
	grep -q "hello of a migration" "$DIR/ps-srv.log" ||
		fail_step "the page server did not say why: $(grep -m1 Error "$DIR/ps-srv.log")" || return
	alive "$PID" || fail_step "the refused migration killed the target" || return
	# a plain dump to a migrate-target: refused (no session), the tree untouched
	mt_start "$DIR/tgt" || return
	mkdir -p "$DIR/d"
	cryo plain dump -t "$PID" -D "$DIR/d" -v4 -o d.log --page-server --address 127.0.0.1 \
		--port "$MT_PORT"
	[ $RC != 0 ] || fail_step "a plain dump to migrate-target succeeded" || return
	grep -q "names no session" "$DIR/mt.log" ||
		fail_step "migrate-target did not say why: $(grep -m1 Error "$DIR/mt.log")" || return
	wait_gone "$MT_PID" 10 || fail_step "migrate-target still runs" || return
	alive "$PID" || fail_step "the refused dump killed the target" || return
	cryo no-to migrate -t "$PID"
	[ $RC != 0 ] && grep -q -- "--to" "$DIR/cryo-no-to.txt" ||
		fail_step "migrate without --to: exit $RC, $(tail -n1 "$DIR/cryo-no-to.txt")" || return
	cryo bad-to migrate -t "$PID" --to 127.0.0.1
	[ $RC != 0 ] && grep -q "HOST:PORT" "$DIR/cryo-bad-to.txt" ||
		fail_step "--to without a port: exit $RC" || return
	check
}

# mt_abuse_one NAME PYTHON-BODY MESSAGE: a client sending what the body writes; the target
# must log MESSAGE, exit, and write nothing outside its directory
mt_abuse_one() {
	local name=$1 body=$2 msg=$3
	rm -rf "$DIR/tgt"
	mt_start "$DIR/tgt" || return 1
	python3 - "$MT_PORT" "$body" <<'PY' >"$DIR/abuse-$name.txt" 2>&1
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def send(t, i, payload):
    s.sendall(struct.pack("<IIQ", t, i, len(payload)) + payload)
def pb_str(field, v):
    return bytes([field << 3 | 2, len(v)]) + v.encode()
# page_server_hello: version 1, session (4), files (5)
def hello(session, files=False):
    p = b"\x08\x01" + pb_str(4, session)
    if files:
        p += b"\x28\x01"
    send(1, 0, p)
def file(name, data=b"x", flags=0):
    n = name.encode()
    send(9, 0, struct.pack("<HH", len(n), flags) + n + data)
try:
    exec(sys.argv[2])
    s.settimeout(5)
    print("answer", s.recv(16))
except Exception as e:
    print("closed:", e)
PY
	wait_gone "$MT_PID" 10 || fail_step "$name: migrate-target still runs" || return 1
	grep -q "$msg" "$DIR/mt.log" ||
		fail_step "$name: no message of the refusal: $(grep -m1 Error "$DIR/mt.log")" || return 1
	[ -e "$DIR/etc-victim" ] && fail_step "$name: a file outside was made" && return 1
	# (inventory.img: planted by the test to open a files session)
	find "$DIR/tgt" -name '*.img' ! -name inventory.img | grep -q . &&
		fail_step "$name: an image was kept" && return 1
	mv "$DIR/mt.log" "$DIR/mt-$name.log"
	return 0
}

migrate_abuse() {
	mt_abuse_one bad-session 'hello("../x")' "a bad one" || return
	mt_abuse_one files-first 'hello("final", True)' "pages are not here" || return
	mt_abuse_one files-not-final 'hello("1", True)' "only the final" || return
	# a files session made possible: a final dump's inventory planted by hand
	mt_abuse_one slash-name 'import os; os.makedirs("'"$DIR"'/tgt/final", exist_ok=True); open("'"$DIR"'/tgt/final/inventory.img", "w").close(); hello("final", True); s.recv(16); file("../../etc-victim.img")' \
		"not an image name" || return
	mt_abuse_one pages-name 'import os; os.makedirs("'"$DIR"'/tgt/final", exist_ok=True); open("'"$DIR"'/tgt/final/inventory.img", "w").close(); hello("final", True); s.recv(16); file("pages-1.img")' \
		"not an image name" || return
	mt_abuse_one more-unopened 'import os; os.makedirs("'"$DIR"'/tgt/final", exist_ok=True); open("'"$DIR"'/tgt/final/inventory.img", "w").close(); hello("final", True); s.recv(16); file("core-1.img", b"x", 1)' \
		"not the file being written" || return
}

migrate_case() {
	run_sub_case migrate-mem_writer migrate_one mem_writer
	run_sub_case migrate-predump migrate_one predump
	run_sub_case migrate-lazy migrate_one mem_writer --lazy-pages
	run_sub_case migrate-refused migrate_refused
	run_sub_case migrate-abuse migrate_abuse
}
register_case migrate migrate_case
