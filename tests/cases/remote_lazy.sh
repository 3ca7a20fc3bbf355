# Remote lazy restore, the case `remote-lazy` (sourced by tests/run.sh): `cryo dump
# --lazy-pages --port P` writes every image but the private anonymous memory and serves it
# from the frozen tree; `cryo lazy-pages --page-server --address --port` fetches it as the
# restored tree touches it. Both ends run on this machine: the restore side in a pid
# namespace of its own (the dumped tree still holds its pids here), its first pids taken
# high so that the restored ones are free there.
#
#  remote-lazy          mem_anon dumped --lazy-pages: the page image holds holes where the
#                       memory was, the restored test checks its memory (PASS), the daemon
#                       ends 0, the dump ends 0 and its tree is gone
#  remote-lazy-big      the same with lazy_big (256 MiB, most of it pushed in the background)
#  remote-lazy-fork     the same with lazy_fork, which forks as soon as it runs: the child's
#                       missing pages come from the source task it was forked from
#  remote-lazy-remap    the same with lazy_remap, which discards, moves, replaces and grows
#                       its memory as soon as it runs, pages still missing
#  remote-lazy-touching the same with lazy_touching: writable mappings side by side that
#                       cannot merge, written at their boundaries as soon as it runs
#  remote-lazy-tls      mem_anon with --tls at both ends (each checks the other's certificate)
#  remote-lazy-killed   the dump SIGKILLed while lazy_big's memory is still coming: the
#                       daemon names the source that went away, the restored task is killed
#                       (it never runs its check on missing memory), the daemon ends 1; the
#                       original runs on and passes its own check
#  remote-lazy-daemon-killed  the daemon killed midway: its guard kills the restored task, the
#                       dump fails (its daemon went before DONE) and its tree runs on
#  remote-lazy-refused  a daemon given the wrong port fails naming it, the restore without
#                       it creates nothing; so does one through a daemon without a source (it
#                       names what it lacks); a client that asks the dump for memory it did not
#                       leave in its tree makes the dump fail and resume its tree, which
#                       passes its check; a restore without --lazy-pages is refused; dump
#                       --lazy-pages without --port or with --compress is refused
#  remote-lazy-done-lost  the daemon's DONE never reaches the dump: both copies must not run
#  remote-lazy-done-daemon-killed  the same, the daemon killed waiting for the answer: its guard
#                          kills the complete copy
#  remote-lazy-bad-source  a fake source answering with more bytes than asked: the daemon
#                       names it and kills the restored task; the real dump, whose client goes
#                       without a word, fails and its tree runs on, passing its check

RL_PORT=27183

# rl_dump: dump $PID --lazy-pages in the background (RL_DUMP_PID), until inventory.img is
# written (the images complete, the pages served from now on); into $DIR/img, or
# RL_DUMP_DIR when set (the restore side always reads $DIR/img)
rl_dump() {
	local i img=${RL_DUMP_DIR:-$DIR/img}
	mkdir -p "$img"
	# no timeout in between: RL_DUMP_PID is cryo's own pid (its waits end by themselves)
	"$BUILD/tools/closefds" "$CRYO" dump -t "$PID" -D "$img" \
		--lazy-pages --address 127.0.0.1 --port "$RL_PORT" -v4 -o dump.log ${RL_DUMP_OPTS:-} \
		>"$DIR/cryo-dump.txt" 2>&1 </dev/null &
	RL_DUMP_PID=$!
	for i in $(seq 200); do
		[ -f "$img/inventory.img" ] && return 0
		kill -0 "$RL_DUMP_PID" 2>/dev/null || break
		sleep 0.05
	done
	fail_step "dump --lazy-pages wrote no inventory: $(tail -n 2 "$DIR/cryo-dump.txt")"
}

# rl_dump_wait: the dump's exit status in RL_RC
rl_dump_wait() {
	wait "$RL_DUMP_PID" 2>/dev/null
	RL_RC=$?
	RL_DUMP_PID=
}

