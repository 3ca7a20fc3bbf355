# The fuzz case of tests/run.sh (sourced by it; uses its helpers and counters).
#
# A short round of the libFuzzer targets (tests/fuzz/fuzz.c: every image decoder, `cryo show`,
# and everything restore reads and checks before it creates a task), after a replay of every
# input in tests/fuzz/regressions/. Any crash, sanitizer report or hang fails it. Time:
# ZT_FUZZ_SECONDS (default 50) over all targets, plus building them once (build-fuzz/).
# `make fuzz` runs the long version.

fuzz_case() {
	local t0 out
	t0=$(now)
	REASON=
	DIR=$OUT/fuzz
	rm -rf "$DIR"
	mkdir -p "$DIR"
	printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }\n' >"$DIR/probe.c"
	if ! command -v clang >/dev/null ||
		! clang -fsanitize=fuzzer,address,undefined "$DIR/probe.c" -o "$DIR/probe" \
			>"$DIR/probe.log" 2>&1; then
		skip fuzz "clang with libFuzzer is not installed (bash scripts/deps.sh installs clang and libclang-rt-dev)"
		return
	fi
	if ! make -s -C "$ROOT" -j2 fuzz-build >"$DIR/build.log" 2>&1; then
		fail_step "building the fuzz targets failed: $(grep -m1 -E 'error|Error' "$DIR/build.log")"
	else
		FUZZ_OUT=$DIR FUZZ_SECONDS=${ZT_FUZZ_SECONDS:-50} bash "$TESTS/fuzz/run.sh" >"$DIR/run.txt" 2>&1
		out=$?
		sed 's/^/    /' "$DIR/run.txt"
		[ $out = 0 ] || fail_step "$(grep -m1 -E 'CRASH|crashes again|missing' "$DIR/run.txt")"
	fi
	report fuzz "$t0"
}
register_case fuzz fuzz_case
