#include "wire/msgid.h"

#include "crypto/rand.h"

void
msgid_new(uint8_t id[MSGID_LEN], uint64_t unix_ms)
{
	for (int i = 0; i < 6; i++)
		id[i] = (uint8_t)(unix_ms >> (8 * (5 - i)));
	rand_bytes(id + 6, MSGID_LEN - 6);
}
