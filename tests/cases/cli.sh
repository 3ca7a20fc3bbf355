# Command-line cases of tests/run.sh (sourced by it; uses its helpers and counters).
#
# cryo takes the original tool's command line: every option in both forms, configuration
# files in their order, refusals by name, check --feature answers, a --version that clients
# parse, and the options that change what a dump or restore does (--timeout, -s,
# --status-fd, --display-stats, --log-pid, --pidfile). Run with HOME and the system file
# pointed at temporary files: /etc is never written.

CLI_VICTIM=session_leader

# cli_run TAG ARGS...: cryo without closefds (some cases hand it descriptors), no config
# files but those a case sets up; output in $DIR/cryo-TAG.txt, status in RC.
cli_run() {
	local tag=$1
	shift
	HOME=$DIR/home CRYO_TEST_SYSTEM_CONFIG=$DIR/etc-default.conf \
		timeout --foreground -k 5 "$CRYO_TIMEOUT" "$CRYO" "$@" >"$DIR/cryo-$tag.txt" 2>&1 </dev/null
	RC=$?
}

cli_setup() {
	REASON=
	SHELL_JOB=
	DIR=$OUT/$1
	rm -rf "$DIR"
	mkdir -p "$DIR/home/.criu" "$DIR/img"
}

# --- parsing -------------------------------------------------------------------------------

# Each entry: the forms (words split on spaces) | the line the debug log must show.
CLI_FORMS=(
	"-t 123|--tree 123" "-t123|--tree 123" "--tree 123|--tree 123" "--tree=123|--tree 123"
	"-d|--restore-detached" "--restore-detached|--restore-detached"
	"--no-restore-detached|--no-restore-detached"
	"-S|--restore-sibling" "--restore-sibling|--restore-sibling"
	"--no-restore-sibling|--no-restore-sibling"
	"-s|--leave-stopped" "--leave-stopped|--leave-stopped"
	"-R|--leave-running" "--leave-running|--leave-running"
	"-D @|--images-dir @" "-D@|--images-dir @" "--images-dir @|--images-dir @"
	"--images-dir=@|--images-dir @"
	"--pidfile @/p|--pidfile @/p" "--pidfile=@/p|--pidfile @/p"
	"--freeze-cgroup /x|--freeze-cgroup /x" "--freeze-cgroup=/x|--freeze-cgroup /x"
	"--weak-sysctls|--weak-sysctls" "--no-weak-sysctls|--no-weak-sysctls"
	"--mntns-compat-mode|--mntns-compat-mode"
	"--skip-in-flight|--skip-in-flight" "--no-skip-in-flight|--no-skip-in-flight"
	"-j|--shell-job" "--shell-job|--shell-job" "--no-shell-job|--no-shell-job"
	"-l|--file-locks" "--file-locks|--file-locks" "--no-file-locks|--no-file-locks"
	"-x|--ext-unix-sk" "--ext-unix-sk|--ext-unix-sk"
	"--timeout 7|--timeout 7" "--timeout=7|--timeout 7"
	"--force-irmap|--force-irmap" "--no-force-irmap|--no-force-irmap"
	"--irmap-scan-path /usr|--irmap-scan-path /usr" "--irmap-scan-path=/usr|--irmap-scan-path /usr"
	"--log-pid|--log-pid" "--no-log-pid|--no-log-pid"
	"--display-stats|--display-stats" "--no-display-stats|--no-display-stats"
	"--pre-dump-mode splice|--pre-dump-mode splice" "--pre-dump-mode=read|--pre-dump-mode read"
	"--track-mem|--track-mem" "--no-track-mem|--no-track-mem"
	"--prev-images-dir ../x|--prev-images-dir ../x" "--prev-images-dir=../x|--prev-images-dir ../x"
	"--extra|--extra" "--no-extra|--no-extra" "--experimental|--experimental"
	"--no-experimental|--no-experimental" "--all|--all"
	"--feature openat2|--feature openat2" "--feature=openat2|--feature openat2"
	"--status-fd 2|--status-fd 2" "--status-fd=2|--status-fd 2"
	"--port 1234|--port 1234" "--address=127.0.0.1|--address 127.0.0.1" "--page-server|--page-server"
	"--lazy-pages|--lazy-pages" "--no-lazy-pages|--no-lazy-pages"
	"--compress|--compress" "--tls|--tls" "--tls-cacert=x|--tls-cacert x" "--tls-no-cn-verify|--tls-no-cn-verify"
	"--config @/empty.conf|--config @/empty.conf" "--config=@/empty.conf|--config @/empty.conf"
	"--no-default-config|--no-default-config"
)

