# shellcheck shell=bash
# mem-shared-hidden: shared anonymous memory whose object holds data that no mapping shows
# (tests/progs/mem_shared_beyond.c: written pages then unmapped, "hidden"; every page of the
# mapping moved onto the object's first with remap_file_pages, "remap"): the images hold
# memory by address and could not give that data back, so the dump (with -R and without)
# must fail naming the task, the mapping and the offsets, leave no inventory.img, and the
# program must run on and find all its data.

mem_shared_hidden_one() {
	local kind=$1 offsets=$2 leave=${3:-} t0 name=mem-shared-hidden/$1${3:+-R}
	t0=$(now)
	REASON=
	DIR=$OUT/$name
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if ZT_MEM_KIND=$kind start_test mem_shared_beyond; then
		cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o dump.log $leave
		expect_refused "memory no mapping shows" "task $PID: shared memory at 0x[0-9a-f]+-" \
			"offsets $offsets that no mapping of the tree shows"
	fi
	kill_leftovers
	report "$name" "$t0"
}

mem_shared_hidden() {
	mem_shared_hidden_one hidden 0x4000-0x8000
	mem_shared_hidden_one hidden 0x4000-0x8000 -R
	mem_shared_hidden_one remap 0x1000-0x8000
}
register_case mem-shared-hidden mem_shared_hidden
