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
/*
 * Looking ahead and searching. None of these consumes a byte or fails the cursor; on a
 * failed cursor they find nothing (peek -1, find CUR_NPOS, borrow NULL), except
 * cur_slice, which views the buffer by position whatever was read.
 */
#define CUR_NPOS SIZE_MAX
/* The next byte, or -1 at the end. */
int cur_peek(const struct cur *c);
/* The byte i places ahead of the next one (0: the next), or -1 past the end. */
int cur_peek_at(const struct cur *c, size_t i);
/* Borrows the next n bytes without consuming them; NULL if fewer than n are left. */
const uint8_t *cur_peek_ref(const struct cur *c, size_t n);
/* 1 if the bytes left start with s[0..n), compared as given or, with nocase, ASCII
 * letters folded. */
int cur_starts_with(const struct cur *c, const char *s, size_t n, int nocase);
/* How far ahead the first b (or the first CR LF) is, or CUR_NPOS if it is not there. */
size_t cur_find(const struct cur *c, uint8_t b);
size_t cur_find_crlf(const struct cur *c);
/* Consumes and borrows the bytes before the next delim, leaving delim next; NULL with *n 0
 * if there is no delim (nothing consumed, the cursor not failed). */
const uint8_t *cur_take_until(struct cur *c, uint8_t delim, size_t *n);
/* How many bytes were consumed so far: a position in the cursor's buffer. */
size_t cur_pos(const struct cur *c);
/* Borrows [off, off + n) of the cursor's whole buffer, read or not, positions as cur_pos
 * counts them; NULL if out of range. n may be 0. A failed cursor still has its buffer:
 * spans found before a read failed stay readable. */
const uint8_t *cur_slice(const struct cur *c, size_t off, size_t n);
/* Marks the cursor failed with err unless it already failed. */
void cur_fail(struct cur *c, int err);
/* 0 if every read succeeded and no bytes are left, else the error. */
int cur_finish(const struct cur *c) SOTTO_MUST_CHECK;
/* 0 if every read so far succeeded (bytes may remain). */
int cur_status(const struct cur *c) SOTTO_MUST_CHECK;

#endif
