# shellcheck shell=bash
# System V IPC beyond the modes of tests/progs/sysv_shm.c and sysv_sem_msg.c, whose restores
# take again the objects the killed tree left on the host (a segment not removed, every set
# and queue):
# - sysv-recreate: those objects removed after the dump (ipcrm), so the restore makes each
#   again with its id and key (the programs check ids, keys, content, owners);
# - sysv-taken: the id of an object of the dump held by another object (another key, or a
#   segment where a removed one was): the restore fails naming it, leaves no process and
#   removes what it made (the semaphore set, removed after the dump, made before the queue
#   is refused); once the intruder is gone the same images restore and pass;
# - sysv-refused: a semaphore taken with SEM_UNDO, a segment attached by a process outside
#   the tree, an attach with a page unmapped: the dump fails naming the task or the segment, leaves no inventory.img, and
#   the program runs on and passes;
# - sysv-fail-restore (below): every failure point of a restore that makes the objects.

# ids of the objects of ipc.img: "shm ID", "sem ID", "msg ID" lines
sysv_ids() {
	"$CRYO" show "$1/ipc.img" | python3 -c '
import json, sys
e = json.load(sys.stdin)["entry"]
for k, kind in (("shms", "shm"), ("sems", "sem"), ("msgs", "msg")):
    for o in e.get(k, []):
        print(kind, o["perm"]["id"], "removed" if o.get("removed") else "")'
}

# the ipcrm option for an id of KIND
sysv_opt() {
	case $1 in
	shm) echo -m ;;
	sem) echo -s ;;
	msg) echo -q ;;
	esac
}

sysv_rm_all() {
	local kind id rest
	while read -r kind id rest; do
		[ "$rest" = removed ] && continue # gone with the tree
		ipcrm "$(sysv_opt "$kind")" "$id"
	done < <(sysv_ids "$1")
}

sysv_recreate_one() {
	local prog=$1
	if start_test "$prog" && dump "$DIR/img" && gone_after_dump; then
		sysv_rm_all "$DIR/img"
		if ipcs | grep -q "0x6b$(printf %06x $((PID & 0xffffff)))\|0x5a$(printf %06x $((PID & 0xffffff)))"; then
			fail_step "an object of the dump is still there after ipcrm"
		elif [ "$prog" = sysv_shm ] && ! grep -q "is not attached by it: left as it is" "$DIR/img/dump.log"; then
			fail_step "the dump does not name the segment it leaves on the host"
		elif restore "$DIR/img"; then
			grep -q "still exists: taken again" "$DIR/img/restore.log" &&
				fail_step "the restore took an object instead of making it"
			check
		fi
	fi
}

sysv_recreate() {
	run_sub_case sysv-recreate/shm sysv_recreate_one sysv_shm
	run_sub_case sysv-recreate/sem-msg sysv_recreate_one sysv_sem_msg
}
register_case sysv-recreate sysv_recreate

# sysv_occupy KIND ID: an object of KIND (shm, msg) with id ID and a key of ipcmk's choice;
# non-zero if it did not get that id
sysv_occupy() {
	local kind=$1 id=$2 got
	echo "$id" >"/proc/sys/kernel/${kind}_next_id" || return 1
	if [ "$kind" = shm ]; then
		got=$(ipcmk -M 4096 -p 0600 2>/dev/null | grep -o '[0-9]*$')
	else
		got=$(ipcmk -Q -p 0600 2>/dev/null | grep -o '[0-9]*$')
	fi
	[ "$got" = "$id" ]
}

sysv_taken_one() {
	local prog=$1 kind=$2 id
	if start_test "$prog" && dump "$DIR/img" && gone_after_dump; then
		if [ "$kind" = shm ]; then
			id=$(sysv_ids "$DIR/img" | awk '$1 == "shm" && $3 == "removed" { print $2 }')
		else
			id=$(sysv_ids "$DIR/img" | awk '$1 == "msg" { print $2 }')
			ipcrm -q "$id"
			# the set is made by the restore, before the queue refuses it: it must go
			ipcrm -s "$(sysv_ids "$DIR/img" | awk '$1 == "sem" { print $2 }')"
		fi
		if [ -z "$id" ] || ! sysv_occupy "$kind" "$id"; then
			fail_step "cannot make an object with id '$id'"
			return
		fi
		local before
		before=$(ipcs | grep -c '^0x')
		cryo restore-taken restore -D "$DIR/img" -d -v4 -o restore.log
		if [ $RC = 0 ]; then
			fail_step "the restore succeeded with $kind id $id taken by another object"
		elif ! grep -q "$id.*cannot be restored\|$id.*not the dumped one" "$DIR/cryo-restore-taken.txt"; then
			fail_step "the refusal does not name $kind $id: $(tail -c 300 "$DIR/cryo-restore-taken.txt")"
		elif alive "$PID"; then
			fail_step "process $PID is running after a failed restore"
		elif [ "$(ipcs | grep -c '^0x')" != "$before" ]; then
			fail_step "the failed restore left objects behind: $(ipcs)"
		fi
		ipcrm "$(sysv_opt "$kind")" "$id"
		[ -z "$REASON" ] && restore "$DIR/img" && check
	fi
}

