/*
 * TreeKEM (src/mls/treekem.c) on treekem.json. For each tree: every member's leaf key and
 * every path secret it holds give the public keys the tree has. For each UpdatePath: it is
 * merged into a fresh copy of the tree (the sender's leaf parent hash must match the path),
 * the tree hash after is the vector's, the merged tree is parent-hash valid, and every
 * other member decrypts the path secret the vector says, derives the node keys the sender
 * published, and reaches the same commit secret. A changed path key is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "check.h"
#include "mls_vectors.h"
#include "crypto/dh.h"
#include "crypto/init.h"
#include "mls/group_context.h"
#include "mls/ratchet_tree.h"
#include "mls/tree_math.h"
#include "mls/treekem.h"

#define KEYS_MAX (1 + MLS_PATH_MAX)

static size_t paths_checked, decryptions_checked;

/* A member's keys: its leaf, and every parent it holds a path secret for; with check,
 * each must be the public key the tree holds (true of the tree before any merge). */
static int
member_keys(const json_t *lp, const struct mls_ratchet_tree *t, struct mls_node_key *keys,
    size_t *n_keys, int check)
{
	const json_t *ps = json_object_get(lp, "path_secrets"), *p;
	uint8_t pub[MLS_KEM_PUBLIC_LEN], secret[MLS_HASH_LEN];
	size_t i;
	int ok = 1;
	uint64_t leaf = mls_vec_uint(lp, "index", &ok);

	*n_keys = 0;
	if (!ok || leaf >= t->n_leaves || json_array_size(ps) + 1 > KEYS_MAX)
		return 0;
	keys[0].node = 2 * (uint32_t)leaf;
	VCHECK(ok, mls_vec_hex_fixed(lp, "encryption_priv", keys[0].sec, MLS_KEM_SECRET_LEN) == 0);
	VCHECK(ok, ok && dh_public(pub, keys[0].sec) == 0);
	VCHECK(ok, !ok || !check || (t->nodes[keys[0].node].type == MLS_NODE_LEAF &&
	    memcmp(pub, t->nodes[keys[0].node].leaf.encryption_key, MLS_KEM_PUBLIC_LEN) == 0));
	*n_keys = 1;
	json_array_foreach(ps, i, p) {
		uint64_t node = mls_vec_uint(p, "node", &ok);

		VCHECK(ok, ok && node < mls_tree_node_width(t->n_leaves) &&
		    mls_vec_hex_fixed(p, "path_secret", secret, sizeof(secret)) == 0);
		if (!ok)
			break;
		keys[*n_keys].node = (uint32_t)node;
		VCHECK(ok, mls_treekem_node_keypair(pub, keys[*n_keys].sec, secret) == 0);
		VCHECK(ok, !check || (t->nodes[node].type == MLS_NODE_PARENT &&
		    memcmp(pub, t->nodes[node].encryption_key, MLS_KEM_PUBLIC_LEN) == 0));
		(*n_keys)++;
	}
	sodium_memzero(secret, sizeof(secret));
	return ok;
}

