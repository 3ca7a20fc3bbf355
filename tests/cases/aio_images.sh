# The bad-aio cases of tests/run.sh (sourced by it; uses its helpers and those of
# bad_input.sh: restore_broken_field, restore_intact).
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

aio_broken() { restore_broken_field "$AIO_GOOD" 'mm-*.img' "aio_ring.$1" "$2" aio_ring "$AIO_ROOT"; }

aio_intact() { restore_intact "$AIO_GOOD" "$AIO_ROOT" "$OUT/bad-aio/dump/out.txt"; }

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
