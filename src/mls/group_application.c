#include "mls/group_application.h"

#include <string.h>
#include <sodium.h>

#include "base/cursor.h"
#include "mls/group_past.h"
#include "mls/message.h"

static const uint8_t no_data[1];

int
mls_group_send_private(struct mls_group *g, const uint8_t sig_sec[static 64], uint8_t content_type,
    const uint8_t *body, size_t len, struct mls_authenticated_content *ac,
    uint8_t sig[static MLS_SIG_LEN], struct buf *out)
{
	struct mls_epoch_keys ek;
	int r;

	memset(ac, 0, sizeof(*ac));
	ac->wire_format = MLS_WIRE_PRIVATE_MESSAGE;
	ac->content.group_id = g->gc.group_id;
	ac->content.group_id_len = g->gc.group_id_len;
	ac->content.epoch = g->gc.epoch;
	ac->content.sender_type = MLS_SENDER_MEMBER;
	ac->content.sender_index = g->own_leaf;
	ac->content.authenticated_data = no_data;
	ac->content.content_type = content_type;
	ac->content.body = body != NULL ? body : no_data;
	ac->content.body_len = len;
	mls_group_epoch_keys(g, &ek);
	if ((r = mls_content_sign(sig, sig_sec, MLS_WIRE_PRIVATE_MESSAGE, &ac->content, &ek)) != 0)
		return r;
	ac->auth.signature = sig;
	ac->auth.signature_len = MLS_SIG_LEN;
	buf_reset(out);
	return mls_private_message_write(out, ac, &ek);
}

int
mls_group_send_application(struct mls_group *g, const uint8_t sig_sec[static 64],
    const uint8_t *data, size_t len, struct buf *out)
{
	struct mls_authenticated_content ac;
	uint8_t sig[MLS_SIG_LEN];

	if (len > MLS_APPLICATION_MAX || (data == NULL && len > 0))
		return SOTTO_ERR_INVALID_ARG;
	return mls_group_send_private(g, sig_sec, MLS_CONTENT_APPLICATION, data, len, &ac, sig, out);
}

int
mls_group_read_application(struct mls_group *g, const uint8_t *msg, size_t len,
    struct buf *plain, const uint8_t **data, size_t *data_len, uint32_t *sender)
{
	struct mls_authenticated_content ac;
	struct mls_group_past_epoch *past = NULL;
	struct mls_epoch_keys ek;
	struct mls_message m;
	const uint8_t *signature_key;
	struct cur c;
	uint32_t leaf;
	int r;

	*data = NULL;
	*data_len = 0;
	cur_init(&c, msg, len);
	mls_message_read(&c, &m);
	if ((r = cur_finish(&c)) != 0)
		return r;
	if (m.wire_format != MLS_WIRE_PRIVATE_MESSAGE || m.content_type != MLS_CONTENT_APPLICATION)
		return SOTTO_ERR_PROTOCOL;
	/* A late message of a kept past epoch is read with that epoch's keys and tree. */
	if (m.epoch < g->gc.epoch && (past = mls_group_past_find(g, m.epoch)) != NULL)
		mls_group_past_epoch_keys(past, &ek);
	else
		mls_group_epoch_keys(g, &ek);
	if ((r = mls_private_message_read(&m, &ek, plain, &ac)) != 0)
		return r;
	leaf = ac.content.sender_index;
	signature_key = g->tree.nodes[2 * leaf].type == MLS_NODE_LEAF ?
	    g->tree.nodes[2 * leaf].leaf.signature_key : NULL;
	/* A late sender must still hold its leaf with the same key: *sender names a leaf of
	 * the current tree, which must not be another member who took it since. */
	if (past != NULL && signature_key != NULL && (!past->leaves[leaf].present ||
	    memcmp(past->leaves[leaf].signature_key, signature_key, MLS_SIG_PUBLIC_LEN) != 0))
		signature_key = NULL;
	if (leaf == g->own_leaf || signature_key == NULL)
		return SOTTO_ERR_AUTH;
	if ((r = mls_content_verify(&ac, signature_key, &ek)) != 0)
		return r;
	*data = ac.content.body;
	*data_len = ac.content.body_len;
	*sender = leaf;
	return 0;
}
