/* The lazy restore's protocol: `cryo restore --lazy-pages` hands each task's memory over to
 * `cryo lazy-pages` (pages/lazy_server.c) on the unix stream socket lazy-pages.socket of the
 * images directory. Every message is a header {type, pid, nr_ranges, nr_runs} and then
 * nr_ranges lazy_range and nr_runs lazy_run records (native byte order: both ends run on
 * this machine). The restore sends:
 *   TASK  pid  with two descriptors or more (SCM_RIGHTS, on the header's bytes): the task's
 *              userfaultfd (its ranges registered in MISSING mode) and its page image(s) as
 *              plain images (pages/read.h: page i at IMG_RAW_HDR + 4096 * i): one, or one per
 *              level of a chain of parent image sets, which the restore does not merge for a
 *              lazy restore (res/parent.c). ranges: the registered ranges; runs: where each
 *              run of pages is: in image off >> LAZY_LEVEL_SHIFT, at off's lower bits, or
 *              (LAZY_LEVEL_REMOTE) at the dump --lazy-pages the daemon fetches from
 *   DONE       every task is sent (no descriptor, no records)
 * and the daemon answers every message with a lazy_ack {status: 0 or an errno}. A TASK
 * that is acknowledged is the daemon's: the restore closes its own copy of the descriptor and
 * lets the task run. Everything is checked by the daemon (counts, order, page alignment,
 * every run inside a range and inside the image, the descriptors' kinds). */
#ifndef CRYO_PAGES_LAZY_PROTO_H
#define CRYO_PAGES_LAZY_PROTO_H

#include <stdint.h>

#define LAZY_SOCKET "lazy-pages.socket"
#define LAZY_RANGES_MAX 65536	 /* registered ranges of one task (the VMA limit) */
#define LAZY_RUNS_MAX (1u << 22) /* runs of one task */
#define LAZY_PID_MAX 4194304	 /* PID_MAX_LIMIT */
#define LAZY_IMAGES_MAX 65	 /* page images of one task: a chain of 64 parents and itself */
#define LAZY_LEVEL_SHIFT 56	 /* lazy_run.off: the image's index in its top byte */
/* lazy_run.off of a run a dump --lazy-pages left in its tree (pages/lazy_remote.h): this
 * "level", and in the lower bits the run's address in the source task (it is where the
 * daemon asks the source for it, wherever mremap moves the pages later) */
#define LAZY_LEVEL_REMOTE 0xffull
#define LAZY_REMOTE_OFF(vaddr) ((LAZY_LEVEL_REMOTE << LAZY_LEVEL_SHIFT) | (vaddr))

enum lazy_type {
	LAZY_TASK = 1,
	LAZY_DONE,
};

struct lazy_hdr {
	uint32_t type;
	uint32_t pid;
	uint32_t nr_ranges;
	uint32_t nr_runs;
};

struct lazy_range {
	uint64_t start, end;
};

struct lazy_run {
	uint64_t vaddr;
	uint64_t nr_pages;
	uint64_t off; /* bytes into the image's data (IMG_RAW_HDR not counted), the image's
		       * index (0: the first page image sent) << LAZY_LEVEL_SHIFT */
};

struct lazy_ack {
	int32_t status;
	uint32_t pad;
};

#endif
