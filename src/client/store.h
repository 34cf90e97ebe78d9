/*
 * The client's encrypted local store: one SQLite file (store.db) in the client's home
 * directory. Every sensitive value is sealed with XChaCha20-Poly1305 under a random data
 * key; the data key is wrapped under a key derived with Argon2id from the passphrase.
 * Rows are found through keyed BLAKE2b hashes, never through an address in clear.
 * docs/STORE.md describes the file format and what is and is not encrypted.
 *
 * Every write is one transaction (or part of the caller's, see store_begin), committed
 * with WAL and synchronous=FULL: once a function returned 0 its write survives a SIGKILL
 * or a power loss. A stored record that fails authentication or decoding gives
 * SOTTO_ERR_CORRUPT. A struct store is not thread safe; one per thread.
 *
 * Structures returned to the caller may hold secrets (marked); wipe them with the
 * matching *_wipe or *_free function.
 */
#ifndef SOTTO_CLIENT_STORE_H
#define SOTTO_CLIENT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"
#include "sotto/limits.h"

#define STORE_FILE_NAME "store.db"
#define STORE_ADDR_MAX SOTTO_ADDRESS_MAX
#define STORE_SERVER_MAX SOTTO_SERVER_ADDRESS_MAX
#define STORE_PASSPHRASE_MAX SOTTO_PASSPHRASE_MAX
#define STORE_MSGID_LEN SOTTO_ID_LEN
#define STORE_KEY_LEN 32
#define STORE_TOKEN_LEN 32              /* a delivery token (= PROTO_TOKEN_LEN) */
#define STORE_SIGN_SK_LEN 64
#define STORE_SIG_LEN 64
#define STORE_PWHASH_MAX 128            /* crypto_pwhash_STRBYTES */
#define STORE_SESSION_MAX (8u << 20)    /* serialized ratchet state, skipped keys included */
#define STORE_MAIL_MAX (32u << 20)      /* one mail in a folder (the bridge takes 25 MiB) */
/* A message body in the history: a received mail is one history entry (schema 5). */
#define STORE_BODY_MAX STORE_MAIL_MAX
#define STORE_ENVELOPE_MAX (1u << 20)   /* sealed envelope in the outbox */
#define STORE_SETTING_NAME_MAX 64
#define STORE_SETTING_MAX (64u << 10)
#define STORE_FOLDER_NAME_MAX 255
#define STORE_GROUP_ID_MAX 256          /* an MLS group id (MLS_GROUP_ID_MAX) */
#define STORE_GROUP_NAME_MAX 256        /* the group's name as its members see it */
#define STORE_GROUP_STATE_MAX (16u << 20)   /* a member's MLS group state (MLS_GROUP_STATE_MAX) */
#define STORE_KEY_PACKAGE_MAX (64u << 10)   /* one KeyPackage of ours */
#define STORE_KP_REF_LEN 32             /* KeyPackageRef, SHA-256 */

struct store;

/* Argon2id cost for a new store or a new passphrase. The cost is stored in the file, so
 * opening never needs this. STORE_KDF_TEST_MIN is the library's minimum: tests only. */
enum store_kdf_level {
	STORE_KDF_INTERACTIVE = 0,
	STORE_KDF_MODERATE = 1,
	STORE_KDF_TEST_MIN = 2,
};

/* Fills out with "$HOME/.sotto". */
int store_default_dir(char *out, size_t cap);

/*
 * Creates dir (mode 0700; an existing dir we own is set to 0700) and a new store in it,
 * under the passphrase. SOTTO_ERR_EXISTS if a store is already there.
 */
int store_create(const char *dir, const uint8_t *pass, size_t pass_len,
    enum store_kdf_level level, struct store **out) SOTTO_MUST_CHECK;