# The options cryo refuses: the argument each needs, or none.
CLI_REFUSED=(
	"work-dir /" "cpu-cap" "exec-cmd" "stream"
	"ext-mount-map auto" "enable-external-sharing"
	"enable-external-masters" "join-ns net:1" "veth-pair a=b"
	"empty-ns net" "root /" "evasive-devices" "link-remap"
	"ghost-limit 1M" "action-script /bin/true" "libdir /" "manage-cgroups"
	"cgroup-root /" "cgroup-props x" "cgroup-props-file x" "cgroup-dump-controller x"
	"cgroup-yard /" "lsm-profile apparmor:x" "lsm-mount-context x" "skip-mnt /"
	"enable-fs all" "file-validation filesize" "close 9" "deprecated"
	"ps-socket 9"
)

cli_parse_case() {
	local t0 entry forms want help name arg
	t0=$(now)
	cli_setup cli-parse
	: >"$DIR/empty.conf"
	for entry in "${CLI_FORMS[@]}"; do
		forms=${entry%%|*}
		want=${entry#*|}
		forms=${forms//@/$DIR}
		want=${want//@/$DIR}
		rm -f "$DIR/parse.log"
		# shellcheck disable=SC2086
		cli_run parse check -v4 -o "$DIR/parse.log" $forms
		if [ $RC -ge 2 ] || ! grep -qF -- "option $want (the command line)" "$DIR/parse.log"; then
			fail_step "'$forms' (exit $RC) not parsed as '$want': $(head -c 300 "$DIR/cryo-parse.txt")"
			break
		fi
	done
	# verbosity: -vvvv, -v4, --verbosity=4 all reach debug; -v3 and -v alone do not
	for forms in -vvvv -v4 --verbosity=4 "-v -v -v"; do
		rm -f "$DIR/parse.log"
		# shellcheck disable=SC2086
		cli_run verbosity check $forms -o "$DIR/parse.log"
		grep -q "option --verbosity" "$DIR/parse.log" ||
			fail_step "'$forms' does not log at level 4" || break
	done
	for forms in -v3 -v; do
		rm -f "$DIR/parse.log"
		cli_run verbosity check $forms -o "$DIR/parse.log"
		{ grep -q "^(.*) ok:" "$DIR/parse.log" && ! grep -q "option --" "$DIR/parse.log"; } ||
			fail_step "'$forms' is not level 3" || break
	done
	# refused by name, on the command line; --help does not list them
	cli_run help --help
	help=$(cat "$DIR/cryo-help.txt")
	for entry in "${CLI_REFUSED[@]}"; do
		name=${entry%% *}
		arg=
		[ "$name" != "$entry" ] && arg=${entry#* }
		cli_run refused dump -t 1 "--$name" $arg
		if [ $RC != 1 ] || ! grep -qxF "Error: option --$name is not supported yet" "$DIR/cryo-refused.txt"; then
			fail_step "--$name not refused by name (exit $RC): $(head -c 200 "$DIR/cryo-refused.txt")"
			break
		fi
		grep -qE -- "--$name( |$)" <<<"$help" && fail_step "--help lists --$name" && break
	done
	# --network-lock: nftables and skip taken, iptables refused by name
	cli_run netlock dump -t 1 --network-lock iptables
	{ [ $RC = 1 ] && grep -qxF "Error: --network-lock iptables is not supported yet (the command line)" \
		"$DIR/cryo-netlock.txt"; } ||
		fail_step "--network-lock iptables not refused by name (exit $RC): $(head -c 200 "$DIR/cryo-netlock.txt")"
	for arg in nftables skip; do
		cli_run netlock check --network-lock $arg
		[ $RC = 0 ] || fail_step "--network-lock $arg refused: $(head -c 200 "$DIR/cryo-netlock.txt")"
	done
	# a --no- of an option cryo does not implement asks for nothing: accepted
	cli_run no-refused check --no-evasive-devices --no-auto-dedup
	[ $RC = 0 ] || fail_step "--no-evasive-devices refused: $(cat "$DIR/cryo-no-refused.txt")"
	# bad values and unknown options: refused with a message, exit 1
	for forms in "--timeout 0" "--timeout x" "--timeout" "-t -5" "--pre-dump-mode fast" \
		"--status-fd 99999" "-vq" "--frobnicate" "-q" "--verbosity=" "--feature"; do
		# shellcheck disable=SC2086
		cli_run bad dump $forms
		{ [ $RC = 1 ] && grep -q "^Error: " "$DIR/cryo-bad.txt"; } ||
			fail_step "'$forms' not refused (exit $RC): $(cat "$DIR/cryo-bad.txt")" || break
	done
	# README's usage block is exactly --help
	if ! diff <(awk '/^<!-- cryo --help -->/{f=1;next} /^<!-- end -->/{f=0} f' \
		"$TESTS/../README.md" | sed '1d;$d') "$DIR/cryo-help.txt" >"$DIR/readme.diff"; then
		fail_step "README.md's usage is not cryo --help: $(head -c 300 "$DIR/readme.diff")"
	fi
	report cli-parse "$t0"
}
register_case cli-parse cli_parse_case

# --- configuration files -------------------------------------------------------------------

cli_config_case() {
	local t0 log
	t0=$(now)
	cli_setup cli-config
	log=$DIR/img/c.log
	cat >"$DIR/cli.conf" <<'EOF'
# a comment line, then an empty one

shell-job            # an option without argument, and a comment after it
timeout 4
pidfile=/tmp/cryo-cli-never-written
log-file "name with space and \"quotes\".log"
no-restore-detached
	display-stats
EOF
	cli_run conf check -v4 -D "$DIR/img" --config "$DIR/cli.conf"
	local f=$DIR/cli.conf
	[ -e "$DIR/img/name with space and \"quotes\".log" ] ||
		fail_step "quoted log-file not applied: $(ls "$DIR/img")"
	log="$DIR/img/name with space and \"quotes\".log"
	for want in "--shell-job ($f:3)" "--timeout 4 ($f:4)" \
		"--pidfile /tmp/cryo-cli-never-written ($f:5)" "--no-restore-detached ($f:7)" \
		"--display-stats ($f:8)"; do
		grep -qF -- "option $want" "$log" || fail_step "config entry '$want' not applied" || break
	done
	# the command line overrides the file
	rm -f "$log"
	cli_run conf check -v4 -D "$DIR/img" --config "$DIR/cli.conf" --timeout 9 --no-shell-job
	grep -qF -- "option --timeout 9 (the command line)" "$log" ||
		fail_step "--timeout 9 on the command line did not override the file"
	grep -qF -- "option --no-shell-job (the command line)" "$log" ||
		fail_step "--no-shell-job on the command line did not override the file"
	# the order: system file, ~/.criu, CRIU_CONFIG_FILE, --config, command line
	echo "timeout 1" >"$DIR/etc-default.conf"
	echo "timeout 2" >"$DIR/home/.criu/default.conf"
	echo "timeout 3" >"$DIR/env.conf"
	echo "timeout 5" >"$DIR/five.conf"
	local step args
	for step in "5|--config $DIR/five.conf" "3|" "2|-" "1|--" "none|---"; do
		local want=${step%%|*} how=${step#*|}
		args=(check -v4 -o "$DIR/order.log")
		rm -f "$DIR/order.log"
		case $how in
		--config*) args+=(--config "$DIR/five.conf") ;;
		-) rm -f "$DIR/env.conf" ;;
		--) rm -f "$DIR/home/.criu/default.conf" ;;
		---) args+=(--no-default-config) ;;
		esac
		if [ -e "$DIR/env.conf" ]; then
			CRIU_CONFIG_FILE=$DIR/env.conf cli_run order "${args[@]}"
		else
			cli_run order "${args[@]}"
		fi
		if [ "$want" = none ]; then
			grep -q "option --timeout" "$DIR/order.log" &&
				fail_step "--no-default-config still read the system file"
		else
			grep -q "option --timeout $want " "$DIR/order.log" ||
				fail_step "expected timeout $want from the order of files: $(grep timeout "$DIR/order.log")" || break
		fi
	done
	# an option cryo refuses, from a file: named with file and line; --no- on the command
	# line turns it off again
	printf '# x\nevasive-devices\n' >"$DIR/home/.criu/default.conf"
	cli_run refused check
	grep -qF "Error: option --evasive-devices is not supported yet ($DIR/home/.criu/default.conf:2)" \
		"$DIR/cryo-refused.txt" || fail_step "refusal does not name the file: $(cat "$DIR/cryo-refused.txt")"
	cli_run refused check --no-evasive-devices
	[ $RC = 0 ] || fail_step "--no-evasive-devices did not turn the file's option off"
	rm -f "$DIR/home/.criu/default.conf"
	# bad files
	for bad in "--timeout 3" "timeout" "bogus-option" 'log-file "open' "timeout 3 4" \
		"config x" "help" "leave-running yes"; do
		echo "$bad" >"$DIR/bad.conf"
		cli_run bad check --config "$DIR/bad.conf"
		{ [ $RC = 1 ] && grep -qF "bad.conf:1" "$DIR/cryo-bad.txt"; } ||
			fail_step "bad line '$bad' not refused with its place (exit $RC): $(cat "$DIR/cryo-bad.txt")" || break
	done
	cli_run missing check --config "$DIR/no-such.conf"
	[ $RC = 1 ] || fail_step "a missing --config file was not an error"
	report cli-config "$t0"
}
register_case cli-config cli_config_case

# --- check ---------------------------------------------------------------------------------

cli_check_case() {
	local t0 f want
	t0=$(now)
	cli_setup cli-check
	cli_run list check --feature list
	[ $RC = 0 ] || fail_step "--feature list failed"
	local names
	names=$(cat "$DIR/cryo-list.txt")
	for f in mem_dirty_track uffd uffd-noncoop userns pidfd_store tcp_half_closed link_nsid \
		kcmp_epoll; do
		grep -qw -- "$f" <<<"$names" || fail_step "feature $f not listed"
	done
	# what cryo cannot do (yet) is not supported, whatever the kernel has; what it uses is
	# there on this kernel
	declare -A expect=([mem_dirty_track]=0 [uffd]=0 [uffd-noncoop]=0 [userns]=1
		[pidfd_store]=1 [tcp_half_closed]=1 [link_nsid]=1 [kcmp_epoll]=0 [timens]=1
		[seccomp_suspend]=0 [seccomp_filters]=0 [clone3_set_tid]=0 [openat2]=0
		[get_rseq_conf]=0 [timerfd]=0)
	for f in $names; do
		cli_run feature check --feature "$f"
		if [ $RC = 0 ]; then
			grep -qxF "$f is supported" "$DIR/cryo-feature.txt" ||
				fail_step "$f: exit 0 without '$f is supported'" || break
		elif [ $RC = 1 ]; then
			grep -qF "Error: $f is not supported: " "$DIR/cryo-feature.txt" ||
				fail_step "$f: exit 1 without a reason" || break
		else
			fail_step "$f: exit $RC" || break
		fi
		want=${expect[$f]:-}
		[ -n "$want" ] && [ "$want" != $RC ] &&
			fail_step "feature $f answered exit $RC, expected $want: $(cat "$DIR/cryo-feature.txt")" && break
	done
	# no soft-dirty bits here: pre-dumps track with userfaultfd write protection instead
	cli_run x check --feature mem_dirty_track
	grep -qx "mem_dirty_track is supported" "$DIR/cryo-x.txt" ||
		fail_step "mem_dirty_track is not supported: $(cat "$DIR/cryo-x.txt")"
	cli_run unknown check --feature no_such_feature
	{ [ $RC = 1 ] && grep -q "unknown feature no_such_feature" "$DIR/cryo-unknown.txt"; } ||
		fail_step "an unknown feature was not refused"
	cli_run plain check
	{ [ $RC = 0 ] && grep -qx "Looks good." "$DIR/cryo-plain.txt"; } ||
		fail_step "check: exit $RC: $(cat "$DIR/cryo-plain.txt")"
	# `criu check --ms`, as its documentation tells users to run first: the same check
	cli_run ms check --ms
	{ [ $RC = 0 ] && grep -qx "Looks good." "$DIR/cryo-ms.txt"; } ||
		fail_step "check --ms: exit $RC: $(cat "$DIR/cryo-ms.txt")"
	for f in --extra --all; do
		cli_run extra check $f
		{ [ $RC = 1 ] && grep -q "^Looks good but" "$DIR/cryo-extra.txt" &&
			grep -q "Warning: userns is not supported" "$DIR/cryo-extra.txt"; } ||
			fail_step "check $f: exit $RC: $(tail -n 2 "$DIR/cryo-extra.txt")"
	done
	cli_run cpu cpuinfo dump -D "$DIR/img"
	[ $RC = 0 ] && [ -s "$DIR/img/cpuinfo.img" ] || fail_step "cpuinfo dump failed: $(cat "$DIR/cryo-cpu.txt")"
	cli_run cpu cpuinfo check -D "$DIR/img"
	[ $RC = 0 ] || fail_step "cpuinfo check of this CPU failed: $(cat "$DIR/cryo-cpu.txt")"
	cli_run cpu cpuinfo frob
	[ $RC = 1 ] || fail_step "cpuinfo frob accepted"
	report cli-check "$t0"
}
register_case cli-check cli_check_case

# --- version -------------------------------------------------------------------------------

# What lxc-checkpoint does: the first line must be "Version: X.Y[.Z]", X.Y at least 2.0.
cli_version_ok() {
	local first major minor
	first=$(head -n 1 "$1")
	[[ $first =~ ^Version:\ ([0-9]+)\.([0-9]+)(\.[0-9]+)?$ ]] || return 1
	major=${BASH_REMATCH[1]}
	minor=${BASH_REMATCH[2]}
	[ "$major" -gt 2 ] || { [ "$major" = 2 ] && [ "$minor" -ge 0 ]; }
}

cli_version_case() {
	local t0
	t0=$(now)
	cli_setup cli-version
	cli_run version --version
	[ $RC = 0 ] && cli_version_ok "$DIR/cryo-version.txt" ||
		fail_step "--version not accepted by a client: $(cat "$DIR/cryo-version.txt")"
	sed -n 2p "$DIR/cryo-version.txt" | grep -q "^cryo version " ||
		fail_step "--version does not give cryo's own version on its second line"
	cli_run V -V
	cmp -s "$DIR/cryo-version.txt" "$DIR/cryo-V.txt" || fail_step "-V differs from --version"
	# a refused option in the default files does not stop --version or --help
	echo evasive-devices >"$DIR/home/.criu/default.conf"
	cli_run version2 --version
	cmp -s "$DIR/cryo-version.txt" "$DIR/cryo-version2.txt" ||
		fail_step "--version depends on the configuration files"
	report cli-version "$t0"
}
register_case cli-version cli_version_case

# --- options that change a dump or a restore -----------------------------------------------

# state PID: the one-letter state in /proc/PID/stat
cli_state() { awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null; }

cli_wait_state() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(cli_state "$1")" = "$2" ] && return 0
		sleep 0.02
	done
	return 1
}

