# Incremental dumps, the case `incremental` (sourced by tests/run.sh; uses its helpers and
# counters): pre-dumps that track writes with a userfaultfd (src/res/track.c), a final dump
# that stores only the pages written since, and a restore through the chain of parents
# (src/res/parent.c).
#
#  predump-chain1   one pre-dump, a phase of writes, the final dump: its image holds exactly
#                   the pages of the area the phase rewrote; restored, every page checked
#  predump-chain2   the same with two pre-dumps (the second with --prev-images-dir of the first),
#                   and `cryo dedup` of the final dump before the restore
#  predump-fail     a pre-dump that fails (CRYO_FAULT=fail:N) or is killed (kill:N) at sampled
#                   points: the target runs on, untracked (no userfaultfd of cryo's left),
#                   and passes its check
#  predump-refused  a pre-dump directory is not restorable by itself; --prev-images-dir must
#                   be ../NAME, and a parent link is never followed out of place
#  predump-seq3     three pre-dumps in a row, each over the one before, then the final dump,
#                   of a program that writes all the time in a known order (mem_sequence):
#                   restored, every page at the version the order gives; each chained
#                   pre-dump goes on with its parent's tracking
#  predump-older    the final dump over an older level of the chain (../1 after ../2 was
#                   made): the tracking is not that level's (its token is gone), the memory
#                   is saved whole, restored exactly
#  predump-seq-fail a chained pre-dump that fails or is killed at sampled points, then the
#                   final dump over the level before it: nothing the failed one protected
#                   again may look clean there
#  predump-nobody   a pre-dump and final dump of a daemon that gave up root (uid and gid
#                   65534): its tracking lent by a process of its own user; every page checked
#  predump-no-ptrace the same of a root daemon without CAP_SYS_PTRACE (its lender has no
#                   capability, not even after the exec of root)
#  predump-nocaps   the same of a root daemon without any capability (as knotd): its lender
#                   root without capabilities, and dumpable
#  predump-lost     a parent pagemap's predump_lost runs (pages its pre-dump could not read
#                   after the thaw, res/predump.c): the next pre-dump reads exactly those
#                   pages again though nothing wrote them; a run that is not a valid range
#                   makes it refuse the parent, the target running on

PREDUMP_PROG=predump

# The pages of the area (area.txt of the program) an image set's pagemap stores and says are
# in the parent: "STORED PARENT".
predump_count() {
	local img=$1
	"$CRYO" show "$img/pagemap-$PID.img" >"$DIR/pagemap.json" 2>"$DIR/show.txt" || {
		echo "show-failed"
		return
	}
	python3 - "$DIR/pagemap.json" "$DIR/work/area.txt" <<'EOF'
import json, sys
pm = json.load(open(sys.argv[1]))["entry"]
a, n = map(int, open(sys.argv[2]).read().split())
e = a + n * 4096
stored = parent = 0
for r in pm.get("runs", []):
    s, t = max(r["vaddr"], a), min(r["vaddr"] + r["nr_pages"] * 4096, e)
    if t > s:
        if r.get("in_parent"):
            parent += (t - s) // 4096
        else:
            stored += (t - s) // 4096
print(stored, parent)
EOF
}