/*
 * Opens an existing store. SOTTO_ERR_NOT_FOUND: no store in dir; SOTTO_ERR_PASSPHRASE:
 * wrong passphrase; SOTTO_ERR_AUTH: the directory or a file is not owned by us or is
 * accessible to group or others (we refuse rather than fix: something already went
 * wrong); SOTTO_ERR_BAD_VERSION: a newer schema; SOTTO_ERR_CORRUPT: not a valid store.
 */
int store_open(const char *dir, const uint8_t *pass, size_t pass_len,
    struct store **out) SOTTO_MUST_CHECK;

/* Checkpoints the WAL, wipes the keys, closes. NULL is allowed. */
void store_close(struct store *st);

/* Rewraps the data key under a new passphrase (records are not re-encrypted). */
int store_change_passphrase(struct store *st, const uint8_t *pass, size_t pass_len,
    enum store_kdf_level level) SOTTO_MUST_CHECK;

/* Group several writes into one atomic transaction. Without these, each call is its own
 * transaction. Nested begin is SOTTO_ERR_STATE. */
int store_begin(struct store *st) SOTTO_MUST_CHECK;
int store_commit(struct store *st) SOTTO_MUST_CHECK;
void store_rollback(struct store *st);

/* Copies everything from the WAL into the main file and truncates the WAL. */
int store_checkpoint(struct store *st);

/* ---- identity: one row ---- */

enum store_reg_state {
	STORE_REG_NONE = 0,         /* keys created, not registered */
	STORE_REG_REGISTERED = 1,   /* the server accepted us */
};

struct store_identity {
	char address[STORE_ADDR_MAX + 1];
	char server[STORE_SERVER_MAX + 1];
	uint8_t reg_state;
	uint8_t identity_pk[STORE_KEY_LEN];         /* Ed25519 */
	uint8_t identity_sk[STORE_SIGN_SK_LEN];     /* secret */
	uint8_t device_pk[STORE_KEY_LEN];           /* X25519, Noise static */
	uint8_t device_sk[STORE_KEY_LEN];           /* secret */
	char bridge_pw_hash[STORE_PWHASH_MAX + 1];  /* crypto_pwhash_str output, or "" */
};

int store_identity_put(struct store *st, const struct store_identity *id) SOTTO_MUST_CHECK;
/* SOTTO_ERR_NOT_FOUND before the first put. */
int store_identity_get(struct store *st, struct store_identity *out) SOTTO_MUST_CHECK;
void store_identity_wipe(struct store_identity *id);

/* ---- prekeys ---- */

struct store_spk {
	uint32_t id;
	uint64_t created;                   /* unix seconds, for rotation */
	uint8_t pk[STORE_KEY_LEN];
	uint8_t sk[STORE_KEY_LEN];          /* secret */
	uint8_t sig[STORE_SIG_LEN];
};

int store_spk_put(struct store *st, const struct store_spk *spk) SOTTO_MUST_CHECK;
int store_spk_get(struct store *st, uint32_t id, struct store_spk *out) SOTTO_MUST_CHECK;
/* The most recently created signed prekey; SOTTO_ERR_NOT_FOUND if none. */
int store_spk_latest(struct store *st, struct store_spk *out) SOTTO_MUST_CHECK;
/* Deletes signed prekeys created before `before`, always keeping the latest. */
int store_spk_prune(struct store *st, uint64_t before) SOTTO_MUST_CHECK;
void store_spk_wipe(struct store_spk *spk);

/* One-time prekeys: private halves by id. Ids handed out by store_prekey_next_id never
 * repeat, even after deletes. */
int store_otpk_put(struct store *st, uint32_t id, const uint8_t pk[STORE_KEY_LEN],
    const uint8_t sk[STORE_KEY_LEN]) SOTTO_MUST_CHECK;
int store_otpk_get(struct store *st, uint32_t id, uint8_t pk[STORE_KEY_LEN],
    uint8_t sk[STORE_KEY_LEN]) SOTTO_MUST_CHECK;
int store_otpk_delete(struct store *st, uint32_t id) SOTTO_MUST_CHECK;
int store_otpk_count(struct store *st, uint32_t *out) SOTTO_MUST_CHECK;

