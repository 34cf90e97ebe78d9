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
 * Committing: mls_treekem_create() derives the path from a fresh leaf secret, sets it in
 * the tree with its parent hashes and signs the new leaf; once the caller has the new
 * GroupContext (its tree hash covers that leaf), mls_treekem_encrypt() writes the
 * UpdatePath with each path secret encrypted to the resolution of its copath child.
 */
#ifndef SOTTO_MLS_TREEKEM_H
#define SOTTO_MLS_TREEKEM_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"
#include "base/buf.h"
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

/* After merging: finds the UpdatePathNode encrypted to one of our keys (the ciphertexts
 * are for the copath resolution without the leaves in exclude, members added by the same
 * commit), decrypts it with
 * the encoded GroupContext of the new epoch, and derives up the path. Writes the path
 * secret we decrypted and the node it belongs to, and the commit secret (both SECRET).
 * SOTTO_ERR_NOT_FOUND if none of our keys is in any copath resolution, SOTTO_ERR_DECRYPT,
 * or SOTTO_ERR_AUTH if a derived node key differs from the one the sender published. */
int mls_treekem_decrypt(const struct mls_ratchet_tree *t, uint32_t sender,
    const struct mls_update_path *up, const uint8_t *group_context, size_t group_context_len,
    const struct mls_node_key *keys, size_t n_keys, const uint32_t *exclude, size_t n_exclude,
    uint8_t path_secret[static MLS_HASH_LEN], uint32_t *path_secret_node,
    uint8_t commit_secret[static MLS_HASH_LEN]) SOTTO_MUST_CHECK;

/* What a committer knows after creating a path. All SECRET. */
struct mls_path_secrets {
	size_t n;
	uint8_t path_secret[MLS_PATH_MAX][MLS_HASH_LEN];   /* for each filtered path node */
	uint8_t commit_secret[MLS_HASH_LEN];
	uint8_t leaf_sec[MLS_KEM_SECRET_LEN];              /* the new leaf's private key */
};

/* Sets sender's new path in t from leaf_secret (SECRET, fresh random bytes): the direct
 * path blanked, the filtered path given its new keys and parent hashes, and the sender's
 * leaf replaced by a copy of it with the new encryption key, source commit, the parent hash
 * and a signature by sig_sec (libsodium's 64-byte Ed25519 key, SECRET) over LeafNodeTBS
 * for group_id. The new LeafNode is written to leaf_out, which t then points into: the
 * caller keeps it unchanged for as long as t lives. */
int mls_treekem_create(struct mls_ratchet_tree *t, uint32_t sender,
    const uint8_t leaf_secret[static MLS_HASH_LEN], const uint8_t sig_sec[static 64],
    const uint8_t *group_id, size_t group_id_len, struct buf *leaf_out,
    struct mls_path_secrets *ps) SOTTO_MUST_CHECK;
/* Writes the UpdatePath (the sender's leaf as t now has it, then each node's key and its
 * path secret encrypted with EncryptWithLabel "UpdatePathNode" over the encoded
 * GroupContext to every node in the copath child's resolution, leaving out the leaves in
 * exclude: members added by the same commit). */
int mls_treekem_encrypt(const struct mls_ratchet_tree *t, uint32_t sender,
    const struct mls_path_secrets *ps, const uint8_t *group_context, size_t group_context_len,
    const uint32_t *exclude, size_t n_exclude, struct buf *out) SOTTO_MUST_CHECK;
void mls_path_secrets_wipe(struct mls_path_secrets *ps);

/* The key pair of a node from its path secret. sec is SECRET. */
int mls_treekem_node_keypair(uint8_t pub[static MLS_KEM_PUBLIC_LEN], uint8_t sec[static MLS_KEM_SECRET_LEN],
    const uint8_t path_secret[static MLS_HASH_LEN]) SOTTO_MUST_CHECK;

#endif
