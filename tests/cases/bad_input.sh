# Bad-input cases of tests/run.sh (sourced by it; uses its helpers and counters).
#
# cryo must refuse bad arguments and broken images with a non-zero exit, a message, no
# crash (exit < 128), no process left behind; and a dump that fails must leave its target
# running and intact. Each case is counted as one test named bad-input/CASE.

VICTIM=session_leader	# any quick test will do; this one has a little of everything
SOCK_VICTIM=sock_hold	# holds a vsock socket, which cryo cannot dump (yet), and a unix pair

# expect_clean_failure WHAT: the last cryo command ($RC, $DIR/cryo-$TAG.txt) failed cleanly.
expect_clean_failure() {
	local what=$1 out=$2 log=${3:-}
	if [ $RC = 0 ]; then
		fail_step "$what: cryo succeeded" || return 1
	fi
	if [ $RC = 124 ] || [ $RC = 137 ]; then
		fail_step "$what: cryo hung (timed out)" || return 1
	fi
	if [ $RC -ge 128 ]; then
		fail_step "$what: cryo crashed (exit $RC, signal $((RC - 128)))" || return 1
	fi
	if [ ! -s "$out" ] && { [ -z "$log" ] || [ ! -s "$log" ]; }; then
		fail_step "$what: cryo failed (exit $RC) without a message" || return 1
	fi
	return 0
}

