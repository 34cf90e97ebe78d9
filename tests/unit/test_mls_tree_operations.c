/*
 * Proposals applied to the ratchet tree (src/mls/ratchet_tree.c) on tree-operations.json:
 * the tree hash before, the Add, Update or Remove applied, the tree written back equal to
 * the vector's tree after, and its tree hash. The file is suite 1, which has the key sizes
 * and hash of suite 3; only the KeyPackage inside an Add names suite 1, so the test takes
 * the LeafNode out of it itself (Sotto's KeyPackage reader accepts suite 3 only).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mls_vectors.h"
#include "crypto/init.h"
#include "mls/limits.h"
#include "mls/proposal.h"
#include "mls/ratchet_tree.h"
#include "mls/tls_codec.h"
#include "mls/tree_math.h"

static int
tree_operations_entry(const json_t *e, size_t idx)
{
	size_t before_len, after_len, prop_len;
	uint8_t *before = mls_vec_hex(e, "tree_before", &before_len);
	uint8_t *after = mls_vec_hex(e, "tree_after", &after_len);
	uint8_t *prop = mls_vec_hex(e, "proposal", &prop_len);
	uint8_t hash[MLS_HASH_LEN];
	struct mls_ratchet_tree t;
	struct mls_proposal p;
	struct mls_leaf_node add_leaf;
	struct buf out;
	struct cur c;
	uint32_t leaf;
	int ok = before != NULL && after != NULL && prop != NULL;
	uint64_t sender = mls_vec_uint(e, "proposal_sender", &ok);
	(void)idx;

	VCHECK(ok, mls_vec_uint(e, "cipher_suite", &ok) == 1);
	buf_init_dyn(&out, MLS_MESSAGE_MAX);
	VCHECK(ok, ok && mls_ratchet_tree_decode(&t, before, before_len) == 0);
	if (!ok)
		goto out;
	VCHECK(ok, mls_ratchet_tree_hash(&t, mls_tree_root(t.n_leaves), hash) == 0);
	ok = ok && mls_vec_eq(e, "tree_hash_before", hash, sizeof(hash));
	cur_init(&c, prop, prop_len);
	switch (cur_u16(&c)) {
	case MLS_PROPOSAL_ADD: {
		size_t n;

		/* KeyPackage: version, suite 1, init_key<V>, then the LeafNode. */
		VCHECK(ok, cur_u16(&c) == MLS_PROTOCOL_VERSION_MLS10 && cur_u16(&c) == 1);
		(void)mls_cur_opaque(&c, MLS_KEM_PUBLIC_LEN, &n);
		mls_leaf_node_read(&c, &add_leaf);
		VCHECK(ok, cur_status(&c) == 0);
		VCHECK(ok, ok && mls_ratchet_tree_add(&t, &add_leaf, &leaf) == 0);
		break;
	}
	case MLS_PROPOSAL_UPDATE:
		mls_proposal_body_read(&c, MLS_PROPOSAL_UPDATE, &p);
		VCHECK(ok, cur_finish(&c) == 0);
		VCHECK(ok, ok && mls_ratchet_tree_update(&t, (uint32_t)sender, &p.update) == 0);
		break;
	case MLS_PROPOSAL_REMOVE:
		mls_proposal_body_read(&c, MLS_PROPOSAL_REMOVE, &p);
		VCHECK(ok, cur_finish(&c) == 0);
		VCHECK(ok, ok && mls_ratchet_tree_remove(&t, p.removed) == 0);
		/* Removing the same leaf again is refused. */
		VCHECK(ok, ok && (p.removed >= t.n_leaves ||
		    mls_ratchet_tree_remove(&t, p.removed) == SOTTO_ERR_STATE));
		break;
	default:
		VCHECK(ok, !"a proposal this test does not apply");
		break;
	}
	VCHECK(ok, ok && mls_ratchet_tree_encode(&t, &out) == 0);
	VCHECK(ok, ok && out.len == after_len && memcmp(out.p, after, after_len) == 0);
	VCHECK(ok, ok && mls_ratchet_tree_hash(&t, mls_tree_root(t.n_leaves), hash) == 0);
	ok = ok && mls_vec_eq(e, "tree_hash_after", hash, sizeof(hash));
	mls_ratchet_tree_free(&t);
out:
	buf_free(&out);
	free(before);
	free(after);
	free(prop);
	return ok;
}

/* Adding to a full tree doubles it; removing the last leaves halves it again; every tree
 * on the way encodes and decodes to itself. */
TEST(grow_and_shrink)
{
	size_t len;
	uint8_t *tree = mls_vec_file_hex("tree-validation.json", 0, "tree", &len);
	struct mls_ratchet_tree t, back;
	struct buf out;
	uint32_t leaf;

	REQUIRE(tree != NULL);
	REQUIRE(mls_ratchet_tree_decode(&t, tree, len) == 0);
	REQUIRE(t.n_leaves == 2 && t.nodes[0].type == MLS_NODE_LEAF && t.nodes[2].type == MLS_NODE_LEAF);
	CHECK(mls_ratchet_tree_add(&t, &t.nodes[0].leaf, &leaf) == 0);
	CHECK_EQ_INT(leaf, 2);
	CHECK_EQ_INT(t.n_leaves, 4);
	CHECK(mls_ratchet_tree_add(&t, &t.nodes[0].leaf, &leaf) == 0);
	CHECK_EQ_INT(leaf, 3);
	buf_init_dyn(&out, MLS_MESSAGE_MAX);
	CHECK(mls_ratchet_tree_encode(&t, &out) == 0);
	CHECK(mls_ratchet_tree_decode(&back, out.p, out.len) == 0);
	CHECK_EQ_INT(back.n_leaves, 4);
	mls_ratchet_tree_free(&back);
	CHECK(mls_ratchet_tree_remove(&t, 3) == 0);
	CHECK_EQ_INT(t.n_leaves, 4);
	CHECK(mls_ratchet_tree_remove(&t, 2) == 0);
	CHECK_EQ_INT(t.n_leaves, 2);
	CHECK_EQ_INT(mls_ratchet_tree_remove(&t, 2), SOTTO_ERR_INVALID_ARG);
	buf_reset(&out);
	CHECK(mls_ratchet_tree_encode(&t, &out) == 0);
	CHECK(out.len == len && memcmp(out.p, tree, len) == 0);
	buf_free(&out);
	mls_ratchet_tree_free(&t);
	free(tree);
}

int
main(void)
{
	if (sotto_crypto_init() != 0)
		return 1;
	mls_vec_run("tree-operations.json", 5, tree_operations_entry);
	RUN(grow_and_shrink);
	return check_summary();
}
