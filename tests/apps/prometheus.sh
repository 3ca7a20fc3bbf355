# Debian's prometheus (Go: many threads, its netpoller on epoll, a TSDB with a write-ahead log
# and memory-mapped chunk files in the test's directory) scraping its own /metrics every
# 200 ms. A client outside the tree holds a keep-alive connection to the query API across the
# checkpoint (--tcp-established). Before it: the number of samples of `up` at a moment T. After
# the restore the client asks again on the same connection; the samples up to T must be
# those counted before (the head block and its log came back whole), the scrapes must go on
# (more samples, `up` still 1), and curl gets /metrics and /-/ready on new connections.
app_prometheus() {
	app_begin prometheus
	app_packages prometheus curl python3 || return
	local port i cpid out
	port=$(app_free_port)
	mkdir -p "$DIR/data"
	cat >"$DIR/prometheus.yml" <<CFG
global:
  scrape_interval: 200ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: self
    static_configs:
      - targets: ['127.0.0.1:$port']
CFG
	app_start /usr/bin/prometheus --config.file="$DIR/prometheus.yml" \
		--storage.tsdb.path="$DIR/data" --web.listen-address="127.0.0.1:$port"
	app_http_up "$port" -/ready 30
	# the client: waits for 10 samples of up, notes T and their count, then (after the file
	# "go") asks again on the same connection
	timeout 60 /usr/bin/python3 - "$port" "$DIR" >"$DIR/client.txt" 2>&1 <<'PY' &
import http.client, json, os, sys, time, urllib.parse
port, d = int(sys.argv[1]), sys.argv[2]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
def query(q, t=None):
    args = {"query": q}
    if t is not None:
        args["time"] = "%.3f" % t
    c.request("GET", "/api/v1/query?" + urllib.parse.urlencode(args))
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit("query %s: status %d: %r" % (q, r.status, body[:200]))
    res = json.loads(body)["data"]["result"]
    return float(res[0]["value"][1]) if res else None
for _ in range(200):
    n = query("count_over_time(up[1h])")
    if n is not None and n >= 10:
        break
    time.sleep(0.1)
else:
    sys.exit("no 10 samples of up before the checkpoint: %r" % n)
t = time.time() - 1
before = query("count_over_time(up[1h])", t)
sock = c.sock
open(d + "/counted", "w").close()
while not os.path.exists(d + "/go"):
    time.sleep(0.02)
again = query("count_over_time(up[1h])", t)
if again != before:
    sys.exit("samples up to T: %r before the checkpoint, %r after" % (before, again))
now0 = query("count_over_time(up[1h])")
time.sleep(2)
now1 = query("count_over_time(up[1h])")
if not (now1 > now0 > before):
    sys.exit("the scrapes did not go on after the restore: %r, %r then %r" % (before, now0, now1))
if query("up") != 1:
    sys.exit("up is %r after the restore" % query("up"))
if c.sock is not sock:
    sys.exit("the keep-alive connection was not kept")
print("ok")
PY
	cpid=$!
	for ((i = 0; i < 300; i++)); do
		[ -e "$DIR/counted" ] && break
		kill -0 "$cpid" 2>/dev/null || break
		sleep 0.05
	done
	[ -e "$DIR/counted" ] || fail_step "the client counted no samples: $(cat "$DIR/client.txt")"
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	touch "$DIR/go"
	wait "$cpid"
	out=$(cat "$DIR/client.txt")
	[ -z "$REASON" ] && [ "$out" != ok ] && fail_step "the client: $out"
	if [ -z "$REASON" ]; then
		curl -sf --max-time 10 "http://127.0.0.1:$port/metrics" >"$DIR/metrics.txt" &&
			grep -q '^prometheus_build_info{' "$DIR/metrics.txt" ||
			fail_step "no /metrics from curl after the restore"
	fi
	if [ -z "$REASON" ]; then
		curl -sf --max-time 10 "http://127.0.0.1:$port/-/ready" >/dev/null ||
			fail_step "not ready after the restore"
		kill -TERM "$PID"
		app_wait_exit 20
	fi
	kill "$cpid" 2>/dev/null
	app_end
}
register_case app-prometheus app_prometheus
# also through a pre-dump (the TSDB's mappings written to while tracked) and checkpointed twice
app_variant predump prometheus
app_variant gen2 prometheus
