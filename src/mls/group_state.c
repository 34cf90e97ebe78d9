#include "mls/group_state.h"

#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "base/cursor.h"
#include "crypto/dh.h"
#include "mls/group_internal.h"
#include "mls/group_past.h"
#include "mls/limits.h"
#include "mls/tls_codec.h"
#include "mls/tree_math.h"

#define EPOCH_SECRETS 11

_Static_assert(MLS_SKIPPED_KEYS_MAX <= UINT16_MAX, "n_skipped is a uint16");
_Static_assert(MLS_GROUP_NODE_KEYS_MAX <= UINT8_MAX, "n_keys is a uint8");
_Static_assert(MLS_GROUP_RESUMPTION_MAX <= UINT8_MAX, "n_resumption is a uint8");
_Static_assert(MLS_GROUP_PROPOSALS_MAX <= UINT16_MAX, "n_cached is a uint16");
_Static_assert(MLS_PAST_EPOCHS_MAX <= UINT8_MAX, "n_past is a uint8");

/* The epoch's secrets in the order of the format. */
static void
epoch_fields(struct mls_epoch_secrets *e, uint8_t *f[EPOCH_SECRETS])
{
	f[0] = e->joiner_secret;
	f[1] = e->welcome_secret;
	f[2] = e->sender_data_secret;
	f[3] = e->encryption_secret;
	f[4] = e->exporter_secret;
	f[5] = e->external_secret;
	f[6] = e->confirmation_key;
	f[7] = e->membership_key;
	f[8] = e->resumption_psk;
	f[9] = e->epoch_authenticator;
	f[10] = e->init_secret;
}

/* A retired tree (application_only) has no handshake ratchets to write. */
static void
write_secret_tree(struct buf *b, const struct mls_secret_tree *t)
{
	uint32_t w = mls_tree_node_width(t->n_leaves), x, l;
	size_t i, n = 0;

	buf_u64(b, t->stores);
	for (x = 0; x < w; x++) {
		buf_u8(b, t->present[x]);
		if (t->present[x])
			buf_put(b, t->node[x], MLS_HASH_LEN);
	}
	for (l = 0; l < t->n_leaves; l++) {
		buf_u8(b, t->started[l]);
		if (!t->started[l])
			continue;
		for (i = t->application_only ? 1 : 0; i < 2; i++) {
			buf_put(b, t->ratchets[2 * (size_t)l + i].secret, MLS_HASH_LEN);
			buf_u32(b, t->ratchets[2 * (size_t)l + i].generation);
		}
	}
	for (i = 0; i < MLS_SKIPPED_KEYS_MAX; i++)
		n += t->skipped[i].used;
	buf_u16(b, (uint16_t)n);
	for (i = 0; i < MLS_SKIPPED_KEYS_MAX; i++) {
		const struct mls_skipped_key *k = &t->skipped[i];

		if (!k->used)
			continue;
		buf_u32(b, k->leaf);
		buf_u32(b, k->generation);
		buf_u8(b, k->handshake);
		buf_put(b, k->key, MLS_AEAD_KEY_LEN);
		buf_put(b, k->nonce, MLS_AEAD_NONCE_LEN);
		buf_u64(b, k->stored);
	}
}

/* The kept past epochs, oldest first. */
static void
write_past_epochs(struct buf *b, const struct mls_group *g)
{
	const struct mls_group_past_epoch *e[MLS_PAST_EPOCHS_MAX];
	uint64_t k;
	size_t i, n = 0;
	uint32_t l;

	for (k = MLS_PAST_EPOCHS_MAX; k >= 1; k--) {
		const struct mls_group_past_epoch *p;

		if (g->gc.epoch < k)
			continue;
		p = &g->past_epochs[(g->gc.epoch - k) % MLS_PAST_EPOCHS_MAX];
		if (p->used && p->gc.epoch == g->gc.epoch - k)
			e[n++] = p;
	}
	buf_u8(b, (uint8_t)n);
	for (i = 0; i < n; i++) {
		mls_buf_opaque(b, e[i]->gc_bytes.p, e[i]->gc_bytes.len);
		buf_put(b, e[i]->sender_data_secret, MLS_HASH_LEN);
		buf_u32(b, e[i]->secrets.n_leaves);
		write_secret_tree(b, &e[i]->secrets);
		for (l = 0; l < e[i]->secrets.n_leaves; l++) {
			buf_u8(b, e[i]->leaves[l].present);
			if (e[i]->leaves[l].present)
				buf_put(b, e[i]->leaves[l].signature_key, MLS_SIG_PUBLIC_LEN);
		}
	}
}

