# Debian's GNU awk in the middle of a long computation: a table of 5000 entries updated from
# its random number generator (srand(7): the same stream each run), a checksum of the whole
# table printed (and flushed) every 200000 steps. It is checkpointed a tenth of the way (a
# pre-dump and the dump after it must come before the end on a fast or loaded machine), restored,
# and must finish with exactly the output of a run that was never interrupted: the table,
# the generator's state and the output file's position all came back as they were.
app_gawk() {
	app_begin gawk
	app_packages gawk || return
	local prog i
	prog='BEGIN { srand(7); for (i = 1; i <= 6000000; i++) { k = int(rand() * 5000);
		a[k] = (a[k] * 31 + i) % 1000003; if (i % 200000 == 0) { s = 0;
		for (j in a) s = (s + a[j] * (j + 1)) % 1000000007; printf "%d %d\n", i, s; fflush() } } }'
	timeout 30 gawk "$prog" >"$DIR/want.txt" 2>&1 || fail_step "the reference run failed"
	app_start /usr/bin/gawk "$prog"
	for ((i = 0; i < 200; i++)); do
		[ "$(wc -l <"$DIR/stdout")" -ge 3 ] && break
		sleep 0.02
	done
	[ -z "$REASON" ] && app_checkpoint
	[ -z "$REASON" ] && app_wait_exit 20
	if [ -z "$REASON" ]; then
		[ "$(wc -l <"$DIR/want.txt")" = 30 ] || fail_step "the reference run printed $(wc -l <"$DIR/want.txt") lines"
		[ -z "$REASON" ] && ! cmp -s "$DIR/want.txt" "$DIR/stdout" &&
			fail_step "the output differs from the uninterrupted run's: $(diff "$DIR/want.txt" "$DIR/stdout" | head -n3 | tr '\n' '|')"
	fi
	app_end
}
register_case app-gawk app_gawk
