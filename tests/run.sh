#!/bin/bash
# cryo's test runner: bash tests/run.sh [NAME...]   (no names: every test, shell-job, bad-input)
#
# The protocol between this runner and a test program (tests/lib/zt.[ch], docs/testing.md):
#  1. The runner starts `tests/build/NAME --pidfile P --outfile O` with its cwd in a fresh
#     work dir tests/out/NAME/MODE/work, which the test may use for its files.
#  2. The program forks. The child (the test proper) calls setsid() unless the test opted out,
#     puts stdin on /dev/null and stdout/stderr on O (O_APPEND), and sets up its state.
#  3. When the state is complete the test writes its pid to P (atomically: tmp + rename) and
#     tells the starting process, which exits 0 (or 1, printing why, if setup failed). Only
#     after that exit does the runner touch the test, so P is always complete then.
#  4. The runner dumps (and restores) it, then sends SIGTERM: "check now".
#  5. The test checks every piece of its state and writes `PASS` or `FAIL: reason` to O
#     (through the descriptor it had all along, so that too has been restored) and exits.
#
# Modes, for each test:
#  restore        dump; the test must be gone; restore -d; the pid must be the same; check.
#  leave-running  dump -R; the original must still run; check it.
#  gen2           (tests marked gen2) dump, restore, dump the restored one, restore, check.
#  lazy           (tests marked lazy) dump; start `cryo lazy-pages`; restore --lazy-pages; check at
#                 once (pages still coming in); the daemon must then end, status 0.
#  predump        (tests marked predump) pre-dump, then the final dump with --track-mem
#                 --prev-images-dir ../1 (the tree writes between them as it runs), restore
#                 through the chain of parents, check.
#  page-server    (tests marked page-server) dump --page-server to a `cryo page-server -d`;
#                 the dump's other images copied beside the server's; restore from there.
#  nodump         ZT_NODUMP=1: no cryo at all, start and check: the test's own sanity.
# plus the bad-input cases (name `bad-input`, tests/cases/bad_input.sh): cryo must fail cleanly on
# bad arguments and broken images, and a failed dump must leave its target running and intact;
# and the `shell-job` case (tests/cases/shell_job.sh): a job on a real pseudo-terminal.
#
# A test's source may hold a line `// zt-run: FLAG...` with FLAGs among:
#  shell-job  pass --shell-job to dump and restore
#  file-locks pass --file-locks to dump and restore
#  tcp-established  pass --tcp-established to dump and restore
#  tcp-close  pass --tcp-close to dump
#  gen2       run the gen2 mode as well
#  lazy       run the lazy mode as well (memory restored lazily, by the lazy-pages daemon)
#  predump    run the predump mode as well (an incremental dump over a pre-dump)
#  page-server  run the page-server mode as well (the pages through a page server)
#  no-cryo    only in nodump mode (a helper for bad-input, e.g. holding a socket)
#  xfail      cryo does not support this state yet: a failure in a cryo mode is reported
#             as `xfail` and counted as skipped, a pass as `XPASS` (then remove the mark)
#  xfail=restore  the same, for the modes that restore only (dump -R must still pass)
#
# Environment: CRYO=path (binary; default build/cryo, built here), ZT_NODUMP=1,
# ZT_MODES="restore leave-running" (the modes to run), ZT_CHECK_TIMEOUT (seconds to wait
# for a verdict), ZT_CRYO_TIMEOUT (seconds for one cryo command), ZT_KEEP=1 (keep tests/out of
# passing tests too), ZT_OUT (the output directory instead of tests/out; runs using the same
# one take turns).
# The last line is `N passed, N failed` (`, N skipped` when some were); exit 1 if any failed.

set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TESTS=$ROOT/tests
OUT=${ZT_OUT:-$TESTS/out}
BUILD=$TESTS/build
NODUMP=${ZT_NODUMP:-0}
START_TIMEOUT=${ZT_START_TIMEOUT:-15}
CHECK_TIMEOUT=${ZT_CHECK_TIMEOUT:-20}
CRYO_TIMEOUT=${ZT_CRYO_TIMEOUT:-60}

