#!/bin/bash
# The cryo benchmark: dump and restore of six workloads, next to the machine's own limits
# measured in the same run. Images live on tmpfs (/dev/shm/cryo-bench-*).
#
#   bash bench/run.sh            (or: make bench)
#
# Settings (environment):
#   BENCH_RUNS=5           runs per workload; the table shows medians
#   BENCH_WORKLOADS="1 2 3 4 5 6 7 8 9 10 11"   which workloads to run
#   BENCH_MEM_MB=1024      size of workloads 2 and 3 (workload 6 maps half of it)
#   BENCH_TIMEOUT=300      seconds allowed to one cryo command
#   BENCH_REPORTING=both   free page reporting of the VM (see below): "both" runs every workload
#                          twice, with reporting paused and with it on as users have it;
#                          "paused" or "on" runs one table
#
# Every run: start the workload (detached, its own session), wait until it is ready, time
# `cryo dump -t PID -D DIR`, time `cryo restore -D DIR -d` (until cryo exits: the process runs
# then), ask the restored process to check its whole memory against the pattern it wrote
# (SIGUSR1; it answers OK or BAD in a file), kill it. Results go to stdout and to
# bench/results-latest.txt.
set -u
export LC_ALL=C

cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
CRYO=$ROOT/build/cryo
BIN=$ROOT/build/bench
RUNS=${BENCH_RUNS:-5}
WORKLOADS=${BENCH_WORKLOADS:-1 2 3 4 5 6 7 8 9 10 11}
MEM_MB=${BENCH_MEM_MB:-1024}
TIMEOUT=${BENCH_TIMEOUT:-300}
RESULTS=$ROOT/bench/results-latest.txt

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "cryo needs root: run the benchmark as root"
if [ ! -x "$CRYO" ]; then
	log "building cryo"
	make -s >&2 || die "cannot build cryo (make failed)"
fi
mkdir -p "$BIN"
for prog in workload limits measure reaper; do
	if [ ! -x "$BIN/$prog" ] || [ "bench/$prog.c" -nt "$BIN/$prog" ]; then
		gcc -O2 -g -Wall -Wextra -pthread -o "$BIN/$prog" "bench/$prog.c" ||
			die "cannot build bench/$prog.c"
	fi
done
# The workloads are orphans (detached), and so is a restored process: run under our own
# subreaper so that their zombies are reaped at once (PID 1 here takes ~2 s, and a zombie
# keeps the PID that the restore needs).
if [ -z "${CRYO_BENCH_UNDER_REAPER:-}" ]; then
	export CRYO_BENCH_UNDER_REAPER=1
	exec "$BIN/reaper" bash "$ROOT/bench/run.sh" "$@"
fi

BASE=$(mktemp -d /dev/shm/cryo-bench-XXXXXX) || die "cannot create a directory in /dev/shm"
mkdir -p "$BASE/logs"
LIVE_PIDS=()

# The VM gives free memory back to its host (virtio-balloon free page reporting): memory freed
# by one run is dropped by the host about 2 s later, and whoever touches it next pays a fault
# in the host, up to 3x slower. Which run gets such memory is luck, so the timings are
# bimodal (1 GiB dump 0.4 s or 1-1.7 s). The benchmark runs its workloads once with reporting
# paused (an order above the largest stops it), for figures that compare runs, and once with
# it on, as users have it; the setting is put back at the end.
REPORTING=/sys/module/page_reporting/parameters/page_reporting_order
REPORTING_WAS=
MODE=${BENCH_REPORTING:-both}
case $MODE in both | paused | on) ;; *) die "BENCH_REPORTING=$MODE: both, paused or on" ;; esac
if [ -w "$REPORTING" ]; then
	REPORTING_WAS=$(cat "$REPORTING")
fi
# reporting_set paused|on: 0 if the setting took
reporting_set() {
	[ -n "$REPORTING_WAS" ] || return 1
	if [ "$1" = paused ]; then
		echo 11 >"$REPORTING" 2>/dev/null
	else
		echo "$REPORTING_WAS" >"$REPORTING" 2>/dev/null
	fi
}

