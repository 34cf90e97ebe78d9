#include "mls/tls_codec.h"

size_t
mls_varint_len(uint64_t v)
{
	if (v < 0x40)
		return 1;
	if (v < 0x4000)
		return 2;
	if (v <= MLS_VARINT_MAX)
		return 4;
	return 0;
}

uint32_t
mls_cur_varint(struct cur *c)
{
	uint8_t first = cur_u8(c);
	uint32_t v = first & 0x3f;
	size_t i, len;

	switch (first >> 6) {
	case 0:
		len = 1;
		break;
	case 1:
		len = 2;
		break;
	case 2:
		len = 4;
		break;
	default:
		cur_fail(c, SOTTO_ERR_MALFORMED);
		return 0;
	}
	for (i = 1; i < len; i++)
		v = v << 8 | cur_u8(c);
	if (cur_status(c) != 0)
		return 0;
	if (mls_varint_len(v) != len) {
		/* A longer encoding than needed: two encodings of one value would give two
		 * hashes and signatures of one struct. */
		cur_fail(c, SOTTO_ERR_MALFORMED);
		return 0;
	}
	return v;
}

const uint8_t *
mls_cur_opaque(struct cur *c, size_t max, size_t *n)
{
	uint32_t len = mls_cur_varint(c);
	const uint8_t *p;

	*n = 0;
	if (cur_status(c) != 0)
		return NULL;
	if (len > max) {
		cur_fail(c, SOTTO_ERR_TOO_LARGE);
		return NULL;
	}
	if ((p = cur_ref(c, len)) == NULL)
		return NULL;
	*n = len;
	return p;
}

const uint8_t *
mls_cur_opaque_fixed(struct cur *c, size_t len)
{
	size_t n;
	const uint8_t *p = mls_cur_opaque(c, len, &n);

	if (p != NULL && n != len) {
		cur_fail(c, SOTTO_ERR_MALFORMED);
		return NULL;
	}
	return p;
}

void
mls_cur_vector(struct cur *c, size_t max, struct cur *elems)
{
	size_t n;
	const uint8_t *p = mls_cur_opaque(c, max, &n);

	cur_init(elems, p, n);
	if (p == NULL)
		cur_fail(elems, cur_status(c) != 0 ? cur_status(c) : SOTTO_ERR_INTERNAL);
}

void
mls_buf_varint(struct buf *b, uint64_t v)
{
	switch (mls_varint_len(v)) {
	case 1:
		buf_u8(b, (uint8_t)v);
		break;
	case 2:
		buf_u16(b, (uint16_t)(0x4000 | v));
		break;
	case 4:
		buf_u32(b, (uint32_t)(0x80000000u | v));
		break;
	default:
		/* Fail the buffer: an unwritable length is as fatal as running out of room. */
		if (b->err == 0)
			b->err = SOTTO_ERR_TOO_LARGE;
		break;
	}
}

void
mls_buf_opaque(struct buf *b, const void *p, size_t n)
{
	mls_buf_varint(b, n);
	if (mls_varint_len(n) != 0)
		buf_put(b, p, n);
}
