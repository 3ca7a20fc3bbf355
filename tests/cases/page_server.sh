# The page server and compressed pages (src/pages/), the case `page-server` (sourced by
# tests/run.sh; uses its helpers, and predump.sh's for the chain):
#
#  ps-mem_anon, ps-mem_shared   `cryo page-server -d` + `dump --page-server`: the server's
#                   directory holds pagemap, pages and inventory, the dump's the rest (and
#                   no pages); the other images copied over, the restore from the server's
#                   directory passes the test's check
#  ps-predump       pre-dump and final dump through two page servers (parents on the
#                   server side), restored from the server's directory
#  ps-tls           the same with --tls (certificates made here with certtool) and
#                   --compress; a client whose certificate another CA signed is refused
#  ps-compress      --compress locally: mem_anon, mem_shared, a pre-dump chain with dedup
#  ps-killed        the page server killed while the dump waits on it: the dump fails, the
#                   target runs on untraced and passes its check
#  ps-abuse         a client breaking the protocol (bad length, offset, id, a parent link
#                   out of the directory, no hello...): refused, connection dropped with a
#                   message, nothing written outside the directory, no checkpoint left
#  ps-second        a second client while one is connected is refused
#  ps-status-fd     --status-fd: one zero byte once it listens; exit 0 after its dump
#  ps-auto-dedup    dump --auto-dedup of a chain: the first pre-dump loses the pages no level
#                   needs, the restore passes; with --page-server it is refused by name
#  ps-lz4-bad       a compressed image truncated, or a frame with a corrupt length or
#                   corrupt data: the restore is refused with a message naming it

# a port of our own (several runs may share the machine)
ps_port() {
	echo $((20000 + (RANDOM % 20000)))
}

# server_start TAG ACTION DIR [OPTS...]: `cryo ACTION -D DIR` (page-server, migrate-target) in
# the background (-d) on a free port of 127.0.0.1, its log DIR/../TAG.log; sets SRV_PORT and
# SRV_PID
server_start() {
	local tag=$1 action=$2 dir=$3 try
	shift 3
	mkdir -p "$dir"
	for try in 1 2 3 4 5; do
		SRV_PORT=$(ps_port)
		rm -f "$DIR/$tag.pid"
		cryo "$tag" "$action" -D "$dir" --address 127.0.0.1 --port "$SRV_PORT" -d \
			--pidfile "$DIR/$tag.pid" -v4 -o "$DIR/$tag.log" "$@"
		[ $RC = 0 ] && break
		grep -q "Address already in use" "$DIR/cryo-$tag.txt" || break
	done
	[ $RC = 0 ] || fail_step "$action -d exited $RC" || return 1
	SRV_PID=$(cat "$DIR/$tag.pid" 2>/dev/null)
	[ -n "$SRV_PID" ] && alive "$SRV_PID" || fail_step "$action does not run" || return 1
	started_pids+=("$SRV_PID")
}

# ps_start SRVDIR [OPTS...]: a page server in the background (-d) on a free port; sets
# PS_PORT and PS_PID
ps_start() {
	local srv=$1
	shift
	server_start "ps-${srv##*/}" page-server "$srv" "$@" || return 1
	PS_PORT=$SRV_PORT PS_PID=$SRV_PID
}

# ps_finished SRVDIR: the server exited, its log saying the dump is complete
ps_finished() {
	local srv=$1
	wait_gone "$PS_PID" 10 || fail_step "the page server still runs after the dump" || return 1
	grep -q "is complete" "$DIR/ps-${srv##*/}.log" ||
		fail_step "the page server did not finish: $(grep Error "$DIR/ps-${srv##*/}.log" | head -n2)" || return 1
}

# ps_merge LOCAL SRV: what a dump wrote locally, copied to the server's directory (its
# pagemaps are the same as those the server has)
ps_merge() {
	local f
	for f in "$1"/*.img; do
		[ -e "$2/${f##*/}" ] || cp -a "$f" "$2/"
	done
}

