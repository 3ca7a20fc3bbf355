# The images-dir cases of tests/run.sh (sourced by it; uses its helpers and counters).
#
# cryo runs as root and writes into an images directory that another user (nobody) owns and
# may have filled with links: a symlink (or hard link) named like an image, a log or a
# subdirectory, pointing at a root-owned file outside. cryo must never write (or read) through
# such a link: the victim file keeps its content and its mtime, a planted symlink is refused
# (and left where it is), and a dump that refuses leaves its target running and intact. A
# hard link only loses its name (the dump may go on). Each case is counted as one test named images-dir/CASE.

IDIR_PROG=counter

# idir_victim NAME: a root-owned file outside the images directory, known content, old mtime.
idir_victim() {
	local f=$DIR/outside/$1
	mkdir -p "$DIR/outside"
	echo "precious $1, not cryo's" >"$f"
	touch -d @1000000000 "$f"
	stat -c '%s %Y %y %h' "$f" >"$f.stat"
	echo "$f"
}

# idir_intact FILE: the victim's content and times are what idir_victim left.
idir_intact() {
	local f=$1 name
	name=${f##*/}
	if [ "$(cat "$f" 2>/dev/null)" != "precious $name, not cryo's" ]; then
		fail_step "victim $name was written through a link: $(head -c 60 "$f" 2>&1 | tr -c '[:print:]' '.')"
		return 1
	fi
	if [ "$(stat -c '%s %Y %y %h' "$f")" != "$(cat "$f.stat")" ]; then
		fail_step "victim $name changed: $(stat -c '%s %Y %y %h' "$f"), was $(cat "$f.stat")"
		return 1
	fi
}

# The images directory belongs to nobody, as do the links planted in it.
idir_imgdir() {
	mkdir -p "$DIR/img"
	chown 65534:65534 "$DIR/img"
}

# idir_plant LINK TARGET: a symlink owned by nobody.
idir_plant() {
	ln -sfn "$1" "$2"
	chown -h 65534:65534 "$2"
}

# idir_refused WHAT NAME LINK: a symlink is never removed or replaced, and the dump refuses.
idir_refused() {
	[ -L "$3" ] || fail_step "$1: the planted link $3 was removed or replaced" || return 1
	[ $RC != 0 ] || fail_step "$1: the dump succeeded" || return 1
	idir_after_dump "$1" "$2"
}

# idir_after_dump WHAT NAME: after a dump that met a planted NAME, the target is still running
# when the dump failed (and then the message names NAME), and passes its check.
idir_after_dump() {
	local what=$1 name=$2
	if [ $RC != 0 ]; then
		[ $RC -lt 128 ] || fail_step "$what: cryo crashed (exit $RC)" || return 1
		grep -qF "$name" "$DIR/cryo-dump.txt" ||
			fail_step "$what: the message does not name $name: $(head -c 300 "$DIR/cryo-dump.txt")" ||
			return 1
		alive "$PID" || fail_step "$what: target $PID gone after the failed dump" || return 1
		check
	fi
}

# A symlink named like one of the images of a dump, to a root-owned file outside.
idir_dump_link() {
	local what=$1 name victim
	start_test "$IDIR_PROG" || return 1
	idir_imgdir
	name=${what//PID/$PID}
	victim=$(idir_victim "$name")
	idir_plant "$victim" "$DIR/img/$name"
	cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o "$DIR/dump.log"
	idir_intact "$victim" || return 1
	idir_refused "symlink $name" "$name" "$DIR/img/$name"
}

# A hard link to the victim (same filesystem), named like an image.
case_idir_hardlink() {
	local victim
	start_test "$IDIR_PROG" || return 1
	idir_imgdir
	victim=$(idir_victim "core-$PID.img")
	ln "$victim" "$DIR/img/core-$PID.img"
	cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o "$DIR/dump.log"
	idir_intact "$victim" || return 1
	idir_after_dump "hard link core-$PID.img" "core-$PID.img"
}

# Ghost images: the `files` test holds deleted files, saved as ghost-N.img.
case_idir_ghost() {
	local v0 v1
	start_test files || return 1
	idir_imgdir
	v0=$(idir_victim ghost-0.img)
	v1=$(idir_victim ghost-1.img)
	idir_plant "$v0" "$DIR/img/ghost-0.img"
	idir_plant "$v1" "$DIR/img/ghost-1.img"
	cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o "$DIR/dump.log"
	idir_intact "$v0" && idir_intact "$v1" || return 1
	idir_refused "symlink ghost-0.img" ghost-0.img "$DIR/img/ghost-0.img"
}

# The log, relative to the images directory: dump.log itself a symlink.
case_idir_log_link() {
	local victim
	start_test "$IDIR_PROG" || return 1
	idir_imgdir
	victim=$(idir_victim dump.log)
	idir_plant "$victim" "$DIR/img/dump.log"
	cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o dump.log
	idir_intact "$victim" || return 1
	idir_refused "symlink dump.log" dump.log "$DIR/img/dump.log"
}

# The log in a subdirectory of the images directory that is a symlink to a root directory.
case_idir_log_subdir() {
	local victim
	start_test "$IDIR_PROG" || return 1
	idir_imgdir
	victim=$(idir_victim dump.log)
	idir_plant "$DIR/outside" "$DIR/img/sub"
	cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o sub/dump.log
	idir_intact "$victim" || return 1
	[ ! -e "$DIR/outside/stats-dump.img" ] ||
		fail_step "cryo wrote into the directory the link sub points to" || return 1
	idir_refused "symlinked directory sub/" sub/dump.log "$DIR/img/sub"
}

# An absolute -o whose last component is a symlink: the user's path, but not the link's.
case_idir_log_absolute() {
	local victim
	start_test "$IDIR_PROG" || return 1
	idir_imgdir
	victim=$(idir_victim dump.log)
	mkdir -p "$DIR/logs"
	chown 65534:65534 "$DIR/logs"
	idir_plant "$victim" "$DIR/logs/dump.log"
	cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o "$DIR/logs/dump.log"
	idir_intact "$victim" || return 1
	idir_refused "absolute -o through a symlink" dump.log "$DIR/logs/dump.log"
}

# A good dump for the restore cases; sets PID, kept in $DIR/img.
idir_good_dump() {
	start_test "$IDIR_PROG" || return 1
	idir_imgdir
	cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o dump.log
	[ $RC = 0 ] || fail_step "the good dump failed (exit $RC)" || return 1
	gone_after_dump
}

# idir_restore_refused WHAT: the last restore failed cleanly and left no process behind.
idir_restore_refused() {
	[ $RC != 0 ] || fail_step "$1: the restore succeeded" || return 1
	[ $RC -lt 128 ] || fail_step "$1: cryo crashed (exit $RC)" || return 1
	! alive "$PID" || fail_step "$1: process $PID left after the failed restore" || return 1
}

# restore -o restore.log with restore.log planted as a symlink; then, the link gone, the same
# images restore and pass: the refusal came from the link.
case_idir_restore_log() {
	local victim
	idir_good_dump || return 1
	victim=$(idir_victim restore.log)
	idir_plant "$victim" "$DIR/img/restore.log"
	cryo restore restore -D "$DIR/img" -d -v4 -o restore.log --pidfile "$DIR/restored.pid"
	idir_intact "$victim" || return 1
	idir_restore_refused "symlink restore.log" || return 1
	rm -f "$DIR/img/restore.log"
	restore "$DIR/img" && check
}

# An image read through a symlink: core-PID.img moved out and linked back. Reading is refused
# too (nothing beneath the images directory is followed); put back, it restores and passes.
case_idir_restore_image() {
	idir_good_dump || return 1
	mkdir -p "$DIR/outside"
	mv "$DIR/img/core-$PID.img" "$DIR/outside/"
	idir_plant "$DIR/outside/core-$PID.img" "$DIR/img/core-$PID.img"
	cryo restore restore -D "$DIR/img" -d -v4 -o restore.log --pidfile "$DIR/restored.pid"
	idir_restore_refused "symlink core-$PID.img" || return 1
	grep -qF "core-$PID.img" "$DIR/cryo-restore.txt" ||
		fail_step "the message does not name core-$PID.img" || return 1
	rm -f "$DIR/img/core-$PID.img"
	mv "$DIR/outside/core-$PID.img" "$DIR/img/"
	restore "$DIR/img" && check
}

idir_case() {
	local name=$1
	shift
	run_sub_case "images-dir/$name" "$@"
}

images_dir_cases() {
	local n
	for n in core-PID.img mm-PID.img pagemap-PID.img files-PID.img pages-PID.img pstree.img \
		stats-dump.img inventory.img; do
		idir_case "dump-link-${n//-PID/}" idir_dump_link "$n"
	done
	idir_case dump-hardlink case_idir_hardlink
	idir_case dump-ghost case_idir_ghost
	idir_case dump-log-link case_idir_log_link
	idir_case dump-log-subdir case_idir_log_subdir
	idir_case dump-log-absolute case_idir_log_absolute
	idir_case restore-log-link case_idir_restore_log
	idir_case restore-image-link case_idir_restore_image
}
register_case images-dir images_dir_cases
