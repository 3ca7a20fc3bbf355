# Post-copy migration as users of the original tool make it, the case `remote-lazy-chain`
# (sourced by tests/run.sh; uses remote_lazy.sh's rl_* helpers, predump.sh's predump_* and
# page_server.sh's ps_*): pre-dumps with write tracking, then `dump --lazy-pages --port P
# --track-mem --prev-images-dir ../LAST`, which leaves in the frozen tree only the pages
# written since the last pre-dump; `cryo lazy-pages --page-server` then takes every other
# page from the parents' images at the restore side and fetches those from the source.
#
#  remote-lazy-chain1   the predump program (a 16 MiB area, each page a pattern of its index
#                       and version): one pre-dump, a phase that rewrites every 7th page, the
#                       lazy final dump. Its pagemap stores exactly the rewritten pages of the
#                       area (holes in its image) and says the rest are in the parent; the
#                       daemon takes fewer than the unchanged ones from the source; the
#                       restored program checks every page (PASS), the daemon and the dump
#                       end 0, the dumped tree is gone
#  remote-lazy-chain2   the same over two pre-dumps (the second over the first), the final
#                       dump with --auto-dedup as well
#  remote-lazy-chain-big lazy_big (256 MiB read by four threads at once) pre-dumped, then the
#                       lazy final dump: fewer than 1024 pages come from the source, the rest
#                       from the parent's image; the restored test checks every page
#  remote-lazy-chain-ps the pre-dump sent to a page server whose directory is the restore
#                       side's (its parent there); the lazy dump's images copied beside it
#  remote-lazy-chain-bad a parent that is missing or does not match: the dump refuses a
#                       missing --prev-images-dir or one that holds no image set, the tree
#                       untouched; at the restore side a parent gone, one whose page image
#                       lost a page, one that is itself a dump --lazy-pages (its pages are
#                       holes): each restore fails naming it and creates nothing, the dump
#                       fails and resumes its tree, its tracking as it was; a client asking
#                       the dump for a page in the parent fails it too; the same dump then
#                       restores every page

RLC_PORT=27191

# rlc_predumps N: pre-dumps 1..N of $PID into $DIR/1.. (each over the one before), a phase of
# writes after each; sets TOTAL and CHANGED (of the last phase)
rlc_predumps() {
	local n=$1 k prev
	TOTAL=$(awk '{ print $2 }' "$DIR/work/area.txt")
	for ((k = 1; k <= n; k++)); do
		prev=
		[ "$k" -gt 1 ] && prev="--prev-images-dir ../$((k - 1))"
		mkdir -p "$DIR/$k"
		# shellcheck disable=SC2086
		cryo "pre-dump-$k" pre-dump -t "$PID" -D "$DIR/$k" -v4 -o dump.log $prev
		[ $RC = 0 ] || fail_step "pre-dump $k exited $RC: $(tail -n1 "$DIR/cryo-pre-dump-$k.txt")" || return 1
		predump_after "pre-dump $k" || return 1
		predump_phase "$k" || return 1
	done
}

# rlc_check_images IMG PARENT: the lazy final dump in IMG stores only the rewritten pages of
# the area, as holes, and names PARENT
rlc_check_images() {
	local img=$1 parent=$2 counts size used
	counts=$(predump_count "$img")
	[ "$counts" = "$CHANGED $((TOTAL - CHANGED))" ] ||
		fail_step "the lazy final dump stores '$counts' pages of the area, expected '$CHANGED $((TOTAL - CHANGED))'" || return 1
	[ "$(readlink "$img/parent")" = "$parent" ] ||
		fail_step "the lazy final dump's parent link is '$(readlink "$img/parent")'" || return 1
	size=$(stat -c %s "$img/pages-$PID.img")
	used=$(($(stat -c %b "$img/pages-$PID.img") * 512))
	[ "$used" -lt $((size / 2 + 65536)) ] ||
		fail_step "pages-$PID.img stores $used of its $size bytes: the memory left in the tree was written" || return 1
}