# ps_dump_through LOCAL SRV [OPTS...]: one dump through a page server
ps_dump_through() {
	local loc=$1 srv=$2
	shift 2
	ps_start "$srv" "${PS_OPTS[@]}" || return 1
	dump "$loc" --page-server --address 127.0.0.1 --port "$PS_PORT" "${PS_OPTS[@]}" "$@" || return 1
	ps_finished "$srv" || return 1
	ls "$loc"/pages-*.img >/dev/null 2>&1 && fail_step "the dump wrote pages locally" && return 1
	[ -e "$srv/pages-$PID.img" ] && [ -e "$srv/pagemap-$PID.img" ] && [ -e "$srv/inventory.img" ] ||
		fail_step "the page server's directory lacks pages, pagemap or inventory" || return 1
}

PS_OPTS=()

ps_mem() {
	local prog=$1
	start_test "$prog" || return
	ps_dump_through "$DIR/local" "$DIR/srv" || return
	gone_after_dump || return
	ps_merge "$DIR/local" "$DIR/srv"
	restore "$DIR/srv" && check
}

ps_predump() {
	local total counts
	start_test "$PREDUMP_PROG" || return
	total=$(awk '{ print $2 }' "$DIR/work/area.txt")
	# the dump's side in L/, the server's in S/: the same names, ../1 on both
	mkdir -p "$DIR/L/1" "$DIR/S"
	ps_start "$DIR/S/1" || return
	cryo pre-dump-1 pre-dump -t "$PID" -D "$DIR/L/1" -v4 -o dump.log --page-server \
		--address 127.0.0.1 --port "$PS_PORT"
	[ $RC = 0 ] || fail_step "pre-dump through the page server exited $RC" || return
	ps_finished "$DIR/S/1" || return
	ls "$DIR/L/1"/pages-*.img >/dev/null 2>&1 && fail_step "the pre-dump wrote pages locally" && return
	predump_after "the pre-dump" || return
	predump_phase 1 || return
	ps_dump_through "$DIR/L/2" "$DIR/S/2" --track-mem --prev-images-dir ../1 || return
	gone_after_dump || return
	[ "$(readlink "$DIR/S/2/parent")" = ../1 ] ||
		fail_step "the server's parent link is '$(readlink "$DIR/S/2/parent")'" || return
	ps_merge "$DIR/L/1" "$DIR/S/1"
	ps_merge "$DIR/L/2" "$DIR/S/2"
	counts=$(predump_count "$DIR/S/2")
	[ "$counts" = "$CHANGED $((total - CHANGED))" ] ||
		fail_step "the final dump stores '$counts' of the area, expected '$CHANGED $((total - CHANGED))'" || return
	restore "$DIR/S/2" && check
}

# certificates: a CA, the server's (127.0.0.1), a client's; and a second CA with its client
ps_certs() {
	local d=$DIR/pki ca
	mkdir -p "$d"
	command -v certtool >/dev/null || { SKIP="no certtool (gnutls-bin)"; return 1; }
	for ca in ca ca2; do
		certtool --generate-privkey --outfile "$d/$ca-key.pem" >/dev/null 2>&1
		printf 'cn = "cryo test %s"\nca\ncert_signing_key\nexpiration_days = 2\n' "$ca" >"$d/$ca.tmpl"
		certtool --generate-self-signed --load-privkey "$d/$ca-key.pem" --template "$d/$ca.tmpl" \
			--outfile "$d/$ca.pem" >/dev/null 2>&1 || { fail_step "certtool failed"; return 1; }
	done
	printf 'cn = "127.0.0.1"\nip_address = "127.0.0.1"\ntls_www_server\nencryption_key\nsigning_key\nexpiration_days = 2\n' >"$d/srv.tmpl"
	printf 'cn = "cryo client"\ntls_www_client\nencryption_key\nsigning_key\nexpiration_days = 2\n' >"$d/cli.tmpl"
	local who signer
	for who in srv cli cli2; do
		signer=ca
		[ "$who" = cli2 ] && signer=ca2
		certtool --generate-privkey --outfile "$d/$who-key.pem" >/dev/null 2>&1
		certtool --generate-certificate --load-privkey "$d/$who-key.pem" \
			--load-ca-certificate "$d/$signer.pem" --load-ca-privkey "$d/$signer-key.pem" \
			--template "$d/${who%2}.tmpl" --outfile "$d/$who.pem" >/dev/null 2>&1 ||
			{ fail_step "certtool failed for $who"; return 1; }
	done
}

