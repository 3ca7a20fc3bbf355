# Debian's ffmpeg transcoding a video made here (testsrc2 in MPEG-4 and a sine in PCM, in
# Matroska) to H.264 (libx264, its worker and lookahead threads) and Opus, muxed in NUT into
# a pipe; tee keeps the stream and hands it on to a second ffmpeg that decodes it and writes
# the MD5 of every frame. The pipeline is checkpointed in the middle (bytes in flight in both
# pipes, the encoder's frames in its lookahead), restored, and left to finish: the stream and
# the frames' sums must be byte for byte those of a run that was never interrupted.
app_ffmpeg() {
	local cmd='ffmpeg -nostdin -v error -threads 2 -i input.mkv -map 0 -c:v libx264 -preset veryfast -threads 2 -c:a libopus -b:a 96k -fflags +bitexact -flags:v +bitexact -flags:a +bitexact -f nut pipe:1 | tee stream.nut | ffmpeg -nostdin -v error -f nut -i pipe:0 -f framemd5 pipe:1 >frames.txt'
	app_begin ffmpeg
	app_packages ffmpeg || return
	(cd "$DIR" && ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=640x360:rate=25 \
		-f lavfi -i sine=frequency=440:sample_rate=48000 -t 40 -c:v mpeg4 -q:v 3 \
		-c:a pcm_s16le input.mkv) >"$DIR/input.txt" 2>&1 ||
		fail_step "making the input: $(head -c 300 "$DIR/input.txt")"
	if [ -z "$REASON" ]; then
		(cd "$DIR" && bash -c "${cmd//>frames.txt/>ref-frames.txt}" && mv stream.nut ref-stream.nut) \
			>"$DIR/ref.txt" 2>&1 || fail_step "the uninterrupted run: $(head -c 300 "$DIR/ref.txt")"
	fi
	[ -z "$REASON" ] && app_start bash -c "$cmd"
	sleep 1.5
	[ -z "$REASON" ] && ! alive "$PID" && fail_step "the pipeline finished before the checkpoint: make the input longer"
	[ -z "$REASON" ] && [ "$(cat /proc/"$PID"/task/"$PID"/children 2>/dev/null | wc -w)" != 3 ] &&
		fail_step "the pipeline does not have its three processes at the checkpoint"
	[ -z "$REASON" ] && app_checkpoint
	[ -z "$REASON" ] && app_wait_exit 60
	if [ -z "$REASON" ]; then
		if ! cmp -s "$DIR/stream.nut" "$DIR/ref-stream.nut"; then
			fail_step "the restored ffmpeg's stream differs from an uninterrupted run's ($(stat -c %s "$DIR/stream.nut" 2>/dev/null) vs $(stat -c %s "$DIR/ref-stream.nut") bytes; stderr: $(head -c 200 "$DIR/stderr"))"
		elif ! cmp -s "$DIR/frames.txt" "$DIR/ref-frames.txt"; then
			fail_step "the decoded frames differ from an uninterrupted run's: $(diff "$DIR/frames.txt" "$DIR/ref-frames.txt" | head -n 4)"
		fi
	fi
	rm -f "$DIR"/*.nut "$DIR/input.mkv"
	app_end
}
register_case app-ffmpeg app_ffmpeg
# also through a pre-dump (frames written while tracked) and checkpointed twice
app_variant predump ffmpeg
app_variant gen2 ffmpeg
