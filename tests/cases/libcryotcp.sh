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
	if ! gcc -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -I"$ROOT/src" \
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
