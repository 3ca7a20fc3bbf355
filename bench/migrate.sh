#!/bin/bash
# Downtime of `cryo migrate` over loopback of a process writing all the time:
#   bash bench/migrate.sh       (as root; cryo built: make)
# Environment: MIG_MB=1024 (the process's memory, every page written first), MIG_RATE=10
# (MiB/s it goes on writing, page after page), MIG_RUNS=3, MIG_LAZY=1 (migrate --lazy-pages;
# 0: a plain restore on the target), MIG_DIR=/dev/shm/cryo-bench-migrate, CRYO=build/cryo.
# Each run: a fresh bench/dirty.c process (seq:RATE), a `cryo migrate-target -d` on a free
# port, `cryo migrate`; the downtime and rounds it prints; then the restored process's check
# of every page against the order of its writes.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CRYO=${CRYO:-$ROOT/build/cryo}
MB=${MIG_MB:-1024}
RATE=${MIG_RATE:-10}
RUNS=${MIG_RUNS:-3}
LAZY=${MIG_LAZY:-1}
BASE=${MIG_DIR:-/dev/shm/cryo-bench-migrate}
BIN=$BASE/bin
# the process and the restored one are orphans: a PID 1 that is slow to reap them (as some
# VMs' is: seconds) keeps the migrated PID taken, and the restore on this same machine waits
# for it. Under tests/tools/reaper (a child subreaper) they are reaped at once.
if [ -z "${MIG_UNDER_REAPER:-}" ] && [ -x "$ROOT/tests/build/tools/reaper" ]; then
	export MIG_UNDER_REAPER=1
	exec "$ROOT/tests/build/tools/reaper" bash "${BASH_SOURCE[0]}" "$@"
fi
die() {
	echo "migrate.sh: $*" >&2
	exit 1
}
[ -x "$CRYO" ] || die "no $CRYO: run make first"
mkdir -p "$BIN" || die "cannot make $BIN"
gcc -O2 -Wall -Wextra -o "$BIN/dirty" "$ROOT/bench/dirty.c" || die "cannot build bench/dirty.c"
for fd in /proc/$$/fd/*; do
	fd=${fd##*/}
	[ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
done
opt=
[ "$LAZY" = 1 ] && opt=--lazy-pages
downs=()
for ((i = 1; i <= RUNS; i++)); do
	run=$BASE/run-$i
	rm -rf "$run"
	mkdir -p "$run/tgt" "$run/work"
	setsid -f "$BIN/dirty" "$run/ready" "$run/result" "$MB" "seq:$RATE" </dev/null >/dev/null 2>&1
	k=0
	while [ ! -s "$run/ready" ] && [ $((k += 1)) -lt 6000 ]; do sleep 0.01; done
	pid=$(cat "$run/ready" 2>/dev/null) || die "run $i: the process did not start"
	sleep 0.5
	for try in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 20000))
		"$CRYO" migrate-target -D "$run/tgt" --address 127.0.0.1 --port "$port" -d \
			--pidfile "$run/mt.pid" -v4 -o "$run/mt.log" && break
	done
	"$CRYO" migrate -t "$pid" --to "127.0.0.1:$port" -D "$run/work" $opt -v4 \
		-o "$run/migrate.log" >"$run/migrate.txt" 2>&1 || die "run $i: migrate failed ($run/migrate.txt)"
	k=0
	while [ -e "/proc/$(cat "$run/mt.pid")" ] && [ $((k += 1)) -lt 3000 ]; do sleep 0.01; done
	d=$(sed -n 's/.*downtime \([0-9.]*\) ms.*/\1/p' "$run/migrate.txt" | tail -n 1)
	kill -USR1 "$pid"
	k=0
	while [ ! -s "$run/result" ] && [ $((k += 1)) -lt 6000 ]; do sleep 0.01; done
	verdict=$(head -c 200 "$run/result" 2>/dev/null)
	kill -9 "$pid" 2>/dev/null
	case $verdict in OK*) ;; *) die "run $i: the migrated process says: ${verdict:-nothing}" ;; esac
	printf 'run %d: downtime %s ms; %s; restored: %s\n' "$i" "$d" \
		"$(grep '^migrate:' "$run/migrate.txt" | tr '\n' ';' | cut -c1-300)" "${verdict%%$'\n'*}"
	downs+=("$d")
	[ "${MIG_KEEP:-0}" = 1 ] || rm -rf "$run"
done
printf 'kernel %s, %s cores, %s MiB writing %s MiB/s, %s, medians of %d runs: downtime %s ms\n' \
	"$(uname -r)" "$(nproc)" "$MB" "$RATE" "${opt:-plain restore}" "$RUNS" \
	"$(printf '%s\n' "${downs[@]}" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')"
printf 'load average at the end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
