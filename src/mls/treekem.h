/*
 * TreeKEM (RFC 9420 sections 4.1, 7.4, 7.5, 7.6, 7.9, 12.4.2): the filtered direct path,
 * merging a received UpdatePath into the tree (with the parent hashes it implies checked
 * against the sender's signed leaf), and decrypting the path secret meant for us, then
 * deriving up to the commit secret while checking every node key the sender published.
 *
 *   node_secret = DeriveSecret(path_secret, "node"); node key pair = DeriveKeyPair(node_secret)
 *   path_secret[n + 1] = DeriveSecret(path_secret[n], "path")
 *   commit_secret = DeriveSecret(path_secret of the last node, "path")
 *   encrypted_path_secret[j] = EncryptWithLabel(key of the j-th node in the resolution of
 *                              the copath child, "UpdatePathNode", GroupContext, path_secret)
 *
 * Creating an UpdatePath (committing) is not here yet.
 */
#ifndef SOTTO_MLS_TREEKEM_H
#define SOTTO_MLS_TREEKEM_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"
#include "mls/proposal.h"
#include "mls/ratchet_tree.h"
#include "mls/suite.h"

/* A direct path is at most one node per level: log2(MLS_TREE_MAX_LEAVES) + 1. */
#define MLS_PATH_MAX 21

/* The parents of a leaf whose copath child has a non-empty resolution, lowest first, each
 * with that copath child. */
struct mls_filtered_path {
	size_t n;
	uint32_t node[MLS_PATH_MAX];
	uint32_t copath[MLS_PATH_MAX];
};

/* A private key a member holds for a node of the tree (its leaf, or a parent it learned a
 * path secret for). sec is SECRET. */
struct mls_node_key {
	uint32_t node;
	uint8_t sec[MLS_KEM_SECRET_LEN];
};

int mls_filtered_direct_path(const struct mls_ratchet_tree *t, uint32_t leaf,
    struct mls_filtered_path *fp) SOTTO_MUST_CHECK;

/* Merges sender's UpdatePath into t: the sender's leaf replaced by up->leaf, its direct
 * path blanked, the filtered direct path set to the new keys with empty unmerged lists and
 * parent hashes computed top down. up and its bytes must outlive t. SOTTO_ERR_MALFORMED if
 * the path has the wrong number of nodes or the leaf is not from a commit, SOTTO_ERR_AUTH
 * if the leaf's parent_hash is not the one the path implies. */
int mls_treekem_merge(struct mls_ratchet_tree *t, uint32_t sender,
    const struct mls_update_path *up) SOTTO_MUST_CHECK;

/* After merging: finds the UpdatePathNode encrypted to one of our keys, decrypts it with
 * the encoded GroupContext of the new epoch, and derives up the path. Writes the path
 * secret we decrypted and the node it belongs to, and the commit secret (both SECRET).
 * SOTTO_ERR_NOT_FOUND if none of our keys is in any copath resolution, SOTTO_ERR_DECRYPT,
 * or SOTTO_ERR_AUTH if a derived node key differs from the one the sender published. */
int mls_treekem_decrypt(const struct mls_ratchet_tree *t, uint32_t sender,
    const struct mls_update_path *up, const uint8_t *group_context, size_t group_context_len,
    const struct mls_node_key *keys, size_t n_keys, uint8_t path_secret[static MLS_HASH_LEN],
    uint32_t *path_secret_node, uint8_t commit_secret[static MLS_HASH_LEN]) SOTTO_MUST_CHECK;

/* The key pair of a node from its path secret. sec is SECRET. */
int mls_treekem_node_keypair(uint8_t pub[static MLS_KEM_PUBLIC_LEN], uint8_t sec[static MLS_KEM_SECRET_LEN],
    const uint8_t path_secret[static MLS_HASH_LEN]) SOTTO_MUST_CHECK;

#endif
