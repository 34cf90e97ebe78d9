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

/* Blanks sender's direct path, gives the filtered path nodes the keys (each
 * MLS_KEM_PUBLIC_LEN bytes, pointed to, not copied) with empty unmerged lists, and computes
 * their parent hashes top down. leaf_ph receives the parent hash the sender's leaf must
 * carry (*leaf_ph_len 0 when the filtered path is empty). */
static int
set_path(struct mls_ratchet_tree *t, uint32_t sender, const struct mls_filtered_path *fp,
    const uint8_t *const *keys, uint8_t leaf_ph[static MLS_HASH_LEN], size_t *leaf_ph_len)
{
	uint32_t x, p;
	size_t i;
	int r;

	*leaf_ph_len = 0;
	for (x = 2 * sender; x != mls_tree_root(t->n_leaves); x = p) {
		if ((r = mls_tree_parent(&p, x, t->n_leaves)) != 0)
			return r;
		mls_ratchet_tree_blank(t, p);
	}
	for (i = 0; i < fp->n; i++) {
		struct mls_node *nd = &t->nodes[fp->node[i]];

		nd->type = MLS_NODE_PARENT;
		nd->encryption_key = keys[i];
		nd->parent_hash = nd->parent_hash_store;
		nd->parent_hash_len = 0;
	}
	/* Each node carries the hash of its filtered parent; the top one carries none. */
	for (i = fp->n; i-- > 1; ) {
		struct mls_node *nd = &t->nodes[fp->node[i - 1]];

		if ((r = mls_ratchet_tree_parent_hash(t, fp->node[i], fp->copath[i],
		    nd->parent_hash_store)) != 0)
			return r;
		nd->parent_hash_len = MLS_HASH_LEN;
	}
	if (fp->n == 0)
		return 0;
	if ((r = mls_ratchet_tree_parent_hash(t, fp->node[0], fp->copath[0], leaf_ph)) != 0)
		return r;
	*leaf_ph_len = MLS_HASH_LEN;
	return 0;
}

int
mls_treekem_merge(struct mls_ratchet_tree *t, uint32_t sender, const struct mls_update_path *up)
{
	struct mls_filtered_path fp;
	const uint8_t *keys[MLS_PATH_MAX], *cts;
	uint8_t want[MLS_HASH_LEN];
	size_t i, cts_len, want_len;
	int r;

	if ((r = mls_filtered_direct_path(t, sender, &fp)) != 0)
		return r;
	if (up->n_nodes != fp.n || up->leaf.source != MLS_LEAF_SOURCE_COMMIT)
		return SOTTO_ERR_MALFORMED;
	for (i = 0; i < fp.n; i++)
		if ((r = mls_update_path_node(up, i, &keys[i], &cts, &cts_len)) != 0)
			return r;
	if ((r = set_path(t, sender, &fp, keys, want, &want_len)) != 0)
		return r;
	t->nodes[2 * sender].type = MLS_NODE_LEAF;
	t->nodes[2 * sender].leaf = up->leaf;
	t->nodes[2 * sender].encoding = up->leaf.encoding;
	t->nodes[2 * sender].encoding_len = up->leaf.encoding_len;
	if (up->leaf.parent_hash_len != want_len ||
	    (want_len > 0 && memcmp(up->leaf.parent_hash, want, want_len) != 0))
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
static int is_excluded(uint32_t node, const uint32_t *exclude, size_t n_exclude);

/* The index in the path, and among the copath resolution's nodes not excluded, of a node
 * we hold a key for. */
static int
find_ours(const struct mls_ratchet_tree *t, const struct mls_filtered_path *fp,
    const struct mls_node_key *keys, size_t n_keys, const uint32_t *exclude, size_t n_exclude,
    size_t *at, size_t *pos, const struct mls_node_key **key)
{
	size_t skipped;
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
		skipped = 0;
		for (j = 0; j < n && r == SOTTO_ERR_NOT_FOUND; j++) {
			if (is_excluded(res[j], exclude, n_exclude)) {
				skipped++;
				continue;
			}
			for (k = 0; k < n_keys; k++)
				if (keys[k].node == res[j]) {
					*at = i;
					*pos = j - skipped;
					*key = &keys[k];
					r = 0;
					break;
				}
		}
	}
	free(res);
	return r;
}

