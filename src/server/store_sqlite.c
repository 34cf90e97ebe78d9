/*
 * The SQLite backend of the storage interface, in WAL mode. Every write is one
 * transaction; envelopes_commit stores a whole group commit at once, so that one fsync
 * covers every SEND accepted in one loop turn.
 */
#include "server/store.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/log.h"
#include "server/store_sqlite_int.h"

#define SCHEMA_VERSION 12

enum stmt_id {
	S_BEGIN, S_COMMIT, S_ROLLBACK,
	S_INVITE_USE, S_INVITE_USED, S_INVITE_ADD,
	S_ACCOUNT_ADD, S_ACCOUNT_BY_DEVICE, S_ACCOUNT_BY_NAME, S_ACCOUNT_BY_ID,
	S_SPK_PUT, S_SPK_GET, S_OTPK_PUT, S_OTPK_COUNT, S_OTPK_FIRST, S_OTPK_DEL,
	S_KEM_PUT, S_KEM_LR_DROP, S_KEM_COUNT, S_KEM_HAS_LR, S_KEM_FIRST, S_KEM_DEL,
	S_SENT_GET, S_SENT_PUT, S_PENDING_GET, S_PENDING_ADD, S_ENV_PUT, S_ENV_LIST,
	S_ENV_DEL, S_IDMAX_PUT, S_IDMAX_GET, S_SENT_SCAN_END, S_SENT_PRUNE, S_SENT_DEL,
	S_ENV_OWNER, S_INVITE_RESERVED, S_LOGIN_GET, S_LOGIN_PUT, S_DELIVERY_PUT,
	S__COUNT
};

static const char *const stmt_sql[S__COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	/* A used invite is kept, marked, so that a second use hears "already used" rather
	 * than "no such invite". */
	/* ?3 NULL: an invite for any name; else the one made for that reserved name. One use
	 * of it, if it has one left, is not revoked and has not expired (at ?2, now). */
	[S_INVITE_USE] = "UPDATE invites SET used = ?2, uses = uses - 1 WHERE token_hash = ?1"
	    " AND uses > 0 AND revoked = 0 AND (expires = 0 OR expires > ?2) AND name IS ?3",
	[S_INVITE_USED] = "SELECT uses, revoked, expires FROM invites WHERE token_hash = ?1",
	[S_INVITE_ADD] = "INSERT INTO invites(token_hash, created, used, expires, uses, name)"
	    " VALUES (?1, ?2, 0, ?3, ?4, ?5)",
	/* Ids are never reused (a reset deletes accounts, 'account_id_max' keeps the
	 * highest): a running server's view of an old id never meets a new account. */
	[S_ACCOUNT_ADD] = "INSERT INTO accounts(id, name, identity_key, device_key, pending,"
	    " created) VALUES (max(coalesce((SELECT max(id) FROM accounts), 0),"
	    " coalesce((SELECT v FROM meta WHERE k = 'account_id_max'), 0)) + 1,"
	    " ?1, ?2, ?3, 0, ?4)",
	[S_ACCOUNT_BY_DEVICE] = "SELECT id, name, identity_key, device_key, delivery FROM"
	    " accounts WHERE device_key = ?1",
	[S_ACCOUNT_BY_NAME] = "SELECT id, name, identity_key, device_key, delivery FROM"
	    " accounts WHERE name = ?1",
	[S_ACCOUNT_BY_ID] = "SELECT id, name, identity_key, device_key, delivery FROM"
	    " accounts WHERE id = ?1",
	[S_SPK_PUT] = "INSERT OR REPLACE INTO signed_prekeys(account, id, key, sig)"
	    " VALUES (?1, ?2, ?3, ?4)",
	[S_SPK_GET] = "SELECT id, key, sig FROM signed_prekeys WHERE account = ?1",
	[S_OTPK_PUT] = "INSERT OR REPLACE INTO prekeys(account, id, key) VALUES (?1, ?2, ?3)",
	[S_OTPK_COUNT] = "SELECT count(*) FROM prekeys WHERE account = ?1",
	[S_OTPK_FIRST] = "SELECT id, key FROM prekeys WHERE account = ?1 ORDER BY rowid LIMIT 1",
	[S_OTPK_DEL] = "DELETE FROM prekeys WHERE account = ?1 AND id = ?2",
	[S_KEM_PUT] = "INSERT OR REPLACE INTO kem_prekeys(account, id, key, sig, last_resort)"
	    " VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_KEM_LR_DROP] = "DELETE FROM kem_prekeys WHERE account = ?1 AND last_resort = 1",
	[S_KEM_COUNT] = "SELECT count(*) FROM kem_prekeys WHERE account = ?1 AND last_resort = 0",
	[S_KEM_HAS_LR] = "SELECT 1 FROM kem_prekeys WHERE account = ?1 AND last_resort = 1",
	[S_KEM_FIRST] = "SELECT id, key, sig, last_resort FROM kem_prekeys WHERE account = ?1"
	    " ORDER BY last_resort, rowid LIMIT 1",
	[S_KEM_DEL] = "DELETE FROM kem_prekeys WHERE account = ?1 AND id = ?2"
	    " AND last_resort = 0",
	[S_SENT_GET] = "SELECT env_id FROM sent WHERE key = ?1",
	[S_SENT_PUT] = "INSERT OR IGNORE INTO sent(key, env_id, created) VALUES (?1, ?2, ?3)",
	[S_PENDING_GET] = "SELECT pending, pending_bytes FROM accounts WHERE id = ?1",
	[S_PENDING_ADD] = "UPDATE accounts SET pending = max(pending + ?2, 0),"
	    " pending_bytes = max(pending_bytes + ?3, 0) WHERE id = ?1",
	[S_ENV_PUT] = "INSERT INTO envelopes(id, recipient, ts, data, idem)"
	    " VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_ENV_LIST] = "SELECT id, ts, data FROM envelopes WHERE recipient = ?1 AND id > ?2"
	    " ORDER BY id LIMIT ?3",
	[S_ENV_DEL] = "DELETE FROM envelopes WHERE recipient = ?1 AND id = ?2",
	/* Not DELETE ... RETURNING: SQLite buffers the returned rows in a temporary table,
	 * which the confined server cannot open as a file once it spills. */
	[S_ENV_OWNER] = "SELECT idem, length(data) FROM envelopes WHERE recipient = ?1"
	    " AND id = ?2",
	/* Only the record of that envelope: after sent_retention a retry may own the key. */
	[S_SENT_DEL] = "DELETE FROM sent WHERE key = ?1 AND env_id = ?2",
	/* Ids of envelopes never stored (RECEIVED before their commit) are never reused:
	 * the highest one is kept here, sqlite_sequence keeps the highest stored one. */
	[S_IDMAX_PUT] = "INSERT OR REPLACE INTO meta(k, v) VALUES ('env_id_max',"
	    " max(?1, coalesce((SELECT v FROM meta WHERE k = 'env_id_max'), 0)))",
	[S_IDMAX_GET] = "SELECT max(coalesce((SELECT v FROM meta WHERE k = 'env_id_max'), 0),"
	    " coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'envelopes'), 0))",
	/* The key max rows on from (?1, ?2), or none if fewer are left. */
	[S_SENT_SCAN_END] = "SELECT key FROM sent WHERE key > ?1 ORDER BY key LIMIT 1 OFFSET ?2",
	[S_SENT_PRUNE] = "DELETE FROM sent WHERE key > ?1 AND (?3 OR key <= ?2)"
	    " AND created < ?4",
	[S_INVITE_RESERVED] = "SELECT 1 FROM invites WHERE name = ?1 AND used = 0",
	[S_LOGIN_GET] = "SELECT proven, floor, issued FROM logins WHERE account = ?1",
	[S_LOGIN_PUT] = "INSERT OR REPLACE INTO logins(account, proven, floor, issued)"
	    " VALUES (?1, ?2, ?3, ?4)",
	[S_DELIVERY_PUT] = "UPDATE accounts SET delivery = ?2 WHERE id = ?1",
};

#define SENT_TABLE_SQL(name)                                                           \
	"CREATE TABLE " name "(cmid BLOB NOT NULL, sender BLOB NOT NULL,"                  \
	" env_id INTEGER NOT NULL, created INTEGER NOT NULL,"                              \
	" PRIMARY KEY(cmid, sender)) WITHOUT ROWID;"

static const char schema_sql[] =
	"CREATE TABLE meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
	"CREATE TABLE accounts(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	" identity_key BLOB NOT NULL, device_key BLOB NOT NULL UNIQUE,"
	" pending INTEGER NOT NULL, created INTEGER NOT NULL);"
	"CREATE TABLE invites(token_hash BLOB PRIMARY KEY, created INTEGER NOT NULL);"
	"CREATE TABLE signed_prekeys(account INTEGER PRIMARY KEY, id INTEGER NOT NULL,"
	" key BLOB NOT NULL, sig BLOB NOT NULL);"
	"CREATE TABLE prekeys(account INTEGER NOT NULL, id INTEGER NOT NULL,"
	" key BLOB NOT NULL, PRIMARY KEY(account, id));"
	"CREATE TABLE envelopes(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" recipient INTEGER NOT NULL, ts INTEGER NOT NULL, data BLOB NOT NULL);"
	"CREATE INDEX envelopes_by_recipient ON envelopes(recipient, id);"
	SENT_TABLE_SQL("sent")
	"INSERT INTO meta VALUES ('schema', 2);";

/*
 * Schema 1 keyed the idempotency records by sender first, so that each SEND's record went
 * to a random page of the table. Clients make their message ids time-ordered
 * (docs/PROTOCOL-wire.md, SEND), so keyed by the id first, new records go to the end.
 */
static const char migrate_1_to_2_sql[] =
	SENT_TABLE_SQL("sent2")
	"INSERT INTO sent2(cmid, sender, env_id, created)"
	" SELECT cmid, sender, env_id, created FROM sent ORDER BY cmid, sender;"
	"DROP TABLE sent;"
	"ALTER TABLE sent2 RENAME TO sent;"
	"UPDATE meta SET v = 2 WHERE k = 'schema';";

/*
 * Schema 3: quotas and idempotency records that end with their envelope. Each account
 * counts what waits in its mailbox (pending, pending_bytes) and what it sent that waits
 * in any mailbox (out_count, out_bytes); an envelope names its sender's account and the
 * key of its idempotency record, so that RECEIVED deletes that record and gives the
 * sender's quota back. Envelopes stored before have sender 0: they count for their
 * recipient only, and their records end by sent_retention.
 */
static const char migrate_2_to_3_sql[] =
	"ALTER TABLE accounts ADD COLUMN pending_bytes INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE accounts ADD COLUMN out_count INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE accounts ADD COLUMN out_bytes INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE envelopes ADD COLUMN sender INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE envelopes ADD COLUMN sender_dev BLOB;"
	"ALTER TABLE envelopes ADD COLUMN cmid BLOB;"
	"UPDATE accounts SET pending_bytes = (SELECT coalesce(sum(length(data)), 0)"
	" FROM envelopes WHERE recipient = accounts.id);"
	"UPDATE meta SET v = 3 WHERE k = 'schema';";

/* Schema 3 deleted an invite when it was used; schema 4 keeps it with the time of its use
 * (0: unused), so that a second use is told apart from a token that never existed.
 * Invites used before the migration are gone and read as unknown. */
static const char migrate_3_to_4_sql[] =
	"ALTER TABLE invites ADD COLUMN used INTEGER NOT NULL DEFAULT 0;"
	"UPDATE meta SET v = 4 WHERE k = 'schema';";