# The options a test runner of the original adds to every dump and restore, and -s.
cli_runtime_case() {
	local t0 img rpid got reader
	t0=$(now)
	cli_setup cli-runtime
	img=$DIR/img
	start_test "$CLI_VICTIM" || { report cli-runtime "$t0"; return; }
	# dump -s: left stopped, pid file, stats, the log's notes
	cli_run dump dump --no-default-config -t "$PID" -D "$img" --verbosity=4 -o dump.log \
		--timeout 10 --pre-dump-mode splice --pidfile "$DIR/dump.pid" -s --display-stats \
		--skip-in-flight --force-irmap
	if [ $RC != 0 ]; then
		fail_step "dump -s failed (exit $RC): $(tail -n 3 "$DIR/cryo-dump.txt")"
	else
		cli_wait_state "$PID" T || fail_step "process $PID not stopped after dump -s: $(cli_state "$PID")"
		[ "$(cat "$DIR/dump.pid" 2>/dev/null)" = "$PID" ] || fail_step "dump --pidfile does not hold $PID"
		grep -q "^Displaying dump stats:" "$DIR/cryo-dump.txt" &&
			grep -q "^Pages written: [0-9]" "$DIR/cryo-dump.txt" ||
			fail_step "dump --display-stats printed no stats"
		grep -q "skip-in-flight: connections queued on a listener" "$img/dump.log" ||
			fail_step "--skip-in-flight did not log what it skipped"
		grep -q -- "--force-irmap (the command line) changes nothing: " "$img/dump.log" ||
			fail_step "--force-irmap did not log that it changes nothing"
		grep -q -- "--pre-dump-mode (the command line) changes nothing: " "$img/dump.log" ||
			fail_step "--pre-dump-mode did not log that it changes nothing"
		kill -CONT "$PID"
		check
	fi
	[ -n "$REASON" ] && { kill_leftovers; report cli-runtime "$t0"; return; }
	# a normal dump, then restore -s with --status-fd: the byte comes once the tree exists
	rm -f "$DIR/out.txt" "$DIR/test.pid" "$DIR"/cryo-*.txt
	start_test "$CLI_VICTIM" || { report cli-runtime "$t0"; return; }
	rm -rf "$img"
	mkdir -p "$img"
	dump "$img" --no-default-config --verbosity=4 --timeout 10 --pre-dump-mode splice || {
		report cli-runtime "$t0"
		return
	}
	gone_after_dump || { report cli-runtime "$t0"; return; }
	mkfifo "$DIR/status"
	# the reader notes the state of the restored process when the byte arrives, and how
	# many bytes came until every writer had closed the fifo
	(
		exec <"$DIR/status"
		head -c 1 >"$DIR/status.byte"
		cli_state "$PID" >"$DIR/status.state"
		cat >>"$DIR/status.byte"
		echo eof >"$DIR/status.eof"
	) &
	reader=$!
	HOME=$DIR/home CRYO_TEST_SYSTEM_CONFIG=$DIR/etc-default.conf \
		timeout --foreground -k 5 "$CRYO_TIMEOUT" "$CRYO" restore --no-default-config \
		-D "$img" -d -s --verbosity=4 -o restore.log --log-pid --pidfile "$DIR/restored.pid" \
		--status-fd 7 --display-stats 7>"$DIR/status" >"$DIR/cryo-restore.txt" 2>&1 </dev/null
	RC=$?
	for ((i = 0; i < 100; i++)); do
		[ -e "$DIR/status.eof" ] && break
		sleep 0.05
	done
	kill "$reader" 2>/dev/null
	wait "$reader" 2>/dev/null
	rpid=$(cat "$DIR/restored.pid" 2>/dev/null)
	if [ $RC != 0 ]; then
		fail_step "restore -s --status-fd failed (exit $RC): $(tail -n 3 "$DIR/cryo-restore.txt")"
	elif [ "$rpid" != "$PID" ]; then
		fail_step "restored pid '$rpid' is not $PID"
	else
		got=$(od -An -tx1 "$DIR/status.byte" | tr -d ' \n')
		[ "$got" = 00 ] || fail_step "--status-fd got '$got', not one zero byte"
		[ -e "$DIR/status.eof" ] || fail_step "the status fd stayed open after the restore (in the restored tree?)"
		case $(cat "$DIR/status.state" 2>/dev/null) in
		S | R | T | t) ;;
		*) fail_step "the status byte came before process $PID existed: '$(cat "$DIR/status.state" 2>/dev/null)'" ;;
		esac
		cli_wait_state "$PID" T || fail_step "restored process not stopped with -s: $(cli_state "$PID")"
		grep -q "^Displaying restore stats:" "$DIR/cryo-restore.txt" &&
			grep -q "^Processes restored: 1" "$DIR/cryo-restore.txt" ||
			fail_step "restore --display-stats printed no stats: $(cat "$DIR/cryo-restore.txt")"
		[ -s "$img/restore.log.$PID" ] || fail_step "--log-pid wrote no restore.log.$PID"
		kill -CONT "$PID"
		check
	fi
	kill_leftovers
	report cli-runtime "$t0"
}
register_case cli-runtime cli_runtime_case