# userfaultfds the process holds
predump_uffds() {
	local n=0 f
	for f in /proc/"$1"/fd/*; do
		[ "$(readlink "$f" 2>/dev/null)" = "anon_inode:[userfaultfd]" ] && n=$((n + 1))
	done
	echo $n
}

# Ask the program for its next phase; wait until it says it is done. Sets CHANGED.
predump_phase() {
	local want=$1 end=$(($(date +%s) + 10)) line
	kill -USR1 "$PID"
	while :; do
		line=$(cat "$DIR/work/phase.txt" 2>/dev/null)
		[ "${line%% *}" = "$want" ] && break
		[ "$(date +%s)" -ge "$end" ] && { fail_step "phase $want did not come"; return 1; }
		sleep 0.02
	done
	CHANGED=${line#* }
}

predump_after() {
	local what=$1
	alive "$PID" || fail_step "the target died after $what" || return 1
	[ "$(awk '/^TracerPid:/ { print $2 }' "/proc/$PID/status")" = 0 ] ||
		fail_step "the target is traced after $what" || return 1
}

# predump_chain N: N pre-dumps with a phase of writes after each, then the final dump.
predump_chain() {
	local n=$1 k counts prev total
	start_test "$PREDUMP_PROG" || return
	total=$(awk '{ print $2 }' "$DIR/work/area.txt")
	for ((k = 1; k <= n; k++)); do
		prev=
		[ "$k" -gt 1 ] && prev="--prev-images-dir ../$((k - 1))"
		mkdir -p "$DIR/$k"
		# shellcheck disable=SC2086
		cryo "pre-dump-$k" pre-dump -t "$PID" -D "$DIR/$k" -v4 -o dump.log $prev
		[ $RC = 0 ] || fail_step "pre-dump $k exited $RC" || return
		predump_after "pre-dump $k" || return
		[ "$(predump_uffds "$PID")" = 1 ] ||
			fail_step "the target holds $(predump_uffds "$PID") userfaultfds after pre-dump $k" || return
		counts=$(predump_count "$DIR/$k")
		if [ "$k" = 1 ]; then
			[ "$counts" = "$total 0" ] ||
				fail_step "pre-dump 1 stores '$counts' pages of the area, expected '$total 0'" || return
		else
			[ "$counts" = "$CHANGED $((total - CHANGED))" ] ||
				fail_step "pre-dump $k stores '$counts' of the area, expected '$CHANGED $((total - CHANGED))'" || return
		fi
		predump_phase "$k" || return
		# the child forked in phase 1 holds a copy of its parent's tracking
		if [ "$k" = 1 ] && [ "$(predump_uffds "$(pgrep -P "$PID")")" != 1 ]; then
			fail_step "the child does not hold its copy of the tracking"
			return
		fi
	done
	dump "$DIR/$((n + 1))" --track-mem --prev-images-dir "../$n" || return
	gone_after_dump || return
	counts=$(predump_count "$DIR/$((n + 1))")
	[ "$counts" = "$CHANGED $((total - CHANGED))" ] ||
		fail_step "the final dump stores '$counts' of the area, expected '$CHANGED $((total - CHANGED))'" || return
	[ "$(readlink "$DIR/$((n + 1))/parent")" = "../$n" ] ||
		fail_step "the final dump's parent link is '$(readlink "$DIR/$((n + 1))/parent")'" || return
	if [ "$n" -gt 1 ]; then
		# dedup: the first pre-dump's copies of pages rewritten since are not needed
		local before after
		before=$(stat -c %b "$DIR/1/pages-$PID.img")
		cryo dedup dedup -D "$DIR/$((n + 1))" -v4 -o dedup.log
		[ $RC = 0 ] || fail_step "cryo dedup exited $RC" || return
		after=$(stat -c %b "$DIR/1/pages-$PID.img")
		[ "$after" -lt "$before" ] ||
			fail_step "dedup punched nothing out of the first pre-dump ($before -> $after blocks)" || return
	fi
	restore "$DIR/$((n + 1))" || return
	local p
	for p in $PID $(pgrep -P "$PID"); do
		[ "$(predump_uffds "$p")" = 0 ] ||
			fail_step "restored process $p holds a userfaultfd" || return
	done
	[ -n "$(pgrep -P "$PID")" ] || fail_step "the restored tree has no child" || return
	check
}

predump_fail() {
	local total mode n points
	# how many fault points a pre-dump passes
	start_test "$PREDUMP_PROG" || return
	mkdir -p "$DIR/count"
	CRYO_FAULT=count cryo count pre-dump -t "$PID" -D "$DIR/count"
	total=$(sed -n 's/^cryo: fault points passed: \([0-9]*\).*/\1/p' "$DIR/cryo-count.txt")
	kill -TERM "$PID"
	kill_leftovers
	[ -n "$total" ] && [ "$total" -gt 0 ] || fail_step "no fault points counted" || return
	points=$(crash_sample "$total")
	for mode in fail kill; do
		for n in $points; do
			start_test "$PREDUMP_PROG" || return
			rm -rf "$DIR/img"
			mkdir -p "$DIR/img"
			CRYO_FAULT=$mode:$n cryo "$mode" pre-dump -t "$PID" -D "$DIR/img" -v4 -o dump.log
			# a killed cryo's tracees are let go by the kernel, one by one
			local end=$(($(date +%s) + 5))
			while [ "$(awk '/^TracerPid:/ { print $2 }' "/proc/$PID/status")" != 0 ] &&
				[ "$(date +%s)" -lt "$end" ]; do sleep 0.05; done
			predump_after "pre-dump $mode:$n" || return
			if [ $RC != 0 ] && [ "$(predump_uffds "$PID")" != 0 ]; then
				# only a kill after the task took its tracking, the image set complete
				[ "$mode" = kill ] && [ -e "$DIR/img/inventory.img" ] ||
					fail_step "pre-dump $mode:$n (exit $RC) left the target tracked" || return
			fi
			# (a complete image set whose task never took its tracking is harmless: the
			# next dump finds none and saves the memory whole)
			[ $RC = 124 ] && fail_step "pre-dump $mode:$n timed out" && return
			check || return
			kill_leftovers
		done
	done
}

