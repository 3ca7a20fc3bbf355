# shellcheck shell=bash
# mem-refuse: a mapping whose state cryo cannot restore (a protection key of the program's
# own, MAP_DROPPABLE) makes the dump fail, naming the task and the mapping's address, and the
# program runs on and passes its check (tests/progs/mem_unrestorable.c). So does an
# address-space limit that leaves no room for cryo's remote-call area, named with the limit.

mem_refuse_one() {
	local kind=$1 t0 addr
	# Protection keys need the CPU's and the kernel's support (cpuinfo flag ospke: both).
	if [ "$kind" = pkey ] && ! grep -qw ospke /proc/cpuinfo; then
		skip "mem-refuse/$kind" "no memory protection keys on this machine (no ospke in /proc/cpuinfo)"
		return
	fi
	t0=$(now)
	REASON=
	DIR=$OUT/mem-refuse/$kind
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if ZT_MEM_KIND=$kind start_test mem_unrestorable; then
		addr=$(cat "$DIR/work/addr")
		cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o dump.log
		if [ "$kind" = aslimit ]; then
			expect_refused "a task at its RLIMIT_AS" "task $PID: cannot map the remote-call area \(its address-space limit, RLIMIT_AS, is [0-9]+ KiB"
		else
			expect_refused "a $kind mapping" "task $PID: mapping 0x$addr-"
		fi
	fi
	kill_leftovers
	report "mem-refuse/$kind" "$t0"
}

mem_refuse() {
	mem_refuse_one pkey
	mem_refuse_one droppable
	mem_refuse_one aslimit
}
register_case mem-refuse mem_refuse
