#!/bin/bash
# Run cryo's fuzz targets (built by `make fuzz-build` in build-fuzz/fuzz/):
#   FUZZ_SECONDS=600 bash tests/fuzz/run.sh [TARGET...]
# First every input of tests/fuzz/regressions/TARGET/ is replayed (a crash found once must
# stay fixed), then each target fuzzes for FUZZ_SECONDS divided among the targets, starting
# from tests/fuzz/corpus/TARGET/ (real images) plus what earlier runs found (kept in
# $FUZZ_OUT/corpus, not in the repository). A crash leaves its input in $FUZZ_OUT/crashes/:
# fix it, then copy the input to tests/fuzz/regressions/TARGET/. Exit 1 on any crash.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${FUZZ_BIN:-$ROOT/build-fuzz/fuzz}
OUT=${FUZZ_OUT:-/tmp/cryo-fuzz}
SECONDS_ALL=${FUZZ_SECONDS:-600}
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(inventory pstree core mm pagemap files stats raw show restore lz4)
per=$((SECONDS_ALL / ${#TARGETS[@]}))
[ $per -ge 1 ] || per=1
mkdir -p "$OUT/crashes"
failed=0
for t in "${TARGETS[@]}"; do
	bin=$BIN/fuzz-$t
	if [ ! -x "$bin" ]; then
		echo "fuzz: $bin is missing (make fuzz-build)"
		exit 1
	fi
	reg=$ROOT/tests/fuzz/regressions/$t
	if compgen -G "$reg/*" >/dev/null; then
		if ! "$bin" -runs=1 "$reg"/* >"$OUT/replay-$t.log" 2>&1; then
			echo "fuzz: $t: a regression input crashes again ($OUT/replay-$t.log):"
			grep -m3 -E 'ERROR|runtime error|Running:' "$OUT/replay-$t.log" | sed 's/^/    /'
			failed=1
			continue
		fi
	fi
	mkdir -p "$OUT/corpus/$t"
	# -timeout: an input that takes seconds is a hang; -rss_limit_mb: one that eats memory
	"$bin" -max_total_time=$per -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
		-print_final_stats=1 -artifact_prefix="$OUT/crashes/$t-" \
		"$OUT/corpus/$t" "$ROOT/tests/fuzz/corpus/$t" >"$OUT/fuzz-$t.log" 2>&1
	rc=$?
	stats=$(grep -E '^stat::number_of_executed_units' "$OUT/fuzz-$t.log" | awk '{print $2}')
	cov=$(grep -oE 'cov: [0-9]+' "$OUT/fuzz-$t.log" | tail -n1)
	if [ $rc != 0 ]; then
		echo "fuzz: $t: CRASH after ${stats:-?} runs ($OUT/fuzz-$t.log):"
		grep -m5 -E 'ERROR|runtime error|Test unit written' "$OUT/fuzz-$t.log" | sed 's/^/    /'
		failed=1
	else
		echo "fuzz: $t: ${stats:-?} runs in ${per}s, $cov, no crash"
	fi
done
exit $failed
