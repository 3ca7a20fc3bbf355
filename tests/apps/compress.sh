# gzip and multi-threaded xz (xz-utils), checkpointed in the middle of compressing a file:
# the restored program finishes, and its output is byte for byte the output of a run that
# was never interrupted.

# app_compress NAME INPUT-MB CMD...: CMD compresses $DIR/input into $DIR/input.EXT
app_compress_one() {
	local name=$1 pkg=$2 mb=$3 ext=$4
	shift 4
	app_begin "$name"
	app_packages "$pkg" || return
	# numbers: compressible, but work to compress
	seq 1 $((mb * 150000)) | head -c $((mb * 1048576)) >"$DIR/input"
	(cd "$DIR" && "$@" -c input >ref.$ext)
	app_start "$@" -k input
	sleep 0.3
	alive "$PID" || fail_step "$1 finished before the checkpoint: make the input larger"
	[ -z "$REASON" ] && app_checkpoint
	[ -z "$REASON" ] && app_wait_exit 60
	if [ -z "$REASON" ] && ! cmp -s "$DIR/input.$ext" "$DIR/ref.$ext"; then
		fail_step "the restored $1's output differs from an uninterrupted run ($(stat -c %s "$DIR/input.$ext" 2>/dev/null) vs $(stat -c %s "$DIR/ref.$ext") bytes; stderr: $(head -c 200 "$DIR/stderr"))"
	fi
	rm -f "$DIR/input" "$DIR/ref.$ext" "$DIR/input.$ext"
	app_end
}

app_gzip() { app_compress_one gzip gzip 48 gz gzip -n -6; }
# xz in threaded mode holds a pipe (to wake its threads)
app_xz() { app_compress_one xz xz-utils 8 xz xz -T2 -6; }
register_case app-gzip app_gzip
register_case app-xz app_xz
