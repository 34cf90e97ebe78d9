#include "crypto/init.h"

#include <sodium.h>

int
sotto_crypto_init(void)
{
	/* sodium_init returns 1 when already initialised, -1 on failure. */
	return sodium_init() < 0 ? SOTTO_ERR_CRYPTO : 0;
}