int
mls_treekem_decrypt(const struct mls_ratchet_tree *t, uint32_t sender,
    const struct mls_update_path *up, const uint8_t *group_context, size_t group_context_len,
    const struct mls_node_key *keys, size_t n_keys, const uint32_t *exclude, size_t n_exclude,
    uint8_t path_secret[static MLS_HASH_LEN], uint32_t *path_secret_node,
    uint8_t commit_secret[static MLS_HASH_LEN])
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
	if ((r = find_ours(t, &fp, keys, n_keys, exclude, n_exclude, &at, &pos, &ours)) != 0 ||
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

void
mls_path_secrets_wipe(struct mls_path_secrets *ps)
{
	sodium_memzero(ps, sizeof(*ps));
}

/* The new leaf: a copy of the old one with the new key, source commit and parent hash,
 * signed over LeafNodeTBS; written to out and read back so that t can point into it. */
static int
sign_new_leaf(struct mls_ratchet_tree *t, uint32_t sender, const uint8_t pub[static MLS_KEM_PUBLIC_LEN],
    const uint8_t *leaf_ph, size_t leaf_ph_len, const uint8_t sig_sec[static 64],
    const uint8_t *group_id, size_t group_id_len, struct buf *out)
{
	struct mls_leaf_node nl = t->nodes[2 * sender].leaf;
	struct cur c;
	int r;

	nl.encryption_key = pub;
	nl.source = MLS_LEAF_SOURCE_COMMIT;
	nl.parent_hash = leaf_ph;
	nl.parent_hash_len = leaf_ph_len;
	buf_reset(out);
	if ((r = mls_leaf_node_sign(out, &nl, sig_sec, group_id, group_id_len, sender)) != 0)
		return r;
	cur_init(&c, out->p, out->len);
	mls_leaf_node_read(&c, &t->nodes[2 * sender].leaf);
	if ((r = cur_finish(&c)) != 0)
		return r;
	t->nodes[2 * sender].encoding = out->p;
	t->nodes[2 * sender].encoding_len = out->len;
	return 0;
}

int
mls_treekem_create(struct mls_ratchet_tree *t, uint32_t sender,
    const uint8_t leaf_secret[static MLS_HASH_LEN], const uint8_t sig_sec[static 64],
    const uint8_t *group_id, size_t group_id_len, struct buf *leaf_out,
    struct mls_path_secrets *ps)
{
	struct mls_filtered_path fp;
	const uint8_t *keys[MLS_PATH_MAX];
	uint8_t pubs[MLS_PATH_MAX][MLS_KEM_PUBLIC_LEN];
	uint8_t sec[MLS_KEM_SECRET_LEN], leaf_pub[MLS_KEM_PUBLIC_LEN];   /* sec SECRET */
	uint8_t leaf_ph[MLS_HASH_LEN];
	size_t i, leaf_ph_len;
	int r;

	memset(ps, 0, sizeof(*ps));
	if (t->nodes == NULL || sender >= t->n_leaves || t->nodes[2 * sender].type != MLS_NODE_LEAF)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = mls_filtered_direct_path(t, sender, &fp)) != 0 ||
	    (r = mls_treekem_node_keypair(leaf_pub, ps->leaf_sec, leaf_secret)) != 0 ||
	    (r = mls_derive_secret(ps->commit_secret, leaf_secret, "path")) != 0)
		goto out;
	/* path_secret[0] = DeriveSecret(leaf_secret, "path"), then one "path" step per node;
	 * commit_secret is one step past the last. */
	ps->n = fp.n;
	for (i = 0; i < fp.n; i++) {
		memcpy(ps->path_secret[i], ps->commit_secret, MLS_HASH_LEN);
		if ((r = mls_treekem_node_keypair(pubs[i], sec, ps->path_secret[i])) != 0 ||
		    (r = mls_derive_secret(ps->commit_secret, ps->path_secret[i], "path")) != 0)
			goto out;
		keys[i] = pubs[i];
	}
	if ((r = set_path(t, sender, &fp, keys, leaf_ph, &leaf_ph_len)) != 0)
		goto out;
	/* The tree keeps its own copy of each new key. */
	for (i = 0; i < fp.n; i++) {
		struct mls_node *nd = &t->nodes[fp.node[i]];

		memcpy(nd->key_store, pubs[i], MLS_KEM_PUBLIC_LEN);
		nd->encryption_key = nd->key_store;
	}
	r = sign_new_leaf(t, sender, leaf_pub, leaf_ph, leaf_ph_len, sig_sec, group_id,
	    group_id_len, leaf_out);