# rl_restore_side PORT MODE: in a new pid namespace, the daemon fetching from PORT (none: a
# daemon without a source), the restore, then (MODE check) the verdict of the restored test,
# or (MODE wait) a file `restored` for the caller, who harms the source meanwhile; then the
# daemon's end. Results in $DIR/side-*.
rl_restore_side() {
	local port=$1 mode=$2 src="--page-server --address 127.0.0.1 --port $1"
	[ "$port" = none ] && src=
	cat >"$DIR/side.sh" <<EOF
echo 30000 >/proc/sys/kernel/ns_last_pid
env ${RL_LAZY_ENV:-} "$BUILD/tools/closefds" timeout -k 5 "$CRYO_TIMEOUT" "$CRYO" lazy-pages -D "$DIR/img" \
	$src ${RL_LAZY_OPTS:-} -v4 -o lazy.log \
	>"$DIR/cryo-lazy.txt" 2>&1 </dev/null &
lp=\$!
for i in \$(seq 100); do
	[ -S "$DIR/img/lazy-pages.socket" ] && break
	kill -0 \$lp 2>/dev/null || break
	sleep 0.05
done
"$BUILD/tools/closefds" timeout -k 5 "$CRYO_TIMEOUT" "$CRYO" restore -D "$DIR/img" -d \
	--lazy-pages -v4 -o restore.log --pidfile "$DIR/restored.pid" \
	>"$DIR/cryo-restore.txt" 2>&1 </dev/null
echo \$? >"$DIR/side-restore.rc"
if [ $mode = check ] && [ "\$(cat "$DIR/side-restore.rc")" = 0 ]; then
	kill -TERM $PID 2>/dev/null
	for i in \$(seq 400); do
		grep -q '^PASS\|^FAIL' "$DIR/out.txt" && break
		sleep 0.05
	done
else
	: >"$DIR/restored"
fi
wait \$lp
echo \$? >"$DIR/side-lazy.rc"
for i in \$(seq 100); do
	[ -d /proc/$PID ] || break
	sleep 0.05
done
[ -d /proc/$PID ] && echo alive >"$DIR/side-alive"
exit 0
EOF
	rm -f "$DIR"/side-* "$DIR/restored"
	unshare --pid --fork --mount-proc bash "$DIR/side.sh" >"$DIR/side.txt" 2>&1 &
	RL_SIDE_PID=$!
}

rl_side_wait() {
	wait "$RL_SIDE_PID"
	RL_SIDE_PID=
}

rl_cleanup() {
	[ -n "${RL_DUMP_PID:-}" ] && kill -9 "$RL_DUMP_PID" 2>/dev/null && wait "$RL_DUMP_PID" 2>/dev/null
	[ -n "${RL_SIDE_PID:-}" ] && wait "$RL_SIDE_PID" 2>/dev/null
	RL_DUMP_PID=
	RL_SIDE_PID=
}

# the same over TLS (the page server's certificates, tests/cases/page_server.sh): the dump
# presents the server's, the daemon a client's
rl_tls() {
	local d=$DIR/pki
	ps_certs || return
	RL_DUMP_OPTS="--tls --tls-cacert $d/ca.pem --tls-cert $d/srv.pem --tls-key $d/srv-key.pem" \
		RL_LAZY_OPTS="--tls --tls-cacert $d/ca.pem --tls-cert $d/cli.pem --tls-key $d/cli-key.pem" \
		rl_one mem_anon
}

rl_one() {
	local prog=$1 size used
	start_test "$prog" && rl_dump || return
	alive "$PID" || fail_step "the tree died while its pages are served" || return
	# the private memory is not in the images: the page image is mostly holes
	size=$(stat -c %s "$DIR/img/pages-$PID.img")
	used=$(($(stat -c %b "$DIR/img/pages-$PID.img") * 512))
	[ "$used" -lt $((size / 2)) ] ||
		fail_step "pages-$PID.img stores $used of its $size bytes: the memory was written" || return
	"$CRYO" show "$DIR/img/inventory.img" | grep -q "lazyremote_ranges" ||
		fail_step "the inventory lists no memory left at the source" || return
	rl_restore_side "$RL_PORT" check
	rl_side_wait
	rl_dump_wait
	[ "$(cat "$DIR/side-restore.rc" 2>/dev/null)" = 0 ] ||
		fail_step "restore --lazy-pages failed: $(tail -n 2 "$DIR/cryo-restore.txt")" || return
	grep -qx PASS "$DIR/out.txt" ||
		fail_step "the restored test: $(grep -m1 '^FAIL' "$DIR/out.txt" | head -c 300)" ||
		return
	[ "$(cat "$DIR/side-lazy.rc" 2>/dev/null)" = 0 ] ||
		fail_step "lazy-pages exited $(cat "$DIR/side-lazy.rc"): $(tail -n 2 "$DIR/img/lazy.log")" || return
	[ "$RL_RC" = 0 ] || fail_step "the dump exited $RL_RC: $(tail -n 2 "$DIR/cryo-dump.txt")" || return
	grep -q "the lazy-pages daemon has every page" "$DIR/img/dump.log" ||
		fail_step "the dump did not serve the pages" || return
	wait_gone "$PID" 5 || fail_step "the dumped tree $PID runs on after the served dump"
}

