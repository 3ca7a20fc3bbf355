/* mem_shared_beyond with the unmapped pages 4-7 written first: the object holds data that no
 * mapping shows, and the mapping grown back with mremap must show it again. */
// zt-run: gen2 lazy predump page-server
#define MEM_KIND "hidden"
#include "mem_shared_beyond.c"
