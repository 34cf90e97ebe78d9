#include "client/group_content.h"

#include <string.h>

#include "base/cursor.h"
#include "client/content.h"

static int
body_ok(uint8_t type, const uint8_t *p, size_t n)
{
	struct content fc;

	if (type == GROUP_CONTENT_TEXT || type == GROUP_CONTENT_MAIL)
		return n >= 1 && n <= CONTENT_BODY_MAX;
	if (type == GROUP_CONTENT_FILE)
		return p != NULL && content_decode(p, n, &fc) == 0 && fc.type == CONTENT_FILE &&
		    !fc.has_token;
	return n <= STORE_GROUP_NAME_MAX && (n == 0 || memchr(p, '\0', n) == NULL);
}

int
group_content_encode(const struct group_content *c, struct buf *out)
{
	if ((c->type != GROUP_CONTENT_TEXT && c->type != GROUP_CONTENT_INFO &&
	    c->type != GROUP_CONTENT_MAIL && c->type != GROUP_CONTENT_FILE) ||
	    (c->body == NULL && c->body_len > 0) || !body_ok(c->type, c->body, c->body_len) ||
	    c->expiry > CONTENT_EXPIRY_MAX)
		return SOTTO_ERR_INVALID_ARG;
	buf_u8(out, GROUP_CONTENT_VERSION);
	buf_u8(out, c->type);
	buf_put(out, c->id, sizeof(c->id));
	buf_u64(out, c->sent_ms);
	buf_u32(out, c->expiry);
	if (c->type != GROUP_CONTENT_INFO)
		buf_lv32(out, c->body, c->body_len);
	else
		buf_lv16(out, c->body, c->body_len);
	return buf_status(out);
}

int
group_content_decode(const uint8_t *p, size_t len, struct group_content *c)
{
	struct cur cu;

	memset(c, 0, sizeof(*c));
	cur_init(&cu, p, len);
	if (cur_u8(&cu) != GROUP_CONTENT_VERSION)
		return cur_status(&cu) != 0 ? cur_status(&cu) : SOTTO_ERR_BAD_VERSION;
	c->type = cur_u8(&cu);
	cur_copy(&cu, c->id, sizeof(c->id));
	c->sent_ms = cur_u64(&cu);
	c->expiry = cur_u32(&cu);
	if (c->type == GROUP_CONTENT_TEXT || c->type == GROUP_CONTENT_MAIL)
		c->body = cur_lv32(&cu, CONTENT_BODY_MAX, &c->body_len);
	else if (c->type == GROUP_CONTENT_INFO)
		c->body = cur_lv16(&cu, STORE_GROUP_NAME_MAX, &c->body_len);
	else if (c->type == GROUP_CONTENT_FILE)
		c->body = cur_lv32(&cu, CONTENT_FILE_MAX, &c->body_len);
	else
		cur_fail(&cu, SOTTO_ERR_MALFORMED);
	if (cur_status(&cu) == 0 &&
	    (!body_ok(c->type, c->body, c->body_len) || c->expiry > CONTENT_EXPIRY_MAX))
		cur_fail(&cu, SOTTO_ERR_MALFORMED);
	if (cur_finish(&cu) != 0) {
		int r = cur_finish(&cu);

		memset(c, 0, sizeof(*c));
		return r;
	}
	return 0;
}
