# Debian's ruby running a WEBrick server (a thread for each connection) whose state lives only
# in the interpreter's memory: /add?n=N adds N to a running sum kept in a Hash under a Mutex
# and answers the sum and how many additions made it; /log answers every N added, in order.
# A client outside the tree holds a keep-alive connection with one addition answered; ruby
# is dumped and restored with --tcp-established while WEBrick's thread for it waits for the
# next request. After the restore that client adds more on the same connection, curl adds on
# new ones, and /log must list every addition, before and after, in order.
app_ruby() {
	app_begin ruby
	app_packages ruby curl python3 || return
	local port i cpid out want
	port=$(app_free_port)
	cat >"$DIR/server.rb" <<'RUBY'
require "webrick"
state = { sum: 0, log: [] }
lock = Mutex.new
srv = WEBrick::HTTPServer.new(BindAddress: "127.0.0.1", Port: ARGV[0].to_i,
                              Logger: WEBrick::Log.new($stderr, WEBrick::Log::WARN),
                              AccessLog: [], RequestTimeout: 120)
srv.config[:KeepAliveTimeout] = 120
srv.mount_proc("/add") do |req, res|
  n = Integer(req.query["n"])
  lock.synchronize do
    state[:sum] += n
    state[:log] << n
    res.body = "sum #{state[:sum]} after #{state[:log].size}\n"
  end
end
srv.mount_proc("/log") do |req, res|
  res.body = lock.synchronize { state[:log].join(",") + "\n" }
end
trap("TERM") { srv.shutdown }
srv.start
RUBY
	app_start /usr/bin/ruby "$DIR/server.rb" "$port"
	for ((i = 0; i < 200; i++)); do
		out=$(curl -sf --max-time 5 "http://127.0.0.1:$port/add?n=5") && break
		sleep 0.05
	done
	[ "$out" = "sum 5 after 1" ] || fail_step "the first addition: '$out' ($(head -c 300 "$DIR/stderr"))"
	timeout 40 /usr/bin/python3 - "$port" "$DIR" >"$DIR/client.txt" 2>&1 <<'PY' &
import http.client, os, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
def get(path, want):
    c.request("GET", path)
    r = c.getresponse()
    got = r.read()
    if r.status != 200 or got != want:
        sys.exit("%s: status %d, %r (wanted %r)" % (path, r.status, got[:200], want))
get("/add?n=7", b"sum 12 after 2\n")
sock = c.sock
open(d + "/first", "w").close()
while not os.path.exists(d + "/go"):
    time.sleep(0.02)
get("/add?n=100", b"sum 112 after 3\n")
get("/add?n=1000", b"sum 1112 after 4\n")
if c.sock is not sock:
    sys.exit("the keep-alive connection was not kept")
print("ok")
PY
	cpid=$!
	app_client_answered
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	app_client_done "$cpid" "the client across the checkpoint"
	if [ -z "$REASON" ]; then
		out=$(curl -sf --max-time 5 "http://127.0.0.1:$port/add?n=30000")
		[ "$out" = "sum 31112 after 5" ] || fail_step "a new connection after the restore: '$out'"
		want=5,7,100,1000,30000
		out=$(curl -sf --max-time 5 "http://127.0.0.1:$port/log")
		[ "$out" = "$want" ] || fail_step "the log after the restore: '$out', not $want"
		kill -TERM "$PID"
		app_wait_exit 10
	fi
	app_end
}
register_case app-ruby app_ruby
