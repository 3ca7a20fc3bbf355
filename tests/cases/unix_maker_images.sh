# The bad-unix-maker cases of tests/run.sh (sourced by it; uses its helpers and those of
# bad_input.sh: restore_broken_field, restore_intact).
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
	[ -n "$UM_M" ] || fail_step "no unix socket of the dump has a maker"
}

# um_broken VALUE: every maker in the images set to VALUE; the restore must refuse it.
# shellcheck disable=SC2086 # UM_PIDS is a list
um_broken() { restore_broken_field "$UM_GOOD" 'files-*.img' unix_sk.maker "$1" "unix socket" $UM_PIDS; }

um_intact() { restore_intact "$UM_GOOD" "$UM_ROOT" "$OUT/bad-unix-maker/dump/out.txt"; }

bad_unix_maker() {
	local keep=${ZT_KEEP:-0} c
	ZT_KEEP=1
	run_sub_case bad-unix-maker/dump um_good_dump
	ZT_KEEP=$keep
	if [ -z "$UM_GOOD" ] || [ -z "$UM_M" ]; then
		for c in root nobody worker zero; do
			skip "bad-unix-maker/$c" "no good dump to break"
		done
		return
	fi
	local g=
	for c in $UM_PIDS; do
		[ "$c" != "$UM_ROOT" ] && [ "$c" != "$UM_M" ] && g=$c
	done
	run_sub_case bad-unix-maker/root um_broken "$UM_ROOT"
	run_sub_case bad-unix-maker/nobody um_broken "$(free_pid)"
	run_sub_case bad-unix-maker/worker um_broken "$g"
	run_sub_case bad-unix-maker/zero um_broken 0
	run_sub_case bad-unix-maker/intact um_intact
	[ "$keep" = 1 ] || rm -rf "$OUT/bad-unix-maker/dump"
}
register_case bad-unix-maker bad_unix_maker