/* The public halves, by ascending id (to upload again after a failed upload). */
struct store_otpk_public {
	uint32_t id;
	uint8_t pk[STORE_KEY_LEN];
};
struct store_otpk_list {
	struct store_otpk_public *v;
	size_t n;
};
int store_otpk_list(struct store *st, struct store_otpk_list *out) SOTTO_MUST_CHECK;
void store_otpk_list_free(struct store_otpk_list *l);

/*
 * Signed ML-KEM-768 prekeys (PQXDH): one-time ones, deleted after first use, and
 * last-resort ones, replaced when the signed prekey rotates and kept for the same grace
 * period. The secret is the 2400-byte decapsulation key (which holds the encapsulation
 * key; kept whole rather than as its 64-byte seed so that a session setup need not run
 * key generation again); sig is the identity key's signature (crypto/kem_prekey.h).
 */
#define STORE_KEM_DK_LEN 2400
#define STORE_KEM_EK_OFFSET 1152                /* where dk holds ek (FIPS 203) */
struct store_kem_prekey {
	uint32_t id;
	int last_resort;
	uint64_t created;                       /* unix seconds */
	uint8_t dk[STORE_KEM_DK_LEN];           /* secret */
	uint8_t sig[STORE_SIG_LEN];
};

int store_kem_prekey_put(struct store *st, const struct store_kem_prekey *k) SOTTO_MUST_CHECK;
int store_kem_prekey_get(struct store *st, uint32_t id, struct store_kem_prekey *out)
    SOTTO_MUST_CHECK;
/* Deletes a one-time ML-KEM prekey; SOTTO_ERR_NOT_FOUND if there is no one-time key of
 * that id (a last-resort one is kept). */
int store_kem_prekey_use(struct store *st, uint32_t id) SOTTO_MUST_CHECK;
/* The most recent last-resort ML-KEM prekey; SOTTO_ERR_NOT_FOUND if none. */
int store_kem_last_resort_latest(struct store *st, struct store_kem_prekey *out)
    SOTTO_MUST_CHECK;
/* Deletes last-resort ML-KEM prekeys created before `before`, keeping the latest. */
int store_kem_last_resort_prune(struct store *st, uint64_t before) SOTTO_MUST_CHECK;
int store_kem_prekey_count(struct store *st, uint32_t *onetime) SOTTO_MUST_CHECK;
void store_kem_prekey_wipe(struct store_kem_prekey *k);

enum store_prekey_kind {
	STORE_PREKEY_SIGNED = 0,
	STORE_PREKEY_ONETIME = 1,
	STORE_PREKEY_KEM = 2            /* one id space for one-time and last-resort ones */
};
/* Reserves n consecutive fresh ids and returns the first (ids start at 1). */
int store_prekey_next_id(struct store *st, enum store_prekey_kind kind, uint32_t n,
    uint32_t *first) SOTTO_MUST_CHECK;

/* ---- contacts and sessions ---- */

enum store_trust {
	STORE_TRUST_OK = 0,         /* first use, or accepted */
	STORE_TRUST_CHANGED = 1,    /* key changed while unverified: show a notice */
	STORE_TRUST_BLOCKED = 2,    /* key changed after verification: refuse to send */
};

struct store_contact {
	char address[STORE_ADDR_MAX + 1];
	uint8_t identity_pk[STORE_KEY_LEN];
	uint8_t verified;           /* 1 once the safety number was compared */
	uint8_t trust;              /* enum store_trust */
	uint64_t first_seen;        /* unix seconds */
	uint64_t changed_at;        /* last identity key change, 0 if never */
	uint32_t expiry_seconds;    /* disappearing-message timer, 0 = off */
	uint64_t send_seq;          /* next sequence number we send */
	uint64_t recv_seq;          /* highest sequence number received */
	/* Delivery tokens (docs/PROTOCOL.md 7.0); records written before have none. */
	uint8_t token_state;        /* enum store_token_state: the contact's token we hold */
	uint8_t token[STORE_TOKEN_LEN];     /* the contact's delivery token (secret) */
	uint64_t token_seq;         /* the sequence number of the content that carried it */
	uint32_t token_given;       /* the generation of our own token the contact was given */
};

