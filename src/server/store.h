/*
 * sottod's storage interface: a table of function pointers so that SQLite (store_sqlite.c)
 * and PostgreSQL (store_pg.c) sit behind the same calls. A store handle is used by one
 * thread at a time; the commit writer thread opens its own handle on the same database.
 *
 * Data: accounts (name, identity key, device key), one-time invite tokens (only their
 * BLAKE2b hash is kept), one signed prekey and a stock of one-time prekeys per account
 * (each one handed out once), a last-resort ML-KEM prekey and a stock of one-time ML-KEM
 * prekeys per account (PQXDH), mailboxes of opaque envelopes keyed by (recipient, server
 * envelope id), and idempotency records keyed by (recipient, client message id). No table
 * ties an envelope to the account or device that sent it (docs/SERVER.md "Idempotency").
 */
#ifndef SOTTO_SERVER_STORE_H
#define SOTTO_SERVER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"
#include "sotto/limits.h"

#define SERVER_STORE_KEY_LEN 32
#define STORE_SIG_LEN 64
#define STORE_NAME_MAX 64
#define STORE_CMID_LEN SOTTO_ID_LEN
#define STORE_TOKEN_HASH_LEN 32
#define STORE_GROUP_ID_MAX 64           /* = PROTO_GROUP_ID_MAX */
#define STORE_GROUP_VERIFIER_LEN 32     /* = PROTO_GROUP_TOKEN_LEN: a group token's verifier */
#define STORE_KEY_PACKAGE_MAX 8192      /* = PROTO_KEY_PACKAGE_MAX */
#define STORE_KEM_KEY_LEN 1184          /* ML-KEM-768 encapsulation key */
#define STORE_DOMAIN_MAX 253
/* An invite's lifetime unless its maker says otherwise: 7 days (a literal: the schema
 * migration's SQL spells it). */
#define STORE_INVITE_LIFETIME_DEFAULT 604800
#define STORE_IDEM_LEN 32               /* the key of an idempotency record: store_idem_key */

struct server_store;

struct store_account {
	int64_t id;
	char name[STORE_NAME_MAX + 1];
	uint8_t identity_key[SERVER_STORE_KEY_LEN];  /* Ed25519 public */
	uint8_t device_key[SERVER_STORE_KEY_LEN];    /* X25519 public: the Noise static key */
	int has_delivery;                     /* 0: no SEND_SEALED to it is accepted */
	uint8_t delivery[SERVER_STORE_KEY_LEN];      /* proto_delivery_verifier of its token */
};

struct store_signed_prekey {
	uint32_t id;
	uint8_t key[SERVER_STORE_KEY_LEN];
	uint8_t sig[STORE_SIG_LEN];
};

struct store_prekey {
	uint32_t id;
	uint8_t key[SERVER_STORE_KEY_LEN];
};

/* A signed ML-KEM-768 prekey: one-time, or the account's last-resort one. The server
 * stores what the authenticated owner gives; whoever fetches it checks the signature. */
struct store_kem_prekey {
	uint32_t id;
	uint8_t key[STORE_KEM_KEY_LEN];
	uint8_t sig[STORE_SIG_LEN];
};

/* What prekeys_put adds next to the classical keys. */
struct store_kem_upload {
	const struct store_kem_prekey *last_resort;   /* NULL: keep the stored one */
	const struct store_kem_prekey *onetime;
	size_t n;
};

struct store_bundle {
	struct store_account account;
	struct store_signed_prekey spk;
	int has_otpk;
	struct store_prekey otpk;
	/* A one-time ML-KEM prekey (taken), else the last-resort one (kept), else none. */
	int has_kem;
	int kem_last_resort;
	struct store_kem_prekey kem;
	uint32_t remaining;                   /* prekey_count after this fetch */
};

