/*
 * The secret tree and its hash ratchets (RFC 9420 section 9), and the sender-data key
 * (section 6.3.2). An epoch's encryption_secret sits at the root; each node's children are
 * ExpandWithLabel(node, "tree", "left"/"right", Nh), and a leaf's secret starts two
 * ratchets, "handshake" and "application". Each ratchet step gives a key and a nonce for
 * one generation and replaces the ratchet secret (DeriveTreeSecret with "key", "nonce",
 * "secret").
 *
 * Deletion (section 9.2): a node's secret is wiped as soon as both children are derived,
 * a leaf's as soon as its ratchets are, and a ratchet's secret as soon as the next one is,
 * so that a later compromise cannot recover keys already used.
 *
 * Messages out of order (section 9.1): when a receiver's ratchet jumps ahead, the keys of
 * the generations it skipped are kept in one table per tree, at most MLS_SKIPPED_KEYS_MAX
 * of them (the oldest go first), each wiped as soon as it is used. A receiver first peeks
 * at a key, and consumes it only once the message authenticated, so that a forged or
 * damaged message uses up nothing.
 *
 * A past epoch's tree (mls_secret_tree_retire) keeps only what reads late application
 * messages: its handshake ratchets and their skipped keys are wiped, and a leaf started
 * later keeps only its application ratchet.
 */
#ifndef SOTTO_MLS_SECRET_TREE_H
#define SOTTO_MLS_SECRET_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"
#include "mls/suite.h"

/* How many generations one step may jump: a sender cannot make a receiver spin. */
#define MLS_RATCHET_MAX_SKIP 1024
/* Keys of skipped generations a tree keeps for late messages, over all senders. */
#define MLS_SKIPPED_KEYS_MAX 256

/* A hash ratchet: secret is SECRET, generation the next one it can give. */
struct mls_ratchet {
	uint8_t secret[MLS_HASH_LEN];
	uint32_t generation;
};

/* The key and nonce of one skipped generation (SECRET). */
struct mls_skipped_key {
	uint32_t leaf;
	uint32_t generation;
	uint8_t handshake;
	uint8_t used;                    /* 1 while the slot holds a key */
	uint8_t key[MLS_AEAD_KEY_LEN];
	uint8_t nonce[MLS_AEAD_NONCE_LEN];
	uint64_t stored;                 /* insertion order, to drop the oldest */
};

struct mls_secret_tree {
	uint32_t n_leaves;
	struct mls_skipped_key *skipped; /* SECRET, sodium_malloc, MLS_SKIPPED_KEYS_MAX slots */
	uint64_t stores;
	uint8_t (*node)[MLS_HASH_LEN];   /* SECRET, sodium_malloc, one per node */
	uint8_t *present;                /* 1 while node[x] holds an unconsumed secret */
	struct mls_ratchet *ratchets;    /* SECRET, sodium_malloc: [2 leaf] handshake,
	                                  * [2 leaf + 1] application, once started */
	uint8_t *started;                /* 1 once a leaf's ratchets are in ratchets[] */
	uint8_t application_only;        /* retired: no handshake ratchets */
};

/* encryption_secret (SECRET) is copied; n_leaves must be a valid tree width. */
int mls_secret_tree_init(struct mls_secret_tree *t, const uint8_t encryption_secret[static MLS_HASH_LEN],
    uint32_t n_leaves) SOTTO_MUST_CHECK;
void mls_secret_tree_free(struct mls_secret_tree *t);
/* Starts both ratchets of a leaf (0-based leaf index), consuming the leaf's secret and
 * every node secret on the way down. SOTTO_ERR_STATE if that leaf was already started. */
int mls_secret_tree_leaf(struct mls_secret_tree *t, uint32_t leaf, struct mls_ratchet *handshake,
    struct mls_ratchet *application) SOTTO_MUST_CHECK;

/* A past epoch's tree: every handshake ratchet and handshake skipped key wiped; from now
 * on its handshake keys are SOTTO_ERR_STATE. */
void mls_secret_tree_retire(struct mls_secret_tree *t);

/* A leaf's handshake (handshake = 1) or application ratchet, started and kept in the tree
 * on first use (SOTTO_ERR_STATE for a handshake ratchet of a retired tree). */
int mls_secret_tree_ratchet(struct mls_secret_tree *t, uint32_t leaf, int handshake,
    struct mls_ratchet **out) SOTTO_MUST_CHECK;
/* For receiving: the key and nonce (SECRET) of a generation, from the skipped-key table or
 * derived ahead on a copy of the ratchet; nothing changes. SOTTO_ERR_REPLAY for a
 * generation already used (or dropped from the table), the ratchet's other errors. */
int mls_secret_tree_peek_key(struct mls_secret_tree *t, uint32_t leaf, int handshake,
    uint32_t generation, uint8_t key[static MLS_AEAD_KEY_LEN],
    uint8_t nonce[static MLS_AEAD_NONCE_LEN]) SOTTO_MUST_CHECK;
/* Once the message under that key authenticated: the key is used up (wiped from the table,
 * or the ratchet advanced past it, keeping the keys it skips). */
int mls_secret_tree_consume_key(struct mls_secret_tree *t, uint32_t leaf, int handshake,
    uint32_t generation) SOTTO_MUST_CHECK;
/* For sending: the key and nonce (SECRET) of the ratchet's next generation, written to
 * *generation, which is used up. */
int mls_secret_tree_next_key(struct mls_secret_tree *t, uint32_t leaf, int handshake,
    uint32_t *generation, uint8_t key[static MLS_AEAD_KEY_LEN],
    uint8_t nonce[static MLS_AEAD_NONCE_LEN]) SOTTO_MUST_CHECK;

/* The key and nonce (SECRET) of a generation, advancing the ratchet past it.
 * SOTTO_ERR_REPLAY for a generation already passed, SOTTO_ERR_TOO_MANY_SKIPPED for one
 * more than MLS_RATCHET_MAX_SKIP ahead, SOTTO_ERR_LIMIT for 2^32 - 1. */
int mls_ratchet_key(struct mls_ratchet *r, uint32_t generation, uint8_t key[static MLS_AEAD_KEY_LEN],
    uint8_t nonce[static MLS_AEAD_NONCE_LEN]) SOTTO_MUST_CHECK;
void mls_ratchet_wipe(struct mls_ratchet *r);

/* The key and nonce (SECRET) that protect a PrivateMessage's sender data: ExpandWithLabel
 * of sender_data_secret with "key"/"nonce" over the first Nh bytes of the ciphertext (all
 * of it if shorter). */
int mls_sender_data_key(uint8_t key[static MLS_AEAD_KEY_LEN], uint8_t nonce[static MLS_AEAD_NONCE_LEN],
    const uint8_t sender_data_secret[static MLS_HASH_LEN], const uint8_t *ciphertext,
    size_t ciphertext_len) SOTTO_MUST_CHECK;

#endif