# rlc_served: after rl_restore_side ... check: the restored program passed, the daemon and the
# dump ended 0, the task's unchanged pages came from the parents (the daemon says how many it
# had to take from the source)
rlc_served() {
	local from
	rl_side_wait
	rl_dump_wait
	[ "$(cat "$DIR/side-restore.rc" 2>/dev/null)" = 0 ] ||
		fail_step "restore --lazy-pages failed: $(tail -n 2 "$DIR/cryo-restore.txt")" || return 1
	grep -qx PASS "$DIR/out.txt" ||
		fail_step "the restored program: $(grep -m1 '^FAIL' "$DIR/out.txt" | head -c 300)" || return 1
	[ "$(cat "$DIR/side-lazy.rc" 2>/dev/null)" = 0 ] ||
		fail_step "lazy-pages exited $(cat "$DIR/side-lazy.rc"): $(tail -n 2 "$DIR/img/lazy.log")" || return 1
	[ "$RL_RC" = 0 ] || fail_step "the dump exited $RL_RC: $(tail -n 2 "$DIR/cryo-dump.txt")" || return 1
	from=$(sed -n "s/.*lazy-pages: task $PID: [0-9]* pages to come in [0-9]* ranges (\([0-9]*\) from the dumped tree.*/\1/p" \
		"$DIR/img/lazy.log")
	[ -n "$from" ] && [ "$from" -ge "$CHANGED" ] && [ "$from" -lt $((TOTAL - CHANGED)) ] ||
		fail_step "the daemon takes '$from' pages of task $PID from the source ($CHANGED of its area rewritten, $((TOTAL - CHANGED)) not)" ||
		return 1
	grep -q "lazy-pages: task $PID: .*the others from $((RLC_LEVELS + 1)) page image(s)" "$DIR/img/lazy.log" ||
		fail_step "the daemon was not sent $((RLC_LEVELS + 1)) page images of task $PID" || return 1
	wait_gone "$PID" 5 || fail_step "the dumped tree $PID runs on after the served dump"
}

rlc_chain() {
	local n=$1 dedup='' before after
	local RL_PORT=$RLC_PORT RLC_LEVELS=$1
	start_test "$PREDUMP_PROG" || return
	rlc_predumps "$n" || return
	[ "$n" -gt 1 ] && dedup=--auto-dedup
	before=$(stat -c %b "$DIR/1/pages-$PID.img")
	RL_DUMP_OPTS="--track-mem --prev-images-dir ../$n $dedup" rl_dump || return
	alive "$PID" || fail_step "the tree died while its pages are served" || return
	rlc_check_images "$DIR/img" "../$n" || return
	rl_restore_side "$RL_PORT" check
	rlc_served || return
	if [ -n "$dedup" ]; then
		# once the dump is complete: the first pre-dump loses the pages rewritten since
		after=$(stat -c %b "$DIR/1/pages-$PID.img")
		[ "$after" -lt "$before" ] ||
			fail_step "--auto-dedup punched nothing out of the first pre-dump ($before -> $after blocks)" || return
	fi
}

# lazy_big (256 MiB, read by four threads at once as soon as it runs) pre-dumped, then the
# lazy final dump: nothing of its area was written since, so almost nothing comes from the
# source; the faults and the background push take its pages from the parent's image
rlc_big() {
	local RL_PORT=$RLC_PORT from
	start_test lazy_big || return
	mkdir -p "$DIR/1"
	cryo pre-dump pre-dump -t "$PID" -D "$DIR/1" -v4 -o dump.log
	[ $RC = 0 ] || fail_step "the pre-dump exited $RC" || return
	RL_DUMP_OPTS="--track-mem --prev-images-dir ../1" rl_dump || return
	rl_restore_side "$RL_PORT" check
	rl_side_wait
	rl_dump_wait
	[ "$(cat "$DIR/side-restore.rc" 2>/dev/null)" = 0 ] ||
		fail_step "restore --lazy-pages failed: $(tail -n 2 "$DIR/cryo-restore.txt")" || return
	grep -qx PASS "$DIR/out.txt" ||
		fail_step "the restored test: $(grep -m1 '^FAIL' "$DIR/out.txt" | head -c 300)" || return
	[ "$(cat "$DIR/side-lazy.rc" 2>/dev/null)" = 0 ] ||
		fail_step "lazy-pages exited $(cat "$DIR/side-lazy.rc"): $(tail -n 2 "$DIR/img/lazy.log")" || return
	[ "$RL_RC" = 0 ] || fail_step "the dump exited $RL_RC: $(tail -n 2 "$DIR/cryo-dump.txt")" || return
	from=$(sed -n "s/.*lazy-pages: task $PID: [0-9]* pages to come in [0-9]* ranges (\([0-9]*\) from the dumped tree.*/\1/p" \
		"$DIR/img/lazy.log")
	[ -n "$from" ] && [ "$from" -lt 1024 ] ||
		fail_step "the daemon takes '$from' pages from the source, of an area not written since the pre-dump" || return
	wait_gone "$PID" 5 || fail_step "the dumped tree $PID runs on after the served dump"
}