/* One SEND in a group commit. Inputs are set by the caller; outputs by envelopes_commit. */
struct store_send {
	int64_t recipient;
	/* in: 1 = the recipient already has it (RECEIVED before the commit): keep only the
	 * idempotency record under env_id, no envelope, no mailbox count. */
	int skip_envelope;
	uint8_t cmid[STORE_CMID_LEN];   /* the client's message id, chosen at random */
	const uint8_t *data;
	size_t len;
	uint64_t ts;         /* server receive time, unix milliseconds */
	/* The recipient's quota, checked against counters kept in its account's row, which
	 * the commit reads once per account and writes once per account: no query per SEND.
	 * Nothing names the sender. */
	uint32_t mailbox_max;        /* envelopes waiting in the recipient's mailbox */
	uint64_t mailbox_max_bytes;  /* their bytes; 0: no limit */
	/* out */
	int result;          /* 0, SOTTO_ERR_MAILBOX_FULL, SOTTO_ERR_NOT_FOUND (no such
	                      * recipient) */
	/* in: the id to store it under (> every id used before; 0: the next free one);
	 * out: its id, or the existing one's for a duplicate */
	int64_t env_id;
	int duplicate;       /* 1 when (recipient, cmid) was already stored */
};

struct store_envelope {
	int64_t id;
	uint64_t ts;
	uint8_t *data;       /* owned; free with store_envelopes_free */
	size_t len;
};

/* A RECEIVED envelope: deleted only from its own recipient's mailbox. */
struct store_del {
	int64_t recipient;
	int64_t id;
	/* Optional: the SEND as the loop still holds it (its commit not done yet), so that
	 * the delete need not read them from the envelope's row. known 0: not known. */
	int known;
	size_t len;
	uint8_t cmid[STORE_CMID_LEN];
};

#define STORE_CACHE_KIB_DEFAULT (8 * 1024)

struct store_open_opts {
	int create;          /* 1: create a new database if the file does not exist */
	int durability_full; /* synchronous=FULL (fsync every commit) else NORMAL */
	uint32_t max_pages;  /* 0: unlimited */
	uint32_t cache_kib;  /* page cache of this handle; 0: STORE_CACHE_KIB_DEFAULT */
	/* 1: WAL checkpoints run on a thread of their own instead of inside a commit, so a
	 * group commit's acknowledgements never wait for one (the writer's handle). */
	int checkpoint_thread;
};

/*
 * A LOGIN (docs/PROTOCOL-wire.md): the login generation a device presents and, when it is
 * accepted, the next one the server issued. Per account the store keeps the generation the
 * device last proved it holds (proven), and the range (floor, issued] handed out since;
 * presented is valid if it is proven or in that range. No row: only 0 is valid.
 */
struct store_login {
	int64_t account;     /* in */
	uint64_t presented;  /* in: 0 = the device holds none yet */
	uint64_t next;       /* out: the generation to hold from now on */
	int result;          /* out: 0 or SOTTO_ERR_DEVICE_CLONED */
};

/* One account, for `sottod accounts list`. */
struct store_account_info {
	int64_t id;          /* 0: a name reserved by a reset, not registered again yet */
	char name[STORE_NAME_MAX + 1];
	int64_t created;     /* unix seconds */
	uint64_t envelopes;  /* waiting in its mailbox */
	uint32_t prekeys;    /* one-time prekeys in stock */
};

/* One invite, for `sottod invites list`. Its id is the start of its token's hash: it
 * names the invite without giving away the token. */
#define STORE_INVITE_ID_LEN 6
struct store_invite_info {
	uint8_t id[STORE_INVITE_ID_LEN];
	int64_t created;     /* unix seconds */
	int64_t expires;     /* unix seconds; 0: never */
	int64_t used;        /* the last use, unix seconds; 0: never used */
	int64_t revoked;     /* unix seconds; 0: not revoked */
	uint32_t uses;       /* registrations left */
	char name[STORE_NAME_MAX + 1]; /* "" or the name a reset reserved for it */
};

/* The whole store at a glance, for `sottod status` and the metrics. */
struct store_stats {
	uint64_t accounts;       /* registered */
	uint64_t envelopes;      /* waiting in all mailboxes */
	uint64_t envelope_bytes;
	uint64_t pages;          /* the database's size in pages, free ones included */
	uint64_t free_pages;
	uint64_t page_size;      /* bytes */
};

/* The key of an idempotency record; a cursor with set = 0 is before the first. */
struct store_sent_key {
	uint8_t key[STORE_IDEM_LEN];
	int set;
};

/* Bytes handed to the store (borrowed). */
struct store_blob {
	const uint8_t *p;
	size_t len;
};

