#include "base/cursor.h"

#include <string.h>

void
cur_init(struct cur *c, const uint8_t *p, size_t len)
{
	c->p = p;
	c->len = p ? len : 0;
	c->off = 0;
	c->err = 0;
}

size_t
cur_left(const struct cur *c)
{
	return c->err ? 0 : c->len - c->off;
}

void
cur_fail(struct cur *c, int err)
{
	if (c->err == 0)
		c->err = err;
}

const uint8_t *
cur_ref(struct cur *c, size_t n)
{
	const uint8_t *r;

	if (c->err)
		return NULL;
	if (n > c->len - c->off) {
		c->err = SOTTO_ERR_TRUNCATED;
		return NULL;
	}
	/* An empty input may have no buffer at all; NULL + 0 is undefined, so hand back a
	 * valid pointer to nothing. */
	if (c->p == NULL) {
		static const uint8_t nothing[1];
		return nothing;
	}
	r = c->p + c->off;
	c->off += n;
	return r;
}

void
cur_copy(struct cur *c, uint8_t *out, size_t n)
{
	const uint8_t *r = cur_ref(c, n);

	if (r != NULL)
		memcpy(out, r, n);
	else if (n > 0)
		memset(out, 0, n);
}

static uint64_t
cur_uint(struct cur *c, size_t n)
{
	const uint8_t *r = cur_ref(c, n);
	uint64_t v = 0;
	size_t i;

	if (r == NULL)
		return 0;
	for (i = 0; i < n; i++)
		v = v << 8 | r[i];
	return v;
}

uint8_t
cur_u8(struct cur *c)
{
	return (uint8_t)cur_uint(c, 1);
}

uint16_t
cur_u16(struct cur *c)
{
	return (uint16_t)cur_uint(c, 2);
}

uint32_t
cur_u32(struct cur *c)
{
	return (uint32_t)cur_uint(c, 4);
}

uint64_t
cur_u64(struct cur *c)
{
	return cur_uint(c, 8);
}

static const uint8_t *
cur_lv(struct cur *c, size_t width, size_t max, size_t *n)
{
	uint64_t len = cur_uint(c, width);
	const uint8_t *r;

	*n = 0;
	if (c->err)
		return NULL;
	if (len > max) {
		c->err = SOTTO_ERR_TOO_LARGE;
		return NULL;
	}
	r = cur_ref(c, (size_t)len);
	if (r != NULL)
		*n = (size_t)len;
	return r;
}

const uint8_t *
cur_lv16(struct cur *c, size_t max, size_t *n)
{
	return cur_lv(c, 2, max, n);
}

const uint8_t *
cur_lv32(struct cur *c, size_t max, size_t *n)
{
	return cur_lv(c, 4, max, n);
}

const uint8_t *
cur_rest(struct cur *c, size_t *n)
{
	*n = cur_left(c);
	return cur_ref(c, *n);
}

int
cur_status(const struct cur *c)
{
	return c->err;
}

int
cur_finish(const struct cur *c)
{
	if (c->err)
		return c->err;
	return c->off == c->len ? 0 : SOTTO_ERR_TRAILING;
}

int
cur_peek(const struct cur *c)
{
	return cur_peek_at(c, 0);
}

int
cur_peek_at(const struct cur *c, size_t i)
{
	if (i >= cur_left(c))
		return -1;
	return c->p[c->off + i];
}

const uint8_t *
cur_peek_ref(const struct cur *c, size_t n)
{
	if (c->err)
		return NULL;
	return cur_slice(c, c->off, n);
}

static uint8_t
ascii_lower(uint8_t b)
{
	return b >= 'A' && b <= 'Z' ? (uint8_t)(b - 'A' + 'a') : b;
}

int
cur_starts_with(const struct cur *c, const char *s, size_t n, int nocase)
{
	const uint8_t *p;
	size_t i;

	if (n == 0)
		return c->err == 0;
	if ((p = cur_peek_ref(c, n)) == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		uint8_t a = p[i], b = (uint8_t)s[i];
		if (nocase) {
			a = ascii_lower(a);
			b = ascii_lower(b);
		}
		if (a != b)
			return 0;
	}
	return 1;
}

size_t
cur_find(const struct cur *c, uint8_t b)
{
	size_t left = cur_left(c);
	const uint8_t *at;

	if (left == 0)
		return CUR_NPOS;
	at = memchr(c->p + c->off, b, left);
	return at == NULL ? CUR_NPOS : (size_t)(at - (c->p + c->off));
}

size_t
cur_find_crlf(const struct cur *c)
{
	size_t left = cur_left(c), i;

	for (i = 0; i + 1 < left; i++)
		if (c->p[c->off + i] == '\r' && c->p[c->off + i + 1] == '\n')
			return i;
	return CUR_NPOS;
}

const uint8_t *
cur_take_until(struct cur *c, uint8_t delim, size_t *n)
{
	size_t at = cur_find(c, delim);

	*n = 0;
	if (at == CUR_NPOS)
		return NULL;
	*n = at;
	return cur_ref(c, at);
}

size_t
cur_pos(const struct cur *c)
{
	return c->off;
}

const uint8_t *
cur_slice(const struct cur *c, size_t off, size_t n)
{
	static const uint8_t nothing[1];

	if (off > c->len || n > c->len - off)
		return NULL;
	return c->p == NULL ? nothing : c->p + off;
}
