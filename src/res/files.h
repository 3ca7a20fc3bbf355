#ifndef CRYO_RES_FILES_H
#define CRYO_RES_FILES_H
#include "img/image.h"
#define FILES_MAX_FD (1 << 20)
int files_max_fd(const Files *f);
#endif
