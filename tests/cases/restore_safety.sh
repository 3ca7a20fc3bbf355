# Restore-safety cases of tests/run.sh (sourced by it; uses its helpers and counters).
#
# A restore that fails, or is killed, touches nothing it did not create and leaves nothing it
# created behind. Each case is counted as one test named restore-safety/CASE:
#
#  live-session-id   the root's session id in pstree.img is made the pid of a live session
#                    leader that is not ours: the restore must fail ("taken") and that
#                    process must still run (cryo used to SIGKILL it).
#  ids-out-of-range  pid, ppid, pgid, sid, a thread id set to 0, pid_max or 0xffffffff: the
#                    restore must refuse, naming pstree.img and the field. Run inside a pid
#                    namespace of its own beside a sleeper, which must survive: with sid
#                    0xffffffff cryo used to call kill(-1, SIGKILL), which kills everything.
#  concurrent        two restores of the same images at once, several times: one wins, the
#                    other says the PID is taken (not "Numerical result out of range") and
#                    leaves the winner's tree alone; the last winner passes its check.
#  kill-loop         cryo restore killed by SIGKILL at random instants, for a tree with
#                    session helpers (session_dead_leader, root_dead_leader) and one with
#                    threads that create children (tree_3level): within 2 s no process of
#                    the tree is left, and the next restore succeeds. ZT_KILL_LOOPS (default
#                    20) kills per tree; the last restore of each tree must pass its check.

SAFETY_LOOPS=${ZT_KILL_LOOPS:-20}

# safety_case NAME FUNCTION: FUNCTION as case restore-safety/NAME.
safety_case() { run_sub_case "restore-safety/$1" "$2"; }

# A process of ours: alive and running cryo or a test program (a restored task runs cryo's
# code until its memory is rebuilt).
safety_ours() {
	alive "$1" || return 1
	case $(readlink "/proc/$1/exe" 2>/dev/null) in
	"$BUILD"/tools/*) return 1 ;;
	"$BUILD"/* | "$CRYO" | "$CRYO (deleted)") return 0 ;;
	esac
	return 1
}

# A sanitizer build (make SANITIZE=1) reports on stderr without failing: such a report fails.
no_sanitizer_report() {
	local f
	for f in "$@"; do
		if grep -qE 'runtime error|Sanitizer' "$f" 2>/dev/null; then
			fail_step "sanitizer report in ${f##*/}: $(grep -m1 -E 'runtime error|Sanitizer' "$f")"
			return 1
		fi
	done
}

# Every id of the dumped tree (pids, tids, sessions, groups: helpers have session ids).
tree_ids() {
	"$CRYO" show "$1/pstree.img" | grep -E '"(pid|sid|pgid)"|^ *"threads"' |
		grep -oE '[0-9]+' | sort -un
}

case_live_session_id() {
	local decoy
	start_test session_leader && dump "$DIR/img" && gone_after_dump || return 1
	# a session leader that is none of ours
	setsid sleep 60 </dev/null >/dev/null 2>&1 &
	decoy=$!
	sleep 0.1
	if [ "$(ps -o sid= -p "$decoy" | tr -d ' ')" != "$decoy" ]; then
		kill "$decoy"
		fail_step "the decoy $decoy is not a session leader"
		return 1
	fi
	"$BUILD/tools/pstree_set" "$DIR/img/pstree.img" 0 4 "$decoy" ||
		{ kill "$decoy"; fail_step "cannot edit pstree.img"; return 1; }
	cryo restore restore -D "$DIR/img" -d -v4 -o restore.log
	if [ $RC = 0 ]; then
		fail_step "restore with session $decoy of a live process succeeded"
	elif ! grep -q "$decoy.*taken" "$DIR/cryo-restore.txt"; then
		fail_step "the error does not say that pid $decoy is taken: $(head -c 300 "$DIR/cryo-restore.txt")"
	fi
	sleep 0.1
	alive "$decoy" || fail_step "the failed restore killed process $decoy, which it did not create"
	kill "$decoy" 2>/dev/null
	wait "$decoy" 2>/dev/null
	[ -z "$REASON" ]
}

