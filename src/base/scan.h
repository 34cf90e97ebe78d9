/*
 * Text scanning over struct cur for the bridge's parsers (MIME, IMAP commands): spans and
 * accepting, built only from the cursor's own API (cur_peek, cur_pos, cur_slice) so every
 * byte read stays bounds-checked.
 * A span is an (offset, length) pair inside the cursor's buffer; scan_span() turns it back
 * into bytes through cur_slice, so a wrong span fails instead of reading out of bounds.
 */
#ifndef SOTTO_BASE_SCAN_H
#define SOTTO_BASE_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "base/cursor.h"

struct span {
	size_t off;
	size_t len;
};

/* Consumes and returns the next byte, or -1 at the end. */
static inline int
scan_byte(struct cur *c)
{
	if (cur_left(c) == 0)
		return -1;
	return cur_u8(c);
}

/* Consumes b if it is next. */
static inline int
scan_accept(struct cur *c, int b)
{
	if (cur_peek(c) != b)
		return 0;
	(void)cur_u8(c);
	return 1;
}

/* A cursor over [off, off+len) of c's buffer; failed if out of range. */
static inline struct cur
scan_sub(const struct cur *c, size_t off, size_t len)
{
	struct cur r;
	const uint8_t *p = cur_slice(c, off, len);

	cur_init(&r, p, p != NULL ? len : 0);
	if (p == NULL)
		cur_fail(&r, SOTTO_ERR_TRUNCATED);
	return r;
}

/* The bytes of a span of c's buffer (NULL if out of range). */
static inline const uint8_t *
scan_span(const struct cur *c, struct span s)
{
	return cur_slice(c, s.off, s.len);
}

#endif
