# shellcheck shell=bash
# mem-refuse: a mapping whose state cryo cannot restore (a protection key of the program's
# own, MAP_DROPPABLE) makes the dump fail, naming the task and the mapping's address, and the
# program runs on and passes its check (tests/progs/mem_unrestorable.c).

mem_refuse_one() {
	local kind=$1 t0 addr
	t0=$(now)
	REASON=
	DIR=$OUT/mem-refuse/$kind
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if ZT_MEM_KIND=$kind start_test mem_unrestorable; then
		addr=$(cat "$DIR/work/addr")
		cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o dump.log
		if [ $RC = 0 ]; then
			fail_step "the dump of a $kind mapping succeeded"
		elif ! grep -q "task $PID: mapping 0x$addr-" "$DIR/cryo-dump.txt"; then
			fail_step "the refusal does not name task $PID and mapping 0x$addr"
		elif [ -e "$DIR/img/inventory.img" ]; then
			fail_step "a refused dump left inventory.img"
		elif ! alive "$PID"; then
			fail_step "target $PID gone after the refused dump"
		else
			check
		fi
	fi
	kill_leftovers
	report "mem-refuse/$kind" "$t0"
}

mem_refuse() {
	mem_refuse_one pkey
	mem_refuse_one droppable
}
register_case mem-refuse mem_refuse
