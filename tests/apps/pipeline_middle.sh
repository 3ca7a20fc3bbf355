# The middle of a shell pipeline, checkpointed alone: `seq | sed | awk` where only sed is
# dumped. Its two pipes are held outside the dumped tree (by seq and awk), so it is dumped
# with --external for both and restored with --inherit-fd for both; the case holds an end of
# each meanwhile (a read end of seq's pipe, a write end of awk's), as a supervisor that
# restarts the middle of a pipeline would, so that neither neighbour sees the pipe end. The
# data keeps flowing: awk sees every line exactly once, in order. sed's session leader (the
# pipeline's bash) is outside the tree: it is a job (--shell-job), restored into the session
# of the cryo that restores it.

app_pipeline_middle() {
	local n=6000000 sed_pid c r1 w2 k1 k2
	app_begin pipeline-middle
	app_packages sed coreutils mawk || return
	app_start bash -c "seq 1 $n | sed 's/^/x/' | awk '{ if (\$0 != \"x\" NR) bad++ } END { print NR, bad + 0 }' >out"
	sleep 0.5
	for c in $(cat /proc/"$PID"/task/"$PID"/children 2>/dev/null); do
		[ "$(cat /proc/"$c"/comm 2>/dev/null)" = sed ] && sed_pid=$c
	done
	[ -n "$sed_pid" ] || fail_step "no sed in the pipeline at the checkpoint"
	if [ -z "$REASON" ]; then
		exec {r1}<"/proc/$sed_pid/fd/0" {w2}>"/proc/$sed_pid/fd/1"
		k1=$(readlink "/proc/self/fd/$r1")
		k2=$(readlink "/proc/self/fd/$w2")
		local pid=$PID
		PID=$sed_pid
		SHELL_JOB=--shell-job
		dump "$DIR/img" --external "$k1" --external "$k2" && gone_after_dump
		SHELL_JOB=
		if [ -z "$REASON" ]; then
			CLOSEFDS_KEEP="7 8" "$BUILD/tools/closefds" timeout --foreground -k 5 \
				"$CRYO_TIMEOUT" "$CRYO" restore -D "$DIR/img" -d -v4 -o restore.log --shell-job \
				--inherit-fd "fd[7]:$k1" --inherit-fd "fd[8]:$k2" 7<&"$r1" 8>&"$w2" \
				>"$DIR/cryo-restore.txt" 2>&1 </dev/null
			RC=$?
			[ $RC = 0 ] || fail_step "cryo restore exited $RC: $(grep Error "$DIR/cryo-restore.txt" | head -c 300)"
		fi
		exec {r1}<&- {w2}>&-
		[ -z "$REASON" ] && { alive "$sed_pid" || fail_step "the restored sed is not running"; }
		PID=$pid
	fi
	[ -z "$REASON" ] && app_wait_exit 60
	if [ -z "$REASON" ] && [ "$(cat "$DIR/out" 2>/dev/null)" != "$n 0" ]; then
		fail_step "awk saw '$(cat "$DIR/out" 2>/dev/null)', not every line once ('$n 0'); stderr: $(head -c 200 "$DIR/stderr")"
	fi
	app_end
}
register_case app-pipeline-middle app_pipeline_middle