# the pre-dump through a page server: the source side in $DIR/src (the pre-dump's pagemaps and
# inventory, no pages), the restore side's directory $DIR with the server's 1/ and the lazy
# dump's images copied into img/ (its link ../1 names the server's)
rlc_page_server() {
	local RL_PORT=$RLC_PORT RLC_LEVELS=1 f
	start_test "$PREDUMP_PROG" || return
	TOTAL=$(awk '{ print $2 }' "$DIR/work/area.txt")
	mkdir -p "$DIR/src/1"
	ps_start "$DIR/1" || return
	cryo pre-dump-ps pre-dump -t "$PID" -D "$DIR/src/1" -v4 -o dump.log --page-server \
		--address 127.0.0.1 --port "$PS_PORT"
	[ $RC = 0 ] || fail_step "pre-dump through the page server exited $RC" || return
	ps_finished "$DIR/1" || return
	ls "$DIR/src/1"/pages-*.img >/dev/null 2>&1 && fail_step "the pre-dump wrote pages locally" && return
	predump_after "the pre-dump" || return
	predump_phase 1 || return
	RL_DUMP_DIR=$DIR/src/img RL_DUMP_OPTS="--track-mem --prev-images-dir ../1" rl_dump || return
	alive "$PID" || fail_step "the tree died while its pages are served" || return
	mkdir -p "$DIR/img"
	for f in "$DIR"/src/img/*.img; do
		cp --sparse=always "$f" "$DIR/img/"
	done
	cp -P "$DIR/src/img/parent" "$DIR/img/parent"
	rlc_check_images "$DIR/img" ../1 || return
	rl_restore_side "$RL_PORT" check
	rlc_served
}

# rlc_refused_restore WHAT PATTERN: a restore side whose parent is broken (the caller broke
# it): the restore fails saying PATTERN and creates nothing, the daemon ends 1, the dump fails
# (its daemon went before DONE) and resumes its tree
rlc_refused_restore() {
	local what=$1 pattern=$2
	rl_restore_side "$RL_PORT" check
	rl_side_wait
	rl_dump_wait
	[ "$(cat "$DIR/side-restore.rc" 2>/dev/null)" = 1 ] ||
		fail_step "the restore with $what exited $(cat "$DIR/side-restore.rc")" || return 1
	grep -q -- "$pattern" "$DIR/cryo-restore.txt" ||
		fail_step "the restore with $what does not say '$pattern': $(grep -m1 -i error "$DIR/cryo-restore.txt")" ||
		return 1
	grep -q "creating the tree" "$DIR/img/restore.log" &&
		fail_step "the restore with $what created its tree" && return 1
	[ -f "$DIR/side-alive" ] && fail_step "the restore with $what left its task" && return 1
	[ "$(cat "$DIR/side-lazy.rc" 2>/dev/null)" = 1 ] ||
		fail_step "lazy-pages exited $(cat "$DIR/side-lazy.rc") after the restore with $what" || return 1
	[ "$RL_RC" = 1 ] || fail_step "the dump exited $RL_RC after the restore with $what" || return 1
	[ -f "$DIR/img/inventory.img" ] && fail_step "the failed dump left its inventory" && return 1
	alive "$PID" || fail_step "the tree died after the restore with $what" || return 1
	predump_after "the failed dump" || return 1
	[ "$(predump_uffds "$PID")" = 1 ] ||
		fail_step "the failed dump changed the tracking ($(predump_uffds "$PID") userfaultfds)" || return 1
}

rlc_bad() {
	local RL_PORT=$RLC_PORT
	start_test "$PREDUMP_PROG" || return
	rlc_predumps 1 || return
	# at the dump: a parent that is not there, one that holds no image set
	mkdir -p "$DIR/nop" "$DIR/empty"
	cryo missing dump -t "$PID" -D "$DIR/nop" --lazy-pages --address 127.0.0.1 --port "$RL_PORT" \
		--track-mem --prev-images-dir ../gone
	[ $RC = 1 ] && grep -q -- "--prev-images-dir ../gone: cannot open it" "$DIR/cryo-missing.txt" ||
		fail_step "dump --lazy-pages with a missing parent: exit $RC: $(tail -n1 "$DIR/cryo-missing.txt")" || return
	grep -q "dump of process $PID failed before it was touched" "$DIR/cryo-missing.txt" ||
		fail_step "the refused dump touched the tree" || return
	cryo empty dump -t "$PID" -D "$DIR/nop" --lazy-pages --address 127.0.0.1 --port "$RL_PORT" \
		--track-mem --prev-images-dir ../empty
	[ $RC = 1 ] && grep -q "prev-images-dir ../empty holds no complete image set" "$DIR/cryo-empty.txt" ||
		fail_step "dump --lazy-pages over an empty parent: exit $RC: $(tail -n1 "$DIR/cryo-empty.txt")" || return
	# what is still refused, by name
	cryo lzps dump -t "$PID" -D "$DIR/nop" --lazy-pages --port "$RL_PORT" --page-server \
		--address 127.0.0.1 --track-mem --prev-images-dir ../1
	[ $RC = 1 ] && grep -q "not supported yet" "$DIR/cryo-lzps.txt" ||
		fail_step "dump --lazy-pages --page-server: exit $RC: $(tail -n1 "$DIR/cryo-lzps.txt")" || return
	[ -e "$DIR/nop/inventory.img" ] && fail_step "a refused dump left an inventory" && return
	predump_after "the refused dumps" || return
	[ "$(predump_uffds "$PID")" = 1 ] ||
		fail_step "a refused dump changed the tracking ($(predump_uffds "$PID") userfaultfds)" || return

	# at the restore side: the parent gone
	RL_DUMP_OPTS="--track-mem --prev-images-dir ../1" rl_dump || return
	mv "$DIR/1" "$DIR/1.away"
	rlc_refused_restore "its parent gone" "cannot open the parent image set ../1" || return
	mv "$DIR/1.away" "$DIR/1"
	# its page image one page short of its pagemap (kept aside, put back after)
	cp --sparse=always "$DIR/1/pages-$PID.img" "$DIR/pages.keep"
	truncate -s -4096 "$DIR/1/pages-$PID.img"
	RL_DUMP_OPTS="--track-mem --prev-images-dir ../1" rl_dump || return
	rlc_refused_restore "a parent short of a page" "pages-$PID.img of level 1 holds" || return
	mv "$DIR/pages.keep" "$DIR/1/pages-$PID.img"
	# a parent that is itself a dump --lazy-pages: its pages are holes
	RL_DUMP_OPTS="--track-mem --prev-images-dir ../1" rl_dump || return
	rm -rf "$DIR/lazy"
	mkdir -p "$DIR/lazy"
	cp --sparse=always "$DIR"/img/*.img "$DIR/lazy/"
	ln -sfn ../lazy "$DIR/img/parent"
	rlc_refused_restore "a parent made by dump --lazy-pages" \
		"the parent image set of level 1 was made by a dump --lazy-pages" || return
	# a client asking the dump for a page it found unchanged since the pre-dump (page 0 of
	# the area: the phase rewrote every 7th from page 1): the parents' at the restore side,
	# never served; the dump fails naming the request and resumes its tree
	RL_DUMP_OPTS="--track-mem --prev-images-dir ../1" rl_dump || return
	rl_ask "$(awk '{ print $1 }' "$DIR/work/area.txt")"
	rl_dump_wait
	[ "$RL_RC" = 1 ] || fail_step "the dump exited $RL_RC after a request for a page in its parent" || return
	grep -q "asked for 1 pages of task $PID at $(printf '%#x' "$(awk '{ print $1 }' "$DIR/work/area.txt")"): not memory this dump left" \
		"$DIR/img/dump.log" ||
		fail_step "the dump did not name the request for a page in its parent: $(grep -m1 Error "$DIR/img/dump.log")" || return
	[ -f "$DIR/img/inventory.img" ] && fail_step "the failed dump left its inventory" && return
	predump_after "the failed dump" || return
	# the tracking is as it was: the same dump over the same parent, with the parent link
	# right, now restores every page
	rm -rf "$DIR/lazy"
	local RLC_LEVELS=1
	RL_DUMP_OPTS="--track-mem --prev-images-dir ../1" rl_dump || return
	rlc_check_images "$DIR/img" ../1 || return
	rl_restore_side "$RL_PORT" check
	rlc_served
}

rlc_case() {
	run_sub_case remote-lazy-chain1 rlc_chain 1
	rl_cleanup
	run_sub_case remote-lazy-chain2 rlc_chain 2
	rl_cleanup
	run_sub_case remote-lazy-chain-big rlc_big
	rl_cleanup
	run_sub_case remote-lazy-chain-ps rlc_page_server
	rl_cleanup
	run_sub_case remote-lazy-chain-bad rlc_bad
	rl_cleanup
}

register_case remote-lazy-chain rlc_case
