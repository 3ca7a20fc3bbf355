# Debian's python3 hashing for a while (a deterministic computation), checkpointed in the
# middle: the restored interpreter prints the digest of an uninterrupted run.
app_python3() {
	app_begin python3
	app_packages python3 || return
	cat >"$DIR/work.py" <<'PY'
import hashlib, sys, time
h = hashlib.sha256()
data = {}
for i in range(8_000_000):
    h.update(str(i * i).encode())
    if i % 1000 == 0:
        data[i] = h.hexdigest()[:8]
print(h.hexdigest(), len(data), data[7_999_000])
PY
	# The reference beside the checkpointed run (two cores), not before it: the work must be
	# long enough to be caught halfway on a fast machine without doubling the case's time.
	(cd "$DIR" && exec /usr/bin/python3 work.py >ref) &
	local ref=$!
	app_start /usr/bin/python3 work.py
	sleep 0.3
	alive "$PID" || fail_step "python3 finished before the checkpoint"
	[ -z "$REASON" ] && app_checkpoint
	[ -z "$REASON" ] && app_wait_exit 60
	wait "$ref"
	[ -z "$REASON" ] && ! cmp -s "$DIR/stdout" "$DIR/ref" &&
		fail_step "the restored python3 printed '$(head -c 100 "$DIR/stdout")', not '$(head -c 100 "$DIR/ref")' (stderr: $(head -c 200 "$DIR/stderr"))"
	app_end
}
register_case app-python3 app_python3
