# The bad-aio cases of tests/run.sh (sourced by it; uses its helpers and those of
# bad_input.sh: image_cases, restore_broken_field, restore_intact).
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
	image_cases bad-aio aio_good_dump AIO_GOOD tail "aio_broken tail 127" nr "aio_broken nr 3" \
		reqs "aio_broken max_reqs 0" id "aio_broken id 70000" intact aio_intact
}
register_case bad-aio bad_aio