# The test programs and the reaper first: the rest of the run happens under the reaper.
if [ -z "${ZT_UNDER_REAPER:-}" ]; then
	# -k: a test that does not build fails alone (below), the others still run.
	if ! make -s -k -C "$TESTS" >"$TESTS/make.log" 2>&1; then
		grep -E 'error|Error' "$TESTS/make.log" | head -n 20
		echo "(building some tests failed; tests/make.log has the details)"
	fi
	if [ ! -x "$BUILD/tools/reaper" ] || [ ! -x "$BUILD/tools/closefds" ]; then
		echo "building tests/tools failed"
		echo "0 passed, 1 failed"
		exit 1
	fi
	# Orphaned tests must be reaped, or their zombies keep the PIDs a restore needs. The
	# reaper notes how each ended: a test that dies without a verdict is explained by it.
	export ZT_UNDER_REAPER=1
	mkdir -p "$OUT"
	export ZT_REAPER_LOG=$OUT/reaper.log
	exec "$BUILD/tools/reaper" bash "${BASH_SOURCE[0]}" "$@"
fi

if [ "$NODUMP" = 1 ]; then
	CRYO=
	DEFAULT_MODES="nodump"
elif [ -n "${CRYO:-}" ]; then
	CRYO=$(realpath "$CRYO")
	DEFAULT_MODES="restore leave-running gen2 lazy predump page-server"
else
	CRYO=$ROOT/build/cryo
	DEFAULT_MODES="restore leave-running gen2 lazy predump page-server"
	if ! make -s -C "$ROOT" >"$TESTS/make-cryo.log" 2>&1; then
		tail -n 40 "$TESTS/make-cryo.log"
		echo "building cryo failed (make -C $ROOT); see tests/make-cryo.log"
		echo "0 passed, 1 failed"
		exit 1
	fi
fi
MODES=${ZT_MODES:-$DEFAULT_MODES}
REAPER_PID=$PPID	# tools/reaper started us

# One run at a time per output directory: a second run would delete the first one's files
# under its feet. Another ZT_OUT lets runs go side by side.
mkdir -p "$OUT"
exec {LOCK_FD}>>"$OUT/.lock"
if ! flock -n "$LOCK_FD"; then
	echo "waiting for another run that uses $OUT (set ZT_OUT to run beside it)"
	flock "$LOCK_FD"
fi
: >"$ZT_REAPER_LOG"

# A run killed during bad-input/dump-readonly-dir may have left its read-only bind mount.
awk -v out="$OUT/" 'index($2, out) == 1 { print $2 }' /proc/mounts | while read -r m; do
	umount -l "$m" 2>/dev/null
done

passed=0
failed=0
skipped=0
failed_names=()
failed_reasons=()
started_pids=()

# --- small helpers -------------------------------------------------------------------------

now() { date +%s.%N; }