rl_killed() {
	local i
	start_test lazy_big && rl_dump || return
	rl_restore_side "$RL_PORT" wait
	for i in $(seq 200); do
		[ -f "$DIR/restored" ] && break
		sleep 0.05
	done
	# 256 MiB take a second or more to come: the source dies in the middle
	kill -9 "$RL_DUMP_PID"
	rl_dump_wait
	rl_side_wait
	[ "$(cat "$DIR/side-restore.rc" 2>/dev/null)" = 0 ] ||
		fail_step "restore --lazy-pages failed: $(tail -n 2 "$DIR/cryo-restore.txt")" || return
	grep -q "the source of the pages, the dump at 127.0.0.1 port $RL_PORT, " "$DIR/img/lazy.log" ||
		fail_step "the daemon did not name the source that went away: $(grep -m1 Error "$DIR/img/lazy.log")" ||
		return
	grep -q "task $PID: its pages cannot come from the dumped tree: killing it" "$DIR/img/lazy.log" ||
		fail_step "the daemon did not kill the restored task" || return
	[ "$(cat "$DIR/side-lazy.rc" 2>/dev/null)" = 1 ] ||
		fail_step "lazy-pages exited $(cat "$DIR/side-lazy.rc") after losing its source" || return
	[ -f "$DIR/side-alive" ] && fail_step "the restored task runs on without its memory" && return
	grep -q "^PASS\|^FAIL" "$DIR/out.txt" &&
		fail_step "the restored task ran its check: $(cat "$DIR/out.txt")" && return
	# the original, left by its killed dump, runs on unharmed
	alive "$PID" || fail_step "the original died with its dump" || return
	check
}

# rl_ask ADDR: a client of the dump in $DIR/img, its hello right (the images' number), asking
# for one page of $PID at ADDR
rl_ask() {
	"$CRYO" show "$DIR/img/inventory.img" >"$DIR/inventory.json"
	python3 - "$RL_PORT" "$PID" "$DIR/inventory.json" "$1" >"$DIR/client.txt" 2>&1 <<'PY'
import json, socket, struct, sys
rid = json.load(open(sys.argv[3]))["entry"]["lazyremote_id"]
def varint(v):
    b = b""
    while True:
        c = v & 0x7f
        v >>= 7
        if v:
            b += bytes([c | 0x80])
        else:
            return b + bytes([c])
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
hello = bytes([0x08, 0x01, 0x40, 0x01, 0x48]) + varint(rid)  # version 1, lazyremote, its id
s.sendall(struct.pack("<IIQ", 1, 0, len(hello)) + hello)
print("hello answered", struct.unpack("<IIQ", s.recv(16)))
s.sendall(struct.pack("<IIQ", 10, int(sys.argv[2]), 16) + struct.pack("<QQ", int(sys.argv[4], 0), 1))
print("get answered", s.recv(16))
PY
}