ps_tls() {
	local d=$DIR/pki
	ps_certs || return
	start_test mem_anon || return
	# the server's options, then the client's certificate for the dump
	PS_OPTS=(--tls --tls-cacert "$d/ca.pem" --tls-cert "$d/srv.pem" --tls-key "$d/srv-key.pem")
	ps_start "$DIR/srv" "${PS_OPTS[@]}" || return
	# a client of another CA: refused by the server; the dump fails before it touches the tree
	mkdir -p "$DIR/bad"
	cryo bad-ca dump -t "$PID" -D "$DIR/bad" --page-server --address 127.0.0.1 --port "$PS_PORT" \
		--tls --tls-cacert "$d/ca.pem" --tls-cert "$d/cli2.pem" --tls-key "$d/cli2-key.pem"
	[ $RC != 0 ] || fail_step "a client of another CA was served" || return
	alive "$PID" || fail_step "the refused dump killed the target" || return
	# (GnuTLS sends no certificate the server's CA did not sign: "required")
	grep -q "certificate is refused\|Certificate is required" "$DIR/ps-srv.log" ||
		fail_step "the server did not say why: $(tail -n1 "$DIR/ps-srv.log")" || return
	wait_gone "$PS_PID" 5
	local cli=(--tls --tls-cacert "$d/ca.pem" --tls-cert "$d/cli.pem" --tls-key "$d/cli-key.pem")
	# the server's certificate is for 127.0.0.1, not "localhost": refused by the dump...
	rm -rf "$DIR/srv"
	ps_start "$DIR/srv" "${PS_OPTS[@]}" || return
	mkdir -p "$DIR/cn"
	cryo cn dump -t "$PID" -D "$DIR/cn" --page-server --address localhost --port "$PS_PORT" "${cli[@]}"
	[ $RC != 0 ] && grep -q "page server's certificate is refused" "$DIR/cryo-cn.txt" ||
		fail_step "a server certificate of another name was accepted: $(tail -n1 "$DIR/cryo-cn.txt")" || return
	alive "$PID" || fail_step "the refused dump killed the target" || return
	wait_gone "$PS_PID" 5
	# ... unless told not to check the name (-R: the target goes on)
	rm -rf "$DIR/srv"
	ps_start "$DIR/srv" "${PS_OPTS[@]}" || return
	dump "$DIR/cn" -R --page-server --address localhost --port "$PS_PORT" "${cli[@]}" \
		--tls-no-cn-verify || return
	ps_finished "$DIR/srv" || return
	alive "$PID" || fail_step "dump -R through TLS killed the target" || return
	# --tls-no-cert-verify on both ends: encrypted, nothing checked, no client certificate
	rm -rf "$DIR/srv" "$DIR/cn"
	ps_start "$DIR/srv" "${PS_OPTS[@]}" --tls-no-cert-verify || return
	dump "$DIR/cn" -R --page-server --address 127.0.0.1 --port "$PS_PORT" --tls \
		--tls-no-cert-verify || return
	ps_finished "$DIR/srv" || return
	rm -rf "$DIR/srv"
	ps_start "$DIR/srv" "${PS_OPTS[@]}" || return
	dump "$DIR/local" --page-server --address 127.0.0.1 --port "$PS_PORT" --compress \
		--tls --tls-cacert "$d/ca.pem" --tls-cert "$d/cli.pem" --tls-key "$d/cli-key.pem" || return
	ps_finished "$DIR/srv" || return
	gone_after_dump || return
	grep -q "(TLS)" "$DIR/local/dump.log" || fail_step "the dump did not use TLS" || return
	[ "$(head -c 4 "$DIR/srv/pages-$PID.img" | od -An -tx4 | tr -d ' ')" = 43524f5a ] ||
		fail_step "the server's pages are not compressed" || return
	ps_merge "$DIR/local" "$DIR/srv"
	restore "$DIR/srv" && check
	PS_OPTS=()
}

