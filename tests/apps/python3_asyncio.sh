# Debian's python3 running asyncio's default event loop (an epoll, and a unix socket pair as
# its self-pipe), counting with asyncio.sleep into a file, checkpointed in the middle: the
# restored loop counts on to the end, every number once.
app_python3_asyncio() {
	app_begin python3-asyncio
	app_packages python3 || return
	cat >"$DIR/count.py" <<'PY'
import asyncio
async def main():
    for n in range(1, 61):
        await asyncio.sleep(0.05)
        with open("count", "a") as f:
            f.write("%d\n" % n)
    print("done")
asyncio.run(main())
PY
	app_start /usr/bin/python3 count.py
	sleep 0.7
	alive "$PID" || fail_step "python3 finished before the checkpoint"
	[ -z "$REASON" ] && app_checkpoint
	[ -z "$REASON" ] && app_wait_exit 20
	if [ -z "$REASON" ]; then
		[ "$(cat "$DIR/stdout")" = done ] ||
			fail_step "the restored loop printed '$(head -c 100 "$DIR/stdout")' (stderr: $(head -c 200 "$DIR/stderr"))"
		[ "$(tr '\n' ' ' <"$DIR/count")" = "$(seq -s ' ' 1 60) " ] ||
			fail_step "the counts are '$(tr '\n' ' ' <"$DIR/count" | head -c 300)'"
	fi
	app_end
}
register_case app-python3-asyncio app_python3_asyncio