rl_refused() {
	local rc
	start_test mem_anon || return
	cryo nop dump -t "$PID" -D "$DIR/nop" --lazy-pages
	[ $RC = 1 ] && grep -q "dump --lazy-pages needs --port" "$DIR/cryo-nop.txt" ||
		fail_step "dump --lazy-pages without --port: exit $RC: $(tail -n1 "$DIR/cryo-nop.txt")" || return
	mkdir -p "$DIR/nop"
	cryo lz4 dump -t "$PID" -D "$DIR/nop" --lazy-pages --port "$RL_PORT" --compress
	[ $RC = 1 ] && grep -q "not supported yet" "$DIR/cryo-lz4.txt" ||
		fail_step "dump --lazy-pages --compress: exit $RC: $(tail -n1 "$DIR/cryo-lz4.txt")" || return
	alive "$PID" || fail_step "the test died" || return
	rl_dump || return
	# a plain restore of these images: refused, the memory is not in them
	mkdir -p "$DIR/copy"
	cp --sparse=always "$DIR"/img/*.img "$DIR/copy/"
	cryo plain restore -D "$DIR/copy" -d
	[ $RC = 1 ] && grep -q "restore it with --lazy-pages" "$DIR/cryo-plain.txt" ||
		fail_step "a plain restore: exit $RC: $(tail -n1 "$DIR/cryo-plain.txt")" || return
	# the wrong port: the daemon says so, the restore creates nothing
	rl_restore_side $((RL_PORT + 1)) check
	rl_side_wait
	[ "$(cat "$DIR/side-lazy.rc" 2>/dev/null)" = 1 ] &&
		grep -q "no dump --lazy-pages serves pages at 127.0.0.1 port $((RL_PORT + 1))" "$DIR/cryo-lazy.txt" ||
		fail_step "lazy-pages with a wrong port: $(tail -n1 "$DIR/cryo-lazy.txt")" || return
	[ "$(cat "$DIR/side-restore.rc" 2>/dev/null)" = 1 ] &&
		grep -q "no lazy-pages daemon listens" "$DIR/cryo-restore.txt" ||
		fail_step "the restore without its daemon: $(tail -n1 "$DIR/cryo-restore.txt")" || return
	grep -q "creating the tree" "$DIR/img/restore.log" && fail_step "the restore created its tree" && return
	# a daemon without a source: it refuses the memory left in the tree, the restore fails
	# and leaves nothing
	rl_restore_side none check
	rl_side_wait
	[ "$(cat "$DIR/side-restore.rc" 2>/dev/null)" = 1 ] ||
		fail_step "a restore through a daemon without a source: exit $(cat "$DIR/side-restore.rc")" || return
	grep -q "this daemon has no source" "$DIR/img/lazy.log" ||
		fail_step "the daemon without a source: $(grep -m1 Error "$DIR/img/lazy.log")" || return
	[ -f "$DIR/side-alive" ] && fail_step "the failed restore left its task" && return
	# a client asking for memory the dump did not leave in its tree (page 1 of the task)
	# (its hello right: the images' number, from the inventory)
	rl_ask 0x1000
	rl_dump_wait
	[ "$RL_RC" = 1 ] || fail_step "the dump exited $RL_RC after a bad request" || return
	grep -q "asked for 1 pages of task $PID at 0x1000: not memory this dump left in its tree" \
		"$DIR/img/dump.log" || fail_step "the dump did not name the bad request: $(grep -m1 Error "$DIR/img/dump.log")" || return
	[ -f "$DIR/img/inventory.img" ] && fail_step "the failed dump left its inventory" && return
	grep -q "process $PID resumed" "$DIR/img/dump.log" || fail_step "the tree was not resumed" || return
	check
}

# a source that answers a request with one page too many: the daemon reads none of it, names
# it, and kills the restored task; the real dump, never reached, is then killed and its tree
# runs on
rl_bad_source() {
	local fake=$((RL_PORT + 2)) fpid i
	start_test mem_anon && rl_dump || return
	python3 - "$fake" >"$DIR/fake.txt" 2>&1 <<'PY' &
import socket, struct, sys
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", int(sys.argv[1])))
l.listen(1)
l.settimeout(30)
print("listening", flush=True)
c, _ = l.accept()
def recv(n):
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            sys.exit(0)
        b += d
    return b
t, i, n = struct.unpack("<IIQ", recv(16))
recv(n)
c.sendall(struct.pack("<IIQ", 8, 0, 0))  # the hello accepted
t, pid, n = struct.unpack("<IIQ", recv(16))
vaddr, count = struct.unpack("<QQ", recv(16))
print("asked", t, pid, hex(vaddr), count, flush=True)
c.sendall(struct.pack("<IIQ", 11, pid, (count + 1) * 4096) + b"\xaa" * ((count + 1) * 4096))
try:
    recv(1)
except Exception:
    pass
PY
	fpid=$!
	for i in $(seq 200); do
		grep -q listening "$DIR/fake.txt" 2>/dev/null && break
		sleep 0.05
	done
	rl_restore_side "$fake" wait
	rl_side_wait
	wait "$fpid"
	# the background push asks at once: the task may die before the restore ends (which
	# then fails, leaving nothing) or after
	[ -s "$DIR/side-restore.rc" ] || fail_step "the restore did not run" || return
	grep -q "port $fake, answered a request for [0-9]* pages of task $PID with message 11" \
		"$DIR/img/lazy.log" ||
		fail_step "the daemon took a wrong answer: $(grep -m1 Error "$DIR/img/lazy.log")" || return
	[ "$(cat "$DIR/side-lazy.rc" 2>/dev/null)" = 1 ] ||
		fail_step "lazy-pages exited $(cat "$DIR/side-lazy.rc")" || return
	[ -f "$DIR/side-alive" ] && fail_step "the restored task runs on with memory it lacks" && return
	grep -q "^PASS\|^FAIL" "$DIR/out.txt" &&
		fail_step "the restored task ran its check: $(cat "$DIR/out.txt")" && return
	# the real dump, never reached: a client that connects and goes without a word fails
	# it, the images are no checkpoint, the tree runs on
	python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()' \
		"$RL_PORT" || fail_step "cannot reach the dump" || return
	rl_dump_wait
	[ "$RL_RC" = 1 ] || fail_step "the dump exited $RL_RC after its daemon went without a word" ||
		return
	grep -q "dump --lazy-pages: no hello from" "$DIR/img/dump.log" ||
		fail_step "the dump did not say why: $(grep -m1 Error "$DIR/img/dump.log")" || return
	[ -f "$DIR/img/inventory.img" ] && fail_step "the failed dump left its inventory" && return
	alive "$PID" || fail_step "the original died with its dump" || return
	check
}

# a relay between the daemon and the dump that passes everything but the daemon's DONE: it
# answers it with an error and ends both connections. The daemon has every page (its task's
# memory complete) but the source did not end its tree: the daemon kills its copy, so that one
# runs; the dump, its daemon gone without DONE, fails and its tree runs on, passing its check
rl_done_lost() {
	local relay=$((RL_PORT + 3)) mode=${1:-answer} ppid i p
	start_test mem_anon && rl_dump || return
	python3 - "$relay" "$RL_PORT" "$mode" >"$DIR/relay.txt" 2>&1 <<'PY' &
import socket, struct, sys, threading
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", int(sys.argv[1])))
l.listen(1)
l.settimeout(30)
print("listening", flush=True)
d, _ = l.accept()
s = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
def back():
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            d.sendall(b)
    except OSError:
        pass
threading.Thread(target=back, daemon=True).start()
def recv(n):
    b = b""
    while len(b) < n:
        x = d.recv(n - len(b))
        if not x:
            sys.exit(0)
        b += x
    return b
while True:
    h = recv(16)
    t, i, n = struct.unpack("<IIQ", h)
    body = recv(n) if n else b""
    if t == 7:  # DONE: not passed on
        print("done held back", flush=True)
        s.close()
        if sys.argv[3] == "hang":  # no answer: the daemon is killed meanwhile
            try:
                d.recv(1)
            except OSError:
                pass
        else:
            d.sendall(struct.pack("<IIQ", 8, 5, 0))  # ACK with EIO
        d.close()
        break
    s.sendall(h + body)
PY
	ppid=$!
	for i in $(seq 200); do
		grep -q listening "$DIR/relay.txt" 2>/dev/null && break
		sleep 0.05
	done
	rl_restore_side "$relay" wait
	if [ "$mode" = hang ]; then
		# the daemon (not its guard, cryo-lazy-guard) killed while it waits for the answer
		for i in $(seq 200); do
			grep -q "done held back" "$DIR/relay.txt" 2>/dev/null && break
			sleep 0.05
		done
		for p in $(pgrep -f "lazy-pages -D $DIR/img"); do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = cryo ] && kill -9 "$p"
		done
	fi
	rl_side_wait
	wait "$ppid"
	rl_dump_wait
	grep -q "done held back" "$DIR/relay.txt" ||
		fail_step "the daemon never said DONE: $(tail -n 3 "$DIR/relay.txt")" || return
	if [ "$mode" = hang ]; then
		grep -q "lazy-pages guard: killing task $PID, whose dumped tree may run on" \
			"$DIR/img/lazy.log" ||
			fail_step "the guard did not kill the complete copy: $(tail -n 2 "$DIR/img/lazy.log")" ||
			return
	else
		grep -q "the source did not end its tree: a restored task whose memory is complete killed" \
			"$DIR/img/lazy.log" ||
			fail_step "the daemon did not kill its complete copy: $(grep -m1 Error "$DIR/img/lazy.log")" ||
			return
		[ "$(cat "$DIR/side-lazy.rc" 2>/dev/null)" = 1 ] ||
			fail_step "lazy-pages exited $(cat "$DIR/side-lazy.rc")" || return
	fi
	[ -f "$DIR/side-alive" ] && fail_step "the restored copy runs beside the original" && return
	[ "$RL_RC" = 1 ] || fail_step "the dump exited $RL_RC without its daemon's DONE" || return
	[ -f "$DIR/img/inventory.img" ] && fail_step "the failed dump left its inventory" && return
	alive "$PID" || fail_step "the original died with its dump" || return
	check
}

# the daemon killed (CRYO_FAULT) at its 40th background run, 40 of lazy_big's 256 MiB in: its
# guard kills the restored task, the source sees the connection end without DONE: the dump
# fails and its tree runs on, passing its check
rl_daemon_killed() {
	start_test lazy_big && rl_dump || return
	RL_LAZY_ENV=CRYO_FAULT=kill:40 rl_restore_side "$RL_PORT" wait
	rl_side_wait
	rl_dump_wait
	grep -q "lazy-pages guard: killing task $PID" "$DIR/img/lazy.log" ||
		fail_step "the guard did not kill the restored task: $(tail -n 2 "$DIR/img/lazy.log")" || return
	[ -f "$DIR/side-alive" ] && fail_step "the restored task runs on without its daemon" && return
	grep -q "^PASS\|^FAIL" "$DIR/out.txt" &&
		fail_step "the restored task ran its check: $(cat "$DIR/out.txt")" && return
	[ "$RL_RC" = 1 ] || fail_step "the dump exited $RL_RC after its daemon died" || return
	grep -q "went away before it had every page" "$DIR/img/dump.log" ||
		fail_step "the dump did not say why: $(grep -m1 Error "$DIR/img/dump.log")" || return
	[ -f "$DIR/img/inventory.img" ] && fail_step "the failed dump left its inventory" && return
	alive "$PID" || fail_step "the original died" || return
	check
}

rl_case() {
	run_sub_case remote-lazy rl_one mem_anon
	rl_cleanup
	run_sub_case remote-lazy-big rl_one lazy_big
	rl_cleanup
	run_sub_case remote-lazy-fork rl_one lazy_fork
	rl_cleanup
	run_sub_case remote-lazy-remap rl_one lazy_remap
	rl_cleanup
	run_sub_case remote-lazy-touching rl_one lazy_touching
	rl_cleanup
	run_sub_case remote-lazy-tls rl_tls
	rl_cleanup
	run_sub_case remote-lazy-killed rl_killed
	rl_cleanup
	run_sub_case remote-lazy-daemon-killed rl_daemon_killed
	rl_cleanup
	run_sub_case remote-lazy-refused rl_refused
	rl_cleanup
	run_sub_case remote-lazy-bad-source rl_bad_source
	rl_cleanup
	run_sub_case remote-lazy-done-lost rl_done_lost answer
	rl_cleanup
	run_sub_case remote-lazy-done-daemon-killed rl_done_lost hang
	rl_cleanup
}

register_case remote-lazy rl_case