/* A KeyPackage directory's answer: the stock of one account. */
struct store_kp_count {
	uint32_t count;                 /* one-time KeyPackages */
	int has_last_resort;
};

/* A claimed KeyPackage (CLAIM_KEY_PACKAGE). */
struct store_kp_claim {
	struct store_account owner;
	uint8_t data[STORE_KEY_PACKAGE_MAX];
	size_t len;
	int last_resort;                /* 1: the last-resort one, which stays */
	struct store_kp_count left;     /* after this claim */
};

enum store_group_op_kind {
	STORE_GROUP_CREATE = 1,         /* a new group, the account its only member */
	STORE_GROUP_COMMIT = 2,         /* the Commit of the group's current epoch */
	STORE_GROUP_MESSAGE = 3,        /* an application message to the group */
	STORE_GROUP_ACK = 4             /* an account read the group up to seq */
};

/* A member to deliver to after a group write (out). */
struct store_group_member {
	int64_t account;
	uint64_t left_seq;              /* 0: a member; else removed by the Commit at this seq */
	int added;                      /* 1: added by this Commit (its Welcome waits) */
};

/* A Welcome of a Commit: data, and the names (local parts) of the accounts it is for. */
struct store_welcome {
	struct store_blob data;
	const char (*to)[STORE_NAME_MAX + 1];
	size_t n_to;
};

/*
 * One group write of a group commit (docs/SERVER.md, "Groups"). Each is checked and
 * applied on its own (a refused one writes nothing) inside the batch's transaction.
 * Who may write is decided by group_authorize in store_sqlite_group.c: a Commit's account
 * must be a current member; a sealed MESSAGE (GROUP_SEND_SEALED, issue 15) names no
 * account and is taken only with the token whose verifier the group's current epoch has
 * (docs/SERVER.md, "Group tokens").
 */
struct store_group_op {
	int kind;                               /* enum store_group_op_kind */
	uint8_t group[STORE_GROUP_ID_MAX];
	size_t group_len;
	int64_t account;                        /* the requesting account (0: sealed) */
	uint64_t ts;                            /* unix milliseconds */
	/* CREATE, COMMIT: the verifier of the group token of the epoch it starts (zeros:
	 * none, no sealed message is taken then); sealed MESSAGE: the verifier of the token
	 * presented */
	uint8_t verifier[STORE_GROUP_VERIFIER_LEN];
	int sealed;                             /* MESSAGE: by group token, not by account */
	/* COMMIT */
	uint64_t epoch;                         /* the epoch it was made in */
	struct store_blob data;                 /* COMMIT: the Commit; MESSAGE: the message */
	const char (*add)[STORE_NAME_MAX + 1];  /* local names */
	size_t n_add;
	const char (*remove)[STORE_NAME_MAX + 1];
	size_t n_remove;
	const struct store_welcome *welcomes;
	size_t n_welcomes;
	/* MESSAGE */
	uint8_t cmid[STORE_CMID_LEN];           /* a retry under the same id is stored once */
	/* ACK */
	uint64_t ack_seq;
	/* limits */
	uint32_t members_max;                   /* current members per group */
	uint32_t groups_max;                    /* groups per account */
	uint32_t log_max;                       /* log entries kept (store_group_log_low) */
	/* out */
	int result;     /* 0, or SOTTO_ERR_UNKNOWN_GROUP, NOT_MEMBER, STALE_EPOCH, EXISTS,
	                 * UNKNOWN_USER, GROUP_FULL (members), TOO_MANY_GROUPS, INVALID_ARG; a sealed
	                 * MESSAGE: AUTH (not the current epoch's token), STALE_EPOCH (the
	                 * previous epoch's: cur_epoch says which is current) */
	int64_t grp;                            /* the store's number for the group */
	uint64_t seq;                           /* the entry's seq */
	uint64_t cur_epoch;                     /* after the op (STALE_EPOCH: the current) */
	int duplicate;                          /* MESSAGE: a retry, stored before as seq */
	struct store_group_member *members;     /* malloc'd: whom to deliver to; free() */
	size_t n_members;
};

/*
 * The group's new low_seq before an entry is appended at next_seq: when the log already
 * holds log_max entries (some member has not read them), the oldest are dropped so that
 * the new one fits (docs/SERVER.md, "Groups": a member behind them is told it missed
 * entries when it next reads). low_seq when there is room.
 */
