/*
 * Groups in libsotto: MLS groups (src/mls/, RFC 9420) whose members are Sotto accounts
 * (docs/CLIENT.md "Groups", docs/PROTOCOL.md "Groups"). Not a public API yet: the
 * network calls (src/client/group_net.c) and the front ends build on it.
 *
 * Each device has one MLS signature key, attested by the account's identity key in a
 * Sotto credential (mls/credential.h); its KeyPackages carry that credential. A member's
 * credential is checked against our contacts: its identity key must be the one we know
 * for its address (enum client_member_trust), so safety numbers and key-change warnings
 * cover groups. The group state lives in the store (table groups, sealed), loaded and
 * written back by every call here, each write with store_group_put: inside the caller's
 * store transaction when there is one (store_begin), so that the caller can make "state
 * advanced, message stored" one step before it acknowledges to the server.
 *
 * The functions that create a message return its bytes for the caller to hand to the
 * delivery service; the state has already moved on. A Commit of ours is applied when made
 * and the state before it kept until client_group_commit_done says whether the delivery
 * service accepted it (or a message of the new epoch shows that the group did); while
 * one is pending, another Commit of ours is SOTTO_ERR_STATE.
 */
#ifndef SOTTO_CLIENT_GROUP_H
#define SOTTO_CLIENT_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "client/store.h"
#include "sotto/sotto.h"
#include "wire/proto_group.h"

#define CLIENT_GROUP_ID_LEN 16                  /* random, chosen by the creator */
#define CLIENT_DEVICE_ID 1                      /* one device per account, for now */
#define CLIENT_KP_LIFETIME (90u * 86400)        /* a KeyPackage's validity, seconds */
#define CLIENT_KP_BACKDATE 3600                 /* not_before this far back: clock skew */
#define CLIENT_GROUP_MESSAGE_MAX (1u << 20)     /* one MLSMessage we accept (MLS_MESSAGE_MAX) */

struct sotto;

/* A member's identity key against what we know of its address. */
enum client_member_trust {
	CLIENT_MEMBER_SELF = 0,         /* our account (this device or another of ours) */
	CLIENT_MEMBER_VERIFIED = 1,     /* a contact, the same key, safety number compared */
	CLIENT_MEMBER_KNOWN = 2,        /* a contact, the same key, not verified */
	CLIENT_MEMBER_UNKNOWN = 3,      /* not a contact: only the credential vouches for the key */
	CLIENT_MEMBER_CHANGED = 4,      /* a contact whose key is another one (unverified) */
	CLIENT_MEMBER_BLOCKED = 5,      /* a verified contact whose key is another one */
};

struct client_group_member {
	uint32_t leaf;
	char address[STORE_ADDR_MAX + 1];
	uint8_t identity_key[32];
	uint32_t device_id;
	uint8_t signature_key[32];          /* the leaf's MLS signature key */
	enum client_member_trust trust;
	int left;                           /* a Commit's removed: at its own request */
};

struct client_group_members {
	struct client_group_member *v;
	size_t n;
};

enum client_group_event_type {
	CLIENT_GROUP_JOINED = 1,        /* a Welcome: we are in a group (added: its members) */
	CLIENT_GROUP_MESSAGE = 2,       /* a text or a mail's part from a member */
	CLIENT_GROUP_INFO = 3,          /* a member set the group's name or timer */
	CLIENT_GROUP_COMMIT = 4,        /* the next epoch: members added, removed, renewed */
	CLIENT_GROUP_REMOVED = 5,       /* a Commit removed us: we read nothing after it */
	CLIENT_GROUP_PROPOSAL = 6,      /* a proposal kept for the next Commit */
	CLIENT_GROUP_FILE = 7,          /* a file from a member (body: its FILE content) */
};

/* Warnings on an event (bits). */
#define CLIENT_GROUP_WARN_KEY_CHANGED (1u << 0)   /* a member's key is not its contact's */
#define CLIENT_GROUP_WARN_UNKNOWN (1u << 1)       /* a member is not a contact yet */

struct client_group_event {
	enum client_group_event_type type;
	uint8_t group_id[STORE_GROUP_ID_MAX];
	size_t group_id_len;
	char name[STORE_GROUP_NAME_MAX + 1];    /* the group's name after the event */
	char sender[STORE_ADDR_MAX + 1];        /* the member who sent it (COMMIT, REMOVED:
	                                           who committed; JOINED: who added us) */
	uint8_t msg_id[STORE_MSGID_LEN];        /* MESSAGE, INFO */
	uint64_t sent_ms;                       /* MESSAGE, INFO: the sender's clock */
	uint32_t expiry;                        /* the group's timer after the event, seconds */
	char old_name[STORE_GROUP_NAME_MAX + 1];/* INFO: the name before ("" if unknown) */
	uint32_t old_expiry;                    /* INFO: the timer before */
	uint8_t *body;                          /* MESSAGE: the text, FILE: the FILE content
	                                           (secret, malloc'd) */
	size_t body_len;
	int mail;                               /* MESSAGE: body is a mail's part */
	struct client_group_members added;      /* JOINED, COMMIT */
	struct client_group_members removed;    /* COMMIT */
	int leave_request;                      /* PROPOSAL: the sender asks to be removed */
	unsigned warnings;                      /* CLIENT_GROUP_WARN_* over the members named */
};

