# Debian's OpenBSD netcat listening, as a user would pipe it.
#
# app-netcat: `nc -l 127.0.0.1 PORT | sha256sum`, a client outside the tree connected to it:
# 2 MiB of random bytes sent before the checkpoint (--tcp-established: the connection, and the
# pipe between nc and sha256sum, whose digest so far is in its memory), 2 MiB after on the same
# connection, then the client closes: the digest sha256sum prints at the end must be the one
# of the 4 MiB sent.
app_netcat() {
	app_begin netcat
	app_packages netcat-openbsd python3 || return
	local port cpid out i
	port=$(app_free_port)
	head -c $((4 << 20)) /dev/urandom >"$DIR/data.bin"
	app_start bash -c "nc -l 127.0.0.1 $port | sha256sum >sum.txt"
	app_tcp_up "$port" || fail_step "nc does not listen"
	timeout 30 /usr/bin/python3 - "$port" "$DIR" >"$DIR/client.txt" 2>&1 <<'PY' &
import os, socket, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
data = open(d + "/data.bin", "rb").read()
c = socket.create_connection(("127.0.0.1", port), timeout=20)
half = len(data) // 2
c.sendall(data[:half])
open(d + "/first", "w").close()
while not os.path.exists(d + "/go"):
    time.sleep(0.02)
for i in range(half, len(data), 65536):
    c.sendall(data[i:i + 65536])
c.shutdown(socket.SHUT_WR)
if c.recv(1) != b"":
    sys.exit("nc sent something back")
print("ok")
PY
	cpid=$!
	app_client_answered first "did not send its first half"
	sleep 0.5
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	app_client_done "$cpid" "the client"
	[ -z "$REASON" ] && app_wait_exit 10
	if [ -z "$REASON" ]; then
		out=$(cut -d' ' -f1 "$DIR/sum.txt")
		[ "$out" = "$(sha256sum <"$DIR/data.bin" | cut -d' ' -f1)" ] ||
			fail_step "sha256sum of what nc received is '$out', not the digest of the 4 MiB sent"
	fi
	rm -f "$DIR/data.bin"
	app_end
}
register_case app-netcat app_netcat

# app-netcat-udp: `nc -u -l 127.0.0.1 PORT` (its socket connected to the first client that
# sent it a datagram) writing what it gets to a file: three datagrams before the checkpoint,
# three after from the same client socket, each must be in the file once, in order; a
# datagram from another socket after the restore must not be (nc's socket is still connected
# to the first client only).
app_netcat_udp() {
	app_begin netcat-udp
	app_packages netcat-openbsd python3 || return
	local port cpid out i
	port=$(app_free_port)
	app_start bash -c "exec nc -u -l 127.0.0.1 $port >got.txt"
	for ((i = 0; i < 100; i++)); do
		ss -Hlun "sport = :$port" 2>/dev/null | grep -q . && break
		sleep 0.05
	done
	timeout 30 /usr/bin/python3 - "$port" "$DIR" >"$DIR/client.txt" 2>&1 <<'PY' &
import os, socket, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
def wait_for(n):
    for _ in range(200):
        if open(d + "/got.txt", "rb").read().count(b"\n") >= n:
            return
        time.sleep(0.02)
    sys.exit("nc wrote %r" % open(d + "/got.txt", "rb").read())
for i in range(3):
    c.sendto(b"before %d\n" % i, ("127.0.0.1", port))
    wait_for(i + 1)
open(d + "/first", "w").close()
while not os.path.exists(d + "/go"):
    time.sleep(0.02)
o = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
o.sendto(b"from a stranger\n", ("127.0.0.1", port))
for i in range(3):
    c.sendto(b"after %d\n" % i, ("127.0.0.1", port))
    wait_for(i + 4)
time.sleep(0.2)
print("ok")
PY
	cpid=$!
	app_client_answered first "saw no datagram written"
	[ -z "$REASON" ] && app_checkpoint
	app_client_done "$cpid" "the client"
	out=$(tr '\n' '|' <"$DIR/got.txt")
	[ -z "$REASON" ] && [ "$out" != "before 0|before 1|before 2|after 0|after 1|after 2|" ] &&
		fail_step "nc wrote '$out'"
	if [ -z "$REASON" ]; then
		kill -TERM "$PID"
		app_wait_exit 10
	fi
	app_end
}
register_case app-netcat-udp app_netcat_udp
