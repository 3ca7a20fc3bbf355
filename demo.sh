#!/bin/bash
# cryo demo: checkpoint a running counter to disk, let it vanish, bring it back.
#   ./demo.sh        (as root; installs the build dependencies and builds cryo first)
set -u
cd "$(dirname "$0")" || exit 1
ROOT=$PWD
CRYO=$ROOT/build/cryo
WORK=/tmp/cryo-demo
LOG=$WORK/counter.log
IMG=$WORK/images
PID=

if [ -t 1 ]; then
	say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi
fail() {
	printf '\nDEMO FAILED: %s\n' "$*"
	exit 1
}
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
}
trap cleanup EXIT

# alive PID: running (a zombie does not count)
alive() {
	local st
	st=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ]
}
last_line() { tail -n 1 "$LOG" 2>/dev/null; }
count_of() { echo "$1" | awk '{ print $2 }'; }

[ "$(id -u)" = 0 ] || fail "run it as root: cryo uses ptrace and restores processes with their own PIDs"

say "Installing the build dependencies (if missing) and building cryo"
bash scripts/deps.sh || fail "could not install the build dependencies"
make -s || fail "the build failed"
mkdir -p build/bench
gcc -O2 -Wall -o build/bench/counter bench/counter.c || fail "cannot build bench/counter.c"
echo "built $CRYO"

say "Starting a counter: it appends 'counter N (pid P)' to $LOG five times a second"
rm -rf "$WORK"
mkdir -p "$IMG"
setsid -f build/bench/counter "$LOG" </dev/null >/dev/null 2>&1
for _ in $(seq 50); do
	[ -s "$LOG" ] && break
	sleep 0.1
done
[ -s "$LOG" ] || fail "the counter did not start"
PID=$(last_line | sed -n 's/.*(pid \([0-9]*\)).*/\1/p')
sleep 1.5
echo "process $PID is running; the last lines of its log:"
tail -n 3 "$LOG" | sed 's/^/    /'

say "Checkpointing it: cryo dump -t $PID -D $IMG"
t0=$(date +%s%N)
"$CRYO" dump -t "$PID" -D "$IMG" -o dump.log || fail "cryo dump failed (log: $IMG/dump.log)"
t1=$(date +%s%N)
echo "dump took $(((t1 - t0) / 1000000)) ms. The images:"
# shellcheck disable=SC2012 # for a human to read
ls -l "$IMG" | tail -n +2 | sed 's/^/    /'
echo "    ($(du -sh "$IMG" | cut -f1) in all; print any of them with: build/cryo show FILE)"
echo "from build/cryo show $IMG/stats-dump.img:"
"$CRYO" show "$IMG/stats-dump.img" | grep -E '"(frozen_ns|pages_written|pages_skipped_zero)"' |
	sed 's/^ */    /; s/,$//'
for _ in $(seq 100); do
	alive "$PID" || break
	sleep 0.05
done
alive "$PID" && fail "process $PID still runs after the dump"
# a killed process stays a zombie until its parent (PID 1 here) reaps it: wait for that too,
# since the restore needs that very PID back
for _ in $(seq 100); do
	[ -e "/proc/$PID" ] || break
	sleep 0.1
done
BEFORE=$(last_line)
echo "process $PID is gone. Its last line: '$BEFORE'"
sleep 2
[ "$(last_line)" = "$BEFORE" ] || fail "the log still grows: something else writes it"
echo "two seconds later the log has not moved: nothing is counting."

say "Restoring it: cryo restore -D $IMG -d"
t0=$(date +%s%N)
"$CRYO" restore -D "$IMG" -d -o restore.log || fail "cryo restore failed (log: $IMG/restore.log)"
t1=$(date +%s%N)
echo "restore took $(((t1 - t0) / 1000000)) ms."
sleep 1.5
alive "$PID" || fail "no process $PID after the restore"
echo "process $PID is running again; its log around the checkpoint:"
grep -B 2 -A 6 -F -x "$BEFORE" "$LOG" |
	awk -v b="$BEFORE" '{ print "    " $0 ($0 == b ? "    <- checkpointed here; the next lines come from the restored process" : "") }'

N=$(count_of "$BEFORE")
NEXT=$(grep -A 1 -F -x "$BEFORE" "$LOG" | sed -n 2p)
[ -n "$NEXT" ] || fail "nothing was logged after the restore"
[ "$(count_of "$NEXT")" = $((N + 1)) ] ||
	fail "after counter $N the restored process logged '$NEXT'"
case $(last_line) in
*"(pid $PID)") ;;
*) fail "the restored counter logs another pid: '$(last_line)'" ;;
esac

say "Stopping it"
kill -9 "$PID"
echo "The counter went on from $N to $(count_of "$(last_line)") as process $PID, as if it had never stopped."
echo "(images and logs are in $WORK)"
PID=
