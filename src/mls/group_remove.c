#include "mls/group_remove.h"

#include <string.h>

#include "mls/crypto.h"
#include "mls/group_application.h"
#include "mls/group_internal.h"
#include "mls/limits.h"
#include "mls/message.h"
#include "mls/proposal.h"

/* Our own proposal into the cache under its ProposalRef (RefHash over the
 * AuthenticatedContent), as a receiver caches it: so that we recognise a Commit of it. */
static int
cache_own(struct mls_group *g, const struct mls_authenticated_content *ac)
{
	struct mls_group_cached *e;
	struct buf acb;
	struct cur c;
	int r;

	if ((r = mls_group_cache_slot(g, &e)) != 0)
		return r;
	buf_init_dyn(&acb, MLS_MESSAGE_MAX);
	mls_authenticated_content_write(&acb, ac);
	buf_put(&e->bytes, ac->content.body, ac->content.body_len);
	if ((r = buf_status(&acb)) != 0 || (r = buf_status(&e->bytes)) != 0 ||
	    (r = mls_ref_hash(e->ref, "MLS 1.0 Proposal Reference", acb.p, acb.len)) != 0)
		goto out;
	cur_init(&c, e->bytes.p, e->bytes.len);
	mls_proposal_read(&c, &e->p);
	if ((r = cur_finish(&c)) != 0)
		goto out;
	e->sender = g->own_leaf;
	g->n_cache++;
out:
	buf_free(&acb);
	if (r != 0) {
		buf_free(&e->bytes);
		buf_free(&e->plain);
	}
	return r;
}

int
mls_group_propose_remove(struct mls_group *g, const uint8_t sig_sec[static 64], uint32_t leaf,
    struct buf *out)
{
	struct mls_authenticated_content ac;
	uint8_t body[2 + 4], sig[MLS_SIG_LEN];
	struct buf b;
	int r;

	if (leaf >= g->tree.n_leaves || g->tree.nodes[2 * leaf].type != MLS_NODE_LEAF)
		return SOTTO_ERR_INVALID_ARG;
	buf_init_fixed(&b, body, sizeof(body));
	buf_u16(&b, MLS_PROPOSAL_REMOVE);
	buf_u32(&b, leaf);
	if ((r = buf_status(&b)) != 0 ||
	    (r = mls_group_send_private(g, sig_sec, MLS_CONTENT_PROPOSAL, body, b.len, &ac, sig,
	    out)) != 0)
		return r;
	return cache_own(g, &ac);
}
