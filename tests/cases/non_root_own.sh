# The non-root-own case of tests/run.sh (sourced by it; uses its helpers and counters).
#
# A user dumping its own processes, without CAP_CHECKPOINT_RESTORE (so without
# /proc/PID/map_files): cryo run as nobody on programs run as nobody. Programs: test programs
# with private and shared file mappings (mem_file_private), shared anonymous memory whose
# data is not in the task's page tables (mem_shared_unmapped) and memfds held and mapped
# (memfd_exec, which runs them with fexecve), and a real program, Debian's
# python3 with its libraries and an mmap module buffer (shared anonymous memory). Mappings of
# deleted files no descriptor holds (ghost_map) are refused by name, the program unharmed.
#  - dump -R by nobody: succeeds, the program runs on and passes its check;
#  - dump by nobody, restore by root: the program comes back as nobody and passes;
#  - restore by nobody of nobody's images: refused for want of CAP_CHECKPOINT_RESTORE, by name,
#    nothing created; of root's images: refused naming the process and its credentials.

NRO_NB=(setpriv --reuid=65534 --regid=65534 --clear-groups)

nro_python='
import hashlib, mmap, os, signal, sys
pidfile, out = sys.argv[1], sys.argv[2]
data = bytes(range(256)) * 4096
want = hashlib.sha256(data).hexdigest()
buf = mmap.mmap(-1, 1 << 20)
for i in range(0, 1 << 20, 8192):
    buf[i:i + 8] = i.to_bytes(8, "little")
got = []
signal.signal(signal.SIGTERM, lambda s, f: got.append(s))
with open(pidfile + ".tmp", "w") as f:
    f.write("%d\n" % os.getpid())
os.rename(pidfile + ".tmp", pidfile)
while not got:
    signal.pause()
bad = [i for i in range(0, 1 << 20, 8192) if buf[i:i + 8] != i.to_bytes(8, "little")]
ok = hashlib.sha256(data).hexdigest() == want and not bad and os.getuid() == 65534
with open(out, "w") as f:
    f.write("PASS\n" if ok else "FAIL: data or uid differ (%d bad pages, uid %d)\n" % (len(bad), os.getuid()))
'

# nro_kill PID: only a process this case started (its program lies in the case's directory)
nro_kill() {
	local p=$1
	[ -n "$p" ] && alive "$p" && grep -qF "$NRO_DIR" "/proc/$p/cmdline" 2>/dev/null &&
		kill -9 "$p" 2>/dev/null
	return 0
}

# nro_start NAME AS_ROOT: start program NAME (a test program, or "python") in its work
# directory, as nobody unless AS_ROOT=1; prints its pid
nro_start() {
	local name=$1 root=$2 w="$NRO_DIR/w-$name-$RANDOM" who=("${NRO_NB[@]}") p
	[ "$root" = 1 ] && who=()
	mkdir -p "$w" && chmod 777 "$w"
	rm -f "$NRO_DIR/$name.pid" "$NRO_DIR/$name.out"
	if [ "$name" = python ]; then
		(cd "$w" && setsid -f "$BUILD/tools/closefds" "${who[@]}" /usr/bin/python3 -I -c "$nro_python" \
			"$NRO_DIR/$name.pid" "$NRO_DIR/$name.out" </dev/null >"$w/log" 2>&1)
	else
		(cd "$w" && "$BUILD/tools/closefds" "${who[@]}" "$NRO_DIR/$name" \
			--pidfile "$NRO_DIR/$name.pid" --outfile "$NRO_DIR/$name.out" >"$w/log" 2>&1)
	fi
	for ((p = 0; p < 200; p++)); do
		[ -s "$NRO_DIR/$name.pid" ] && break
		sleep 0.05
	done
	cat "$NRO_DIR/$name.pid" 2>/dev/null
}

# nro_check NAME PID WHAT: SIGTERM, then the program's verdict must be PASS
nro_check() {
	local name=$1 pid=$2 what=$3 v
	kill -TERM "$pid" 2>/dev/null
	v=$(verdict "$NRO_DIR/$name.out" "$CHECK_TIMEOUT" "$pid")
	[ "$v" = PASS ] ||
		fail_step "$name $what: $v: $(cat "$NRO_DIR/$name.out" 2>/dev/null)"
}

