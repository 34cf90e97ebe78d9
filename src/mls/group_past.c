#include "mls/group_past.h"

#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "base/cursor.h"
#include "mls/limits.h"

int
mls_group_past_prepare(struct mls_group_past_epoch *e, const struct mls_group *g)
{
	uint32_t l;
	int r;

	memset(e, 0, sizeof(*e));
	buf_init_dyn(&e->gc_bytes, MLS_MESSAGE_MAX);
	buf_put(&e->gc_bytes, g->gc_bytes.p, g->gc_bytes.len);
	if ((r = buf_status(&e->gc_bytes)) != 0 || (r = mls_group_past_read_context(e)) != 0)
		goto out;
	if ((e->leaves = calloc(g->tree.n_leaves, sizeof(*e->leaves))) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	for (l = 0; l < g->tree.n_leaves; l++) {
		const struct mls_node *nd = &g->tree.nodes[2 * (size_t)l];

		if (nd->type != MLS_NODE_LEAF)
			continue;
		e->leaves[l].present = 1;
		memcpy(e->leaves[l].signature_key, nd->leaf.signature_key, MLS_SIG_PUBLIC_LEN);
	}
	memcpy(e->sender_data_secret, g->epoch.sender_data_secret, MLS_HASH_LEN);
	e->used = 1;
out:
	if (r != 0)
		mls_group_past_free(e);
	return r;
}

void
mls_group_past_keep(struct mls_group *g, struct mls_group_past_epoch *e,
    struct mls_secret_tree *secrets)
{
	struct mls_group_past_epoch *slot = &g->past_epochs[e->gc.epoch % MLS_PAST_EPOCHS_MAX];

	mls_group_past_free(slot);
	e->secrets = *secrets;
	memset(secrets, 0, sizeof(*secrets));
	mls_secret_tree_retire(&e->secrets);
	*slot = *e;
	memset(e, 0, sizeof(*e));   /* transferred */
}

void
mls_group_past_free(struct mls_group_past_epoch *e)
{
	buf_free(&e->gc_bytes);
	mls_secret_tree_free(&e->secrets);
	free(e->leaves);
	sodium_memzero(e, sizeof(*e));
}

int
mls_group_past_read_context(struct mls_group_past_epoch *e)
{
	struct cur c;

	cur_init(&c, e->gc_bytes.p, e->gc_bytes.len);
	mls_group_context_read(&c, &e->gc);
	return cur_finish(&c);
}

struct mls_group_past_epoch *
mls_group_past_find(struct mls_group *g, uint64_t epoch)
{
	struct mls_group_past_epoch *e = &g->past_epochs[epoch % MLS_PAST_EPOCHS_MAX];

	return e->used && e->gc.epoch == epoch ? e : NULL;
}

void
mls_group_past_epoch_keys(struct mls_group_past_epoch *e, struct mls_epoch_keys *ek)
{
	memset(ek, 0, sizeof(*ek));
	ek->gc = e->gc;
	ek->gc_bytes = e->gc_bytes.p;
	ek->gc_len = e->gc_bytes.len;
	ek->sender_data_secret = e->sender_data_secret;
	ek->tree = &e->secrets;
}