ps_compress() {
	local prog
	for prog in mem_anon mem_shared; do
		start_test "$prog" || return
		dump "$DIR/$prog" --compress || return
		gone_after_dump || return
		"$CRYO" show "$DIR/$prog/pages-$PID.img" >"$DIR/show-$prog.json" 2>&1 &&
			grep -q '"codec": "lz4"' "$DIR/show-$prog.json" ||
			fail_step "cryo show of a compressed image: $(head -c 200 "$DIR/show-$prog.json")" || return
		restore "$DIR/$prog" && check || return
		kill_leftovers
	done
	# a chain: compressed pre-dumps, dedup of compressed parents, restore through them
	local total counts
	start_test "$PREDUMP_PROG" || return
	total=$(awk '{ print $2 }' "$DIR/work/area.txt")
	mkdir -p "$DIR/1" "$DIR/2" "$DIR/3"
	cryo pre1 pre-dump -t "$PID" -D "$DIR/1" -v4 -o dump.log --compress
	[ $RC = 0 ] || fail_step "compressed pre-dump 1 exited $RC" || return
	predump_phase 1 || return
	cryo pre2 pre-dump -t "$PID" -D "$DIR/2" -v4 -o dump.log --compress --prev-images-dir ../1
	[ $RC = 0 ] || fail_step "compressed pre-dump 2 exited $RC" || return
	predump_phase 2 || return
	dump "$DIR/3" --compress --track-mem --prev-images-dir ../2 || return
	gone_after_dump || return
	counts=$(predump_count "$DIR/3")
	[ "$counts" = "$CHANGED $((total - CHANGED))" ] ||
		fail_step "the final dump stores '$counts' of the area" || return
	cryo dedup dedup -D "$DIR/3" -v4 -o dedup.log
	[ $RC = 0 ] || fail_step "dedup of compressed parents exited $RC" || return
	"$CRYO" show "$DIR/1/pages-$PID.img" >"$DIR/show-1.json" 2>&1 ||
		fail_step "cryo show of a deduplicated image failed: $(tail -n1 "$DIR/show-1.json")" || return
	# (a frame goes once none of its pages is needed: the strided rewrites of this program
	# leave every frame of the first pre-dump partly needed; the restore must read them)
	grep -q '"punched_frames"' "$DIR/show-1.json" || fail_step "show: $(head -c 200 "$DIR/show-1.json")" || return
	restore "$DIR/3" && check
}

ps_killed() {
	start_test mem_anon || return
	ps_start "$DIR/srv" || return
	# stopped, then killed while the dump waits on it
	kill -STOP "$PS_PID"
	mkdir -p "$DIR/local"
	"$BUILD/tools/closefds" timeout --foreground -k 5 "$CRYO_TIMEOUT" "$CRYO" dump -t "$PID" \
		-D "$DIR/local" -v4 -o dump.log --page-server --address 127.0.0.1 --port "$PS_PORT" \
		>"$DIR/cryo-dump.txt" 2>&1 </dev/null &
	local dpid=$!
	sleep 1
	kill -KILL "$PS_PID"
	wait "$dpid"
	RC=$?
	[ $RC = 1 ] || fail_step "the dump exited $RC, not 1, when its page server died" || return
	grep -q "page server" "$DIR/cryo-dump.txt" ||
		fail_step "the dump's error does not name the page server: $(tail -n2 "$DIR/cryo-dump.txt")" || return
	[ -e "$DIR/local/inventory.img" ] && fail_step "a failed dump left an inventory" && return
	alive "$PID" || fail_step "the target died with the page server" || return
	[ "$(awk '/^TracerPid:/ { print $2 }' "/proc/$PID/status")" = 0 ] ||
		fail_step "the target is still traced" || return
	check
}

