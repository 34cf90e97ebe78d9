/*
 * The steps group.c (receiving Commits) and group_commit.c (creating them) share. Not an
 * API: only src/mls/group*.c include it.
 */
#ifndef SOTTO_MLS_GROUP_INTERNAL_H
#define SOTTO_MLS_GROUP_INTERNAL_H

#include "mls/group.h"

/* One proposal of a Commit, resolved, with who proposed it. */
struct mls_group_resolved {
	struct mls_proposal p;
	uint32_t sender;
};

/* A copy of src that owns its bytes: src encoded and decoded again. */
int mls_group_tree_copy(struct mls_ratchet_tree *dst, const struct mls_ratchet_tree *src) SOTTO_MUST_CHECK;
/* Our node keys (SECRET): drop those whose node is blank or rekeyed in t; set one; set
 * those from the path secret of node start up sender's filtered direct path, each checked
 * against t (SOTTO_ERR_AUTH). */
void mls_group_keys_prune(struct mls_node_key *keys, size_t *n, const struct mls_ratchet_tree *t);
int mls_group_keys_set(struct mls_node_key *keys, size_t *n, uint32_t x,
    const uint8_t sec[static MLS_KEM_SECRET_LEN]) SOTTO_MUST_CHECK;
int mls_group_keys_from_path(struct mls_node_key *keys, size_t *n, const struct mls_ratchet_tree *t,
    uint32_t sender, uint32_t start, const uint8_t path_secret[static MLS_HASH_LEN]) SOTTO_MUST_CHECK;
/* The Commit's proposals, by value and by reference (from g's cache), into out. */
int mls_group_resolve_proposals(const struct mls_group *g, const struct mls_commit *cm,
    uint32_t committer, struct mls_group_resolved *out, size_t *n) SOTTO_MUST_CHECK;
/* The list valid (RFC 9420 12.2, 12.1); *path_required set when it needs a path. */
int mls_group_check_proposals(const struct mls_group *g, const struct mls_group_resolved *rp,
    size_t n, uint32_t committer, int *path_required) SOTTO_MUST_CHECK;
/* Applied to t in the order GroupContextExtensions, Update, Remove, Add; the new leaves
 * into added, the new extensions (if any) into *ext. SOTTO_ERR_STATE if own_leaf is
 * removed. */
int mls_group_apply_proposals(struct mls_ratchet_tree *t, uint32_t own_leaf,
    const struct mls_group_resolved *rp, size_t n, uint32_t *added, size_t *n_added,
    const uint8_t **ext, size_t *ext_len) SOTTO_MUST_CHECK;
/* The next epoch's GroupContext over t with the given confirmed transcript hash, encoded
 * into b; tree_hash receives t's hash. */
int mls_group_next_context(struct buf *b, const struct mls_group *g, const struct mls_ratchet_tree *t,
    const uint8_t *confirmed, size_t confirmed_len, const uint8_t *ext, size_t ext_len,
    uint8_t tree_hash[static MLS_HASH_LEN]) SOTTO_MUST_CHECK;
/* g moves to the epoch everything was verified for: a copy of next, the secrets, the
 * encoded GroupContext (taken from gc_next, which is left empty), the interim transcript
 * hash from confirmed and tag, our keys; the proposal cache emptied. */
int mls_group_enter_epoch(struct mls_group *g, const struct mls_ratchet_tree *next,
    const struct mls_epoch_secrets *epoch, struct buf *gc_next,
    const uint8_t confirmed[static MLS_HASH_LEN], const uint8_t tag[static MLS_HASH_LEN],
    const struct mls_node_key *keys, size_t n_keys) SOTTO_MUST_CHECK;
/* The next free entry of g's proposal cache, zeroed with its buffers ready (not yet
 * counted: the caller increments n_cache once it is filled); SOTTO_ERR_LIMIT when full. */
int mls_group_cache_slot(struct mls_group *g, struct mls_group_cached **out) SOTTO_MUST_CHECK;
/* g->gc decoded from g->gc_bytes; the epoch's resumption PSK kept. */
int mls_group_read_context(struct mls_group *g) SOTTO_MUST_CHECK;
void mls_group_remember_resumption(struct mls_group *g);

#endif
