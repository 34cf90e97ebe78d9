#include "client/group_note.h"

#include <string.h>

#include "base/cursor.h"
#include "client/content.h"

static int
note_ok(const struct group_note *n)
{
	size_t i;

	if (n->change < SOTTO_CHANGE_JOINED || n->change > SOTTO_CHANGE_LEFT ||
	    n->expiry > CONTENT_EXPIRY_MAX || n->n > GROUP_NOTE_NAMES_MAX)
		return 0;
	for (i = 0; i < n->n; i++)
		if (n->names[i].p == NULL || n->names[i].len < 1 ||
		    n->names[i].len > GROUP_NOTE_NAME_MAX ||
		    memchr(n->names[i].p, '\0', n->names[i].len) != NULL)
			return 0;
	return 1;
}

int
group_note_encode(const struct group_note *n, struct buf *out)
{
	size_t i;

	if (!note_ok(n))
		return SOTTO_ERR_INVALID_ARG;
	buf_u8(out, GROUP_NOTE_VERSION);
	buf_u8(out, n->change);
	buf_u32(out, n->expiry);
	buf_u16(out, (uint16_t)n->n);
	for (i = 0; i < n->n; i++)
		buf_lv16(out, n->names[i].p, n->names[i].len);
	return buf_status(out);
}

int
group_note_decode(const uint8_t *p, size_t len, struct group_note *n)
{
	struct cur c;
	size_t i;
	int r;

	memset(n, 0, sizeof(*n));
	cur_init(&c, p, len);
	if (cur_u8(&c) != GROUP_NOTE_VERSION)
		return cur_status(&c) != 0 ? cur_status(&c) : SOTTO_ERR_BAD_VERSION;
	n->change = cur_u8(&c);
	n->expiry = cur_u32(&c);
	n->n = cur_u16(&c);
	if (n->n > GROUP_NOTE_NAMES_MAX)
		cur_fail(&c, SOTTO_ERR_MALFORMED);
	for (i = 0; i < n->n && cur_status(&c) == 0; i++)
		n->names[i].p = cur_lv16(&c, GROUP_NOTE_NAME_MAX, &n->names[i].len);
	if (cur_status(&c) == 0 && !note_ok(n))
		cur_fail(&c, SOTTO_ERR_MALFORMED);
	if ((r = cur_finish(&c)) != 0)
		memset(n, 0, sizeof(*n));
	return r;
}
