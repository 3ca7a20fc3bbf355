/* A program that has used its stack down to where its stack mapping ends (deep recursion, big
 * arrays on the stack) and is dumped while it waits there: there is no room below its stack
 * pointer for the frame cryo's safe bootstrap puts there, and the dump must still work. */
// zt-run: gen2
#include "zt.h"

#include <string.h>

static int deep(int n, volatile char *top)
{
	volatile char buf[4096];
	memset((char *)buf, n, sizeof(buf));
	if (n)
		return deep(n - 1, top) + buf[100];
	zt_ready();
	zt_wait_for_check();
	/* every frame's bytes are intact */
	return buf[100];
}

int main(int argc, char **argv)
{
	volatile char top = 1;
	zt_init(argc, argv);
	int sum = deep(48, &top);
	/* sum of n for n = 0..48, each frame's byte */
	zt_expect(sum == 48 * 49 / 2, "the stack frames hold %d, expected %d", sum, 48 * 49 / 2);
	zt_pass();
}