# ps_abuse_one NAME PYTHON-BODY [MESSAGE]: a client that sends what the body writes (helpers:
# hdr, send, hello); the server must log MESSAGE (default: that it drops the connection)
ps_abuse_one() {
	local name=$1 body=$2 msg=${3:-dropping the connection} before after
	rm -rf "$DIR/srv"
	mkdir -p "$DIR/srv"
	before=$(cd "$DIR" && find . -path ./srv -prune -o -print | grep -v '^./ps-\|^./cryo-\|^./ps.pid\|^./abuse-' | sort | md5sum)
	ps_start "$DIR/srv" || return 1
	python3 - "$PS_PORT" "$body" <<'EOF' >"$DIR/abuse-$name.txt" 2>&1
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def hdr(t, i, n):
    s.sendall(struct.pack("<IIQ", t, i, n))
def send(t, i, payload):
    hdr(t, i, len(payload))
    s.sendall(payload)
# page_server_hello { version = 1 (field 1), parent (field 2) }
def hello(parent=None):
    p = b"\x08\x01"
    if parent is not None:
        p += b"\x12" + bytes([len(parent)]) + parent.encode()
    send(1, 0, p)
try:
    exec(sys.argv[2])
    s.settimeout(5)
    a = s.recv(16)
    print("answer", struct.unpack("<IIQ", a) if len(a) == 16 else a)
except Exception as e:
    print("closed:", e)
EOF
	wait_gone "$PS_PID" 10 || fail_step "$name: the page server still runs" || return 1
	grep -q "$msg" "$DIR/ps-srv.log" ||
		fail_step "$name: no message of the refusal: $(grep Error "$DIR/ps-srv.log" | head -n1)" || return 1
	after=$(cd "$DIR" && find . -path ./srv -prune -o -print | grep -v '^./ps-\|^./cryo-\|^./ps.pid\|^./abuse-' | sort | md5sum)
	[ "$before" = "$after" ] || fail_step "$name: something was written outside the directory" || return 1
	[ -e "$DIR/srv/inventory.img" ] && fail_step "$name: a checkpoint was left" && return 1
	[ -e "$DIR/etc-victim" ] && fail_step "$name: a file outside was made" && return 1
	find "$DIR/srv" -name 'pages-*' | grep -q . && fail_step "$name: an incomplete page image was kept" && return 1
	mv "$DIR/ps-srv.log" "$DIR/ps-srv-$name.log"
	return 0
}