predump_refused() {
	start_test "$PREDUMP_PROG" || return
	mkdir -p "$DIR/1" "$DIR/2" "$DIR/3" "$DIR/elsewhere"
	cryo pre pre-dump -t "$PID" -D "$DIR/1" -v4 -o dump.log
	[ $RC = 0 ] || fail_step "pre-dump exited $RC" || return
	cryo not-here pre-dump -t "$PID" -D "$DIR/2" --prev-images-dir "$DIR/1"
	[ $RC != 0 ] && grep -q "must be ../NAME" "$DIR/cryo-not-here.txt" ||
		fail_step "an absolute --prev-images-dir was accepted" || return
	ln -s "$DIR/1" "$DIR/link"
	cryo link pre-dump -t "$PID" -D "$DIR/2" --prev-images-dir ../link
	[ $RC != 0 ] || fail_step "--prev-images-dir through a symlink was followed" || return
	predump_after "refused pre-dumps" || return
	[ "$(predump_uffds "$PID")" = 1 ] ||
		fail_step "a refused pre-dump changed the tracking ($(predump_uffds "$PID") userfaultfds)" || return
	# a pre-dump is memory only
	cryo restore-pre restore -D "$DIR/1" -d
	[ $RC != 0 ] && grep -q "is a pre-dump" "$DIR/cryo-restore-pre.txt" ||
		fail_step "a pre-dump directory was restored: $(tail -n1 "$DIR/cryo-restore-pre.txt")" || return
	# the final dump; its parent link then pointed elsewhere: refused at restore
	dump "$DIR/3" --prev-images-dir ../1 || return
	gone_after_dump || return
	cp -a "$DIR/1/." "$DIR/elsewhere/"
	rm "$DIR/3/parent"
	ln -s "$DIR/elsewhere" "$DIR/3/parent"
	cryo restore-abs restore -D "$DIR/3" -d
	[ $RC != 0 ] && grep -q "only ../NAME is followed" "$DIR/cryo-restore-abs.txt" ||
		fail_step "an absolute parent link was followed: $(tail -n1 "$DIR/cryo-restore-abs.txt")" || return
	alive "$PID" && fail_step "a refused restore left the process" && return
	rm "$DIR/3/parent"
	ln -s ../1 "$DIR/3/parent"
	restore "$DIR/3" && check
}

# predump_lost_add DIR VADDR NR: a predump_lost run (pagemap field 30) appended to the
# target's pagemap in DIR, the image header's length made to match
predump_lost_add() {
	python3 - "$1/pagemap-$PID.img" "$2" "$3" <<'EOF'
import struct, sys
path, vaddr, nr = sys.argv[1], int(sys.argv[2], 0), int(sys.argv[3])
def varint(v):
    out = b""
    while True:
        b, v = v & 0x7F, v >> 7
        if not v:
            return out + bytes([b])
        out += bytes([b | 0x80])
run = b"\x08" + varint(vaddr) + b"\x10" + varint(nr)
field = varint((30 << 3) | 2) + varint(len(run)) + run
data = open(path, "rb").read()
magic, version, length = struct.unpack("<III", data[:12])
assert len(data) == 12 + length
open(path, "wb").write(struct.pack("<III", magic, version, length + len(field)) + data[12:] + field)
EOF
}