static inline uint64_t
store_group_log_low(uint64_t next_seq, uint64_t low_seq, uint32_t log_max)
{
	return next_seq - low_seq >= log_max ? next_seq + 1 - log_max : low_seq;
}

/* A membership of an account, as delivery needs it. */
struct store_membership {
	int64_t grp;                            /* the store's number for the group */
	uint8_t group[STORE_GROUP_ID_MAX];
	size_t group_len;
	uint64_t read_seq;                      /* everything up to here is acknowledged */
	uint64_t left_seq;                      /* 0: a member; else the last seq it gets */
	int welcome;                            /* 1: its Welcome is not acknowledged yet */
};

/* A group log entry or a Welcome, for delivery. */
struct store_group_entry {
	int kind;                               /* PROTO_GROUP_* of wire/proto_group.h */
	uint64_t seq;
	uint64_t epoch;
	uint64_t ts;
	uint8_t *data;                          /* owned; store_group_entries_free */
	size_t len;
};

/* A stored blob's record (docs/SERVER.md, "Blobs"): the file DIR/blobs/<hex of hash>. */
#define STORE_BLOB_HASH_LEN 32          /* = PROTO_BLOB_HASH_LEN: SHA-256 */
struct store_blob_rec {
	uint8_t hash[STORE_BLOB_HASH_LEN];
	int64_t owner;                  /* the uploading account: its quota */
	uint64_t size;
	int64_t expires;                /* unix seconds */
	uint32_t left;                  /* BLOB_DONEs still expected; 0: expiry only */
};

/*
 * The key of the idempotency record of a SEND to recipient with client message id cmid:
 * 4 bytes, the cmid's time (its first 48 bits, milliseconds) in units of 2^22 ms (about
 * 70 minutes), so that new records go to the end of the table's B-tree and a sender's
 * clock offset does not show; then 28 bytes of BLAKE2b over a label, the recipient and
 * the cmid. It names no sender, and a record of the same cmid to another recipient has
 * an unrelated key.
 */
void store_idem_key(uint8_t key[STORE_IDEM_LEN], int64_t recipient,
    const uint8_t cmid[STORE_CMID_LEN]);

struct store_ops {
	void (*close)(struct server_store *s);

	/* Creates the account. With token_hash, one use of the invite is consumed in the
	 * same transaction: SOTTO_ERR_INVITE_UNKNOWN if there is no such invite,
	 * SOTTO_ERR_INVITE_USED if it has no use left (a used invite is kept, marked),
	 * SOTTO_ERR_INVITE_EXPIRED if it expired or was revoked. A name reserved by
	 * account_reset takes only the invite made for it, and that invite no other name
	 * (SOTTO_ERR_AUTH). SOTTO_ERR_EXISTS if the name or the device key is taken. */
	int (*account_create)(struct server_store *s, const char *name,
	    const uint8_t identity_key[SERVER_STORE_KEY_LEN], const uint8_t device_key[SERVER_STORE_KEY_LEN],
	    const uint8_t *token_hash, int64_t *id_out);
	int (*account_by_device)(struct server_store *s, const uint8_t device_key[SERVER_STORE_KEY_LEN],
	    struct store_account *out);
	int (*account_by_name)(struct server_store *s, const char *name, struct store_account *out);

