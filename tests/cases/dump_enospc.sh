# The dump-enospc cases of tests/run.sh (sourced by it; uses its helpers and counters).
#
# A dump whose images directory fills up must fail cleanly, whichever image it is writing
# when the space runs out: cryo exits non-zero naming the file and "No space left on device",
# the target (dumped without -R) is still running and passes its check, and no inventory.img
# is left (a stale one from before, too, is gone), so the directory is not taken for a
# checkpoint. Every image, stats and inventory included, is written before the tree is
# killed: nothing can fail after that.
#
# For each point, a fresh target is first dumped with -R into a large tmpfs to learn the size
# (in pages) of each image; then a tmpfs just too small for the chosen image gets the real dump.
# Images are written in this order: ghosts, pages, then core, mm, pagemap and files of the
# task, pstree, stats, inventory.

# enospc_mount DIR KIB
enospc_mount() {
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2k,mode=0700" tmpfs "$1" 2>/dev/null
}

enospc_umount() {
	umount "$1" 2>/dev/null || umount -l "$1"
}

# enospc_order PID: the image files of a one-process dump, in the order cryo writes them.
enospc_order() {
	local pid=$1 dir=$2
	ls "$dir" | grep '^ghost-' | sort -t- -k2 -n
	echo "pages-$pid.img core-$pid.img mm-$pid.img pagemap-$pid.img files-$pid.img" \
		"ipc.img pstree.img stats-dump.img inventory.img" | tr ' ' '\n'
}

# enospc_point PROG IMAGE-PATTERN WHERE: run out of space while PROG's IMAGE is written, at its
# first page (WHERE=start, or the first data page of a raw image: WHERE=data), half way
# (WHERE=mid) or at its last (WHERE=end). IMAGE may say PID for the target's pid.
enospc_point() {
	local prog=$1 want=$2 where=$3 big=$DIR/big small=$DIR/small f before=0 size=0 limit
	local file
	start_test "$prog" || return 1
	file=${want//PID/$PID}
	if ! enospc_mount "$big" 65536; then
		SKIP="cannot mount a tmpfs here"
		return 0
	fi
	cryo learn dump -t "$PID" -D "$big" -R -v4 -o "$DIR/learn.log"
	if [ $RC != 0 ]; then
		enospc_umount "$big"
		fail_step "the dump -R to learn the image sizes failed (exit $RC)" || return 1
	fi
	for f in $(enospc_order "$PID" "$big"); do
		[ -e "$big/$f" ] || {
			enospc_umount "$big"
			fail_step "the learning dump made no $f" || return 1
		}
		size=$(($(stat -c %b "$big/$f") * 512 / 4096))
		[ "$f" = "$file" ] && break
		before=$((before + size))
	done
	enospc_umount "$big"
	[ "$f" = "$file" ] || fail_step "the dump makes no image $file" || return 1
	case $where in
	start) limit=$before ;;
	data) limit=$((before + 1)) ;;
	mid) limit=$((before + size / 2)) ;;
	end) limit=$((before + size - 1)) ;;
	esac
	# a tmpfs of size 0 would have no limit at all
	[ "$limit" -gt 0 ] || fail_step "no room to test $file at its $where" || return 1
	enospc_mount "$small" $((limit * 4)) || fail_step "cannot mount a ${limit}-page tmpfs" ||
		return 1
	: >"$small/inventory.img" # an old checkpoint's, which must go (an empty file takes no page)
	cryo dump dump -t "$PID" -D "$small" -v4 -o "$DIR/dump.log"
	ls -l "$small" >"$DIR/small.ls" 2>&1
	local inv=0
	[ -e "$small/inventory.img" ] && inv=1
	enospc_umount "$small"
	if [ $RC = 0 ]; then
		fail_step "the dump into $limit pages succeeded (learned $before pages before $file)"
		return 1
	fi
	[ $RC -lt 128 ] || fail_step "cryo crashed (exit $RC)" || return 1
	alive "$PID" || fail_step "target $PID gone after the failed dump" || return 1
	[ $inv = 0 ] || fail_step "inventory.img left after the failed dump" || return 1
	grep -F "$file" "$DIR/cryo-dump.txt" | grep -q "No space left on device" ||
		fail_step "no message naming $file and 'No space left on device': $(grep -m2 Error "$DIR/cryo-dump.txt" | tr '\n' ' ')" ||
		return 1
	check
}

# enospc_case NAME ARGS: enospc_point ARGS as case dump-enospc/NAME.
enospc_case() {
	local name=$1
	shift
	run_sub_case "dump-enospc/$name" enospc_point "$@"
}

dump_enospc_cases() {
	local img
	enospc_case pages-data counter pages-PID.img data
	enospc_case pages-end counter pages-PID.img end
	# megabytes of pages: the writer thread runs out of space while later batches are read
	enospc_case pages-mid mem_heap_brk pages-PID.img mid
	for img in core mm pagemap files; do
		enospc_case "$img" counter "$img-PID.img" start
	done
	enospc_case ipc counter ipc.img start
	enospc_case pstree counter pstree.img start
	enospc_case stats counter stats-dump.img start
	enospc_case inventory counter inventory.img start
	# the files test holds deleted files: their content goes into ghost images first
	enospc_case ghost-0-data files ghost-0.img data
	enospc_case ghost-1-start files ghost-1.img start
	enospc_case ghost-1-end files ghost-1.img end
}
register_case dump-enospc dump_enospc_cases
