/*
 * A member's group state and processing a Commit (RFC 9420 sections 12.2, 12.3, 12.4.2).
 *
 * A group starts from a Welcome (mls/join.h). Proposals sent in the epoch are cached by
 * reference; a Commit then advances the epoch after every check a member MUST make:
 *
 *   - the PublicMessage is for this group and epoch, its membership tag and the sender's
 *     signature verify; the sender is a member other than us;
 *   - every proposal by reference is one we cached this epoch; the list is valid (12.2):
 *     no Update by value or from the committer, at most one Update or Remove per leaf and
 *     none of the committer, Removes of non-blank leaves, Adds whose KeyPackage and leaf
 *     signatures verify with init and encryption keys apart, PSK ids unique and each a PSK
 *     we hold (external, or resumption of a past epoch of this group), at most one
 *     GroupContextExtensions, no ReInit or ExternalInit;
 *   - a path is present when the list is empty or holds an Update, Remove or
 *     GroupContextExtensions; its leaf is signed for its position and from a commit, and
 *     its parent hash is the one the path implies;
 *   - signature and encryption keys are unique among the leaves after the proposals;
 *   - the path secret is decrypted from the ciphertext for our node in the copath
 *     resolution without the members added by this commit, and every node key up the path
 *     is the sender's;
 *   - the confirmation tag verifies under the new epoch's confirmation key.
 *
 * Proposals are applied in the order of section 12.3: GroupContextExtensions, Update,
 * Remove, Add, then the PSKs feed psk_secret in list order. The state changes only once
 * everything verified. Our private keys: our leaf's, and each node's on a path we
 * decrypted (dropped once the node is blanked or rekeyed). The resumption PSKs of the
 * last MLS_GROUP_RESUMPTION_MAX epochs are kept.
 *
 * Not yet: external commits and proposals from external senders, ReInit.
 */
#ifndef SOTTO_MLS_GROUP_H
#define SOTTO_MLS_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "sotto/error.h"
#include "mls/join.h"
#include "mls/key_schedule.h"
#include "mls/message.h"
#include "mls/psk.h"
#include "mls/ratchet_tree.h"
#include "mls/secret_tree.h"
#include "mls/treekem.h"

#define MLS_GROUP_RESUMPTION_MAX 16
/* Proposals cached in one epoch. */
#define MLS_GROUP_PROPOSALS_MAX 256
/* Proposals one Commit may list: enough to add the rest of a 1,000-member group in one
 * Commit from a group of one (bench-mls); each costs a transient mls_group_resolved. */
#define MLS_COMMIT_PROPOSALS_MAX 1024
/* Our node keys: the leaf's and one per level of the tree. */
#define MLS_GROUP_NODE_KEYS_MAX (MLS_PATH_MAX + 1)

/* Past epochs whose application messages are still read (group_past.c): a message sent
 * just before a Commit may arrive after it. Forward-secrecy cost: until the third Commit
 * after an epoch, its unused application keys (the secret tree's remaining node secrets,
 * application ratchets and skipped keys) and its sender-data secret stay in memory and in
 * the saved state, so a compromise in that window reads that epoch's messages not yet
 * received. Then they are wiped. Handshake messages of past epochs are never read. */
#define MLS_PAST_EPOCHS_MAX 3

/* A past epoch's sender, its signature key then. */
struct mls_group_past_leaf {
	uint8_t present;
	uint8_t signature_key[MLS_SIG_PUBLIC_LEN];
};

struct mls_group_past_epoch {
	int used;
	struct buf gc_bytes;                             /* its GroupContext ... */
	struct mls_group_context gc;                     /* ... decoded from it */
	uint8_t sender_data_secret[MLS_HASH_LEN];        /* SECRET */
	struct mls_secret_tree secrets;                  /* SECRET, retired: application only */
	struct mls_group_past_leaf *leaves;              /* secrets.n_leaves of them */
};

struct mls_group_resumption {
	uint64_t epoch;
	int used;
	uint8_t psk[MLS_HASH_LEN];                       /* SECRET */
};

struct mls_group_cached {
	uint8_t ref[MLS_HASH_LEN];
	uint32_t sender;
	struct buf bytes;                                /* the proposal message ... */
	struct buf plain;                                /* ... decrypted, if private */
	struct mls_proposal p;                           /* points into one of them */
};

