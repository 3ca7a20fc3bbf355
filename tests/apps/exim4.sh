# Debian's Exim (exim4-daemon-light) as an SMTP server in the foreground (-bdf: the daemon is
# the root of the tree; with a configuration of its own, -C, it runs as Debian-exim), with a
# live SMTP session: a client outside the tree (python's smtplib) says EHLO, MAIL FROM and
# RCPT TO, all accepted by the daemon's child that serves the connection, then keeps the
# connection open while the daemon and that child are checkpointed with --tcp-established.
# After the restore the same session goes on: DATA (the envelope given before the dump must
# still be there), a second message, QUIT. Both messages must be delivered to the mailbox
# file, each with its envelope, and a new session works too.
app_exim4() {
	app_begin exim4
	app_packages exim4-daemon-light python3 || return
	if [ "$(id -u)" != 0 ]; then
		skip "$APP" "needs root (exim starts as root and runs as Debian-exim)"
		return
	fi
	local port cpid out i
	port=$(app_free_port)
	mkdir -p "$DIR/spool" "$DIR/log"
	chown Debian-exim "$DIR" "$DIR/spool" "$DIR/log"
	cat >"$DIR/exim.conf" <<CFG
primary_hostname = cryo.test
domainlist local_domains = cryo.test
spool_directory = $DIR/spool
log_file_path = $DIR/log/%slog
pid_file_path = $DIR/exim.pid
daemon_smtp_ports = $port
local_interfaces = 127.0.0.1
acl_smtp_rcpt = check_rcpt
host_lookup =
rfc1413_hosts =
keep_environment =
tls_advertise_hosts =
begin acl
check_rcpt:
  accept domains = +local_domains
  deny message = relay not permitted
begin routers
tofile:
  driver = accept
  transport = mbox
begin transports
mbox:
  driver = appendfile
  file = $DIR/mbox
  user = Debian-exim
  envelope_to_add
  return_path_add
begin retry
* * F,1h,15m
CFG
	# -odi: each message delivered at once, by the process that took it
	app_start /usr/sbin/exim4 -C "$DIR/exim.conf" -bdf -odi
	for ((i = 0; i < 200; i++)); do
		ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && break
		sleep 0.05
	done
	timeout 40 /usr/bin/python3 - "$port" "$DIR" >"$DIR/client.txt" 2>&1 <<'PY' &
import os, smtplib, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
s = smtplib.SMTP("127.0.0.1", port, timeout=20)
def ok(r, what, code=250):
    if r[0] != code:
        sys.exit("%s: %r" % (what, r))
ok(s.ehlo("client.test"), "EHLO")
ok(s.mail("before@client.test"), "MAIL FROM")
ok(s.rcpt("first@cryo.test"), "RCPT TO")
open(d + "/envelope", "w").close()
while not os.path.exists(d + "/go"):
    time.sleep(0.02)
ok(s.data(b"Subject: one\r\n\r\nwritten after the restore\r\n"), "DATA")
s.sendmail("second@client.test", ["second@cryo.test"], b"Subject: two\r\n\r\nthe second message\r\n")
ok(s.quit(), "QUIT", 221)
print("ok")
PY
	cpid=$!
	for ((i = 0; i < 200; i++)); do
		[ -e "$DIR/envelope" ] && break
		sleep 0.05
	done
	[ -e "$DIR/envelope" ] || fail_step "the session did not start: $(cat "$DIR/client.txt")"
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	touch "$DIR/go"
	wait "$cpid"
	out=$(cat "$DIR/client.txt")
	[ -z "$REASON" ] && [ "$out" != ok ] && fail_step "the session: $out"
	if [ -z "$REASON" ]; then
		out=$(timeout 20 /usr/bin/python3 -c 'import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.sendmail("new@client.test", ["third@cryo.test"], b"Subject: three\r\n\r\na new session\r\n")
s.quit()
print("sent")' "$port" 2>&1)
		[ "$out" = sent ] || fail_step "a new session after the restore: $out"
	fi
	if [ -z "$REASON" ]; then
		for ((i = 0; i < 100; i++)); do
			[ "$(grep -c '^Envelope-to: ' "$DIR/mbox" 2>/dev/null)" = 3 ] && break
			sleep 0.05
		done
		/usr/bin/python3 - "$DIR/mbox" <<'PY' || fail_step "the mailbox: $(tr '\n' '|' <"$DIR/mbox" 2>/dev/null | head -c 600)"
import mailbox, sys
msgs = list(mailbox.mbox(sys.argv[1]))
want = [("before@client.test", "first@cryo.test", "one", "written after the restore"),
        ("second@client.test", "second@cryo.test", "two", "the second message"),
        ("new@client.test", "third@cryo.test", "three", "a new session")]
got = [(m["Return-path"].strip("<>"), m["Envelope-to"], m["Subject"], m.get_payload().strip())
       for m in msgs]
# (exim delivers each message in a process of its own: the order in the file may vary)
sys.exit(sorted(got) != sorted(want))
PY
		kill -TERM "$PID"
		app_wait_exit 10
	fi
	kill "$cpid" 2>/dev/null
	app_end
}
register_case app-exim4 app_exim4