/*
 * Schema 5 (issue 18): an invite may be made for one name (`sottod accounts reset`
 * reserves the name of the account it deletes for the new device's invite), and each
 * account's login generations (clone detection, LOGIN in docs/PROTOCOL-wire.md).
 */
static const char migrate_4_to_5_sql[] =
	"ALTER TABLE invites ADD COLUMN name TEXT;"
	"CREATE INDEX invites_by_name ON invites(name) WHERE name IS NOT NULL;"
	"CREATE TABLE logins(account INTEGER PRIMARY KEY, proven INTEGER NOT NULL,"
	" floor INTEGER NOT NULL, issued INTEGER NOT NULL);"
	"UPDATE meta SET v = 5 WHERE k = 'schema';";

/*
 * Schema 6 (issue 13): the MLS delivery service. KeyPackages (one-time, and one
 * last-resort per account); groups with their epoch and the next seq of their log; the
 * log itself, each entry stored once for the whole group; each member's read position
 * (removed members keep theirs until they have read up to the Commit that removed them);
 * and Welcomes, stored once per Commit and named by the rows of the members they are for.
 * The log keeps its rowid (its rows hold whole messages, too large for a WITHOUT ROWID
 * table's b-tree); the member rows are small and keyed by (group, account).
 */
static const char migrate_5_to_6_sql[] =
	"CREATE TABLE key_packages(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" account INTEGER NOT NULL, last_resort INTEGER NOT NULL, data BLOB NOT NULL);"
	"CREATE INDEX key_packages_by_account ON key_packages(account, last_resort, id);"
	"CREATE TABLE groups(id INTEGER PRIMARY KEY, gid BLOB NOT NULL UNIQUE,"
	" epoch INTEGER NOT NULL, next_seq INTEGER NOT NULL, low_seq INTEGER NOT NULL,"
	" created INTEGER NOT NULL);"
	"CREATE TABLE group_log(grp INTEGER NOT NULL, seq INTEGER NOT NULL,"
	" kind INTEGER NOT NULL, epoch INTEGER NOT NULL, ts INTEGER NOT NULL,"
	" cmid BLOB, data BLOB NOT NULL, PRIMARY KEY(grp, seq));"
	"CREATE UNIQUE INDEX group_log_by_cmid ON group_log(grp, cmid) WHERE cmid IS NOT NULL;"
	"CREATE TABLE group_members(grp INTEGER NOT NULL, account INTEGER NOT NULL,"
	" read_seq INTEGER NOT NULL, left_seq INTEGER NOT NULL, welcome INTEGER,"
	" PRIMARY KEY(grp, account)) WITHOUT ROWID;"
	"CREATE INDEX group_members_by_account ON group_members(account, grp);"
	"CREATE INDEX group_members_by_read ON group_members(grp, read_seq);"
	"CREATE INDEX group_members_by_welcome ON group_members(welcome)"
	" WHERE welcome IS NOT NULL;"
	"CREATE TABLE group_welcomes(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" grp INTEGER NOT NULL, seq INTEGER NOT NULL, epoch INTEGER NOT NULL,"
	" ts INTEGER NOT NULL, data BLOB NOT NULL);"
	"UPDATE meta SET v = 6 WHERE k = 'schema';";

/*
 * Schema 7 (issue 16): signed ML-KEM-768 prekeys for PQXDH. One-time ones (last_resort 0,
 * each handed out once) and at most one last-resort one per account (handed out when the
 * one-time ones are gone, and kept). The id space is the owner's; an upload that reuses
 * an id replaces the key.
 */
static const char migrate_6_to_7_sql[] =
	"CREATE TABLE kem_prekeys(account INTEGER NOT NULL, id INTEGER NOT NULL,"
	" key BLOB NOT NULL, sig BLOB NOT NULL, last_resort INTEGER NOT NULL,"
	" PRIMARY KEY(account, id));"
	"UPDATE meta SET v = 7 WHERE k = 'schema';";

/*
 * Schema 8 (issue 14): the records of the blob store's files (handle_blob.c): the hash
 * names the file DIR/blobs/<hex>; the owner's quota counts size; expires is when the
 * file goes (the earlier of the expiry and the last recipient's BLOB_DONE).
 */
static const char migrate_7_to_8_sql[] =
	"CREATE TABLE blobs(hash BLOB PRIMARY KEY, owner INTEGER NOT NULL,"
	" size INTEGER NOT NULL, expires INTEGER NOT NULL, left INTEGER NOT NULL)"
	" WITHOUT ROWID;"
	"CREATE INDEX blobs_by_owner ON blobs(owner);"
	"CREATE INDEX blobs_by_expiry ON blobs(expires);"
	"UPDATE meta SET v = 8 WHERE k = 'schema';";

#define STR_(x) #x
#define STR(x) STR_(x)

/*
 * Schema 9 (issue 17): invites expire, may register several accounts, and can be revoked.
 * `uses` counts the registrations left; an invite used before has none. Unused invites
 * made before this schema never expired: they get the default lifetime from the migration
 * on, rather than expiring at once for their age.
 */
static const char migrate_8_to_9_sql[] =
	"ALTER TABLE invites ADD COLUMN expires INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE invites ADD COLUMN uses INTEGER NOT NULL DEFAULT 1;"
	"ALTER TABLE invites ADD COLUMN revoked INTEGER NOT NULL DEFAULT 0;"
	"UPDATE invites SET uses = 0 WHERE used != 0;"
	"UPDATE invites SET expires = CAST(strftime('%s', 'now') AS INTEGER) + "
	STR(STORE_INVITE_LIFETIME_DEFAULT) " WHERE used = 0;"
	"UPDATE meta SET v = 9 WHERE k = 'schema';";

/*
 * Schema 10 (issue 15): no table ties an envelope to its sender. Schema 3 to 9 kept the
 * idempotency records as (client message id, sender device key) -> envelope id, and each
 * envelope named its sender's account, device key and message id (for the sender's quota
 * of waiting envelopes): a seized database told who wrote to whom. A record is now keyed
 * by store_idem_key(recipient, client message id), which names no sender, and the envelope
 * keeps that key so that RECEIVED deletes its record; the sender's quota (accounts'
 * out_count and out_bytes) is gone with the link it needed. migrate_9_to_10 rekeys the
 * records of waiting envelopes (a record whose envelope is gone cannot be rekeyed, having
 * no recipient: it is dropped, and a late retry of it is stored again and dropped by its
 * recipient's client by message id) and then drops the sender columns.
 */
static const char migrate_9_to_10_pre_sql[] =
	"CREATE TABLE sent8(key BLOB PRIMARY KEY, env_id INTEGER NOT NULL,"
	" created INTEGER NOT NULL) WITHOUT ROWID;"
	"ALTER TABLE envelopes ADD COLUMN idem BLOB;";
static const char migrate_9_to_10_rows_sql[] =
	"SELECT s.cmid, e.recipient, s.env_id, s.created FROM sent s"
	" JOIN envelopes e ON e.id = s.env_id";
static const char migrate_9_to_10_post_sql[] =
	"DROP TABLE sent;"
	"ALTER TABLE sent8 RENAME TO sent;"
	"ALTER TABLE envelopes DROP COLUMN sender;"
	"ALTER TABLE envelopes DROP COLUMN sender_dev;"
	"ALTER TABLE envelopes DROP COLUMN cmid;"
	"ALTER TABLE accounts DROP COLUMN out_count;"
	"ALTER TABLE accounts DROP COLUMN out_bytes;"
	"UPDATE meta SET v = 10 WHERE k = 'schema';";

/*
 * Schema 11 (issue 15): each account may hold the verifier of its delivery token
 * (docs/PROTOCOL-wire.md, DELIVERY_TOKEN), which authorises SEND_SEALED to it; NULL: none.
 */
static const char migrate_10_to_11_sql[] =
	"ALTER TABLE accounts ADD COLUMN delivery BLOB;"
	"UPDATE meta SET v = 11 WHERE k = 'schema';";

/*
 * Schema 12 (issue 15, groups): each group keeps the verifier of its current epoch's group
 * token, which authorises GROUP_SEND_SEALED, and the previous epoch's, with which a late
 * message is answered STALE_EPOCH rather than refused (docs/SERVER.md, "Group tokens").
 * NULL: none (a group from before this step has none until its next Commit).
 */
static const char migrate_11_to_12_sql[] =
	"ALTER TABLE groups ADD COLUMN verifier BLOB;"
	"ALTER TABLE groups ADD COLUMN prev_verifier BLOB;"
	"UPDATE meta SET v = 12 WHERE k = 'schema';";

/* An account's counters (schema 3): what waits in its mailbox. */
enum { Q_MBOX_N, Q_MBOX_BYTES, Q__COUNT };

/* Counters of the accounts one transaction touches: read once, written once. */
struct pending_entry {
	int64_t recipient;      /* the account */
	uint64_t have[Q__COUNT]; /* as read at the start of the transaction */
	int64_t delta[Q__COUNT];
	size_t slot;            /* its place in the index */
};

/* WAL pages after which a checkpoint is due, and after which the writer no longer waits
 * for the checkpoint thread (one that cannot keep up) and runs one itself. Checkpoints
 * are kept short because the thread shares the event loop's core: the kernel lets a
 * running thread finish its slice before the woken loop gets the core, and a checkpoint
 * of 1,000 pages ran 1-3 ms, the longest stalls of deliveries at 10,000 msg/s (perf
 * sched). At 128 pages none runs 1 ms. */
#define CKPT_PAGES 128
#define CKPT_INLINE_PAGES 50000

struct ckpt {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int want, stop;         /* mu */
	sqlite3 *db;            /* the checkpoint thread's own connection */
};

struct store_sqlite {
	struct server_store base;
	struct ckpt *ck;
	sqlite3 *db;
	sqlite3_stmt *st[S__COUNT];
	struct pending_entry *pend;
	size_t n_pend, cap_pend;
	/* Open-addressing index of pend by recipient (entry number + 1, 0 = free), at most
	 * half full: a group commit of n SENDs to n mailboxes finds each in O(1). */
	uint32_t *pend_idx;
	size_t idx_cap;         /* a power of two */
	struct sqg *grp;        /* store_sqlite_group.c: its statements */
};

static struct store_sqlite *
impl(struct server_store *s)
{
	return (struct store_sqlite *)s;
}

static int
map_rc(sqlite3 *db, int rc, const char *what)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_NOMEM:
		return SOTTO_ERR_NOMEM;
	case SQLITE_FULL:
		/* max_page_count (db_max_pages) or the disk: the server's cap, not a failure. */
		log_warn("store: %s: database or disk full", what);
		return SOTTO_ERR_SERVER_FULL;
	case SQLITE_CONSTRAINT:
		return SOTTO_ERR_EXISTS;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		log_error("store: %s: database corrupt: %s", what, sqlite3_errmsg(db));
		return SOTTO_ERR_CORRUPT;
	default:
		log_error("store: %s: %s", what, sqlite3_errmsg(db));
		return SOTTO_ERR_STORAGE;
	}
}