enum store_token_state {
	STORE_TOKEN_NONE = 0,       /* send identified */
	STORE_TOKEN_OK = 1,         /* send sealed with it */
	STORE_TOKEN_STALE = 2       /* the server refused it: identified until a new one comes */
};

struct store_contact_list {
	struct store_contact *v;
	size_t n;
};

/* Forgets the contact's token and what it was given of ours (a new identity). */
void store_contact_token_reset(struct store_contact *c);
/* Inserts or replaces the contact with this address. */
int store_contact_put(struct store *st, const struct store_contact *c) SOTTO_MUST_CHECK;
int store_contact_get(struct store *st, const char *address,
    struct store_contact *out) SOTTO_MUST_CHECK;
int store_contact_delete(struct store *st, const char *address) SOTTO_MUST_CHECK;
/* All contacts, sorted by address. */
int store_contact_list(struct store *st, struct store_contact_list *out) SOTTO_MUST_CHECK;
void store_contact_list_free(struct store_contact_list *l);

/* The serialized session state (opaque here) for a contact. Secret. */
int store_session_put(struct store *st, const char *address, const uint8_t *state,
    size_t len) SOTTO_MUST_CHECK;
/* *state is malloc'd; free it with store_blob_free. */
int store_session_get(struct store *st, const char *address, uint8_t **state,
    size_t *len) SOTTO_MUST_CHECK;
int store_session_delete(struct store *st, const char *address) SOTTO_MUST_CHECK;
/* Wipes and frees a blob returned by the store. */
void store_blob_free(uint8_t *p, size_t len);

/* ---- messages ---- */

enum store_dir { STORE_DIR_IN = 1, STORE_DIR_OUT = 2 };
enum store_msg_type {
	STORE_MSG_TEXT = 1,
	STORE_MSG_MAIL = 2,
	STORE_MSG_RECEIPT = 3,
	STORE_MSG_FILE = 4,             /* body: the encoded FILE content (client/file_transfer.h) */
	STORE_MSG_GROUP_EVENT = 5,      /* a group's change: body as client/group_note.h encodes it */
};
enum store_msg_flag {
	STORE_FLAG_DELIVERED = 1u << 0,
	STORE_FLAG_READ = 1u << 1,
	STORE_FLAG_KEY_CHANGED = 1u << 2,   /* arrived after the sender's key changed */
	STORE_FLAG_GAP_BEFORE = 1u << 3,    /* sequence numbers missing before this one */
	STORE_FLAG_SENT = 1u << 4,          /* the server acknowledged our send */
	STORE_FLAG_FAILED = 1u << 5,        /* our send was refused for good, never sent */
	STORE_FLAG_UNREADABLE = 1u << 6,    /* ours; its recipient could not decrypt it */
};

struct store_message {
	int64_t row;                /* local order, set by the store */
	char peer[STORE_ADDR_MAX + 1];
	uint8_t id[STORE_MSGID_LEN];
	uint8_t dir;                /* enum store_dir */
	uint8_t type;               /* enum store_msg_type */
	uint32_t flags;             /* enum store_msg_flag */
	uint64_t seq;               /* the sender's sequence number */
	uint64_t server_time;       /* unix seconds, 0 if unknown */
	uint64_t local_time;        /* unix seconds */
	uint64_t expires_at;        /* unix seconds, 0 = never */
	uint64_t sent_ms;           /* ours: the server's receive time of our send (the
	                             * timestamp of its SEND answer), unix ms; 0 if unknown */
	uint8_t *body;              /* secret; owned by the struct when returned */
	size_t body_len;
	uint8_t group[STORE_GROUP_ID_MAX];  /* a group message: the group's id */
	size_t group_len;           /* 0: a message of a 1:1 conversation */
};

