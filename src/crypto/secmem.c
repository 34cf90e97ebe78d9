/*
 * Secure memory pool. Every block starts with a 16-byte header (not secret) so that
 * secmem_free() knows, without searching, whether it came from a slab or straight from
 * sodium_malloc. Slabs are never returned to the system: a client holds a few sessions at
 * a time, and reusing their pages is the point.
 *
 * Invariant: a free pooled block is all zero (wiped on release; slabs are zeroed when
 * carved), so secmem_alloc() hands out zero-filled memory without clearing it again.
 */
#include "crypto/secmem.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "crypto/init.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SECMEM_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(SECMEM_ASAN)
#define SECMEM_ASAN 1
#endif
#ifdef SECMEM_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define VG_NOACCESS(p, n) VALGRIND_MAKE_MEM_NOACCESS((p), (n))
#define VG_DEFINED(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#endif
#endif
#ifndef VG_NOACCESS
#define VG_NOACCESS(p, n) ((void)(p), (void)(n))
#define VG_DEFINED(p, n) ((void)(p), (void)(n))
#endif

#define CLASS_MIN_SHIFT 6                    /* 64 bytes */
#define CLASS_COUNT 8                        /* 64 .. 8192 bytes */
#define SLAB_BYTES (64u * 1024u)
#define MAGIC_USED 0x5e3a11c0u
#define MAGIC_FREE 0x5e3af4eeu
#define MAGIC_DIRECT 0x5e3ad14eu
#define CLASS_DIRECT 0xffu

struct blk {
	struct blk *next;                    /* free list link, only while free */
	uint32_t magic;
	uint32_t cls;                        /* class index, or CLASS_DIRECT */
};

_Static_assert(sizeof(struct blk) == SECMEM_HDR_LEN, "block header is 16 bytes");

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct blk *free_list[CLASS_COUNT];
static struct secmem_stats pool_stats;

static size_t
class_size(unsigned cls)
{
	return (size_t)1 << (CLASS_MIN_SHIFT + cls);
}

static void *
blk_user(struct blk *b)
{
	return (uint8_t *)b + sizeof(*b);
}

static struct blk *
blk_of(void *p)
{
	return (struct blk *)(void *)((uint8_t *)p - sizeof(struct blk));
}

/* Carves a new slab for cls into its free list. Called with pool_lock held. */
static int
slab_add(unsigned cls)
{
	size_t stride = sizeof(struct blk) + class_size(cls);
	size_t n = SLAB_BYTES / stride, i;
	uint8_t *base;

	if ((base = sodium_malloc(n * stride)) == NULL)
		return -1;
	if (((uintptr_t)base & 15) != 0) {
		sodium_free(base);
		return -1;
	}
	memset(base, 0, n * stride);
	for (i = n; i-- > 0;) {
		struct blk *b = (struct blk *)(void *)(base + i * stride);

		b->magic = MAGIC_FREE;
		b->cls = cls;
		b->next = free_list[cls];
		free_list[cls] = b;
		POISON(blk_user(b), class_size(cls));
		VG_NOACCESS(blk_user(b), class_size(cls));
	}
	pool_stats.slabs++;
	return 0;
}

static void *
direct_alloc(size_t len)
{
	size_t rounded = (len + 15) & ~(size_t)15;
	struct blk *b;

	if ((b = sodium_malloc(sizeof(*b) + rounded)) == NULL)
		return NULL;
	memset(b, 0, sizeof(*b) + rounded);
	b->magic = MAGIC_DIRECT;
	b->cls = CLASS_DIRECT;
	pthread_mutex_lock(&pool_lock);
	pool_stats.direct++;
	pthread_mutex_unlock(&pool_lock);
	return blk_user(b);
}

void *
secmem_alloc(size_t len)
{
	struct blk *b;
	unsigned cls = 0;

	if (sotto_crypto_init() != 0)
		return NULL;
	if (len == 0)
		len = 1;
	if (len > SIZE_MAX / 2)
		return NULL;
	while (cls < CLASS_COUNT && class_size(cls) < len)
		cls++;
	if (cls == CLASS_COUNT)
		return direct_alloc(len);
	pthread_mutex_lock(&pool_lock);
	if (free_list[cls] == NULL && slab_add(cls) != 0) {
		pthread_mutex_unlock(&pool_lock);
		return NULL;
	}
	b = free_list[cls];
	free_list[cls] = b->next;
	if (b->magic != MAGIC_FREE || b->cls != cls)
		abort();                     /* the pool's own memory was overwritten */
	b->next = NULL;
	b->magic = MAGIC_USED;
	pool_stats.in_use++;
	pthread_mutex_unlock(&pool_lock);
	/* Only the requested bytes become addressable: an overrun into the rest of the class
	 * is caught under ASan. */
	UNPOISON(blk_user(b), len);
	VG_DEFINED(blk_user(b), len);
	return blk_user(b);
}

void
secmem_free(void *p)
{
	struct blk *b;
	size_t n;

	if (p == NULL)
		return;
	b = blk_of(p);
	if (b->magic == MAGIC_DIRECT && b->cls == CLASS_DIRECT) {
		pthread_mutex_lock(&pool_lock);
		pool_stats.direct--;
		pthread_mutex_unlock(&pool_lock);
		sodium_free(b);              /* wipes */
		return;
	}
	/* A double free or a pointer not from secmem_alloc: stop rather than corrupt. */
	if (b->magic != MAGIC_USED || b->cls >= CLASS_COUNT)
		abort();
	n = class_size(b->cls);
	/* SECRET contents: wipe the whole class, so the block is zero when handed out again. */
	UNPOISON(p, n);
	VG_DEFINED(p, n);
	sodium_memzero(p, n);
	POISON(p, n);
	VG_NOACCESS(p, n);
	pthread_mutex_lock(&pool_lock);
	b->magic = MAGIC_FREE;
	b->next = free_list[b->cls];
	free_list[b->cls] = b;
	pool_stats.in_use--;
	pthread_mutex_unlock(&pool_lock);
}

void
secmem_get_stats(struct secmem_stats *st)
{
	pthread_mutex_lock(&pool_lock);
	*st = pool_stats;
	pthread_mutex_unlock(&pool_lock);
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
