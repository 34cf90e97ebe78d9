/*
 * Memory for long-lived secrets: guarded pages, locked against swapping where the system
 * allows, wiped on free (libsodium's sodium_malloc). Small and few: each allocation costs
 * whole pages.
 */
#ifndef SOTTO_CRYPTO_SECMEM_H
#define SOTTO_CRYPTO_SECMEM_H

#include <stddef.h>

/* Zero-filled; NULL when out of memory. */
void *secmem_alloc(size_t len);
/* Wipes and frees; NULL is fine. */
void secmem_free(void *p);
void secmem_wipe(void *p, size_t len);
/* Constant-time equality: 1 if equal, 0 if not. */
int secmem_equal(const void *a, const void *b, size_t len);
/* Constant-time: 1 if all len bytes are zero. */
int secmem_is_zero(const void *p, size_t len);

#endif
