# The bad-aio cases of tests/run.sh (sourced by it; uses its helpers and those of
# bad_input.sh: expect_clean_failure, wait_gone, kill_ours).
#
# One good dump of aio_ring (two AIO contexts, one with completed events not reaped yet),
# then restores of copies in which one field of every aio_ring is changed to a value no
# kernel gives:
#   tail     at the ring's size (an index past the last event slot)
#   nr       fewer events than the mapping holds
#   reqs     io_setup(0)
#   id       index 70000 of the task's table
# Each restore must fail with a message naming the mapping and its aio_ring, and leave no
# process of the dump behind. Last, the intact images restore and the test passes.

AIO_GOOD=

aio_good_dump() {
	start_test aio_ring && dump "$DIR/img" && gone_after_dump || return 1
	AIO_GOOD=$DIR/img
	AIO_ROOT=$PID
}

# aio_broken FIELD VALUE: every aio_ring's FIELD set to VALUE; the restore must refuse it.
aio_broken() {
	local copy=$DIR/img f n=0
	rm -rf "$copy"
	cp -a "$AIO_GOOD" "$copy"
	rm -f "$copy"/*.log
	for f in "$copy"/mm-*.img; do
		python3 "$TESTS/tools/set_field.py" "$f" "aio_ring.$1" "$2" >/dev/null && n=$((n + 1))
	done
	[ $n -gt 0 ] || fail_step "no image with an aio_ring to change" || return 1
	cryo restore restore -D "$copy" -d -v4 -o restore.log --pidfile "$DIR/restored.pid"
	expect_clean_failure "restore with aio_ring.$1 $2" "$DIR/cryo-restore.txt" \
		"$copy/restore.log" || return 1
	grep -q "aio_ring" "$DIR/cryo-restore.txt" ||
		fail_step "the refusal does not name the aio_ring: $(grep -m1 Error "$DIR/cryo-restore.txt")"
	if ! wait_gone "$AIO_ROOT" 3; then
		kill_ours "$AIO_ROOT"
		fail_step "a process with pid $AIO_ROOT is left after the failed restore"
	fi
}

aio_intact() {
	PID=$AIO_ROOT
	started_pids+=("$PID")
	cp -a "$AIO_GOOD" "$DIR/img"
	rm -f "$DIR/img"/*.log
	restore "$DIR/img" && check "$OUT/bad-aio/dump/out.txt"
}

bad_aio() {
	local keep=${ZT_KEEP:-0} c
	ZT_KEEP=1
	run_sub_case bad-aio/dump aio_good_dump
	ZT_KEEP=$keep
	if [ -z "$AIO_GOOD" ]; then
		for c in tail nr reqs id intact; do
			skip "bad-aio/$c" "no good dump to break"
		done
		return
	fi
	run_sub_case bad-aio/tail aio_broken tail 127
	run_sub_case bad-aio/nr aio_broken nr 3
	run_sub_case bad-aio/reqs aio_broken max_reqs 0
	run_sub_case bad-aio/id aio_broken id 70000
	run_sub_case bad-aio/intact aio_intact
	[ "$keep" = 1 ] || rm -rf "$OUT/bad-aio/dump"
}
register_case bad-aio bad_aio