static sqlite3_stmt *
st(struct store_sqlite *ss, enum stmt_id id)
{
	sqlite3_stmt *s = ss->st[id];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

/* Runs a statement without result rows. */
static int
run(struct store_sqlite *ss, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : map_rc(ss->db, rc, what);
}

static int
begin(struct store_sqlite *ss)
{
	return run(ss, st(ss, S_BEGIN), "begin");
}

static int
commit(struct store_sqlite *ss)
{
	int r = run(ss, st(ss, S_COMMIT), "commit");

	if (r != 0 && !sqlite3_get_autocommit(ss->db))
		(void)run(ss, st(ss, S_ROLLBACK), "rollback");
	return r;
}

static void
rollback(struct store_sqlite *ss)
{
	if (!sqlite3_get_autocommit(ss->db))
		(void)run(ss, st(ss, S_ROLLBACK), "rollback");
}

int
store_sqlite_rc(struct server_store *s, int rc, const char *what)
{
	return map_rc(impl(s)->db, rc, what);
}

sqlite3 *
store_sqlite_db(struct server_store *s)
{
	return impl(s)->db;
}

struct sqg **
store_sqlite_group_state(struct server_store *s)
{
	return &impl(s)->grp;
}

static int
blob_copy(sqlite3_stmt *s, int col, uint8_t *out, size_t len)
{
	if (sqlite3_column_type(s, col) != SQLITE_BLOB ||
	    (size_t)sqlite3_column_bytes(s, col) != len)
		return SOTTO_ERR_CORRUPT;
	memcpy(out, sqlite3_column_blob(s, col), len);
	return 0;
}

static int
read_account(struct store_sqlite *ss, sqlite3_stmt *s, struct store_account *out)
{
	const unsigned char *name;
	int rc = sqlite3_step(s), r;

	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return SOTTO_ERR_NOT_FOUND;
	}
	if (rc != SQLITE_ROW) {
		r = map_rc(ss->db, rc, "account");
		sqlite3_reset(s);
		return r;
	}
	memset(out, 0, sizeof(*out));
	out->id = sqlite3_column_int64(s, 0);
	name = sqlite3_column_text(s, 1);
	if (name == NULL || (size_t)sqlite3_column_bytes(s, 1) > STORE_NAME_MAX) {
		sqlite3_reset(s);
		return SOTTO_ERR_CORRUPT;
	}
	memcpy(out->name, name, (size_t)sqlite3_column_bytes(s, 1));
	r = blob_copy(s, 2, out->identity_key, SERVER_STORE_KEY_LEN);
	if (r == 0)
		r = blob_copy(s, 3, out->device_key, SERVER_STORE_KEY_LEN);
	if (r == 0 && sqlite3_column_type(s, 4) != SQLITE_NULL) {
		r = blob_copy(s, 4, out->delivery, SERVER_STORE_KEY_LEN);
		out->has_delivery = r == 0;
	}
	sqlite3_reset(s);
	return r;
}

static int
sq_delivery_set(struct server_store *base, int64_t account, const uint8_t *verifier)
{
	struct store_sqlite *ss = impl(base);
	sqlite3_stmt *s = st(ss, S_DELIVERY_PUT);
	int r;

	sqlite3_bind_int64(s, 1, account);
	if (verifier != NULL)
		sqlite3_bind_blob(s, 2, verifier, SERVER_STORE_KEY_LEN, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 2);
	if ((r = run(ss, s, "delivery token")) != 0)
		return r;
	return sqlite3_changes(ss->db) > 0 ? 0 : SOTTO_ERR_NOT_FOUND;
}

/* Why an invite could not be used at time now: it has no use left, it expired or was
 * revoked, there is no such invite, or it was made for another name (or the name is
 * reserved for another invite). */
static int
invite_refusal(struct store_sqlite *ss, const uint8_t token_hash[STORE_TOKEN_HASH_LEN],
    int64_t now)
{
	sqlite3_stmt *s = st(ss, S_INVITE_USED);
	int64_t expires;
	int rc, r;

	sqlite3_bind_blob(s, 1, token_hash, STORE_TOKEN_HASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		expires = sqlite3_column_int64(s, 2);
		if (sqlite3_column_int64(s, 0) <= 0)
			r = SOTTO_ERR_INVITE_USED;
		else if (sqlite3_column_int64(s, 1) != 0 || (expires != 0 && expires <= now))
			r = SOTTO_ERR_INVITE_EXPIRED;
		else
			r = SOTTO_ERR_AUTH;
	} else
		r = rc == SQLITE_DONE ? SOTTO_ERR_INVITE_UNKNOWN :
		    map_rc(ss->db, rc, "invite state");
	sqlite3_reset(s);
	return r;
}

/* 1 if name is reserved for the invite a reset made, 0 if not, or an error. */
static int
name_reserved(struct store_sqlite *ss, const char *name)
{
	sqlite3_stmt *s = st(ss, S_INVITE_RESERVED);
	int rc;

	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : map_rc(ss->db, rc, "invite reserved");
}

static int
sq_account_create(struct server_store *base, const char *name, const uint8_t ik[SERVER_STORE_KEY_LEN],
    const uint8_t dk[SERVER_STORE_KEY_LEN], const uint8_t *token_hash, int64_t *id_out)
{
	struct store_sqlite *ss = impl(base);
	int64_t now = (int64_t)time(NULL);
	sqlite3_stmt *s;
	int r, reserved;

	if ((r = begin(ss)) != 0)
		return r;
	if ((reserved = name_reserved(ss, name)) < 0) {
		r = reserved;
		goto out;
	}
	/* A reset name: only the holder of the invite made for it may take it. */
	if (reserved && token_hash == NULL) {
		r = SOTTO_ERR_AUTH;
		goto out;
	}
	if (token_hash != NULL) {
		s = st(ss, S_INVITE_USE);
		sqlite3_bind_blob(s, 1, token_hash, STORE_TOKEN_HASH_LEN, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, now);
		if (reserved)
			sqlite3_bind_text(s, 3, name, -1, SQLITE_STATIC);
		if ((r = run(ss, s, "invite use")) != 0)
			goto out;
		if (sqlite3_changes(ss->db) != 1) {
			r = invite_refusal(ss, token_hash, now);
			goto out;
		}
	}
	s = st(ss, S_ACCOUNT_ADD);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, ik, SERVER_STORE_KEY_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, dk, SERVER_STORE_KEY_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now);
	if ((r = run(ss, s, "account add")) != 0)
		goto out;
	*id_out = sqlite3_last_insert_rowid(ss->db);
	r = commit(ss);
out:
	if (r != 0)
		rollback(ss);
	return r;
}

static int
sq_account_by_device(struct server_store *base, const uint8_t dk[SERVER_STORE_KEY_LEN],
    struct store_account *out)
{
	struct store_sqlite *ss = impl(base);
	sqlite3_stmt *s = st(ss, S_ACCOUNT_BY_DEVICE);

	sqlite3_bind_blob(s, 1, dk, SERVER_STORE_KEY_LEN, SQLITE_STATIC);
	return read_account(ss, s, out);
}

static int
sq_account_by_name(struct server_store *base, const char *name, struct store_account *out)
{
	struct store_sqlite *ss = impl(base);
	sqlite3_stmt *s = st(ss, S_ACCOUNT_BY_NAME);

	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	return read_account(ss, s, out);
}

/* An invite, for any name (name NULL) or reserved for one; inside a transaction or not. */
static int
invite_put(struct store_sqlite *ss, const uint8_t token_hash[STORE_TOKEN_HASH_LEN],
    int64_t expires, uint32_t uses, const char *name)
{
	sqlite3_stmt *s = st(ss, S_INVITE_ADD);

	sqlite3_bind_blob(s, 1, token_hash, STORE_TOKEN_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(s, 3, expires);
	sqlite3_bind_int64(s, 4, uses);
	if (name != NULL)
		sqlite3_bind_text(s, 5, name, -1, SQLITE_STATIC);
	return run(ss, s, "invite add");
}

static int
sq_invite_add(struct server_store *base, const uint8_t token_hash[STORE_TOKEN_HASH_LEN],
    int64_t expires, uint32_t uses)
{
	return invite_put(impl(base), token_hash, expires, uses, NULL);
}

/* Runs sql (no parameters) and calls row for each result row until it returns non-zero
 * (which is returned). For the administrator's listings. */
static int
each_row(struct store_sqlite *ss, const char *sql, const char *what,
    int (*row)(sqlite3_stmt *s, void *arg), void *arg)
{
	sqlite3_stmt *s = NULL;
	int rc, r = 0;

	if ((rc = sqlite3_prepare_v2(ss->db, sql, -1, &s, NULL)) != SQLITE_OK)
		return map_rc(ss->db, rc, what);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if ((r = row(s, arg)) != 0)
			break;
	if (r == 0 && rc != SQLITE_DONE)
		r = map_rc(ss->db, rc, what);
	sqlite3_finalize(s);
	return r;
}

struct invites_cb {
	int (*cb)(void *arg, const struct store_invite_info *i);
	void *arg;
};

static int
invite_row(sqlite3_stmt *s, void *arg)
{
	const struct invites_cb *l = arg;
	struct store_invite_info in;
	const unsigned char *name;

	memset(&in, 0, sizeof(in));
	if (sqlite3_column_type(s, 0) != SQLITE_BLOB ||
	    sqlite3_column_bytes(s, 0) != STORE_TOKEN_HASH_LEN ||
	    (size_t)sqlite3_column_bytes(s, 6) > STORE_NAME_MAX)
		return SOTTO_ERR_CORRUPT;
	memcpy(in.id, sqlite3_column_blob(s, 0), STORE_INVITE_ID_LEN);
	in.created = sqlite3_column_int64(s, 1);
	in.expires = sqlite3_column_int64(s, 2);
	in.used = sqlite3_column_int64(s, 3);
	in.revoked = sqlite3_column_int64(s, 4);
	in.uses = (uint32_t)sqlite3_column_int64(s, 5);
	if ((name = sqlite3_column_text(s, 6)) != NULL)
		memcpy(in.name, name, (size_t)sqlite3_column_bytes(s, 6));
	return l->cb(l->arg, &in);
}

static int
sq_invites_list(struct server_store *base, int (*cb)(void *arg, const struct store_invite_info *i),
    void *arg)
{
	struct invites_cb l = { cb, arg };

	return each_row(impl(base), "SELECT token_hash, created, expires, used, revoked, uses,"
	    " name FROM invites ORDER BY created, token_hash", "invites list", invite_row, &l);
}

static int
stats_row(sqlite3_stmt *s, void *arg)
{
	struct store_stats *st = arg;

	st->accounts = (uint64_t)sqlite3_column_int64(s, 0);
	st->envelopes = (uint64_t)sqlite3_column_int64(s, 1);
	st->envelope_bytes = (uint64_t)sqlite3_column_int64(s, 2);
	st->pages = (uint64_t)sqlite3_column_int64(s, 3);
	st->free_pages = (uint64_t)sqlite3_column_int64(s, 4);
	st->page_size = (uint64_t)sqlite3_column_int64(s, 5);
	return 0;
}

static int
sq_stats(struct server_store *base, struct store_stats *out)
{
	memset(out, 0, sizeof(*out));
	return each_row(impl(base), "SELECT count(*), coalesce(sum(pending), 0),"
	    " coalesce(sum(pending_bytes), 0), (SELECT page_count FROM pragma_page_count),"
	    " (SELECT freelist_count FROM pragma_freelist_count),"
	    " (SELECT page_size FROM pragma_page_size) FROM accounts", "stats", stats_row, out);
}

static int exec(sqlite3 *db, const char *sql, const char *what);
static int integrity_ok(sqlite3 *db);

static int
domain_row(sqlite3_stmt *s, void *arg)
{
	char *recorded = arg;
	const unsigned char *t = sqlite3_column_text(s, 0);
	int n = sqlite3_column_bytes(s, 0);

	if (t == NULL || n <= 0 || n > STORE_DOMAIN_MAX)
		return SOTTO_ERR_CORRUPT;
	memcpy(recorded, t, (size_t)n);
	recorded[n] = '\0';
	return 0;
}

/* The domain is kept in meta as a blob: the column's INTEGER affinity would turn a name of
 * digits ("007", a valid host name) into a number. */
static int
sq_domain_claim(struct server_store *base, const char *domain, char recorded[STORE_DOMAIN_MAX + 1])
{
	struct store_sqlite *ss = impl(base);
	sqlite3_stmt *s = NULL;
	int rc, r;

	recorded[0] = '\0';
	if ((r = begin(ss)) != 0)
		return r;
	if ((r = each_row(ss, "SELECT CAST(v AS TEXT) FROM meta WHERE k = 'domain'", "domain",
	    domain_row, recorded)) != 0)
		goto out;
	if (recorded[0] != '\0') {
		r = strcmp(recorded, domain) == 0 ? 0 : SOTTO_ERR_OTHER_DOMAIN;
		goto out;
	}
	if ((rc = sqlite3_prepare_v2(ss->db, "INSERT INTO meta(k, v) VALUES ('domain', ?1)", -1,
	    &s, NULL)) != SQLITE_OK) {
		r = map_rc(ss->db, rc, "domain");
		goto out;
	}
	sqlite3_bind_blob(s, 1, domain, (int)strlen(domain), SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		r = map_rc(ss->db, rc, "domain");
		goto out;
	}
	r = commit(ss);
	if (r == 0)
		snprintf(recorded, STORE_DOMAIN_MAX + 1, "%s", domain);
out:
	if (r != 0 && r != SOTTO_ERR_OTHER_DOMAIN)
		recorded[0] = '\0';
	rollback(ss);
	return r;
}

/*
 * SQLite's online backup API in one step: the pages are read inside one read transaction,
 * which in WAL mode blocks no writer and sees exactly what was committed when it began.
 * The copy is checked (quick_check) before it is called done.
 */
static int
sq_backup(struct server_store *base, const char *path)
{
	struct store_sqlite *ss = impl(base);
	sqlite3_backup *b = NULL;
	sqlite3 *to = NULL;
	struct stat st;
	int rc, r = SOTTO_ERR_STORAGE;

	if (stat(path, &st) == 0)
		return SOTTO_ERR_EXISTS;
	if ((rc = sqlite3_open_v2(path, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL)) != SQLITE_OK) {
		r = map_rc(to, rc, "backup open");
		goto out;
	}
	if ((r = exec(to, "PRAGMA synchronous=FULL", "backup")) != 0)
		goto out;
	if ((b = sqlite3_backup_init(to, "main", ss->db, "main")) == NULL) {
		r = map_rc(to, sqlite3_errcode(to), "backup init");
		goto out;
	}
	/* -1: every page in one step, one read transaction (busy_timeout covers a lock). */
	while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED)
		sqlite3_sleep(10);
	rc = sqlite3_backup_finish(b);
	b = NULL;
	if (rc != SQLITE_OK) {
		r = map_rc(to, rc, "backup");
		goto out;
	}
	r = integrity_ok(to) ? 0 : SOTTO_ERR_CORRUPT;
out:
	if (b != NULL)
		sqlite3_backup_finish(b);
	if (to != NULL && sqlite3_close(to) != SQLITE_OK && r == 0)
		r = SOTTO_ERR_STORAGE;
	if (r != 0 && r != SOTTO_ERR_EXISTS)
		unlink(path);
	return r;
}