# nro_dump_as_nobody NAME PID IMG [-R]
nro_dump_as_nobody() {
	local name=$1 pid=$2 img=$3 out
	shift 3
	mkdir -p "$img" && chmod 777 "$img"
	out=$("$BUILD/tools/closefds" "${NRO_NB[@]}" "$NRO_DIR/cryo" dump -t "$pid" -D "$img" "$@" \
		-v4 -o "$img/dump.log" 2>&1) ||
		fail_step "$name: the dump as nobody ($*) failed: $out"
}

# nro_restore_refused NAME IMG PID PATTERN: a restore by nobody must fail, say PATTERN and
# create nothing
nro_restore_refused() {
	local name=$1 img=$2 pid=$3 pattern=$4 out
	chmod -R a+rX "$img"
	if out=$("$BUILD/tools/closefds" "${NRO_NB[@]}" "$NRO_DIR/cryo" restore -D "$img" -d \
		-v4 -o "$NRO_DIR/restore-$name-nobody.log" 2>&1); then
		fail_step "$name: a restore by nobody succeeded"
		nro_kill "$pid"
	elif ! grep -qE "$pattern" <<<"$out"; then
		fail_step "$name: the restore by nobody did not say /$pattern/: $out"
	elif alive "$pid"; then
		fail_step "$name: the refused restore left process $pid"
	fi
}

# nro_restore_as_root NAME IMG PID: the images come back, as nobody, and pass
nro_restore_as_root() {
	local name=$1 img=$2 pid=$3 out got
	rm -f "$NRO_DIR/restored.pid"
	if ! out=$("$CRYO" restore -D "$img" -d -v4 -o "$img/restore.log" \
		--pidfile "$NRO_DIR/restored.pid" 2>&1); then
		fail_step "$name: the restore by root of nobody's dump failed: $out"
		return
	fi
	got=$(cat "$NRO_DIR/restored.pid" 2>/dev/null)
	started_pids+=("$got")
	if [ "$got" != "$pid" ]; then
		fail_step "$name: restored as $got, not $pid"
	elif ! grep -qE '^Uid:[[:space:]]+65534[[:space:]]' "/proc/$pid/status"; then
		fail_step "$name: restored with other uids: $(grep Uid "/proc/$pid/status")"
	else
		nro_check "$name" "$pid" "restored by root"
	fi
}

