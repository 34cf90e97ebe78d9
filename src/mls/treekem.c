#include "mls/treekem.h"

#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "mls/crypto.h"
#include "mls/hpke.h"
#include "mls/limits.h"
#include "mls/tls_codec.h"
#include "mls/tree_math.h"

int
mls_filtered_direct_path(const struct mls_ratchet_tree *t, uint32_t leaf,
    struct mls_filtered_path *fp)
{
	uint32_t w = mls_tree_node_width(t->n_leaves), x = 2 * leaf, p, s, *res;
	size_t n;
	int r = 0;

	fp->n = 0;
	if (t->nodes == NULL || leaf >= t->n_leaves)
		return SOTTO_ERR_INVALID_ARG;
	if ((res = calloc(w, sizeof(*res))) == NULL)
		return SOTTO_ERR_NOMEM;
	while (x != mls_tree_root(t->n_leaves)) {
		if ((r = mls_tree_parent(&p, x, t->n_leaves)) != 0 ||
		    (r = mls_tree_sibling(&s, x, t->n_leaves)) != 0 ||
		    (r = mls_ratchet_tree_resolution(t, s, res, w, &n)) != 0)
			break;
		if (n > 0) {
			if (fp->n == MLS_PATH_MAX) {
				r = SOTTO_ERR_INTERNAL;
				break;
			}
			fp->node[fp->n] = p;
			fp->copath[fp->n++] = s;
		}
		x = p;
	}
	free(res);
	return r;
}

int
mls_treekem_merge(struct mls_ratchet_tree *t, uint32_t sender, const struct mls_update_path *up)
{
	struct mls_filtered_path fp;
	uint8_t want[MLS_HASH_LEN];
	const uint8_t *key, *cts;
	uint32_t x, p;
	size_t i, cts_len;
	int r;

	if ((r = mls_filtered_direct_path(t, sender, &fp)) != 0)
		return r;
	if (up->n_nodes != fp.n || up->leaf.source != MLS_LEAF_SOURCE_COMMIT)
		return SOTTO_ERR_MALFORMED;
	/* Blank the direct path, then set the filtered one. */
	for (x = 2 * sender; x != mls_tree_root(t->n_leaves); x = p) {
		if ((r = mls_tree_parent(&p, x, t->n_leaves)) != 0)
			return r;
		memset(&t->nodes[p], 0, sizeof(t->nodes[p]));
	}
	for (i = 0; i < fp.n; i++) {
		struct mls_node *nd = &t->nodes[fp.node[i]];

		if ((r = mls_update_path_node(up, i, &key, &cts, &cts_len)) != 0)
			return r;
		nd->type = MLS_NODE_PARENT;
		nd->encryption_key = key;
		nd->parent_hash = nd->parent_hash_store;
		nd->parent_hash_len = 0;
	}
	t->nodes[2 * sender].type = MLS_NODE_LEAF;
	t->nodes[2 * sender].leaf = up->leaf;
	t->nodes[2 * sender].encoding = up->leaf.encoding;
	t->nodes[2 * sender].encoding_len = up->leaf.encoding_len;
	/* Parent hashes from the top: each node carries its filtered parent's. */
	for (i = fp.n; i-- > 1; ) {
		struct mls_node *nd = &t->nodes[fp.node[i - 1]];

		if ((r = mls_ratchet_tree_parent_hash(t, fp.node[i], fp.copath[i],
		    nd->parent_hash_store)) != 0)
			return r;
		nd->parent_hash_len = MLS_HASH_LEN;
	}
	if (fp.n == 0)
		return up->leaf.parent_hash_len == 0 ? 0 : SOTTO_ERR_AUTH;
	if ((r = mls_ratchet_tree_parent_hash(t, fp.node[0], fp.copath[0], want)) != 0)
		return r;
	if (up->leaf.parent_hash_len != MLS_HASH_LEN ||
	    memcmp(up->leaf.parent_hash, want, MLS_HASH_LEN) != 0)
		return SOTTO_ERR_AUTH;
	return 0;
}

int
mls_treekem_node_keypair(uint8_t pub[static MLS_KEM_PUBLIC_LEN], uint8_t sec[static MLS_KEM_SECRET_LEN],
    const uint8_t path_secret[static MLS_HASH_LEN])
{
	uint8_t node_secret[MLS_HASH_LEN];   /* SECRET */
	int r;

	if ((r = mls_derive_secret(node_secret, path_secret, "node")) == 0)
		r = mls_hpke_derive_keypair(pub, sec, node_secret, sizeof(node_secret));
	sodium_memzero(node_secret, sizeof(node_secret));
	return r;
}

