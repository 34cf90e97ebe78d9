#include "signal_wire.h"

#include <string.h>

#include "base/cursor.h"
#include "crypto/dh.h"

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

static void
pb_varint(struct buf *b, uint64_t v)
{
	while (v >= 0x80) {
		buf_u8(b, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	buf_u8(b, (uint8_t)v);
}

static void
pb_tag(struct buf *b, unsigned field, unsigned wt)
{
	pb_varint(b, (uint64_t)field << 3 | wt);
}

static void
pb_uint32(struct buf *b, unsigned field, uint32_t v)
{
	pb_tag(b, field, WT_VARINT);
	pb_varint(b, v);
}

static void
pb_bytes(struct buf *b, unsigned field, const uint8_t *p, size_t n)
{
	pb_tag(b, field, WT_LEN);
	pb_varint(b, n);
	buf_put(b, p, n);
}

/* At most 10 bytes; the tenth may carry only the top bit of a u64. */
static uint64_t
cur_varint(struct cur *c)
{
	uint64_t v = 0;
	unsigned shift;
	uint8_t x;

	for (shift = 0; shift < 70; shift += 7) {
		x = cur_u8(c);
		if (cur_status(c) != 0)
			return 0;
		if (shift == 63 && x > 1) {
			cur_fail(c, SOTTO_ERR_MALFORMED);
			return 0;
		}
		v |= (uint64_t)(x & 0x7F) << shift;
		if (!(x & 0x80))
			return v;
	}
	cur_fail(c, SOTTO_ERR_MALFORMED);
	return 0;
}

static uint32_t
cur_pb_uint32(struct cur *c)
{
	uint64_t v = cur_varint(c);

	if (v > UINT32_MAX) {
		cur_fail(c, SOTTO_ERR_MALFORMED);
		return 0;
	}
	return (uint32_t)v;
}

static const uint8_t *
cur_pb_bytes(struct cur *c, size_t max, size_t *n)
{
	uint64_t len = cur_varint(c);

	*n = 0;
	if (cur_status(c) != 0)
		return NULL;
	if (len > max) {
		cur_fail(c, SOTTO_ERR_TOO_LARGE);
		return NULL;
	}
	*n = (size_t)len;
	return cur_ref(c, (size_t)len);
}

static void
cur_pb_key(struct cur *c, uint8_t out[SIGW_KEY_LEN])
{
	size_t n;
	const uint8_t *p = cur_pb_bytes(c, SIGW_KEY_LEN, &n);

	if (p == NULL)
		return;
	if (n != SIGW_KEY_LEN || p[0] != SIGW_KEY_TYPE ||
	    dh_public_check(p + 1) != 0) {
		cur_fail(c, SOTTO_ERR_BAD_KEY);
		return;
	}
	memcpy(out, p, SIGW_KEY_LEN);
}

static void
cur_pb_skip(struct cur *c, unsigned wt)
{
	size_t n;

	switch (wt) {
	case WT_VARINT:
		(void)cur_varint(c);
		break;
	case WT_I64:
		(void)cur_ref(c, 8);
		break;
	case WT_LEN:
		(void)cur_pb_bytes(c, SIGW_PREKEY_MESSAGE_MAX, &n);
		break;
	case WT_I32:
		(void)cur_ref(c, 4);
		break;
	default:
		cur_fail(c, SOTTO_ERR_MALFORMED);
	}
}

/* Reads a tag; marks field seen, failing on a repeat or a wire type other than want.
 * Unknown fields (want_of[field] == -1 or field past the table) are skipped. Returns the
 * field number, or 0 when the field was skipped or reading failed. */
static unsigned
cur_pb_field(struct cur *c, const int *want_of, unsigned nfields, unsigned *seen)
{
	uint64_t tag = cur_varint(c);
	unsigned field, wt;

	if (cur_status(c) != 0)
		return 0;
	field = (unsigned)(tag >> 3);
	wt = (unsigned)(tag & 7);
	if (tag >> 3 == 0 || tag >> 32 != 0) {
		cur_fail(c, SOTTO_ERR_MALFORMED);
		return 0;
	}
	if (field >= nfields || want_of[field] < 0) {
		cur_pb_skip(c, wt);
		return 0;
	}
	if ((int)wt != want_of[field] || (*seen & 1u << field)) {
		cur_fail(c, SOTTO_ERR_MALFORMED);
		return 0;
	}
	*seen |= 1u << field;
	return field;
}

void
sigw_message_encode(struct buf *b, const struct sigw_message *m)
{
	buf_u8(b, SIGW_VERSION);
	pb_bytes(b, 1, m->ratchet_key, SIGW_KEY_LEN);
	pb_uint32(b, 2, m->counter);
	pb_uint32(b, 3, m->previous_counter);
	pb_bytes(b, 4, m->ciphertext, m->ciphertext_len);
}

int
sigw_message_decode(struct sigw_message *m, const uint8_t *in, size_t len, size_t *authed_len,
    const uint8_t **mac)
{
	static const int want[] = { -1, WT_LEN, WT_VARINT, WT_VARINT, WT_LEN };
	const unsigned required = 1u << 1 | 1u << 2 | 1u << 4;
	struct cur c;
	unsigned seen = 0;
	int r;

	memset(m, 0, sizeof(*m));
	if (len > SIGW_MESSAGE_MAX)
		return SOTTO_ERR_TOO_LARGE;
	if (len < 1 + SIGW_MAC_LEN)
		return SOTTO_ERR_TRUNCATED;
	if (in[0] != SIGW_VERSION)
		return SOTTO_ERR_BAD_VERSION;
	cur_init(&c, in + 1, len - 1 - SIGW_MAC_LEN);
	while (cur_status(&c) == 0 && cur_left(&c) > 0) {
		switch (cur_pb_field(&c, want, sizeof(want) / sizeof(want[0]), &seen)) {
		case 1:
			cur_pb_key(&c, m->ratchet_key);
			break;
		case 2:
			m->counter = cur_pb_uint32(&c);
			break;
		case 3:
			m->previous_counter = cur_pb_uint32(&c);
			break;
		case 4:
			m->ciphertext = cur_pb_bytes(&c, SIGW_CIPHERTEXT_MAX, &m->ciphertext_len);
			break;
		}
	}
	if ((r = cur_finish(&c)) != 0)
		goto fail;
	if ((seen & required) != required) {
		r = SOTTO_ERR_MALFORMED;
		goto fail;
	}
	*authed_len = len - SIGW_MAC_LEN;
	*mac = in + len - SIGW_MAC_LEN;
	return 0;
fail:
	memset(m, 0, sizeof(*m));
	return r;
}

void
sigw_prekey_message_encode(struct buf *b, const struct sigw_prekey_message *m)
{
	buf_u8(b, SIGW_VERSION);
	pb_uint32(b, 5, m->registration_id);
	if (m->has_prekey_id)
		pb_uint32(b, 1, m->prekey_id);
	pb_uint32(b, 6, m->signed_prekey_id);
	pb_bytes(b, 2, m->base_key, SIGW_KEY_LEN);
	pb_bytes(b, 3, m->identity_key, SIGW_KEY_LEN);
	pb_bytes(b, 4, m->message, m->message_len);
}

int
sigw_prekey_message_decode(struct sigw_prekey_message *m, const uint8_t *in, size_t len)
{
	static const int want[] = { -1, WT_VARINT, WT_LEN, WT_LEN, WT_LEN, WT_VARINT, WT_VARINT };
	const unsigned required = 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5 | 1u << 6;
	struct cur c;
	unsigned seen = 0;
	int r;

	memset(m, 0, sizeof(*m));
	if (len > SIGW_PREKEY_MESSAGE_MAX)
		return SOTTO_ERR_TOO_LARGE;
	cur_init(&c, in, len);
	if (cur_u8(&c) != SIGW_VERSION)
		return cur_status(&c) != 0 ? SOTTO_ERR_TRUNCATED : SOTTO_ERR_BAD_VERSION;
	while (cur_status(&c) == 0 && cur_left(&c) > 0) {
		switch (cur_pb_field(&c, want, sizeof(want) / sizeof(want[0]), &seen)) {
		case 1:
			m->prekey_id = cur_pb_uint32(&c);
			m->has_prekey_id = 1;
			break;
		case 2:
			cur_pb_key(&c, m->base_key);
			break;
		case 3:
			cur_pb_key(&c, m->identity_key);
			break;
		case 4:
			m->message = cur_pb_bytes(&c, SIGW_MESSAGE_MAX, &m->message_len);
			break;
		case 5:
			m->registration_id = cur_pb_uint32(&c);
			break;
		case 6:
			m->signed_prekey_id = cur_pb_uint32(&c);
			break;
		}
	}
	if ((r = cur_finish(&c)) != 0)
		goto fail;
	if ((seen & required) != required) {
		r = SOTTO_ERR_MALFORMED;
		goto fail;
	}
	return 0;
fail:
	memset(m, 0, sizeof(*m));
	return r;
}
