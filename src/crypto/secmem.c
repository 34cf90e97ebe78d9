#include "crypto/secmem.h"

#include <string.h>
#include <sodium.h>

#include "crypto/init.h"

void *
secmem_alloc(size_t len)
{
	void *p;

	if (sotto_crypto_init() != 0)
		return NULL;
	p = sodium_malloc(len == 0 ? 1 : len);
	if (p != NULL)
		memset(p, 0, len == 0 ? 1 : len);
	return p;
}

void
secmem_free(void *p)
{
	if (p != NULL)
		sodium_free(p);
}

void
secmem_wipe(void *p, size_t len)
{
	sodium_memzero(p, len);
}

int
secmem_equal(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len) == 0;
}

int
secmem_is_zero(const void *p, size_t len)
{
	return sodium_is_zero(p, len);
}