struct store_message_list {
	struct store_message *v;
	size_t n;
};

/*
 * Stores a message and records its id as seen, in one transaction. SOTTO_ERR_EXISTS if
 * the id was seen before (a duplicate: nothing is written). m->row is ignored.
 */
int store_message_add(struct store *st, const struct store_message *m) SOTTO_MUST_CHECK;
/* The same, giving the row it was stored in (*row may be NULL). */
int store_message_add_row(struct store *st, const struct store_message *m,
    int64_t *row) SOTTO_MUST_CHECK;
/* *out's body is malloc'd: free with store_message_wipe. */
int store_message_get(struct store *st, const uint8_t id[STORE_MSGID_LEN],
    struct store_message *out) SOTTO_MUST_CHECK;
int store_message_update(struct store *st, const uint8_t id[STORE_MSGID_LEN],
    uint32_t flags, uint64_t expires_at) SOTTO_MUST_CHECK;
/* Records when the server took our message id (sent_ms, its SEND answer's timestamp). */
int store_message_set_sent(struct store *st, const uint8_t id[STORE_MSGID_LEN],
    uint64_t sent_ms) SOTTO_MUST_CHECK;
/* The id of our message to peer that the server took at sent_ms, newest first;
 * SOTTO_ERR_NOT_FOUND if none. Reads the conversation back to its start: for the rare
 * decryption-failure receipt (PROTOCOL.md 7.1), not for every message. */
int store_message_find_sent(struct store *st, const char *peer, uint64_t sent_ms,
    uint8_t id[STORE_MSGID_LEN]) SOTTO_MUST_CHECK;
/* Messages with peer (NULL: all) whose row is > after_row, oldest first, at most max. */
int store_message_list(struct store *st, const char *peer, int64_t after_row, size_t max,
    struct store_message_list *out) SOTTO_MUST_CHECK;
/* The newest max messages with peer (NULL: all) whose row is < before_row (0: no bound),
 * oldest first. */
int store_message_list_before(struct store *st, const char *peer, int64_t before_row,
    size_t max, struct store_message_list *out) SOTTO_MUST_CHECK;
void store_message_wipe(struct store_message *m);
void store_message_list_free(struct store_message_list *l);

/* Deletes every message whose expires_at is in (0, now], then checkpoints with a WAL
 * truncate so the deleted bytes are gone from both files (secure_delete zeroes them). */
int store_expire(struct store *st, uint64_t now, size_t *deleted) SOTTO_MUST_CHECK;

/* Seen ids outlive their messages so a redelivery after expiry is still dropped.
 * store_seen_has returns 1 if seen, 0 if not, or a negative error. */
int store_seen_has(struct store *st, const uint8_t id[STORE_MSGID_LEN]) SOTTO_MUST_CHECK;
/* SOTTO_ERR_EXISTS if already seen. */
int store_seen_add(struct store *st, const uint8_t id[STORE_MSGID_LEN],
    uint64_t now) SOTTO_MUST_CHECK;

/* ---- outbox: sends not yet acknowledged by the server ---- */

/*
 * envelope[0] is the item's kind: a ratchet message type (E2E_SESSION_MSG_NORMAL or
 * E2E_SESSION_MSG_PREKEY, the ratchet message follows), or STORE_OUTBOX_CONTENT: an encoded
 * content (client/content.h) sent while there was no session with the recipient and the
 * server could not be reached for a prekey bundle; it is encrypted once there is one.
 */
#define STORE_OUTBOX_CONTENT 0

struct store_outbox_item {
	uint8_t id[STORE_MSGID_LEN];
	char recipient[STORE_ADDR_MAX + 1];
	uint64_t created;
	uint32_t attempts;
	uint8_t *envelope;          /* malloc'd; secret for STORE_OUTBOX_CONTENT */
	size_t envelope_len;
};

struct store_outbox_list {
	struct store_outbox_item *v;
	size_t n;
};

