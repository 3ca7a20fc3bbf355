/* BPF iterators cryo carries (src/bpf/NAME.bpf.c, built with clang for the BPF target and
 * embedded in cryo): loaded through libbpf the first time one is run, then run as often as
 * needed, each run told what to show through the program's .bss. libbpf (libbpf.so.1) is
 * opened at run time, not linked: a machine without it only loses what needs an iterator,
 * and the caller's refusal says why. */
#ifndef CRYO_CORE_BPF_ITER_H
#define CRYO_CORE_BPF_ITER_H

#include <stdbool.h>
#include <stddef.h>

struct bpf_iter_prog {
	const char *prog;	   /* the program's name in the object */
	const char *what;	   /* what it shows, for messages ("the buffers of ...") */
	const char *needs;	   /* the kernel's iterator it needs, for messages */
	const char *obj, *obj_end; /* the embedded object */
	/* loaded once, on the first run */
	bool tried;
	int err;
	int link_fd, bss_fd;
	void *loaded; /* the program in libbpf */
	void *link;   /* its link (an iterator of every object), kept for cryo's lifetime */
};

/* Write bss (the program's .bss, whole: bss_len must be its size) then run the iterator once: its
 * whole output in *buf (the caller's to free), *len bytes. -ENOTSUP when it cannot be loaded
 * (logged, naming p->what and why), else -errno of the run (not logged: the caller says what it was
 * for). */
int bpf_iter_run(struct bpf_iter_prog *p, const void *bss, size_t bss_len, char **buf, size_t *len);

/* The same for an iterator of tasks that walks only the threads of the process of pidfd (an
 * iterator made for each run: the kernel resolves the process, whatever pid namespace cryo
 * sees it in). */
int bpf_iter_run_process(struct bpf_iter_prog *p, int pidfd, const void *bss, size_t bss_len,
			 char **buf, size_t *len);

#endif
