# shellcheck shell=bash
# libcryotcp: the TCP repair library alone, as another program links it
# (tests/libtcp/selftest.c against build/libcryotcp.a, only src/net/tcp_repair.h included):
# a loopback connection read, dropped and made again in a new socket, every byte checked.

libcryotcp_case() {
	local t0
	t0=$(now)
	REASON=
	DIR=$OUT/libcryotcp
	rm -rf "$DIR"
	mkdir -p "$DIR"
	# a library of the sanitizer build (make SANITIZE=1) links only with its runtime
	local san=
	nm "$ROOT/build/libcryotcp.a" 2>/dev/null | grep -q "__asan_" && san=-fsanitize=address,undefined
	if ! gcc -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -I"$ROOT/src" $san \
		"$TESTS/libtcp/selftest.c" "$ROOT/build/libcryotcp.a" -o "$DIR/selftest" \
		>"$DIR/build.txt" 2>&1; then
		fail_step "the self-test does not build against build/libcryotcp.a: $(head -c 300 "$DIR/build.txt")"
	else
		timeout 60 "$DIR/selftest" >"$DIR/out.txt" 2>&1
		grep -qx PASS "$DIR/out.txt" || fail_step "$(grep -m3 FAIL "$DIR/out.txt" | tr '\n' ' ')"
	fi
	report libcryotcp "$t0"
}
register_case libcryotcp libcryotcp_case