/* SOTTO_ERR_EXISTS if this id is already queued. */
int store_outbox_add(struct store *st, const uint8_t id[STORE_MSGID_LEN],
    const char *recipient, const uint8_t *env, size_t env_len,
    uint64_t now) SOTTO_MUST_CHECK;
/* Oldest first. */
int store_outbox_list(struct store *st, struct store_outbox_list *out) SOTTO_MUST_CHECK;
int store_outbox_attempt(struct store *st, const uint8_t id[STORE_MSGID_LEN]) SOTTO_MUST_CHECK;
/* SOTTO_ERR_NOT_FOUND if not queued (e.g. a second acknowledgement). */
int store_outbox_remove(struct store *st, const uint8_t id[STORE_MSGID_LEN]) SOTTO_MUST_CHECK;
/* One item; SOTTO_ERR_NOT_FOUND if not queued. Free with store_outbox_item_free. */
int store_outbox_get(struct store *st, const uint8_t id[STORE_MSGID_LEN],
    struct store_outbox_item *out) SOTTO_MUST_CHECK;
void store_outbox_item_free(struct store_outbox_item *it);
/* Replaces a queued item's recipient and envelope, keeping its place in the queue;
 * SOTTO_ERR_NOT_FOUND if not queued. */
int store_outbox_replace(struct store *st, const uint8_t id[STORE_MSGID_LEN],
    const char *recipient, const uint8_t *env, size_t env_len) SOTTO_MUST_CHECK;
/* 1 if the id is queued, 0 if not, or an error. */
int store_outbox_has(struct store *st, const uint8_t id[STORE_MSGID_LEN]) SOTTO_MUST_CHECK;
void store_outbox_list_free(struct store_outbox_list *l);

/* ---- settings: small named values for the client logic (sealed) ---- */

int store_setting_put(struct store *st, const char *name, const uint8_t *v,
    size_t len) SOTTO_MUST_CHECK;
/* *v is malloc'd: free with store_blob_free. */
int store_setting_get(struct store *st, const char *name, uint8_t **v,
    size_t *len) SOTTO_MUST_CHECK;
int store_setting_delete(struct store *st, const char *name) SOTTO_MUST_CHECK;

/* ---- MLS groups and our KeyPackages (docs/STORE.md) ---- */

enum store_group_status {
	STORE_GROUP_MEMBER = 0,         /* in the group */
	STORE_GROUP_LEAVING = 1,        /* we asked to leave; still in until a Commit removes us */
	STORE_GROUP_REMOVED = 2,        /* removed (or left): the state is kept, reads nothing new */
	STORE_GROUP_MISSED = 3,         /* the server dropped entries we had not read: as REMOVED
	                                 * until a member adds us again */
};

struct store_group {
	uint8_t id[STORE_GROUP_ID_MAX];
	size_t id_len;
	char name[STORE_GROUP_NAME_MAX + 1];
	uint32_t expiry_seconds;        /* disappearing-message timer of the group, 0 = off */
	uint8_t status;                 /* enum store_group_status */
	uint64_t created;               /* unix seconds: created or joined */
	uint8_t *state;                 /* secret: the MLS group state; owned when returned */
	size_t state_len;
	uint8_t *prev_state;            /* secret: the state before a Commit of ours that the
	                                 * delivery service has not accepted yet, or NULL */
	size_t prev_state_len;
};

struct store_group_list {
	struct store_group *v;
	size_t n;
};

/* Inserts or replaces the group with this id. */
int store_group_put(struct store *st, const struct store_group *g) SOTTO_MUST_CHECK;
/* *out's states are malloc'd: free with store_group_wipe. */
int store_group_get(struct store *st, const uint8_t *id, size_t id_len,
    struct store_group *out) SOTTO_MUST_CHECK;
