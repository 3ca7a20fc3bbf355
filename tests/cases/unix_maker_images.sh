# The bad-unix-maker cases of tests/run.sh (sourced by it; uses its helpers and those of
# bad_input.sh: expect_clean_failure, wait_gone, kill_ours).
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
um_broken() {
	local val=$1 copy=$DIR/img f n=0 p
	rm -rf "$copy"
	cp -a "$UM_GOOD" "$copy"
	rm -f "$copy"/*.log
	for f in "$copy"/files-*.img; do
		"$CRYO" show "$f" | grep -q '"maker"' || continue
		python3 "$TESTS/tools/set_field.py" "$f" unix_sk.maker "$val" >/dev/null ||
			fail_step "cannot set the maker in $f" || return 1
		n=$((n + 1))
	done
	[ $n -gt 0 ] || fail_step "no image with a maker to change" || return 1
	cryo restore restore -D "$copy" -d -v4 -o restore.log --pidfile "$DIR/restored.pid"
	expect_clean_failure "restore with the makers $val" "$DIR/cryo-restore.txt" \
		"$copy/restore.log" || return 1
	grep -q "unix socket" "$DIR/cryo-restore.txt" ||
		fail_step "the refusal does not name the unix socket: $(grep -m1 Error "$DIR/cryo-restore.txt")"
	for p in $UM_PIDS; do
		if ! wait_gone "$p" 3; then
			kill_ours "$p"
			fail_step "a process with pid $p is left after the failed restore"
		fi
	done
}

um_intact() {
	PID=$UM_ROOT
	started_pids+=("$PID")
	cp -a "$UM_GOOD" "$DIR/img"
	rm -f "$DIR/img"/*.log
	restore "$DIR/img" && check "$OUT/bad-unix-maker/dump/out.txt"
}

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
