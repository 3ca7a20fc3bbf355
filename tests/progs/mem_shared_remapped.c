/* mem_shared_beyond with every page of the mapping moved onto the object's page 0
 * (remap_file_pages): pages 1-7 of the object hold data that no mapping shows, and mapped back
 * in order they must show it again. */
// zt-run: gen2 lazy predump page-server
#define MEM_KIND "remap"
#include "mem_shared_beyond.c"
