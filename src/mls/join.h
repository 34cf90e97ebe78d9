/*
 * Joining a group from a Welcome (RFC 9420 section 12.4.3.1), every check a new member
 * makes before it trusts the group:
 *
 *   - the Welcome is for our KeyPackage (KeyPackageRef) and decrypts with its init key;
 *   - the PSKs it names are ones we hold; psk_secret over them;
 *   - the GroupInfo decrypts and its GroupContext is suite 3;
 *   - the ratchet tree (given out of band, or the GroupInfo's ratchet_tree extension)
 *     decodes, has the GroupContext's tree hash, is parent-hash valid, and every leaf
 *     signature verifies;
 *   - the GroupInfo is signed by the leaf it names as signer;
 *   - our own leaf is in the tree, exactly as in our KeyPackage;
 *   - if the Welcome carries a path secret, it gives the public key the tree has at the
 *     lowest common ancestor of our leaf and the signer's;
 *   - the confirmation tag verifies under the epoch's confirmation key.
 *
 * Not checked yet: capabilities and credentials against the group's required ones, and
 * the uniqueness of keys among leaves.
 */
#ifndef SOTTO_MLS_JOIN_H
#define SOTTO_MLS_JOIN_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "sotto/error.h"
#include "mls/key_schedule.h"
#include "mls/leaf_node.h"
#include "mls/psk.h"
#include "mls/ratchet_tree.h"
#include "mls/welcome.h"

#define MLS_EXTENSION_RATCHET_TREE 0x0002

struct mls_join_input {
	const struct mls_key_package *key_package;   /* ours, as read */
	const uint8_t *init_sec;                     /* SECRET: its init private key */
	const uint8_t *ratchet_tree;                 /* out of band, or NULL */
	size_t ratchet_tree_len;
	const struct mls_psk *psks;                  /* external PSKs we hold (id and psk) */
	size_t n_psks;
};

/* A new member's state after joining. The tree and GroupInfo point into the buffers. */
struct mls_joined {
	struct mls_ratchet_tree tree;
	uint32_t own_leaf;
	struct mls_group_info group_info;
	struct mls_epoch_secrets epoch;              /* SECRET */
	struct buf group_context;                    /* the epoch's GroupContext, encoded */
	struct buf secrets_plain, group_info_plain;  /* SECRET: decrypted GroupSecrets */
	int has_path_secret;
	uint8_t path_secret[MLS_HASH_LEN];           /* SECRET: of the signer's and our LCA */
};

/* SOTTO_ERR_NOT_FOUND (not for us, an unknown PSK, our leaf or the tree missing),
 * SOTTO_ERR_DECRYPT, SOTTO_ERR_BAD_SIGNATURE, SOTTO_ERR_AUTH (tree hash, parent hash,
 * path secret or confirmation tag wrong), or a parse error. out is freed on failure. */
int mls_join(struct mls_joined *out, const struct mls_welcome *w, const struct mls_join_input *in) SOTTO_MUST_CHECK;
void mls_joined_free(struct mls_joined *j);

#endif
