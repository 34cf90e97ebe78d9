#include "mls/group_context.h"

#include "mls/suite.h"
#include "mls/tls_codec.h"

/* Extension types a list may hold before the quadratic duplicate check would cost more
 * than it protects: far above any real list. */
#define EXTENSIONS_COUNT_MAX 256

void
mls_group_context_write(struct buf *b, const struct mls_group_context *gc)
{
	buf_u16(b, gc->version);
	buf_u16(b, gc->cipher_suite);
	mls_buf_opaque(b, gc->group_id, gc->group_id_len);
	buf_u64(b, gc->epoch);
	mls_buf_opaque(b, gc->tree_hash, gc->tree_hash_len);
	mls_buf_opaque(b, gc->confirmed_transcript_hash, gc->confirmed_transcript_hash_len);
	mls_buf_opaque(b, gc->extensions, gc->extensions_len);
}

int
mls_extensions_check(const uint8_t *p, size_t len)
{
	uint16_t types[EXTENSIONS_COUNT_MAX];
	size_t n = 0, i, dlen;
	struct cur c;

	cur_init(&c, p, len);
	while (cur_left(&c) > 0) {
		uint16_t type = cur_u16(&c);

		(void)mls_cur_opaque(&c, len, &dlen);   /* within the list, its caller's cap */
		if (cur_status(&c) != 0 || n == EXTENSIONS_COUNT_MAX)
			return SOTTO_ERR_MALFORMED;
		for (i = 0; i < n; i++)
			if (types[i] == type)
				return SOTTO_ERR_MALFORMED;
		types[n++] = type;
	}
	return cur_finish(&c) == 0 ? 0 : SOTTO_ERR_MALFORMED;
}

void
mls_group_context_read(struct cur *c, struct mls_group_context *gc)
{
	gc->version = cur_u16(c);
	gc->cipher_suite = cur_u16(c);
	gc->group_id = mls_cur_opaque(c, MLS_GROUP_ID_MAX, &gc->group_id_len);
	gc->epoch = cur_u64(c);
	gc->tree_hash = mls_cur_opaque(c, MLS_HASH_LEN, &gc->tree_hash_len);
	gc->confirmed_transcript_hash = mls_cur_opaque(c, MLS_HASH_LEN,
	    &gc->confirmed_transcript_hash_len);
	gc->extensions = mls_cur_opaque(c, MLS_EXTENSIONS_MAX, &gc->extensions_len);
	if (cur_status(c) != 0)
		return;
	if (gc->version != MLS_PROTOCOL_VERSION_MLS10 || gc->cipher_suite != MLS_CIPHER_SUITE)
		cur_fail(c, SOTTO_ERR_UNSUPPORTED);
	/* The tree hash always has Nh bytes; the transcript hash too, except in epoch 0 of a
	 * new group where it is empty. */
	else if (gc->tree_hash_len != MLS_HASH_LEN || (gc->confirmed_transcript_hash_len != 0 &&
	    gc->confirmed_transcript_hash_len != MLS_HASH_LEN))
		cur_fail(c, SOTTO_ERR_MALFORMED);
	else if (mls_extensions_check(gc->extensions, gc->extensions_len) != 0)
		cur_fail(c, SOTTO_ERR_MALFORMED);
}