int store_group_delete(struct store *st, const uint8_t *id, size_t id_len) SOTTO_MUST_CHECK;
/* Every group, sorted by name then id, without their states (state, prev_state NULL). */
int store_group_list(struct store *st, struct store_group_list *out) SOTTO_MUST_CHECK;
void store_group_wipe(struct store_group *g);
void store_group_list_free(struct store_group_list *l);

/* A KeyPackage of ours and its private keys, kept until a Welcome uses it (a last-resort
 * one is kept after that too). */
struct store_key_package {
	uint8_t ref[STORE_KP_REF_LEN];  /* its KeyPackageRef, the row's key */
	uint8_t last_resort;
	uint64_t created;               /* unix seconds */
	uint8_t init_sec[STORE_KEY_LEN];    /* secret */
	uint8_t enc_sec[STORE_KEY_LEN];     /* secret: its leaf's encryption key */
	uint8_t *kp;                    /* the KeyPackage; owned when returned */
	size_t kp_len;
};

/* SOTTO_ERR_EXISTS if a KeyPackage with this ref is stored. */
int store_key_package_put(struct store *st, const struct store_key_package *k) SOTTO_MUST_CHECK;
int store_key_package_get(struct store *st, const uint8_t ref[STORE_KP_REF_LEN],
    struct store_key_package *out) SOTTO_MUST_CHECK;
int store_key_package_delete(struct store *st, const uint8_t ref[STORE_KP_REF_LEN]) SOTTO_MUST_CHECK;
/* Deletes the KeyPackages (and their private keys) made before `before`; *deleted (may be
 * NULL) receives how many. */
int store_key_package_prune(struct store *st, uint64_t before, size_t *deleted) SOTTO_MUST_CHECK;
/* How many one-time and last-resort KeyPackages are stored. */
int store_key_package_count(struct store *st, uint32_t *one_time,
    uint32_t *last_resort) SOTTO_MUST_CHECK;
void store_key_package_wipe(struct store_key_package *k);

/* ---- mail folders for the IMAP bridge ---- */

enum store_mail_flag {
	STORE_MAIL_SEEN = 1u << 0,
	STORE_MAIL_ANSWERED = 1u << 1,
	STORE_MAIL_FLAGGED = 1u << 2,
	STORE_MAIL_DELETED = 1u << 3,
	STORE_MAIL_DRAFT = 1u << 4,
	STORE_MAIL_RECENT = 1u << 5,
};

struct store_folder {
	int64_t id;
	char name[STORE_FOLDER_NAME_MAX + 1];
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t count;
};

struct store_folder_list {
	struct store_folder *v;
	size_t n;
};

struct store_mail {
	uint32_t uid;
	uint32_t flags;             /* enum store_mail_flag */
	uint64_t internaldate;      /* unix seconds */
	uint32_t size;
};

struct store_mail_list {
	struct store_mail *v;
	size_t n;
};

/* SOTTO_ERR_EXISTS if a folder has that name. uidnext starts at 1. */
int store_folder_create(struct store *st, const char *name, uint32_t uidvalidity,
    struct store_folder *out) SOTTO_MUST_CHECK;
int store_folder_get(struct store *st, const char *name,
    struct store_folder *out) SOTTO_MUST_CHECK;
/* The folder's id, creating it with a random UIDVALIDITY the first time (another process
 * may create it at the same moment: then theirs). */
int store_folder_ensure(struct store *st, const char *name, int64_t *id) SOTTO_MUST_CHECK;
/* Sorted by name. */
int store_folder_list(struct store *st, struct store_folder_list *out) SOTTO_MUST_CHECK;
int store_folder_delete(struct store *st, int64_t folder) SOTTO_MUST_CHECK;
void store_folder_list_free(struct store_folder_list *l);

/* Appends a mail under the folder's next uid, returned in *uid. */
int store_mail_append(struct store *st, int64_t folder, uint32_t flags,
    uint64_t internaldate, const uint8_t *body, size_t len, uint32_t *uid) SOTTO_MUST_CHECK;