	/* An invite good for `uses` registrations until `expires` (unix seconds; 0: never). */
	int (*invite_add)(struct server_store *s, const uint8_t token_hash[STORE_TOKEN_HASH_LEN],
	    int64_t expires, uint32_t uses);
	/* A consistent copy of the whole database, taken while the server runs, into a new
	 * file at path (synced); SOTTO_ERR_EXISTS if path exists. A backend whose database
	 * is backed up with its own tools returns SOTTO_ERR_UNSUPPORTED. */
	int (*backup)(struct server_store *s, const char *path);
	/* The domain this database serves: recorded on the first call (a new database, or one
	 * made before domains were recorded); afterwards SOTTO_ERR_OTHER_DOMAIN if domain is
	 * another, with the recorded one in `recorded`. */
	int (*domain_claim)(struct server_store *s, const char *domain,
	    char recorded[STORE_DOMAIN_MAX + 1]);
	/* Counts for the administrator; may read every account (not for the loop thread). */
	int (*stats)(struct server_store *s, struct store_stats *out);
	/* Calls cb for every invite ever made, oldest first; a non-zero return stops. */
	int (*invites_list)(struct server_store *s,
	    int (*cb)(void *arg, const struct store_invite_info *i), void *arg);
	/* Revokes the one invite whose token hash starts with the len bytes of hash (len is
	 * STORE_TOKEN_HASH_LEN, or STORE_INVITE_ID_LEN for an id) at time now.
	 * SOTTO_ERR_NOT_FOUND if none does, SOTTO_ERR_EXISTS if several do (nothing is
	 * revoked); revoking a revoked invite again is not an error. */
	int (*invite_revoke)(struct server_store *s, const uint8_t *hash, size_t len, int64_t now);

	/* Deletes account `name` with its prekeys, its mailbox (*envelopes: how many) and its
	 * login state, in one transaction. With token_hash the name stays reserved for that
	 * invite (one use, until `expires`, replacing an earlier reservation); without, it is
	 * free for anyone. SOTTO_ERR_NOT_FOUND if there is neither such an account nor a
	 * reservation. */
	int (*account_reset)(struct server_store *s, const char *name, const uint8_t *token_hash,
	    int64_t expires, uint64_t *envelopes);
	/* Calls cb for every account and reserved name, by name; a non-zero return stops. */
	int (*accounts_list)(struct server_store *s,
	    int (*cb)(void *arg, const struct store_account_info *a), void *arg);
	/* Checks and advances the login generations of n LOGINs in one transaction (each
	 * entry's result); on error nothing is stored and every entry failed. */
	int (*logins_commit)(struct server_store *s, struct store_login *v, size_t n);

	/* Replaces the signed prekey (if spk) and adds one-time prekeys, and (if kem) replaces
	 * the last-resort ML-KEM prekey (if given) and adds one-time ML-KEM prekeys, keeping at
	 * most max of each kind in stock (SOTTO_ERR_LIMIT if more would be stored; nothing is
	 * then written). All in one transaction. */
	int (*prekeys_put)(struct server_store *s, int64_t account,
	    const struct store_signed_prekey *spk, const struct store_prekey *otpks,
	    size_t n, const struct store_kem_upload *kem, uint32_t max);
	/* Fills the bundle for account and removes the one-time prekeys (X25519 and ML-KEM)
	 * it hands out, in one transaction: two fetches never get the same one-time key.
	 * SOTTO_ERR_NOT_FOUND if no signed prekey was uploaded. */
	int (*bundle_take)(struct server_store *s, int64_t account, struct store_bundle *out);
	/* One-time prekeys in stock: the X25519 ones, or, for an account that uploaded a
	 * last-resort ML-KEM prekey, the smaller of the X25519 and ML-KEM stocks. */
	int (*prekey_count)(struct server_store *s, int64_t account, uint32_t *n);