# alive PID: the process exists and is not a zombie.
alive() {
	local st
	st=$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# wait_gone PID SECONDS
wait_gone() {
	local end=$(($(date +%s) + $2))
	while alive "$1"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.05
	done
	return 0
}

# Kill a process this run started, if it still is one of our test programs (PIDs get reused).
kill_ours() {
	local pid=$1 exe
	alive "$pid" || return 0
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null)
	# A half-restored process may still run cryo's own code.
	case "$exe" in
	"$BUILD"/* | "${CRYO:-/nonexistent}" | "${CRYO:-/nonexistent} (deleted)")
		kill -9 "$pid" 2>/dev/null
		wait_gone "$pid" 5
		;;
	esac
}

kill_leftovers() {
	local p
	for p in "${started_pids[@]}"; do
		kill_ours "$p"
	done
	started_pids=()
	# Children of tests too: whatever runs one of our programs below our reaper (orphans go
	# to it). Not any process running one: another run may be going on on this machine.
	for p in $(ps -e -o pid=,ppid= | awk -v root="$REAPER_PID" '
		{ parent[$1] = $2 }
		END {
			for (p in parent) {
				q = parent[p]
				while (q != root && q in parent && q > 1)
					q = parent[q]
				if (q == root)
					print p
			}
		}'); do
		case $(readlink "/proc/$p/exe" 2>/dev/null) in
		"$BUILD"/tools/*) ;;
		*) kill_ours "$p" ;;
		esac
	done
}

# verdict OUTFILE SECONDS [PID]: wait for PASS or FAIL; prints PASS, FAIL, NONE, or DIED
# when PID ended without a verdict.
verdict() {
	local end=$(($(date +%s) + $2)) pid=${3:-} gone=0
	while :; do
		if grep -q '^FAIL' "$1" 2>/dev/null; then
			echo FAIL
			return
		fi
		if grep -qx PASS "$1" 2>/dev/null; then
			echo PASS
			return
		fi
		[ "$(date +%s)" -ge "$end" ] && break
		# Gone: one more look at the file (the verdict comes before the exit), then give up.
		if [ -n "$pid" ] && ! alive "$pid"; then
			[ $gone = 1 ] && { echo DIED; return; }
			gone=1
		fi
		sleep 0.05
	done
	echo NONE
}

# How the reaper saw PID end, if it did.
death_of() {
	local line
	line=$(grep "^$1 " "${ZT_REAPER_LOG:-/dev/null}" 2>/dev/null | tail -n1)
	echo "${line:-$1 ended (no record)}"
}

test_flags() {
	sed -n 's|^// zt-run:||p' "$TESTS/progs/$1.c" | tr '\n' ' '
}

has_flag() {
	case " $(test_flags "$1") " in
	*" $2 "*) return 0 ;;
	esac
	return 1
}

# --- reporting -----------------------------------------------------------------------------

# Per test: the reason of the first failure; empty while all is well.
REASON=
DIR=
# 1 while a test marked xfail runs in a cryo mode: its failure is expected (cryo does not
# support its kind of state yet) and counted as skipped.
XFAIL=0

fail_step() {
	[ -z "$REASON" ] && REASON=$1
	return 1
}

show_file() {
	local f=$1 n=${2:-30}
	[ -s "$f" ] || return 0
	echo "    --- ${f#"$OUT"/} (last $n lines) ---"
	tail -n "$n" "$f" | sed 's/^/    | /'
}

report() {
	local name=$1 t0=$2 t
	t=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
	if [ -z "$REASON" ]; then
		passed=$((passed + 1))
		if [ "$XFAIL" = 1 ]; then
			echo "XPASS $name (${t}s): marked xfail but passed: remove the mark"
		else
			echo "ok    $name (${t}s)"
		fi
		[ "${ZT_KEEP:-0}" = 1 ] || rm -rf "$DIR"
		return
	fi
	if [ "$XFAIL" = 1 ]; then
		skipped=$((skipped + 1))
		echo "xfail $name (${t}s): $REASON"
		return
	fi
	failed=$((failed + 1))
	failed_names+=("$name")
	# Repeated at the end: a long run's log is often read from its tail only.
	failed_reasons+=("$name: ${REASON:0:300}")
	echo "FAIL  $name (${t}s): $REASON"
	show_file "$DIR/out.txt" 40
	show_file "$DIR/start.txt" 10
	local f
	show_file "$DIR/hang.txt" 20
	for f in "$DIR"/cryo-*.txt "$DIR"/img*/dump.log "$DIR"/img*/restore.log; do
		[ -e "$f" ] && show_file "$f" 30
	done
}

skip() {
	skipped=$((skipped + 1))
	echo "skip  $1: $2"
}

# run_sub_case NAME FUNC [ARG...]: FUNC (a step of a case file) reported as its own case NAME,
# in a fresh $DIR; FUNC may set SKIP (a reason) to be counted as skipped.
run_sub_case() {
	local name=$1 func=$2 t0
	shift 2
	t0=$(now)
	REASON=
	SKIP=
	SHELL_JOB=
	DIR=$OUT/$name
	rm -rf "$DIR"
	mkdir -p "$DIR"
	"$func" "$@"
	kill_leftovers
	if [ -n "$SKIP" ] && [ -z "$REASON" ]; then
		skip "$name" "$SKIP"
		return
	fi
	report "$name" "$t0"
}

