# shellcheck shell=bash
# unix-skb-refused: where the kernel's buffers of a stream's queue cannot be read (no libbpf:
# CRYO_TEST_LIBBPF names a library that does not exist), descriptors in flight on a stream
# (tests/progs/unix_stream_scm.c) and urgent data (tests/progs/unix_oob.c) are refused by
# name, the dump -R and the plain one alike, and each program runs on and passes its check:
# the queues as they were (the peeks consumed nothing, left no descriptor behind).

unix_skb_refused() {
	export CRYO_TEST_LIBBPF=/nonexistent/libbpf.so.1
	refusal_case unix-skb-refused/scm unix_stream_scm "cannot open libbpf" \
		"stream unix socket with descriptors in flight (SCM_RIGHTS) in its queue (pipe:\[[0-9]*\]), whose place in the bytes cannot be learnt"
	refusal_case unix-skb-refused/oob unix_oob "cannot open libbpf" \
		"unix socket with urgent data (MSG_OOB) queued, a byte not read yet, whose place cannot be learnt" \
		"unix socket with urgent data (MSG_OOB) queued, at the mark of a byte read before (SIOCATMARK)" \
		"unix socket with urgent data (MSG_OOB) queued, reads stop at byte 4 of the 8 queued, where a byte was read"
	unset CRYO_TEST_LIBBPF
}
register_case unix-skb-refused unix_skb_refused