# restore_broken_field GOOD GLOB MESSAGE.FIELD VALUE WORD PIDS...: a copy of the good dump GOOD
# (into $DIR/img) in which every MESSAGE.FIELD of the images named GLOB is VALUE must fail to
# restore cleanly, with a message containing WORD, and leave none of PIDS behind.
restore_broken_field() {
	local good=$1 glob=$2 field=$3 val=$4 word=$5 copy=$DIR/img f n=0 p
	shift 5
	rm -rf "$copy"
	cp -a "$good" "$copy"
	rm -f "$copy"/*.log
	for f in "$copy"/$glob; do
		python3 "$TESTS/tools/set_field.py" "$f" "$field" "$val" >/dev/null 2>&1 &&
			n=$((n + 1))
	done
	[ $n -gt 0 ] || fail_step "no image with a $field to change" || return 1
	cryo restore restore -D "$copy" -d -v4 -o restore.log --pidfile "$DIR/restored.pid"
	expect_clean_failure "restore with $field $val" "$DIR/cryo-restore.txt" \
		"$copy/restore.log" || return 1
	grep -q "$word" "$DIR/cryo-restore.txt" ||
		fail_step "the refusal does not name the $word: $(grep -m1 Error "$DIR/cryo-restore.txt")"
	for p in "$@"; do
		if ! wait_gone "$p" 3; then
			kill_ours "$p"
			fail_step "a process with pid $p is left after the failed restore"
		fi
	done
}

# image_cases NAME DUMP GOODVAR SUB "FUNC ARG..."...: the good dump by DUMP (sub-case
# NAME/dump, kept while the others run; it sets the variable GOODVAR), then each SUB as the
# sub-case NAME/SUB running FUNC with its ARGs, or each skipped when there is no good dump.
image_cases() {
	local name=$1 dumpf=$2 goodvar=$3 keep=${ZT_KEEP:-0}
	shift 3
	ZT_KEEP=1
	run_sub_case "$name/dump" "$dumpf"
	ZT_KEEP=$keep
	while [ $# -ge 2 ]; do
		if [ -z "${!goodvar}" ]; then
			skip "$name/$1" "no good dump to break"
		else
			# shellcheck disable=SC2086 # FUNC and its ARGs
			run_sub_case "$name/$1" $2
		fi
		shift 2
	done
	[ "$keep" = 1 ] || rm -rf "$OUT/$name/dump"
}

# restore_intact GOOD ROOT OUTFILE: the good dump, copied, restores and its test passes.
restore_intact() {
	PID=$2
	started_pids+=("$PID")
	cp -a "$1" "$DIR/img"
	rm -f "$DIR/img"/*.log
	restore "$DIR/img" && check "$3"
}

# A pid that no process has: counting down from pid_max, where the kernel rarely is.
free_pid() {
	local p max
	max=$(cat /proc/sys/kernel/pid_max)
	for ((p = max - 1; p > 300; p--)); do
		[ -e "/proc/$p" ] || { echo $p; return; }
	done
}

case_dump_no_pid() {
	local pid
	pid=$(free_pid)
	mkdir -p "$DIR/img"
	cryo dump dump -t "$pid" -D "$DIR/img" -v4 -o dump.log
	expect_clean_failure "dump of missing pid $pid" "$DIR/cryo-dump.txt" "$DIR/img/dump.log" ||
		return 1
	cat "$DIR/cryo-dump.txt" "$DIR/img/dump.log" 2>/dev/null | grep -qw "$pid" ||
		fail_step "the message does not name pid $pid"
}

# dump_into_bad_dir PATH: the dump must fail and the target must carry on intact.
dump_into_bad_dir() {
	start_test "$VICTIM" || return 1
	cryo dump dump -t "$PID" -D "$1" -v4 -o dump.log
	expect_clean_failure "dump into $1" "$DIR/cryo-dump.txt" || return 1
	alive "$PID" || fail_step "target $PID gone after the failed dump" || return 1
	check
}

case_dump_missing_dir() {
	dump_into_bad_dir "$DIR/no/such/dir"
}

case_dump_dir_is_file() {
	echo "not a directory" >"$DIR/afile"
	dump_into_bad_dir "$DIR/afile/img"
}

case_dump_readonly_dir() {
	mkdir -p "$DIR/ro"
	# Root ignores permission bits; a read-only mount stops even root.
	if ! mount --bind "$DIR/ro" "$DIR/ro" 2>/dev/null; then
		SKIP="cannot bind-mount here"
		return 0
	fi
	if ! mount -o remount,bind,ro "$DIR/ro" 2>/dev/null; then
		umount "$DIR/ro"
		SKIP="cannot remount read-only here"
		return 0
	fi
	dump_into_bad_dir "$DIR/ro"
	umount "$DIR/ro" 2>/dev/null || umount -l "$DIR/ro"
}

case_restore_empty_dir() {
	mkdir -p "$DIR/empty"
	cryo restore restore -D "$DIR/empty" -d -v4 -o "$DIR/restore.log" \
		--pidfile "$DIR/restored.pid"
	expect_clean_failure "restore from an empty dir" "$DIR/cryo-restore.txt" \
		"$DIR/restore.log"
}

# Restore with -R images of a still running process: its pid is taken, so restore must fail
# without disturbing the original.
case_restore_pid_taken() {
	start_test "$VICTIM" && dump "$DIR/img" -R || return 1
	alive "$PID" || fail_step "original $PID gone after dump -R" || return 1
	cryo restore restore -D "$DIR/img" -d -v4 -o restore.log --pidfile "$DIR/restored.pid"
	expect_clean_failure "restore while pid $PID runs" "$DIR/cryo-restore.txt" \
		"$DIR/img/restore.log" || return 1
	alive "$PID" || fail_step "original $PID gone after the failed restore" || return 1
	check
}

# A dump that fails half way (the target holds a vsock socket) must leave the target
# running, its unix socket pair with every byte.
case_failed_dump_leaves_running() {
	start_test "$SOCK_VICTIM" || return 1
	mkdir -p "$DIR/img"
	cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o dump.log
	if [ $RC = 0 ]; then
		SKIP="cryo dumped a process holding a socket: this case needs a new unsupported kind"
		return 0
	fi
	expect_clean_failure "dump of a socket holder" "$DIR/cryo-dump.txt" "$DIR/img/dump.log" ||
		return 1
	alive "$PID" || fail_step "target $PID gone after the failed dump" || return 1
	check
}

# A thread in sigsuspend flooded with timer signals (tests/progs/signal_storm.c): ptrace cannot
# read its own mask, so cryo cannot block the flood before its first call, and the signals
# leave no gap. The dump may get through in a gap; when it does not, it must end (bounded,
# with a message naming the task and the storm), and the target runs on and passes its check.
case_storm_in_sigsuspend() {
	ZT_STORM_WAIT=sigsuspend start_test signal_storm || return 1
	mkdir -p "$DIR/img"
	cryo dump dump -t "$PID" -D "$DIR/img" -R -v4 -o dump.log
	if [ $RC != 0 ]; then
		expect_clean_failure "dump in a signal storm" "$DIR/cryo-dump.txt" \
			"$DIR/img/dump.log" || return 1
		grep -q "signals in a row" "$DIR/img/dump.log" ||
			fail_step "the failed dump does not say why: $(tail -n1 "$DIR/img/dump.log")" ||
			return 1
	fi
	alive "$PID" || fail_step "target $PID gone after the dump" || return 1
	check
}

# --- broken images: one good dump, then a copy of it per kind of damage ----------------------

IMG_PID=
IMG_GOOD=

# image FILE-GLOB: set F to the image matching, or fail (not in a subshell: REASON is set).
image() {
	F=$(ls -d "$IMG_COPY"/$1 2>/dev/null | head -n1)
	[ -n "$F" ] || fail_step "no image $1 in the dump ($(ls "$IMG_COPY" | tr '\n' ' '))"
}

# Overwrite FILE from byte OFFSET on with random bytes, keeping its size.
scramble() {
	local f=$1 off=$2 size
	size=$(stat -c %s "$f")
	[ "$size" -gt "$off" ] || return 0
	head -c $((size - off)) /dev/urandom |
		dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}

# broken_restore DAMAGE: copy the good images, apply DAMAGE (a function), restore must fail.
broken_restore() {
	IMG_COPY=$DIR/img
	rm -rf "$IMG_COPY"
	cp -a "$IMG_GOOD" "$IMG_COPY"
	rm -f "$IMG_COPY"/*.log
	"$1" || return 1
	cryo restore restore -D "$IMG_COPY" -d -v4 -o restore.log --pidfile "$DIR/restored.pid"
	expect_clean_failure "restore of broken images" "$DIR/cryo-restore.txt" \
		"$IMG_COPY/restore.log"
	local ok=$?
	if ! wait_gone "$IMG_PID" 3; then
		kill_ours "$IMG_PID"
		fail_step "a process with pid $IMG_PID is left after the failed restore"
		return 1
	fi
	return $ok
}

damage_core_truncated() {
	image 'core-*.img' || return 1
	local f=$F
	local size
	# (a failed stat must fail this step, not the arithmetic that ends the runner)
	size=$(stat -c %s "$f") && [ -n "$size" ] || { fail_step "cannot stat $f"; return 1; }
	truncate -s $((size / 2)) "$f"
}

damage_mm_random() {
	image 'mm-*.img' || return 1
	local f=$F
	scramble "$f" 12	# keep the 12-byte header: let the payload parser meet the garbage
}

damage_mm_all_random() {
	image 'mm-*.img' || return 1
	local f=$F
	scramble "$f" 0
}

damage_pagemap_random() {
	image 'pagemap-*.img' || return 1
	local f=$F
	scramble "$f" 12
}

damage_pages_truncated() {
	image 'pages-*.img' || return 1
	local f=$F
	local size
	# (a failed stat must fail this step, not the arithmetic that ends the runner)
	size=$(stat -c %s "$f") && [ -n "$size" ] || { fail_step "cannot stat $f"; return 1; }
	truncate -s $((size / 3)) "$f"
}

damage_core_wrong_magic() {
	image 'core-*.img' || return 1
	local f=$F
	printf '\xef\xbe\xad\xde' | dd of="$f" bs=1 conv=notrunc status=none
}

damage_inventory_wrong_magic() {
	image 'inventory.img' || return 1
	local f=$F
	printf 'XXXX' | dd of="$f" bs=1 conv=notrunc status=none
}

damage_pstree_missing() {
	image 'pstree.img' || return 1
	local f=$F
	rm -f "$f"
}

damage_files_truncated() {
	image 'files-*.img' || return 1
	local f=$F
	truncate -s 13 "$f"
}

BROKEN_CASES="core_truncated core_wrong_magic mm_random mm_all_random pagemap_random
	pages_truncated inventory_wrong_magic pstree_missing files_truncated"

# Run FUNC as case bad-input/NAME (run_sub_case in run.sh).
run_case() { run_sub_case "bad-input/$1" "$2"; }

images_good_dump() {
	start_test "$VICTIM" && dump "$DIR/img" && gone_after_dump || return 1
	IMG_PID=$PID
	IMG_GOOD=$DIR/img
}

# Last: the untouched images still restore and pass, so the failures above were caused by
# the damage and not by some general trouble.
images_intact() {
	PID=$IMG_PID
	started_pids+=("$PID")
	IMG_COPY=$DIR/img
	cp -a "$IMG_GOOD" "$IMG_COPY"
	rm -f "$IMG_COPY"/*.log
	# The restored test writes to the outfile it was started with.
	restore "$IMG_COPY" && check "$OUT/bad-input/images-dump/out.txt"
}

bad_input() {
	run_case dump-no-pid case_dump_no_pid
	run_case dump-missing-dir case_dump_missing_dir
	run_case dump-dir-is-file case_dump_dir_is_file
	run_case dump-readonly-dir case_dump_readonly_dir
	run_case restore-empty-dir case_restore_empty_dir
	run_case restore-pid-taken case_restore_pid_taken
	run_case failed-dump-leaves-running case_failed_dump_leaves_running
	run_case storm-in-sigsuspend case_storm_in_sigsuspend

	local keep=${ZT_KEEP:-0} c
	ZT_KEEP=1	# the good images are needed by the cases below
	run_case images-dump images_good_dump
	ZT_KEEP=$keep
	if [ -z "$IMG_GOOD" ]; then
		for c in $BROKEN_CASES; do
			skip "bad-input/restore-${c//_/-}" "no good dump to break"
		done
		return
	fi
	for c in $BROKEN_CASES; do
		eval "case_broken_$c() { broken_restore damage_$c; }"
		run_case "restore-${c//_/-}" "case_broken_$c"
	done
	run_case images-intact images_intact
	[ "$keep" = 1 ] || rm -rf "$OUT/bad-input/images-dump"
}
register_case bad-input bad_input
