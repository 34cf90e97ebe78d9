#include "crypto/rand.h"

#include <stdlib.h>
#include <sodium.h>

#include "crypto/init.h"

static void
rand_ready(void)
{
	/* Without a working RNG nothing that follows would be safe: a bug, not bad input. */
	if (sotto_crypto_init() != 0)
		abort();
}

void
rand_bytes(void *out, size_t len)
{
	rand_ready();
	randombytes_buf(out, len);
}

uint32_t
rand_uniform(uint32_t upper)
{
	rand_ready();
	return randombytes_uniform(upper);
}
