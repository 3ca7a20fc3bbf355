#!/bin/bash
# How long chained pre-dumps and the final dump keep the tree frozen when a share of the
# memory is written between them:
#   bash bench/predump_chain.sh      (as root; cryo built: make)
# Environment: CHAIN_MB=1024 (memory of the process, every page written first),
# CHAIN_PERMILLE=10 (pages in a thousand rewritten before each chained pre-dump),
# CHAIN_FINAL_PERMILLE=10 (... before the final dump; 0: nothing written since the last
# pre-dump), CHAIN_RUNS=5, CHAIN_DIR=/dev/shm/cryo-bench-chain (tmpfs), CRYO=build/cryo.
# Each run: a fresh bench/dirty.c process; `cryo pre-dump` into 1; a round of writes;
# `pre-dump --prev-images-dir ../1` into 2; a round; the same into 3 (../2); a round (or none);
# the final `dump --track-mem --prev-images-dir ../3` into 4; the restore through the chain
# and the process's check of every page against the rounds it was asked for (a number kept
# outside it). The chained pre-dumps' frozen time is both of their stops, from their logs;
# the final dump's from its stats-dump.img.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CRYO=${CRYO:-$ROOT/build/cryo}
MB=${CHAIN_MB:-1024}
PM=${CHAIN_PERMILLE:-10}
FPM=${CHAIN_FINAL_PERMILLE:-10}
RUNS=${CHAIN_RUNS:-5}
BASE=${CHAIN_DIR:-/dev/shm/cryo-bench-chain}
BIN=$BASE/bin

die() {
	echo "predump_chain.sh: $*" >&2
	exit 1
}
[ -x "$CRYO" ] || die "no $CRYO: run make first"
mkdir -p "$BIN" || die "cannot make $BIN"
gcc -O2 -Wall -Wextra -o "$BIN/dirty" "$ROOT/bench/dirty.c" || die "cannot build bench/dirty.c"
for fd in /proc/$$/fd/*; do
	fd=${fd##*/}
	[ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
done
json_field() {
	sed -n "s/^ *\"$2\": \([0-9]*\),\{0,1\}$/\1/p" "$1" | head -n 1
}
median() {
	printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -g |
		awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
wait_gone() {
	local i
	for ((i = 0; i < 500; i++)); do
		[ -e "/proc/$1" ] || return 0
		[ "$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)" = Z ] && return 0
		sleep 0.01
	done
	return 1
}
# dirty PID RUN: one round of writes, waited for
rounds=0
dirty() {
	local k=0
	kill -USR2 "$1"
	rounds=$((rounds + 1))
	while [ "$(cat "$2/ready.rounds" 2>/dev/null)" != "$rounds" ] && [ $((k += 1)) -lt 3000 ]; do
		sleep 0.01
	done
}
frozen_of() {
	sed -n 's/.* done in .* (frozen \([0-9.]*\) ms.*/\1/p' "$1" | tail -n 1
}

p2=() p3=() fin=() first=()
for ((i = 1; i <= RUNS; i++)); do
	run=$BASE/run-$i
	rm -rf "$run"
	mkdir -p "$run/1" "$run/2" "$run/3" "$run/4"
	rounds=0
	setsid -f "$BIN/dirty" "$run/ready" "$run/result" "$MB" "$PM" </dev/null >/dev/null 2>&1
	k=0
	while [ ! -s "$run/ready" ] && [ $((k += 1)) -lt 6000 ]; do sleep 0.01; done
	pid=$(cat "$run/ready" 2>/dev/null) || die "run $i: the process did not start"
	"$CRYO" pre-dump -t "$pid" -D "$run/1" -v3 -o "$run/pre1.log" || die "run $i: pre-dump 1 failed"
	dirty "$pid" "$run"
	"$CRYO" pre-dump -t "$pid" -D "$run/2" --prev-images-dir ../1 -v3 -o "$run/pre2.log" ||
		die "run $i: pre-dump 2 failed ($run/pre2.log)"
	dirty "$pid" "$run"
	"$CRYO" pre-dump -t "$pid" -D "$run/3" --prev-images-dir ../2 -v3 -o "$run/pre3.log" ||
		die "run $i: pre-dump 3 failed ($run/pre3.log)"
	[ "$FPM" -gt 0 ] && dirty "$pid" "$run"
	"$CRYO" dump -t "$pid" -D "$run/4" --track-mem --prev-images-dir ../3 -o "$run/dump.log" ||
		die "run $i: final dump failed ($run/dump.log)"
	"$CRYO" show "$run/4/stats-dump.img" >"$run/fin.json" || die "run $i: no stats"
	a=$(frozen_of "$run/pre1.log") b=$(frozen_of "$run/pre2.log") c=$(frozen_of "$run/pre3.log")
	f=$(awk -v n="$(json_field "$run/fin.json" frozen_ns)" 'BEGIN { printf "%.2f", n / 1e6 }')
	wait_gone "$pid" || die "run $i: $pid still there after the final dump"
	"$CRYO" restore -D "$run/4" -d -o "$run/restore.log" || die "run $i: restore failed"
	echo "$rounds" >"$run/result.rounds"
	rm -f "$run/result"
	kill -USR1 "$pid"
	k=0
	while [ ! -s "$run/result" ] && [ $((k += 1)) -lt 6000 ]; do sleep 0.01; done
	verdict=$(head -c 200 "$run/result" 2>/dev/null)
	kill -9 "$pid" 2>/dev/null
	wait_gone "$pid"
	case $verdict in OK*) ;; *) die "run $i: the restored process says: ${verdict:-nothing}" ;; esac
	printf 'run %d: pre-dump 1 frozen %s ms; chained pre-dumps frozen %s, %s ms; final dump frozen %s ms; restored: %s\n' \
		"$i" "$a" "$b" "$c" "$f" "${verdict%%$'\n'*}"
	first+=("$a") p2+=("$b") p3+=("$c") fin+=("$f")
	rm -rf "$run"
done
printf 'kernel %s, %s cores, %s MiB, %s/1000 pages written before each chained pre-dump, %s/1000 before the final dump, images on %s\n' \
	"$(uname -r)" "$(nproc)" "$MB" "$PM" "$FPM" "$(df -T "$BASE" | awk 'NR == 2 { print $2 }')"
printf 'medians of %d runs: pre-dump 1 frozen %s ms, pre-dump 2 %s ms, pre-dump 3 %s ms, final dump %s ms\n' \
	"$RUNS" "$(median "${first[@]}")" "$(median "${p2[@]}")" "$(median "${p3[@]}")" "$(median "${fin[@]}")"
printf 'load average at the end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
