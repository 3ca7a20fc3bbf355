# The bad-unix-maker cases of tests/run.sh (sourced by it; uses its helpers and those of
# bad_input.sh: image_cases, restore_broken_field, restore_intact).
#
# One good dump of unix_pair_child (socket pairs its child M made, which M makes again at
# restore: unix_sk.maker), then restores of copies in which every pair's maker is changed to
#   root     the tree's root (a maker is a task other than the root; the root's own pairs
#            carry none)
#   nobody   a pid that is no task of the tree
#   worker   M's child G, which M is not below (M holds the pairs)
#   zero     0, no pid at all
# Each restore must fail with a message naming the unix socket and leave no process of the
# dump behind. Last, the intact images restore and the test passes.

UM_GOOD=
UM_PIDS=

um_good_dump() {
	start_test unix_pair_child && dump "$DIR/img" && gone_after_dump || return 1
	UM_GOOD=$DIR/img
	UM_ROOT=$PID
	local f
	UM_PIDS=$(ls "$UM_GOOD" | sed -n 's/^core-\([0-9]*\)\.img$/\1/p' | tr '\n' ' ')
	UM_M=
	for f in "$UM_GOOD"/files-*.img; do
		UM_M=$("$CRYO" show "$f" | sed -n 's/^ *"maker": \([0-9]*\).*/\1/p' | head -n1)
		[ -n "$UM_M" ] && break
	done
	[ -n "$UM_M" ] || { UM_GOOD= && fail_step "no unix socket of the dump has a maker"; } || return 1
	local c
	UM_G=
	for c in $UM_PIDS; do
		[ "$c" != "$UM_ROOT" ] && [ "$c" != "$UM_M" ] && UM_G=$c
	done
}

# um_broken VALUE: every maker in the images set to VALUE; the restore must refuse it.
# shellcheck disable=SC2086 # UM_PIDS is a list
um_broken() { restore_broken_field "$UM_GOOD" 'files-*.img' unix_sk.maker "$1" "unix socket" $UM_PIDS; }

um_intact() { restore_intact "$UM_GOOD" "$UM_ROOT" "$OUT/bad-unix-maker/dump/out.txt"; }

um_root() { um_broken "$UM_ROOT"; }
um_nobody() { um_broken "$(free_pid)"; }
um_worker() { um_broken "$UM_G"; }

bad_unix_maker() {
	image_cases bad-unix-maker um_good_dump UM_GOOD root um_root nobody um_nobody \
		worker um_worker zero "um_broken 0" intact um_intact
}
register_case bad-unix-maker bad_unix_maker
