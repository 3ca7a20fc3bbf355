# shellcheck shell=bash
# memfd-image: the images of memfd_exact (a 1 GiB memfd with four data pages, and three
# small ones) hold the data ranges only: memfd-*.img add up to a few pages, not the
# gigabyte; the restored program then passes its check.
# memfd-hugetlb: a hugetlb memfd (tests/progs/memfd_hugetlb.c) is refused by name, with -R and
# without; the program runs on and passes its check; no inventory.img is left.

memfd_image() {
	local t0 bytes
	t0=$(now)
	REASON=
	DIR=$OUT/memfd-image
	SHELL_JOB=
	rm -rf "$DIR"
	mkdir -p "$DIR"
	if start_test memfd_exact && dump "$DIR/img" && gone_after_dump; then
		bytes=$(cat "$DIR"/img/memfd-*.img | wc -c)
		# four pages of A, a few bytes of B and C, two pages of D, a 4 KiB header each
		if [ "$bytes" -gt $((64 * 1024)) ]; then
			fail_step "the memfd images hold $bytes bytes for a few pages of data"
		elif [ "$(stat -c %s "$DIR"/img/pages-*.img)" -gt $((1024 * 1024)) ]; then
			fail_step "the page image holds the memfd: $(stat -c %s "$DIR"/img/pages-*.img) bytes"
		else
			restore "$DIR/img" && check
		fi
	fi
	kill_leftovers
	report memfd-image "$t0"
}
register_case memfd-image memfd_image

memfd_hugetlb_one() {
	local how=$1 t0
	t0=$(now)
	REASON=
	DIR=$OUT/memfd-hugetlb/${how:-kill}
	rm -rf "$DIR"
	mkdir -p "$DIR/img"
	if start_test memfd_hugetlb; then
		cryo dump dump -t "$PID" -D "$DIR/img" -v4 -o dump.log $how
		expect_refused "a hugetlb memfd" "task $PID: fd 3 is a hugetlb memfd"
	fi
	kill_leftovers
	report "memfd-hugetlb/${how:-kill}" "$t0"
}

memfd_hugetlb() {
	memfd_hugetlb_one ""
	memfd_hugetlb_one -R
}
register_case memfd-hugetlb memfd_hugetlb
