#!/bin/bash
# Lazy restore against a plain one: workload 2 of bench/run.sh (anonymous memory, every page
# written, BENCH_MEM_MB MiB, 1 GiB by default), images on tmpfs. For each run:
#   plain  `cryo restore -d` until it exits (the process runs, its memory all in);
#   lazy   `cryo lazy-pages` started first, then `cryo restore --lazy-pages -d` until it exits
#          (the process runs), and until the daemon exits (every page in);
# then the restored process checks its whole memory (SIGUSR1: OK or BAD).
#
#   bash bench/lazy.sh            (or: make bench-lazy)
#   BENCH_RUNS=5 BENCH_MEM_MB=1024
#
# The VM's free page reporting is left as it is (the figures say which): first touch of fresh
# memory dominates a full restore either way (docs/performance.md).
set -u
export LC_ALL=C
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
CRYO=$ROOT/build/cryo
BIN=$ROOT/build/bench
RUNS=${BENCH_RUNS:-5}
MEM_MB=${BENCH_MEM_MB:-1024}

log() { echo "bench-lazy: $*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "cryo needs root"
[ -x "$CRYO" ] || make -s >&2 || die "cannot build cryo"
mkdir -p "$BIN"
for prog in workload measure reaper; do
	if [ ! -x "$BIN/$prog" ] || [ "bench/$prog.c" -nt "$BIN/$prog" ]; then
		gcc -O2 -g -Wall -Wextra -pthread -o "$BIN/$prog" "bench/$prog.c" || die "cannot build bench/$prog.c"
	fi
done
if [ -z "${CRYO_BENCH_UNDER_REAPER:-}" ]; then
	export CRYO_BENCH_UNDER_REAPER=1
	exec "$BIN/reaper" bash "$ROOT/bench/lazy.sh" "$@"
fi

BASE=$(mktemp -d /dev/shm/cryo-bench-lazy-XXXXXX) || die "no room in /dev/shm"
trap 'rm -rf "$BASE"' EXIT
REPORTING=/sys/module/page_reporting/parameters/page_reporting_order
REP="unknown"
[ -r "$REPORTING" ] && REP="page_reporting_order $(cat "$REPORTING")"

ms_now() { echo $(($(date +%s%N) / 1000000)); }

wait_file() {
	local i
	for ((i = 0; i < $2 * 100; i++)); do
		[ -s "$1" ] && return 0
		sleep 0.01
	done
	return 1
}

median() {
	printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -g |
		awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# one KIND I: sets R_RUN (ms to running), R_ALL (ms to every page in), R_OK
one() {
	local kind=$1 i=$2 dir=$BASE/$1-$2 pid k t0 t1 lpid
	mkdir -p "$dir/img"
	R_RUN=- R_ALL=- R_OK=BAD
	setsid -f "$BIN/workload" anon "$dir/ready" "$dir/result" "$MEM_MB" </dev/null >/dev/null 2>&1
	wait_file "$dir/ready" 300 || { log "the workload did not start"; return; }
	pid=$(cat "$dir/ready")
	"$CRYO" dump -t "$pid" -D "$dir/img" -o dump.log >/dev/null 2>&1 || { log "dump failed"; kill -9 "$pid"; return; }
	for ((k = 0; k < 200; k++)); do [ -e "/proc/$pid" ] || break; sleep 0.01; done
	if [ "$kind" = lazy ]; then
		"$CRYO" lazy-pages -D "$dir/img" -o lazy.log </dev/null >/dev/null 2>&1 &
		lpid=$!
		for ((k = 0; k < 500; k++)); do [ -S "$dir/img/lazy-pages.socket" ] && break; sleep 0.01; done
	fi
	t0=$(ms_now)
	"$BIN/measure" "$dir/restore.m" "$CRYO" restore -D "$dir/img" -d -o restore.log \
		${lpid:+--lazy-pages} >/dev/null 2>&1 || { log "$kind restore failed"; return; }
	read -r R_RUN _ <"$dir/restore.m"
	if [ "$kind" = lazy ]; then
		wait "$lpid" || log "the lazy-pages daemon exited $?"
		t1=$(ms_now)
		R_ALL=$((t1 - t0))
	else
		R_ALL=$R_RUN
	fi
	kill -USR1 "$pid"
	wait_file "$dir/result" 120 && grep -q "^OK pid=$pid" "$dir/result" && R_OK=OK
	kill -9 "$pid" 2>/dev/null
	rm -rf "$dir"
}

declare -A RUN ALL OKS
for kind in plain lazy; do
	runs=() alls=() oks=0
	for ((i = 1; i <= RUNS; i++)); do
		one "$kind" "$i"
		log "$kind run $i: running after $R_RUN ms, every page in after $R_ALL ms, $R_OK"
		runs+=("$R_RUN") alls+=("$R_ALL")
		[ "$R_OK" = OK ] && oks=$((oks + 1))
	done
	RUN[$kind]=$(median "${runs[@]}") ALL[$kind]=$(median "${alls[@]}") OKS[$kind]=$oks
done
printf '%-32s | %14s | %18s | %s\n' "restore of ${MEM_MB} MiB (medians)" "running, ms" "every page in, ms" verified
printf '%-32s | %14s | %18s | %s/%s\n' "plain restore -d" "${RUN[plain]}" "${ALL[plain]}" "${OKS[plain]}" "$RUNS"
printf '%-32s | %14s | %18s | %s/%s\n' "lazy-pages + restore --lazy-pages" "${RUN[lazy]}" "${ALL[lazy]}" "${OKS[lazy]}" "$RUNS"
echo "($RUNS runs each, images on tmpfs, free page reporting: $REP; $(date -u +%F))"
