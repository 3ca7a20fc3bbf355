/* Inside libcryotcp only: how its functions fill the caller's err[size] (the library logs
 * nothing itself; the caller decides where the text goes). */
#ifndef CRYO_TCP_ERR_H
#define CRYO_TCP_ERR_H

#include <stddef.h>

/* err gets the formatted text, then ": strerror(e)" when e > 0; returns -e (e > 0) or e. */
int tcp_errf(char *err, size_t size, int e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
