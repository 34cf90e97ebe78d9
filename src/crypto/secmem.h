/*
 * Memory for long-lived secrets (ratchet states, skipped message keys): out of libsodium's
 * sodium_malloc (guard pages, locked against swapping where the system allows), but pooled.
 * Blocks of up to SECMEM_POOL_MAX bytes are carved from 64 KiB sodium_malloc slabs in
 * power-of-two size classes and kept on free lists, so a state costs no system call once
 * the pool is warm; larger blocks get their own sodium_malloc. Every block is wiped when it
 * is released. Under ASan a free block (and the unrequested tail of a used one) is
 * poisoned; under valgrind it is marked inaccessible.
 *
 * Thread safe: one mutex guards the free lists.
 */
#ifndef SOTTO_CRYPTO_SECMEM_H
#define SOTTO_CRYPTO_SECMEM_H

#include <stddef.h>

#define SECMEM_HDR_LEN 16
#define SECMEM_POOL_MAX 8192

/* Zero-filled, 16-byte aligned; NULL when out of memory. */
void *secmem_alloc(size_t len);
/* Wipes and frees; NULL is fine. Aborts on a pointer secmem_alloc did not return (or one
 * freed already) rather than corrupt the pool. */
void secmem_free(void *p);
void secmem_wipe(void *p, size_t len);
/* Constant-time equality: 1 if equal, 0 if not. */
int secmem_equal(const void *a, const void *b, size_t len);
/* Constant-time: 1 if all len bytes are zero. */
int secmem_is_zero(const void *p, size_t len);

struct secmem_stats {
	size_t slabs;            /* sodium_malloc slabs carved into pooled blocks */
	size_t in_use;           /* pooled blocks handed out */
	size_t direct;           /* live blocks too large for the pool */
};
void secmem_get_stats(struct secmem_stats *st);

#endif
