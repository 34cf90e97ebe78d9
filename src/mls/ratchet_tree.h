/*
 * The ratchet tree (RFC 9420 section 7): as the ratchet_tree extension carries it
 * (section 12.4.3.3), its resolutions (4.1), tree hashes (7.8), parent-hash validation
 * (7.9, 7.9.2) and leaf signatures (7.2).
 *
 *   optional<Node> ratchet_tree<V>;
 *   struct { NodeType node_type;                  uint8: leaf(1), parent(2)
 *            select: leaf LeafNode; parent ParentNode; } Node;
 *   struct { HPKEPublicKey encryption_key; opaque parent_hash<V>;
 *            uint32 unmerged_leaves<V>; } ParentNode;
 *
 * Reading checks that node i is a leaf when i is even and a parent when odd, and that the
 * list ends in a non-blank leaf (trailing blanks are truncated). A decoded tree is padded
 * with blank nodes to the full width (a power of two leaves). Not secret: private keys
 * are not part of it.
 */
#ifndef SOTTO_MLS_RATCHET_TREE_H
#define SOTTO_MLS_RATCHET_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/cursor.h"
#include "sotto/error.h"
#include "mls/leaf_node.h"
#include "mls/suite.h"

#define MLS_NODE_BLANK 0
#define MLS_NODE_LEAF 1
#define MLS_NODE_PARENT 2

struct mls_node {
	uint8_t type;                     /* MLS_NODE_BLANK, _LEAF or _PARENT */
	const uint8_t *encoding;          /* the LeafNode or ParentNode as read */
	size_t encoding_len;
	struct mls_leaf_node leaf;        /* leaf */
	const uint8_t *encryption_key;    /* parent: MLS_KEM_PUBLIC_LEN bytes */
	const uint8_t *parent_hash;       /* parent */
	size_t parent_hash_len;
	uint32_t *unmerged;               /* parent: leaf indices, owned (malloc) */
	size_t n_unmerged;
	uint8_t parent_hash_store[MLS_HASH_LEN];  /* parent_hash points here once computed */
	uint8_t key_store[MLS_KEM_PUBLIC_LEN];    /* encryption_key, for a key made here */
};

struct mls_ratchet_tree {
	uint32_t n_leaves;
	struct mls_node *nodes;           /* 2 n_leaves - 1 */
	uint8_t *bytes;                   /* decoded nodes point into this copy of the input */
};

/* Reads the whole vector and checks it; *n_nodes receives the number of nodes it lists. */
void mls_ratchet_tree_read(struct cur *c, uint32_t *n_nodes);
/* Decodes the vector (a ratchet_tree extension's data) into t. */
int mls_ratchet_tree_decode(struct mls_ratchet_tree *t, const uint8_t *p, size_t len) SOTTO_MUST_CHECK;
void mls_ratchet_tree_free(struct mls_ratchet_tree *t);

/* Writes the tree as the ratchet_tree extension carries it (trailing blanks left out). */
int mls_ratchet_tree_encode(const struct mls_ratchet_tree *t, struct buf *b) SOTTO_MUST_CHECK;
/* Makes node x blank. */
void mls_ratchet_tree_blank(struct mls_ratchet_tree *t, uint32_t x);

/* Proposals applied to the tree (RFC 9420 12.1.1-12.1.3, 7.7, 7.8). The LeafNode is
 * pointed to, not copied: its bytes must outlive t.
 * add: the leftmost blank leaf, or a new one after doubling the tree; the new leaf is
 *      added to the unmerged leaves of every non-blank parent above it; *leaf receives it.
 * update: the sender's leaf replaced and its direct path blanked.
 * remove: the leaf and its direct path blanked, then the tree halved while its right half
 *      is all blank.
 * SOTTO_ERR_STATE for a leaf that is blank (update, remove), SOTTO_ERR_LIMIT past
 * MLS_TREE_MAX_LEAVES. */
int mls_ratchet_tree_add(struct mls_ratchet_tree *t, const struct mls_leaf_node *ln,
    uint32_t *leaf) SOTTO_MUST_CHECK;
int mls_ratchet_tree_update(struct mls_ratchet_tree *t, uint32_t leaf,
    const struct mls_leaf_node *ln) SOTTO_MUST_CHECK;
int mls_ratchet_tree_remove(struct mls_ratchet_tree *t, uint32_t leaf) SOTTO_MUST_CHECK;

/* RFC 9420 7.3, 7.9 and 12.4.3.1: the HPKE encryption keys of all non-blank nodes (leaves
 * and parents) are distinct, and so are the leaves' signature keys; else
 * SOTTO_ERR_PROTOCOL. O(n log n) for n nodes. */
int mls_ratchet_tree_check_unique_keys(const struct mls_ratchet_tree *t) SOTTO_MUST_CHECK;

/* The resolution of node x into out (room for cap nodes), in the RFC's order. */
int mls_ratchet_tree_resolution(const struct mls_ratchet_tree *t, uint32_t x, uint32_t *out,
    size_t cap, size_t *n) SOTTO_MUST_CHECK;
/* The tree hash of node x (of the root for the tree's hash). */
int mls_ratchet_tree_hash(const struct mls_ratchet_tree *t, uint32_t x,
    uint8_t out[static MLS_HASH_LEN]) SOTTO_MUST_CHECK;
/* ParentHash of parent node p as its child on the side away from sibling s carries it:
 * Hash(ParentHashInput { encryption_key; parent_hash; original_sibling_tree_hash }). */
int mls_ratchet_tree_parent_hash(const struct mls_ratchet_tree *t, uint32_t p, uint32_t s,
    uint8_t out[static MLS_HASH_LEN]) SOTTO_MUST_CHECK;
/* 0 if every non-blank parent node is parent-hash valid with respect to exactly one
 * descendant, else SOTTO_ERR_AUTH. */
int mls_ratchet_tree_verify_parent_hashes(const struct mls_ratchet_tree *t) SOTTO_MUST_CHECK;
/* 0 if every leaf's signature verifies over its LeafNodeTBS (with group_id and the leaf
 * index for leaves from an update or a commit), else SOTTO_ERR_BAD_SIGNATURE. */
int mls_ratchet_tree_verify_leaves(const struct mls_ratchet_tree *t, const uint8_t *group_id,
    size_t group_id_len) SOTTO_MUST_CHECK;

/* 0 if ln's signature verifies over its LeafNodeTBS, as leaf of the group (group_id and
 * leaf are used for leaves from an update or a commit), else SOTTO_ERR_BAD_SIGNATURE. */
int mls_leaf_node_verify(const struct mls_leaf_node *ln, const uint8_t *group_id,
    size_t group_id_len, uint32_t leaf) SOTTO_MUST_CHECK;
/* Writes ln to out signed by sig_sec (libsodium's 64-byte Ed25519 key, SECRET) over its
 * LeafNodeTBS, as mls_leaf_node_verify checks it; ln's own signature is ignored. */
int mls_leaf_node_sign(struct buf *out, const struct mls_leaf_node *ln, const uint8_t sig_sec[static 64],
    const uint8_t *group_id, size_t group_id_len, uint32_t leaf) SOTTO_MUST_CHECK;

#endif
