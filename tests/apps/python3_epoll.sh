# Debian's python3 running an event loop of its own on epoll (selectors.EpollSelector, as
# asyncio's loop does underneath): a timer tick every 30 ms writes the tick's number into a
# pipe and counts it on an eventfd; the loop reads the pipe, and the eventfd through a second
# epoll (edge-triggered) watched by the first. Checkpointed while it ticks; the restored loop
# goes on: every tick read once from the pipe and once from the eventfd. (asyncio itself makes
# a socket pair for its self-pipe, which cryo does not save yet.)
app_python3_epoll() {
	app_begin python3-epoll
	app_packages python3 || return
	cat >"$DIR/loop.py" <<'PY'
import os, select, selectors, time
sel = selectors.EpollSelector()
r, w = os.pipe()
os.set_blocking(r, False)
efd = os.eventfd(0, os.EFD_NONBLOCK)
inner = select.epoll()
inner.register(efd, select.EPOLLIN | select.EPOLLET)
sel.register(r, selectors.EVENT_READ, "pipe")
sel.register(inner.fileno(), selectors.EVENT_READ, "inner")
got, seen, ticks = [], 0, 0
def drain():
    global got, seen
    try:
        got += os.read(r, 65536).split()
    except BlockingIOError:
        pass
    try:
        seen += os.eventfd_read(efd)
    except BlockingIOError:
        pass  # an edge without a count (one comes again after a restore)
next_t = time.monotonic()
while ticks < 100:
    for key, _ in sel.select(max(0.0, next_t - time.monotonic())):
        if key.data == "pipe" or inner.poll(0):
            drain()
    if time.monotonic() >= next_t:
        ticks += 1
        os.write(w, b"%d " % ticks)
        os.eventfd_write(efd, 1)
        next_t += 0.03
drain()
print(len(got), sum(int(x) for x in got), len(set(got)), seen)
PY
	app_start /usr/bin/python3 loop.py
	sleep 0.5
	alive "$PID" || fail_step "python3 finished before the checkpoint"
	[ -z "$REASON" ] && app_checkpoint
	[ -z "$REASON" ] && app_wait_exit 30
	[ -z "$REASON" ] && [ "$(cat "$DIR/stdout")" != "100 5050 100 100" ] &&
		fail_step "the restored loop printed '$(head -c 100 "$DIR/stdout")', not '100 5050 100 100' (stderr: $(head -c 300 "$DIR/stderr"))"
	app_end
}
register_case app-python3-epoll app_python3_epoll
