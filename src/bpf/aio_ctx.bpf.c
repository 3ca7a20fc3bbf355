/* The AIO contexts (io_setup) of one process, as a BPF iterator of tasks (iter/task) writes
 * them: what the ring in the task's memory does not tell. The kernel counts the slots of a
 * context's ring in three places: free (reqs_available, global and per CPU), taken by a
 * request in flight, and taken by a completed event (completed_events, until it gives them
 * back). Every slot is in exactly one, and there are nr_events - 1 of them, so the requests
 * in flight are what the other two leave over. It also shows max_reqs, the number io_setup
 * was given (the ring's size does not tell it back exactly), and its own tail.
 *
 * Built with clang for the BPF target and loaded by res/aio.c (through core/bpf_iter.c);
 * field offsets are the running kernel's, relocated from its BTF at load. No kernel header:
 * only the fields read are declared.
 *
 * The iterator is made for one process (its pidfd); output, one record of 48 bytes per
 * context of it (read at its thread group leader): struct aio_ctx_rec below. */
typedef unsigned int __u32;
typedef unsigned long long __u64;

#define CORE __attribute__((preserve_access_index))
#define AIO_CTX_MAGIC 0x61696f63u /* "aioc" */
#define TABLE_MAX 64		  /* contexts looked at per process (the table grows 4, 16, 64...) */
#define CPUS_MAX 512

struct seq_file;
struct bpf_iter_meta {
	struct seq_file *seq;
} CORE;
typedef struct {
	int counter;
} atomic_t;
struct kioctx_cpu {
	unsigned int reqs_available;
} CORE;
struct kioctx {
	atomic_t dead;
	unsigned long user_id;
	struct kioctx_cpu *cpu;
	unsigned int req_batch;
	unsigned int max_reqs;
	unsigned int nr_events;
	atomic_t reqs_available;
	unsigned int tail;
	unsigned int completed_events;
} CORE;
struct kioctx_table {
	unsigned int nr;
	struct kioctx *table[];
} CORE;
struct mm_struct {
	struct kioctx_table *ioctx_table;
} CORE;
struct task_struct {
	int pid;
	int tgid;
	struct mm_struct *mm;
} CORE;
struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
} CORE;

static long (*bpf_seq_write)(struct seq_file *m, const void *data, __u32 len) = (void *)127;
static long (*bpf_loop)(__u32 nr, void *fn, void *ctx, __u64 flags) = (void *)181;
static long (*bpf_probe_read_kernel)(void *dst, __u32 size, const void *src) = (void *)113;
/* a kernel address as a typed (read-only) pointer: the table's entries are a flexible array,
 * which the verifier does not let a program index */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __attribute__((section(".ksyms")));
static void *(*bpf_map_lookup_percpu_elem)(void *map, const void *key, __u32 cpu) = (void *)195;

/* Each CPU's per-CPU offset. The kernel's BTF may not mark the context's per-CPU pointer as
 * one (a kernel built without BTF type tags), and its symbols may not show the offsets (no
 * data symbols in kallsyms), so they are measured: a per-CPU array of one value, whose value
 * of CPU c lies at the array's per-CPU pointer plus CPU c's offset. */
#define BPF_MAP_TYPE_PERCPU_ARRAY 6
struct {
	int (*type)[BPF_MAP_TYPE_PERCPU_ARRAY];
	int (*max_entries)[1];
	__u32 *key;
	__u64 *value;
} cpu_probe __attribute__((section(".maps"), used));
struct bpf_array {
	void *pptrs[1];
} CORE;

/* a pointer's value as a number (the verifier keeps pointers typed; root may read them) */
static __attribute__((always_inline)) unsigned long addr_of(void *const *slot)
{
	unsigned long v = 0;
	bpf_probe_read_kernel(&v, sizeof(v), slot);
	return v;
}

struct aio_ctx_rec {
	__u32 magic, id;
	__u64 user_id;
	__u32 max_reqs, nr_events;
	__u32 tail, completed_events;
	__u32 free_global, free_cpus;
	__u32 dead, cpus;
};

/* the number of possible CPUs (res/aio.c writes it; the iterator walks the threads of the
 * process asked about only) */
__u32 nr_cpus = 0;

struct walk {
	struct seq_file *seq;
	struct kioctx_table *table;
	unsigned long base, pptr; /* the context's per-CPU pointer, the probe array's */
	__u32 cpus, free;
	int bad;
};

/* CPU c's free slots of the context being read */
static long one_cpu(__u32 c, struct walk *w)
{
	__u32 key = 0;
	void *val = bpf_map_lookup_percpu_elem(&cpu_probe, &key, c);
	unsigned int avail = 0;
	if (!val || !w->pptr) {
		w->bad = 1;
		return 1;
	}
	unsigned long off = addr_of(&val) - w->pptr;
	bpf_probe_read_kernel(&avail, sizeof(avail),
			      &((struct kioctx_cpu *)(w->base + off))->reqs_available);
	w->free += avail;
	return 0;
}

/* context i of the table */
static long one_ctx(__u32 i, struct walk *w)
{
	void *addr = 0;
	bpf_probe_read_kernel(&addr, sizeof(addr), &w->table->table[i & (TABLE_MAX - 1)]);
	if (!addr)
		return 0;
	struct kioctx *k = bpf_rdonly_cast(addr, __builtin_btf_type_id(*(struct kioctx *)0, 1));
	struct aio_ctx_rec r = {
	    .magic = AIO_CTX_MAGIC,
	    .id = i,
	    .user_id = k->user_id,
	    .max_reqs = k->max_reqs,
	    .nr_events = k->nr_events,
	    .tail = k->tail,
	    .completed_events = k->completed_events,
	    .free_global = (__u32)k->reqs_available.counter,
	    .dead = (__u32)k->dead.counter,
	};
	w->base = addr_of((void *const *)&k->cpu);
	w->free = 0, w->bad = 0;
	bpf_loop(w->cpus, one_cpu, w, 0);
	r.free_cpus = w->free;
	r.cpus = w->bad ? 0xffffffffu : w->cpus; /* unreadable: the dump refuses */
	bpf_seq_write(w->seq, &r, sizeof(r));
	return 0;
}

__attribute__((section("iter/task"), used)) int aio_ctx(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct walk w = {.seq = ctx->meta->seq};

	if (!task || task->tgid != task->pid) /* the leader: one record per context */
		return 0;
	struct mm_struct *mm = task->mm;
	if (!mm || !__builtin_preserve_field_info(mm->ioctx_table, 2 /* BPF_FIELD_EXISTS */))
		return 0;
	w.table = mm->ioctx_table;
	if (!w.table)
		return 0;
	__u32 nr = w.table->nr;
	void *map = &cpu_probe;
	struct bpf_array *arr = (struct bpf_array *)addr_of(&map);
	bpf_probe_read_kernel(&w.pptr, sizeof(w.pptr), &arr->pptrs[0]);
	w.cpus = nr_cpus < CPUS_MAX ? nr_cpus : CPUS_MAX;
	bpf_loop(nr < TABLE_MAX ? nr : TABLE_MAX, one_ctx, &w, 0);
	/* (a process with more contexts than looked at: a record that says so) */
	if (nr > TABLE_MAX) {
		struct aio_ctx_rec more = {.magic = AIO_CTX_MAGIC, .id = nr};
		bpf_seq_write(w.seq, &more, sizeof(more));
	}
	return 0;
}

char _license[] __attribute__((section("license"), used)) = "GPL";
