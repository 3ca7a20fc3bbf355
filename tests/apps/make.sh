# GNU make -j3 building twelve targets whose recipes sleep and compute (sh, sleep, seq, awk):
# checkpointed while three recipes run (make, its shells and their children, the jobserver's
# pipe), restored; the build must finish, every target made once, with the result of a
# build that was never interrupted.
app_make() {
	app_begin make
	app_packages make gawk || return
	cat >"$DIR/Makefile" <<'MK'
N := 1 2 3 4 5 6 7 8 9 10 11 12
all: $(addprefix out/,$(N))
	cat $^ | sha256sum > result
out/%:
	@mkdir -p out
	@echo making $@ >> log
	sleep 0.3; seq 1 $*00 | awk '{s+=$$1*$$1} END {print s}' > $@
MK
	local want
	want=$(for i in $(seq 1 12); do seq 1 "${i}00" | awk '{s+=$1*$1} END {print s}'; done | sha256sum)
	app_start make -j3
	sleep 0.5
	alive "$PID" || fail_step "make finished before the checkpoint"
	[ -z "$REASON" ] && [ "$(pgrep -c -P "$PID")" -lt 2 ] &&
		fail_step "make runs $(pgrep -c -P "$PID") recipes, not 3"
	[ -z "$REASON" ] && app_checkpoint
	[ -z "$REASON" ] && app_wait_exit 30
	if [ -z "$REASON" ]; then
		[ "$(cat "$DIR/result" 2>/dev/null)" = "$want" ] ||
			fail_step "the restored build made '$(cat "$DIR/result" 2>/dev/null)' (stderr: $(tail -c 300 "$DIR/stderr"))"
		[ "$(sort "$DIR/log" | uniq -d)" = "" ] && [ "$(wc -l <"$DIR/log")" = 12 ] ||
			fail_step "targets made: $(tr '\n' ' ' <"$DIR/log")"
	fi
	app_end
}
register_case app-make app_make