cleanup() {
	local p
	reporting_set on
	for p in "${LIVE_PIDS[@]}"; do
		kill -9 -- "-$p" 2>/dev/null
		kill -9 "$p" 2>/dev/null
	done
	rm -rf "$BASE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# helpers

# wait_file FILE SECONDS: until FILE exists
wait_file() {
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		[ -s "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# gone PID: the process no longer exists (a zombie counts as gone)
gone() {
	local st
	[ -e "/proc/$1" ] || return 0
	st=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
	[ -z "$st" ] || [ "$st" = Z ]
}

# kill_tree PID: the workload and its whole session (workloads start with setsid)
kill_tree() {
	local i
	kill -9 -- "-$1" 2>/dev/null
	kill -9 "$1" 2>/dev/null
	for ((i = 0; i < 200; i++)); do
		gone "$1" && break
		sleep 0.01
	done
	# the tree's other processes: their pids are in the ready files
	for f in "$RUN_DIR"/result.ready.*; do
		[ -e "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	LIVE_PIDS=()
}

median() {
	printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -g |
		awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# gbs BYTES MS
gbs() {
	awk -v b="$1" -v ms="$2" 'BEGIN { if (b == 0 || ms == "-" || ms <= 0) print "-"; else printf "%.2f", b / (ms / 1000) / 1e9 }'
}

# json_field FILE NAME: a number from `cryo show` output (one field per line)
json_field() {
	sed -n "s/^ *\"$2\": \([0-9]*\),\{0,1\}$/\1/p" "$1" | head -n 1
}

# ---------------------------------------------------------------------------------------------
# the workloads: name, command line, bytes of memory they wrote (for GB/s)

MAP_FILE=$BASE/files/map.dat
FILE_MB=$((MEM_MB / 2))

wl_name() {
	case $1 in
	1) echo "1 sleeping process" ;;
	2) echo "2 anon ${MEM_MB} MiB written" ;;
	3) echo "3 anon ${MEM_MB} MiB, 10% touched" ;;
	4) echo "4 64 MiB, 8 threads" ;;
	5) echo "5 tree of 50 x 4 MiB" ;;
	6) echo "6 file ${FILE_MB} MiB private, 5% written" ;;
	7) echo "7 10,000 descriptors" ;;
	8) echo "8 memfd 64 MiB shared, written" ;;
	9) echo "9 1,000 TCP conns, peer outside" ;;
	10) echo "10 1,000 unix socketpairs" ;;
	11) echo "11 the same as 9, --tcp-close" ;;
	esac
}
wl_args() {
	case $1 in
	1) echo "sleep" ;;
	2) echo "anon $MEM_MB" ;;
	3) echo "sparse $MEM_MB 10" ;;
	4) echo "threads 64 8" ;;
	5) echo "tree 50 4" ;;
	6) echo "filemap $MAP_FILE $FILE_MB 5" ;;
	7) echo "fds 10000" ;;
	8) echo "memfd 64" ;;
	9) echo "tcp 1000" ;;
	10) echo "unix 1000" ;;
	11) echo "tcpclose 1000" ;;
	esac
}
wl_bytes() {
	case $1 in
	1) echo 0 ;;
	2) echo $((MEM_MB << 20)) ;;
	3) echo $(((MEM_MB << 20) / 10)) ;;
	4) echo $((64 << 20)) ;;
	5) echo $((50 * 4 << 20)) ;;
	6) echo $(((FILE_MB << 20) / 20)) ;;
	7) echo 0 ;;
	8) echo $((64 << 20)) ;;
	9) echo 0 ;;
	10) echo 0 ;;
	11) echo 0 ;;
	esac
}

# warm MB: touch MB MiB of fresh memory and give it back (see bench/limits.c)
warm() {
	"$BIN/limits" --warm "$1" || log "cannot warm $1 MiB of memory"
}