/* The index in the path and in the copath resolution of a node we hold a key for. */
static int
find_ours(const struct mls_ratchet_tree *t, const struct mls_filtered_path *fp,
    const struct mls_node_key *keys, size_t n_keys, size_t *at, size_t *pos,
    const struct mls_node_key **key)
{
	uint32_t w = mls_tree_node_width(t->n_leaves), *res;
	size_t i, j, k, n;
	int r = SOTTO_ERR_NOT_FOUND;

	if ((res = calloc(w, sizeof(*res))) == NULL)
		return SOTTO_ERR_NOMEM;
	for (i = 0; i < fp->n && r == SOTTO_ERR_NOT_FOUND; i++) {
		if (mls_ratchet_tree_resolution(t, fp->copath[i], res, w, &n) != 0) {
			r = SOTTO_ERR_INTERNAL;
			break;
		}
		for (j = 0; j < n && r == SOTTO_ERR_NOT_FOUND; j++)
			for (k = 0; k < n_keys; k++)
				if (keys[k].node == res[j]) {
					*at = i;
					*pos = j;
					*key = &keys[k];
					r = 0;
					break;
				}
	}
	free(res);
	return r;
}

int
mls_treekem_decrypt(const struct mls_ratchet_tree *t, uint32_t sender,
    const struct mls_update_path *up, const uint8_t *group_context, size_t group_context_len,
    const struct mls_node_key *keys, size_t n_keys, uint8_t path_secret[static MLS_HASH_LEN],
    uint32_t *path_secret_node, uint8_t commit_secret[static MLS_HASH_LEN])
{
	struct mls_filtered_path fp;
	const struct mls_node_key *ours;
	uint8_t ps[MLS_HASH_LEN];                                        /* SECRET */
	uint8_t pub[MLS_KEM_PUBLIC_LEN], sec[MLS_KEM_SECRET_LEN];        /* sec SECRET */
	const uint8_t *key, *cts, *kem, *ct;
	size_t at, pos, cts_len, i, n;
	struct cur c;
	int r;

	if ((r = mls_filtered_direct_path(t, sender, &fp)) != 0)
		return r;
	if (up->n_nodes != fp.n)
		return SOTTO_ERR_MALFORMED;
	if ((r = find_ours(t, &fp, keys, n_keys, &at, &pos, &ours)) != 0 ||
	    (r = mls_update_path_node(up, at, &key, &cts, &cts_len)) != 0)
		return r;
	/* The pos-th HPKECiphertext is ours. */
	cur_init(&c, cts, cts_len);
	kem = ct = NULL;
	n = 0;
	for (i = 0; i <= pos && cur_left(&c) > 0; i++) {
		kem = mls_cur_opaque_fixed(&c, MLS_KEM_PUBLIC_LEN);
		ct = mls_cur_opaque(&c, MLS_MESSAGE_MAX, &n);
	}
	if (i != pos + 1 || cur_status(&c) != 0 || kem == NULL ||
	    n != MLS_HASH_LEN + MLS_AEAD_TAG_LEN)
		return SOTTO_ERR_MALFORMED;
	if ((r = mls_decrypt_with_label(ps, ours->sec, "UpdatePathNode", group_context,
	    group_context_len, kem, ct, n)) != 0)
		goto out;
	memcpy(path_secret, ps, MLS_HASH_LEN);
	*path_secret_node = fp.node[at];
	/* Up the path: every node key must be the one the sender published. */
	for (i = at; i < fp.n; i++) {
		if ((r = mls_update_path_node(up, i, &key, &cts, &cts_len)) != 0 ||
		    (r = mls_treekem_node_keypair(pub, sec, ps)) != 0)
			goto out;
		if (memcmp(pub, key, MLS_KEM_PUBLIC_LEN) != 0) {
			r = SOTTO_ERR_AUTH;
			goto out;
		}
		if ((r = mls_derive_secret(ps, ps, "path")) != 0)
			goto out;
	}
	memcpy(commit_secret, ps, MLS_HASH_LEN);
out:
	if (r != 0) {
		sodium_memzero(path_secret, MLS_HASH_LEN);
		sodium_memzero(commit_secret, MLS_HASH_LEN);
	}
	sodium_memzero(ps, sizeof(ps));
	sodium_memzero(sec, sizeof(sec));
	return r;
}
