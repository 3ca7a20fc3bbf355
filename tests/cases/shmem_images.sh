# The bad-shmem-hidden cases of tests/run.sh (sourced by it; uses its helpers and those of
# bad_input.sh: image_cases, restore_broken_field, restore_intact).
#
# One good dump of mem_shared_unmapped_tail (a shared anonymous object of 8 pages, the 4 unmapped
# ones written: saved as a shmem_extent at offset 0x4000, 0x4000 bytes), then restores of
# copies in which the extent's offset is changed to
#   end      0x6000: its data runs past the object's end
#   huge     2^63 - 1: off + length overflows
# Each restore must fail with a message naming the data no mapping shows, and leave no
# process of the dump behind. Last, the intact images restore and the test passes.

SH_GOOD=

sh_good_dump() {
	start_test mem_shared_unmapped_tail && dump "$DIR/img" && gone_after_dump || return 1
	grep -q "that no mapping shows, saved" "$DIR/img/dump.log" ||
		fail_step "the dump log does not show the hidden data saved" || return 1
	SH_GOOD=$DIR/img
	SH_ROOT=$PID
}

sh_broken() { restore_broken_field "$SH_GOOD" 'mm-*.img' shmem_extent.off "$1" "no mapping shows" "$SH_ROOT"; }

sh_intact() { restore_intact "$SH_GOOD" "$SH_ROOT" "$OUT/bad-shmem-hidden/dump/out.txt"; }

bad_shmem_hidden() {
	image_cases bad-shmem-hidden sh_good_dump SH_GOOD end "sh_broken 0x6000" \
		huge "sh_broken 0x7fffffffffffffff" intact sh_intact
}
register_case bad-shmem-hidden bad_shmem_hidden
