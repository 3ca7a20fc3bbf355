# Debian's Knot DNS (knotd: one process of many threads, UDP and TCP workers on 127.0.0.1, its
# timers and journal in LMDB databases mapped from the test's directory, a control socket
# there for knotc). A zone made here, changed by knotc through the control socket in a
# transaction (a record added, the serial raised to 2: written to the journal); dig asks for
# its records before the checkpoint. After the restore dig asks again over UDP and TCP, knotc
# changes the zone once more: dig gets both added records and serial 3, `knotc zone-read`
# shows the new one, and `knotc stop` ends knotd. Then knotd is started again, out of cryo's
# hands: the zone comes back from the journal with both changes. Checkpointed with --file-locks: LMDB holds POSIX locks on its lock files.
app_knot() {
	app_begin knot
	app_packages knot knot-dnsutils dnsutils || return
	local port i got
	port=$(app_free_port)
	cat >"$DIR/example.test.zone" <<'ZONE'
$ORIGIN example.test.
$TTL 3600
@	IN SOA ns.example.test. admin.example.test. ( 1 3600 600 86400 300 )
	IN NS ns
ns	IN A 192.0.2.1
www	IN A 192.0.2.80
txt	IN TXT "a checkpointed answer" "second string"
ZONE
	cat >"$DIR/knot.conf" <<CONF
server:
    rundir: "$DIR"
    listen: 127.0.0.1@$port
    background-workers: 1
database:
    storage: "$DIR/db"
control:
    listen: "$DIR/knot.sock"
log:
  - target: "$DIR/knot.log"
    any: info
template:
  - id: default
    storage: "$DIR"
    file: "%s.zone"
    zonefile-sync: -1
zone:
  - domain: example.test
CONF
	mkdir -p "$DIR/db"
	app_start /usr/sbin/knotd -c "$DIR/knot.conf"
	ask() {
		dig +short +time=5 +tries=1 @127.0.0.1 -p "$port" "$@" 2>&1
	}
	ctl() { timeout 20 knotc -c "$DIR/knot.conf" "$@" 2>&1; }
	app_dns_up "$port"
	got=$(ask www.example.test A)
	[ "$got" = 192.0.2.80 ] || fail_step "knotd answered '$got' before the checkpoint: $(tail -n3 "$DIR/knot.log" "$DIR/stderr")"
	# change NAME ADDR: a record added by knotc in a transaction, and served
	change() {
		got=$(ctl zone-begin example.test && ctl zone-set example.test "$1" 3600 A "$2" &&
			ctl zone-commit example.test)
		for ((i = 0; i < 100; i++)); do
			[ "$(ask "$1.example.test" A)" = "$2" ] && break
			sleep 0.1
		done
		got="$got / $(ask "$1.example.test" A)"
		[ "${got##* / }" = "$2" ]
	}
	[ -z "$REASON" ] && ! change before 192.0.2.98 &&
		fail_step "the record added by knotc before the checkpoint: $got $(tail -n3 "$DIR/knot.log")"
	[ -z "$REASON" ] && app_checkpoint --file-locks
	[ -z "$REASON" ] && app_dns_check "$port" "after the restore"
	if [ -z "$REASON" ]; then
		change new 192.0.2.99 ||
			fail_step "the record added by knotc after the restore: $got $(tail -n3 "$DIR/knot.log")"
		[ -z "$REASON" ] && [ "$(ask before.example.test A)" != 192.0.2.98 ] &&
			fail_step "the record added before the checkpoint is gone"
	fi
	if [ -z "$REASON" ]; then
		got=$(ask +tcp example.test SOA)
		[ "$(awk '{ print $3 }' <<<"$got")" = 3 ] || fail_step "the serial after the change: '$got'"
		got=$(ctl zone-read example.test new A)
		grep -q '192.0.2.99' <<<"$got" || fail_step "knotc zone-read after the change: $got"
	fi
	if [ -z "$REASON" ]; then
		got=$(ctl stop)
		app_wait_exit 20
	fi
	# knotd started again, out of cryo's hands: the zone file never had the changes
	# (zonefile-sync -1), the journal the restored knotd wrote to must
	if [ -z "$REASON" ]; then
		app_start /usr/sbin/knotd -c "$DIR/knot.conf"
		# (a knotd just started may answer a first question badly: "query response not
		# set"; asked until all three answers are right, for 10 s)
		for ((i = 0; i < 200; i++)); do
			got="$(ask before.example.test A) $(ask new.example.test A) $(ask example.test SOA | awk '{ print $3 }')"
			[ "$got" = "192.0.2.98 192.0.2.99 3" ] && break
			sleep 0.05
		done
		[ "$got" = "192.0.2.98 192.0.2.99 3" ] ||
			fail_step "knotd started again from its journal: '$got' $(tail -n3 "$DIR/knot.log")"
		ctl stop >/dev/null
		app_wait_exit 20
	fi
	app_end
}
register_case app-knot app_knot
# also through a pre-dump (the LMDB maps written to while tracked) and checkpointed twice
app_variant predump knot # (knotd gives up every capability: its lender has none either)
app_variant gen2 knot
