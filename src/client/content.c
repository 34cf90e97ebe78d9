/* The content codec: see content.h. */
#include "client/content.h"

#include <string.h>

#include "base/cursor.h"

static int
content_check(const struct content *c)
{
	if (c->seq == 0 || c->expiry > CONTENT_EXPIRY_MAX)
		return SOTTO_ERR_MALFORMED;
	switch (c->type) {
	case CONTENT_TEXT:
	case CONTENT_MAIL:
		if (c->body_len == 0 || c->body_len > CONTENT_BODY_MAX)
			return SOTTO_ERR_MALFORMED;
		return 0;
	case CONTENT_RECEIPT:
		if ((c->receipt_kind != CONTENT_DELIVERED && c->receipt_kind != CONTENT_READ) ||
		    c->n_ids == 0 || c->n_ids > CONTENT_RECEIPT_MAX)
			return SOTTO_ERR_MALFORMED;
		return 0;
	case CONTENT_TIMER:
		return 0;
	default:
		return SOTTO_ERR_MALFORMED;
	}
}

int
content_encode(const struct content *c, struct buf *out)
{
	size_t i;

	if (c == NULL || out == NULL || content_check(c) != 0)
		return SOTTO_ERR_INVALID_ARG;
	buf_u8(out, CONTENT_VERSION);
	buf_u8(out, c->type);
	buf_put(out, c->id, CONTENT_ID_LEN);
	buf_u64(out, c->seq);
	buf_u64(out, c->sent_ms);
	buf_u32(out, c->expiry);
	switch (c->type) {
	case CONTENT_TEXT:
	case CONTENT_MAIL:
		buf_lv32(out, c->body, c->body_len);
		break;
	case CONTENT_RECEIPT:
		buf_u8(out, c->receipt_kind);
		buf_u16(out, (uint16_t)c->n_ids);
		for (i = 0; i < c->n_ids; i++)
			buf_put(out, c->ids[i], CONTENT_ID_LEN);
		break;
	default:
		break;
	}
	return buf_status(out);
}

int
content_decode(const uint8_t *p, size_t len, struct content *c)
{
	struct cur cu;
	int r;

	if (c == NULL || (p == NULL && len > 0))
		return SOTTO_ERR_INVALID_ARG;
	memset(c, 0, sizeof(*c));
	cur_init(&cu, p, len);
	if (cur_u8(&cu) != CONTENT_VERSION)
		cur_fail(&cu, SOTTO_ERR_BAD_VERSION);
	c->type = cur_u8(&cu);
	cur_copy(&cu, c->id, CONTENT_ID_LEN);
	c->seq = cur_u64(&cu);
	c->sent_ms = cur_u64(&cu);
	c->expiry = cur_u32(&cu);
	switch (c->type) {
	case CONTENT_TEXT:
	case CONTENT_MAIL:
		c->body = cur_lv32(&cu, CONTENT_BODY_MAX, &c->body_len);
		break;
	case CONTENT_RECEIPT:
		c->receipt_kind = cur_u8(&cu);
		c->n_ids = cur_u16(&cu);
		if (c->n_ids == 0 || c->n_ids > CONTENT_RECEIPT_MAX)
			cur_fail(&cu, SOTTO_ERR_MALFORMED);
		else
			c->ids = (const uint8_t (*)[CONTENT_ID_LEN])(const void *)cur_ref(&cu,
			    c->n_ids * CONTENT_ID_LEN);
		break;
	case CONTENT_TIMER:
		break;
	default:
		cur_fail(&cu, SOTTO_ERR_MALFORMED);
		break;
	}
	if ((r = cur_finish(&cu)) != 0 || (r = content_check(c)) != 0) {
		memset(c, 0, sizeof(*c));
		return r;
	}
	return 0;
}