static int
sq_invite_revoke(struct server_store *base, const uint8_t *hash, size_t len, int64_t now)
{
	static const char count_sql[] = "SELECT count(*) FROM invites"
	    " WHERE substr(token_hash, 1, ?2) = ?1";
	static const char revoke_sql[] = "UPDATE invites SET revoked = ?3"
	    " WHERE substr(token_hash, 1, ?2) = ?1 AND revoked = 0";
	struct store_sqlite *ss = impl(base);
	sqlite3_stmt *s = NULL;
	int64_t n = 0;
	int rc, r;

	if (len == 0 || len > STORE_TOKEN_HASH_LEN)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = begin(ss)) != 0)
		return r;
	for (int step = 0; step < 2; step++) {
		if ((rc = sqlite3_prepare_v2(ss->db, step == 0 ? count_sql : revoke_sql, -1, &s,
		    NULL)) != SQLITE_OK) {
			r = map_rc(ss->db, rc, "invite revoke");
			goto out;
		}
		sqlite3_bind_blob(s, 1, hash, (int)len, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)len);
		sqlite3_bind_int64(s, 3, now);
		rc = sqlite3_step(s);
		if (step == 0 && rc == SQLITE_ROW)
			n = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
		s = NULL;
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			r = map_rc(ss->db, rc, "invite revoke");
			goto out;
		}
		if (step == 0 && n != 1) {
			r = n == 0 ? SOTTO_ERR_NOT_FOUND : SOTTO_ERR_EXISTS;
			goto out;
		}
	}
	r = commit(ss);
out:
	if (r != 0)
		rollback(ss);
	return r;
}

/* Runs sql (one statement, ?1 = the account id) inside the caller's transaction. */
static int
run_for_account(struct store_sqlite *ss, const char *sql, int64_t id, uint64_t *changes)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = sqlite3_prepare_v2(ss->db, sql, -1, &s, NULL)) != SQLITE_OK)
		return map_rc(ss->db, rc, "account reset");
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return map_rc(ss->db, rc, "account reset");
	if (changes != NULL)
		*changes = (uint64_t)sqlite3_changes(ss->db);
	return 0;
}

static int
sq_account_reset(struct server_store *base, const char *name, const uint8_t *token_hash,
    int64_t expires, uint64_t *envelopes)
{
	static const char *const mailbox[] = {
		"DELETE FROM sent WHERE (key, env_id) IN (SELECT idem, id FROM envelopes"
		" WHERE recipient = ?1 AND idem IS NOT NULL)",
	};
	static const char *const per_account[] = {
		"DELETE FROM prekeys WHERE account = ?1",
		"DELETE FROM kem_prekeys WHERE account = ?1",
		"DELETE FROM signed_prekeys WHERE account = ?1",
		"DELETE FROM logins WHERE account = ?1",
		"DELETE FROM key_packages WHERE account = ?1",
		"DELETE FROM group_members WHERE account = ?1",
		"DELETE FROM accounts WHERE id = ?1",
	};
	struct store_sqlite *ss = impl(base);
	struct store_account a;
	sqlite3_stmt *s = NULL;
	int r, rc, reserved, found;

	*envelopes = 0;
	if ((r = begin(ss)) != 0)
		return r;
	s = st(ss, S_ACCOUNT_BY_NAME);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	r = read_account(ss, s, &a);
	if (r != 0 && r != SOTTO_ERR_NOT_FOUND)
		goto out;
	found = r == 0;
	if ((reserved = name_reserved(ss, name)) < 0) {
		r = reserved;
		goto out;
	}
	if (!found && !reserved) {
		r = SOTTO_ERR_NOT_FOUND;
		goto out;
	}
	if (found) {
		/* The old identity's envelopes can never be read by the new one: their
		 * idempotency records end with them, as after a RECEIVED. */
		for (size_t i = 0; i < sizeof(mailbox) / sizeof(mailbox[0]); i++)
			if ((r = run_for_account(ss, mailbox[i], a.id, NULL)) != 0)
				goto out;
		if ((r = run_for_account(ss, "DELETE FROM envelopes WHERE recipient = ?1", a.id,
		    envelopes)) != 0)
			goto out;
		for (size_t i = 0; i < sizeof(per_account) / sizeof(per_account[0]); i++)
			if ((r = run_for_account(ss, per_account[i], a.id, NULL)) != 0)
				goto out;
		if ((r = run_for_account(ss, "INSERT OR REPLACE INTO meta(k, v) VALUES"
		    " ('account_id_max', max(?1, coalesce((SELECT v FROM meta"
		    " WHERE k = 'account_id_max'), 0)))", a.id, NULL)) != 0)
			goto out;
	}
	s = NULL;
	if ((rc = sqlite3_prepare_v2(ss->db, "DELETE FROM invites WHERE name = ?1 AND used = 0",
	    -1, &s, NULL)) != SQLITE_OK) {
		r = map_rc(ss->db, rc, "account reset");
		goto out;
	}
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		r = map_rc(ss->db, rc, "account reset");
		goto out;
	}
	if (token_hash != NULL && (r = invite_put(ss, token_hash, expires, 1, name)) != 0)
		goto out;
	r = commit(ss);
out:
	if (r != 0)
		rollback(ss);
	sodium_memzero(&a, sizeof(a));
	return r;
}

struct accounts_cb {
	int (*cb)(void *arg, const struct store_account_info *a);
	void *arg;
};

static int
account_row(sqlite3_stmt *s, void *arg)
{
	const struct accounts_cb *l = arg;
	struct store_account_info a;
	const unsigned char *name;

	memset(&a, 0, sizeof(a));
	a.id = sqlite3_column_int64(s, 0);
	name = sqlite3_column_text(s, 1);
	if (name == NULL || (size_t)sqlite3_column_bytes(s, 1) > STORE_NAME_MAX)
		return SOTTO_ERR_CORRUPT;
	memcpy(a.name, name, (size_t)sqlite3_column_bytes(s, 1));
	a.created = sqlite3_column_int64(s, 2);
	a.envelopes = (uint64_t)sqlite3_column_int64(s, 3);
	a.prekeys = (uint32_t)sqlite3_column_int64(s, 4);
	return l->cb(l->arg, &a);
}

static int
sq_accounts_list(struct server_store *base, int (*cb)(void *arg, const struct store_account_info *a),
    void *arg)
{
	static const char sql[] =
	    "SELECT id, name, created, pending,"
	    " (SELECT count(*) FROM prekeys WHERE account = accounts.id) FROM accounts"
	    " UNION ALL SELECT 0, name, created, 0, 0 FROM invites"
	    " WHERE name IS NOT NULL AND used = 0"
	    " AND name NOT IN (SELECT name FROM accounts)"
	    " ORDER BY 2";
	struct accounts_cb l = { cb, arg };

	return each_row(impl(base), sql, "accounts list", account_row, &l);
}

static int
login_one(struct store_sqlite *ss, struct store_login *l)
{
	sqlite3_stmt *s = st(ss, S_LOGIN_GET);
	uint64_t g[3] = { 0, 0, 0 };
	int rc, r;

	sqlite3_bind_int64(s, 1, l->account);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		for (int i = 0; i < 3; i++)
			g[i] = (uint64_t)sqlite3_column_int64(s, i);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return map_rc(ss->db, rc, "login get");
	if ((l->result = store_login_step(g, l->presented, &l->next)) != 0)
		return 0;
	s = st(ss, S_LOGIN_PUT);
	sqlite3_bind_int64(s, 1, l->account);
	for (int i = 0; i < 3; i++)
		sqlite3_bind_int64(s, i + 2, (sqlite3_int64)g[i]);
	if ((r = run(ss, s, "login put")) != 0)
		return r;
	return 0;
}

static int
sq_logins_commit(struct server_store *base, struct store_login *v, size_t n)
{
	struct store_sqlite *ss = impl(base);
	int r;

	if ((r = begin(ss)) != 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if ((r = login_one(ss, &v[i])) != 0)
			goto out;
	r = commit(ss);
out:
	if (r != 0)
		rollback(ss);
	return r;
}

/* The single integer a statement bound to account answers (*found 0: no row). */
static int
account_int(struct store_sqlite *ss, enum stmt_id id, int64_t account, int64_t *v,
    int *found, const char *what)
{
	sqlite3_stmt *s = st(ss, id);
	int rc, r = 0;

	*v = 0;
	*found = 0;
	sqlite3_bind_int64(s, 1, account);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int64(s, 0);
		*found = 1;
	} else if (rc != SQLITE_DONE) {
		r = map_rc(ss->db, rc, what);
	}
	sqlite3_reset(s);
	return r;
}

