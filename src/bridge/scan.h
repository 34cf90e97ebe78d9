/*
 * Text scanning over struct cur for the bridge's parsers (MIME, IMAP commands): peeking and
 * spans, built only from the cursor's own API so every byte read stays bounds-checked.
 * A span is an (offset, length) pair inside the cursor's buffer; scan_span() turns it back
 * into bytes through a fresh cursor, so a wrong span fails instead of reading out of bounds.
 */
#ifndef SOTTO_BRIDGE_SCAN_H
#define SOTTO_BRIDGE_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "base/cursor.h"

struct span {
	size_t off;
	size_t len;
};

/* The next byte, or -1 at the end (or after an error); does not consume. */
static inline int
scan_peek(const struct cur *c)
{
	struct cur t = *c;
	uint8_t b;

	if (cur_left(&t) == 0)
		return -1;
	b = cur_u8(&t);
	return b;
}

/* The byte after the next one, or -1. */
static inline int
scan_peek2(const struct cur *c)
{
	struct cur t = *c;

	if (cur_left(&t) < 2)
		return -1;
	(void)cur_u8(&t);
	return cur_u8(&t);
}

/* Consumes and returns the next byte, or -1 at the end. */
static inline int
scan_byte(struct cur *c)
{
	if (cur_left(c) == 0)
		return -1;
	return cur_u8(c);
}

static inline size_t
scan_pos(const struct cur *c)
{
	return c->off;
}

/* Consumes b if it is next. */
static inline int
scan_accept(struct cur *c, int b)
{
	if (scan_peek(c) != b)
		return 0;
	(void)cur_u8(c);
	return 1;
}

/* A cursor over [off, off+len) of c's buffer; failed if out of range. */
static inline struct cur
scan_sub(const struct cur *c, size_t off, size_t len)
{
	struct cur t, r;
	const uint8_t *p;

	cur_init(&t, c->p, c->len);
	(void)cur_ref(&t, off);
	p = cur_ref(&t, len);
	cur_init(&r, p, p != NULL ? len : 0);
	if (p == NULL)
		cur_fail(&r, SOTTO_ERR_TRUNCATED);
	return r;
}

/* The bytes of a span of c's buffer (NULL if out of range or empty). */
static inline const uint8_t *
scan_span(const struct cur *c, struct span s)
{
	struct cur t;

	cur_init(&t, c->p, c->len);
	(void)cur_ref(&t, s.off);
	return cur_ref(&t, s.len);
}

#endif