ps_abuse() {
	ps_abuse_one no-hello 'send(2, 1234, struct.pack("<I", 0))' || return
	ps_abuse_one bad-version 'send(1, 0, b"\x08\x07")' || return
	ps_abuse_one parent-escape 'hello("../../../../etc")' || return
	ps_abuse_one parent-abs 'hello("/etc")' || return
	ps_abuse_one pid-zero 'hello(); send(2, 0, struct.pack("<I", 0))' || return
	ps_abuse_one pid-huge 'hello(); send(2, 0xffffffff, struct.pack("<I", 0))' || return
	ps_abuse_one bad-codec 'hello(); send(2, 1234, struct.pack("<I", 7))' || return
	ps_abuse_one open-twice 'hello(); send(2, 1234, struct.pack("<I", 0)); send(2, 1235, struct.pack("<I", 0))' || return
	ps_abuse_one data-unopened 'hello(); send(3, 1234, b"x" * 4096)' || return
	ps_abuse_one data-other-id 'hello(); send(2, 1234, struct.pack("<I", 0)); send(3, 99, b"x" * 4096)' || return
	ps_abuse_one data-too-long 'hello(); send(2, 1234, struct.pack("<I", 0)); hdr(3, 1234, 1 << 40)' || return
	ps_abuse_one close-bad-total 'hello(); send(2, 1234, struct.pack("<I", 0)); send(3, 1234, b"x" * 4096); send(4, 1234, struct.pack("<Q", 8192))' || return
	ps_abuse_one pagemap-without-pages 'hello(); send(5, 1234, b"\x10\x00\xa0\x06\xd2\x09")' || return
	ps_abuse_one pagemap-wrong 'hello(); send(2, 1234, struct.pack("<I", 0)); send(3, 1234, b"x" * 4096); send(4, 1234, struct.pack("<Q", 4096)); send(5, 1234, b"\x10\x05\xa0\x06\xd2\x09")' || return
	ps_abuse_one unknown-type 'hello(); send(99, 0, b"")' || return
	ps_abuse_one done-early 'hello(); send(7, 0, b"")' || return
	ps_abuse_one went-away 'hello(); send(2, 1234, struct.pack("<I", 0)); send(3, 1234, b"x" * 4096); s.close(); raise SystemExit' \
		"went away" || return
}

ps_second() {
	start_test mem_anon || return
	ps_start "$DIR/srv" || return
	# the first client: connected, says hello, stays
	python3 - "$PS_PORT" <<'EOF' >"$DIR/first.txt" 2>&1 &
import socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(struct.pack("<IIQ", 1, 0, 2) + b"\x08\x01")
time.sleep(4)
EOF
	local first=$!
	sleep 0.5
	mkdir -p "$DIR/local"
	cryo second dump -t "$PID" -D "$DIR/local" -v4 -o dump.log --page-server --address 127.0.0.1 \
		--port "$PS_PORT"
	[ $RC != 0 ] || fail_step "a second client was served" || return
	grep -q "cannot connect to the page server" "$DIR/cryo-second.txt" ||
		fail_step "the second client's error: $(tail -n1 "$DIR/cryo-second.txt")" || return
	alive "$PID" || fail_step "the refused dump killed the target" || return
	wait "$first"
	check
}

ps_lz4_bad() {
	local how f
	start_test mem_anon || return
	dump "$DIR/good" --compress || return
	gone_after_dump || return
	for how in truncated frame-length frame-raw-length frame-data; do
		rm -rf "$DIR/img"
		cp -a "$DIR/good" "$DIR/img"
		f=$DIR/img/pages-$PID.img
		case $how in
		truncated) truncate -s $(($(stat -c %s "$f") - 100)) "$f" ;;
		frame-length) printf '\xff\xff\xff\x7f' | dd of="$f" bs=1 seek=$((4096 + 4)) conv=notrunc 2>/dev/null ;;
		frame-raw-length) printf '\x00\x10\x00\x00' | dd of="$f" bs=1 seek=4096 conv=notrunc 2>/dev/null ;;
		frame-data) printf '\xff\xff\xff\xff\xff\xff\xff\xff' | dd of="$f" bs=1 seek=$((4096 + 8)) conv=notrunc 2>/dev/null ;;
		esac
		cryo "restore-$how" restore -D "$DIR/img" -d -v4 -o restore.log
		[ $RC != 0 ] || fail_step "a compressed image $how was restored" || return
		grep -q "pages-$PID.img" "$DIR/cryo-restore-$how.txt" ||
			fail_step "$how: the error does not name the image: $(tail -n1 "$DIR/cryo-restore-$how.txt")" || return
		alive "$PID" && fail_step "$how: a refused restore left the process" && return
	done
	restore "$DIR/good" && check
}