# run_once WL I: one run; sets R_DUMP_MS R_RESTORE_MS R_IMG_KB R_DUMP_RSS R_RESTORE_RSS
# R_VERDICT (OK, BAD, DUMP-FAIL, RESTORE-FAIL, START-FAIL) and R_WHY
run_once() {
	local wl=$1 i=$2 pid args k
	RUN_DIR=$BASE/run-$TABLE-$wl-$i
	local img=$RUN_DIR/img
	mkdir -p "$img"
	R_DUMP_MS=- R_RESTORE_MS=- R_IMG_KB=- R_DUMP_RSS=- R_RESTORE_RSS=- R_WHY=

	read -ra args <<<"$(wl_args "$wl")"
	setsid -f "$BIN/workload" "${args[0]}" "$RUN_DIR/ready" "$RUN_DIR/result" "${args[@]:1}" \
		</dev/null >/dev/null 2>&1
	if ! wait_file "$RUN_DIR/ready" 300; then
		R_VERDICT=START-FAIL R_WHY="the workload did not start: $(head -c 300 "$RUN_DIR/result.err" 2>/dev/null)"
		return
	fi
	pid=$(cat "$RUN_DIR/ready")
	LIVE_PIDS=("$pid")

	# workload 9's connections are saved (and the client's end held by the network lock)
	local opts=()
	[ "$wl" = 9 ] && opts=(--tcp-established)
	[ "$wl" = 11 ] && opts=(--tcp-close)
	if ! timeout "$TIMEOUT" "$BIN/measure" "$RUN_DIR/dump.m" "$CRYO" dump "${opts[@]}" -t "$pid" -D "$img" \
		-o "$BASE/logs/dump-$TABLE-$wl-$i.log" >/dev/null 2>&1; then
		R_VERDICT=DUMP-FAIL R_WHY=$(grep -m1 -i error "$BASE/logs/dump-$TABLE-$wl-$i.log" 2>/dev/null)
		kill_tree "$pid"
		return
	fi
	read -r R_DUMP_MS R_DUMP_RSS <"$RUN_DIR/dump.m"
	R_IMG_KB=$(du -sk "$img" | cut -f1)
	# keep the stats of this run for the report
	"$CRYO" show "$img/stats-dump.img" >"$BASE/stats-$TABLE-$wl-$i.json" 2>/dev/null

	for ((k = 0; k < 100; k++)); do
		gone "$pid" && break
		sleep 0.01
	done
	if ! gone "$pid"; then
		# cryo dump kills the tree after a dump: a process still alive is a bug to report
		R_VERDICT=DUMP-FAIL R_WHY="the process still runs after the dump"
		kill_tree "$pid"
		return
	fi

	if ! timeout "$TIMEOUT" "$BIN/measure" "$RUN_DIR/restore.m" "$CRYO" restore "${opts[@]}" -D "$img" -d \
		-o "$BASE/logs/restore-$TABLE-$wl-$i.log" >/dev/null 2>&1; then
		R_VERDICT=RESTORE-FAIL R_WHY=$(grep -m1 -i error "$BASE/logs/restore-$TABLE-$wl-$i.log" 2>/dev/null)
		kill_tree "$pid"
		return
	fi
	read -r R_RESTORE_MS R_RESTORE_RSS <"$RUN_DIR/restore.m"

	rm -f "$RUN_DIR/result"
	kill -USR1 "$pid" 2>/dev/null
	if wait_file "$RUN_DIR/result" 120; then
		R_WHY=$(cat "$RUN_DIR/result")
		case $R_WHY in
		"OK pid=$pid "*) R_VERDICT=OK ;;
		OK*) R_VERDICT=BAD R_WHY="answered from another pid: $R_WHY" ;;
		*) R_VERDICT=BAD ;;
		esac
	else
		if gone "$pid"; then
			R_WHY="the restored process died"
		else
			R_WHY="the restored process did not answer the check"
		fi
		R_VERDICT=BAD
	fi
	kill_tree "$pid"
	rm -rf "$img"
}

# ---------------------------------------------------------------------------------------------

