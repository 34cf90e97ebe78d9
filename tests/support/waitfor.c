#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "waitfor.h"

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
wait_scaled_ms(int timeout_ms)
{
	const char *s = getenv("SOTTO_TIME_SCALE");
	long scale = s != NULL ? strtol(s, NULL, 10) : 1;

	if (scale < 1 || scale > 1000)
		scale = 1;
	return (int)(timeout_ms * scale);
}

void
wait_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int
wait_until(int (*cond)(void *arg), void *arg, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)wait_scaled_ms(timeout_ms);
	int step = 5;

	/* quick to notice a condition that is met soon; checks it no more than 10 times a
	 * second while waiting long */
	for (;;) {
		if (cond(arg))
			return 1;
		if (now_ms() > deadline)
			return 0;
		wait_sleep_ms(step);
		if (step < 100)
			step *= 2;
	}
}