int
mls_group_state_write(const struct mls_group *g, struct buf *out)
{
	struct mls_epoch_secrets epoch = g->epoch;   /* SECRET: a copy to take field pointers */
	uint8_t *f[EPOCH_SECRETS];
	struct buf tree;
	size_t i, n = 0;
	int r;

	buf_init_dyn(&tree, MLS_MESSAGE_MAX);
	if ((r = mls_ratchet_tree_encode(&g->tree, &tree)) != 0)
		goto out;
	buf_u8(out, MLS_GROUP_STATE_VERSION);
	mls_buf_opaque(out, tree.p, tree.len);
	buf_u32(out, g->own_leaf);
	mls_buf_opaque(out, g->gc_bytes.p, g->gc_bytes.len);
	mls_buf_opaque(out, g->interim, MLS_HASH_LEN);
	epoch_fields(&epoch, f);
	mls_buf_varint(out, EPOCH_SECRETS * MLS_HASH_LEN);
	for (i = 0; i < EPOCH_SECRETS; i++)
		buf_put(out, f[i], MLS_HASH_LEN);
	write_secret_tree(out, &g->secrets);
	buf_u8(out, (uint8_t)g->n_keys);
	for (i = 0; i < g->n_keys; i++) {
		buf_u32(out, g->keys[i].node);
		buf_put(out, g->keys[i].sec, MLS_KEM_SECRET_LEN);
	}
	for (i = 0; i < MLS_GROUP_RESUMPTION_MAX; i++)
		n += g->past[i].used != 0;
	buf_u8(out, (uint8_t)n);
	for (i = 0; i < MLS_GROUP_RESUMPTION_MAX; i++)
		if (g->past[i].used) {
			buf_u64(out, g->past[i].epoch);
			buf_put(out, g->past[i].psk, MLS_HASH_LEN);
		}
	buf_u16(out, (uint16_t)g->n_cache);
	for (i = 0; i < g->n_cache; i++) {
		buf_put(out, g->cache[i].ref, MLS_HASH_LEN);
		buf_u32(out, g->cache[i].sender);
		buf_u16(out, g->cache[i].p.type);
		mls_buf_opaque(out, g->cache[i].p.body, g->cache[i].p.body_len);
	}
	buf_u8(out, g->has_pending_update ? 1 : 0);
	if (g->has_pending_update)
		buf_put(out, g->pending_update_sec, MLS_KEM_SECRET_LEN);
	write_past_epochs(out, g);
	r = buf_status(out);
out:
	mls_epoch_secrets_wipe(&epoch);
	buf_free(&tree);
	return r;
}

/* Fails c with SOTTO_ERR_CORRUPT unless ok. */
static void
require(struct cur *c, int ok)
{
	if (!ok)
		cur_fail(c, SOTTO_ERR_CORRUPT);
}

static void
read_ratchet(struct cur *c, struct mls_ratchet *rt)
{
	cur_copy(c, rt->secret, MLS_HASH_LEN);
	rt->generation = cur_u32(c);
	require(c, rt->generation < UINT32_MAX);
}

/* The secret tree of t's width, every field read from c; retired (no handshake ratchets
 * or keys) if application_only. */
