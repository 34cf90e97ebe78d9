#include "base/buf.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

void
buf_init_fixed(struct buf *b, uint8_t *mem, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->p = mem;
	b->cap = cap;
	b->max = cap;
}

void
buf_init_dyn(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->owned = 1;
	b->max = max;
}

void
buf_free(struct buf *b)
{
	if (b->owned)
		free(b->p);
	memset(b, 0, sizeof(*b));
}

void
buf_wipe_free(struct buf *b)
{
	if (b->owned && b->p != NULL)
		sodium_memzero(b->p, b->cap);
	buf_free(b);
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	b->err = 0;
}

uint8_t *
buf_reserve(struct buf *b, size_t n)
{
	uint8_t *r;

	if (b->err)
		return NULL;
	if (n > b->max - b->len) {
		b->err = SOTTO_ERR_TOO_LARGE;
		return NULL;
	}
	if (n > b->cap - b->len) {
		size_t want = b->cap ? b->cap : 64;
		uint8_t *np;

		if (!b->owned) {
			b->err = SOTTO_ERR_TOO_LARGE;
			return NULL;
		}
		while (want < b->len + n)
			want = want > b->max / 2 ? b->max : want * 2;
		/* Grow by copy, wiping the old block: buffers may hold secrets. */
		if ((np = malloc(want)) == NULL) {
			b->err = SOTTO_ERR_NOMEM;
			return NULL;
		}
		if (b->p != NULL) {
			memcpy(np, b->p, b->len);
			sodium_memzero(b->p, b->cap);
			free(b->p);
		}
		b->p = np;
		b->cap = want;
	}
	/* A zero-byte reserve on a buffer that never allocated: NULL + 0 is undefined in C. */
	if (b->p == NULL)
		return NULL;
	r = b->p + b->len;
	b->len += n;
	return r;
}

void
buf_ensure(struct buf *b, size_t n)
{
	if (n > 0 && buf_reserve(b, n) != NULL)
		b->len -= n;
}

void
buf_put(struct buf *b, const void *p, size_t n)
{
	uint8_t *r;

	if (n == 0)
		return;         /* nothing to reserve: an empty buffer has no pointer to offset */
	r = buf_reserve(b, n);
	if (r != NULL)
		memcpy(r, p, n);
}

static void
buf_uint(struct buf *b, uint64_t v, size_t n)
{
	uint8_t *r = buf_reserve(b, n);
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < n; i++)
		r[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

void
buf_u8(struct buf *b, uint8_t v)
{
	buf_uint(b, v, 1);
}

void
buf_u16(struct buf *b, uint16_t v)
{
	buf_uint(b, v, 2);
}

void
buf_u32(struct buf *b, uint32_t v)
{
	buf_uint(b, v, 4);
}

void
buf_u64(struct buf *b, uint64_t v)
{
	buf_uint(b, v, 8);
}

void
buf_lv16(struct buf *b, const void *p, size_t n)
{
	if (n > UINT16_MAX) {
		if (b->err == 0)
			b->err = SOTTO_ERR_TOO_LARGE;
		return;
	}
	buf_u16(b, (uint16_t)n);
	buf_put(b, p, n);
}

void
buf_lv32(struct buf *b, const void *p, size_t n)
{
	if (n > UINT32_MAX) {
		if (b->err == 0)
			b->err = SOTTO_ERR_TOO_LARGE;
		return;
	}
	buf_u32(b, (uint32_t)n);
	buf_put(b, p, n);
}

int
buf_status(const struct buf *b)
{
	return b->err;
}
