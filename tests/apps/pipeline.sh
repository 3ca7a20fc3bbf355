# A shell pipeline of Debian's coreutils and gzip, checkpointed in the middle of its work:
# bash and its three children talk through two pipes with bytes in flight (and the pipes'
# buffers full). The restored pipeline finishes, and its output is an uninterrupted run's.

app_pipeline() {
	local cmd='seq 1 30000000 | gzip -1 -n | sha256sum >out'
	app_begin pipeline
	app_packages gzip coreutils || return
	(cd "$DIR" && bash -c "${cmd/>out/>ref}")
	app_start bash -c "$cmd"
	sleep 0.5
	alive "$PID" || fail_step "the pipeline finished before the checkpoint: make it longer"
	[ -z "$REASON" ] && [ "$(cat /proc/"$PID"/task/"$PID"/children 2>/dev/null | wc -w)" != 3 ] &&
		fail_step "the pipeline does not have its three processes at the checkpoint"
	[ -z "$REASON" ] && app_checkpoint
	[ -z "$REASON" ] && app_wait_exit 60
	if [ -z "$REASON" ] && ! cmp -s "$DIR/out" "$DIR/ref"; then
		fail_step "the restored pipeline's output differs from an uninterrupted run's ($(cat "$DIR/out" 2>/dev/null) vs $(cat "$DIR/ref"); stderr: $(head -c 200 "$DIR/stderr"))"
	fi
	app_end
}
register_case app-pipeline app_pipeline