	/* Stores every send in one transaction (and fsync per the durability). On error
	 * nothing is stored and every entry must be treated as failed. A send with
	 * skip_envelope stores no idempotency record either (its recipient has it). A full
	 * database fails with SOTTO_ERR_SERVER_FULL. */
	int (*envelopes_commit)(struct server_store *s, struct store_send *sends, size_t n);
	/* Up to max envelopes of recipient with id > after, oldest first. */
	int (*envelopes_list)(struct server_store *s, int64_t recipient, int64_t after,
	    struct store_envelope *out, size_t max, size_t *n_out);
	/* Deletes envelopes in one transaction, with their idempotency records (a SEND
	 * RECEIVED needs none: a retry of it is dropped by the recipient's client); a pair
	 * naming another recipient's envelope or a deleted one is ignored. */
	int (*envelopes_delete)(struct server_store *s, const struct store_del *d, size_t n);
	/* A group commit's deletes and sends in one transaction when all of it succeeds;
	 * otherwise as envelopes_delete (result in *del_result) then envelopes_commit (the
	 * return value), each in its own transaction. */
	int (*envelopes_apply)(struct server_store *s, const struct store_del *d, size_t nd,
	    struct store_send *sends, size_t ns, int *del_result);
	int (*mailbox_count)(struct server_store *s, int64_t recipient, uint64_t *n);
	/* The highest envelope id ever used (stored or only recorded as sent), 0 if none. */
	int (*envelopes_max_id)(struct server_store *s, int64_t *out);
	/* count envelope ids for this process alone, above floor and above every id used or
	 * reserved before: the first in *first. PostgreSQL records the range in meta at once
	 * (several nodes of one database get ranges that never overlap); SQLite, one process
	 * only, reads the highest stored id and records nothing (the caller passes the last id
	 * it handed out as floor). */
	int (*envelope_ids_reserve)(struct server_store *s, int64_t floor, int64_t count,
	    int64_t *first);
	/* The envelope id recorded for (recipient, client message id), or
	 * SOTTO_ERR_NOT_FOUND. */
	int (*sent_get)(struct server_store *s, int64_t recipient, const uint8_t cmid[STORE_CMID_LEN],
	    int64_t *env_id);
	/* One step of a walk through the idempotency records: of the next max records after
	 * *cursor, deletes those made before `before` (seconds since the epoch; *n_out: how
	 * many) in one transaction and moves *cursor past them; at the end of the records
	 * *done is set and *cursor is back before the first. */
	int (*sent_prune)(struct server_store *s, int64_t before, size_t max,
	    struct store_sent_key *cursor, int *done, size_t *n_out);

	/* The KeyPackage directory. Adds one-time KeyPackages and, if last_resort, replaces
	 * the last-resort one; SOTTO_ERR_LIMIT (nothing written) if more than max one-time
	 * ones would be stored. *left: the stock after. */
	int (*key_packages_put)(struct server_store *s, int64_t account, const struct store_blob *kps,
	    size_t n, const struct store_blob *last_resort, uint32_t max,
	    struct store_kp_count *left);
	/* Hands out the oldest one-time KeyPackage of account, deleting it, or else the
	 * last-resort one, which stays. SOTTO_ERR_NOT_FOUND if it has neither. */
	int (*key_package_take)(struct server_store *s, int64_t account, struct store_kp_claim *out);
	int (*key_package_count)(struct server_store *s, int64_t account, struct store_kp_count *out);

	/* Applies group writes in one transaction (one fsync), each op checked on its own
	 * (op->result). On error nothing is stored and every op failed with it. */
	int (*groups_apply)(struct server_store *s, struct store_group_op *ops, size_t n);
	/* Up to max groups of account (current, and removed with entries still to read)
	 * whose number is above after, by number. */
	int (*group_memberships)(struct server_store *s, int64_t account, int64_t after,
	    struct store_membership *out, size_t max, size_t *n_out);
	/* Up to max entries of group grp with after < seq <= upto, in seq order. */
	int (*group_entries)(struct server_store *s, int64_t grp, uint64_t after, uint64_t upto,
	    struct store_group_entry *out, size_t max, size_t *n_out);
	/* The Welcome waiting for account in group grp (SOTTO_ERR_NOT_FOUND: none). */
	int (*group_welcome)(struct server_store *s, int64_t grp, int64_t account,
	    struct store_group_entry *out);

	/* Blobs: only their records; the files are the server's (handle_blob.c). blob_put
	 * records b unless a record of that hash exists (then 0: a repeated commit), in one
	 * transaction with the check of the owner's quota: SOTTO_ERR_QUOTA if its blobs would
	 * then be more than quota_bytes or quota_count. */
	int (*blob_put)(struct server_store *s, const struct store_blob_rec *b, uint64_t quota_bytes,
	    uint32_t quota_count);
	/* The record of hash, or SOTTO_ERR_NOT_FOUND. */
	int (*blob_get)(struct server_store *s, const uint8_t hash[STORE_BLOB_HASH_LEN],
	    struct store_blob_rec *out);
	/* The owner's blobs: their bytes and how many. */
	int (*blob_usage)(struct server_store *s, int64_t owner, uint64_t *bytes, uint32_t *count);
	/* A BLOB_DONE: one recipient fewer; after the last, the blob expires at now. */
	int (*blob_done)(struct server_store *s, const uint8_t hash[STORE_BLOB_HASH_LEN], int64_t now);
	/* Up to max hashes of blobs that expired at or before now (their files are removed
	 * first, then their records with blob_delete). */
	int (*blob_expired)(struct server_store *s, int64_t now, uint8_t (*out)[STORE_BLOB_HASH_LEN],
	    size_t max, size_t *n_out);
	int (*blob_delete)(struct server_store *s, const uint8_t hash[STORE_BLOB_HASH_LEN]);