static int
count_otpk(struct store_sqlite *ss, int64_t account, uint32_t *n)
{
	int64_t v;
	int found, r = account_int(ss, S_OTPK_COUNT, account, &v, &found, "prekey count");

	*n = (uint32_t)v;
	return r;
}

static int
count_kem(struct store_sqlite *ss, int64_t account, uint32_t *n)
{
	int64_t v;
	int found, r = account_int(ss, S_KEM_COUNT, account, &v, &found, "kem prekey count");

	*n = (uint32_t)v;
	return r;
}

static int
count_prekeys(struct store_sqlite *ss, int64_t account, uint32_t *n)
{
	uint32_t kem = 0;
	int64_t v;
	int has_lr = 0, r;

	if ((r = count_otpk(ss, account, n)) != 0 ||
	    (r = account_int(ss, S_KEM_HAS_LR, account, &v, &has_lr, "kem last resort")) != 0)
		return r;
	if (!has_lr)
		return 0;
	if ((r = count_kem(ss, account, &kem)) != 0)
		return r;
	if (kem < *n)
		*n = kem;
	return 0;
}

static int
put_kem(struct store_sqlite *ss, int64_t account, const struct store_kem_prekey *k,
    int last_resort)
{
	sqlite3_stmt *s = st(ss, S_KEM_PUT);

	sqlite3_bind_int64(s, 1, account);
	sqlite3_bind_int64(s, 2, k->id);
	sqlite3_bind_blob(s, 3, k->key, STORE_KEM_KEY_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, k->sig, STORE_SIG_LEN, SQLITE_STATIC);
	sqlite3_bind_int(s, 5, last_resort);
	return run(ss, s, "kem prekey put");
}

/* The ML-KEM part of prekeys_put, inside its transaction. */
static int
put_kem_upload(struct store_sqlite *ss, int64_t account, const struct store_kem_upload *kem,
    uint32_t max)
{
	sqlite3_stmt *s;
	uint32_t have = 0;
	int r;

	if (kem->last_resort != NULL) {
		s = st(ss, S_KEM_LR_DROP);
		sqlite3_bind_int64(s, 1, account);
		if ((r = run(ss, s, "kem last resort drop")) != 0 ||
		    (r = put_kem(ss, account, kem->last_resort, 1)) != 0)
			return r;
	}
	for (size_t i = 0; i < kem->n; i++)
		if ((r = put_kem(ss, account, &kem->onetime[i], 0)) != 0)
			return r;
	if ((r = count_kem(ss, account, &have)) != 0)
		return r;
	return have > max ? SOTTO_ERR_LIMIT : 0;
}

static int
sq_prekeys_put(struct server_store *base, int64_t account, const struct store_signed_prekey *spk,
    const struct store_prekey *otpks, size_t n, const struct store_kem_upload *kem,
    uint32_t max)
{
	struct store_sqlite *ss = impl(base);
	sqlite3_stmt *s;
	uint32_t have = 0;
	int r;

	if ((r = begin(ss)) != 0)
		return r;
	if (spk != NULL) {
		s = st(ss, S_SPK_PUT);
		sqlite3_bind_int64(s, 1, account);
		sqlite3_bind_int64(s, 2, spk->id);
		sqlite3_bind_blob(s, 3, spk->key, SERVER_STORE_KEY_LEN, SQLITE_STATIC);
		sqlite3_bind_blob(s, 4, spk->sig, STORE_SIG_LEN, SQLITE_STATIC);
		if ((r = run(ss, s, "signed prekey put")) != 0)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		s = st(ss, S_OTPK_PUT);
		sqlite3_bind_int64(s, 1, account);
		sqlite3_bind_int64(s, 2, otpks[i].id);
		sqlite3_bind_blob(s, 3, otpks[i].key, SERVER_STORE_KEY_LEN, SQLITE_STATIC);
		if ((r = run(ss, s, "prekey put")) != 0)
			goto out;
	}
	if ((r = count_otpk(ss, account, &have)) != 0)
		goto out;
	if (have > max) {
		r = SOTTO_ERR_LIMIT;
		goto out;
	}
	if (kem != NULL && (r = put_kem_upload(ss, account, kem, max)) != 0)
		goto out;
	r = commit(ss);
out:
	if (r != 0)
		rollback(ss);
	return r;
}

/* The bundle's ML-KEM prekey: the oldest one-time one, deleted as it is read, else the
 * last-resort one, kept. Inside bundle_take's transaction. */
static int
take_kem(struct store_sqlite *ss, int64_t account, struct store_bundle *out)
{
	sqlite3_stmt *s = st(ss, S_KEM_FIRST);
	int rc, r = 0;

	sqlite3_bind_int64(s, 1, account);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->has_kem = 1;
		out->kem.id = (uint32_t)sqlite3_column_int64(s, 0);
		out->kem_last_resort = sqlite3_column_int(s, 3) != 0;
		if ((r = blob_copy(s, 1, out->kem.key, STORE_KEM_KEY_LEN)) == 0)
			r = blob_copy(s, 2, out->kem.sig, STORE_SIG_LEN);
	} else if (rc != SQLITE_DONE) {
		r = map_rc(ss->db, rc, "kem prekey take");
	}
	sqlite3_reset(s);
	if (r != 0 || !out->has_kem || out->kem_last_resort)
		return r;
	s = st(ss, S_KEM_DEL);
	sqlite3_bind_int64(s, 1, account);
	sqlite3_bind_int64(s, 2, out->kem.id);
	return run(ss, s, "kem prekey delete");
}

static int
sq_bundle_take(struct server_store *base, int64_t account, struct store_bundle *out)
{
	struct store_sqlite *ss = impl(base);
	sqlite3_stmt *s;
	int rc, r;

	memset(out, 0, sizeof(*out));
	if ((r = begin(ss)) != 0)
		return r;
	s = st(ss, S_ACCOUNT_BY_ID);
	sqlite3_bind_int64(s, 1, account);
	if ((r = read_account(ss, s, &out->account)) != 0)
		goto out;
	s = st(ss, S_SPK_GET);
	sqlite3_bind_int64(s, 1, account);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? SOTTO_ERR_NOT_FOUND : map_rc(ss->db, rc, "spk get");
		sqlite3_reset(s);
		goto out;
	}
	out->spk.id = (uint32_t)sqlite3_column_int64(s, 0);
	r = blob_copy(s, 1, out->spk.key, SERVER_STORE_KEY_LEN);
	if (r == 0)
		r = blob_copy(s, 2, out->spk.sig, STORE_SIG_LEN);
	sqlite3_reset(s);
	if (r != 0)
		goto out;
	s = st(ss, S_OTPK_FIRST);
	sqlite3_bind_int64(s, 1, account);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->has_otpk = 1;
		out->otpk.id = (uint32_t)sqlite3_column_int64(s, 0);
		r = blob_copy(s, 1, out->otpk.key, SERVER_STORE_KEY_LEN);
	} else if (rc != SQLITE_DONE) {
		r = map_rc(ss->db, rc, "prekey take");
	}
	sqlite3_reset(s);
	if (r != 0)
		goto out;
	if (out->has_otpk) {
		/* Handed out once: deleted in the same transaction that read it. */
		s = st(ss, S_OTPK_DEL);
		sqlite3_bind_int64(s, 1, account);
		sqlite3_bind_int64(s, 2, out->otpk.id);
		if ((r = run(ss, s, "prekey delete")) != 0)
			goto out;
	}
	if ((r = take_kem(ss, account, out)) != 0)
		goto out;
	if ((r = count_prekeys(ss, account, &out->remaining)) != 0)
		goto out;
	r = commit(ss);
out:
	if (r != 0)
		rollback(ss);
	return r;
}

static int
sq_prekey_count(struct server_store *base, int64_t account, uint32_t *n)
{
	return count_prekeys(impl(base), account, n);
}

static int
pending_get(struct store_sqlite *ss, int64_t account, uint64_t have[Q__COUNT])
{
	sqlite3_stmt *s = st(ss, S_PENDING_GET);
	int rc, r = 0;

	sqlite3_bind_int64(s, 1, account);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		for (int i = 0; i < Q__COUNT; i++)
			have[i] = (uint64_t)sqlite3_column_int64(s, i);
	else
		r = rc == SQLITE_DONE ? SOTTO_ERR_NOT_FOUND : map_rc(ss->db, rc, "pending");
	sqlite3_reset(s);
	return r;
}

static int
pending_add(struct store_sqlite *ss, int64_t account, const int64_t delta[Q__COUNT])
{
	sqlite3_stmt *s = st(ss, S_PENDING_ADD);

	sqlite3_bind_int64(s, 1, account);
	for (int i = 0; i < Q__COUNT; i++)
		sqlite3_bind_int64(s, 2 + i, delta[i]);
	return run(ss, s, "pending update");
}

static size_t
pend_hash(int64_t recipient, size_t cap)
{
	uint64_t v = (uint64_t)recipient * 0x9e3779b97f4a7c15ull;

	return (size_t)(v >> 32) & (cap - 1);
}

/* Empties the transaction's entries and their index. */
static void
pending_clear(struct store_sqlite *ss)
{
	for (size_t i = 0; i < ss->n_pend; i++)
		ss->pend_idx[ss->pend[i].slot] = 0;
	ss->n_pend = 0;
}

static int
pending_grow(struct store_sqlite *ss)
{
	size_t cap = ss->cap_pend ? ss->cap_pend * 2 : 64, k;
	struct pending_entry *np;
	uint32_t *ni;

	if (cap > UINT32_MAX / 4)
		return SOTTO_ERR_NOMEM;
	if ((np = realloc(ss->pend, cap * sizeof(*ss->pend))) == NULL)
		return SOTTO_ERR_NOMEM;
	ss->pend = np;
	if ((ni = calloc(cap * 2, sizeof(*ni))) == NULL)
		return SOTTO_ERR_NOMEM;
	free(ss->pend_idx);
	ss->pend_idx = ni;
	ss->idx_cap = cap * 2;
	ss->cap_pend = cap;
	for (size_t i = 0; i < ss->n_pend; i++) {
		k = pend_hash(ss->pend[i].recipient, ss->idx_cap);
		while (ss->pend_idx[k] != 0)
			k = (k + 1) & (ss->idx_cap - 1);
		ss->pend_idx[k] = (uint32_t)i + 1;
		ss->pend[i].slot = k;
	}
	return 0;
}

/* The transaction's entry for an account, reading its counters on first use. NULL with *r
 * set on error (SOTTO_ERR_NOT_FOUND for an unknown account). A later call may move the
 * entries: keep none across one. */
static struct pending_entry *
pending_entry(struct store_sqlite *ss, int64_t recipient, int *r)
{
	struct pending_entry *e;
	uint64_t have[Q__COUNT] = { 0 };
	size_t k;

	if (ss->n_pend == ss->cap_pend && (*r = pending_grow(ss)) != 0)
		return NULL;
	k = pend_hash(recipient, ss->idx_cap);
	for (; ss->pend_idx[k] != 0; k = (k + 1) & (ss->idx_cap - 1))
		if (ss->pend[ss->pend_idx[k] - 1].recipient == recipient)
			return &ss->pend[ss->pend_idx[k] - 1];
	if ((*r = pending_get(ss, recipient, have)) != 0)
		return NULL;
	e = &ss->pend[ss->n_pend];
	ss->pend_idx[k] = (uint32_t)++ss->n_pend;
	e->recipient = recipient;
	memcpy(e->have, have, sizeof(e->have));
	memset(e->delta, 0, sizeof(e->delta));
	e->slot = k;
	return e;
}

