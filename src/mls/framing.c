#include "mls/framing.h"

#include "mls/group_context.h"
#include "mls/limits.h"
#include "mls/proposal.h"
#include "mls/suite.h"
#include "mls/tls_codec.h"

void
mls_content_body_read(struct cur *c, uint8_t content_type, const uint8_t **body, size_t *len)
{
	size_t start = c->off;
	struct mls_proposal p;
	struct mls_commit cm;

	*body = NULL;
	*len = 0;
	switch (content_type) {
	case MLS_CONTENT_APPLICATION:
		*body = mls_cur_opaque(c, MLS_MESSAGE_MAX, len);
		return;
	case MLS_CONTENT_PROPOSAL:
		mls_proposal_read(c, &p);
		break;
	case MLS_CONTENT_COMMIT:
		mls_commit_read(c, &cm);
		break;
	default:
		cur_fail(c, SOTTO_ERR_MALFORMED);
		return;
	}
	if (cur_status(c) == 0) {
		*body = c->p + start;
		*len = c->off - start;
	}
}

void
mls_content_body_write(struct buf *b, uint8_t content_type, const uint8_t *body, size_t len)
{
	if (content_type == MLS_CONTENT_APPLICATION)
		mls_buf_opaque(b, body, len);
	else
		buf_put(b, body, len);
}

void
mls_framed_content_read(struct cur *c, struct mls_framed_content *fc)
{
	fc->group_id = mls_cur_opaque(c, MLS_GROUP_ID_MAX, &fc->group_id_len);
	fc->epoch = cur_u64(c);
	fc->sender_type = cur_u8(c);
	fc->sender_index = 0;
	switch (fc->sender_type) {
	case MLS_SENDER_MEMBER:
	case MLS_SENDER_EXTERNAL:
		fc->sender_index = cur_u32(c);
		break;
	case MLS_SENDER_NEW_MEMBER_PROPOSAL:
	case MLS_SENDER_NEW_MEMBER_COMMIT:
		break;
	default:
		cur_fail(c, SOTTO_ERR_MALFORMED);
		break;
	}
	fc->authenticated_data = mls_cur_opaque(c, MLS_MESSAGE_MAX, &fc->authenticated_data_len);
	fc->content_type = cur_u8(c);
	mls_content_body_read(c, fc->content_type, &fc->body, &fc->body_len);
}

void
mls_framed_content_write(struct buf *b, const struct mls_framed_content *fc)
{
	mls_buf_opaque(b, fc->group_id, fc->group_id_len);
	buf_u64(b, fc->epoch);
	buf_u8(b, fc->sender_type);
	if (fc->sender_type == MLS_SENDER_MEMBER || fc->sender_type == MLS_SENDER_EXTERNAL)
		buf_u32(b, fc->sender_index);
	mls_buf_opaque(b, fc->authenticated_data, fc->authenticated_data_len);
	buf_u8(b, fc->content_type);
	mls_content_body_write(b, fc->content_type, fc->body, fc->body_len);
}

void
mls_auth_data_read(struct cur *c, uint8_t content_type, struct mls_auth_data *a)
{
	a->signature = mls_cur_opaque(c, MLS_SIGNATURE_MAX, &a->signature_len);
	a->confirmation_tag = NULL;
	a->confirmation_tag_len = 0;
	if (content_type == MLS_CONTENT_COMMIT) {
		a->confirmation_tag = mls_cur_opaque_fixed(c, MLS_HASH_LEN);
		a->confirmation_tag_len = MLS_HASH_LEN;
	}
}

void
mls_auth_data_write(struct buf *b, uint8_t content_type, const struct mls_auth_data *a)
{
	mls_buf_opaque(b, a->signature, a->signature_len);
	if (content_type == MLS_CONTENT_COMMIT)
		mls_buf_opaque(b, a->confirmation_tag, a->confirmation_tag_len);
}

void
mls_authenticated_content_read(struct cur *c, struct mls_authenticated_content *ac)
{
	ac->wire_format = cur_u16(c);
	if (cur_status(c) == 0 && ac->wire_format != MLS_WIRE_PUBLIC_MESSAGE &&
	    ac->wire_format != MLS_WIRE_PRIVATE_MESSAGE)
		cur_fail(c, SOTTO_ERR_MALFORMED);
	mls_framed_content_read(c, &ac->content);
	mls_auth_data_read(c, ac->content.content_type, &ac->auth);
}

void
mls_authenticated_content_write(struct buf *b, const struct mls_authenticated_content *ac)
{
	buf_u16(b, ac->wire_format);
	mls_framed_content_write(b, &ac->content);
	mls_auth_data_write(b, ac->content.content_type, &ac->auth);
}
