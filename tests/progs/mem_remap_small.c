/* mem_remap with a small growable buffer (under 8 MiB of pages: the task reads its own pages) */
// zt-run: gen2 lazy predump page-server
#define GROW_STEPS 6
#include "mem_remap.c"