# --timeout bounds the freeze: a process that cannot stop (a vfork parent) fails the dump in
# about the time given, and goes on untouched.
cli_timeout_case() {
	local t0 dir start end p
	t0=$(now)
	cli_setup cli-timeout
	dir=$DIR
	setsid -f "$BUILD/tools/closefds" "$BUILD/tools/vfork_hold" "$dir" 6 </dev/null >/dev/null 2>&1
	for ((p = 0; p < 100; p++)); do
		[ -s "$dir/pid" ] && break
		sleep 0.02
	done
	PID=$(cat "$dir/pid" 2>/dev/null)
	if [ -z "$PID" ]; then
		fail_step "vfork_hold did not start"
	else
		sleep 0.2
		start=$(date +%s%N)
		cli_run dump dump -t "$PID" -D "$DIR/img" --timeout 1 -v4 -o dump.log
		end=$(date +%s%N)
		local ms=$(((end - start) / 1000000))
		if [ $RC = 0 ]; then
			fail_step "the dump of a vfork parent succeeded"
		elif [ $ms -gt 3500 ]; then
			fail_step "--timeout 1 took ${ms} ms"
		elif ! grep -q "did not stop within 1 s (--timeout" "$DIR/cryo-dump.txt"; then
			fail_step "no timeout message: $(tail -n 2 "$DIR/cryo-dump.txt")"
		else
			for ((p = 0; p < 200; p++)); do
				[ -e "$dir/done" ] && break
				sleep 0.05
			done
			[ -e "$dir/done" ] || fail_step "the vfork parent did not go on after the failed dump"
		fi
	fi
	kill_leftovers
	report cli-timeout "$t0"
}
register_case cli-timeout cli_timeout_case
