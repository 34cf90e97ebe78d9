/*
 * The ratchet tree (src/mls/ratchet_tree.c) on tree-validation.json: each tree decoded,
 * the resolution and the tree hash of every node as the vector gives them, every parent
 * node parent-hash valid, every leaf's signature valid for the group. Then a changed
 * parent hash and a changed signature are refused, and so is a tree where two non-blank
 * nodes (leaf or parent) share an HPKE key or two leaves a signature key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mls_vectors.h"
#include "crypto/init.h"
#include "mls/ratchet_tree.h"
#include "mls/tls_codec.h"
#include "mls/tree_math.h"

static size_t nodes_checked, pairs_tried;

static int
resolution_is(const json_t *want, const uint32_t *got, size_t n)
{
	size_t i;

	if (!json_is_array(want) || json_array_size(want) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (json_integer_value(json_array_get(want, i)) != got[i])
			return 0;
	return 1;
}

/* Nodes a and b (a < b) non-blank: 1 if giving b the key of a is refused, and the tree is
 * accepted again once b's key is back. */
static int
refuses_shared_key(struct mls_ratchet_tree *t, uint32_t a, uint32_t b)
{
	struct mls_node *na = &t->nodes[a], *nb = &t->nodes[b];
	const uint8_t *ka = na->type == MLS_NODE_LEAF ? na->leaf.encryption_key : na->encryption_key;
	const uint8_t **kb = nb->type == MLS_NODE_LEAF ? &nb->leaf.encryption_key :
	    &nb->encryption_key;
	const uint8_t *saved = *kb;
	int refused;

	*kb = ka;
	refused = mls_ratchet_tree_check_unique_keys(t) == SOTTO_ERR_PROTOCOL;
	*kb = saved;
	return refused && mls_ratchet_tree_check_unique_keys(t) == 0;
}

/* RFC 9420 7.9, 12.4.3.1: no HPKE key in two non-blank nodes, whichever kinds they are;
 * no signature key in two leaves. Each pair of kinds the tree has is tried. */
static int
duplicate_keys_refused(struct mls_ratchet_tree *t)
{
	uint32_t w = mls_tree_node_width(t->n_leaves), x, leaf[2], parent[2];
	size_t n_leaf = 0, n_parent = 0;
	const uint8_t *saved;
	int ok = 1;

	for (x = 0; x < w; x++) {
		if (t->nodes[x].type == MLS_NODE_LEAF && n_leaf < 2)
			leaf[n_leaf++] = x;
		if (t->nodes[x].type == MLS_NODE_PARENT && n_parent < 2)
			parent[n_parent++] = x;
	}
	if (n_leaf == 2) {
		VCHECK(ok, refuses_shared_key(t, leaf[0], leaf[1]));
		saved = t->nodes[leaf[1]].leaf.signature_key;
		t->nodes[leaf[1]].leaf.signature_key = t->nodes[leaf[0]].leaf.signature_key;
		VCHECK(ok, mls_ratchet_tree_check_unique_keys(t) == SOTTO_ERR_PROTOCOL);
		t->nodes[leaf[1]].leaf.signature_key = saved;
	}
	if (n_parent == 2)
		VCHECK(ok, refuses_shared_key(t, parent[0], parent[1]));
	if (n_leaf > 0 && n_parent > 0) {
		VCHECK(ok, refuses_shared_key(t, leaf[0] < parent[0] ? leaf[0] : parent[0],
		    leaf[0] < parent[0] ? parent[0] : leaf[0]));
		pairs_tried++;
	}
	return ok;
}