static int
pending_flush(struct store_sqlite *ss)
{
	static const int64_t zero[Q__COUNT];
	int r = 0;

	for (size_t i = 0; i < ss->n_pend && r == 0; i++)
		if (memcmp(ss->pend[i].delta, zero, sizeof(zero)) != 0)
			r = pending_add(ss, ss->pend[i].recipient, ss->pend[i].delta);
	pending_clear(ss);
	return r;
}

/* An envelope of len bytes enters (sign 1) or leaves (-1) a mailbox. */
static int
pending_move(struct store_sqlite *ss, int64_t recipient, size_t len, int sign)
{
	struct pending_entry *pe;
	int r;

	if ((pe = pending_entry(ss, recipient, &r)) == NULL)
		return r;
	pe->delta[Q_MBOX_N] += sign;
	pe->delta[Q_MBOX_BYTES] += sign * (int64_t)len;
	return 0;
}

/* 1 if one more of len bytes stays within (have + delta, max); a max of 0 is no limit. */
static int
within(const struct pending_entry *pe, int n, int bytes, uint64_t max_n, uint64_t max_bytes,
    size_t len)
{
	uint64_t cn = pe->have[n] + (uint64_t)pe->delta[n];
	uint64_t cb = pe->have[bytes] + (uint64_t)pe->delta[bytes];

	return (max_n == 0 || cn < max_n) && (max_bytes == 0 || cb + len <= max_bytes);
}

/* Records key -> env_id; *added 0 if a record of that key exists. */
static int
sent_put(struct store_sqlite *ss, const uint8_t key[STORE_IDEM_LEN], int64_t env_id,
    int64_t now, int *added)
{
	sqlite3_stmt *s = st(ss, S_SENT_PUT);
	int r;

	sqlite3_bind_blob(s, 1, key, STORE_IDEM_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, env_id);
	sqlite3_bind_int64(s, 3, now);
	if ((r = run(ss, s, "sent put")) != 0)
		return r;
	*added = sqlite3_changes(ss->db) > 0;
	return 0;
}

/* 1 if e (its record's key) repeats a recorded SEND (e->env_id is then the first one's),
 * 0 if not, or an error (< 0). */
static int
sent_find(struct store_sqlite *ss, struct store_send *e, const uint8_t key[STORE_IDEM_LEN])
{
	sqlite3_stmt *s = st(ss, S_SENT_GET);
	int rc;

	sqlite3_bind_blob(s, 1, key, STORE_IDEM_LEN, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		e->env_id = sqlite3_column_int64(s, 0);
		e->duplicate = 1;
	}
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : map_rc(ss->db, rc, "sent get");
}

/*
 * Room for e in its recipient's mailbox: 1, or 0 with e->result set, or an error (< 0).
 * The counters are read once per account and transaction.
 */
static int
quota_room(struct store_sqlite *ss, struct store_send *e)
{
	struct pending_entry *pe;
	int r;

	if ((pe = pending_entry(ss, e->recipient, &r)) == NULL) {
		if (r != SOTTO_ERR_NOT_FOUND)
			return r;
		e->result = SOTTO_ERR_NOT_FOUND;
		return 0;
	}
	/* mailbox_max 0 keeps its old meaning: no room at all. */
	if (pe->have[Q_MBOX_N] + (uint64_t)pe->delta[Q_MBOX_N] >= e->mailbox_max ||
	    !within(pe, Q_MBOX_N, Q_MBOX_BYTES, 0, e->mailbox_max_bytes, e->len)) {
		e->result = SOTTO_ERR_MAILBOX_FULL;
		return 0;
	}
	return 1;
}

static int
envelope_put(struct store_sqlite *ss, struct store_send *e, const uint8_t key[STORE_IDEM_LEN])
{
	sqlite3_stmt *s = st(ss, S_ENV_PUT);
	int r;

	if (e->env_id > 0)
		sqlite3_bind_int64(s, 1, e->env_id);
	sqlite3_bind_int64(s, 2, e->recipient);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)e->ts);
	sqlite3_bind_blob(s, 4, e->data, (int)e->len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 5, key, STORE_IDEM_LEN, SQLITE_STATIC);
	if ((r = run(ss, s, "envelope put")) != 0)
		return r;
	e->env_id = sqlite3_last_insert_rowid(ss->db);
	return pending_move(ss, e->recipient, e->len, 1);
}

/*
 * One SEND inside the open transaction. With its id given on arrival (sottod), the
 * idempotency record is inserted first and finds a retry by the insert's own lookup: one
 * B-tree descent per SEND instead of a lookup and then an insert. A retry is answered
 * as the first SEND was, even if the mailbox has filled up since.
 */
static int
store_one(struct store_sqlite *ss, struct store_send *e, int64_t now, int64_t *skipped_max)
{
	uint8_t key[STORE_IDEM_LEN];
	int64_t want_id = e->env_id;
	int r, added;

	e->result = 0;
	e->duplicate = 0;
	store_idem_key(key, e->recipient, e->cmid);
	if (want_id <= 0) {
		/* No id yet: the envelope's insert gives it, then the record. */
		if ((r = sent_find(ss, e, key)) != 0)
			return r > 0 ? 0 : r;
		if ((r = quota_room(ss, e)) <= 0)
			return r;
		if ((r = envelope_put(ss, e, key)) != 0 ||
		    (r = sent_put(ss, key, e->env_id, now, &added)) != 0)
			return r;
		return 0;
	}
	if (e->skip_envelope) {
		/* Already stored by its recipient: nothing is kept but its id, never to be used
		 * again. A retry of it is stored and pushed again, and the recipient's client
		 * drops it by message id. */
		if (want_id > *skipped_max)
			*skipped_max = want_id;
		return 0;
	}
	if ((r = quota_room(ss, e)) < 0)
		return r;
	if (r == 0) {
		/* Full (or no such account): unless this is a retry of a stored SEND. */
		if ((r = sent_find(ss, e, key)) < 0)
			return r;
		if (r > 0)
			e->result = 0;
		return 0;
	}
	if ((r = sent_put(ss, key, want_id, now, &added)) != 0)
		return r;
	if (!added) {
		if ((r = sent_find(ss, e, key)) < 0)
			return r;
		return r > 0 ? 0 : SOTTO_ERR_INTERNAL;
	}
	return envelope_put(ss, e, key);
}

/* The sends inside the open transaction; on error the caller rolls back. */
static int
sends_body(struct store_sqlite *ss, struct store_send *sends, size_t n)
{
	int64_t now = (int64_t)time(NULL), skipped_max = 0;
	sqlite3_stmt *s;
	int r;

	for (size_t i = 0; i < n; i++) {
		/* A duplicate inside the same batch finds the first one's row here too. */
		if ((r = store_one(ss, &sends[i], now, &skipped_max)) != 0)
			return r;
	}
	if (skipped_max > 0) {
		s = st(ss, S_IDMAX_PUT);
		sqlite3_bind_int64(s, 1, skipped_max);
		if ((r = run(ss, s, "envelope id max")) != 0)
			return r;
	}
	return pending_flush(ss);
}

static void
sends_failed(struct store_send *sends, size_t n, int r)
{
	for (size_t i = 0; i < n; i++) {
		sends[i].result = r;
		sends[i].env_id = 0;
	}
}

static int
sq_envelopes_commit(struct server_store *base, struct store_send *sends, size_t n)
{
	struct store_sqlite *ss = impl(base);
	int r;

	if ((r = begin(ss)) != 0)
		goto out;
	if ((r = sends_body(ss, sends, n)) != 0)
		goto out;
	r = commit(ss);
out:
	pending_clear(ss);
	if (r != 0) {
		rollback(ss);
		sends_failed(sends, n, r);
	}
	return r;
}

void
store_envelopes_free(struct store_envelope *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].data);
		e[i].data = NULL;
	}
}

static int
sq_envelopes_list(struct server_store *base, int64_t recipient, int64_t after,
    struct store_envelope *out, size_t max, size_t *n_out)
{
	struct store_sqlite *ss = impl(base);
	sqlite3_stmt *s = st(ss, S_ENV_LIST);
	size_t n = 0;
	int rc, r = 0;

	*n_out = 0;
	sqlite3_bind_int64(s, 1, recipient);
	sqlite3_bind_int64(s, 2, after);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)max);
	while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		size_t len = (size_t)sqlite3_column_bytes(s, 2);
		const void *p = sqlite3_column_blob(s, 2);

		out[n].id = sqlite3_column_int64(s, 0);
		out[n].ts = (uint64_t)sqlite3_column_int64(s, 1);
		out[n].len = len;
		if ((out[n].data = malloc(len ? len : 1)) == NULL) {
			r = SOTTO_ERR_NOMEM;
			break;
		}
		if (len)
			memcpy(out[n].data, p, len);
		n++;
	}
	if (r == 0 && n < max && rc != SQLITE_DONE)
		r = map_rc(ss->db, rc, "envelope list");
	sqlite3_reset(s);
	if (r != 0) {
		store_envelopes_free(out, n);
		return r;
	}
	*n_out = n;
	return 0;
}

/* One RECEIVED envelope: it, its idempotency record, and its share of the mailbox's
 * quota. Its size and record come with d when the loop knew them (a SEND whose commit was
 * still running: the common case under load), else from the envelope's row. */
static int
del_one(struct store_sqlite *ss, const struct store_del *d)
{
	sqlite3_stmt *s;
	uint8_t key[STORE_IDEM_LEN];
	size_t len = d->len;
	int rc, r, keyed = d->known;

	if (d->known) {
		store_idem_key(key, d->recipient, d->cmid);
	} else {
		s = st(ss, S_ENV_OWNER);
		sqlite3_bind_int64(s, 1, d->recipient);
		sqlite3_bind_int64(s, 2, d->id);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			keyed = blob_copy(s, 0, key, sizeof(key)) == 0;
			len = (size_t)sqlite3_column_int64(s, 1);
		}
		r = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 :
		    map_rc(ss->db, rc, "envelope owner");
		sqlite3_reset(s);
		if (r != 0 || rc == SQLITE_DONE)
			return r;
	}
	s = st(ss, S_ENV_DEL);
	sqlite3_bind_int64(s, 1, d->recipient);
	sqlite3_bind_int64(s, 2, d->id);
	if ((r = run(ss, s, "envelope delete")) != 0)
		return r;
	/* Known from the loop, it may never have been stored (its commit failed). */
	if (sqlite3_changes(ss->db) == 0)
		return 0;
	if (keyed) {
		/* An envelope whose record was not rekeyed by the migration to schema 10 names
		 * none: sent_retention ends it. */
		s = st(ss, S_SENT_DEL);
		sqlite3_bind_blob(s, 1, key, sizeof(key), SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, d->id);
		if ((r = run(ss, s, "sent delete")) != 0)
			return r;
	}
	/* The recipient exists: it had the envelope just deleted. */
	return pending_move(ss, d->recipient, len, -1);
}

/* The deletes inside the open transaction; on error the caller rolls back. */
static int
dels_body(struct store_sqlite *ss, const struct store_del *d, size_t n)
{
	int r;

	for (size_t i = 0; i < n; i++)
		if ((r = del_one(ss, &d[i])) != 0)
			return r;
	return pending_flush(ss);
}

static int
sq_envelopes_delete(struct server_store *base, const struct store_del *d, size_t n)
{
	struct store_sqlite *ss = impl(base);
	int r;

	if ((r = begin(ss)) != 0)
		return r;
	if ((r = dels_body(ss, d, n)) == 0)
		r = commit(ss);
	pending_clear(ss);
	if (r != 0)
		rollback(ss);
	return r;
}