predump_lost() {
	local a total counts
	start_test "$PREDUMP_PROG" || return
	read -r a total <"$DIR/work/area.txt"
	mkdir -p "$DIR/1" "$DIR/2" "$DIR/3"
	cryo pre-1 pre-dump -t "$PID" -D "$DIR/1" -v4 -o dump.log
	[ $RC = 0 ] || fail_step "pre-dump 1 exited $RC" || return
	# pages 2..5 of the area, as if the pre-dump had found them unreadable
	predump_lost_add "$DIR/1" $((a + 2 * 4096)) 4 || fail_step "cannot edit the pagemap" || return
	cryo pre-2 pre-dump -t "$PID" -D "$DIR/2" --prev-images-dir ../1 -v4 -o dump.log
	[ $RC = 0 ] || fail_step "pre-dump 2 exited $RC" || return
	counts=$(predump_count "$DIR/2")
	[ "$counts" = "4 $((total - 4))" ] ||
		fail_step "pre-dump 2 stores '$counts' pages of the area, expected '4 $((total - 4))'" || return
	# not page aligned: refused, the target untouched
	predump_lost_add "$DIR/2" $((a + 100)) 1 || fail_step "cannot edit the pagemap" || return
	cryo pre-3 pre-dump -t "$PID" -D "$DIR/3" --prev-images-dir ../2 -v4 -o dump.log
	[ $RC != 0 ] && grep -q "predump_lost run 0 .* is not a valid range" "$DIR/cryo-pre-3.txt" ||
		fail_step "a misaligned predump_lost run was accepted (exit $RC)" || return
	predump_after "the refused pre-dump" || return
	check
}

SEQ_PROG=mem_sequence

# predump_seq N: N pre-dumps in a row, each over the one before, while the program writes.
predump_seq() {
	local n=$1 k prev
	start_test "$SEQ_PROG" || return
	for ((k = 1; k <= n; k++)); do
		prev=
		[ "$k" -gt 1 ] && prev="--prev-images-dir ../$((k - 1))"
		mkdir -p "$DIR/$k"
		# shellcheck disable=SC2086
		cryo "pre-dump-$k" pre-dump -t "$PID" -D "$DIR/$k" -v4 -o dump.log $prev
		[ $RC = 0 ] || fail_step "pre-dump $k exited $RC" || return
		predump_after "pre-dump $k" || return
		[ "$(predump_uffds "$PID")" = 1 ] ||
			fail_step "the target holds $(predump_uffds "$PID") userfaultfds after pre-dump $k" || return
		if [ "$k" -gt 1 ] && ! grep -q "memory tracking at fd .* goes on" "$DIR/$k/dump.log"; then
			fail_step "pre-dump $k did not go on with the tracking of pre-dump $((k - 1))"
			return
		fi
		sleep 0.05
	done
	dump "$DIR/$((n + 1))" --track-mem --prev-images-dir "../$n" && gone_after_dump &&
		restore "$DIR/$((n + 1))" && check
}

predump_older() {
	start_test "$SEQ_PROG" || return
	mkdir -p "$DIR/1" "$DIR/2" "$DIR/3"
	cryo pre-1 pre-dump -t "$PID" -D "$DIR/1" -v4 -o dump.log
	[ $RC = 0 ] || fail_step "pre-dump 1 exited $RC" || return
	sleep 0.05
	cryo pre-2 pre-dump -t "$PID" -D "$DIR/2" --prev-images-dir ../1 -v4 -o dump.log
	[ $RC = 0 ] || fail_step "pre-dump 2 exited $RC" || return
	sleep 0.05
	# pre-dump 2 protected again what was written since 1: over 1, those would look clean
	dump "$DIR/3" --track-mem --prev-images-dir ../1 && gone_after_dump && restore "$DIR/3" &&
		check || return
	grep -q "memory tracking is not that of ../1" "$DIR/3/dump.log" ||
		fail_step "the final dump over ../1 took the tracking of ../2 as its parent's"
}