struct mls_group {
	struct mls_ratchet_tree tree;                    /* owns its bytes */
	uint32_t own_leaf;
	struct buf gc_bytes;                             /* this epoch's GroupContext ... */
	struct mls_group_context gc;                     /* ... decoded from it */
	uint8_t interim[MLS_HASH_LEN];
	struct mls_epoch_secrets epoch;                  /* SECRET */
	struct mls_secret_tree secrets;                  /* SECRET */
	struct mls_node_key keys[MLS_GROUP_NODE_KEYS_MAX];   /* SECRET */
	size_t n_keys;
	struct mls_group_resumption past[MLS_GROUP_RESUMPTION_MAX];   /* SECRET */
	const struct mls_psk *external_psks;             /* the caller's; must outlive g */
	size_t n_external_psks;
	struct mls_group_cached *cache;                  /* this epoch's proposals */
	size_t n_cache;
	int has_pending_update;                          /* our Update proposal this epoch */
	uint8_t pending_update_sec[MLS_KEM_SECRET_LEN];  /* SECRET: its leaf's private key */
	/* the last MLS_PAST_EPOCHS_MAX epochs, each in slot epoch % MLS_PAST_EPOCHS_MAX */
	struct mls_group_past_epoch past_epochs[MLS_PAST_EPOCHS_MAX];
};

/* What a Commit of ours covers: Removes of leaves and Adds of KeyPackages (bare, as
 * mls_key_package_create writes them) by value, and if cached is set every proposal
 * cached this epoch by reference. */
struct mls_commit_spec {
	const uint8_t *const *add_kps;
	const size_t *add_lens;
	size_t n_adds;
	const uint32_t *removes;
	size_t n_removes;
	int cached;
	int encrypt;                                     /* as a PrivateMessage */
};

/* Takes the state of a Welcome we joined: j's tree is re-encoded into g, j is left to the
 * caller to free. enc_sec is our leaf's private key (SECRET). */
int mls_group_from_join(struct mls_group *g, const struct mls_joined *j,
    const uint8_t enc_sec[static MLS_KEM_SECRET_LEN], const struct mls_psk *external_psks,
    size_t n_external_psks) SOTTO_MUST_CHECK;
void mls_group_free(struct mls_group *g);

/* A new group of one (RFC 9420 11): our leaf from our KeyPackage (own, as read; enc_sec
 * its leaf's private key, SECRET), epoch 0, a random init secret. */
int mls_group_create(struct mls_group *g, const uint8_t *group_id, size_t group_id_len,
    const struct mls_key_package *own, const uint8_t enc_sec[static MLS_KEM_SECRET_LEN]) SOTTO_MUST_CHECK;

/* A Commit of ours (RFC 9420 12.4.1) as a PublicMessage (or PrivateMessage if
 * spec->encrypt) covering spec, its proposals
 * checked as a receiver checks them, and always a path (a fresh leaf key: an empty Commit
 * updates our keys). If it adds members, welcome_out receives the Welcome (an MLSMessage)
 * for them, else it is left empty. g moves to the new epoch: the other members reach the
 * same one with mls_group_process_commit. sig_sec is our 64-byte Ed25519 key (SECRET). */
int mls_group_commit(struct mls_group *g, const uint8_t sig_sec[static 64],
    const struct mls_commit_spec *spec, struct buf *commit_out,
    struct buf *welcome_out) SOTTO_MUST_CHECK;

/* An Update proposal of ours (RFC 9420 12.1.2) as a PublicMessage: our leaf with a fresh
 * encryption key, source update, signed for our position. Its private key is kept until
 * a Commit of this epoch applies it, or the epoch ends. Cache it like any proposal. */
int mls_group_propose_update(struct mls_group *g, const uint8_t sig_sec[static 64],
    struct buf *out) SOTTO_MUST_CHECK;

/* The epoch keys protecting and unprotecting messages use. */
void mls_group_epoch_keys(struct mls_group *g, struct mls_epoch_keys *ek);

/* A proposal sent in this epoch as a PublicMessage (membership tag checked) or a
 * PrivateMessage (decrypted): from a member, its signature checked, cached under its
 * reference. */
int mls_group_cache_proposal(struct mls_group *g, const uint8_t *msg, size_t len) SOTTO_MUST_CHECK;

/* A Commit sent as a PublicMessage or a PrivateMessage: every check above, then the next
 * epoch. Errors:
 * SOTTO_ERR_STATE (another group or epoch, or we are removed), SOTTO_ERR_AUTH,
 * SOTTO_ERR_BAD_SIGNATURE, SOTTO_ERR_DECRYPT, SOTTO_ERR_NOT_FOUND (a proposal reference
 * or PSK we do not have), SOTTO_ERR_PROTOCOL (an invalid proposal list or missing path),
 * SOTTO_ERR_UNSUPPORTED (ReInit, external senders), parse errors. g is unchanged on
 * error, except that a PrivateMessage that decrypted has used up its handshake key. */
int mls_group_process_commit(struct mls_group *g, const uint8_t *msg, size_t len) SOTTO_MUST_CHECK;
/* The same; *by receives the committer's leaf once the message was read (its sender
 * authenticated), whatever the outcome after that (UINT32_MAX before). */
int mls_group_process_commit_by(struct mls_group *g, const uint8_t *msg, size_t len,
    uint32_t *by) SOTTO_MUST_CHECK;

#endif
