# A long-running program whose binary and a library were upgraded under it (the old files
# removed, new ones put in their place), as a server after a package upgrade: Debian's python3
# run from a copy of itself, with a copy of libz found through LD_LIBRARY_PATH, both replaced
# while it computes. Before the checkpoint and after the restore its executable and both
# mappings read "(deleted)", the new files are untouched, and it prints what a run that was
# never interrupted prints.
app_upgraded() {
	app_begin upgraded
	app_packages python3 || return
	local lz
	lz=$(ldconfig -p | awk '/libz\.so\.1 .*x86-64/ { print $NF; exit }')
	if [ -z "$lz" ]; then
		skip "$APP" "no libz.so.1 found"
		return
	fi
	mkdir -p "$DIR/bin" "$DIR/lib"
	cp "$(readlink -f /usr/bin/python3)" "$DIR/bin/python3"
	cp "$(readlink -f "$lz")" "$DIR/lib/libz.so.1"
	cat >"$DIR/work.py" <<'PY'
import hashlib, zlib
h = hashlib.sha256()
c = 0
for i in range(2_000_000):
    b = str(i * i).encode()
    h.update(b)
    if i % 100 == 0:
        c = zlib.crc32(zlib.compress(b * 50), c)
print(h.hexdigest(), c)
PY
	(cd "$DIR" && LD_LIBRARY_PATH="$DIR/lib" "$DIR/bin/python3" work.py >ref)
	app_start env LD_LIBRARY_PATH="$DIR/lib" "$DIR/bin/python3" work.py
	sleep 0.3
	grep -q "$DIR/lib/libz.so.1$" "/proc/$PID/maps" 2>/dev/null ||
		fail_step "python3 did not load $DIR/lib/libz.so.1"
	# the upgrade: new files under the old names
	rm -f "$DIR/bin/python3" "$DIR/lib/libz.so.1"
	cp /bin/true "$DIR/bin/python3"
	echo "the new library" >"$DIR/lib/libz.so.1"
	local m
	for m in "$DIR/bin/python3 (deleted)" "$DIR/lib/libz.so.1 (deleted)"; do
		[ -z "$REASON" ] && ! grep -qF "$m" "/proc/$PID/maps" &&
			fail_step "before the checkpoint the maps have no '$m'"
	done
	alive "$PID" || fail_step "python3 finished before the checkpoint"
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		for m in "$DIR/bin/python3 (deleted)" "$DIR/lib/libz.so.1 (deleted)"; do
			grep -qF "$m" "/proc/$PID/maps" || fail_step "after the restore the maps have no '$m'"
		done
		[ "$(readlink "/proc/$PID/exe")" = "$DIR/bin/python3 (deleted)" ] ||
			fail_step "after the restore the executable is '$(readlink "/proc/$PID/exe")'"
		cmp -s "$DIR/bin/python3" /bin/true && [ "$(cat "$DIR/lib/libz.so.1")" = "the new library" ] ||
			fail_step "the new files were changed"
		ls "$DIR/bin" "$DIR/lib" | grep -q cryo-ghost && fail_step "a ghost's name is left"
	fi
	[ -z "$REASON" ] && app_wait_exit 60
	[ -z "$REASON" ] && ! cmp -s "$DIR/stdout" "$DIR/ref" &&
		fail_step "the restored python3 printed '$(head -c 100 "$DIR/stdout")', not '$(head -c 100 "$DIR/ref")' (stderr: $(head -c 200 "$DIR/stderr"))"
	app_end
}
register_case app-upgraded app_upgraded
