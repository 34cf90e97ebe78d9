/* The content codec: see content.h. */
#include "client/content.h"

#include <string.h>

#include <sodium.h>

#include "base/cursor.h"

/* A file name a recipient can show and save: no path separator or control character. */
static int
name_ok(const uint8_t *p, size_t n)
{
	size_t i;

	if (n == 0 || n > CONTENT_FILE_NAME_MAX || (n == 1 && p[0] == '.') ||
	    (n == 2 && p[0] == '.' && p[1] == '.'))
		return 0;
	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] == 0x7f || p[i] == '/' || p[i] == '\\')
			return 0;
	return 1;
}

static int
type_ok(const uint8_t *p, size_t n)
{
	size_t i;

	if (n > CONTENT_FILE_TYPE_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (p[i] <= 0x20 || p[i] >= 0x7f)
			return 0;
	return 1;
}

static int
file_check(const struct content *c)
{
	if (c->file_size > FILE_SIZE_MAX || c->file_hash == NULL || c->file_key == NULL ||
	    c->file_digest == NULL || c->body_len > CONTENT_BODY_MAX ||
	    (c->body == NULL && c->body_len > 0) || c->file_name == NULL ||
	    !name_ok(c->file_name, c->file_name_len) ||
	    (c->file_type == NULL && c->file_type_len > 0) ||
	    !type_ok(c->file_type, c->file_type_len))
		return SOTTO_ERR_MALFORMED;
	return 0;
}

static int
content_check(const struct content *c)
{
	if (c->seq == 0 || c->expiry > CONTENT_EXPIRY_MAX || c->has_token > 1)
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
	case CONTENT_FILE:
		return file_check(c);
	case CONTENT_TOKEN:
		return c->has_token ? 0 : SOTTO_ERR_MALFORMED;
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
	case CONTENT_FILE:
		buf_u64(out, c->file_size);
		buf_put(out, c->file_hash, FILE_HASH_LEN);
		buf_put(out, c->file_key, FILE_KEY_LEN);
		buf_put(out, c->file_digest, FILE_DIGEST_LEN);
		buf_lv16(out, c->file_name, c->file_name_len);
		buf_lv16(out, c->file_type, c->file_type_len);
		buf_lv32(out, c->body, c->body_len);
		break;
	default:
		break;
	}
	if (c->has_token) {
		buf_u8(out, CONTENT_FIELD_TOKEN);
		buf_put(out, c->token, CONTENT_TOKEN_LEN);
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
	case CONTENT_TOKEN:
		break;
	case CONTENT_FILE:
		c->file_size = cur_u64(&cu);
		c->file_hash = cur_ref(&cu, FILE_HASH_LEN);
		c->file_key = cur_ref(&cu, FILE_KEY_LEN);
		c->file_digest = cur_ref(&cu, FILE_DIGEST_LEN);
		c->file_name = cur_lv16(&cu, CONTENT_FILE_NAME_MAX, &c->file_name_len);
		c->file_type = cur_lv16(&cu, CONTENT_FILE_TYPE_MAX, &c->file_type_len);
		c->body = cur_lv32(&cu, CONTENT_BODY_MAX, &c->body_len);
		break;
	default:
		cur_fail(&cu, SOTTO_ERR_MALFORMED);
		break;
	}
	/* The one optional field: any other trailing byte is refused by cur_finish. */
	if (cur_left(&cu) == CONTENT_TOKEN_FIELD_LEN) {
		const uint8_t *f = cur_ref(&cu, CONTENT_TOKEN_FIELD_LEN);

		if (f != NULL && f[0] != CONTENT_FIELD_TOKEN) {
			cur_fail(&cu, SOTTO_ERR_TRAILING);
		} else if (f != NULL) {
			memcpy(c->token, f + 1, CONTENT_TOKEN_LEN);
			c->has_token = 1;
		}
	}
	if ((r = cur_finish(&cu)) != 0 || (r = content_check(c)) != 0) {
		sodium_memzero(c, sizeof(*c));
		return r;
	}
	return 0;
}