# --- the steps of a mode -------------------------------------------------------------------

# start_test NAME: start the program in $DIR; sets PID.
start_test() {
	local name=$1 rc
	PID=
	mkdir -p "$DIR/work"
	# closefds: a test must hold nothing it did not open itself.
	(cd "$DIR/work" && exec "$BUILD/tools/closefds" timeout --foreground -k 2 \
		"$START_TIMEOUT" "$BUILD/$name" \
		--pidfile "$DIR/test.pid" --outfile "$DIR/out.txt") >"$DIR/start.txt" 2>&1 </dev/null
	rc=$?
	if [ -s "$DIR/test.pid" ]; then
		PID=$(cat "$DIR/test.pid")
		started_pids+=("$PID")
	fi
	[ $rc = 0 ] || fail_step "test setup failed (exit $rc): $(head -c 300 "$DIR/start.txt")" || return 1
	[ -n "$PID" ] || fail_step "no pidfile after setup" || return 1
	alive "$PID" || fail_step "test $PID is not running after setup" || return 1
}

# cryo TAG ARGS...: run cryo with a timeout; output in $DIR/cryo-TAG.txt; sets RC.
cryo() {
	local tag=$1
	shift
	"$BUILD/tools/closefds" timeout --foreground -k 5 "$CRYO_TIMEOUT" "$CRYO" "$@" \
		>"$DIR/cryo-$tag.txt" 2>&1 </dev/null
	RC=$?
	if [ $RC = 124 ] || [ $RC = 137 ]; then
		echo "(timed out after ${CRYO_TIMEOUT}s)" >>"$DIR/cryo-$tag.txt"
	fi
	# a sanitizer build (make SANITIZE=1) reports undefined behaviour without failing
	if grep -qE 'runtime error:|(Address|Leak|UndefinedBehavior)Sanitizer' "$DIR/cryo-$tag.txt"; then
		fail_step "sanitizer report from cryo $1: $(grep -m1 -E 'runtime error:|Sanitizer' "$DIR/cryo-$tag.txt")"
	fi
	return 0
}

# dump IMGDIR [-R]: dump $PID.
dump() {
	local img=$1
	shift
	mkdir -p "$img"
	cryo "dump-${img##*/}" dump -t "$PID" -D "$img" -v4 -o dump.log $SHELL_JOB "$@"
	[ $RC = 0 ] || fail_step "cryo dump exited $RC" || return 1
}

# restore IMGDIR [OPTION...]: restore (with those options too) and check that the restored root
# has the same pid.
restore() {
	local img=$1 rpid
	shift
	rm -f "$DIR/restored.pid"
	cryo "restore-${img##*/}" restore -D "$img" -d -v4 -o restore.log \
		--pidfile "$DIR/restored.pid" $SHELL_JOB "$@"
	[ $RC = 0 ] || fail_step "cryo restore exited $RC" || return 1
	rpid=$(cat "$DIR/restored.pid" 2>/dev/null)
	[ "$rpid" = "$PID" ] || fail_step "restored pid '$rpid' is not the original $PID" || return 1
	alive "$PID" || fail_step "restored process $PID is not running" || return 1
}

