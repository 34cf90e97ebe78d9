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
#include "crypto/sign.h"
#include "mls/limits.h"
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
		    n_keys, NULL, 0, ps, &node, commit);
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

/* Each member in turn commits with a path this code creates; every other member merges
 * it into a fresh tree, reaches the same tree hash and decrypts to the same secrets. */
static size_t own_paths, own_decryptions;

static int
own_path(const json_t *e, const uint8_t *tree, size_t tree_len, const json_t *leaves,
    const json_t *sender_lp)
{
	uint8_t seed[32], sig_pub[32], sig_sec[64], leaf_secret[MLS_HASH_LEN];
	uint8_t hash_s[MLS_HASH_LEN], hash_r[MLS_HASH_LEN], ps[MLS_HASH_LEN], commit[MLS_HASH_LEN];
	uint8_t gc_mem[512];
	size_t gid_len, cth_len, i, j, n_keys;
	uint8_t *gid = mls_vec_hex(e, "group_id", &gid_len), *cth = mls_vec_hex(e, "confirmed_transcript_hash", &cth_len);
	struct mls_ratchet_tree ts, tr;
	struct mls_path_secrets secrets;
	struct mls_filtered_path fp;
	struct mls_node_key keys[KEYS_MAX];
	struct mls_update_path up;
	struct buf leaf, upb, gc_buf;
	struct cur c;
	const json_t *lp;
	uint32_t sender, node;
	int ok = gid != NULL && cth != NULL && mls_vec_hex_fixed(sender_lp, "signature_priv", seed, 32) == 0;
	uint64_t epoch = mls_vec_uint(e, "epoch", &ok), idx = mls_vec_uint(sender_lp, "index", &ok);

	buf_init_dyn(&leaf, MLS_MESSAGE_MAX);
	buf_init_dyn(&upb, MLS_MESSAGE_MAX);
	if (!ok || mls_ratchet_tree_decode(&ts, tree, tree_len) != 0) {
		ok = 0;
		goto out;
	}
	sender = (uint32_t)idx;
	randombytes_buf(leaf_secret, sizeof(leaf_secret));
	VCHECK(ok, sign_seed_keypair(sig_pub, sig_sec, seed) == 0 &&
	    memcmp(sig_pub, ts.nodes[2 * sender].leaf.signature_key, 32) == 0);
	VCHECK(ok, ok && mls_treekem_create(&ts, sender, leaf_secret, sig_sec, gid, gid_len, &leaf,
	    &secrets) == 0);
	VCHECK(ok, ok && mls_ratchet_tree_verify_parent_hashes(&ts) == 0);
	VCHECK(ok, ok && mls_ratchet_tree_verify_leaves(&ts, gid, gid_len) == 0);
	VCHECK(ok, ok && mls_ratchet_tree_hash(&ts, mls_tree_root(ts.n_leaves), hash_s) == 0);
	if (ok) {
		struct mls_group_context gc = { MLS_PROTOCOL_VERSION_MLS10, MLS_CIPHER_SUITE, gid,
			gid_len, epoch, hash_s, sizeof(hash_s), cth, cth_len, NULL, 0 };

		buf_init_fixed(&gc_buf, gc_mem, sizeof(gc_mem));
		mls_group_context_write(&gc_buf, &gc);
		VCHECK(ok, buf_status(&gc_buf) == 0);
	}
	VCHECK(ok, ok && mls_treekem_encrypt(&ts, sender, &secrets, gc_buf.p, gc_buf.len, NULL, 0,
	    &upb) == 0);
	if (!ok)
		goto free_ts;
	cur_init(&c, upb.p, upb.len);
	mls_update_path_read(&c, &up);
	VCHECK(ok, cur_finish(&c) == 0);
	json_array_foreach(leaves, i, lp) {
		if (!ok || !member_keys(lp, &ts, keys, &n_keys, 0))
			break;
		if (keys[0].node == 2 * sender)
			continue;
		VCHECK(ok, mls_ratchet_tree_decode(&tr, tree, tree_len) == 0);
		if (!ok)
			break;
		VCHECK(ok, mls_treekem_merge(&tr, sender, &up) == 0);
		VCHECK(ok, ok && mls_ratchet_tree_hash(&tr, mls_tree_root(tr.n_leaves), hash_r) == 0 &&
		    memcmp(hash_r, hash_s, MLS_HASH_LEN) == 0);
		VCHECK(ok, ok && mls_treekem_decrypt(&tr, sender, &up, gc_buf.p, gc_buf.len, keys,
		    n_keys, NULL, 0, ps, &node, commit) == 0);
		VCHECK(ok, ok && sodium_memcmp(commit, secrets.commit_secret, MLS_HASH_LEN) == 0);
		/* The path secret decrypted is the sender's at that node. */
		VCHECK(ok, ok && mls_filtered_direct_path(&tr, sender, &fp) == 0 && fp.n == secrets.n);
		for (j = 0; ok && j < fp.n && fp.node[j] != node; j++)
			;
		VCHECK(ok, ok && j < fp.n && sodium_memcmp(ps, secrets.path_secret[j], MLS_HASH_LEN) == 0);
		own_decryptions += ok;
		mls_ratchet_tree_free(&tr);
	}
	own_paths += ok;
free_ts:
	mls_path_secrets_wipe(&secrets);
	mls_ratchet_tree_free(&ts);
out:
	sodium_memzero(sig_sec, sizeof(sig_sec));
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(keys, sizeof(keys));
	buf_free(&leaf);
	buf_free(&upb);
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
	json_array_foreach(leaves, i, lp)
		ok &= own_path(e, tree, tree_len, leaves, lp);
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
	printf("# treekem.json: %zu paths created here, %zu decrypted by the other members\n",
	    own_paths, own_decryptions);
	return check_summary();
}