/* Appends the received mail that is the body of history row msg (len bytes) without a
 * second copy: the folder's row refers to the history entry (schema 5), and goes with it
 * (a disappearing message). */
int store_mail_append_msg(struct store *st, int64_t folder, uint32_t flags,
    uint64_t internaldate, int64_t msg, size_t len, uint32_t *uid) SOTTO_MUST_CHECK;
/* Copies mail uid of folder from to folder to under to's next uid (*new_uid); a mail that
 * refers to a history entry is copied as the reference. */
int store_mail_copy(struct store *st, int64_t from, uint32_t uid, int64_t to,
    uint32_t *new_uid) SOTTO_MUST_CHECK;
/* Metadata of every mail in the folder, by ascending uid. */
int store_mail_list(struct store *st, int64_t folder,
    struct store_mail_list *out) SOTTO_MUST_CHECK;
/* *body is malloc'd: free with store_blob_free. */
int store_mail_get(struct store *st, int64_t folder, uint32_t uid, struct store_mail *meta,
    uint8_t **body, size_t *len) SOTTO_MUST_CHECK;
int store_mail_set_flags(struct store *st, int64_t folder, uint32_t uid,
    uint32_t flags) SOTTO_MUST_CHECK;
/* Deletes mails flagged STORE_MAIL_DELETED; *uids (malloc'd, may be NULL) lists them. A
 * received mail whose last folder row goes leaves the history with it. */
int store_mail_expunge(struct store *st, int64_t folder, uint32_t **uids,
    size_t *n) SOTTO_MUST_CHECK;
void store_mail_list_free(struct store_mail_list *l);

/*
 * Parts of received mails that are not complete yet (schema 5). A part is found by the
 * keyed hash of (peer, mail id, index), the parts of one mail by that of (peer, mail id),
 * so nobody can add to a mail someone else sent. Each holds the part as received (sealed).
 */
struct store_mail_part {
	uint8_t *data;              /* secret; store_mail_part_list_free wipes it */
	size_t len;
};

struct store_mail_part_list {
	struct store_mail_part *v;
	size_t n;
};

/* SOTTO_ERR_EXISTS if that part is there already. */
int store_mail_part_put(struct store *st, const char *peer, const uint8_t *mail_id,
    size_t id_len, uint32_t index, uint64_t received, const uint8_t *part,
    size_t len) SOTTO_MUST_CHECK;
/* The parts of one mail (in no particular order) and their total size. */
int store_mail_part_list(struct store *st, const char *peer, const uint8_t *mail_id,
    size_t id_len, struct store_mail_part_list *out) SOTTO_MUST_CHECK;
/* How many parts of one mail are stored (nothing is opened). */
int store_mail_part_count(struct store *st, const char *peer, const uint8_t *mail_id,
    size_t id_len, uint32_t *n) SOTTO_MUST_CHECK;
int store_mail_part_delete(struct store *st, const char *peer, const uint8_t *mail_id,
    size_t id_len) SOTTO_MUST_CHECK;
/* Deletes the parts received before `before` (unix seconds): a mail its sender gave up. */
int store_mail_part_expire(struct store *st, uint64_t before) SOTTO_MUST_CHECK;
void store_mail_part_list_free(struct store_mail_part_list *l);

/* Another handle of the store from's file, under from's keys (no passphrase, no
 * Argon2id): a second connection for another thread. The file must be at the current
 * schema (from opened it). */
int store_open_again(const struct store *from, struct store **out) SOTTO_MUST_CHECK;
/* The same for the store of an open account (account.c): the mail folders' own handle. */
struct sotto;
int store_open_account(struct sotto *s, struct store **out) SOTTO_MUST_CHECK;
/* How many times this process ran Argon2id on a passphrase (every open, create and
 * passphrase change): the tests' evidence that a process unlocks the store once. */
unsigned long store_kdf_runs(void);

/* SQLite's data_version of this handle: it changes when another connection commits. */
int store_data_version(struct store *st, int64_t *v) SOTTO_MUST_CHECK;

#endif