# check [OUTFILE]: ask for the verdict and wait for it.
check() {
	local v out=${1:-$DIR/out.txt}
	kill -TERM "$PID" 2>/dev/null || fail_step "cannot signal $PID" || return 1
	v=$(verdict "$out" "$CHECK_TIMEOUT" "$PID")
	case $v in
	PASS) ;;
	FAIL) fail_step "$(grep -m1 '^FAIL' "$out" | head -c 400)" || return 1 ;;
	DIED) fail_step "no verdict: $(death_of "$PID")" || return 1 ;;
	*)
		# what each thread is doing, for the report: a hang is otherwise a riddle
		local th
		for th in /proc/"$PID"/task/*; do
			echo "thread ${th##*/}: $(awk '{ sub(/.*\) /, ""); print $1 }' "$th/stat" 2>/dev/null)" \
				"wchan $(cat "$th/wchan" 2>/dev/null) syscall $(cat "$th/syscall" 2>/dev/null)"
			grep -E '^(SigBlk|SigPnd|ShdPnd|Seccomp):' "$th/status" 2>/dev/null | tr '\n' ' '
			echo
		done >"$DIR/hang.txt" 2>&1
		fail_step "no verdict within ${CHECK_TIMEOUT}s after SIGTERM (threads: hang.txt)" || return 1
		;;
	esac
	wait_gone "$PID" 5 || fail_step "test did not exit after its verdict" || return 1
}

# expect_refused WHAT PATTERN...: after a dump that had to be refused ($RC, cryo-dump.txt): it
# failed, its messages say each extended regex PATTERN, it left no inventory.img, and the target
# runs on and passes its check. WHAT names the state for the message of a dump that succeeded.
expect_refused() {
	local what=$1 want
	shift
	[ "$RC" != 0 ] || fail_step "the dump of $what succeeded" || return 1
	for want in "$@"; do
		grep -Eq -- "$want" "$DIR/cryo-dump.txt" ||
			fail_step "the refusal does not say '$want': $(grep -i error "$DIR/cryo-dump.txt" | head -c 600)" ||
			return 1
	done
	[ ! -e "$DIR/img/inventory.img" ] || fail_step "a refused dump left inventory.img" || return 1
	alive "$PID" || fail_step "target $PID gone after the refused dump" || return 1
	check
}

# restore_taken WHAT PORT REFUSAL BLOCKER: the images in $DIR/img restored while a process
# outside them holds PORT (BLOCKER: a python program that binds its argv[1], then creates the
# file argv[2] and sleeps): the restore must fail saying the extended regex REFUSAL and leave
# no process $PID; once the blocker is gone the same images must restore and pass. WHAT names
# the port in messages ("port 8080", "port id 1234"). Nothing is done after a failed step.
restore_taken() {
	local what=$1 port=$2 refusal=$3 prog=$4 blocker i
	[ -z "$REASON" ] || return 1
	rm -f "$DIR/blocker.up"
	/usr/bin/python3 -c "$prog" "$port" "$DIR/blocker.up" </dev/null >"$DIR/blocker.txt" 2>&1 &
	blocker=$!
	for ((i = 0; i < 100; i++)); do
		[ -e "$DIR/blocker.up" ] && break
		sleep 0.05
	done
	[ -e "$DIR/blocker.up" ] || fail_step "could not take $what: $(cat "$DIR/blocker.txt")"
	if [ -z "$REASON" ]; then
		cryo restore-taken restore -D "$DIR/img" -d -v4 -o restore-taken.log
		[ "$RC" = 0 ] && fail_step "the restore succeeded with $what taken"
		grep -Eq "$refusal" "$DIR/cryo-restore-taken.txt" ||
			fail_step "the failed restore does not name $what: $(grep -i error "$DIR/cryo-restore-taken.txt" | head -c 400)"
		wait_gone "$PID" 5 || fail_step "the failed restore left process $PID"
	fi
	kill "$blocker" 2>/dev/null && wait "$blocker" 2>/dev/null
	[ -z "$REASON" ] && restore "$DIR/img" && check
}

gone_after_dump() {
	wait_gone "$PID" 5 || fail_step "process $PID still running after dump" || return 1
}