log "images and workloads in $BASE, $RUNS runs per workload"
log "measuring the machine's limits (1 GiB memcpy, tmpfs write and read)"
warm 2304
LIMITS=$("$BIN/limits" "$BASE") || die "the limits program failed"
limit() { echo "$LIMITS" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

case " $WORKLOADS " in
*" 6 "*)
	mkdir -p "$BASE/files"
	"$BIN/workload" mkfile "$MAP_FILE" "$FILE_MB" || die "cannot create $MAP_FILE"
	;;
esac

# run_table LABEL: every workload, RUNS times; rows into ROWS, problems into NOTES (LABEL
# first), the workload 2 stats line into STATS_LINE, the freezes of 9 and 11 into FROZEN_LINE
run_table() {
	local label=$1 wl name i d r s peak bytes fz tt pw pz ps last_stats=
	local dumps restores sizes rss ok skipped frozen totals
	ROWS=()
	FROZEN_LINE=
	TABLE=${label// /-}
for wl in $WORKLOADS; do
	name=$(wl_name "$wl")
	[ -n "$name" ] || die "unknown workload $wl (1..8)"
	dumps=() restores=() sizes=() rss=() ok=0 skipped=
	frozen=() totals=()
	for ((i = 1; i <= RUNS; i++)); do
		run_once "$wl" "$i"
		log "$label: $name, run $i: $R_VERDICT dump ${R_DUMP_MS} ms, restore ${R_RESTORE_MS} ms ${R_WHY:+($R_WHY)}"
		if [ "$R_VERDICT" = DUMP-FAIL ] && { [ "$wl" = 4 ] || [ "$wl" = 5 ]; }; then
			skipped="skipped (needs threads/trees: issue 3)"
			NOTES+=("$label: workload $wl: dump failed: ${R_WHY:-see the log}")
			break
		fi
		[ "$R_VERDICT" = OK ] && ok=$((ok + 1))
		[ "$R_VERDICT" != OK ] && NOTES+=("$label: workload $wl run $i: $R_VERDICT ${R_WHY}")
		dumps+=("$R_DUMP_MS") restores+=("$R_RESTORE_MS")
		[ "$R_IMG_KB" != - ] && sizes+=("$(awk -v k="$R_IMG_KB" 'BEGIN { printf "%.1f", k / 1024 }')")
		for r in "$R_DUMP_RSS" "$R_RESTORE_RSS"; do
			[ "$r" != - ] && rss+=("$r")
		done
		if [ -s "$BASE/stats-$TABLE-$wl-$i.json" ]; then
			frozen+=("$(json_field "$BASE/stats-$TABLE-$wl-$i.json" frozen_ns)")
			totals+=("$(json_field "$BASE/stats-$TABLE-$wl-$i.json" total_ns)")
			last_stats=$BASE/stats-$TABLE-$wl-$i.json
		fi
	done
	if [ -n "$skipped" ]; then
		ROWS+=("$(printf '%-34s | %s' "$name" "$skipped")")
		continue
	fi
	d=$(median "${dumps[@]}")
	r=$(median "${restores[@]}")
	s=$(median "${sizes[@]}")
	peak=-
	if [ ${#rss[@]} -gt 0 ]; then
		peak=$(printf '%s\n' "${rss[@]}" | sort -n | tail -n 1 | awk '{ printf "%.1f", $1 / 1024 }')
	fi
	bytes=$(wl_bytes "$wl")
	ROWS+=("$(printf '%-34s | %8s | %10s | %9s | %9s | %12s | %17s | %s' "$name" "$d" "$r" "$s" \
		"$(gbs "$bytes" "$d")" "$(gbs "$bytes" "$r")" "$peak" "$ok/$RUNS OK")")
	if [ "$wl" = 2 ] && [ ${#frozen[@]} -gt 0 ]; then
		fz=$(median "${frozen[@]}")
		tt=$(median "${totals[@]}")
		pw=$(json_field "$last_stats" pages_written)
		pz=$(json_field "$last_stats" pages_skipped_zero)
		ps=$(json_field "$last_stats" pages_scanned)
		STATS_LINE=$(awk -v fz="$fz" -v tt="$tt" -v pw="$pw" -v pz="$pz" -v ps="$ps" -v n="$name" 'BEGIN {
			printf "dump stats of workload %s (stats-dump.img, medians): frozen %.1f ms of %.1f ms total; pages scanned %s, written %s (%.0f MiB), skipped as zero %s",
				n, fz / 1e6, tt / 1e6, ps, pw, pw * 4096 / 1048576, pz }')
	elif { [ "$wl" = 9 ] || [ "$wl" = 11 ]; } && [ ${#frozen[@]} -gt 0 ]; then
		# what --tcp-established costs is a matter of the freeze: 9's frozen minus 11's
		fz=$(median "${frozen[@]}")
		FROZEN_LINE+="$(awk -v fz="$fz" -v n="$wl" 'BEGIN { printf "%sfrozen of workload %s (median): %.1f ms", n == 11 ? "; " : "", n, fz / 1e6 }')"
	fi
done
}

print_table() {
	printf '%-34s | %8s | %10s | %9s | %9s | %12s | %17s | %s\n' workload "dump ms" "restore ms" \
		"image MiB" "dump GB/s" "restore GB/s" "cryo peak RSS MiB" verified
	printf '%s\n' "$@"
}

NOTES=()
STATS_LINE=
FROZEN_LINE=
ROWS_PAUSED=()
ROWS_ON=()
PAUSED_NOTE=
if [ "$MODE" != on ]; then
	if reporting_set paused; then
		run_table "reporting paused"
		ROWS_PAUSED=("${ROWS[@]}")
		PAUSED_NOTE="order was $REPORTING_WAS, set to 11 for this table"
	else
		PAUSED_NOTE="cannot be paused here (no writable $REPORTING): not run"
	fi
fi
if [ "$MODE" != paused ]; then
	reporting_set on
	run_table "reporting on"
	ROWS_ON=("${ROWS[@]}")
fi

{
	echo "cryo benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) cores, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $RUNS runs (medians), images on tmpfs"
	echo "machine limits (1 GiB): memcpy $(limit memcpy_gbs) GB/s | tmpfs write $(limit tmpfs_write_gbs) GB/s (first pass $(limit tmpfs_write_first_gbs)) | tmpfs read into fresh memory $(limit tmpfs_read_gbs) GB/s"
	echo
	if [ ${#ROWS_PAUSED[@]} -gt 0 ] || [ "$MODE" != on ]; then
		echo "free page reporting of the VM paused ($PAUSED_NOTE): figures that compare runs"
		[ ${#ROWS_PAUSED[@]} -gt 0 ] && print_table "${ROWS_PAUSED[@]}"
		echo
	fi
	if [ "$MODE" != paused ]; then
		echo "free page reporting of the VM on${REPORTING_WAS:+ (order $REPORTING_WAS)}, as users have it: freed memory may come back slower"
		print_table "${ROWS_ON[@]}"
		echo
	fi
	echo "GB/s: memory the workload wrote (1, 7: none; 3: 10% of ${MEM_MB} MiB; 6: 5% of ${FILE_MB} MiB) / wall time."
	echo "7: 2,000 pipes with 8 bytes queued in each, 7,999 eventfds, one epoll watching 1,000 of them."
	echo "9: 1,000 TCP connections (--tcp-established), the client outside the tree; 10: 1,000 unix socketpairs, half stream, half datagram, 16 bytes queued at each end."
	echo "11: workload 9 dumped with --tcp-close (nothing locked, nothing read in repair mode): 9's dump minus 11's is what --tcp-established costs the freeze."
	echo "restore ms: until 'cryo restore -d' exits, the process running. RSS: the larger of dump's and restore's."
	[ -n "$STATS_LINE" ] && echo "$STATS_LINE"
	[ -n "$FROZEN_LINE" ] && echo "$FROZEN_LINE"
	if [ ${#NOTES[@]} -gt 0 ]; then
		echo "failures:"
		printf '  %s\n' "${NOTES[@]}" | cut -c1-300
	fi
} | tee "$RESULTS"