/*
 * Deletes and sends of one group commit in one transaction: one commit (and one fsync)
 * instead of two. If anything fails, nothing of it is kept and the two are retried in
 * their own transactions, so that a batch of sends that cannot be stored (disk or
 * database full) never holds back the deletes that free space.
 */
static int
sq_envelopes_apply(struct server_store *base, const struct store_del *d, size_t nd,
    struct store_send *sends, size_t ns, int *del_result)
{
	struct store_sqlite *ss = impl(base);
	int r;

	if ((r = begin(ss)) != 0)
		goto fallback;
	if ((r = dels_body(ss, d, nd)) != 0 || (r = sends_body(ss, sends, ns)) != 0 ||
	    (r = commit(ss)) != 0) {
		pending_clear(ss);
		rollback(ss);
		goto fallback;
	}
	*del_result = 0;
	return 0;
fallback:
	*del_result = nd > 0 ? sq_envelopes_delete(base, d, nd) : 0;
	return ns > 0 ? sq_envelopes_commit(base, sends, ns) : 0;
}

static int
sq_mailbox_count(struct server_store *base, int64_t recipient, uint64_t *n)
{
	uint64_t have[Q__COUNT];
	int r;

	if ((r = pending_get(impl(base), recipient, have)) == 0)
		*n = have[Q_MBOX_N];
	return r;
}

static int
sq_envelopes_max_id(struct server_store *base, int64_t *out)
{
	struct store_sqlite *ss = impl(base);
	sqlite3_stmt *s = st(ss, S_IDMAX_GET);
	int rc = sqlite3_step(s);

	*out = 0;
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 0 : map_rc(ss->db, rc, "envelope id max");
}

static int
sq_envelope_ids_reserve(struct server_store *base, int64_t floor, int64_t count,
    int64_t *first)
{
	int64_t max;
	int r;

	(void)count;
	*first = 0;
	if ((r = sq_envelopes_max_id(base, &max)) != 0)
		return r;
	*first = (max > floor ? max : floor) + 1;
	return 0;
}