# --status-fd, in the foreground: one byte once it listens; exit 0 after its dump
ps_status_fd() {
	local srv=$DIR/srv try spid
	start_test mem_anon || return
	mkdir -p "$srv" "$DIR/local"
	for try in 1 2 3; do
		PS_PORT=$(ps_port)
		rm -f "$DIR/status"
		"$CRYO" page-server -D "$srv" --address 127.0.0.1 --port "$PS_PORT" --status-fd 3 \
			-v4 -o "$DIR/ps-srv.log" 3>"$DIR/status" </dev/null >"$DIR/cryo-ps.txt" 2>&1 &
		spid=$!
		local end=$(($(date +%s) + 5))
		while [ ! -s "$DIR/status" ] && alive "$spid" && [ "$(date +%s)" -lt "$end" ]; do
			sleep 0.02
		done
		[ -s "$DIR/status" ] && break
		wait "$spid"
	done
	[ "$(od -An -tx1 "$DIR/status" | tr -d ' ')" = 00 ] ||
		fail_step "--status-fd: '$(od -An -tx1 "$DIR/status")', not one zero byte" || return
	dump "$DIR/local" --page-server --address 127.0.0.1 --port "$PS_PORT" || return
	wait "$spid"
	[ $? = 0 ] || fail_step "the page server did not exit 0 after its dump" || return
	gone_after_dump || return
	ps_merge "$DIR/local" "$srv"
	restore "$srv" && check
}

ps_auto_dedup() {
	local before after
	start_test "$PREDUMP_PROG" || return
	mkdir -p "$DIR/1" "$DIR/2" "$DIR/3"
	cryo pre1 pre-dump -t "$PID" -D "$DIR/1" -v4 -o dump.log
	[ $RC = 0 ] || fail_step "pre-dump 1 exited $RC" || return
	predump_phase 1 || return
	cryo pre2 pre-dump -t "$PID" -D "$DIR/2" -v4 -o dump.log --prev-images-dir ../1 --auto-dedup
	[ $RC = 0 ] || fail_step "pre-dump 2 --auto-dedup exited $RC" || return
	predump_phase 2 || return
	cryo refused dump -t "$PID" -D "$DIR/3" --prev-images-dir ../2 --auto-dedup --page-server \
		--address 127.0.0.1 --port 1
	[ $RC != 0 ] && grep -q "auto-dedup with --page-server is not supported" "$DIR/cryo-refused.txt" ||
		fail_step "--auto-dedup --page-server not refused by name: $(tail -n1 "$DIR/cryo-refused.txt")" || return
	before=$(stat -c %b "$DIR/1/pages-$PID.img")
	dump "$DIR/3" --track-mem --prev-images-dir ../2 --auto-dedup || return
	gone_after_dump || return
	after=$(stat -c %b "$DIR/1/pages-$PID.img")
	[ "$after" -lt "$before" ] ||
		fail_step "--auto-dedup punched nothing out of the first pre-dump ($before -> $after blocks)" || return
	grep -q "pages punched out of its parents" "$DIR/3/dump.log" ||
		fail_step "the dump log does not tell the dedup" || return
	restore "$DIR/3" && check
}

ps_case() {
	run_sub_case ps-auto-dedup ps_auto_dedup
	run_sub_case ps-status-fd ps_status_fd
	run_sub_case ps-mem_anon ps_mem mem_anon
	run_sub_case ps-mem_shared ps_mem mem_shared
	run_sub_case ps-predump ps_predump
	run_sub_case ps-tls ps_tls
	run_sub_case ps-compress ps_compress
	run_sub_case ps-killed ps_killed
	run_sub_case ps-abuse ps_abuse
	run_sub_case ps-second ps_second
	run_sub_case ps-lz4-bad ps_lz4_bad
}

register_case page-server ps_case