static int
tree_validation_entry(const json_t *e, size_t idx)
{
	const json_t *hashes = json_object_get(e, "tree_hashes"), *res = json_object_get(e, "resolutions");
	size_t tree_len, gid_len, n;
	uint8_t *tree = mls_vec_hex(e, "tree", &tree_len), *gid = mls_vec_hex(e, "group_id", &gid_len);
	uint8_t hash[MLS_HASH_LEN], want[MLS_HASH_LEN];
	struct mls_ratchet_tree t;
	uint32_t *out = NULL, x, w;
	int ok = tree != NULL && gid != NULL;

	VCHECK(ok, mls_vec_uint(e, "cipher_suite", &ok) == 3);
	VCHECK(ok, ok && mls_ratchet_tree_decode(&t, tree, tree_len) == 0);
	if (!ok)
		goto out;
	w = mls_tree_node_width(t.n_leaves);
	VCHECK(ok, json_array_size(hashes) == w && json_array_size(res) == w);
	out = calloc(w, sizeof(*out));
	for (x = 0; ok && out != NULL && x < w; x++) {
		VCHECK(ok, mls_ratchet_tree_resolution(&t, x, out, w, &n) == 0);
		VCHECK(ok, resolution_is(json_array_get(res, x), out, n));
		VCHECK(ok, mls_ratchet_tree_hash(&t, x, hash) == 0);
		VCHECK(ok, check_unhex(json_string_value(json_array_get(hashes, x)), want,
		    sizeof(want)) == MLS_HASH_LEN && memcmp(hash, want, MLS_HASH_LEN) == 0);
		if (!ok)
			printf("# entry %zu: node %u wrong\n", idx, x);
		nodes_checked += ok;
	}
	VCHECK(ok, mls_ratchet_tree_verify_parent_hashes(&t) == 0);
	VCHECK(ok, mls_ratchet_tree_verify_leaves(&t, gid, gid_len) == 0);
	VCHECK(ok, mls_ratchet_tree_check_unique_keys(&t) == 0);
	ok &= duplicate_keys_refused(&t);
	/* Another group id breaks the signatures of leaves from updates and commits. */
	for (x = 0; x < t.n_leaves; x++)
		if (t.nodes[2 * x].type == MLS_NODE_LEAF &&
		    t.nodes[2 * x].leaf.source != MLS_LEAF_SOURCE_KEY_PACKAGE)
			break;
	if (x < t.n_leaves)
		VCHECK(ok, mls_ratchet_tree_verify_leaves(&t, gid, gid_len - 1) == SOTTO_ERR_BAD_SIGNATURE);
	/* A changed byte in the first non-blank parent's parent hash (or, without one, in its
	 * key) must break parent-hash validity. */
	for (x = 1; x < w; x += 2)
		if (t.nodes[x].type == MLS_NODE_PARENT)
			break;
	if (x < w) {
		uint8_t *p = (uint8_t *)(t.nodes[x].parent_hash_len > 0 ? t.nodes[x].parent_hash :
		    t.nodes[x].encryption_key);

		p[0] ^= 1;
		VCHECK(ok, mls_ratchet_tree_verify_parent_hashes(&t) == SOTTO_ERR_AUTH);
		p[0] ^= 1;
	}
	/* And a changed signature byte, a leaf's signature. */
	((uint8_t *)t.nodes[0].leaf.signature)[3] ^= 1;
	VCHECK(ok, mls_ratchet_tree_verify_leaves(&t, gid, gid_len) == SOTTO_ERR_BAD_SIGNATURE);
	mls_ratchet_tree_free(&t);
out:
	free(out);
	free(tree);
	free(gid);
	return ok;
}

/* One node of a tree made for a test: blank, a leaf (the vector's first leaf: decoding
 * does not look at signatures or duplicates), or a parent with the unmerged list given in
 * hex. */
struct made_node {
	char kind;                    /* '-' blank, 'L' leaf, 'P' parent */
	const char *unmerged_hex;
};

/* Decodes the tree made of the nodes given, around the leaf of src: 0 or the error. */
static int
decode_made(const struct mls_ratchet_tree *src, const struct made_node *nodes, size_t n)
{
	uint8_t key[MLS_KEM_PUBLIC_LEN] = { 0 }, unmerged[16];
	struct mls_ratchet_tree t;
	struct buf items, vec;
	size_t i;
	long un;
	int r = SOTTO_ERR_INTERNAL;

	buf_init_dyn(&items, 4096);
	buf_init_dyn(&vec, 4096);
	for (i = 0; i < n; i++) {
		switch (nodes[i].kind) {
		case '-':
			buf_u8(&items, 0);
			break;
		case 'L':
			buf_u8(&items, 1);
			buf_u8(&items, MLS_NODE_LEAF);
			buf_put(&items, src->nodes[0].encoding, src->nodes[0].encoding_len);
			break;
		default:
			if ((un = check_unhex(nodes[i].unmerged_hex, unmerged, sizeof(unmerged))) < 0)
				goto out;
			key[0] = (uint8_t)(i + 1);   /* parents' keys apart */
			buf_u8(&items, 1);
			buf_u8(&items, MLS_NODE_PARENT);
			mls_buf_opaque(&items, key, sizeof(key));
			mls_buf_opaque(&items, NULL, 0);
			mls_buf_opaque(&items, unmerged, (size_t)un);
		}
	}
	mls_buf_opaque(&vec, items.p, items.len);
	if (buf_status(&vec) != 0)
		goto out;
	if ((r = mls_ratchet_tree_decode(&t, vec.p, vec.len)) == 0)
		mls_ratchet_tree_free(&t);
out:
	buf_free(&items);
	buf_free(&vec);
	return r;
}