static int
sq_sent_get(struct server_store *base, int64_t recipient, const uint8_t cmid[STORE_CMID_LEN],
    int64_t *env_id)
{
	struct store_sqlite *ss = impl(base);
	sqlite3_stmt *s = st(ss, S_SENT_GET);
	uint8_t key[STORE_IDEM_LEN];
	int rc, r;

	*env_id = 0;
	store_idem_key(key, recipient, cmid);
	sqlite3_bind_blob(s, 1, key, sizeof(key), SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*env_id = sqlite3_column_int64(s, 0);
	r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? SOTTO_ERR_NOT_FOUND :
	    map_rc(ss->db, rc, "sent get");
	sqlite3_reset(s);
	return r;
}

/*
 * One step of a walk through the idempotency records in key order. Walking the key order
 * needs no index on their time, which every SEND would have to update. Before the first
 * record the cursor binds as an empty blob, less than any key.
 */
static int
sq_sent_prune(struct server_store *base, int64_t before, size_t max, struct store_sent_key *cursor,
    int *done, size_t *n_out)
{
	struct store_sqlite *ss = impl(base);
	sqlite3_stmt *e = st(ss, S_SENT_SCAN_END), *d = st(ss, S_SENT_PRUNE);
	struct store_sent_key end;
	int rc, r = 0, last, from;

	*n_out = 0;
	*done = 0;
	if (max == 0)
		return SOTTO_ERR_INVALID_ARG;
	memset(&end, 0, sizeof(end));
	if ((r = begin(ss)) != 0)
		return r;
	from = cursor->set ? STORE_IDEM_LEN : 0;
	sqlite3_bind_blob(e, 1, cursor->key, from, SQLITE_STATIC);
	sqlite3_bind_int64(e, 2, (sqlite3_int64)max - 1);
	rc = sqlite3_step(e);
	last = rc == SQLITE_DONE;
	if (rc == SQLITE_ROW && sqlite3_column_bytes(e, 0) == STORE_IDEM_LEN) {
		memcpy(end.key, sqlite3_column_blob(e, 0), STORE_IDEM_LEN);
		end.set = 1;
	} else if (rc == SQLITE_ROW) {
		r = SOTTO_ERR_CORRUPT;
	} else if (rc != SQLITE_DONE) {
		r = map_rc(ss->db, rc, "sent scan");
	}
	sqlite3_reset(e);
	if (r == 0) {
		sqlite3_bind_blob(d, 1, cursor->key, from, SQLITE_STATIC);
		sqlite3_bind_blob(d, 2, end.key, last ? 0 : STORE_IDEM_LEN, SQLITE_STATIC);
		sqlite3_bind_int(d, 3, last);
		sqlite3_bind_int64(d, 4, before);
		if ((r = run(ss, d, "sent prune")) == 0) {
			*n_out = (size_t)sqlite3_changes(ss->db);
			r = commit(ss);
		}
	}
	if (r != 0) {
		rollback(ss);
		*n_out = 0;
		return r;
	}
	if (last) {
		memset(cursor, 0, sizeof(*cursor));
		*done = 1;
	} else {
		*cursor = end;
	}
	return 0;
}

static void *
ckpt_main(void *arg)
{
	struct ckpt *ck = arg;
	int rc;

	pthread_mutex_lock(&ck->mu);
	for (;;) {
		while (!ck->want && !ck->stop)
			pthread_cond_wait(&ck->cv, &ck->mu);
		if (ck->stop)
			break;
		ck->want = 0;
		pthread_mutex_unlock(&ck->mu);
		/* PASSIVE: copies what it can without blocking the writer or readers. */
		rc = sqlite3_wal_checkpoint_v2(ck->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			log_warn("store: checkpoint: %s", sqlite3_errstr(rc));
		pthread_mutex_lock(&ck->mu);
	}
	pthread_mutex_unlock(&ck->mu);
	return NULL;
}

/* After each commit of the writer: wake the checkpoint thread when the WAL is long. */
static int
on_wal(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct ckpt *ck = arg;

	if (pages >= CKPT_INLINE_PAGES)
		(void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	else if (pages >= CKPT_PAGES) {
		pthread_mutex_lock(&ck->mu);
		ck->want = 1;
		pthread_cond_signal(&ck->cv);
		pthread_mutex_unlock(&ck->mu);
	}
	return SQLITE_OK;
}

static void
ckpt_stop(struct store_sqlite *ss)
{
	struct ckpt *ck = ss->ck;

	if (ck == NULL)
		return;
	sqlite3_wal_hook(ss->db, NULL, NULL);
	pthread_mutex_lock(&ck->mu);
	ck->stop = 1;
	pthread_cond_signal(&ck->cv);
	pthread_mutex_unlock(&ck->mu);
	pthread_join(ck->thread, NULL);
	sqlite3_close(ck->db);
	pthread_mutex_destroy(&ck->mu);
	pthread_cond_destroy(&ck->cv);
	free(ck);
	ss->ck = NULL;
}

/* Moves checkpoints to a thread; on any failure the writer keeps SQLite's own. */
static void
ckpt_start(struct store_sqlite *ss, const char *path)
{
	struct ckpt *ck;

	if ((ck = calloc(1, sizeof(*ck))) == NULL)
		return;
	/* The connection must have seen the database in WAL mode to checkpoint it. */
	if (sqlite3_open_v2(path, &ck->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK || exec(ck->db, "PRAGMA journal_mode=WAL", "wal") != 0) {
		log_warn("store: no checkpoint thread: %s", sqlite3_errmsg(ck->db));
		sqlite3_close(ck->db);
		free(ck);
		return;
	}
	pthread_mutex_init(&ck->mu, NULL);
	pthread_cond_init(&ck->cv, NULL);
	if (pthread_create(&ck->thread, NULL, ckpt_main, ck) != 0) {
		log_warn("store: no checkpoint thread: cannot start it");
		sqlite3_close(ck->db);
		pthread_mutex_destroy(&ck->mu);
		pthread_cond_destroy(&ck->cv);
		free(ck);
		return;
	}
	ss->ck = ck;
	/* Replaces the automatic checkpoint (sqlite3_wal_autocheckpoint uses this hook). */
	sqlite3_wal_hook(ss->db, on_wal, ck);
}

static void
sq_close(struct server_store *base)
{
	struct store_sqlite *ss = impl(base);

	ckpt_stop(ss);
	sqg_free(ss->grp);
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(ss->st[i]);
	sqlite3_close(ss->db);
	free(ss->pend);
	free(ss->pend_idx);
	free(ss);
}

static const struct store_ops sqlite_ops = {
	.close = sq_close,
	.account_create = sq_account_create,
	.account_by_device = sq_account_by_device,
	.account_by_name = sq_account_by_name,
	.invite_add = sq_invite_add,
	.invites_list = sq_invites_list,
	.stats = sq_stats,
	.backup = sq_backup,
	.domain_claim = sq_domain_claim,
	.invite_revoke = sq_invite_revoke,
	.account_reset = sq_account_reset,
	.accounts_list = sq_accounts_list,
	.logins_commit = sq_logins_commit,
	.prekeys_put = sq_prekeys_put,
	.bundle_take = sq_bundle_take,
	.prekey_count = sq_prekey_count,
	.envelopes_commit = sq_envelopes_commit,
	.envelopes_list = sq_envelopes_list,
	.envelopes_delete = sq_envelopes_delete,
	.envelopes_apply = sq_envelopes_apply,
	.mailbox_count = sq_mailbox_count,
	.envelopes_max_id = sq_envelopes_max_id,
	.envelope_ids_reserve = sq_envelope_ids_reserve,
	.sent_get = sq_sent_get,
	.sent_prune = sq_sent_prune,
	.key_packages_put = sqg_key_packages_put,
	.key_package_take = sqg_key_package_take,
	.key_package_count = sqg_key_package_count,
	.groups_apply = sqg_groups_apply,
	.group_memberships = sqg_group_memberships,
	.group_entries = sqg_group_entries,
	.group_welcome = sqg_group_welcome,
	.blob_put = sqb_blob_put,
	.blob_get = sqb_blob_get,
	.blob_usage = sqb_blob_usage,
	.blob_done = sqb_blob_done,
	.blob_expired = sqb_blob_expired,
	.blob_delete = sqb_blob_delete,
	.delivery_set = sq_delivery_set,
};

static int
exec(sqlite3 *db, const char *sql, const char *what)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : map_rc(db, rc, what);
}

/* 1 if the database holds our schema at SCHEMA_VERSION, 0 if it has no tables at all. */
static int
schema_version(sqlite3 *db, int64_t *version)
{
	sqlite3_stmt *s = NULL;
	int rc, r;

	*version = -1;
	rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return map_rc(db, rc, "open");
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		r = map_rc(db, rc, "open");
		sqlite3_finalize(s);
		return r;
	}
	if (sqlite3_column_int64(s, 0) == 0) {
		sqlite3_finalize(s);
		*version = 0;
		return 0;
	}
	sqlite3_finalize(s);
	rc = sqlite3_prepare_v2(db, "SELECT v FROM meta WHERE k = 'schema'", -1, &s, NULL);
	if (rc != SQLITE_OK) {
		log_error("store: not a sottod database: %s", sqlite3_errmsg(db));
		return SOTTO_ERR_CORRUPT;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return 0;
}

static int
integrity_ok(sqlite3 *db)
{
	sqlite3_stmt *s = NULL;
	int ok = 0;

	if (sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &s, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(s) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(s, 0);
		ok = t != NULL && strcmp((const char *)t, "ok") == 0;
		if (!ok)
			log_error("store: integrity check failed: %s", t ? (const char *)t : "?");
	}
	sqlite3_finalize(s);
	return ok;
}

/* Pages in use, from PRAGMA page_count minus the free list; 0 if unknown. */
static uint64_t
pages_used(sqlite3 *db)
{
	sqlite3_stmt *s = NULL;
	uint64_t n = 0;

	if (sqlite3_prepare_v2(db, "SELECT (SELECT page_count FROM pragma_page_count) -"
	    " (SELECT freelist_count FROM pragma_freelist_count)", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		n = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

static void
cap_warn(sqlite3 *db, const char *path, uint32_t max_pages)
{
	uint64_t used;

	if (max_pages == 0 || (used = pages_used(db)) < (uint64_t)max_pages / 10 * 9)
		return;
	log_warn("store: %s: %llu of db_max_pages %u pages in use: SENDs are refused with "
	    "'server full' once it is reached; raise db_max_pages if the disk has room", path,
	    (unsigned long long)used, max_pages);
}

/* One step of the schema (sql records its version) in its own transaction; what is
 * logged unless NULL. */
static int
schema_step(sqlite3 *db, const char *path, const char *what, const char *sql)
{
	int r;

	if (what != NULL)
		log_info("store: %s: migrating %s", path, what);
	if ((r = exec(db, "BEGIN IMMEDIATE", "migrate")) != 0)
		return r;
	if ((r = exec(db, sql, "migrate")) != 0 || (r = exec(db, "COMMIT", "migrate")) != 0) {
		(void)exec(db, "ROLLBACK", "migrate");
		return r;
	}
	if (what != NULL)
		log_info("store: %s: migrated %s", path, what);
	return 0;
}

/* Rekeys one old record into sent8 and names its key in its envelope's row. */
static int
rekey_record(sqlite3 *db, sqlite3_stmt *put, sqlite3_stmt *mark, sqlite3_stmt *row)
{
	uint8_t key[STORE_IDEM_LEN];
	int64_t env_id = sqlite3_column_int64(row, 2);

	/* A record of another length was never written by sottod: left behind. */
	if (sqlite3_column_bytes(row, 0) != STORE_CMID_LEN)
		return 0;
	store_idem_key(key, sqlite3_column_int64(row, 1), sqlite3_column_blob(row, 0));
	sqlite3_bind_blob(put, 1, key, sizeof(key), SQLITE_TRANSIENT);
	sqlite3_bind_int64(put, 2, env_id);
	sqlite3_bind_int64(put, 3, sqlite3_column_int64(row, 3));
	sqlite3_bind_blob(mark, 1, key, sizeof(key), SQLITE_TRANSIENT);
	sqlite3_bind_int64(mark, 2, env_id);
	if (sqlite3_step(put) != SQLITE_DONE || sqlite3_step(mark) != SQLITE_DONE)
		return map_rc(db, sqlite3_errcode(db), "migrate");
	sqlite3_reset(put);
	sqlite3_reset(mark);
	return 0;
}

/*
 * Schema 9 to 10 in one transaction (migrate_9_to_10_pre_sql above says what and why).
 * secure_delete for the transaction, so that the dropped sender columns and records are
 * overwritten with zeros in the pages they leave rather than kept in the free list; the
 * WAL that held them is truncated by the checkpoint after it. path NULL: a new database,
 * nothing logged.
 */
static int
migrate_9_to_10(sqlite3 *db, const char *path)
{
	sqlite3_stmt *row = NULL, *put = NULL, *mark = NULL;
	int rc, r;

	if (path != NULL)
		log_info("store: %s: migrating schema 9 to 10 (no sender in the idempotency "
		    "records and envelopes)", path);
	if ((r = exec(db, "PRAGMA secure_delete = ON", "migrate")) != 0)
		return r;
	if ((r = exec(db, "BEGIN IMMEDIATE", "migrate")) != 0)
		goto out;
	if ((r = exec(db, migrate_9_to_10_pre_sql, "migrate")) != 0)
		goto out;
	if (sqlite3_prepare_v2(db, migrate_9_to_10_rows_sql, -1, &row, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO sent8(key, env_id, created)"
	    " VALUES (?1, ?2, ?3)", -1, &put, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "UPDATE envelopes SET idem = ?1 WHERE id = ?2", -1, &mark,
	    NULL) != SQLITE_OK) {
		r = map_rc(db, sqlite3_errcode(db), "migrate");
		goto out;
	}
	while ((rc = sqlite3_step(row)) == SQLITE_ROW)
		if ((r = rekey_record(db, put, mark, row)) != 0)
			goto out;
	if (rc != SQLITE_DONE) {
		r = map_rc(db, rc, "migrate");
		goto out;
	}
	sqlite3_finalize(row);
	row = NULL;
	if ((r = exec(db, migrate_9_to_10_post_sql, "migrate")) != 0 ||
	    (r = exec(db, "COMMIT", "migrate")) != 0)
		goto out;
	(void)exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", "migrate");
	if (path != NULL)
		log_info("store: %s: migrated schema 9 to 10", path);
out:
	sqlite3_finalize(row);
	sqlite3_finalize(put);
	sqlite3_finalize(mark);
	if (r != 0)
		(void)exec(db, "ROLLBACK", "migrate");
	(void)exec(db, "PRAGMA secure_delete = OFF", "migrate");
	return r;
}

int
store_sqlite_open(struct server_store **out, const char *path, const struct store_open_opts *o)
{
	struct store_sqlite *ss = NULL;
	struct stat stb;
	int64_t version = -1;
	char pragma[96];
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	int exists, rc, r = SOTTO_ERR_STORAGE;

	*out = NULL;
	exists = stat(path, &stb) == 0;
	if (!exists && !o->create) {
		log_error("store: %s: no database", path);
		return SOTTO_ERR_NOT_FOUND;
	}
	if (exists && access(path, R_OK | W_OK) != 0) {
		log_error("store: %s: %s", path, strerror(errno));
		return SOTTO_ERR_IO;
	}
	if (!exists)
		flags |= SQLITE_OPEN_CREATE;
	if ((ss = calloc(1, sizeof(*ss))) == NULL)
		return SOTTO_ERR_NOMEM;
	ss->base.ops = &sqlite_ops;
	/* No global allocation statistics: each of SQLite's allocations would take a
	 * process-wide mutex for them. Refused (harmlessly) once SQLite is initialised. */
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	rc = sqlite3_open_v2(path, &ss->db, flags, NULL);
	if (rc != SQLITE_OK) {
		r = map_rc(ss->db, rc, "open");
		goto out;
	}
	sqlite3_extended_result_codes(ss->db, 0);
	sqlite3_busy_timeout(ss->db, 10000);
	if ((r = schema_version(ss->db, &version)) != 0)
		goto out;
	if (version == 0 && exists && stb.st_size > 0) {
		log_error("store: %s: not a sottod database", path);
		r = SOTTO_ERR_CORRUPT;
		goto out;
	}
	if (version == 0 && exists && !o->create) {
		log_error("store: %s: empty file, refusing to create a database in it", path);
		r = SOTTO_ERR_CORRUPT;
		goto out;
	}
	if (version > SCHEMA_VERSION) {
		log_error("store: %s: schema %lld is newer than this sottod", path,
		    (long long)version);
		r = SOTTO_ERR_BAD_VERSION;
		goto out;
	}
	if (version < 0) {
		log_error("store: %s: not a sottod database", path);
		r = SOTTO_ERR_CORRUPT;
		goto out;
	}
	if (version > 0 && !integrity_ok(ss->db)) {
		r = SOTTO_ERR_CORRUPT;
		goto out;
	}
	if ((r = exec(ss->db, "PRAGMA journal_mode=WAL", "wal")) != 0)
		goto out;
	snprintf(pragma, sizeof(pragma), "PRAGMA synchronous=%s",
	    o->durability_full ? "FULL" : "NORMAL");
	if ((r = exec(ss->db, pragma, "synchronous")) != 0)
		goto out;
	if ((r = exec(ss->db, "PRAGMA foreign_keys=ON", "pragma")) != 0)
		goto out;
	/* SQLite's default, 2 MiB, made the writer read pages from the kernel for most SENDs
	 * while idempotency records had random keys (schema 1); docs/SERVER.md. */
	snprintf(pragma, sizeof(pragma), "PRAGMA cache_size=-%u",
	    o->cache_kib > 0 ? o->cache_kib : STORE_CACHE_KIB_DEFAULT);
	if ((r = exec(ss->db, pragma, "cache_size")) != 0)
		goto out;
	if (o->max_pages > 0) {
		snprintf(pragma, sizeof(pragma), "PRAGMA max_page_count=%u", o->max_pages);
		if ((r = exec(ss->db, pragma, "max_page_count")) != 0)
			goto out;
	}
	/* A new database is made at schema 2 and brought up by the same steps as an old one. */
	if (version == 0 && (r = schema_step(ss->db, path, NULL, schema_sql)) != 0)
		goto out;
	if (version == 1 && (r = schema_step(ss->db, path,
	    "schema 1 to 2 (rewrites the idempotency records)", migrate_1_to_2_sql)) != 0)
		goto out;
	if (version < 3 && (r = schema_step(ss->db, path, version == 0 ? NULL :
	    "schema 2 to 3 (quota counters)", migrate_2_to_3_sql)) != 0)
		goto out;
	if (version < 4 && (r = schema_step(ss->db, path, version == 0 ? NULL :
	    "schema 3 to 4 (used invites are kept)", migrate_3_to_4_sql)) != 0)
		goto out;
	if (version < 5 && (r = schema_step(ss->db, path, version == 0 ? NULL :
	    "schema 4 to 5 (invites for a reset name, login generations)",
	    migrate_4_to_5_sql)) != 0)
		goto out;
	if (version < 6 && (r = schema_step(ss->db, path, version == 0 ? NULL :
	    "schema 5 to 6 (KeyPackages and groups)", migrate_5_to_6_sql)) != 0)
		goto out;
	if (version < 7 && (r = schema_step(ss->db, path, version == 0 ? NULL :
	    "schema 6 to 7 (ML-KEM prekeys)", migrate_6_to_7_sql)) != 0)
		goto out;
	if (version < 8 && (r = schema_step(ss->db, path, version == 0 ? NULL :
	    "schema 7 to 8 (blobs)", migrate_7_to_8_sql)) != 0)
		goto out;
	if (version < 9 && (r = schema_step(ss->db, path, version == 0 ? NULL :
	    "schema 8 to 9 (invites expire, have uses, can be revoked)",
	    migrate_8_to_9_sql)) != 0)
		goto out;
	if (version < 10 && (r = migrate_9_to_10(ss->db, version == 0 ? NULL : path)) != 0)
		goto out;
	if (version < 11 && (r = schema_step(ss->db, path, version == 0 ? NULL :
	    "schema 10 to 11 (delivery tokens)", migrate_10_to_11_sql)) != 0)
		goto out;
	if (version < 12 && (r = schema_step(ss->db, path, version == 0 ? NULL :
	    "schema 11 to 12 (group tokens)", migrate_11_to_12_sql)) != 0)
		goto out;
	for (int i = 0; i < S__COUNT; i++) {
		rc = sqlite3_prepare_v3(ss->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		    &ss->st[i], NULL);
		if (rc != SQLITE_OK) {
			log_error("store: schema mismatch: %s", sqlite3_errmsg(ss->db));
			r = SOTTO_ERR_CORRUPT;
			goto out;
		}
	}
	if (o->checkpoint_thread) {
		ckpt_start(ss, path);
		/* Once per start (the writer's handle): a database already near its cap (an
		 * older one that grew without the default cap) refuses SENDs soon. */
		cap_warn(ss->db, path, o->max_pages);
	}
	*out = &ss->base;
	ss = NULL;
	r = 0;
out:
	if (ss != NULL)
		sq_close(&ss->base);
	return r;
}
