# Debian's node with a child from child_process.fork (its IPC channel, a unix socket pair)
# and a worker thread (worker_threads: a second event loop and message port in the same
# process): every 50 ms both are sent a number and answer; checkpointed in the middle,
# restored: the sums of all 60 answers must be those of an uninterrupted run.
app_node_ipc() {
	app_begin node-ipc
	app_packages nodejs || return
	cat >"$DIR/main.js" <<'JS'
const { fork } = require('child_process');
const { Worker } = require('worker_threads');
if (process.argv[2] === 'child') {
  process.on('message', (m) => process.send({ n: m.n, sq: m.n * m.n }));
} else {
  const c = fork(__filename, ['child']);
  const w = new Worker('const {parentPort} = require("worker_threads");' +
    'parentPort.on("message", (n) => parentPort.postMessage(n + 1));', { eval: true });
  let n = 0, sum = 0, wsum = 0, got = 0;
  c.on('message', (m) => { sum += m.sq; got++; });
  w.on('message', (v) => { wsum += v; got++; });
  const t = setInterval(() => {
    n++; c.send({ n }); w.postMessage(n);
    if (n === 60) {
      clearInterval(t);
      const end = setInterval(() => {
        if (got < 120) return;
        clearInterval(end);
        console.log('sum', sum, 'wsum', wsum);
        c.kill(); w.terminate();
      }, 20);
    }
  }, 50);
}
JS
	app_start node main.js
	sleep 1.2
	alive "$PID" || fail_step "node finished before the checkpoint"
	[ -z "$REASON" ] && [ "$(pgrep -c -P "$PID")" -lt 1 ] && fail_step "node has no forked child"
	[ -z "$REASON" ] && app_checkpoint
	[ -z "$REASON" ] && app_wait_exit 30
	[ -z "$REASON" ] && [ "$(cat "$DIR/stdout")" != "sum 73810 wsum 1890" ] &&
		fail_step "the restored node printed '$(head -c 100 "$DIR/stdout")' (stderr: $(tail -c 300 "$DIR/stderr"))"
	app_end
}
register_case app-node-ipc app_node_ipc