static int
read_secret_tree(struct cur *c, struct mls_secret_tree *t, uint32_t n_leaves, int application_only)
{
	static const uint8_t zero[MLS_HASH_LEN];
	uint32_t w = mls_tree_node_width(n_leaves), x, l;
	size_t i, n;
	int r;

	if ((r = mls_secret_tree_init(t, zero, n_leaves)) != 0)
		return r;
	t->present[mls_tree_root(n_leaves)] = 0;
	t->application_only = application_only ? 1 : 0;
	t->stores = cur_u64(c);
	for (x = 0; x < w && cur_status(c) == 0; x++) {
		uint8_t p = cur_u8(c);

		require(c, p <= 1);
		if (p == 1) {
			cur_copy(c, t->node[x], MLS_HASH_LEN);
			t->present[x] = 1;
		}
	}
	for (l = 0; l < n_leaves && cur_status(c) == 0; l++) {
		uint8_t s = cur_u8(c);

		require(c, s <= 1);
		if (s == 1) {
			if (!application_only)
				read_ratchet(c, &t->ratchets[2 * (size_t)l]);
			read_ratchet(c, &t->ratchets[2 * (size_t)l + 1]);
			t->started[l] = 1;
		}
	}
	n = cur_u16(c);
	require(c, n <= MLS_SKIPPED_KEYS_MAX);
	for (i = 0; i < n && cur_status(c) == 0; i++) {
		struct mls_skipped_key *k = &t->skipped[i];

		k->leaf = cur_u32(c);
		k->generation = cur_u32(c);
		k->handshake = cur_u8(c);
		cur_copy(c, k->key, MLS_AEAD_KEY_LEN);
		cur_copy(c, k->nonce, MLS_AEAD_NONCE_LEN);
		k->stored = cur_u64(c);
		k->used = 1;
		require(c, k->leaf < n_leaves && t->started[k->leaf] &&
		    k->handshake <= (application_only ? 0 : 1) &&
		    k->stored < t->stores &&
		    k->generation < t->ratchets[2 * (size_t)k->leaf + (k->handshake ? 0 : 1)].generation);
	}
	return cur_status(c);
}

/* Our node keys: each the private key of the tree's public key at its node, once each,
 * our leaf's among them. */
static int
read_keys(struct cur *c, struct mls_group *g)
{
	uint8_t pub[MLS_KEM_PUBLIC_LEN];
	uint32_t w = mls_tree_node_width(g->tree.n_leaves);
	size_t i, k;
	int own = 0;

	g->n_keys = cur_u8(c);
	require(c, g->n_keys <= MLS_GROUP_NODE_KEYS_MAX);
	if (cur_status(c) != 0) {
		g->n_keys = 0;
		return cur_status(c);
	}
	for (i = 0; i < g->n_keys && cur_status(c) == 0; i++) {
		const struct mls_node *nd;
		const uint8_t *want = NULL;

		g->keys[i].node = cur_u32(c);
		cur_copy(c, g->keys[i].sec, MLS_KEM_SECRET_LEN);
		if (cur_status(c) != 0 || g->keys[i].node >= w)
			break;
		nd = &g->tree.nodes[g->keys[i].node];
		if (nd->type == MLS_NODE_LEAF)
			want = nd->leaf.encryption_key;
		else if (nd->type == MLS_NODE_PARENT)
			want = nd->encryption_key;
		for (k = 0; k < i && g->keys[k].node != g->keys[i].node; k++)
			;
		if (want == NULL || k < i || dh_public(pub, g->keys[i].sec) != 0 ||
		    memcmp(pub, want, MLS_KEM_PUBLIC_LEN) != 0)
			break;
		own |= g->keys[i].node == 2 * g->own_leaf;
	}
	require(c, i == g->n_keys && own);
	return cur_status(c);
}

/* The resumption PSKs, in the order of their slots (epoch mod MLS_GROUP_RESUMPTION_MAX),
 * as written: one encoding per state. */
static int
read_resumption(struct cur *c, struct mls_group *g)
{
	size_t i, n = cur_u8(c), slot, next = 0;

	require(c, n <= MLS_GROUP_RESUMPTION_MAX);
	for (i = 0; i < n && cur_status(c) == 0; i++) {
		uint64_t e = cur_u64(c);
		struct mls_group_resumption *p = &g->past[e % MLS_GROUP_RESUMPTION_MAX];

		slot = (size_t)(e % MLS_GROUP_RESUMPTION_MAX);
		require(c, slot >= next && e <= g->gc.epoch);
		next = slot + 1;
		if (cur_status(c) != 0)
			break;
		p->epoch = e;
		p->used = 1;
		cur_copy(c, p->psk, MLS_HASH_LEN);
	}
	return cur_status(c);
}