void client_group_event_free(struct client_group_event *ev);
void client_group_members_free(struct client_group_members *m);

/* This device's MLS signature key (made and stored on first use; setting "mls_signer")
 * and its Sotto credential. */
struct client_signer {
	uint8_t sec[64];                        /* SECRET: libsodium's Ed25519 key */
	uint32_t device_id;
	uint8_t cred[STORE_ADDR_MAX + 128];     /* the credential's identity bytes */
	size_t cred_len;
};
int client_signer_load(struct sotto *s, struct client_signer *out) SOTTO_MUST_CHECK;
/* A write transaction of ours, or the caller's if it holds one (*own = 0); end commits
 * ours when r is 0 and rolls it back otherwise, and returns r or the commit's error. */
int client_tx_begin(struct sotto *s, int *own) SOTTO_MUST_CHECK;
int client_tx_end(struct sotto *s, int own, int r) SOTTO_MUST_CHECK;
void client_signer_wipe(struct client_signer *sg);

/* A new KeyPackage of ours (bare, as RFC 9420 10 defines it) into out, its private keys
 * stored (until a Welcome uses it; a last-resort one is kept after that too). */
int client_key_package_new(struct sotto *s, int last_resort, struct buf *out) SOTTO_MUST_CHECK;

/* Deletes our KeyPackages whose lifetime is over (nobody can add us with them any more),
 * their private keys with them; returns how many, or an error. */
int client_key_packages_prune(struct sotto *s) SOTTO_MUST_CHECK;

/* A new group of one with a random id (out, CLIENT_GROUP_ID_LEN bytes) and our name for it
 * (1..STORE_GROUP_NAME_MAX bytes, no NUL). */
int client_group_create(struct sotto *s, const char *name,
    uint8_t id[CLIENT_GROUP_ID_LEN]) SOTTO_MUST_CHECK;

/* Adds the members whose KeyPackages are given (bare or as MLSMessages): each one's
 * signatures, lifetime and credential are checked, and its identity key against our
 * contacts (SOTTO_ERR_UNTRUSTED_IDENTITY for a verified contact whose key is another;
 * SOTTO_ERR_BAD_SIGNATURE, SOTTO_ERR_PROTOCOL for a bad KeyPackage or credential), then
 * one Commit. commit goes to the group, welcome to the new members, and info (the
 * group's name and timer, an application message of the new epoch) to the group after
 * the Commit, so that the new members learn the name. */
int client_group_add(struct sotto *s, const uint8_t *id, size_t id_len,
    const uint8_t *const *kps, const size_t *kp_lens, size_t n, struct buf *commit,
    struct buf *welcome, struct buf *info) SOTTO_MUST_CHECK;

/* Removes every leaf of address (SOTTO_ERR_NOT_FOUND if it has none; SOTTO_ERR_INVALID_ARG
 * for our own address: leave instead) with one Commit. */
int client_group_remove(struct sotto *s, const uint8_t *id, size_t id_len, const char *address,
    struct buf *commit) SOTTO_MUST_CHECK;

/* Leaving: a proposal to remove our leaf, for the group; the next Commit by another
 * member removes us (members commit such a request at once, client_group_commit_pending).
 * The group is marked STORE_GROUP_LEAVING until then. */
int client_group_leave(struct sotto *s, const uint8_t *id, size_t id_len,
    struct buf *proposal) SOTTO_MUST_CHECK;

/* The delivery service's answer to our pending Commit: accepted, the state before it is
 * dropped; refused (another Commit took the epoch), the group goes back to the epoch before
 * it, as though we had never committed (drop the Commit, its Welcome and any message made
 * after it; process the other Commit, then commit again). SOTTO_ERR_NOT_FOUND if none is
 * pending. */
int client_group_commit_done(struct sotto *s, const uint8_t *id, size_t id_len,
    int accepted) SOTTO_MUST_CHECK;

/* A Commit of every proposal we hold for this epoch (a member's request to leave). */
int client_group_commit_pending(struct sotto *s, const uint8_t *id, size_t id_len,
    struct buf *commit) SOTTO_MUST_CHECK;

/* An empty Commit (RFC 9420 12.4: no proposals, an UpdatePath: fresh keys of ours), as
 * client_group_add's: the delivery service registers the group token of the epoch it makes
 * (a group made before group tokens has none, docs/PROTOCOL.md 14.6). */
int client_group_commit_empty(struct sotto *s, const uint8_t *id, size_t id_len,
    struct buf *commit) SOTTO_MUST_CHECK;