	/* Sets the verifier of account's delivery token (NULL: none). SOTTO_ERR_NOT_FOUND
	 * for an unknown account. */
	int (*delivery_set)(struct server_store *s, int64_t account, const uint8_t *verifier);
};

struct server_store {
	const struct store_ops *ops;
};

/* Opens the SQLite database at path. A file that is not a valid database, or is
 * unreadable, fails with SOTTO_ERR_CORRUPT or SOTTO_ERR_IO: never replaced. */
int store_sqlite_open(struct server_store **out, const char *path, const struct store_open_opts *o)
    SOTTO_MUST_CHECK;

/* Opens the PostgreSQL database of conninfo (a libpq connection string or
 * postgresql:// URI), creating or migrating its schema (o->create 0: a database without
 * one is SOTTO_ERR_NOT_FOUND). Only o->create is used: durability is PostgreSQL's, with
 * synchronous_commit on. SOTTO_ERR_UNREACHABLE if it cannot connect. */
int store_pg_open(struct server_store **out, const char *conninfo, const struct store_open_opts *o)
    SOTTO_MUST_CHECK;
/* Several nodes on one PostgreSQL database: each stored envelope and group entry
 * NOTIFYs this channel, in its transaction, with the row id of each account to deliver to
 * (decimal); every node LISTENs (wake.c). */
#define STORE_PG_WAKE_CHANNEL "sotto_wake"
/* `sottod accounts reset|delete` NOTIFYs this channel, in its transaction, with the row id
 * of the account it removed: every node ends that account's connections (wake.c). */
#define STORE_PG_RESET_CHANNEL "sotto_reset"
/* The PostgreSQL backend process of s's connection (a NOTIFY's sender), 0 if none. */
int store_pg_backend_pid(struct server_store *s);
/* The TCP ports conninfo connects to (one per host; 5432 unless it says otherwise),
 * for the sandbox to allow. SOTTO_ERR_INVALID_ARG if it does not parse or has more. */
#define STORE_PG_PORTS_MAX 8
int store_pg_ports(const char *conninfo, uint16_t ports[STORE_PG_PORTS_MAX], size_t max,
    size_t *n) SOTTO_MUST_CHECK;
/* 1 if spec names a PostgreSQL database (postgresql:// or postgres://) rather than a
 * file. */
int store_is_pg(const char *spec);
/* Opens spec with the backend it names (store_sqlite_open or store_pg_open). */
int store_open_spec(struct server_store **out, const char *spec, const struct store_open_opts *o)
    SOTTO_MUST_CHECK;

/* One LOGIN's step over a device's generations g = { proven, floor, issued } (updated):
 * 0 with *next, or SOTTO_ERR_DEVICE_CLONED. */
int store_login_step(uint64_t g[3], uint64_t presented, uint64_t *next);

void store_envelopes_free(struct store_envelope *e, size_t n);
void store_group_entries_free(struct store_group_entry *e, size_t n);
/* A sealed group message's token (the verifier it presents) against the group's
 * verifiers (NULL: none) at its current epoch: 0 for the current epoch's,
 * SOTTO_ERR_STALE_EPOCH for the previous epoch's, or for any other when the previous epoch
 * (epoch > 0) had none (answered so, never taken), SOTTO_ERR_NO_GROUP_TOKEN when the group
 * has no current verifier (made before group tokens), else SOTTO_ERR_AUTH
 * (store_group_token.c). */
int store_group_token_check(uint64_t epoch, const uint8_t *current, const uint8_t *previous,
    const uint8_t presented[STORE_GROUP_VERIFIER_LEN]) SOTTO_MUST_CHECK;
/* Frees what groups_apply returned in each op (members). */
void store_group_ops_release(struct store_group_op *ops, size_t n);

static inline void
server_store_close(struct server_store *s)
{
	if (s != NULL)
		s->ops->close(s);
}

#endif
