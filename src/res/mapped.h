/* What a dump learns about the objects behind mappings: which file a file mapping maps, and
 * which pages of a shared anonymous memory object exist. Both have an easy answer through
 * /proc/PID/map_files, which the kernel opens only to CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE
 * holders; without it, a user dumping its own processes gets them another way (mapped.c). */
#ifndef CRYO_RES_MAPPED_H
#define CRYO_RES_MAPPED_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "images/cryo.pb-c.h"

struct dump_ctx;
struct dump_task;
struct mapped_file;

/* One mapping as /proc/PID/smaps shows it */
struct mapping_id {
	uint64_t start, end;
	unsigned dev_major, dev_minor;
	uint64_t ino;
	const char *path;
	bool anon_shared;
};

/* Shared anonymous memory (MAP_SHARED | MAP_ANONYMOUS, or a mapping of /dev/zero): a shmem
 * object of its own, named so in the maps. */
static inline bool mapping_is_anon_shared(const char *perms, const char *path)
{
	return perms[3] == 's' &&
	       (!strncmp(path, "/dev/zero (deleted)", 19) || !strncmp(path, "[anon_shmem:", 12));
}

/* The file behind a mapping: device, inode and size, and a check that the mapping's path,
 * which the restore opens, leads to that very file. Files are looked up once per dump; a
 * failure is logged naming the task and the mapping. */
int mapped_file_identify(struct dump_ctx *ctx, struct dump_task *t, const struct mapping_id *m,
			 const struct mapped_file **out);

/* Where map_files is closed to cryo: the pages of each shared anonymous mapping that exist
 * in its object, asked with mincore() in the task itself (it must be stopped with its
 * remote-call area mapped). Refuses, naming the task and the mapping, what it cannot tell. */
int shmem_ask_resident(struct dump_ctx *ctx, struct dump_task *t);
/* ... one byte per page of [start, end), bit 0 set where a page exists; NULL if not asked. */
const uint8_t *shmem_resident(const struct dump_task *t, uint64_t start, uint64_t end);

/* Every shared anonymous object of the tree (map_files open to cryo): data in it that no
 * mapping of the tree shows (pages left by a munmap of part of a mapping, which a later
 * mremap shows again, or moved with remap_file_pages) is not in the page images, which hold
 * memory by address: it is read through map_files and saved with the object's first mapping
 * (Vma.shmem_hidden), up to SHMEM_HIDDEN_MAX bytes per dump; more is refused, naming the task,
 * the mapping and the offsets. 0, -ENOTSUP when refused, or another negative errno. */
#define SHMEM_HIDDEN_MAX (64UL << 20)
int shmem_save_hidden(struct dump_ctx *ctx);
/* Restore: 0 when v's saved hidden data (shmem_hidden) lies inside the object in order, or
 * -EINVAL with *why set. */
int shmem_hidden_check(const Vma *v, const char **why);
/* ... written into the object, fd (open for writing): 0 or a negative errno */
int shmem_hidden_write(int fd, const Vma *v);

#endif