/* One past epoch of this group, epoch after the previous one read (*after, or -1 as
 * UINT64_MAX for none yet), before the current one and at most MLS_PAST_EPOCHS_MAX back. */
static int
read_past_epoch(struct cur *c, struct mls_group *g, uint64_t *after)
{
	struct mls_group_past_epoch e;
	const uint8_t *gc;
	size_t gc_len = 0;
	uint32_t n_leaves, l;
	int r;

	memset(&e, 0, sizeof(e));
	buf_init_dyn(&e.gc_bytes, MLS_MESSAGE_MAX);
	gc = mls_cur_opaque(c, MLS_MESSAGE_MAX, &gc_len);
	cur_copy(c, e.sender_data_secret, MLS_HASH_LEN);
	n_leaves = cur_u32(c);
	/* every leaf takes at least two bytes below: no allocation beyond the input */
	require(c, mls_tree_valid_width(n_leaves) && n_leaves <= cur_left(c) / 2);
	if ((r = cur_status(c)) != 0)
		goto out;
	buf_put(&e.gc_bytes, gc, gc_len);
	if ((r = buf_status(&e.gc_bytes)) != 0 || (r = mls_group_past_read_context(&e)) != 0)
		goto out;
	require(c, e.gc.epoch < g->gc.epoch && g->gc.epoch - e.gc.epoch <= MLS_PAST_EPOCHS_MAX &&
	    (*after == UINT64_MAX || e.gc.epoch > *after) &&
	    e.gc.group_id_len == g->gc.group_id_len &&
	    memcmp(e.gc.group_id, g->gc.group_id, g->gc.group_id_len) == 0);
	if ((r = cur_status(c)) != 0 ||
	    (r = read_secret_tree(c, &e.secrets, n_leaves, 1)) != 0)
		goto out;
	if ((e.leaves = calloc(n_leaves, sizeof(*e.leaves))) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	for (l = 0; l < n_leaves && cur_status(c) == 0; l++) {
		e.leaves[l].present = cur_u8(c);
		require(c, e.leaves[l].present <= 1);
		if (e.leaves[l].present == 1)
			cur_copy(c, e.leaves[l].signature_key, MLS_SIG_PUBLIC_LEN);
	}
	if ((r = cur_status(c)) != 0)
		goto out;
	*after = e.gc.epoch;
	e.used = 1;
	g->past_epochs[e.gc.epoch % MLS_PAST_EPOCHS_MAX] = e;
	memset(&e, 0, sizeof(e));   /* transferred */
out:
	mls_group_past_free(&e);
	return r;
}

static int
read_past_epochs(struct cur *c, struct mls_group *g)
{
	uint64_t after = UINT64_MAX;
	size_t i, n = cur_u8(c);
	int r;

	require(c, n <= MLS_PAST_EPOCHS_MAX);
	for (i = 0; i < n; i++)
		if ((r = cur_status(c)) != 0 || (r = read_past_epoch(c, g, &after)) != 0)
			return r;
	return cur_status(c);
}

static int
read_cache(struct cur *c, struct mls_group *g)
{
	size_t i, n = cur_u16(c), len;
	const uint8_t *body;
	struct cur pc;

	require(c, n <= MLS_GROUP_PROPOSALS_MAX);
	for (i = 0; i < n && cur_status(c) == 0; i++) {
		struct mls_group_cached *e = &g->cache[i];
		uint16_t type;

		buf_init_dyn(&e->bytes, MLS_MESSAGE_MAX);
		buf_init_dyn(&e->plain, MLS_MESSAGE_MAX);
		g->n_cache = i + 1;   /* freed with the group from here on */
		cur_copy(c, e->ref, MLS_HASH_LEN);
		e->sender = cur_u32(c);
		type = cur_u16(c);
		body = mls_cur_opaque(c, MLS_MESSAGE_MAX, &len);
		if (cur_status(c) != 0)
			break;
		/* The proposal again as the Proposal struct, read from its own copy. */
		buf_u16(&e->bytes, type);
		buf_put(&e->bytes, body, len);
		if (buf_status(&e->bytes) != 0) {
			cur_fail(c, buf_status(&e->bytes));
			break;
		}
		cur_init(&pc, e->bytes.p, e->bytes.len);
		mls_proposal_read(&pc, &e->p);
		require(c, cur_finish(&pc) == 0 && e->sender < g->tree.n_leaves);
	}
	return cur_status(c);
}

int
mls_group_state_read(struct mls_group *g, const uint8_t *p, size_t len)
{
	uint8_t tree_hash[MLS_HASH_LEN];
	uint8_t *f[EPOCH_SECRETS];
	const uint8_t *tree, *gc, *interim;
	size_t tree_len = 0, gc_len = 0, i;
	struct cur c;
	uint8_t version;
	int r;

	memset(g, 0, sizeof(*g));
	buf_init_dyn(&g->gc_bytes, MLS_MESSAGE_MAX);
	if ((g->cache = calloc(MLS_GROUP_PROPOSALS_MAX, sizeof(*g->cache))) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	cur_init(&c, p, len);
	version = cur_u8(&c);
	if (version != MLS_GROUP_STATE_VERSION && version != MLS_GROUP_STATE_VERSION_1) {
		r = cur_status(&c) != 0 ? cur_status(&c) : SOTTO_ERR_BAD_VERSION;
		goto out;
	}
	tree = mls_cur_opaque(&c, MLS_MESSAGE_MAX, &tree_len);
	g->own_leaf = cur_u32(&c);
	gc = mls_cur_opaque(&c, MLS_MESSAGE_MAX, &gc_len);
	interim = mls_cur_opaque_fixed(&c, MLS_HASH_LEN);
	if ((r = cur_status(&c)) != 0)
		goto out;
	buf_put(&g->gc_bytes, gc, gc_len);
	memcpy(g->interim, interim, MLS_HASH_LEN);
	if ((r = buf_status(&g->gc_bytes)) != 0 ||
	    (r = mls_ratchet_tree_decode(&g->tree, tree, tree_len)) != 0 ||
	    (r = mls_group_read_context(g)) != 0)
		goto out;
	if (g->own_leaf >= g->tree.n_leaves || g->tree.nodes[2 * g->own_leaf].type != MLS_NODE_LEAF ||
	    g->gc.tree_hash_len != MLS_HASH_LEN ||
	    (r = mls_ratchet_tree_hash(&g->tree, mls_tree_root(g->tree.n_leaves), tree_hash)) != 0 ||
	    memcmp(tree_hash, g->gc.tree_hash, MLS_HASH_LEN) != 0) {
		r = r != 0 ? r : SOTTO_ERR_CORRUPT;
		goto out;
	}
	epoch_fields(&g->epoch, f);
	require(&c, mls_cur_varint(&c) == EPOCH_SECRETS * MLS_HASH_LEN);
	for (i = 0; i < EPOCH_SECRETS; i++)
		cur_copy(&c, f[i], MLS_HASH_LEN);
	if ((r = cur_status(&c)) != 0 ||
	    (r = read_secret_tree(&c, &g->secrets, g->tree.n_leaves, 0)) != 0 ||
	    (r = read_keys(&c, g)) != 0 || (r = read_resumption(&c, g)) != 0 ||
	    (r = read_cache(&c, g)) != 0)
		goto out;
	g->has_pending_update = cur_u8(&c);
	require(&c, g->has_pending_update <= 1);
	if (g->has_pending_update == 1)
		cur_copy(&c, g->pending_update_sec, MLS_KEM_SECRET_LEN);
	if (version != MLS_GROUP_STATE_VERSION_1 && (r = read_past_epochs(&c, g)) != 0)
		goto out;
	r = cur_finish(&c);
out:
	if (r != 0)
		mls_group_free(g);
	return r;
}
