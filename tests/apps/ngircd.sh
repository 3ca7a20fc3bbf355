# Debian's ngircd, an IRC server, with two users connected from a client outside the tree:
# alice and bob registered, both in #cryo, a topic set and one message already passed. The
# server is dumped and restored with --tcp-established while both connections wait. After
# the restore, on the same connections: alice's message to #cryo reaches bob word for word,
# bob's private message reaches alice, NAMES lists both and TOPIC is still the one set; then a
# third user, carol, connects anew, joins and is seen joining by alice and bob, and WHOIS
# alice still knows her real name.
app_ngircd() {
	app_begin ngircd
	app_packages ngircd python3 || return
	local port i cpid out
	port=$(app_free_port)
	cat >"$DIR/ngircd.conf" <<CONF
[Global]
Name = irc.cryo.test
Info = checkpointed ngircd
AdminInfo1 = test
AdminInfo2 = test
AdminEMail = root@localhost
Listen = 127.0.0.1
Ports = $port
MotdPhrase = hello from ngircd
PidFile = $DIR/ngircd.pid
[Limits]
PingTimeout = 300
PongTimeout = 60
[Options]
DNS = no
Ident = no
PAM = no
CONF
	app_start /usr/sbin/ngircd -n -f "$DIR/ngircd.conf"
	timeout 60 /usr/bin/python3 - "$port" "$DIR" >"$DIR/client.txt" 2>&1 <<'PY' &
import os, socket, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
class User:
    def __init__(self, nick):
        self.nick = nick
        for _ in range(200):
            try:
                self.s = socket.create_connection(("127.0.0.1", port), timeout=20)
                break
            except OSError:
                time.sleep(0.05)
        else:
            sys.exit("cannot connect")
        self.buf = b""
        self.send("NICK " + nick)
        self.send("USER %s 0 * :%s the tester" % (nick, nick.capitalize()))
        self.expect(" 001 " + nick + " ")
    def send(self, line):
        self.s.sendall(line.encode() + b"\r\n")
    def line(self):
        while b"\r\n" not in self.buf:
            b = self.s.recv(4096)
            if not b:
                sys.exit("%s: the server closed the connection" % self.nick)
            self.buf += b
        l, self.buf = self.buf.split(b"\r\n", 1)
        l = l.decode()
        if l.startswith("PING "):
            self.send("PONG " + l[5:])
            return self.line()
        return l
    def expect(self, part):
        seen = []
        while True:
            l = self.line()
            if part in l:
                return l
            seen.append(l)
            if len(seen) > 200:
                sys.exit("%s: no %r in %r" % (self.nick, part, seen[-5:]))
alice, bob = User("alice"), User("bob")
alice.send("JOIN #cryo")
alice.expect(" 366 alice #cryo ")
alice.send("TOPIC #cryo :frozen and thawed")
alice.expect(" TOPIC #cryo :frozen and thawed")
bob.send("JOIN #cryo")
bob.expect(" 366 bob #cryo ")
alice.expect("bob!")  # bob's JOIN
alice.send("PRIVMSG #cryo :before the checkpoint")
bob.expect("PRIVMSG #cryo :before the checkpoint")
open(d + "/ready", "w").close()
while not os.path.exists(d + "/go"):
    time.sleep(0.02)
msg = "after the restore: " + "".join(chr(33 + i % 90) for i in range(300))
alice.send("PRIVMSG #cryo :" + msg)
l = bob.expect("PRIVMSG #cryo :")
if not l.startswith(":alice!") or not l.endswith(":" + msg):
    sys.exit("bob got %r" % l)
bob.send("PRIVMSG alice :just to you")
l = alice.expect("PRIVMSG alice :")
if not l.startswith(":bob!") or not l.endswith(":just to you"):
    sys.exit("alice got %r" % l)
alice.send("NAMES #cryo")
l = alice.expect(" 353 alice ")
if sorted(n.lstrip("@") for n in l.split(":")[-1].split()) != ["alice", "bob"]:
    sys.exit("NAMES: %r" % l)
bob.send("TOPIC #cryo")
l = bob.expect(" 332 bob #cryo ")
if not l.endswith(":frozen and thawed"):
    sys.exit("TOPIC: %r" % l)
carol = User("carol")
carol.send("JOIN #cryo")
carol.expect(" 366 carol #cryo ")
for u in alice, bob:
    l = u.expect(" JOIN ")
    if not l.startswith(":carol!"):
        sys.exit("%s saw %r" % (u.nick, l))
carol.send("WHOIS alice")
l = carol.expect(" 311 carol alice ")
if not l.endswith(":Alice the tester"):
    sys.exit("WHOIS: %r" % l)
for u in alice, bob, carol:
    u.send("QUIT :bye")
print("ok")
PY
	cpid=$!
	for ((i = 0; i < 300; i++)); do
		[ -e "$DIR/ready" ] && break
		kill -0 "$cpid" 2>/dev/null || break
		sleep 0.05
	done
	[ -e "$DIR/ready" ] || fail_step "the users did not get in: $(cat "$DIR/client.txt")"
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	touch "$DIR/go"
	wait "$cpid"
	out=$(cat "$DIR/client.txt")
	[ -z "$REASON" ] && [ "$out" != ok ] && fail_step "the users after the restore: $out"
	if [ -z "$REASON" ]; then
		kill -TERM "$PID"
		app_wait_exit 10
	fi
	app_end
}
register_case app-ngircd app_ngircd
