#include "wire/msgid.h"

#include <time.h>

#include "crypto/rand.h"

void
msgid_new(uint8_t id[MSGID_LEN], uint64_t unix_ms)
{
	for (int i = 0; i < 6; i++)
		id[i] = (uint8_t)(unix_ms >> (8 * (5 - i)));
	rand_bytes(id + 6, MSGID_LEN - 6);
}

void
msgid_new_now(uint8_t id[MSGID_LEN])
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	msgid_new(id, (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}
