# Debian's fio with its libaio engine, as a storage benchmark runs it: random 4 KiB writes
# through an AIO context (io_setup) four deep, each block with a CRC32C header, paced at 200
# per second, then every block read back and verified. The job is checkpointed while it
# writes: its process and the job process it forks (with the System V segment they share)
# are dumped, AIO context and all, and restored. The restored job finishes: fio exits 0,
# reports no error, and its verify pass found every block it wrote intact.
app_fio() {
	app_begin fio
	app_packages fio || return
	app_start fio --name=aio --ioengine=libaio --iodepth=4 --rw=randwrite --bs=4k --size=2M \
		--filename="$DIR/blocks" --verify=crc32c --do_verify=1 --verify_fatal=1 \
		--rate_iops=200 --output-format=terse --output="$DIR/result"
	sleep 0.7
	alive "$PID" || fail_step "fio finished before the checkpoint: make the job longer"
	local p held=
	for p in "$PID" $(cat /proc/"$PID"/task/*/children 2>/dev/null); do
		grep -q "/\[aio\]" /proc/"$p"/maps 2>/dev/null && held=1
	done
	[ -z "$REASON" ] && [ -z "$held" ] &&
		fail_step "no process of the job holds an AIO context at the checkpoint"
	[ -z "$REASON" ] && app_checkpoint
	[ -z "$REASON" ] && app_wait_exit 60
	if [ -z "$REASON" ]; then
		# terse v3: field 5 is the job's error, 6.. the read side (the verify pass)
		local err reads
		err=$(cut -d';' -f5 "$DIR/result" 2>/dev/null)
		reads=$(cut -d';' -f6 "$DIR/result" 2>/dev/null)
		[ "$err" = 0 ] || fail_step "fio reports error '$err' ($(head -c 300 "$DIR/stderr"))"
		[ "${reads:-0}" -ge 2048 ] 2>/dev/null ||
			fail_step "the verify pass read ${reads:-nothing} KiB, not the 2048 written"
		grep -qi "verify" "$DIR/stderr" && fail_step "fio: $(grep -i verify "$DIR/stderr" | head -n 2)"
	fi
	app_end
}
register_case app-fio app_fio
