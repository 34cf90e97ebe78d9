#include "mls/group.h"
#include "mls/group_internal.h"
#include "mls/group_past.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "base/cursor.h"
#include "crypto/dh.h"
#include "mls/crypto.h"
#include "mls/key_package.h"
#include "mls/limits.h"
#include "mls/tls_codec.h"
#include "mls/transcript.h"
#include "mls/tree_math.h"

#define RESUMPTION_USAGE_APPLICATION 1

/* A copy of src that owns its bytes: src encoded and decoded again. */
int
mls_group_tree_copy(struct mls_ratchet_tree *dst, const struct mls_ratchet_tree *src)
{
	struct buf b;
	int r;

	memset(dst, 0, sizeof(*dst));
	buf_init_dyn(&b, MLS_MESSAGE_MAX);
	if ((r = mls_ratchet_tree_encode(src, &b)) == 0)
		r = mls_ratchet_tree_decode(dst, b.p, b.len);
	buf_free(&b);
	return r;
}

/* The public key the tree has at node x, or NULL for a blank node. */
static const uint8_t *
node_public(const struct mls_ratchet_tree *t, uint32_t x)
{
	const struct mls_node *nd = &t->nodes[x];

	if (nd->type == MLS_NODE_LEAF)
		return nd->leaf.encryption_key;
	if (nd->type == MLS_NODE_PARENT)
		return nd->encryption_key;
	return NULL;
}

/* Drops (and wipes) every key whose node is gone, blank or rekeyed in t. */
void
mls_group_keys_prune(struct mls_node_key *keys, size_t *n, const struct mls_ratchet_tree *t)
{
	uint8_t pub[MLS_KEM_PUBLIC_LEN];
	size_t i = 0;

	while (i < *n) {
		const uint8_t *want = keys[i].node < mls_tree_node_width(t->n_leaves) ?
		    node_public(t, keys[i].node) : NULL;

		if (want != NULL && dh_public(pub, keys[i].sec) == 0 &&
		    memcmp(pub, want, MLS_KEM_PUBLIC_LEN) == 0) {
			i++;
			continue;
		}
		keys[i] = keys[*n - 1];
		sodium_memzero(&keys[*n - 1], sizeof(keys[0]));
		(*n)--;
	}
}

/* Sets our key for node x, replacing any we had. */
int
mls_group_keys_set(struct mls_node_key *keys, size_t *n, uint32_t x, const uint8_t sec[static MLS_KEM_SECRET_LEN])
{
	size_t i;

	for (i = 0; i < *n && keys[i].node != x; i++)
		;
	if (i == *n) {
		if (*n == MLS_GROUP_NODE_KEYS_MAX)
			return SOTTO_ERR_INTERNAL;
		(*n)++;
	}
	keys[i].node = x;
	memcpy(keys[i].sec, sec, MLS_KEM_SECRET_LEN);
	return 0;
}

/* From the path secret of node start on sender's filtered direct path, the key of every
 * node from there up, each checked against the tree's. */
int
mls_group_keys_from_path(struct mls_node_key *keys, size_t *n, const struct mls_ratchet_tree *t,
    uint32_t sender, uint32_t start, const uint8_t path_secret[static MLS_HASH_LEN])
{
	struct mls_filtered_path fp;
	uint8_t ps[MLS_HASH_LEN], sec[MLS_KEM_SECRET_LEN];   /* SECRET */
	uint8_t pub[MLS_KEM_PUBLIC_LEN];
	size_t i;
	int r;

	if ((r = mls_filtered_direct_path(t, sender, &fp)) != 0)
		return r;
	for (i = 0; i < fp.n && fp.node[i] != start; i++)
		;
	if (i == fp.n)
		return SOTTO_ERR_AUTH;
	memcpy(ps, path_secret, MLS_HASH_LEN);
	for (; i < fp.n; i++) {
		if ((r = mls_treekem_node_keypair(pub, sec, ps)) != 0)
			break;
		if (node_public(t, fp.node[i]) == NULL ||
		    memcmp(pub, node_public(t, fp.node[i]), MLS_KEM_PUBLIC_LEN) != 0) {
			r = SOTTO_ERR_AUTH;
			break;
		}
		if ((r = mls_group_keys_set(keys, n, fp.node[i], sec)) != 0 ||
		    (r = mls_derive_secret(ps, ps, "path")) != 0)
			break;
	}
	sodium_memzero(ps, sizeof(ps));
	sodium_memzero(sec, sizeof(sec));
	return r;
}