non_root_own_case() {
	local t0 name pid
	t0=$(now)
	REASON=
	DIR=$OUT/non-root-own
	# nobody must reach the directory, cryo and the programs: all under /tmp
	NRO_DIR=$(mktemp -d /tmp/cryo-non-root-own.XXXXXX)
	chmod 777 "$NRO_DIR"
	cp "$CRYO" "$NRO_DIR/cryo"
	for name in mem_file_private mem_shared_unmapped mem_anon memfd_exec ghost_map; do
		cp "$BUILD/$name" "$NRO_DIR/$name"
	done
	chmod 755 "$NRO_DIR"/cryo "$NRO_DIR"/mem_* "$NRO_DIR"/memfd_* "$NRO_DIR"/ghost_map

	for name in mem_file_private mem_shared_unmapped memfd_exec python; do
		[ -n "$REASON" ] && break
		# left running: the dump by nobody succeeds, the program goes on and passes
		pid=$(nro_start "$name" 0)
		if [ -z "$pid" ]; then
			fail_step "$name did not start as nobody"
			break
		fi
		nro_dump_as_nobody "$name" "$pid" "$NRO_DIR/img-$name-R" -R
		if [ -z "$REASON" ] && ! alive "$pid"; then
			fail_step "$name: not running after the dump by nobody with -R"
		fi
		[ -z "$REASON" ] && nro_check "$name" "$pid" "after the dump by nobody with -R"
		nro_kill "$pid"
		[ -n "$REASON" ] && break

		# dumped by nobody, restored by root (after a refused restore by nobody)
		pid=$(nro_start "$name" 0)
		nro_dump_as_nobody "$name" "$pid" "$NRO_DIR/img-$name"
		[ -z "$REASON" ] && ! wait_gone "$pid" 5 && fail_step "$name: still running after the dump"
		[ -z "$REASON" ] && nro_restore_refused "$name" "$NRO_DIR/img-$name" "$pid" \
			"CAP_CHECKPOINT_RESTORE.*clone3 with set_tid"
		[ -z "$REASON" ] && nro_restore_as_root "$name" "$NRO_DIR/img-$name" "$pid"
		nro_kill "$pid"
	done

	# a mapped file whose path now leads to another file (a bind mount over it, for the time
	# of the dump; cryo in a mount namespace of its own would be refused for that alone): the
	# dump refuses, naming the task and the mapping, and the program runs on
	if [ -z "$REASON" ]; then
		local w out
		pid=$(nro_start mem_file_private 0)
		w=$(readlink "/proc/$pid/cwd")
		echo other >"$NRO_DIR/other.dat"
		mkdir -p "$NRO_DIR/img-moved" && chmod 777 "$NRO_DIR/img-moved"
		mount --bind "$NRO_DIR/other.dat" "$w/private.dat" ||
			fail_step "cannot bind-mount over $w/private.dat"
		out=$("$BUILD/tools/closefds" "${NRO_NB[@]}" "$NRO_DIR/cryo" dump -t "$pid" \
			-D "$NRO_DIR/img-moved" -R 2>&1)
		local st=$?
		umount "$w/private.dat"
		if [ -n "$REASON" ]; then
			:
		elif [ $st = 0 ]; then
			fail_step "the dump by nobody of a mapping whose path holds another file succeeded"
		elif ! grep -q "task $pid: mapping .* maps device .* but $w/private.dat is now" <<<"$out"; then
			fail_step "the refusal does not name the task and the mapping: $out"
		elif ! alive "$pid"; then
			fail_step "mem_file_private is not left running after the refused dump"
		else
			nro_check mem_file_private "$pid" "after a refused dump"
		fi
		nro_kill "$pid"
	fi

	# mappings of deleted files that no descriptor holds (ghost_map's lib.so, scratch): without
	# map_files nobody cannot read them; the dump refuses naming the task and the mapping, and
	# the program runs on and passes
	if [ -z "$REASON" ]; then
		local out st
		pid=$(nro_start ghost_map 0)
		mkdir -p "$NRO_DIR/img-ghost" && chmod 777 "$NRO_DIR/img-ghost"
		out=$("$BUILD/tools/closefds" "${NRO_NB[@]}" "$NRO_DIR/cryo" dump -t "$pid" \
			-D "$NRO_DIR/img-ghost" -R 2>&1)
		st=$?
		if [ -z "$pid" ]; then
			fail_step "ghost_map did not start as nobody"
		elif [ $st = 0 ]; then
			fail_step "the dump by nobody of mappings of deleted files succeeded"
		elif ! grep -q "task $pid: mapping .* of deleted file .*/w-[a-z_]*-[0-9]*/[a-z.]* (deleted).*CAP_CHECKPOINT_RESTORE" <<<"$out"; then
			fail_step "the refusal does not name the task and the mapping: $out"
		elif [ -e "$NRO_DIR/img-ghost/inventory.img" ]; then
			fail_step "the refused dump left inventory.img"
		elif ! alive "$pid"; then
			fail_step "ghost_map is not left running after the refused dump"
		else
			nro_check ghost_map "$pid" "after a refused dump"
		fi
		nro_kill "$pid"
	fi

	# root's process, dumped by root: nobody may not restore it
	if [ -z "$REASON" ]; then
		pid=$(nro_start mem_anon 1)
		mkdir -p "$NRO_DIR/img-root"
		"$CRYO" dump -t "$pid" -D "$NRO_DIR/img-root" -v4 -o "$NRO_DIR/img-root/dump.log" ||
			fail_step "the dump by root of root's mem_anon failed"
		[ -z "$REASON" ] && ! wait_gone "$pid" 5 && fail_step "mem_anon still runs after its dump"
		[ -z "$REASON" ] && nro_restore_refused mem_anon "$NRO_DIR/img-root" "$pid" \
			"process $pid: its credentials hold uid 0"
		nro_kill "$pid"
	fi

	[ -n "$REASON" ] && cp -r "$NRO_DIR" "$OUT/non-root-own" 2>/dev/null
	[ -n "${NRO_KEEP:-}" ] || rm -rf "$NRO_DIR"
	kill_leftovers
	report non-root-own "$t0"
}
register_case non-root-own non_root_own_case