/* A two-leaf tree whose parent has the unmerged list given. */
static int
decode_with_unmerged(const struct mls_ratchet_tree *src, const char *unmerged_hex)
{
	const struct made_node nodes[] = { { 'L', NULL }, { 'P', unmerged_hex }, { 'L', NULL } };

	return decode_made(src, nodes, 3);
}

/* A four-leaf tree (leaves 0 to 3 at nodes 0, 2, 4, 6) whose root (node 3) lists root_hex
 * and whose node over leaves 2 and 3 (node 5) is blank (NULL) or lists n5_hex; leaf 2 is
 * blank if leaf2_blank. */
static int
decode_four(const struct mls_ratchet_tree *src, const char *root_hex, const char *n5_hex,
    int leaf2_blank)
{
	const struct made_node nodes[] = {
		{ 'L', NULL }, { 'P', "" }, { 'L', NULL }, { 'P', root_hex },
		{ leaf2_blank ? '-' : 'L', NULL }, { n5_hex ? 'P' : '-', n5_hex }, { 'L', NULL },
	};

	return decode_made(src, nodes, 7);
}

/* RFC 9420 7.1 and 12.4.3.1: a parent's unmerged leaves are non-blank leaves below it, in
 * increasing order, and every non-blank node between such a leaf and the parent lists it
 * too; nodes above the parent need not (ts-mls 1.6.4 refuses that last shape; it is what
 * a Commit without a path, then another's path above, leave). */
TEST(unmerged_leaves_checked)
{
	size_t len;
	uint8_t *tree = mls_vec_file_hex("tree-validation.json", 0, "tree", &len);
	struct mls_ratchet_tree src;

	REQUIRE(tree != NULL);
	REQUIRE(mls_ratchet_tree_decode(&src, tree, len) == 0);
	REQUIRE(src.n_leaves == 2 && src.nodes[0].type == MLS_NODE_LEAF && src.nodes[2].type == MLS_NODE_LEAF);
	CHECK_EQ_INT(decode_with_unmerged(&src, ""), 0);
	CHECK_EQ_INT(decode_with_unmerged(&src, "00000001"), 0);
	CHECK_EQ_INT(decode_with_unmerged(&src, "0000000000000001"), 0);
	CHECK_EQ_INT(decode_with_unmerged(&src, "00000002"), SOTTO_ERR_MALFORMED);   /* no such leaf */
	CHECK_EQ_INT(decode_with_unmerged(&src, "ffffffff"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(decode_with_unmerged(&src, "0000000100000001"), SOTTO_ERR_MALFORMED); /* twice */
	CHECK_EQ_INT(decode_with_unmerged(&src, "0000000100000000"), SOTTO_ERR_MALFORMED); /* order */
	CHECK_EQ_INT(decode_with_unmerged(&src, "000001"), SOTTO_ERR_MALFORMED);     /* not uint32s */
	/* leaf 3 unmerged at the root: node 5 between them blank, or listing it */
	CHECK_EQ_INT(decode_four(&src, "00000003", NULL, 0), 0);
	CHECK_EQ_INT(decode_four(&src, "00000003", "00000003", 0), 0);
	CHECK_EQ_INT(decode_four(&src, "0000000200000003", "0000000200000003", 0), 0);
	/* ... or a non-blank node 5 that does not list it */
	CHECK_EQ_INT(decode_four(&src, "00000003", "", 0), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(decode_four(&src, "0000000200000003", "00000002", 0), SOTTO_ERR_MALFORMED);
	/* a blank leaf cannot be unmerged */
	CHECK_EQ_INT(decode_four(&src, "00000003", NULL, 1), 0);
	CHECK_EQ_INT(decode_four(&src, "00000002", NULL, 1), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(decode_four(&src, "", "00000002", 1), SOTTO_ERR_MALFORMED);
	/* leaf 3 unmerged at node 5 only, the root set later by a path: valid */
	CHECK_EQ_INT(decode_four(&src, "", "00000003", 0), 0);
	mls_ratchet_tree_free(&src);
	free(tree);
}

int
main(void)
{
	if (sotto_crypto_init() != 0)
		return 1;
	mls_vec_run("tree-validation.json", 14, tree_validation_entry);
	RUN(unmerged_leaves_checked);
	printf("# tree-validation.json: %zu nodes' resolutions and tree hashes match\n", nodes_checked);
	/* Every tree with a leaf and a parent had a key shared between them refused. */
	printf("# duplicate keys refused in %zu trees with leaves and parents\n", pairs_tried);
	CHECK(pairs_tried > 0);
	return check_summary();
}
