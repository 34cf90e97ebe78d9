#include "mls/join.h"

#include <string.h>
#include <sodium.h>

#include "base/cursor.h"
#include "mls/limits.h"
#include "mls/tls_codec.h"
#include "mls/transcript.h"
#include "mls/tree_math.h"
#include "mls/treekem.h"

/* psk_secret over the PSKs the GroupSecrets name, each of which we must hold. */
static int
join_psk_secret(uint8_t out[static MLS_HASH_LEN], const struct mls_group_secrets *gs,
    const struct mls_join_input *in)
{
	struct mls_psk ids[MLS_PSK_COUNT_MAX];
	struct cur c;
	size_t n = 0, k;

	cur_init(&c, gs->psks, gs->psks_len);
	while (cur_left(&c) > 0) {
		if (n == MLS_PSK_COUNT_MAX)
			return SOTTO_ERR_TOO_LARGE;
		mls_psk_id_read(&c, &ids[n]);
		if (cur_status(&c) != 0)
			return SOTTO_ERR_MALFORMED;
		/* Resumption PSKs need the group's past epochs: not kept yet. */
		for (k = 0; ids[n].type == MLS_PSK_EXTERNAL && k < in->n_psks; k++)
			if (in->psks[k].id_len == ids[n].id_len &&
			    memcmp(in->psks[k].id, ids[n].id, ids[n].id_len) == 0)
				break;
		if (ids[n].type != MLS_PSK_EXTERNAL || k == in->n_psks)
			return SOTTO_ERR_NOT_FOUND;
		ids[n].psk = in->psks[k].psk;
		ids[n].psk_len = in->psks[k].psk_len;
		n++;
	}
	return mls_psk_secret(out, ids, n);
}

/* The ratchet_tree extension's data in a GroupInfo, or NULL. */
static const uint8_t *
tree_extension(const struct mls_group_info *gi, size_t *len)
{
	struct cur c;
	const uint8_t *data;

	cur_init(&c, gi->extensions, gi->extensions_len);
	while (cur_left(&c) > 0) {
		uint16_t type = cur_u16(&c);

		data = mls_cur_opaque(&c, gi->extensions_len, len);
		if (cur_status(&c) != 0)
			break;
		if (type == MLS_EXTENSION_RATCHET_TREE)
			return data;
	}
	*len = 0;
	return NULL;
}

/* Our leaf: the one whose LeafNode is our KeyPackage's, byte for byte. */
static int
find_own_leaf(const struct mls_ratchet_tree *t, const struct mls_leaf_node *ours, uint32_t *leaf)
{
	uint32_t l;

	for (l = 0; l < t->n_leaves; l++) {
		const struct mls_node *nd = &t->nodes[2 * l];

		if (nd->type == MLS_NODE_LEAF && nd->encoding_len == ours->encoding_len &&
		    memcmp(nd->encoding, ours->encoding, ours->encoding_len) == 0) {
			*leaf = l;
			return 0;
		}
	}
	return SOTTO_ERR_NOT_FOUND;
}

static int
check_path_secret(const struct mls_ratchet_tree *t, uint32_t own, uint32_t signer,
    const uint8_t path_secret[static MLS_HASH_LEN])
{
	uint8_t pub[MLS_KEM_PUBLIC_LEN], sec[MLS_KEM_SECRET_LEN];   /* sec SECRET */
	uint32_t x = mls_tree_common_ancestor(own, signer, t->n_leaves);
	int r;

	if ((r = mls_treekem_node_keypair(pub, sec, path_secret)) == 0 &&
	    (t->nodes[x].type != MLS_NODE_PARENT ||
	    memcmp(pub, t->nodes[x].encryption_key, MLS_KEM_PUBLIC_LEN) != 0))
		r = SOTTO_ERR_AUTH;
	sodium_memzero(sec, sizeof(sec));
	return r;
}