static int
update_path_step(const json_t *e, const json_t *u, const uint8_t *tree, size_t tree_len,
    const json_t *leaves)
{
	size_t up_len, gid_len, cth_len, i;
	uint8_t *up_bytes = mls_vec_hex(u, "update_path", &up_len);
	uint8_t *gid = mls_vec_hex(e, "group_id", &gid_len), *cth = mls_vec_hex(e, "confirmed_transcript_hash", &cth_len);
	uint8_t tree_hash[MLS_HASH_LEN], ps[MLS_HASH_LEN], commit[MLS_HASH_LEN], gc_mem[512];
	uint8_t want_ps[MLS_HASH_LEN];
	struct mls_node_key keys[KEYS_MAX];
	struct mls_update_path up;
	struct mls_ratchet_tree t;
	const json_t *lp;
	struct buf gc_buf;
	struct cur c;
	size_t n_keys;
	uint32_t node;
	int ok = up_bytes != NULL && gid != NULL && cth != NULL;
	uint64_t sender = mls_vec_uint(u, "sender", &ok), epoch = mls_vec_uint(e, "epoch", &ok);

	if (!ok)
		goto out;
	cur_init(&c, up_bytes, up_len);
	mls_update_path_read(&c, &up);
	VCHECK(ok, cur_finish(&c) == 0);
	VCHECK(ok, ok && mls_ratchet_tree_decode(&t, tree, tree_len) == 0);
	if (!ok)
		goto out;
	VCHECK(ok, sender < t.n_leaves && mls_treekem_merge(&t, (uint32_t)sender, &up) == 0);
	VCHECK(ok, ok && mls_ratchet_tree_hash(&t, mls_tree_root(t.n_leaves), tree_hash) == 0);
	ok = ok && mls_vec_eq(u, "tree_hash_after", tree_hash, sizeof(tree_hash));
	VCHECK(ok, ok && mls_ratchet_tree_verify_parent_hashes(&t) == 0);
	VCHECK(ok, ok && mls_ratchet_tree_verify_leaves(&t, gid, gid_len) == 0);
	if (ok) {
		struct mls_group_context gc = { MLS_PROTOCOL_VERSION_MLS10, MLS_CIPHER_SUITE, gid,
			gid_len, epoch, tree_hash, sizeof(tree_hash), cth, cth_len, NULL, 0 };

		buf_init_fixed(&gc_buf, gc_mem, sizeof(gc_mem));
		mls_group_context_write(&gc_buf, &gc);
		VCHECK(ok, buf_status(&gc_buf) == 0);
	}
	json_array_foreach(leaves, i, lp) {
		const json_t *want;
		int r;

		if (!ok)
			break;
		if (!member_keys(lp, &t, keys, &n_keys, 0)) {
			ok = 0;
			break;
		}
		/* path_secrets is by leaf index: null for the sender (and for blank leaves). */
		want = json_array_get(json_object_get(u, "path_secrets"), keys[0].node / 2);
		VCHECK(ok, json_is_null(want) == (keys[0].node == 2 * sender));
		if (keys[0].node == 2 * sender)
			continue;
		r = mls_treekem_decrypt(&t, (uint32_t)sender, &up, gc_buf.p, gc_buf.len, keys,
		    n_keys, ps, &node, commit);
		VCHECK(ok, r == 0);
		VCHECK(ok, json_is_string(want) && check_unhex(json_string_value(want), want_ps,
		    sizeof(want_ps)) == MLS_HASH_LEN && memcmp(want_ps, ps, MLS_HASH_LEN) == 0);
		ok = ok && mls_vec_eq(u, "commit_secret", commit, sizeof(commit));
		decryptions_checked += ok;
	}
	paths_checked += ok;
	sodium_memzero(keys, sizeof(keys));
	mls_ratchet_tree_free(&t);
	/* A changed byte in the first path key: the signed leaf's parent hash no longer
	 * matches the path. */
	if (ok && up.n_nodes > 0) {
		((uint8_t *)up.nodes)[1 + 3] ^= 1;
		VCHECK(ok, mls_ratchet_tree_decode(&t, tree, tree_len) == 0);
		VCHECK(ok, mls_treekem_merge(&t, (uint32_t)sender, &up) == SOTTO_ERR_AUTH);
		mls_ratchet_tree_free(&t);
	}
out:
	free(up_bytes);
	free(gid);
	free(cth);
	return ok;
}

static int
treekem_entry(const json_t *e, size_t idx)
{
	const json_t *ups = json_object_get(e, "update_paths"), *u;
	const json_t *leaves = json_object_get(e, "leaves_private"), *lp;
	struct mls_node_key keys[KEYS_MAX];
	struct mls_ratchet_tree t;
	size_t tree_len, i, n_keys;
	uint8_t *tree = mls_vec_hex(e, "ratchet_tree", &tree_len);
	int ok = tree != NULL;
	(void)idx;

	VCHECK(ok, mls_vec_uint(e, "cipher_suite", &ok) == 3);
	VCHECK(ok, ok && mls_ratchet_tree_decode(&t, tree, tree_len) == 0);
	if (!ok) {
		free(tree);
		return 0;
	}
	json_array_foreach(leaves, i, lp)
		ok &= member_keys(lp, &t, keys, &n_keys, 1);
	mls_ratchet_tree_free(&t);
	json_array_foreach(ups, i, u)
		ok &= update_path_step(e, u, tree, tree_len, leaves);
	sodium_memzero(keys, sizeof(keys));
	free(tree);
	return ok;
}

int
main(void)
{
	if (sotto_crypto_init() != 0)
		return 1;
	mls_vec_run("treekem.json", 11, treekem_entry);
	printf("# treekem.json: %zu update paths merged, %zu path decryptions\n", paths_checked,
	    decryptions_checked);
	return check_summary();
}