case_ids_out_of_range() {
	local max field value name out rc fv
	if ! unshare -pf --mount-proc true 2>/dev/null; then
		SKIP="no pid namespace to run a crafted restore in"
		return 0
	fi
	start_test session_leader && dump "$DIR/img" && gone_after_dump || return 1
	# as cryo sees it there: a new pid namespace has a pid_max of its own
	max=$(unshare -pf --mount-proc cat /proc/sys/kernel/pid_max)
	for fv in 4:4294967295:sid 1:0:pid 2:4294967295:ppid 3:$max:pgid 5:0:thread.id; do
		IFS=: read -r field value name <<<"$fv"
		rm -rf "$DIR/bad"
		cp -a "$DIR/img" "$DIR/bad"
		"$BUILD/tools/pstree_set" "$DIR/bad/pstree.img" 0 "$field" "$value" ||
			{ fail_step "cannot set field $field in pstree.img"; return 1; }
		# a sleeper beside cryo in a pid namespace: kill(-1) there would reach it only
		out=$("$BUILD/tools/closefds" timeout -k 5 30 unshare -pf --mount-proc bash -c '
			sleep 30 & s=$!
			"$1" restore -D "$2" -d -v4 -o restore.log
			rc=$?
			sleep 0.1
			kill -0 $s 2>/dev/null && echo SLEEPER-ALIVE
			kill $s 2>/dev/null
			exit $rc' sh "$CRYO" "$DIR/bad" 2>&1)
		rc=$?
		if [ $rc = 0 ]; then
			fail_step "restore with $name $value succeeded"
		elif ! grep -q "pstree.img.*$name $value is out of range" <<<"$out"; then
			fail_step "$name $value: the error does not name pstree.img and $name: $(head -c 300 <<<"$out")"
		elif ! grep -q SLEEPER-ALIVE <<<"$out"; then
			fail_step "$name $value: the failed restore killed a process it did not create"
		fi
		[ -n "$REASON" ] && return 1
	done
	return 0
}

case_concurrent() {
	local i r1 r2 won
	start_test session_dead_leader && dump "$DIR/img" && gone_after_dump || return 1
	for ((i = 1; i <= 16; i++)); do
		"$BUILD/tools/closefds" "$CRYO" restore -D "$DIR/img" -d -o r1.log \
			>"$DIR/c1.txt" 2>&1 </dev/null &
		local p1=$!
		"$BUILD/tools/closefds" "$CRYO" restore -D "$DIR/img" -d -o r2.log \
			>"$DIR/c2.txt" 2>&1 </dev/null &
		local p2=$!
		wait $p1
		r1=$?
		wait $p2
		r2=$?
		if [ $r1 = 0 ] && [ $r2 = 0 ]; then
			fail_step "round $i: both restores of the same images succeeded"
			return 1
		fi
		if [ $r1 != 0 ] && [ $r2 != 0 ]; then
			fail_step "round $i: both restores failed: $(cat "$DIR/c1.txt" "$DIR/c2.txt" | head -c 400)"
			return 1
		fi
		no_sanitizer_report "$DIR/c1.txt" "$DIR/c2.txt" || return 1
		local lost=$DIR/c1.txt
		[ $r1 = 0 ] && lost=$DIR/c2.txt
		if grep -q 'out of range' "$lost" || ! grep -q 'taken' "$lost"; then
			fail_step "round $i: the restore that lost does not say the PID is taken: $(head -c 400 "$lost")"
			return 1
		fi
		alive "$PID" || fail_step "round $i: the winner's root $PID is not running" || return 1
		if [ $i -lt 16 ]; then
			kill_leftovers
			started_pids+=("$PID")
		fi
	done
	check
}

# kill_loop PROG: the kill loop on one tree.
kill_loop() {
	local prog=$1 i t0 t1 us delay ids id left p
	DIR=$OUT/restore-safety/kill-loop/$prog
	mkdir -p "$DIR"
	start_test "$prog" && dump "$DIR/img" && gone_after_dump || return 1
	ids=$(tree_ids "$DIR/img")
	# how long one restore takes, to kill it anywhere in it
	t0=$(now)
	restore "$DIR/img" || return 1
	t1=$(now)
	us=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1200000 + 1 }')
	kill_leftovers
	for ((i = 1; i <= SAFETY_LOOPS; i++)); do
		delay=$(awk -v r=$RANDOM -v us="$us" 'BEGIN { printf "%.6f", (r % us) / 1e6 }')
		"$BUILD/tools/closefds" "$CRYO" restore -D "$DIR/img" -d -v4 -o restore.log \
			>"$DIR/killed.txt" 2>&1 </dev/null &
		p=$!
		sleep "$delay"
		kill -9 $p 2>/dev/null
		wait $p 2>/dev/null
		# nothing of the tree may be left (a restore that finished first is killed here too:
		# it is a whole restored tree, which kill_leftovers removes below)
		# (from "releasing" on, the tree is whole and being let go: it runs on)
		if grep -q 'restored in\|releasing the restored tree' "$DIR/img/restore.log" 2>/dev/null; then
			kill_leftovers
		fi
		for ((left = 0; left < 40; left++)); do
			local found=
			for id in $ids; do
				safety_ours "$id" && found="$found $id"
			done
			[ -z "$found" ] && break
			sleep 0.05
		done
		if [ -n "$found" ]; then
			fail_step "$prog: restore killed after ${delay}s left processes behind:$found ($(for id in $found; do echo -n "$id:$(cat /proc/$id/comm 2>/dev/null)/$(awk '/^State/ {print $2}' /proc/$id/status 2>/dev/null) "; done))"
			return 1
		fi
		started_pids+=("$PID")
		restore "$DIR/img" || { fail_step "$prog: restore after a kill at ${delay}s failed"; return 1; }
		no_sanitizer_report "$DIR/cryo-restore-img.txt" || return 1
		if [ $i -lt $SAFETY_LOOPS ]; then
			kill_leftovers
			started_pids+=("$PID")
		fi
	done
	check
}

case_kill_loop() {
	local prog
	for prog in session_dead_leader root_dead_leader tree_3level; do
		kill_loop "$prog" || return 1
		kill_leftovers
	done
	DIR=$OUT/restore-safety/kill-loop
}

restore_safety() {
	safety_case live-session-id case_live_session_id
	safety_case ids-out-of-range case_ids_out_of_range
	safety_case concurrent case_concurrent
	safety_case kill-loop case_kill_loop
}
register_case restore-safety restore_safety
