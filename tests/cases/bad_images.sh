# The bad-images cases of tests/run.sh (sourced by it; uses its helpers and those of
# bad_input.sh: expect_clean_failure, wait_gone, kill_ours).
#
# One good dump of a test that has every kind of image (`files`: ghost files too), then, for
# every image file in turn, a restore from a copy in which that file is
#   missing     removed
#   dir         a directory of that name (root reads any file: permission bits cannot make
#               one unreadable for it; as another user the file is chmod 000 instead)
#   fifo        a FIFO of that name: cryo must not hang on it
#   truncated   cut short (a metadata image to half, a raw image inside its data or header)
# Each restore must fail with a non-zero exit below 128, within the time limit, with a message
# that names the file, and leave no process with the dumped pid. Last, the intact images
# restore and pass. Each file and damage is one case, bad-images/FILE-KIND/DAMAGE.

BI_VICTIM=files
BI_TIMEOUT=20

bi_damage() {
	local f=$1 how=$2 size
	case $how in
	missing) rm -f "$f" ;;
	dir)
		if [ "$(id -u)" = 0 ]; then
			rm -f "$f" && mkdir "$f"
		else
			chmod 000 "$f"
		fi
		;;
	fifo) rm -f "$f" && mkfifo "$f" ;;
	truncated)
		size=$(stat -c %s "$f")
		case ${f##*/} in
		pages-* | ghost-*)
			# inside the data when there is data, else inside the header page
			if [ "$size" -gt 4096 ]; then
				truncate -s $((size - 1)) "$f"
			else
				truncate -s 100 "$f"
			fi
			;;
		*) truncate -s $((size / 2)) "$f" ;;
		esac
		;;
	esac
}

# bi_one FILE DAMAGE: restore a copy of the good images with FILE damaged.
bi_one() {
	local name=$1 how=$2 copy=$DIR/img rc
	rm -rf "$copy"
	cp -a "$BI_GOOD" "$copy"
	rm -f "$copy"/*.log
	bi_damage "$copy/$name" "$how"
	"$BUILD/tools/closefds" timeout --foreground -k 5 "$BI_TIMEOUT" "$CRYO" restore -D "$copy" \
		-d -v4 -o "$DIR/restore.log" --pidfile "$DIR/restored.pid" \
		>"$DIR/cryo-restore.txt" 2>&1 </dev/null
	RC=$?
	[ $RC = 124 ] && fail_step "cryo hung (no answer in ${BI_TIMEOUT}s)"
	expect_clean_failure "restore with $name $how" "$DIR/cryo-restore.txt" "$DIR/restore.log"
	rc=$?
	if ! wait_gone "$BI_PID" 3; then
		kill_ours "$BI_PID"
		fail_step "a process with pid $BI_PID is left after the failed restore"
		return 1
	fi
	[ $rc = 0 ] || return 1
	grep -qF "$name" "$DIR/cryo-restore.txt" "$DIR/restore.log" 2>/dev/null ||
		fail_step "the message does not name $name: $(grep -m1 Error "$DIR/restore.log")"
}

bi_run() {
	local name=$1 t0
	shift
	t0=$(now)
	REASON=
	SKIP=
	SHELL_JOB=
	DIR=$OUT/bad-images/$name
	rm -rf "$DIR"
	mkdir -p "$DIR"
	"$@"
	kill_leftovers
	report "bad-images/$name" "$t0"
}

bi_good_dump() {
	start_test "$BI_VICTIM" && dump "$DIR/img" && gone_after_dump || return 1
	BI_PID=$PID
	BI_GOOD=$DIR/img
	rm -f "$BI_GOOD"/*.log
	compgen -G "$BI_GOOD/ghost-*.img" >/dev/null ||
		fail_step "the dump of $BI_VICTIM has no ghost image: pick another victim"
}

bi_intact() {
	PID=$BI_PID
	started_pids+=("$PID")
	rm -rf "$DIR/img"
	cp -a "$BI_GOOD" "$DIR/img"
	restore "$DIR/img" && check "$OUT/bad-images/dump/out.txt"
}

bad_images() {
	local keep=${ZT_KEEP:-0} f kind how
	BI_GOOD=
	ZT_KEEP=1 # the good images are needed by the cases below
	bi_run dump bi_good_dump
	ZT_KEEP=$keep
	if [ -z "$BI_GOOD" ]; then
		skip bad-images/all "no good dump to break"
		return
	fi
	for f in "$BI_GOOD"/*.img; do
		f=${f##*/}
		[ "$f" = stats-dump.img ] && continue # not read by restore
		kind=${f%%-*}
		kind=${kind%.img}
		[ "$kind" = ghost ] && kind=${f%.img} # there may be several
		for how in missing dir fifo truncated; do
			bi_run "$kind-$how" bi_one "$f" "$how"
		done
	done
	bi_run intact bi_intact
	[ "$keep" = 1 ] || rm -rf "$OUT/bad-images/dump"
}
register_case bad-images bad_images