/* Sets the group's name (NULL: unchanged) and disappearing-message timer (seconds, at most
 * SOTTO_EXPIRY_MAX) for every member: out is the application message to send. */
int client_group_set_info(struct sotto *s, const uint8_t *id, size_t id_len, const char *name,
    uint32_t expiry, struct buf *out) SOTTO_MUST_CHECK;

/* A text (1..SOTTO_TEXT_MAX bytes), or with mail set a mail's part, to the group: out is
 * the application message, msg_id (may be NULL) its id. SOTTO_ERR_STATE if we are no
 * longer a member. */
int client_group_send(struct sotto *s, const uint8_t *id, size_t id_len, int mail,
    const uint8_t *text, size_t len, uint8_t msg_id[STORE_MSGID_LEN], struct buf *out)
    SOTTO_MUST_CHECK;
/* The same for a content of any type (group_content.h): GROUP_CONTENT_TEXT or _MAIL (1..
 * SOTTO_TEXT_MAX bytes), or GROUP_CONTENT_FILE (a FILE content). */
int client_group_send_type(struct sotto *s, const uint8_t *id, size_t id_len, uint8_t type,
    const uint8_t *text, size_t len, uint8_t msg_id[STORE_MSGID_LEN], struct buf *out)
    SOTTO_MUST_CHECK;

/* One MLSMessage from the delivery service: a Welcome (for one of our KeyPackages), or a
 * Commit, proposal or application message of a group of ours. ev says what happened
 * (free it with client_group_event_free). SOTTO_ERR_REPLAY or SOTTO_ERR_STATE (a message
 * of an epoch we are past, e.g. a redelivery): nothing changed, drop it. A Commit whose
 * new members' credentials do not verify is refused and the group stays where it was. */
int client_group_receive(struct sotto *s, const uint8_t *msg, size_t len,
    struct client_group_event *ev) SOTTO_MUST_CHECK;

/* The group a user means by name: its id in hex (2 * CLIENT_GROUP_ID_LEN digits, any
 * case), or its name as the members see it. id (STORE_GROUP_ID_MAX bytes) and *id_len
 * receive the id. SOTTO_ERR_NOT_FOUND if no group has that id or name; SOTTO_ERR_EXISTS if
 * several groups have that name (use the id); groups that removed us count too. */
int client_group_find(struct sotto *s, const char *name, uint8_t *id, size_t *id_len)
    SOTTO_MUST_CHECK;

/* The group's current epoch (after a Commit of ours, the epoch it made: the delivery
 * service wants the one before, the epoch it was made in). */
int client_group_epoch(struct sotto *s, const uint8_t *id, size_t id_len, uint64_t *epoch)
    SOTTO_MUST_CHECK;

/* The group token of our current epoch (docs/PROTOCOL.md 14.6: MLS-Exporter("sotto group
 * token", group_id, 32)), SECRET, and that epoch; after a Commit of ours not yet accepted,
 * the epoch it makes. */
int client_group_token(struct sotto *s, const uint8_t *id, size_t id_len, uint64_t *epoch,
    uint8_t token[PROTO_GROUP_TOKEN_LEN]) SOTTO_MUST_CHECK;
/* Its verifier, which GROUP_CREATE and GROUP_COMMIT register with the delivery service. */
int client_group_verifier(struct sotto *s, const uint8_t *id, size_t id_len,
    uint8_t verifier[PROTO_GROUP_TOKEN_LEN]) SOTTO_MUST_CHECK;

/* The members now, by leaf, with their trust against our contacts. */
int client_group_members(struct sotto *s, const uint8_t *id, size_t id_len,
    struct client_group_members *out) SOTTO_MUST_CHECK;

/* group_member.c: a leaf's credential verified and its identity key compared with our
 * contacts into m (SOTTO_ERR_BAD_SIGNATURE, SOTTO_ERR_UNSUPPORTED, SOTTO_ERR_BAD_ADDRESS
 * for an address not in its one spelling). */
struct mls_leaf_node;
struct mls_ratchet_tree;
int client_group_member_of_leaf(struct sotto *s, const struct mls_leaf_node *ln, uint32_t leaf,
    struct client_group_member *m) SOTTO_MUST_CHECK;
/* Every member of t (all credentials must verify). */
int client_group_members_of_tree(struct sotto *s, const struct mls_ratchet_tree *t,
    struct client_group_members *out) SOTTO_MUST_CHECK;
/* The members of after that are not in before (by leaf, signature key and credential)
 * into added, and those of before not in after into removed. */
int client_group_members_diff(const struct client_group_members *before,
    const struct client_group_members *after, struct client_group_members *added,
    struct client_group_members *removed) SOTTO_MUST_CHECK;
/* The warnings (CLIENT_GROUP_WARN_*) that members m call for. */
unsigned client_group_members_warnings(const struct client_group_members *m);

#endif
