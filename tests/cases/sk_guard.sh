# shellcheck shell=bash
# sk-guard: cryo dump killed while it has a socket's options turned over for its reads
# (CRYO_FAULT=kill:@TEXT, src/core/fault.h): SO_PASSCRED and SO_PEEK_OFF of a unix socket,
# SO_OOBINLINE of one, SO_PEEK_OFF of a UDP socket. The socket guard (src/net/sk_guard.c)
# must put each back: sk_opts_kept then finds its options as it set them and its queues whole
# (target_unharmed: running, traced by nobody, its own check passed). With and without -R.

SK_GUARD_POINTS=(
	"unix socket: SO_PASSCRED and SO_PEEK_OFF changed"
	"unix socket: SO_OOBINLINE off"
	"UDP socket: SO_PEEK_OFF changed"
)

sk_guard_one() {
	local point=$1 args=()
	shift
	args=("$@")
	start_test sk_opts_kept || return
	mkdir -p "$DIR/img"
	# (braces: no "Killed" line from bash for the job that died)
	{ CRYO_FAULT="kill:@$point" cryo kill dump -t "$PID" -D "$DIR/img" -v4 -o dump.log \
		"${args[@]}"; } 2>/dev/null
	[ "$RC" = 137 ] || fail_step "cryo exited $RC, not killed at '$point'" || return
	grep -q "fault point .*($point" "$DIR/img/dump.log" ||
		fail_step "the dump never reached '$point'" || return
	target_unharmed "killed at '$point'"
}

sk_guard_case() {
	local i
	for i in "${!SK_GUARD_POINTS[@]}"; do
		run_sub_case "sk-guard/$i" sk_guard_one "${SK_GUARD_POINTS[$i]}"
		run_sub_case "sk-guard/$i-R" sk_guard_one "${SK_GUARD_POINTS[$i]}" -R
	done
}
register_case sk-guard sk_guard_case