predump_seq_fail() {
	local total mode n points
	start_test "$SEQ_PROG" || return
	mkdir -p "$DIR/1" "$DIR/count"
	cryo pre-1 pre-dump -t "$PID" -D "$DIR/1"
	[ $RC = 0 ] || fail_step "pre-dump 1 exited $RC" || return
	CRYO_FAULT=count cryo count pre-dump -t "$PID" -D "$DIR/count" --prev-images-dir ../1
	total=$(sed -n 's/^cryo: fault points passed: \([0-9]*\).*/\1/p' "$DIR/cryo-count.txt")
	kill -TERM "$PID"
	kill_leftovers
	[ -n "$total" ] && [ "$total" -gt 0 ] || fail_step "no fault points counted" || return
	points=$(crash_sample "$total")
	for mode in fail kill; do
		for n in $points; do
			rm -f "$DIR/out.txt" # (each run's own verdict)
			start_test "$SEQ_PROG" || return
			rm -rf "$DIR/1" "$DIR/2" "$DIR/3"
			mkdir -p "$DIR/1" "$DIR/2" "$DIR/3"
			cryo pre-1 pre-dump -t "$PID" -D "$DIR/1"
			[ $RC = 0 ] || fail_step "pre-dump 1 exited $RC" || return
			sleep 0.03
			CRYO_FAULT=$mode:$n cryo "$mode" pre-dump -t "$PID" -D "$DIR/2" \
				--prev-images-dir ../1 -v4 -o dump.log
			local end=$(($(date +%s) + 5))
			while [ "$(awk '/^TracerPid:/ { print $2 }' "/proc/$PID/status")" != 0 ] &&
				[ "$(date +%s)" -lt "$end" ]; do sleep 0.05; done
			[ $RC = 124 ] && fail_step "pre-dump $mode:$n timed out" && return
			predump_after "pre-dump $mode:$n" || return
			sleep 0.03
			dump "$DIR/3" --track-mem --prev-images-dir ../1 || return
			gone_after_dump && restore "$DIR/3" && check || {
				fail_step "after pre-dump $mode:$n (exit $RC)"
				return
			}
			kill_leftovers
		done
	done
}

# predump-nobody: a daemon that gave up root (predump_nobody) is pre-dumped (its tracking
# lent by a process of its own user: res/track_lend.c), rewrites half of its area, and the
# final dump saves exactly that half; restored, every page and its uid are checked.
predump_nobody() {
	local i counts total how=${1:-nobody}
	case $how in
	no-ptrace) PREDUMP_ROOT_NO_PTRACE=1 start_test predump_nobody || return ;;
	no-caps) PREDUMP_ROOT_NO_CAPS=1 start_test predump_nobody || return ;;
	*) start_test predump_nobody || return ;;
	esac
	# given up: uid 65534, CAP_SYS_PTRACE (bit 19) out of its permitted set, or all of them
	predump_given_up() {
		if [ "$how" = no-caps ]; then
			grep -qE '^CapPrm:[[:space:]]*0+$' "/proc/$PID/status" 2>/dev/null
		elif [ "$how" = no-ptrace ]; then
			local prm
			prm=$(awk '/^CapPrm:/ { print $2 }' "/proc/$PID/status" 2>/dev/null)
			[ -n "$prm" ] && (( ((0x$prm >> 19) & 1) == 0 ))
		else
			grep -q '^Uid:[[:space:]]*65534' "/proc/$PID/status" 2>/dev/null
		fi
	}
	for ((i = 0; i < 100; i++)); do
		predump_given_up && break
		sleep 0.02
	done
	predump_given_up || fail_step "the target did not give up root ($how)" || return
	total=$(awk '{ print $2 }' "$DIR/work/area.txt")
	mkdir -p "$DIR/1"
	cryo pre-dump pre-dump -t "$PID" -D "$DIR/1" -v4 -o dump.log
	[ $RC = 0 ] || fail_step "the pre-dump exited $RC" || return
	predump_after "the pre-dump" || return
	[ "$(predump_uffds "$PID")" = 1 ] ||
		fail_step "the target holds $(predump_uffds "$PID") userfaultfds after the pre-dump" ||
		return
	pgrep -f "__track-lend" >/dev/null && { fail_step "a lender is left"; return; }
	kill -USR1 "$PID"
	sleep 0.3
	dump "$DIR/2" --track-mem --prev-images-dir ../1 || return
	gone_after_dump || return
	counts=$(predump_count "$DIR/2")
	[ "$counts" = "$((total / 2)) $((total / 2))" ] ||
		fail_step "the final dump stores '$counts' pages of the area, expected half in each" ||
		return
	restore "$DIR/2" || return
	check
}

predump_case() {
	run_sub_case predump-chain1 predump_chain 1
	run_sub_case predump-chain2 predump_chain 2
	run_sub_case predump-fail predump_fail
	run_sub_case predump-refused predump_refused
	run_sub_case predump-lost predump_lost
	run_sub_case predump-seq3 predump_seq 3
	run_sub_case predump-older predump_older
	run_sub_case predump-seq-fail predump_seq_fail
	run_sub_case predump-nobody predump_nobody
	run_sub_case predump-no-ptrace predump_nobody no-ptrace
	run_sub_case predump-nocaps predump_nobody no-caps
}
register_case incremental predump_case
