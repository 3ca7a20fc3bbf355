# A static Go program (Debian's golang-go, CGO_ENABLED=0: no libc, the Go runtime's own threads,
# signal stacks, netpoller on epoll and timers) serving HTTP on a free port of 127.0.0.1 with
# net/http. Its state: a request counter; a goroutine ticking every 10 ms; a handler asleep
# in time.Sleep (a request in flight across the checkpoint, whose answer must come when its
# timer fires after the restore); a handler blocked receiving from a channel that a later
# request sends to; and a keep-alive connection, all held by one client outside the tree
# through the checkpoint (--tcp-established). After the restore: the sleeping request is
# answered, the blocked one gets the value sent after the restore, the counter goes on by
# one, the ticker still ticks (about 50 ticks in half a second), and a 1 MiB body the
# program made comes back byte for byte. The binary is built once into tests/build/go.
app_go_http() {
	app_begin go-http
	app_packages golang-go python3 curl || return
	local port cpid out t1 t2 gdir=$BUILD/go
	mkdir -p "$gdir"
	cat >"$DIR/main.go" <<'GO'
package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

var hits, ticks int64

func main() {
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i*7 + i/4099)
	}
	ch := make(chan string)
	go func() {
		for range time.Tick(10 * time.Millisecond) {
			atomic.AddInt64(&ticks, 1)
		}
	}()
	http.HandleFunc("/hit", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hit %d\n", atomic.AddInt64(&hits, 1))
	})
	http.HandleFunc("/ticks", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d\n", atomic.LoadInt64(&ticks))
	})
	http.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		t := time.Now()
		time.Sleep(time.Duration(ms) * time.Millisecond)
		fmt.Fprintf(w, "slept %v\n", time.Since(t) >= time.Duration(ms)*time.Millisecond)
	})
	http.HandleFunc("/recv", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "got %s\n", <-ch)
	})
	http.HandleFunc("/send", func(w http.ResponseWriter, r *http.Request) {
		ch <- r.URL.Query().Get("v")
		fmt.Fprintf(w, "sent\n")
	})
	http.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write(big)
	})
	if err := http.ListenAndServe(os.Args[1], nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
GO
	if ! cmp -s "$DIR/main.go" "$gdir/main.go" || [ ! -x "$gdir/serve" ]; then
		cp "$DIR/main.go" "$gdir/main.go"
		(cd "$gdir" && HOME=$gdir GOCACHE=$gdir/cache GO111MODULE=off CGO_ENABLED=0 \
			timeout 300 go build -o serve main.go) >"$DIR/build.txt" 2>&1 ||
			fail_step "go build failed: $(tail -n3 "$DIR/build.txt")"
	fi
	port=$(app_free_port)
	[ -z "$REASON" ] && app_start "$gdir/serve" "127.0.0.1:$port"
	[ -z "$REASON" ] && { app_http_up "$port" ticks 5 || fail_step "the Go server does not answer"; }
	# the client: /hit on a keep-alive connection, then /sleep (2 s) and /recv each on a
	# connection of their own, all three open while the server is checkpointed
	timeout 40 /usr/bin/python3 - "$port" "$DIR" >"$DIR/client.txt" 2>&1 <<'PY' &
import http.client, os, sys, threading, time
port, d = int(sys.argv[1]), sys.argv[2]
errors = []
def ask(c, path, want):
    c.request("GET", path)
    r = c.getresponse()
    got = r.read()
    if r.status != 200 or got != want:
        errors.append("%s: status %d, %r (wanted %r)" % (path, r.status, got[:80], want))
def later(path, want):
    ask(http.client.HTTPConnection("127.0.0.1", port, timeout=30), path, want)
keep = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
ask(keep, "/hit", b"hit 1\n")
sock = keep.sock
ts = [threading.Thread(target=later, args=("/sleep?ms=2000", b"slept true\n")),
      threading.Thread(target=later, args=("/recv", b"got after-the-restore\n"))]
for t in ts:
    t.start()
time.sleep(0.3)
open(d + "/first", "w").close()
while not os.path.exists(d + "/go"):
    time.sleep(0.02)
ask(keep, "/hit", b"hit 2\n")
later("/send?v=after-the-restore", b"sent\n")
for t in ts:
    t.join()
if keep.sock is not sock:
    errors.append("the keep-alive connection was not kept")
print("; ".join(errors) or "ok")
PY
	cpid=$!
	app_client_answered first "got no first answer"
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	app_client_done "$cpid" "the client"
	if [ -z "$REASON" ]; then
		t1=$(curl -sf --max-time 5 "http://127.0.0.1:$port/ticks")
		sleep 0.5
		t2=$(curl -sf --max-time 5 "http://127.0.0.1:$port/ticks")
		[ -n "$t1" ] && [ -n "$t2" ] && [ $((t2 - t1)) -ge 25 ] && [ $((t2 - t1)) -le 100 ] ||
			fail_step "the ticker after the restore went from '$t1' to '$t2' in 0.5 s"
	fi
	if [ -z "$REASON" ]; then
		/usr/bin/python3 -c 'import sys
sys.stdout.buffer.write(bytes(((i * 7 + i // 4099) & 0xff) for i in range(1 << 20)))' >"$DIR/big.expected"
		curl -sf --max-time 10 -o "$DIR/big.got" "http://127.0.0.1:$port/big"
		cmp -s "$DIR/big.got" "$DIR/big.expected" ||
			fail_step "after the restore /big differs ($(stat -c %s "$DIR/big.got" 2>/dev/null) bytes)"
		out=$(curl -sf --max-time 5 "http://127.0.0.1:$port/hit")
		[ "$out" = "hit 3" ] || fail_step "the third /hit said '$out'"
	fi
	if [ -z "$REASON" ]; then
		kill -TERM "$PID"
		app_wait_exit 10
	fi
	app_end
}
register_case app-go-http app_go_http
app_variant predump go-http
app_variant gen2 go-http