int
mls_join(struct mls_joined *out, const struct mls_welcome *w, const struct mls_join_input *in)
{
	uint8_t ref[MLS_HASH_LEN], tree_hash[MLS_HASH_LEN];
	uint8_t psk_secret[MLS_HASH_LEN], welcome_secret[MLS_HASH_LEN];   /* SECRET */
	struct mls_group_secrets gs;
	const struct mls_group_info *gi = &out->group_info;
	const uint8_t *tree;
	size_t tree_len;
	int r;

	memset(out, 0, sizeof(*out));
	buf_init_dyn(&out->secrets_plain, MLS_MESSAGE_MAX);
	buf_init_dyn(&out->group_info_plain, MLS_MESSAGE_MAX);
	buf_init_dyn(&out->group_context, MLS_MESSAGE_MAX);
	if ((r = mls_key_package_ref(ref, in->key_package->encoding,
	    in->key_package->encoding_len)) != 0 ||
	    (r = mls_welcome_open_secrets(w, ref, in->init_sec, &out->secrets_plain, &gs)) != 0 ||
	    (r = join_psk_secret(psk_secret, &gs, in)) != 0 ||
	    (r = mls_welcome_secret(welcome_secret, gs.joiner_secret, psk_secret)) != 0 ||
	    (r = mls_welcome_open_group_info(w, welcome_secret, &out->group_info_plain,
	    &out->group_info)) != 0)
		goto out;
	/* The tree: out of band, or in the GroupInfo. */
	tree = in->ratchet_tree;
	tree_len = in->ratchet_tree_len;
	if (tree == NULL && (tree = tree_extension(gi, &tree_len)) == NULL) {
		r = SOTTO_ERR_NOT_FOUND;
		goto out;
	}
	if ((r = mls_ratchet_tree_decode(&out->tree, tree, tree_len)) != 0 ||
	    (r = mls_ratchet_tree_hash(&out->tree, mls_tree_root(out->tree.n_leaves), tree_hash)) != 0)
		goto out;
	if (gi->gc.tree_hash_len != MLS_HASH_LEN ||
	    memcmp(tree_hash, gi->gc.tree_hash, MLS_HASH_LEN) != 0) {
		r = SOTTO_ERR_AUTH;
		goto out;
	}
	if ((r = mls_ratchet_tree_verify_parent_hashes(&out->tree)) != 0 ||
	    (r = mls_ratchet_tree_verify_leaves(&out->tree, gi->gc.group_id,
	    gi->gc.group_id_len)) != 0 ||
	    (r = mls_ratchet_tree_check_unique_keys(&out->tree)) != 0)
		goto out;
	if (gi->signer >= out->tree.n_leaves || out->tree.nodes[2 * gi->signer].type != MLS_NODE_LEAF) {
		r = SOTTO_ERR_NOT_FOUND;
		goto out;
	}
	if ((r = mls_group_info_verify(gi, out->tree.nodes[2 * gi->signer].leaf.signature_key)) != 0 ||
	    (r = find_own_leaf(&out->tree, &in->key_package->leaf, &out->own_leaf)) != 0)
		goto out;
	if (gs.path_secret != NULL) {
		if ((r = check_path_secret(&out->tree, out->own_leaf, gi->signer, gs.path_secret)) != 0)
			goto out;
		memcpy(out->path_secret, gs.path_secret, MLS_HASH_LEN);
		out->has_path_secret = 1;
	}
	/* The epoch, and its confirmation. */
	mls_group_context_write(&out->group_context, &gi->gc);
	if ((r = buf_status(&out->group_context)) != 0 ||
	    (r = mls_key_schedule_join(&out->epoch, gs.joiner_secret, psk_secret,
	    out->group_context.p, out->group_context.len)) != 0)
		goto out;
	if (gi->gc.confirmed_transcript_hash_len != MLS_HASH_LEN) {
		r = SOTTO_ERR_MALFORMED;
		goto out;
	}
	r = mls_confirmation_tag_verify(gi->confirmation_tag, MLS_HASH_LEN,
	    out->epoch.confirmation_key, gi->gc.confirmed_transcript_hash);
out:
	sodium_memzero(psk_secret, sizeof(psk_secret));
	sodium_memzero(welcome_secret, sizeof(welcome_secret));
	if (r != 0)
		mls_joined_free(out);
	return r;
}

void
mls_joined_free(struct mls_joined *j)
{
	mls_ratchet_tree_free(&j->tree);
	mls_epoch_secrets_wipe(&j->epoch);
	buf_free(&j->group_context);
	buf_wipe_free(&j->secrets_plain);
	buf_wipe_free(&j->group_info_plain);
	sodium_memzero(j, sizeof(*j));
}