void
mls_group_remember_resumption(struct mls_group *g)
{
	struct mls_group_resumption *p = &g->past[g->gc.epoch % MLS_GROUP_RESUMPTION_MAX];

	p->epoch = g->gc.epoch;
	p->used = 1;
	memcpy(p->psk, g->epoch.resumption_psk, MLS_HASH_LEN);
}

static void
cache_clear(struct mls_group *g)
{
	size_t i;

	for (i = 0; i < g->n_cache; i++) {
		buf_free(&g->cache[i].bytes);
		buf_wipe_free(&g->cache[i].plain);
	}
	g->n_cache = 0;
}

/* Decodes g->gc from g->gc_bytes. */
int
mls_group_read_context(struct mls_group *g)
{
	struct cur c;

	cur_init(&c, g->gc_bytes.p, g->gc_bytes.len);
	mls_group_context_read(&c, &g->gc);
	return cur_finish(&c);
}

int
mls_group_from_join(struct mls_group *g, const struct mls_joined *j,
    const uint8_t enc_sec[static MLS_KEM_SECRET_LEN], const struct mls_psk *external_psks,
    size_t n_external_psks)
{
	const struct mls_group_info *gi = &j->group_info;
	uint8_t pub[MLS_KEM_PUBLIC_LEN];
	int r;

	memset(g, 0, sizeof(*g));
	buf_init_dyn(&g->gc_bytes, MLS_MESSAGE_MAX);
	g->external_psks = external_psks;
	g->n_external_psks = n_external_psks;
	if ((g->cache = calloc(MLS_GROUP_PROPOSALS_MAX, sizeof(*g->cache))) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	buf_put(&g->gc_bytes, j->group_context.p, j->group_context.len);
	if ((r = buf_status(&g->gc_bytes)) != 0 || (r = mls_group_read_context(g)) != 0 ||
	    (r = mls_group_tree_copy(&g->tree, &j->tree)) != 0)
		goto out;
	g->own_leaf = j->own_leaf;
	g->epoch = j->epoch;
	mls_interim_transcript_hash(g->interim, gi->gc.confirmed_transcript_hash,
	    gi->confirmation_tag);
	if ((r = mls_secret_tree_init(&g->secrets, g->epoch.encryption_secret, g->tree.n_leaves)) != 0)
		goto out;
	/* Our leaf key must be our leaf's; the path secret gives the keys above the LCA. */
	if ((r = dh_public(pub, enc_sec)) != 0)
		goto out;
	if (memcmp(pub, g->tree.nodes[2 * g->own_leaf].leaf.encryption_key, MLS_KEM_PUBLIC_LEN) != 0) {
		r = SOTTO_ERR_AUTH;
		goto out;
	}
	if ((r = mls_group_keys_set(g->keys, &g->n_keys, 2 * g->own_leaf, enc_sec)) != 0)
		goto out;
	if (j->has_path_secret &&
	    (r = mls_group_keys_from_path(g->keys, &g->n_keys, &g->tree, gi->signer,
	    mls_tree_common_ancestor(g->own_leaf, gi->signer, g->tree.n_leaves),
	    j->path_secret)) != 0)
		goto out;
	mls_group_remember_resumption(g);
out:
	if (r != 0)
		mls_group_free(g);
	return r;
}

void
mls_group_free(struct mls_group *g)
{
	size_t i;

	if (g->cache != NULL) {
		cache_clear(g);
		free(g->cache);
	}
	mls_ratchet_tree_free(&g->tree);
	mls_secret_tree_free(&g->secrets);
	for (i = 0; i < MLS_PAST_EPOCHS_MAX; i++)
		mls_group_past_free(&g->past_epochs[i]);
	buf_free(&g->gc_bytes);
	sodium_memzero(g, sizeof(*g));
}

void
mls_group_epoch_keys(struct mls_group *g, struct mls_epoch_keys *ek)
{
	ek->gc = g->gc;
	ek->gc_bytes = g->gc_bytes.p;
	ek->gc_len = g->gc_bytes.len;
	ek->membership_key = g->epoch.membership_key;
	ek->sender_data_secret = g->epoch.sender_data_secret;
	ek->tree = &g->secrets;
}

/* Reads msg as content of type want from a member in this epoch into ac: a PublicMessage
 * (its membership tag checked; ac points into msg) or a PrivateMessage (decrypted into
 * plain, which ac then points into; its handshake key is used up), and checks the
 * sender's signature. */
static int
read_content(struct mls_group *g, const uint8_t *msg, size_t len, uint8_t want,
    struct buf *plain, struct mls_authenticated_content *ac)
{
	struct mls_epoch_keys ek;
	struct mls_message m;
	const struct mls_framed_content *fc = &ac->content;
	struct cur c;
	int r;

	cur_init(&c, msg, len);
	mls_message_read(&c, &m);
	if ((r = cur_finish(&c)) != 0)
		return r;
	mls_group_epoch_keys(g, &ek);
	if (m.wire_format == MLS_WIRE_PUBLIC_MESSAGE) {
		if ((r = mls_public_message_check(&m, &ek)) != 0)
			return r;
		*ac = m.pub;
	} else if (m.wire_format == MLS_WIRE_PRIVATE_MESSAGE) {
		if ((r = mls_private_message_read(&m, &ek, plain, ac)) != 0)
			return r;
	} else
		return SOTTO_ERR_UNSUPPORTED;
	if (fc->content_type != want)
		return SOTTO_ERR_PROTOCOL;
	if (fc->sender_type != MLS_SENDER_MEMBER)
		return SOTTO_ERR_UNSUPPORTED;
	if (fc->sender_index >= g->tree.n_leaves ||
	    g->tree.nodes[2 * fc->sender_index].type != MLS_NODE_LEAF)
		return SOTTO_ERR_AUTH;
	return mls_content_verify(ac, g->tree.nodes[2 * fc->sender_index].leaf.signature_key, &ek);
}

int
mls_group_cache_slot(struct mls_group *g, struct mls_group_cached **out)
{
	struct mls_group_cached *e;

	if (g->n_cache == MLS_GROUP_PROPOSALS_MAX)
		return SOTTO_ERR_LIMIT;
	e = &g->cache[g->n_cache];
	memset(e, 0, sizeof(*e));
	buf_init_dyn(&e->bytes, MLS_MESSAGE_MAX);
	buf_init_dyn(&e->plain, MLS_MESSAGE_MAX);
	*out = e;
	return 0;
}

int
mls_group_cache_proposal(struct mls_group *g, const uint8_t *msg, size_t len)
{
	struct mls_group_cached *e;
	struct mls_authenticated_content m;
	struct buf ac;
	struct cur c;
	int r;

	if ((r = mls_group_cache_slot(g, &e)) != 0)
		return r;
	buf_init_dyn(&ac, MLS_MESSAGE_MAX);
	buf_put(&e->bytes, msg, len);
	if ((r = buf_status(&e->bytes)) != 0 ||
	    (r = read_content(g, e->bytes.p, e->bytes.len, MLS_CONTENT_PROPOSAL, &e->plain, &m)) != 0)
		goto out;
	cur_init(&c, m.content.body, m.content.body_len);
	mls_proposal_read(&c, &e->p);
	if ((r = cur_finish(&c)) != 0)
		goto out;
	/* ProposalRef = RefHash("MLS 1.0 Proposal Reference", AuthenticatedContent) */
	mls_authenticated_content_write(&ac, &m);
	if ((r = buf_status(&ac)) != 0 ||
	    (r = mls_ref_hash(e->ref, "MLS 1.0 Proposal Reference", ac.p, ac.len)) != 0)
		goto out;
	e->sender = m.content.sender_index;
	g->n_cache++;
out:
	buf_free(&ac);
	if (r != 0) {
		buf_free(&e->bytes);
		buf_wipe_free(&e->plain);
	}
	return r;
}

/* The Commit's proposals by value and by reference into out. */
int
mls_group_resolve_proposals(const struct mls_group *g, const struct mls_commit *cm, uint32_t committer,
    struct mls_group_resolved *out, size_t *n)
{
	const uint8_t *ref;
	struct cur c;
	size_t k;

	*n = 0;
	cur_init(&c, cm->proposals, cm->proposals_len);
	while (cur_left(&c) > 0) {
		if (*n == MLS_COMMIT_PROPOSALS_MAX)
			return SOTTO_ERR_LIMIT;
		switch (cur_u8(&c)) {
		case MLS_PROPOSAL_OR_REF_PROPOSAL:
			mls_proposal_read(&c, &out[*n].p);
			out[*n].sender = committer;
			break;
		case MLS_PROPOSAL_OR_REF_REFERENCE:
			if ((ref = mls_cur_opaque_fixed(&c, MLS_HASH_LEN)) == NULL)
				return SOTTO_ERR_MALFORMED;
			for (k = 0; k < g->n_cache; k++)
				if (memcmp(g->cache[k].ref, ref, MLS_HASH_LEN) == 0)
					break;
			if (k == g->n_cache)
				return SOTTO_ERR_NOT_FOUND;
			out[*n].p = g->cache[k].p;
			out[*n].sender = g->cache[k].sender;
			break;
		default:
			return SOTTO_ERR_MALFORMED;
		}
		if (cur_status(&c) != 0)
			return cur_status(&c);
		(*n)++;
	}
	return 0;
}

#define EXTENSION_REQUIRED_CAPABILITIES 0x0003
/* The extension and proposal types RFC 9420 defines are supported by every client and
 * need not be listed in capabilities (7.2). */
#define DEFAULT_EXTENSION_MAX 5
#define DEFAULT_PROPOSAL_MAX 7

/* 1 if ln supports value v of a capabilities list (MLS_CAPS_*). */
static int
supports(const struct mls_leaf_node *ln, int list, uint16_t v)
{
	if ((list == MLS_CAPS_EXTENSIONS && v >= 1 && v <= DEFAULT_EXTENSION_MAX) ||
	    (list == MLS_CAPS_PROPOSALS && v >= 1 && v <= DEFAULT_PROPOSAL_MAX))
		return 1;
	return mls_capabilities_list(ln->capabilities, ln->capabilities_len, list, v);
}

/* ln supports the required_capabilities in a GroupContext's extensions ext and, if all is
 * set, every extension type there (RFC 9420 7.3, 12.1.7, 11.1). */
static int
supports_group(const struct mls_leaf_node *ln, const uint8_t *ext, size_t ext_len, int all)
{
	static const int lists[3] = { MLS_CAPS_EXTENSIONS, MLS_CAPS_PROPOSALS, MLS_CAPS_CREDENTIALS };
	struct cur c, data, l;
	const uint8_t *d;
	size_t n, k;

	cur_init(&c, ext, ext_len);
	while (cur_left(&c) > 0) {
		uint16_t type = cur_u16(&c);

		d = mls_cur_opaque(&c, MLS_EXTENSIONS_MAX, &n);
		if (cur_status(&c) != 0)
			return SOTTO_ERR_MALFORMED;
		if (all && !supports(ln, MLS_CAPS_EXTENSIONS, type))
			return SOTTO_ERR_PROTOCOL;
		if (type != EXTENSION_REQUIRED_CAPABILITIES)
			continue;
		/* { extension_types<V>; proposal_types<V>; credential_types<V>; } */
		cur_init(&data, d, n);
		for (k = 0; k < 3; k++) {
			mls_cur_vector(&data, MLS_CAPABILITY_LIST_MAX, &l);
			while (cur_status(&data) == 0 && cur_left(&l) > 0)
				if (!supports(ln, lists[k], cur_u16(&l)))
					return SOTTO_ERR_PROTOCOL;
			if (cur_finish(&l) != 0)
				return SOTTO_ERR_MALFORMED;
		}
		if (cur_finish(&data) != 0)
			return SOTTO_ERR_MALFORMED;
	}
	return 0;
}

/* A leaf joining or changing at position at (UINT32_MAX for a new one) fits the group
 * (RFC 9420 7.3): its extensions are in its own capabilities, it supports the group's
 * required capabilities, and it and every other member support each other's credential
 * types. */
static int
check_leaf_fits(const struct mls_group *g, const struct mls_leaf_node *ln, uint32_t at)
{
	struct cur c;
	uint32_t l;
	size_t n;
	int r;

	cur_init(&c, ln->extensions, ln->extensions_len);
	while (cur_left(&c) > 0) {
		uint16_t type = cur_u16(&c);

		(void)mls_cur_opaque(&c, MLS_EXTENSIONS_MAX, &n);
		if (cur_status(&c) != 0)
			return SOTTO_ERR_MALFORMED;
		if (!supports(ln, MLS_CAPS_EXTENSIONS, type))
			return SOTTO_ERR_PROTOCOL;
	}
	if ((r = supports_group(ln, g->gc.extensions, g->gc.extensions_len, 0)) != 0)
		return r;
	for (l = 0; l < g->tree.n_leaves; l++) {
		const struct mls_leaf_node *other = &g->tree.nodes[2 * l].leaf;

		if (l == at || g->tree.nodes[2 * l].type != MLS_NODE_LEAF)
			continue;
		if (!supports(other, MLS_CAPS_CREDENTIALS, ln->credential_type) ||
		    !supports(ln, MLS_CAPS_CREDENTIALS, other->credential_type))
			return SOTTO_ERR_PROTOCOL;
	}
	return 0;
}

/* New GroupContext extensions: well-formed and supported by every member (12.1.7). */
static int
check_new_extensions(const struct mls_group *g, const struct mls_proposal *p)
{
	struct cur c, list;
	uint32_t l;
	int r;

	cur_init(&c, p->body, p->body_len);
	mls_cur_vector(&c, MLS_EXTENSIONS_MAX, &list);
	if ((r = cur_finish(&c)) != 0 || (r = mls_extensions_check(list.p, list.len)) != 0)
		return r;
	for (l = 0; l < g->tree.n_leaves; l++)
		if (g->tree.nodes[2 * l].type == MLS_NODE_LEAF &&
		    (r = supports_group(&g->tree.nodes[2 * l].leaf, list.p, list.len, 1)) != 0)
			return r;
	return 0;
}

static int
same_psk_id(const struct mls_psk *a, const struct mls_psk *b)
{
	if (a->type != b->type || a->nonce_len != b->nonce_len ||
	    memcmp(a->nonce, b->nonce, a->nonce_len) != 0)
		return 0;
	if (a->type == MLS_PSK_EXTERNAL)
		return a->id_len == b->id_len && memcmp(a->id, b->id, a->id_len) == 0;
	return a->usage == b->usage && a->epoch == b->epoch && a->group_id_len == b->group_id_len &&
	    memcmp(a->group_id, b->group_id, a->group_id_len) == 0;
}

/* The list as a whole (RFC 9420 12.2) and each proposal alone (12.1). *path_required is
 * set if the Commit must carry a path. */
int
mls_group_check_proposals(const struct mls_group *g, const struct mls_group_resolved *rp, size_t n,
    uint32_t committer, int *path_required)
{
	size_t i, k, n_gce = 0;
	int r;

	*path_required = n == 0;
	for (i = 0; i < n; i++) {
		const struct mls_proposal *p = &rp[i].p;

		switch (p->type) {
		case MLS_PROPOSAL_ADD:
			if ((r = mls_key_package_verify(&p->add, (uint64_t)time(NULL))) != 0 ||
			    (r = check_leaf_fits(g, &p->add.leaf, UINT32_MAX)) != 0)
				return r;
			break;
		case MLS_PROPOSAL_UPDATE:
			*path_required = 1;
			if (rp[i].sender == committer || p->update.source != MLS_LEAF_SOURCE_UPDATE)
				return SOTTO_ERR_PROTOCOL;
			if ((r = mls_leaf_node_verify(&p->update, g->gc.group_id, g->gc.group_id_len,
			    rp[i].sender)) != 0 ||
			    (r = check_leaf_fits(g, &p->update, rp[i].sender)) != 0)
				return r;
			break;
		case MLS_PROPOSAL_REMOVE:
			*path_required = 1;
			if (p->removed >= g->tree.n_leaves || p->removed == committer ||
			    g->tree.nodes[2 * p->removed].type != MLS_NODE_LEAF)
				return SOTTO_ERR_PROTOCOL;
			break;
		case MLS_PROPOSAL_PSK:
			if (p->psk.nonce_len != MLS_HASH_LEN ||
			    (p->psk.type == MLS_PSK_RESUMPTION &&
			    p->psk.usage != RESUMPTION_USAGE_APPLICATION))
				return SOTTO_ERR_PROTOCOL;
			break;
		case MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS:
			*path_required = 1;
			if (++n_gce > 1)
				return SOTTO_ERR_PROTOCOL;
			if ((r = check_new_extensions(g, p)) != 0)
				return r;
			break;
		case MLS_PROPOSAL_REINIT:
			return SOTTO_ERR_UNSUPPORTED;
		default:   /* ExternalInit: only in an external commit */
			return SOTTO_ERR_PROTOCOL;
		}
		/* At most one Update or Remove per leaf, one of each PSK. */
		for (k = 0; k < i; k++) {
			const struct mls_group_resolved *q = &rp[k];
			uint32_t a = p->type == MLS_PROPOSAL_REMOVE ? p->removed : rp[i].sender;
			uint32_t b = q->p.type == MLS_PROPOSAL_REMOVE ? q->p.removed : q->sender;

			if ((p->type == MLS_PROPOSAL_UPDATE || p->type == MLS_PROPOSAL_REMOVE) &&
			    (q->p.type == MLS_PROPOSAL_UPDATE || q->p.type == MLS_PROPOSAL_REMOVE) &&
			    a == b)
				return SOTTO_ERR_PROTOCOL;
			if (p->type == MLS_PROPOSAL_PSK && q->p.type == MLS_PROPOSAL_PSK &&
			    same_psk_id(&p->psk, &q->p.psk))
				return SOTTO_ERR_PROTOCOL;
		}
	}
	return 0;
}

/* Applies the proposals to t in the order of RFC 9420 12.3: GroupContextExtensions,
 * Update, Remove, Add. The leaves added go to added (*n_added of them); *ext is set to the
 * new extensions if there is a GroupContextExtensions. */
int
mls_group_apply_proposals(struct mls_ratchet_tree *t, uint32_t own_leaf, const struct mls_group_resolved *rp,
    size_t n, uint32_t *added, size_t *n_added, const uint8_t **ext, size_t *ext_len)
{
	static const uint16_t order[] = { MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS,
	    MLS_PROPOSAL_UPDATE, MLS_PROPOSAL_REMOVE, MLS_PROPOSAL_ADD };
	struct cur c, list;
	size_t i, k;
	int r = 0;

	*n_added = 0;
	for (k = 0; k < sizeof(order) / sizeof(order[0]); k++)
		for (i = 0; i < n && r == 0; i++) {
			const struct mls_proposal *p = &rp[i].p;

			if (p->type != order[k])
				continue;
			switch (p->type) {
			case MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS:
				cur_init(&c, p->body, p->body_len);
				mls_cur_vector(&c, MLS_EXTENSIONS_MAX, &list);
				if ((r = cur_finish(&c)) == 0 &&
				    (r = mls_extensions_check(list.p, list.len)) == 0) {
					*ext = list.p;
					*ext_len = list.len;
				}
				break;
			case MLS_PROPOSAL_UPDATE:
				r = mls_ratchet_tree_update(t, rp[i].sender, &p->update);
				break;
			case MLS_PROPOSAL_REMOVE:
				r = p->removed == own_leaf ? SOTTO_ERR_STATE :
				    mls_ratchet_tree_remove(t, p->removed);
				break;
			default:
				r = mls_ratchet_tree_add(t, &p->add.leaf, &added[*n_added]);
				if (r == 0)
					(*n_added)++;
				break;
			}
		}
	return r;
}

/* psk_secret over the PSK proposals in list order: external PSKs we were given, and
 * resumption PSKs of this group's past epochs. */
static int
commit_psk_secret(const struct mls_group *g, const struct mls_group_resolved *rp, size_t n,
    uint8_t out[static MLS_HASH_LEN])
{
	struct mls_psk *psks;
	size_t i, k, m = 0;
	int r = 0;

	if ((psks = calloc(MLS_PSK_COUNT_MAX, sizeof(*psks))) == NULL)
		return SOTTO_ERR_NOMEM;
	for (i = 0; i < n && r == 0; i++) {
		const struct mls_psk *id = &rp[i].p.psk;

		if (rp[i].p.type != MLS_PROPOSAL_PSK)
			continue;
		if (m == MLS_PSK_COUNT_MAX) {
			r = SOTTO_ERR_LIMIT;
			break;
		}
		psks[m] = *id;
		psks[m].psk = NULL;
		if (id->type == MLS_PSK_EXTERNAL) {
			for (k = 0; k < g->n_external_psks; k++)
				if (g->external_psks[k].id_len == id->id_len &&
				    memcmp(g->external_psks[k].id, id->id, id->id_len) == 0) {
					psks[m].psk = g->external_psks[k].psk;
					psks[m].psk_len = g->external_psks[k].psk_len;
				}
		} else if (id->group_id_len == g->gc.group_id_len &&
		    memcmp(id->group_id, g->gc.group_id, id->group_id_len) == 0) {
			const struct mls_group_resumption *pe =
			    &g->past[id->epoch % MLS_GROUP_RESUMPTION_MAX];

			if (pe->used && pe->epoch == id->epoch) {
				psks[m].psk = pe->psk;
				psks[m].psk_len = MLS_HASH_LEN;
			}
		}
		if (psks[m++].psk == NULL)
			r = SOTTO_ERR_NOT_FOUND;
	}
	if (r == 0)
		r = mls_psk_secret(out, psks, m);
	sodium_memzero(psks, MLS_PSK_COUNT_MAX * sizeof(*psks));
	free(psks);
	return r;
}

/* The GroupContext of the next epoch, encoded into b. */
int
mls_group_next_context(struct buf *b, const struct mls_group *g, const struct mls_ratchet_tree *t,
    const uint8_t *confirmed, size_t confirmed_len, const uint8_t *ext, size_t ext_len,
    uint8_t tree_hash[static MLS_HASH_LEN])
{
	struct mls_group_context gc = g->gc;
	int r;

	if ((r = mls_ratchet_tree_hash(t, mls_tree_root(t->n_leaves), tree_hash)) != 0)
		return r;
	gc.epoch++;
	gc.tree_hash = tree_hash;
	gc.tree_hash_len = MLS_HASH_LEN;
	gc.confirmed_transcript_hash = confirmed;
	gc.confirmed_transcript_hash_len = confirmed_len;
	gc.extensions = ext;
	gc.extensions_len = ext_len;
	buf_reset(b);
	mls_group_context_write(b, &gc);
	return buf_status(b);
}

int
mls_group_enter_epoch(struct mls_group *g, const struct mls_ratchet_tree *next,
    const struct mls_epoch_secrets *epoch, struct buf *gc_next,
    const uint8_t confirmed[static MLS_HASH_LEN], const uint8_t tag[static MLS_HASH_LEN],
    const struct mls_node_key *keys, size_t n_keys)
{
	struct mls_ratchet_tree owned = { 0 };
	struct mls_secret_tree secrets = { 0 };
	struct mls_group_past_epoch leaving;
	struct buf gc_bytes;
	int r;

	if ((r = mls_group_tree_copy(&owned, next)) != 0 ||
	    (r = mls_secret_tree_init(&secrets, epoch->encryption_secret, owned.n_leaves)) != 0 ||
	    (r = mls_group_past_prepare(&leaving, g)) != 0) {
		mls_ratchet_tree_free(&owned);
		mls_secret_tree_free(&secrets);
		return r;
	}
	mls_interim_transcript_hash(g->interim, confirmed, tag);
	mls_ratchet_tree_free(&g->tree);
	g->tree = owned;
	/* The epoch we leave keeps its application keys for late messages. */
	mls_group_past_keep(g, &leaving, &g->secrets);
	g->secrets = secrets;
	mls_epoch_secrets_wipe(&g->epoch);
	g->epoch = *epoch;
	memcpy(g->keys, keys, n_keys * sizeof(keys[0]));
	g->n_keys = n_keys;
	mls_group_keys_prune(g->keys, &g->n_keys, &g->tree);
	/* gc_next moves into g; the caller's buffer is left empty. */
	gc_bytes = g->gc_bytes;
	g->gc_bytes = *gc_next;
	*gc_next = gc_bytes;
	buf_reset(gc_next);
	cache_clear(g);
	sodium_memzero(g->pending_update_sec, sizeof(g->pending_update_sec));
	g->has_pending_update = 0;
	if ((r = mls_group_read_context(g)) != 0)   /* we wrote it: cannot fail */
		return r;
	mls_group_remember_resumption(g);
	return 0;
}

int
mls_group_process_commit(struct mls_group *g, const uint8_t *msg, size_t len)
{
	uint32_t committer;

	return mls_group_process_commit_by(g, msg, len, &committer);
}

int
mls_group_process_commit_by(struct mls_group *g, const uint8_t *msg, size_t len,
    uint32_t *by)
{
	struct mls_authenticated_content m;
	struct mls_commit cm;
	struct mls_group_resolved *rp = NULL;
	struct mls_ratchet_tree next = { 0 };
	struct mls_epoch_secrets epoch;                                   /* SECRET */
	struct mls_node_key keys[MLS_GROUP_NODE_KEYS_MAX];                /* SECRET */
	uint8_t commit_secret[MLS_HASH_LEN] = { 0 }, psk_secret[MLS_HASH_LEN];   /* SECRET */
	uint8_t path_secret[MLS_HASH_LEN];                                /* SECRET */
	uint8_t confirmed[MLS_HASH_LEN], tree_hash[MLS_HASH_LEN], pub[MLS_KEM_PUBLIC_LEN];
	uint32_t added[MLS_COMMIT_PROPOSALS_MAX], committer, ps_node;
	const uint8_t *ext = g->gc.extensions;
	size_t ext_len = g->gc.extensions_len, n = 0, n_added = 0, n_keys = g->n_keys;
	const struct mls_framed_content *fc = &m.content;
	const struct mls_auth_data *auth = &m.auth;
	struct buf gc_next, plain;
	struct cur c;
	int path_required, r;

	*by = UINT32_MAX;
	memset(&epoch, 0, sizeof(epoch));
	memcpy(keys, g->keys, sizeof(keys));
	buf_init_dyn(&gc_next, MLS_MESSAGE_MAX);
	buf_init_dyn(&plain, MLS_MESSAGE_MAX);
	if ((r = read_content(g, msg, len, MLS_CONTENT_COMMIT, &plain, &m)) != 0)
		goto out;
	committer = fc->sender_index;
	*by = committer;
	if (committer == g->own_leaf) {   /* our own commits are merged by their sender */
		r = SOTTO_ERR_STATE;
		goto out;
	}
	if (auth->confirmation_tag_len != MLS_HASH_LEN) {
		r = SOTTO_ERR_MALFORMED;
		goto out;
	}
	cur_init(&c, fc->body, fc->body_len);
	mls_commit_read(&c, &cm);
	if ((r = cur_finish(&c)) != 0)
		goto out;
	if ((rp = calloc(MLS_COMMIT_PROPOSALS_MAX, sizeof(*rp))) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	if ((r = mls_group_resolve_proposals(g, &cm, committer, rp, &n)) != 0 ||
	    (r = mls_group_check_proposals(g, rp, n, committer, &path_required)) != 0)
		goto out;
	if (path_required && !cm.has_path) {
		r = SOTTO_ERR_PROTOCOL;
		goto out;
	}
	/* The proposals and the path, on a copy of the tree. */
	if ((r = mls_group_tree_copy(&next, &g->tree)) != 0 ||
	    (r = mls_group_apply_proposals(&next, g->own_leaf, rp, n, added, &n_added, &ext, &ext_len)) != 0)
		goto out;
	if (cm.has_path &&
	    ((r = mls_leaf_node_verify(&cm.path.leaf, g->gc.group_id, g->gc.group_id_len,
	    committer)) != 0 || (r = check_leaf_fits(g, &cm.path.leaf, committer)) != 0 ||
	    (r = mls_treekem_merge(&next, committer, &cm.path)) != 0))
		goto out;
	if ((r = mls_ratchet_tree_check_unique_keys(&next)) != 0)
		goto out;
	/* Our Update, if this Commit applied it: its private key is now our leaf's. */
	if (g->has_pending_update && dh_public(pub, g->pending_update_sec) == 0 &&
	    memcmp(pub, next.nodes[2 * g->own_leaf].leaf.encryption_key, MLS_KEM_PUBLIC_LEN) == 0 &&
	    (r = mls_group_keys_set(keys, &n_keys, 2 * g->own_leaf, g->pending_update_sec)) != 0)
		goto out;
	mls_group_keys_prune(keys, &n_keys, &next);
	/* The path secret, under the provisional GroupContext (old transcript hash). */
	if (cm.has_path) {
		if ((r = mls_group_next_context(&gc_next, g, &next, g->gc.confirmed_transcript_hash,
		    g->gc.confirmed_transcript_hash_len, ext, ext_len, tree_hash)) != 0 ||
		    (r = mls_treekem_decrypt(&next, committer, &cm.path, gc_next.p, gc_next.len,
		    keys, n_keys, added, n_added, path_secret, &ps_node, commit_secret)) != 0 ||
		    (r = mls_group_keys_from_path(keys, &n_keys, &next, committer, ps_node, path_secret)) != 0)
			goto out;
	}
	/* The new epoch: transcript, GroupContext, key schedule, confirmation. */
	if ((r = mls_confirmed_transcript_hash(confirmed, g->interim, MLS_HASH_LEN,
	    m.wire_format, fc, auth->signature, auth->signature_len)) != 0 ||
	    (r = mls_group_next_context(&gc_next, g, &next, confirmed, MLS_HASH_LEN, ext, ext_len,
	    tree_hash)) != 0 ||
	    (r = commit_psk_secret(g, rp, n, psk_secret)) != 0 ||
	    (r = mls_key_schedule_advance(&epoch, g->epoch.init_secret, commit_secret, psk_secret,
	    gc_next.p, gc_next.len)) != 0 ||
	    (r = mls_confirmation_tag_verify(auth->confirmation_tag, auth->confirmation_tag_len,
	    epoch.confirmation_key, confirmed)) != 0)
		goto out;
	r = mls_group_enter_epoch(g, &next, &epoch, &gc_next, confirmed, auth->confirmation_tag,
	    keys, n_keys);
out:
	buf_free(&gc_next);
	buf_wipe_free(&plain);
	mls_ratchet_tree_free(&next);
	mls_epoch_secrets_wipe(&epoch);
	sodium_memzero(keys, sizeof(keys));
	sodium_memzero(commit_secret, sizeof(commit_secret));
	sodium_memzero(psk_secret, sizeof(psk_secret));
	sodium_memzero(path_secret, sizeof(path_secret));
	free(rp);
	return r;
}
