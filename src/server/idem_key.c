/*
 * Keys of the idempotency records (store.h, store_idem_key): derived from what the SEND
 * names (its recipient and the client's random message id), never from who sent it.
 */
#include "server/store.h"

#include <string.h>

#include <sodium.h>

#define IDEM_TIME_LEN 4
#define IDEM_TIME_SHIFT 22      /* 2^22 ms: about 70 minutes */
#define IDEM_LABEL "sotto idempotency key v1"

_Static_assert(STORE_IDEM_LEN - IDEM_TIME_LEN >= crypto_generichash_BYTES_MIN,
    "the hash part of an idempotency key is a BLAKE2b output");

void
store_idem_key(uint8_t key[STORE_IDEM_LEN], int64_t recipient,
    const uint8_t cmid[STORE_CMID_LEN])
{
	crypto_generichash_state h;
	uint8_t rcpt[8];
	uint64_t ms = 0, t;

	for (int i = 0; i < 6; i++)
		ms = ms << 8 | cmid[i];
	t = ms >> IDEM_TIME_SHIFT;
	for (int i = 0; i < IDEM_TIME_LEN; i++)
		key[i] = (uint8_t)(t >> (8 * (IDEM_TIME_LEN - 1 - i)));
	for (int i = 0; i < 8; i++)
		rcpt[i] = (uint8_t)((uint64_t)recipient >> (8 * (7 - i)));
	crypto_generichash_init(&h, NULL, 0, STORE_IDEM_LEN - IDEM_TIME_LEN);
	crypto_generichash_update(&h, (const uint8_t *)IDEM_LABEL, sizeof(IDEM_LABEL) - 1);
	crypto_generichash_update(&h, rcpt, sizeof(rcpt));
	crypto_generichash_update(&h, cmid, STORE_CMID_LEN);
	crypto_generichash_final(&h, key + IDEM_TIME_LEN, STORE_IDEM_LEN - IDEM_TIME_LEN);
}