mode_nodump() { start_test "$1" && check; }
mode_leave_running() {
	start_test "$1" && dump "$DIR/img" -R &&
		{ alive "$PID" || fail_step "original $PID gone after dump -R"; } && check
}
mode_restore() {
	start_test "$1" && dump "$DIR/img" && gone_after_dump && restore "$DIR/img" && check
}
# lazy_start IMGDIR: the lazy-pages daemon of IMGDIR, in the background (LAZY_PID), listening.
LAZY_PID=
lazy_start() {
	local img=$1 i
	rm -f "$img/lazy-pages.socket"
	"$BUILD/tools/closefds" timeout -k 5 "$CRYO_TIMEOUT" "$CRYO" lazy-pages -D "$img" -v4 \
		-o lazy.log >"$DIR/cryo-lazy-pages.txt" 2>&1 </dev/null &
	LAZY_PID=$!
	for i in $(seq 100); do
		[ -S "$img/lazy-pages.socket" ] && return 0
		kill -0 "$LAZY_PID" 2>/dev/null || break
		sleep 0.05
	done
	fail_step "cryo lazy-pages did not listen: $(head -c 300 "$DIR/cryo-lazy-pages.txt")"
}

# lazy_wait: the daemon ends by itself once every memory is complete, with status 0.
lazy_wait() {
	local rc
	wait "$LAZY_PID"
	rc=$?
	LAZY_PID=
	[ $rc = 0 ] || fail_step "cryo lazy-pages exited $rc" || return 1
}

mode_lazy() {
	start_test "$1" && dump "$DIR/img" && gone_after_dump && lazy_start "$DIR/img" &&
		restore "$DIR/img" --lazy-pages && check && lazy_wait
	if [ -n "$LAZY_PID" ]; then
		kill "$LAZY_PID" 2>/dev/null
		wait "$LAZY_PID" 2>/dev/null
		LAZY_PID=
	fi
	cp "$DIR/img/lazy.log" "$DIR/cryo-lazy-log.txt" 2>/dev/null
	[ -z "$REASON" ]
}

mode_predump() {
	start_test "$1" || return
	mkdir -p "$DIR/1"
	cryo pre-dump pre-dump -t "$PID" -D "$DIR/1" -v4 -o dump.log $SHELL_JOB
	[ $RC = 0 ] || fail_step "cryo pre-dump exited $RC" || return
	alive "$PID" || fail_step "$PID is gone after its pre-dump" || return
	dump "$DIR/2" --track-mem --prev-images-dir ../1 && gone_after_dump &&
		restore "$DIR/2" && check
}

# (page_server.sh's server_start: a page server on a free port, SRV_PORT, SRV_PID)
mode_page_server() {
	local f
	start_test "$1" && server_start ps page-server "$DIR/srv" || return
	dump "$DIR/img" --page-server --address 127.0.0.1 --port "$SRV_PORT" && gone_after_dump ||
		return
	wait_gone "$SRV_PID" 10 || fail_step "the page server still runs after the dump" || return
	for f in "$DIR/img"/*.img; do
		[ -e "$DIR/srv/${f##*/}" ] || cp -a "$f" "$DIR/srv/"
	done
	restore "$DIR/srv" && check
}

mode_gen2() {
	start_test "$1" && dump "$DIR/img" && gone_after_dump && restore "$DIR/img" &&
		dump "$DIR/img2" && gone_after_dump && restore "$DIR/img2" && check
}

run_one() {
	local name=$1 mode=$2 t0
	t0=$(now)
	REASON=
	DIR=$OUT/$name/$mode
	rm -rf "$DIR"
	mkdir -p "$DIR"
	SHELL_JOB=
	has_flag "$name" shell-job && SHELL_JOB=--shell-job
	# (the options every cryo command of the test gets)
	has_flag "$name" file-locks && SHELL_JOB="$SHELL_JOB --file-locks"
	has_flag "$name" tcp-established && SHELL_JOB="$SHELL_JOB --tcp-established"
	has_flag "$name" tcp-close && SHELL_JOB="$SHELL_JOB --tcp-close"
	XFAIL=0
	[ "$mode" != nodump ] && has_flag "$name" xfail && XFAIL=1
	# xfail=restore: only the modes that restore (restore, gen2) are expected to fail
	[ "$mode" != nodump ] && [ "$mode" != leave-running ] && has_flag "$name" xfail=restore &&
		XFAIL=1
	"mode_${mode//-/_}" "$name"
	kill_leftovers
	report "$name/$mode" "$t0"
	XFAIL=0
}