sysv_taken() {
	run_sub_case sysv-taken/shm sysv_taken_one sysv_shm shm
	run_sub_case sysv-taken/msg sysv_taken_one sysv_sem_msg msg
}
register_case sysv-taken sysv_taken

sysv_refused_one() {
	local prog=$1 var=$2 pattern=$3 mode
	for mode in -R ""; do
		REASON=
		rm -rf "$DIR/img"
		mkdir -p "$DIR/img"
		if start_test_env "$var" "$prog"; then
			cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o dump.log $mode
			expect_refused "$prog with $var ($mode)" "$pattern"
		fi
		kill_leftovers
		[ -n "$REASON" ] && return
	done
}

# start_test_env VAR PROG: start_test with VAR=1 in the program's environment
start_test_env() {
	local var=$1
	shift
	export "$var=1"
	start_test "$@"
	local rc=$?
	unset "$var"
	return $rc
}

sysv_refused() {
	run_sub_case sysv-refused/undo sysv_refused_one sysv_sem_msg ZT_SYSV_UNDO \
		"has a System V semaphore undo list"
	run_sub_case sysv-refused/outside sysv_refused_one sysv_shm ZT_SYSV_OUTSIDE \
		"shared with processes outside it"
	run_sub_case sysv-refused/partial sysv_refused_one sysv_shm ZT_SYSV_PARTIAL \
		"is attached in part"
}
register_case sysv-refused sysv_refused

# A semaphore set used, since a threaded process of the tree started, by a process outside the
# tree only (a database on the same host): the tree's undo lists cannot hold adjustments for
# it, and the dump must not refuse because of it.
sysv_unrelated_case() {
	local id
	if start_test threads_basic; then
		id=$(ipcmk -S 1 -p 0600 2>/dev/null | grep -o '[0-9]*$')
		if [ -z "$id" ]; then
			fail_step "ipcmk -S failed"
		elif ! python3 -c '
import ctypes, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
buf = struct.pack("HhH", 0, 1, 0x1000)  # sem_num 0, +1, SEM_UNDO
if libc.semop(int(sys.argv[1]), buf, 1) != 0:
    sys.exit("semop: %d" % ctypes.get_errno())
' "$id"; then
			fail_step "the outside semop failed"
		else
			dump "$DIR/img" -R
			grep -q "semaphore undo list" "$DIR"/cryo-dump-img.txt 2>/dev/null &&
				fail_step "the dump refused the tree for a set only an outside process used"
			[ -z "$REASON" ] && check
		fi
		[ -n "$id" ] && ipcrm -s "$id" 2>/dev/null
	fi
}
sysv_unrelated() { run_sub_case sysv-unrelated sysv_unrelated_case; }
register_case sysv-unrelated sysv_unrelated

# sysv-fail-restore: a restore of each program's images where the N-th operation that can
# fail fails (CRYO_FAULT=fail:N, every N), after a first restore whose program removed its
# objects at the end: each restore makes them, and a failed one leaves no process and none
# of the objects of ipc.img; then a plain restore passes.
sysv_gone() { # IMGDIR: no object of its ipc.img exists
	local kind id rest
	while read -r kind id rest; do
		if ipcs "$(sysv_opt "$kind")" | awk -v id="$id" '$2 == id { f = 1 } END { exit !f }'; then
			echo "$kind $id"
			return 1
		fi
	done < <(sysv_ids "$1")
}

sysv_fail_walk() {
	local prog=$1 pids failable n left
	start_test_env ZT_SYSV_KEEP_D "$prog" || return
	pids=$(tree_pids "$PID")
	dump "$DIR/img" && gone_after_dump || return
	CRYO_FAULT=count cryo count restore -D "$DIR/img" -d -v4 -o count.log
	failable=$(sed -n 's/^cryo: fault points passed: .*(\([0-9]*\) of them can fail)/\1/p' \
		"$DIR/cryo-count.txt")
	[ "$RC" = 0 ] || fail_step "the plain restore failed" || return
	check || return
	kill_leftovers
	nothing_left $pids || return
	left=$(sysv_gone "$DIR/img") || fail_step "$left still exists after the program removed it" || return
	for n in $(seq 1 "${failable:-0}"); do
		{ CRYO_FAULT=fail:$n cryo fail restore -D "$DIR/img" -d -v4 -o "restore-$n.log"; } 2>/dev/null
		if [ $RC = 0 ]; then
			check
			kill_leftovers
			break
		fi
		[ $RC -ge 128 ] && fail_step "fail:$n: cryo crashed ($RC)"
		[ -z "$REASON" ] && nothing_left $pids
		[ -z "$REASON" ] && { left=$(sysv_gone "$DIR/img") || fail_step "fail:$n: left $left"; }
		kill_leftovers
		[ -n "$REASON" ] && { REASON="point $n of $failable: $REASON"; return; }
	done
	restore "$DIR/img" && check
	# sysv_shm's segment D, left on the host by the dumps
	[ -s "$DIR/work/d_id" ] && ipcrm -m "$(cat "$DIR/work/d_id")"
}

sysv_fail_restore() {
	run_sub_case sysv-fail-restore/shm sysv_fail_walk sysv_shm
	run_sub_case sysv-fail-restore/sem-msg sysv_fail_walk sysv_sem_msg
}
register_case sysv-fail-restore sysv_fail_restore
