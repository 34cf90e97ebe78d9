/*
 * Bounds-checked reading of untrusted bytes. Every parser in Sotto reads through a cursor:
 * no pointer arithmetic on peer data elsewhere. Errors are sticky: after the first failed
 * read every later read fails too and returns zeros, so a decoder reads all its fields and
 * checks once with cur_finish(), which also rejects trailing bytes. Integers are big-endian.
 */
#ifndef SOTTO_BASE_CURSOR_H
#define SOTTO_BASE_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"

struct cur {
	const uint8_t *p;
	size_t len;
	size_t off;
	int err;        /* 0 or the first sotto_err seen */
};

void cur_init(struct cur *c, const uint8_t *p, size_t len);
size_t cur_left(const struct cur *c);

uint8_t cur_u8(struct cur *c);
uint16_t cur_u16(struct cur *c);
uint32_t cur_u32(struct cur *c);
uint64_t cur_u64(struct cur *c);
/* Copies exactly n bytes into out (zeros on error). */
void cur_copy(struct cur *c, uint8_t *out, size_t n);
/* Borrows n bytes in place; returns NULL on error. */
const uint8_t *cur_ref(struct cur *c, size_t n);
/* A 16- or 32-bit big-endian length, checked against max before anything else, then the
 * bytes it announces, borrowed. *n receives the length (0 on error). */
const uint8_t *cur_lv16(struct cur *c, size_t max, size_t *n);
const uint8_t *cur_lv32(struct cur *c, size_t max, size_t *n);
/* Everything that is left, borrowed. */
const uint8_t *cur_rest(struct cur *c, size_t *n);
/* Marks the cursor failed with err unless it already failed. */
void cur_fail(struct cur *c, int err);
/* 0 if every read succeeded and no bytes are left, else the error. */
int cur_finish(const struct cur *c) SOTTO_MUST_CHECK;
/* 0 if every read so far succeeded (bytes may remain). */
int cur_status(const struct cur *c) SOTTO_MUST_CHECK;

#endif
