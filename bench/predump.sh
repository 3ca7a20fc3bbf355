#!/bin/bash
# How long a pre-dump and the final dump after it keep the tree frozen:
#   bash bench/predump.sh            (as root; cryo built: make)
# Environment: PREDUMP_MB=1024 (memory of the process, every page written), PREDUMP_RUNS=5,
# PREDUMP_DIR=/dev/shm/cryo-bench-predump (the images: tmpfs), CRYO=build/cryo.
# Each run: a fresh `workload anon MB`, `cryo pre-dump` into 1, a second one into 2
# (--prev-images-dir ../1, nothing written in between), the final
# `cryo dump --track-mem --prev-images-dir ../2` into 3, the frozen time of each (the
# pre-dumps' from their logs: both of their stops, the second to its end, which a
# stats-dump.img cannot hold; the final dump's from its stats-dump.img), the restore through the chain and the
# workload's own check of every page. Prints the medians, and each run.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CRYO=${CRYO:-$ROOT/build/cryo}
MB=${PREDUMP_MB:-1024}
RUNS=${PREDUMP_RUNS:-5}
BASE=${PREDUMP_DIR:-/dev/shm/cryo-bench-predump}
BIN=$BASE/bin

die() {
	echo "predump.sh: $*" >&2
	exit 1
}
[ -x "$CRYO" ] || die "no $CRYO: run make first"
mkdir -p "$BIN" || die "cannot make $BIN"
gcc -O2 -g -Wall -Wextra -pthread -o "$BIN/workload" "$ROOT/bench/workload.c" ||
	die "cannot build bench/workload.c"

# the runner's descriptors are not the workload's business (a leaked pipe would be dumped)
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

pre=() pre2=() fin=() pre_total=()
for ((i = 1; i <= RUNS; i++)); do
	run=$BASE/run-$i
	rm -rf "$run"
	mkdir -p "$run/1" "$run/2" "$run/3"
	setsid -f "$BIN/workload" anon "$run/ready" "$run/result" "$MB" </dev/null >/dev/null 2>&1
	k=0
	while [ ! -s "$run/ready" ] && [ $((k += 1)) -lt 3000 ]; do sleep 0.01; done
	pid=$(cat "$run/ready" 2>/dev/null) || die "run $i: the workload did not start"
	t0=$(date +%s%N)
	"$CRYO" pre-dump -t "$pid" -D "$run/1" -v3 -o "$run/pre.log" ||
		die "run $i: pre-dump failed ($run/pre.log)"
	t1=$(date +%s%N)
	"$CRYO" pre-dump -t "$pid" -D "$run/2" --prev-images-dir ../1 -v3 -o "$run/pre2.log" ||
		die "run $i: second pre-dump failed ($run/pre2.log)"
	"$CRYO" dump -t "$pid" -D "$run/3" --track-mem --prev-images-dir ../2 -o "$run/dump.log" ||
		die "run $i: final dump failed ($run/dump.log)"
	"$CRYO" show "$run/3/stats-dump.img" >"$run/fin.json" || die "run $i: no stats"
	p=$(sed -n 's/.* done in .* (frozen \([0-9.]*\) ms.*/\1/p' "$run/pre.log" | tail -n 1)
	p2=$(sed -n 's/.* done in .* (frozen \([0-9.]*\) ms.*/\1/p' "$run/pre2.log" | tail -n 1)
	[ -n "$p" ] && [ -n "$p2" ] || die "run $i: no frozen time in $run/pre.log or pre2.log"
	f=$(awk -v n="$(json_field "$run/fin.json" frozen_ns)" 'BEGIN { printf "%.2f", n / 1e6 }')
	pt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) / 1e6 }')
	wait_gone "$pid" || die "run $i: $pid still there after the final dump"
	"$CRYO" restore -D "$run/3" -d -o "$run/restore.log" || die "run $i: restore failed"
	rm -f "$run/result"
	kill -USR1 "$pid"
	k=0
	while [ ! -s "$run/result" ] && [ $((k += 1)) -lt 3000 ]; do sleep 0.01; done
	verdict=$(head -c 200 "$run/result" 2>/dev/null)
	kill -9 "$pid" 2>/dev/null
	wait_gone "$pid"
	case $verdict in OK*) ;; *) die "run $i: the restored workload says: ${verdict:-nothing}" ;; esac
	printf 'run %d: pre-dump frozen %s ms (whole pre-dump %s ms), second pre-dump frozen %s ms, final dump frozen %s ms, restored: %s\n' \
		"$i" "$p" "$pt" "$p2" "$f" "${verdict%%$'\n'*}"
	pre+=("$p") pre2+=("$p2") fin+=("$f") pre_total+=("$pt")
	rm -rf "$run"
done
printf 'kernel %s, %s cores, %s MiB, images on %s\n' "$(uname -r)" "$(nproc)" "$MB" \
	"$(df -T "$BASE" | awk 'NR == 2 { print $2 }')"
printf 'medians of %d runs: pre-dump frozen %s ms (the whole pre-dump %s ms), second pre-dump frozen %s ms, final dump frozen %s ms\n' \
	"$RUNS" "$(median "${pre[@]}")" "$(median "${pre_total[@]}")" "$(median "${pre2[@]}")" "$(median "${fin[@]}")"
printf 'load average at the end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
