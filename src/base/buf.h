/*
 * Writing bytes with a hard cap. A buf either wraps a caller's fixed array or owns heap
 * memory that grows up to a maximum; overflow sets a sticky error instead of writing.
 * Integers are big-endian. buf_wipe_free() zeroes owned memory before freeing it, for
 * buffers that held secrets.
 */
#ifndef SOTTO_BASE_BUF_H
#define SOTTO_BASE_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"

struct buf {
	uint8_t *p;
	size_t len;
	size_t cap;
	size_t max;     /* growth limit for owned buffers */
	int owned;
	int err;
};

void buf_init_fixed(struct buf *b, uint8_t *mem, size_t cap);
void buf_init_dyn(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_wipe_free(struct buf *b);
void buf_reset(struct buf *b);

void buf_put(struct buf *b, const void *p, size_t n);
void buf_u8(struct buf *b, uint8_t v);
void buf_u16(struct buf *b, uint16_t v);
void buf_u32(struct buf *b, uint32_t v);
void buf_u64(struct buf *b, uint64_t v);
/* Length-prefixed bytes; fails with SOTTO_ERR_TOO_LARGE if n does not fit the prefix. */
void buf_lv16(struct buf *b, const void *p, size_t n);
void buf_lv32(struct buf *b, const void *p, size_t n);
/* Reserves n bytes at the end and returns them for the caller to fill (NULL on error). */
uint8_t *buf_reserve(struct buf *b, size_t n);
/* Makes room for n more bytes in one allocation, writing nothing (a writer that knows its
 * size avoids growing by doubling, each step a copy and a wipe); errors as buf_reserve. */
void buf_ensure(struct buf *b, size_t n);
int buf_status(const struct buf *b) SOTTO_MUST_CHECK;

#endif