out:
	sodium_memzero(sec, sizeof(sec));
	if (r != 0)
		mls_path_secrets_wipe(ps);
	return r;
}

static int
is_excluded(uint32_t node, const uint32_t *exclude, size_t n_exclude)
{
	size_t i;

	for (i = 0; node % 2 == 0 && i < n_exclude; i++)
		if (exclude[i] == node / 2)
			return 1;
	return 0;
}

int
mls_treekem_encrypt(const struct mls_ratchet_tree *t, uint32_t sender,
    const struct mls_path_secrets *ps, const uint8_t *group_context, size_t group_context_len,
    const uint32_t *exclude, size_t n_exclude, struct buf *out)
{
	uint32_t w = mls_tree_node_width(t->n_leaves), *res;
	uint8_t kem[MLS_KEM_PUBLIC_LEN], ct[MLS_HASH_LEN + MLS_AEAD_TAG_LEN];
	uint8_t context_hash[MLS_HASH_LEN];
	struct mls_filtered_path fp;
	struct buf nodes, cts;
	size_t i, j, n;
	int r;

	/* One GroupContext for every encryption of the path: its HPKE info hashed once. */
	if ((r = mls_filtered_direct_path(t, sender, &fp)) != 0 ||
	    (r = mls_encrypt_context_hash(context_hash, "UpdatePathNode", group_context,
	    group_context_len)) != 0)
		return r;
	if (fp.n != ps->n)
		return SOTTO_ERR_INVALID_ARG;
	if ((res = calloc(w, sizeof(*res))) == NULL)
		return SOTTO_ERR_NOMEM;
	buf_init_dyn(&nodes, MLS_MESSAGE_MAX);
	buf_init_dyn(&cts, MLS_MESSAGE_MAX);
	for (i = 0; i < fp.n; i++) {
		if ((r = mls_ratchet_tree_resolution(t, fp.copath[i], res, w, &n)) != 0)
			goto out;
		buf_reset(&cts);
		for (j = 0; j < n; j++) {
			const struct mls_node *nd = &t->nodes[res[j]];
			const uint8_t *pub = nd->type == MLS_NODE_LEAF ? nd->leaf.encryption_key :
			    nd->encryption_key;

			if (is_excluded(res[j], exclude, n_exclude))
				continue;
			if ((r = mls_encrypt_with_label_hashed(kem, ct, pub, context_hash,
			    ps->path_secret[i], MLS_HASH_LEN)) != 0)
				goto out;
			mls_buf_opaque(&cts, kem, sizeof(kem));
			mls_buf_opaque(&cts, ct, sizeof(ct));
		}
		mls_buf_opaque(&nodes, t->nodes[fp.node[i]].encryption_key, MLS_KEM_PUBLIC_LEN);
		mls_buf_opaque(&nodes, cts.p, cts.len);
	}
	buf_put(out, t->nodes[2 * sender].encoding, t->nodes[2 * sender].encoding_len);
	mls_buf_opaque(out, nodes.p, nodes.len);
	if ((r = buf_status(&cts)) == 0 && (r = buf_status(&nodes)) == 0)
		r = buf_status(out);
out:
	free(res);
	buf_free(&nodes);
	buf_free(&cts);
	return r;
}