# --- bad input -----------------------------------------------------------------------------

# Cases that are not one test program each: every tests/cases/*.sh registers its own with
# `register_case NAME FUNCTION` (they all need cryo: skipped with ZT_NODUMP=1).
CASE_NAMES=()
declare -A CASE_FUNCS=()
register_case() {
	CASE_NAMES+=("$1")
	CASE_FUNCS[$1]=$2
}
for f in "$TESTS"/cases/*.sh; do
	# shellcheck disable=SC1090
	source "$f"
done

# --- main ----------------------------------------------------------------------------------

# shadowing_functions CASE: cases are sourced into this shell, so a function a case defines
# (also inside another function) would stay defined for every later case, and one named like
# a command (`stat`, once) silently replaced that command in every case after it. The
# functions of the sources are checked once, before any case (a function of theirs named like
# a command fails the run); every function a case defines is dropped once it is done, so
# none outlives its case whatever commands the packages installed later bring.
BASE_FUNCS=
shadowing_functions() {
	local fn bad=
	for fn in $(declare -F | awk '{ print $3 }'); do
		[[ "$BASE_FUNCS" == *" $fn "* ]] && continue
		if [ -z "$BASE_FUNCS" ]; then
			[ -n "$(type -P "$fn")" ] && bad+=" $fn"
		else
			unset -f "$fn"
		fi
	done
	[ -z "$bad" ] && return 0
	echo "FAIL  $1: functions named like commands:$bad"
	failed=$((failed + 1))
	failed_names+=("$1")
	failed_reasons+=("$1: functions named like commands:$bad")
	for fn in $bad; do
		unset -f "$fn"
	done
}

all_tests() {
	local f
	for f in "$TESTS"/progs/*.c; do
		basename "$f" .c
	done
}

# The whole file is read before main runs: bash reads a script as it goes, and anything that
# moved the shared offset of its descriptor would otherwise make it read garbage.
main() {
	names=("$@")
	shadowing_functions "the sources of tests/cases"
	BASE_FUNCS=" $(declare -F | awk '{ print $3 }' | tr '\n' ' ') "
	[ ${#names[@]} = 0 ] && names=($(all_tests) "${CASE_NAMES[@]}")

	for name in "${names[@]}"; do
		if [ -n "${CASE_FUNCS[$name]:-}" ]; then
			if [ "$NODUMP" = 1 ]; then
				skip "$name" "needs cryo (ZT_NODUMP=1)"
			else
				"${CASE_FUNCS[$name]}"
				shadowing_functions "$name"
			fi
			continue
		fi
		if [ ! -e "$TESTS/progs/$name.c" ]; then
			echo "FAIL  $name: no such test"
			failed=$((failed + 1))
			failed_names+=("$name")
			failed_reasons+=("$name: no such test")
			continue
		fi
		if [ ! -x "$BUILD/$name" ] || [ "$TESTS/progs/$name.c" -nt "$BUILD/$name" ]; then
			echo "FAIL  $name: did not build (tests/make.log)"
			failed=$((failed + 1))
			failed_names+=("$name")
			continue
		fi
		for mode in $MODES; do
			case $mode in
			nodump) ;;
			gen2) has_flag "$name" gen2 || continue ;&
			lazy | predump | page-server)
				has_flag "$name" "$mode" || continue
				has_flag "$name" no-cryo && continue
				;;
			*) has_flag "$name" no-cryo && continue ;;
			esac
			run_one "$name" "$mode"
		done
	done

	if [ $failed -gt 0 ]; then
		printf 'why:   %s\n' "${failed_reasons[@]}"
		echo "failed: ${failed_names[*]}"
	fi
	if [ $skipped -gt 0 ]; then
		echo "$passed passed, $failed failed, $skipped skipped"
	else
		echo "$passed passed, $failed failed"
	fi
	[ $failed = 0 ]
}

main "$@"
exit $?
