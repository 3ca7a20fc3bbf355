# Debian's dbus-daemon as a session bus of its own (a unix socket at a path, an epoll, an
# inotify on its configuration, a NETLINK_AUDIT socket of libaudit's), checkpointed between
# clients: after the restore a new client is answered, ListNames works, and the client gets
# the next unique name (:1.1 after :1.0), which only the restored daemon's memory knows.
app_dbus() {
	app_begin dbus
	app_packages dbus-daemon dbus-bin || return
	local bus=$DIR/bus.sock out i
	cat >"$DIR/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
	app_start /usr/bin/dbus-daemon --config-file="$DIR/bus.conf" --nofork --nopidfile
	for ((i = 0; i < 100; i++)); do
		[ -S "$bus" ] && break
		sleep 0.05
	done
	# the unique name the bus gives this client: the destination of its reply
	dbus_hello() {
		DBUS_SESSION_BUS_ADDRESS=unix:path=$bus timeout 10 dbus-send --session --print-reply \
			--dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.ListNames 2>&1
	}
	out=$(dbus_hello)
	grep -q "destination=:1.0 " <<<"$out" || fail_step "the first client was not :1.0: $(head -c 300 <<<"$out")"
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		out=$(dbus_hello)
		grep -q 'string "org.freedesktop.DBus"' <<<"$out" ||
			fail_step "ListNames after the restore: $(head -c 300 <<<"$out")"
		grep -q "destination=:1.1 " <<<"$out" ||
			fail_step "the client after the restore was not :1.1: $(head -n1 <<<"$out")"
		kill -TERM "$PID"
		app_wait_exit 10
	fi
	app_end
}
register_case app-dbus app_dbus
