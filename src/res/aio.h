/* AIO contexts (io_setup): dumped with the mapping of their ring, made again in the restored
 * task (aio.c). */
#ifndef CRYO_RES_AIO_H
#define CRYO_RES_AIO_H

#include "images/cryo.pb-c.h"

struct arena;
struct dump_task;
struct restore_task;

/* The ring mapped at v->start..v->end of task t: its context checked (the task's own, no
 * request in flight) and saved into v->aio (allocated in a). -ENOTSUP (logged, naming the
 * task and the context) when it cannot be restored exactly. */
int aio_dump_ring(struct arena *a, struct dump_task *t, Vma *v);

/* The image's aio_ring of mapping v is sane (sizes, indexes): 0, or -EINVAL with *why set */
int aio_ring_check(const Vma *v, const char **why);

/* In the restored task's remote phase, once its mappings are in: the contexts of its AIO
 * rings made again (io_setup) in the order of their ids, each ring moved to its place, the
 * kernel's tail brought where it was and the ring's events and head written back. */
int aio_restore_rings(struct restore_task *t);

#endif
