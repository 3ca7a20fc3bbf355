# Debian's python3 with a multiprocessing.Pool of three workers mapping a function over 300
# items: a parent, its workers (forked), their pipes, the pool's threads and its semaphores
# (POSIX, in /dev/shm, unlinked once open). Checkpointed in the middle of the map, restored,
# the pool must finish and print the digest of an uninterrupted run (the reference, run beside
# it: the work is mostly sleeping).
app_python3_multiprocessing() {
	app_begin python3-multiprocessing
	app_packages python3 || return
	cat >"$DIR/pool.py" <<'PY'
import hashlib, multiprocessing, time
def work(i):
    h = hashlib.sha256()
    for k in range(2000):
        h.update(b"%d-%d" % (i, k))
    time.sleep(0.02)
    return h.hexdigest()[:8]
if __name__ == "__main__":
    with multiprocessing.Pool(3) as p:
        r = p.map(work, range(300), chunksize=2)
    print(hashlib.sha256("".join(r).encode()).hexdigest(), len(r))
PY
	(cd "$DIR" && exec /usr/bin/python3 pool.py >ref) &
	local ref=$!
	app_start /usr/bin/python3 pool.py
	sleep 0.8
	alive "$PID" || fail_step "the pool finished before the checkpoint"
	[ -z "$REASON" ] && [ "$(pgrep -c -P "$PID")" -lt 3 ] &&
		fail_step "the pool has $(pgrep -c -P "$PID") workers, not 3"
	[ -z "$REASON" ] && app_checkpoint
	[ -z "$REASON" ] && app_wait_exit 60
	wait "$ref"
	[ -z "$REASON" ] && ! cmp -s "$DIR/stdout" "$DIR/ref" &&
		fail_step "the restored pool printed '$(head -c 100 "$DIR/stdout")', not '$(head -c 100 "$DIR/ref")' (stderr: $(tail -c 300 "$DIR/stderr"))"
	app_end
}
register_case app-python3-multiprocessing app_python3_multiprocessing
