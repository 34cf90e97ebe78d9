/*
 * The PostgreSQL backend of the storage interface (libpq), with the SQLite backend's
 * semantics: every write is one transaction, committed with synchronous_commit on before
 * the caller acknowledges anything; envelopes_commit stores a whole group commit at once.
 * Every statement is prepared once per connection and takes its data as bound parameters
 * (binary format); no SQL is ever built from data. Contended rows (an account's quota
 * counters, the id counters in meta) are read FOR UPDATE, so that two connections (sottod's
 * writer and an admin command) serialise on them instead of failing.
 *
 * Schema: the table schema_version holds the version; store_pg_open brings an older schema
 * up step by step, each step in its own transaction under an advisory lock (two processes
 * starting together migrate once).
 */
#include "server/store.h"

#include <endian.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/log.h"
#include "server/store_pg_int.h"

#define PG_SCHEMA_VERSION 8
/* pg_advisory_xact_lock key of schema migrations ("sotto" in ASCII). */
#define PG_MIGRATE_LOCK 0x736f74746fLL

enum stmt_id {
	P_BEGIN, P_COMMIT,
	P_INVITE_USE, P_INVITE_USED, P_INVITE_ADD, P_INVITE_RESERVED, P_INVITE_UNRESERVE,
	P_INVITE_RESERVE, P_DOMAIN_ADD, P_DOMAIN_GET, P_STATS, P_INVITES_LIST, P_INVITE_MATCHES, P_INVITE_REVOKE,
	P_ID_LOCK, P_ID_SET, P_ACCOUNT_ADD,
	P_ACCOUNT_BY_DEVICE, P_ACCOUNT_BY_NAME, P_ACCOUNT_BY_ID,
	P_RESET_SENT, P_RESET_ENV, P_RESET_PREKEYS, P_RESET_SPK, P_RESET_LOGINS,
	P_RESET_KPS, P_RESET_GROUPS, P_RESET_ACCOUNT, P_ACCOUNTS_LIST,
	P_LOGIN_GET, P_LOGIN_PUT,
	P_SPK_PUT, P_SPK_GET, P_OTPK_PUT, P_OTPK_COUNT, P_OTPK_TAKE,
	P_KEM_PUT, P_KEM_LR_DROP, P_KEM_COUNT, P_KEM_HAS_LR, P_KEM_TAKE, P_KEM_LAST, P_RESET_KEM,
	P_SENT_GET, P_SENT_PUT, P_SENT_SCAN_END, P_SENT_PRUNE,
	P_PENDING_GET, P_PENDING_GET_MANY, P_PENDING_LOCK_MANY,
	P_PENDING_ADD_MANY,
	P_ENV_PUT, P_ENV_LIST, P_ENV_SENT_PUT, P_ENV_SENT_DEL,
	P_IDMAX_GET, P_IDS_RESERVE, P_WAKE, P_WAKE_ENVS, P_RESET_NOTIFY, P_DELIVERY_PUT,
	P__COUNT
};

static const char *const stmt_sql[P__COUNT] = {
	[P_BEGIN] = "BEGIN",
	[P_COMMIT] = "COMMIT",
	/* $3 NULL: an invite for any name; else the one made for that reserved name. */
	/* One use of it, if it has one left, is not revoked and has not expired (at $2). */
	[P_INVITE_USE] = "UPDATE invites SET used = $2::bigint, uses = uses - 1"
	    " WHERE token_hash = $1::bytea AND uses > 0 AND revoked = 0"
	    " AND (expires = 0 OR expires > $2::bigint) AND name IS NOT DISTINCT FROM $3::text",
	[P_INVITE_USED] = "SELECT uses, revoked, expires FROM invites WHERE token_hash = $1::bytea",
	[P_INVITE_ADD] = "INSERT INTO invites(token_hash, created, used, expires, uses) VALUES"
	    " ($1::bytea, $2::bigint, 0, $3::bigint, $4::bigint)",
	/* The database's size in the server's blocks; db_max_pages is SQLite's, so no page
	 * is counted free. */
	/* The first domain recorded stays (two servers racing: one wins, both read it). */
	[P_DOMAIN_ADD] = "INSERT INTO meta_text(k, v) VALUES ('domain', $1::text)"
	    " ON CONFLICT (k) DO NOTHING",
	[P_DOMAIN_GET] = "SELECT v FROM meta_text WHERE k = 'domain'",
	[P_STATS] = "SELECT count(*), coalesce(sum(pending), 0)::bigint,"
	    " coalesce(sum(pending_bytes), 0)::bigint,"
	    " pg_database_size(current_database()) / current_setting('block_size')::bigint,"
	    " 0::bigint, current_setting('block_size')::bigint FROM accounts",
	[P_INVITES_LIST] = "SELECT token_hash, created, expires, used, revoked, uses, name"
	    " FROM invites ORDER BY created, token_hash",
	/* Invites whose hash starts with $1 ($2 its length): how many, then revoke at $3. */
	[P_INVITE_MATCHES] = "SELECT count(*) FROM invites"
	    " WHERE substr(token_hash, 1, $2::bigint::int) = $1::bytea",
	[P_INVITE_REVOKE] = "UPDATE invites SET revoked = $3::bigint"
	    " WHERE substr(token_hash, 1, $2::bigint::int) = $1::bytea AND revoked = 0",
	[P_INVITE_RESERVED] = "SELECT 1 FROM invites WHERE name = $1::text AND used = 0",
	[P_INVITE_UNRESERVE] = "DELETE FROM invites WHERE name = $1::text AND used = 0",
	[P_INVITE_RESERVE] = "INSERT INTO invites(token_hash, created, used, name, expires, uses)"
	    " VALUES ($1::bytea, $2::bigint, 0, $3::text, $4::bigint, 1)",
	/* Ids are never reused: meta keeps the highest ever handed out. The row lock
	 * serialises the counters' users. */
	[P_ID_LOCK] = "SELECT v FROM meta WHERE k = $1::text FOR UPDATE",
	/* Only a counter below v is written: a group commit whose ids all come from ranges
	 * reserved before (P_IDS_RESERVE raised the counter then) neither writes nor locks
	 * the row, so the nodes' commits do not wait on one another for it. */
	[P_ID_SET] = "UPDATE meta SET v = $2::bigint WHERE k = $1::text AND v < $2::bigint",
	[P_ACCOUNT_ADD] = "INSERT INTO accounts(id, name, identity_key, device_key, created)"
	    " VALUES ($1::bigint, $2::text, $3::bytea, $4::bytea, $5::bigint)",
	[P_ACCOUNT_BY_DEVICE] = "SELECT id, name, identity_key, device_key, delivery FROM accounts"
	    " WHERE device_key = $1::bytea",
	[P_ACCOUNT_BY_NAME] = "SELECT id, name, identity_key, device_key, delivery FROM accounts"
	    " WHERE name = $1::text",
	[P_ACCOUNT_BY_ID] = "SELECT id, name, identity_key, device_key, delivery FROM accounts"
	    " WHERE id = $1::bigint",
	/* A reset: the idempotency records end with the envelopes, as after a RECEIVED. */
	[P_RESET_SENT] = "DELETE FROM sent s USING envelopes e WHERE e.recipient = $1::bigint"
	    " AND e.idem IS NOT NULL AND s.key = e.idem AND s.env_id = e.id",
	[P_RESET_ENV] = "DELETE FROM envelopes WHERE recipient = $1::bigint",
	[P_RESET_PREKEYS] = "DELETE FROM prekeys WHERE account = $1::bigint",
	[P_RESET_SPK] = "DELETE FROM signed_prekeys WHERE account = $1::bigint",
	[P_RESET_LOGINS] = "DELETE FROM logins WHERE account = $1::bigint",
	[P_RESET_KPS] = "DELETE FROM key_packages WHERE account = $1::bigint",
	[P_RESET_GROUPS] = "DELETE FROM group_members WHERE account = $1::bigint",
	[P_RESET_ACCOUNT] = "DELETE FROM accounts WHERE id = $1::bigint",
	[P_ACCOUNTS_LIST] = "SELECT id, name, created, pending,"
	    " (SELECT count(*) FROM prekeys WHERE account = accounts.id) FROM accounts"
	    " UNION ALL SELECT 0, name, created, 0, 0 FROM invites"
	    " WHERE name IS NOT NULL AND used = 0"
	    " AND name NOT IN (SELECT name FROM accounts)"
	    " ORDER BY 2",
	[P_LOGIN_GET] = "SELECT proven, floor, issued FROM logins WHERE account = $1::bigint"
	    " FOR UPDATE",
	[P_LOGIN_PUT] = "INSERT INTO logins(account, proven, floor, issued) VALUES ($1::bigint,"
	    " $2::bigint, $3::bigint, $4::bigint) ON CONFLICT (account) DO UPDATE SET"
	    " proven = excluded.proven, floor = excluded.floor, issued = excluded.issued",
	[P_SPK_PUT] = "INSERT INTO signed_prekeys(account, id, key, sig) VALUES ($1::bigint,"
	    " $2::bigint, $3::bytea, $4::bytea) ON CONFLICT (account) DO UPDATE SET"
	    " id = excluded.id, key = excluded.key, sig = excluded.sig",
	/* A re-upload of an id replaces it and goes to the end, as SQLite's REPLACE does. */
	[P_OTPK_PUT] = "INSERT INTO prekeys(account, id, key) VALUES ($1::bigint, $2::bigint,"
	    " $3::bytea) ON CONFLICT (account, id) DO UPDATE SET key = excluded.key,"
	    " seq = nextval('prekeys_seq_seq')",
	[P_SPK_GET] = "SELECT id, key, sig FROM signed_prekeys WHERE account = $1::bigint",
	[P_OTPK_COUNT] = "SELECT count(*) FROM prekeys WHERE account = $1::bigint",
	/* The oldest one, deleted as it is read; SKIP LOCKED: two concurrent claims never
	 * get the same one, and neither waits for the other. */
	[P_OTPK_TAKE] = "DELETE FROM prekeys WHERE (account, id) = (SELECT account, id"
	    " FROM prekeys WHERE account = $1::bigint ORDER BY seq LIMIT 1"
	    " FOR UPDATE SKIP LOCKED) RETURNING id, key",
	/* An upload that reuses an id replaces the key (and it goes to the end of the queue). */
	[P_KEM_PUT] = "INSERT INTO kem_prekeys(account, id, key, sig, last_resort) VALUES"
	    " ($1::bigint, $2::bigint, $3::bytea, $4::bytea, $5::boolean)"
	    " ON CONFLICT (account, id) DO UPDATE SET key = excluded.key, sig = excluded.sig,"
	    " last_resort = excluded.last_resort, seq = nextval('kem_prekeys_seq_seq')",
	[P_KEM_LR_DROP] = "DELETE FROM kem_prekeys WHERE account = $1::bigint AND last_resort",
	[P_KEM_COUNT] = "SELECT count(*) FROM kem_prekeys WHERE account = $1::bigint"
	    " AND NOT last_resort",
	[P_KEM_HAS_LR] = "SELECT 1 FROM kem_prekeys WHERE account = $1::bigint AND last_resort",
	[P_KEM_TAKE] = "DELETE FROM kem_prekeys WHERE (account, id) = (SELECT account, id"
	    " FROM kem_prekeys WHERE account = $1::bigint AND NOT last_resort ORDER BY seq"
	    " LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id, key, sig",
	[P_KEM_LAST] = "SELECT id, key, sig FROM kem_prekeys WHERE account = $1::bigint"
	    " AND last_resort",
	[P_RESET_KEM] = "DELETE FROM kem_prekeys WHERE account = $1::bigint",
	/* Idempotency records by store_idem_key(recipient, cmid), as on SQLite; bytea
	 * compares bytewise, so the walk of sent_prune goes in the same order. */
	[P_SENT_GET] = "SELECT env_id FROM sent WHERE key = $1::bytea",
	[P_SENT_PUT] = "INSERT INTO sent(key, env_id, created) VALUES ($1::bytea,"
	    " $2::bigint, $3::bigint) ON CONFLICT DO NOTHING",
	[P_SENT_SCAN_END] = "SELECT key FROM sent WHERE key > $1::bytea ORDER BY key"
	    " LIMIT 1 OFFSET $2::bigint",
	[P_SENT_PRUNE] = "DELETE FROM sent WHERE key > $1::bytea"
	    " AND ($3::boolean OR key <= $2::bytea) AND created < $4::bigint",
	[P_PENDING_GET] = "SELECT pending, pending_bytes FROM accounts WHERE id = $1::bigint",
	/* The counters of a batch's accounts: read in one statement; locked in ascending
	 * order (the sort is below the row locks) and written in one statement. */
	[P_PENDING_GET_MANY] = "SELECT id, pending, pending_bytes FROM accounts"
	    " WHERE id = ANY($1::bigint[]) ORDER BY id",
	[P_PENDING_LOCK_MANY] = "SELECT id FROM accounts WHERE id = ANY($1::bigint[])"
	    " ORDER BY id FOR UPDATE",
	[P_PENDING_ADD_MANY] = "UPDATE accounts a SET pending = greatest(a.pending + d.n, 0),"
	    " pending_bytes = greatest(a.pending_bytes + d.b, 0)"
	    " FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS d(id, n, b)"
	    " WHERE a.id = d.id",
	[P_ENV_PUT] = "INSERT INTO envelopes(id, recipient, ts, data, idem)"
	    " VALUES ($1::bigint, $2::bigint, $3::bigint, $4::bytea, $5::bytea)",
	[P_ENV_LIST] = "SELECT id, ts, data FROM envelopes WHERE recipient = $1::bigint"
	    " AND id > $2::bigint ORDER BY id LIMIT $3::bigint",
	/* An envelope with its idempotency record, in one round trip: stored only if its
	 * record is new (a row back); deleted with its record (only the record of that
	 * envelope: after sent_retention a retry may own the key). */
	[P_ENV_SENT_PUT] = "WITH s AS (INSERT INTO sent(key, env_id, created)"
	    " VALUES ($5::bytea, $1::bigint, $6::bigint) ON CONFLICT DO NOTHING RETURNING key)"
	    " INSERT INTO envelopes(id, recipient, ts, data, idem)"
	    " SELECT $1::bigint, $2::bigint, $3::bigint, $4::bytea, key FROM s RETURNING id",
	[P_ENV_SENT_DEL] = "WITH e AS (DELETE FROM envelopes WHERE (recipient, id) IN"
	    " (SELECT * FROM unnest($1::bigint[], $2::bigint[]))"
	    " RETURNING recipient, id, idem, length(data)::bigint AS len),"
	    " s AS (DELETE FROM sent USING e WHERE sent.key = e.idem AND sent.env_id = e.id)"
	    " SELECT recipient, len FROM e",
	[P_IDMAX_GET] = "SELECT v FROM meta WHERE k = 'env_id_max'",
	/* One statement, so one row lock: nodes reserving at once get one range after the
	 * other. */
	[P_IDS_RESERVE] = "UPDATE meta SET v = greatest(v, $1::bigint) + $2::bigint"
	    " WHERE k = 'env_id_max' RETURNING v - $2::bigint + 1",
	/* Delivered at COMMIT, to every node's listener (wake.c); the payload is only the
	 * account's row id, never a name, and for an envelope ':' and its id. */
	[P_WAKE] = "SELECT pg_notify('" STORE_PG_WAKE_CHANNEL "', $1::bigint::text)",
	/* The envelopes of one group commit in one statement ("{ACCOUNT:ID,...}"). */
	[P_WAKE_ENVS] = "SELECT count(pg_notify('" STORE_PG_WAKE_CHANNEL "', w))"
	    " FROM unnest($1::text[]) AS w",
	[P_RESET_NOTIFY] = "SELECT pg_notify('" STORE_PG_RESET_CHANNEL "', $1::bigint::text)",
	[P_DELIVERY_PUT] = "UPDATE accounts SET delivery = $2::bytea WHERE id = $1::bigint",
};

/* Schema 1: the SQLite backend's schema 5 with its KeyPackages (schema 6). */
static const char migrate_0_to_1_sql[] =
	"CREATE TABLE meta(k text PRIMARY KEY, v bigint NOT NULL);"
	"INSERT INTO meta VALUES ('account_id_max', 0), ('env_id_max', 0);"
	"CREATE TABLE accounts(id bigint PRIMARY KEY, name text NOT NULL UNIQUE,"
	" identity_key bytea NOT NULL, device_key bytea NOT NULL UNIQUE,"
	" pending bigint NOT NULL DEFAULT 0, pending_bytes bigint NOT NULL DEFAULT 0,"
	" out_count bigint NOT NULL DEFAULT 0, out_bytes bigint NOT NULL DEFAULT 0,"
	" created bigint NOT NULL);"
	"CREATE TABLE invites(token_hash bytea PRIMARY KEY, created bigint NOT NULL,"
	" used bigint NOT NULL DEFAULT 0, name text);"
	"CREATE INDEX invites_by_name ON invites(name) WHERE name IS NOT NULL;"
	"CREATE TABLE signed_prekeys(account bigint PRIMARY KEY, id bigint NOT NULL,"
	" key bytea NOT NULL, sig bytea NOT NULL);"
	"CREATE TABLE prekeys(account bigint NOT NULL, id bigint NOT NULL,"
	" key bytea NOT NULL, seq bigserial NOT NULL, PRIMARY KEY(account, id));"
	"CREATE INDEX prekeys_by_seq ON prekeys(account, seq);"
	"CREATE TABLE envelopes(id bigint PRIMARY KEY, recipient bigint NOT NULL,"
	" ts bigint NOT NULL, data bytea NOT NULL, sender bigint NOT NULL DEFAULT 0,"
	" sender_dev bytea, cmid bytea);"
	"CREATE INDEX envelopes_by_recipient ON envelopes(recipient, id);"
	"CREATE TABLE sent(cmid bytea NOT NULL, sender bytea NOT NULL,"
	" env_id bigint NOT NULL, created bigint NOT NULL, PRIMARY KEY(cmid, sender));"
	"CREATE TABLE logins(account bigint PRIMARY KEY, proven bigint NOT NULL,"
	" floor bigint NOT NULL, issued bigint NOT NULL);"
	"CREATE TABLE key_packages(id bigserial PRIMARY KEY, account bigint NOT NULL,"
	" last_resort boolean NOT NULL, data bytea NOT NULL);"
	"CREATE INDEX key_packages_by_account ON key_packages(account, last_resort, id);";

/*
 * Schema 2: the MLS delivery service, as the SQLite backend's schema 6 (its comment there
 * says why each table is as it is). Ids of groups and Welcomes come from sequences.
 */
static const char migrate_1_to_2_sql[] =
	"CREATE TABLE groups(id bigserial PRIMARY KEY, gid bytea NOT NULL UNIQUE,"
	" epoch bigint NOT NULL, next_seq bigint NOT NULL, low_seq bigint NOT NULL,"
	" created bigint NOT NULL);"
	"CREATE TABLE group_log(grp bigint NOT NULL, seq bigint NOT NULL,"
	" kind bigint NOT NULL, epoch bigint NOT NULL, ts bigint NOT NULL,"
	" cmid bytea, data bytea NOT NULL, PRIMARY KEY(grp, seq));"
	"CREATE UNIQUE INDEX group_log_by_cmid ON group_log(grp, cmid) WHERE cmid IS NOT NULL;"
	"CREATE TABLE group_members(grp bigint NOT NULL, account bigint NOT NULL,"
	" read_seq bigint NOT NULL, left_seq bigint NOT NULL, welcome bigint,"
	" PRIMARY KEY(grp, account));"
	"CREATE INDEX group_members_by_account ON group_members(account, grp);"
	"CREATE INDEX group_members_by_read ON group_members(grp, read_seq);"
	"CREATE INDEX group_members_by_welcome ON group_members(welcome)"
	" WHERE welcome IS NOT NULL;"
	"CREATE TABLE group_welcomes(id bigserial PRIMARY KEY, grp bigint NOT NULL,"
	" seq bigint NOT NULL, epoch bigint NOT NULL, ts bigint NOT NULL, data bytea NOT NULL);";

/* Schema 3 (issue 16): signed ML-KEM-768 prekeys, as the SQLite backend's schema 7;
 * seq orders the one-time ones, oldest first. */
static const char migrate_2_to_3_sql[] =
	"CREATE TABLE kem_prekeys(account bigint NOT NULL, id bigint NOT NULL,"
	" key bytea NOT NULL, sig bytea NOT NULL, last_resort boolean NOT NULL,"
	" seq bigserial NOT NULL, PRIMARY KEY(account, id));"
	"CREATE INDEX kem_prekeys_by_seq ON kem_prekeys(account, last_resort, seq);";

/* Schema 4 (issue 14): the blob store's records, as the SQLite backend's schema 8
 * (store_pg_blob.c). */
static const char migrate_3_to_4_sql[] =
	"CREATE TABLE blobs(hash bytea PRIMARY KEY, owner bigint NOT NULL,"
	" size bigint NOT NULL, expires bigint NOT NULL, remaining bigint NOT NULL);"
	"CREATE INDEX blobs_by_owner ON blobs(owner);"
	"CREATE INDEX blobs_by_expiry ON blobs(expires);";

#define STR_(x) #x
#define STR(x) STR_(x)

/* Schema 5 (issue 17): invites expire, have uses and can be revoked, as the SQLite
 * backend's schema 9 (its comment there says why unused old invites get a lifetime); the
 * domain the database serves (SQLite keeps it in meta). */
static const char migrate_4_to_5_sql[] =
	"ALTER TABLE invites ADD COLUMN expires bigint NOT NULL DEFAULT 0,"
	" ADD COLUMN uses bigint NOT NULL DEFAULT 1, ADD COLUMN revoked bigint NOT NULL DEFAULT 0;"
	"UPDATE invites SET uses = 0 WHERE used <> 0;"
	"UPDATE invites SET expires = extract(epoch FROM now())::bigint + "
	STR(STORE_INVITE_LIFETIME_DEFAULT) " WHERE used = 0;"
	/* Text settings of the database (meta's values are numbers): the domain it serves. */
	"CREATE TABLE meta_text(k text PRIMARY KEY, v text NOT NULL);";

/*
 * Schema 6 (issue 15), as the SQLite backend's schema 10: no table ties an envelope to its
 * sender. The records were (cmid, sender device) -> envelope id and each envelope named its
 * sender's account, device key and cmid (for the sender's quota); a record is now keyed by
 * store_idem_key(recipient, cmid), which the envelope keeps (idem) so that RECEIVED deletes
 * it, and the sender's counters are gone. migrate_unlink rekeys the records of waiting
 * envelopes between the two halves (store_idem_key is BLAKE2b, computed here, not in SQL);
 * a record whose envelope is gone has no recipient and is dropped, as on SQLite.
 */
static const char migrate_5_to_6_sql[] =
	"CREATE TABLE sent5(key bytea PRIMARY KEY, env_id bigint NOT NULL,"
	" created bigint NOT NULL);"
	"ALTER TABLE envelopes ADD COLUMN idem bytea;";
static const char migrate_5_to_6_post_sql[] =
	"DROP TABLE sent;"
	"ALTER TABLE sent5 RENAME TO sent;"
	"ALTER INDEX sent5_pkey RENAME TO sent_pkey;"
	"ALTER TABLE envelopes DROP COLUMN sender, DROP COLUMN sender_dev, DROP COLUMN cmid;"
	"ALTER TABLE accounts DROP COLUMN out_count, DROP COLUMN out_bytes;";

/* Schema 7 (issue 15), as SQLite's schema 11: the verifier of the account's delivery
 * token (DELIVERY_TOKEN), NULL: none. */
static const char migrate_6_to_7_sql[] =
	"ALTER TABLE accounts ADD COLUMN delivery bytea;";

/* Schema 8 (issue 15, groups), as SQLite's schema 12: the verifiers of the group token of
 * the group's current and previous epoch, NULL: none. */
static const char migrate_7_to_8_sql[] =
	"ALTER TABLE groups ADD COLUMN verifier bytea, ADD COLUMN prev_verifier bytea;";

/* Each step brings the schema from its index to the next version. */
static const char *const migrations[PG_SCHEMA_VERSION] = {
	migrate_0_to_1_sql,
	migrate_1_to_2_sql,
	migrate_2_to_3_sql,
	migrate_3_to_4_sql,
	migrate_4_to_5_sql,
	migrate_5_to_6_sql,
	migrate_6_to_7_sql,
	migrate_7_to_8_sql,
};

/* An account's counters: what waits in its mailbox. */
enum { Q_MBOX_N, Q_MBOX_BYTES, Q__COUNT };

/* Counters of the accounts one transaction touches: locked and read once, written once. */
struct pending_entry {
	int64_t account;
	uint64_t have[Q__COUNT];
	int64_t delta[Q__COUNT];
};

struct store_pg {
	struct server_store base;
	PGconn *conn;
	int in_tx;              /* a transaction is open: a lost connection fails it */
	struct pending_entry *pend;
	size_t n_pend, cap_pend;
};

static struct store_pg *
impl(struct server_store *s)
{
	return (struct store_pg *)s;
}

void
pgp_blob(struct pgp *p, const void *v, size_t len)
{
	/* A bytea of length 0 still needs a non-NULL pointer: NULL is SQL NULL. */
	p->v[p->n] = v != NULL ? v : "";
	p->len[p->n] = (int)len;
	p->fmt[p->n] = 1;
	p->n++;
}

void
pgp_i64(struct pgp *p, int64_t v)
{
	p->ints[p->n] = htobe64((uint64_t)v);
	pgp_blob(p, &p->ints[p->n], 8);
}

void
pgp_bool(struct pgp *p, int v)
{
	pgp_blob(p, v ? "\1" : "\0", 1);
}

void
pgp_text(struct pgp *p, const char *s)
{
	pgp_blob(p, s, strlen(s));
}

void
pgp_null(struct pgp *p)
{
	p->v[p->n] = NULL;
	p->len[p->n] = 0;
	p->fmt[p->n] = 1;
	p->n++;
}


/* A failed statement's SQLSTATE as a sotto_err. */
static int
map_state(PGconn *conn, const PGresult *res, const char *what)
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(conn);

	if (state == NULL) {
		log_error("store: %s: %s", what, msg);
		return SOTTO_ERR_STORAGE;
	}
	if (strncmp(state, "23", 2) == 0)               /* integrity constraint */
		return SOTTO_ERR_EXISTS;
	if (strcmp(state, "53100") == 0 || strcmp(state, "54000") == 0) {
		log_warn("store: %s: database or disk full", what);
		return SOTTO_ERR_SERVER_FULL;
	}
	if (strcmp(state, "53200") == 0)                /* out of memory */
		return SOTTO_ERR_NOMEM;
	if (strcmp(state, "XX001") == 0 || strcmp(state, "XX002") == 0) {
		log_error("store: %s: database corrupt: %s", what, msg);
		return SOTTO_ERR_CORRUPT;
	}
	log_error("store: %s: %s", what, msg);
	return SOTTO_ERR_STORAGE;
}

/*
 * Runs a prepared statement. *res (if res) gets the result of a statement returning rows;
 * free it with PQclear. *changes (if changes) gets the number of rows it changed.
 */
static int reconnect(struct store_pg *ps);

int
pgs_run(struct server_store *s, char set, int id, const struct pgp *p, PGresult **res,
    uint64_t *changes, const char *what)
{
	struct store_pg *ps = impl(s);
	char name[16];
	PGresult *r;
	ExecStatusType t;
	int rc = 0;

	if (res != NULL)
		*res = NULL;
	/* Between transactions, a connection lost (a PostgreSQL restart or failover) is
	 * made again; inside one, the operation fails whole and the next one reconnects. */
	if (PQstatus(ps->conn) != CONNECTION_OK && !ps->in_tx && (rc = reconnect(ps)) != 0)
		return rc;
	snprintf(name, sizeof(name), "%c%d", set, id);
	r = PQexecPrepared(ps->conn, name, p != NULL ? p->n : 0, p != NULL ? p->v : NULL,
	    p != NULL ? p->len : NULL, p != NULL ? p->fmt : NULL, 1);
	t = PQresultStatus(r);
	if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
		rc = map_state(ps->conn, r, what);
		PQclear(r);
		return rc;
	}
	if (changes != NULL) {
		const char *c = PQcmdTuples(r);
		*changes = c != NULL && *c != '\0' ? strtoull(c, NULL, 10) : 0;
	}
	if (res != NULL)
		*res = r;
	else
		PQclear(r);
	return 0;
}

static int
run(struct store_pg *ps, enum stmt_id id, const struct pgp *p, PGresult **res,
    uint64_t *changes, const char *what)
{
	return pgs_run(&ps->base, 's', (int)id, p, res, changes, what);
}

int
pgs_wake(struct server_store *s, int64_t account)
{
	struct pgp p = { .n = 0 };

	pgp_i64(&p, account);
	return run(impl(s), P_WAKE, &p, NULL, NULL, "wake notify");
}

/* A decimal int64, its ':' or ',' and the other one. */
#define WAKE_PAIR_CHARS 42

/* One NOTIFY for each envelope stored by the batch (a hint to the node where its
 * recipient is online, which reads only it: wake.c), in one statement. */
static int
wake_envelopes(struct store_pg *ps, const struct store_send *sends, size_t n)
{
	struct pgp p = { .n = 0 };
	char *arr, *o;
	size_t k = 0;
	int r;

	if ((arr = malloc(n * WAKE_PAIR_CHARS + 3)) == NULL)
		return SOTTO_ERR_NOMEM;
	o = arr;
	*o++ = '{';
	for (size_t i = 0; i < n; i++)
		if (sends[i].result == 0 && !sends[i].skip_envelope && !sends[i].duplicate)
			o += sprintf(o, "%s%lld:%lld", k++ ? "," : "",
			    (long long)sends[i].recipient, (long long)sends[i].env_id);
	*o++ = '}';
	*o = '\0';
	r = 0;
	if (k > 0) {
		pgp_text(&p, arr);
		p.fmt[0] = 0;           /* an array literal: text format */
		r = run(ps, P_WAKE_ENVS, &p, NULL, NULL, "wake notify");
	}
	free(arr);
	return r;
}

int
store_pg_backend_pid(struct server_store *s)
{
	return PQbackendPID(impl(s)->conn);
}

static int
begin(struct store_pg *ps)
{
	int r = run(ps, P_BEGIN, NULL, NULL, NULL, "begin");

	ps->in_tx = r == 0;
	return r;
}

/* Not a prepared statement: also ends the transactions of store_pg_open's migrations. */
void
pgs_rollback(struct server_store *s)
{
	if (PQtransactionStatus(impl(s)->conn) != PQTRANS_IDLE)
		(void)pgs_exec(s, "ROLLBACK", "rollback");
	impl(s)->in_tx = 0;
}

static void
rollback(struct store_pg *ps)
{
	pgs_rollback(&ps->base);
}

int
pgs_begin(struct server_store *s)
{
	return begin(impl(s));
}

/* COMMIT returns once the commit record is flushed (synchronous_commit on). */
static int
commit(struct store_pg *ps)
{
	int r = run(ps, P_COMMIT, NULL, NULL, NULL, "commit");

	ps->in_tx = 0;
	if (r != 0)
		rollback(ps);
	return r;
}

int
pgs_commit(struct server_store *s)
{
	return commit(impl(s));
}

/* Column col of row row as an integer (bigint, int4, int2 or boolean). */
int64_t
pgs_int(const PGresult *res, int row, int col)
{
	const uint8_t *v = (const uint8_t *)PQgetvalue(res, row, col);
	uint64_t x = 0;
	int len = PQgetlength(res, row, col);

	if (PQgetisnull(res, row, col))
		return 0;
	if (len == 8) {
		memcpy(&x, v, 8);
		return (int64_t)be64toh(x);
	}
	if (len == 4) {
		uint32_t y;
		memcpy(&y, v, 4);
		return (int32_t)be32toh(y);
	}
	return len == 1 ? v[0] : 0;
}

int
pgs_blob(const PGresult *res, int row, int col, uint8_t *out, size_t len)
{
	if (PQgetisnull(res, row, col) || (size_t)PQgetlength(res, row, col) != len)
		return SOTTO_ERR_CORRUPT;
	memcpy(out, PQgetvalue(res, row, col), len);
	return 0;
}

int
pgs_row(struct server_store *s, char set, int id, const struct pgp *p, PGresult **res,
    const char *what)
{
	int r;

	if ((r = pgs_run(s, set, id, p, res, NULL, what)) != 0)
		return r;
	if (PQntuples(*res) == 0) {
		PQclear(*res);
		*res = NULL;
		return SOTTO_ERR_NOT_FOUND;
	}
	return 0;
}

static int
one_row(struct store_pg *ps, enum stmt_id id, const struct pgp *p, PGresult **res,
    const char *what)
{
	return pgs_row(&ps->base, 's', (int)id, p, res, what);
}

static int
one_int(struct store_pg *ps, enum stmt_id id, const struct pgp *p, int64_t *out,
    const char *what)
{
	PGresult *res;
	int r;

	if ((r = one_row(ps, id, p, &res, what)) != 0)
		return r;
	*out = pgs_int(res, 0, 0);
	PQclear(res);
	return 0;
}

static int
read_account(struct store_pg *ps, enum stmt_id id, const struct pgp *p,
    struct store_account *out)
{
	PGresult *res;
	int r, len;

	if ((r = one_row(ps, id, p, &res, "account")) != 0)
		return r;
	memset(out, 0, sizeof(*out));
	out->id = pgs_int(res, 0, 0);
	len = PQgetlength(res, 0, 1);
	if (len > STORE_NAME_MAX) {
		r = SOTTO_ERR_CORRUPT;
		goto out;
	}
	memcpy(out->name, PQgetvalue(res, 0, 1), (size_t)len);
	if ((r = pgs_blob(res, 0, 2, out->identity_key, SERVER_STORE_KEY_LEN)) == 0)
		r = pgs_blob(res, 0, 3, out->device_key, SERVER_STORE_KEY_LEN);
	if (r == 0 && !PQgetisnull(res, 0, 4)) {
		r = pgs_blob(res, 0, 4, out->delivery, SERVER_STORE_KEY_LEN);
		out->has_delivery = r == 0;
	}
out:
	PQclear(res);
	return r;
}

int
pgs_exec(struct server_store *s, const char *sql, const char *what)
{
	PGresult *r = PQexec(impl(s)->conn, sql);
	ExecStatusType t = PQresultStatus(r);
	int rc = 0;

	if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK)
		rc = map_state(impl(s)->conn, r, what);
	PQclear(r);
	return rc;
}

/* Why an invite could not be used at time now: no use left, expired or revoked, unknown,
 * or made for another name. */
static int
invite_refusal(struct store_pg *ps, const uint8_t token_hash[STORE_TOKEN_HASH_LEN],
    int64_t now)
{
	struct pgp p = { .n = 0 };
	PGresult *res;
	int64_t expires;
	int r;

	pgp_blob(&p, token_hash, STORE_TOKEN_HASH_LEN);
	r = one_row(ps, P_INVITE_USED, &p, &res, "invite state");
	if (r == SOTTO_ERR_NOT_FOUND)
		return SOTTO_ERR_INVITE_UNKNOWN;
	if (r != 0)
		return r;
	expires = pgs_int(res, 0, 2);
	if (pgs_int(res, 0, 0) <= 0)
		r = SOTTO_ERR_INVITE_USED;
	else if (pgs_int(res, 0, 1) != 0 || (expires != 0 && expires <= now))
		r = SOTTO_ERR_INVITE_EXPIRED;
	else
		r = SOTTO_ERR_AUTH;
	PQclear(res);
	return r;
}

/* 1 if name is reserved for the invite a reset made, 0 if not, or an error. */
static int
name_reserved(struct store_pg *ps, const char *name)
{
	struct pgp p = { .n = 0 };
	int64_t one;
	int r;

	pgp_text(&p, name);
	r = one_int(ps, P_INVITE_RESERVED, &p, &one, "invite reserved");
	if (r == SOTTO_ERR_NOT_FOUND)
		return 0;
	return r == 0 ? 1 : r;
}

/* Locks the id counter k and returns the next id above both it and floor. */
static int
id_next(struct store_pg *ps, const char *k, int64_t floor, int64_t *next)
{
	struct pgp p = { .n = 0 };
	int64_t v;
	int r;

	pgp_text(&p, k);
	if ((r = one_int(ps, P_ID_LOCK, &p, &v, "id counter")) != 0)
		return r == SOTTO_ERR_NOT_FOUND ? SOTTO_ERR_CORRUPT : r;
	*next = (v > floor ? v : floor) + 1;
	return 0;
}

static int
id_set(struct store_pg *ps, const char *k, int64_t v)
{
	struct pgp p = { .n = 0 };

	pgp_text(&p, k);
	pgp_i64(&p, v);
	return run(ps, P_ID_SET, &p, NULL, NULL, "id counter");
}

static int
pg_account_create(struct server_store *base, const char *name, const uint8_t ik[SERVER_STORE_KEY_LEN],
    const uint8_t dk[SERVER_STORE_KEY_LEN], const uint8_t *token_hash, int64_t *id_out)
{
	struct store_pg *ps = impl(base);
	struct pgp p = { .n = 0 };
	uint64_t changes = 0;
	int64_t id = 0, now = (int64_t)time(NULL);
	int r, reserved;

	if ((r = begin(ps)) != 0)
		return r;
	if ((r = id_next(ps, "account_id_max", 0, &id)) != 0)
		goto out;
	if ((reserved = name_reserved(ps, name)) < 0) {
		r = reserved;
		goto out;
	}
	/* A reset name: only the holder of the invite made for it may take it. */
	if (reserved && token_hash == NULL) {
		r = SOTTO_ERR_AUTH;
		goto out;
	}
	if (token_hash != NULL) {
		pgp_blob(&p, token_hash, STORE_TOKEN_HASH_LEN);
		pgp_i64(&p, now);
		if (reserved)
			pgp_text(&p, name);
		else
			pgp_null(&p);
		if ((r = run(ps, P_INVITE_USE, &p, NULL, &changes, "invite use")) != 0)
			goto out;
		if (changes != 1) {
			r = invite_refusal(ps, token_hash, now);
			goto out;
		}
	}
	p.n = 0;
	pgp_i64(&p, id);
	pgp_text(&p, name);
	pgp_blob(&p, ik, SERVER_STORE_KEY_LEN);
	pgp_blob(&p, dk, SERVER_STORE_KEY_LEN);
	pgp_i64(&p, (int64_t)time(NULL));
	if ((r = run(ps, P_ACCOUNT_ADD, &p, NULL, NULL, "account add")) != 0 ||
	    (r = id_set(ps, "account_id_max", id)) != 0)
		goto out;
	if ((r = commit(ps)) == 0)
		*id_out = id;
out:
	if (r != 0)
		rollback(ps);
	return r;
}

static int
pg_account_by_device(struct server_store *base, const uint8_t dk[SERVER_STORE_KEY_LEN],
    struct store_account *out)
{
	struct pgp p = { .n = 0 };

	pgp_blob(&p, dk, SERVER_STORE_KEY_LEN);
	return read_account(impl(base), P_ACCOUNT_BY_DEVICE, &p, out);
}

static int
pg_account_by_name(struct server_store *base, const char *name, struct store_account *out)
{
	struct pgp p = { .n = 0 };

	pgp_text(&p, name);
	return read_account(impl(base), P_ACCOUNT_BY_NAME, &p, out);
}

static int
pg_invite_add(struct server_store *base, const uint8_t token_hash[STORE_TOKEN_HASH_LEN],
    int64_t expires, uint32_t uses)
{
	struct pgp p = { .n = 0 };

	pgp_blob(&p, token_hash, STORE_TOKEN_HASH_LEN);
	pgp_i64(&p, (int64_t)time(NULL));
	pgp_i64(&p, expires);
	pgp_i64(&p, uses);
	return run(impl(base), P_INVITE_ADD, &p, NULL, NULL, "invite add");
}

static int
pg_domain_claim(struct server_store *base, const char *domain, char recorded[STORE_DOMAIN_MAX + 1])
{
	struct store_pg *ps = impl(base);
	struct pgp p = { .n = 0 };
	PGresult *res = NULL;
	int r, len;

	recorded[0] = '\0';
	pgp_text(&p, domain);
	if ((r = run(ps, P_DOMAIN_ADD, &p, NULL, NULL, "domain")) != 0 ||
	    (r = one_row(ps, P_DOMAIN_GET, NULL, &res, "domain")) != 0)
		return r;
	len = PQgetlength(res, 0, 0);
	if (len <= 0 || len > STORE_DOMAIN_MAX)
		r = SOTTO_ERR_CORRUPT;
	else {
		memcpy(recorded, PQgetvalue(res, 0, 0), (size_t)len);
		recorded[len] = '\0';
		r = strcmp(recorded, domain) == 0 ? 0 : SOTTO_ERR_OTHER_DOMAIN;
	}
	PQclear(res);
	if (r != 0 && r != SOTTO_ERR_OTHER_DOMAIN)
		recorded[0] = '\0';
	return r;
}

/* pg_dump or continuous archiving copy a PostgreSQL database (sottod(8), store). */
static int
pg_backup(struct server_store *base, const char *path)
{
	(void)base;
	(void)path;
	return SOTTO_ERR_UNSUPPORTED;
}

static int
pg_stats(struct server_store *base, struct store_stats *out)
{
	PGresult *res;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = one_row(impl(base), P_STATS, NULL, &res, "stats")) != 0)
		return r;
	out->accounts = (uint64_t)pgs_int(res, 0, 0);
	out->envelopes = (uint64_t)pgs_int(res, 0, 1);
	out->envelope_bytes = (uint64_t)pgs_int(res, 0, 2);
	out->pages = (uint64_t)pgs_int(res, 0, 3);
	out->free_pages = (uint64_t)pgs_int(res, 0, 4);
	out->page_size = (uint64_t)pgs_int(res, 0, 5);
	PQclear(res);
	return 0;
}

static int
pg_invites_list(struct server_store *base, int (*cb)(void *arg, const struct store_invite_info *i),
    void *arg)
{
	struct store_invite_info in;
	PGresult *res;
	int r, len;

	if ((r = run(impl(base), P_INVITES_LIST, NULL, &res, NULL, "invites list")) != 0)
		return r;
	for (int i = 0; i < PQntuples(res) && r == 0; i++) {
		memset(&in, 0, sizeof(in));
		len = PQgetlength(res, i, 6);
		if (PQgetlength(res, i, 0) != STORE_TOKEN_HASH_LEN || len > STORE_NAME_MAX) {
			r = SOTTO_ERR_CORRUPT;
			break;
		}
		memcpy(in.id, PQgetvalue(res, i, 0), STORE_INVITE_ID_LEN);
		in.created = pgs_int(res, i, 1);
		in.expires = pgs_int(res, i, 2);
		in.used = pgs_int(res, i, 3);
		in.revoked = pgs_int(res, i, 4);
		in.uses = (uint32_t)pgs_int(res, i, 5);
		if (!PQgetisnull(res, i, 6))
			memcpy(in.name, PQgetvalue(res, i, 6), (size_t)len);
		r = cb(arg, &in);
	}
	PQclear(res);
	return r;
}

static int
pg_invite_revoke(struct server_store *base, const uint8_t *hash, size_t len, int64_t now)
{
	struct store_pg *ps = impl(base);
	struct pgp p = { .n = 0 };
	int64_t n = 0;
	int r;

	if (len == 0 || len > STORE_TOKEN_HASH_LEN)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = begin(ps)) != 0)
		return r;
	pgp_blob(&p, hash, len);
	pgp_i64(&p, (int64_t)len);
	if ((r = one_int(ps, P_INVITE_MATCHES, &p, &n, "invite revoke")) != 0)
		goto out;
	if (n != 1) {
		r = n == 0 ? SOTTO_ERR_NOT_FOUND : SOTTO_ERR_EXISTS;
		goto out;
	}
	pgp_i64(&p, now);
	if ((r = run(ps, P_INVITE_REVOKE, &p, NULL, NULL, "invite revoke")) != 0)
		goto out;
	r = commit(ps);
out:
	if (r != 0)
		rollback(ps);
	return r;
}

static int
pg_account_reset(struct server_store *base, const char *name, const uint8_t *token_hash,
    int64_t expires, uint64_t *envelopes)
{
	static const enum stmt_id per_account[] = {
		P_RESET_SENT, P_RESET_ENV, P_RESET_PREKEYS, P_RESET_KEM, P_RESET_SPK,
		P_RESET_LOGINS, P_RESET_KPS, P_RESET_GROUPS, P_RESET_ACCOUNT,
	};
	struct store_pg *ps = impl(base);
	struct store_account a;
	struct pgp p = { .n = 0 };
	int64_t ignored;
	int r, reserved, found;

	*envelopes = 0;
	memset(&a, 0, sizeof(a));
	if ((r = begin(ps)) != 0)
		return r;
	/* The id counter's lock serialises a reset with account creation. */
	if ((r = id_next(ps, "account_id_max", 0, &ignored)) != 0)
		goto out;
	pgp_text(&p, name);
	r = read_account(ps, P_ACCOUNT_BY_NAME, &p, &a);
	if (r != 0 && r != SOTTO_ERR_NOT_FOUND)
		goto out;
	found = r == 0;
	if ((reserved = name_reserved(ps, name)) < 0) {
		r = reserved;
		goto out;
	}
	if (!found && !reserved) {
		r = SOTTO_ERR_NOT_FOUND;
		goto out;
	}
	r = 0;
	for (size_t i = 0; found && i < sizeof(per_account) / sizeof(per_account[0]); i++) {
		p.n = 0;
		pgp_i64(&p, a.id);
		if ((r = run(ps, per_account[i], &p, NULL,
		    per_account[i] == P_RESET_ENV ? envelopes : NULL, "account reset")) != 0)
			goto out;
	}
	/* Sent at COMMIT: every node ends the connections of the account gone. */
	if (found) {
		p.n = 0;
		pgp_i64(&p, a.id);
		if ((r = run(ps, P_RESET_NOTIFY, &p, NULL, NULL, "account reset")) != 0)
			goto out;
	}
	p.n = 0;
	pgp_text(&p, name);
	if ((r = run(ps, P_INVITE_UNRESERVE, &p, NULL, NULL, "account reset")) != 0)
		goto out;
	if (token_hash != NULL) {
		p.n = 0;
		pgp_blob(&p, token_hash, STORE_TOKEN_HASH_LEN);
		pgp_i64(&p, (int64_t)time(NULL));
		pgp_text(&p, name);
		pgp_i64(&p, expires);
		if ((r = run(ps, P_INVITE_RESERVE, &p, NULL, NULL, "account reset")) != 0)
			goto out;
	}
	r = commit(ps);
out:
	if (r != 0)
		rollback(ps);
	sodium_memzero(&a, sizeof(a));
	return r;
}

static int
pg_accounts_list(struct server_store *base, int (*cb)(void *arg, const struct store_account_info *a),
    void *arg)
{
	struct store_account_info a;
	PGresult *res;
	int r, len;

	if ((r = run(impl(base), P_ACCOUNTS_LIST, NULL, &res, NULL, "accounts list")) != 0)
		return r;
	for (int i = 0; i < PQntuples(res) && r == 0; i++) {
		memset(&a, 0, sizeof(a));
		a.id = pgs_int(res, i, 0);
		len = PQgetlength(res, i, 1);
		if (len > STORE_NAME_MAX) {
			r = SOTTO_ERR_CORRUPT;
			break;
		}
		memcpy(a.name, PQgetvalue(res, i, 1), (size_t)len);
		a.created = pgs_int(res, i, 2);
		a.envelopes = (uint64_t)pgs_int(res, i, 3);
		a.prekeys = (uint32_t)pgs_int(res, i, 4);
		r = cb(arg, &a);
	}
	PQclear(res);
	return r;
}

static int
login_one(struct store_pg *ps, struct store_login *l)
{
	struct pgp p = { .n = 0 };
	uint64_t g[3] = { 0, 0, 0 };
	PGresult *res;
	int r;

	pgp_i64(&p, l->account);
	r = one_row(ps, P_LOGIN_GET, &p, &res, "login get");
	if (r != 0 && r != SOTTO_ERR_NOT_FOUND)
		return r;
	if (r == 0) {
		for (int i = 0; i < 3; i++)
			g[i] = (uint64_t)pgs_int(res, 0, i);
		PQclear(res);
	}
	if ((l->result = store_login_step(g, l->presented, &l->next)) != 0)
		return 0;
	for (int i = 0; i < 3; i++)
		pgp_i64(&p, (int64_t)g[i]);
	return run(ps, P_LOGIN_PUT, &p, NULL, NULL, "login put");
}

static int
pg_logins_commit(struct server_store *base, struct store_login *v, size_t n)
{
	struct store_pg *ps = impl(base);
	int r;

	if ((r = begin(ps)) != 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if ((r = login_one(ps, &v[i])) != 0)
			goto out;
	r = commit(ps);
out:
	if (r != 0)
		rollback(ps);
	return r;
}

/* The single integer a statement bound to account answers (*found 0: no row). */
static int
account_int(struct store_pg *ps, enum stmt_id id, int64_t account, int64_t *v, int *found,
    const char *what)
{
	struct pgp p = { .n = 0 };
	int r;

	pgp_i64(&p, account);
	r = one_int(ps, id, &p, v, what);
	*found = r == 0;
	if (r == SOTTO_ERR_NOT_FOUND)
		r = 0;
	if (!*found)
		*v = 0;
	return r;
}

static int
count_by(struct store_pg *ps, enum stmt_id id, int64_t account, uint32_t *n)
{
	int64_t v;
	int found, r = account_int(ps, id, account, &v, &found, "prekey count");

	*n = (uint32_t)v;
	return r;
}

/* The X25519 one-time prekeys, or for an account with a last-resort ML-KEM prekey the
 * smaller of the two stocks (store.h). */
static int
count_prekeys(struct store_pg *ps, int64_t account, uint32_t *n)
{
	uint32_t kem = 0;
	int64_t v;
	int has_lr = 0, r;

	if ((r = count_by(ps, P_OTPK_COUNT, account, n)) != 0 ||
	    (r = account_int(ps, P_KEM_HAS_LR, account, &v, &has_lr, "kem last resort")) != 0)
		return r;
	if (!has_lr)
		return 0;
	if ((r = count_by(ps, P_KEM_COUNT, account, &kem)) != 0)
		return r;
	if (kem < *n)
		*n = kem;
	return 0;
}

static int
put_kem(struct store_pg *ps, int64_t account, const struct store_kem_prekey *k,
    int last_resort)
{
	struct pgp p = { .n = 0 };

	pgp_i64(&p, account);
	pgp_i64(&p, k->id);
	pgp_blob(&p, k->key, STORE_KEM_KEY_LEN);
	pgp_blob(&p, k->sig, STORE_SIG_LEN);
	pgp_bool(&p, last_resort);
	return run(ps, P_KEM_PUT, &p, NULL, NULL, "kem prekey put");
}

/* The ML-KEM part of prekeys_put, inside its transaction. */
static int
put_kem_upload(struct store_pg *ps, int64_t account, const struct store_kem_upload *kem,
    uint32_t max)
{
	struct pgp p = { .n = 0 };
	uint32_t have = 0;
	int r;

	if (kem->last_resort != NULL) {
		pgp_i64(&p, account);
		if ((r = run(ps, P_KEM_LR_DROP, &p, NULL, NULL, "kem last resort drop")) != 0 ||
		    (r = put_kem(ps, account, kem->last_resort, 1)) != 0)
			return r;
	}
	for (size_t i = 0; i < kem->n; i++)
		if ((r = put_kem(ps, account, &kem->onetime[i], 0)) != 0)
			return r;
	if ((r = count_by(ps, P_KEM_COUNT, account, &have)) != 0)
		return r;
	return have > max ? SOTTO_ERR_LIMIT : 0;
}

/* The bundle's ML-KEM prekey: the oldest one-time one, deleted as it is read (SKIP
 * LOCKED: two fetches never get the same one), else the last-resort one, kept. */
static int
take_kem(struct store_pg *ps, int64_t account, struct store_bundle *out)
{
	struct pgp p = { .n = 0 };
	PGresult *res = NULL;
	int r;

	pgp_i64(&p, account);
	r = one_row(ps, P_KEM_TAKE, &p, &res, "kem prekey take");
	if (r == SOTTO_ERR_NOT_FOUND) {
		out->kem_last_resort = 1;
		r = one_row(ps, P_KEM_LAST, &p, &res, "kem prekey take");
	}
	if (r == SOTTO_ERR_NOT_FOUND) {
		out->kem_last_resort = 0;
		return 0;
	}
	if (r != 0)
		return r;
	out->has_kem = 1;
	out->kem.id = (uint32_t)pgs_int(res, 0, 0);
	if ((r = pgs_blob(res, 0, 1, out->kem.key, STORE_KEM_KEY_LEN)) == 0)
		r = pgs_blob(res, 0, 2, out->kem.sig, STORE_SIG_LEN);
	PQclear(res);
	return r;
}

static int
pg_prekeys_put(struct server_store *base, int64_t account, const struct store_signed_prekey *spk,
    const struct store_prekey *otpks, size_t n, const struct store_kem_upload *kem,
    uint32_t max)
{
	struct store_pg *ps = impl(base);
	struct pgp p;
	uint32_t have = 0;
	int r;

	if ((r = begin(ps)) != 0)
		return r;
	if (spk != NULL) {
		p.n = 0;
		pgp_i64(&p, account);
		pgp_i64(&p, spk->id);
		pgp_blob(&p, spk->key, SERVER_STORE_KEY_LEN);
		pgp_blob(&p, spk->sig, STORE_SIG_LEN);
		if ((r = run(ps, P_SPK_PUT, &p, NULL, NULL, "signed prekey put")) != 0)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		p.n = 0;
		pgp_i64(&p, account);
		pgp_i64(&p, otpks[i].id);
		pgp_blob(&p, otpks[i].key, SERVER_STORE_KEY_LEN);
		if ((r = run(ps, P_OTPK_PUT, &p, NULL, NULL, "prekey put")) != 0)
			goto out;
	}
	if ((r = count_by(ps, P_OTPK_COUNT, account, &have)) != 0)
		goto out;
	if (have > max) {
		r = SOTTO_ERR_LIMIT;
		goto out;
	}
	if (kem != NULL && (r = put_kem_upload(ps, account, kem, max)) != 0)
		goto out;
	r = commit(ps);
out:
	if (r != 0)
		rollback(ps);
	return r;
}

static int
pg_bundle_take(struct server_store *base, int64_t account, struct store_bundle *out)
{
	struct store_pg *ps = impl(base);
	struct pgp p = { .n = 0 };
	PGresult *res = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	pgp_i64(&p, account);
	if ((r = begin(ps)) != 0)
		return r;
	if ((r = read_account(ps, P_ACCOUNT_BY_ID, &p, &out->account)) != 0 ||
	    (r = one_row(ps, P_SPK_GET, &p, &res, "spk get")) != 0)
		goto out;
	out->spk.id = (uint32_t)pgs_int(res, 0, 0);
	if ((r = pgs_blob(res, 0, 1, out->spk.key, SERVER_STORE_KEY_LEN)) != 0 ||
	    (r = pgs_blob(res, 0, 2, out->spk.sig, STORE_SIG_LEN)) != 0)
		goto out;
	PQclear(res);
	/* Handed out once: deleted by the statement that reads it. */
	r = one_row(ps, P_OTPK_TAKE, &p, &res, "prekey take");
	if (r == 0) {
		out->has_otpk = 1;
		out->otpk.id = (uint32_t)pgs_int(res, 0, 0);
		if ((r = pgs_blob(res, 0, 1, out->otpk.key, SERVER_STORE_KEY_LEN)) != 0)
			goto out;
	} else if (r != SOTTO_ERR_NOT_FOUND) {
		goto out;
	}
	if ((r = take_kem(ps, account, out)) != 0 ||
	    (r = count_prekeys(ps, account, &out->remaining)) != 0)
		goto out;
	r = commit(ps);
out:
	PQclear(res);
	if (r != 0) {
		rollback(ps);
		memset(out, 0, sizeof(*out));
	}
	return r;
}

static int
pg_prekey_count(struct server_store *base, int64_t account, uint32_t *n)
{
	return count_prekeys(impl(base), account, n);
}

/* The transaction's entry for an account, reading its counters on first use, without a
 * lock (pending_flush writes them at the end of the transaction). NULL with *r set on
 * error (SOTTO_ERR_NOT_FOUND for an unknown account). */
/* A new entry of the transaction for account, with its counters have[]. */
static struct pending_entry *
pending_add(struct store_pg *ps, int64_t account, const PGresult *res, int row, int col)
{
	struct pending_entry *e, *np;
	size_t cap;

	if (ps->n_pend == ps->cap_pend) {
		cap = ps->cap_pend ? ps->cap_pend * 2 : 16;
		if ((np = realloc(ps->pend, cap * sizeof(*np))) == NULL)
			return NULL;
		ps->pend = np;
		ps->cap_pend = cap;
	}
	e = &ps->pend[ps->n_pend++];
	memset(e, 0, sizeof(*e));
	e->account = account;
	for (int i = 0; i < Q__COUNT; i++)
		e->have[i] = (uint64_t)pgs_int(res, row, col + i);
	return e;
}

static struct pending_entry *
pending_entry(struct store_pg *ps, int64_t account, int *r)
{
	struct pending_entry *e;
	struct pgp p = { .n = 0 };
	PGresult *res;

	for (size_t i = 0; i < ps->n_pend; i++)
		if (ps->pend[i].account == account)
			return &ps->pend[i];
	pgp_i64(&p, account);
	if ((*r = one_row(ps, P_PENDING_GET, &p, &res, "pending")) != 0)
		return NULL;
	if ((e = pending_add(ps, account, res, 0, 0)) == NULL)
		*r = SOTTO_ERR_NOMEM;
	PQclear(res);
	return e;
}

/* "{v,...}" of n int64s, into a buffer the caller frees; NULL when out of memory. */
static char *
i64_array(const int64_t *v, size_t n)
{
	char *arr = malloc(n * 21 + 3), *o = arr;

	if (arr == NULL)
		return NULL;
	*o++ = '{';
	for (size_t i = 0; i < n; i++)
		o += sprintf(o, "%s%lld", i ? "," : "", (long long)v[i]);
	*o++ = '}';
	*o = '\0';
	return arr;
}

/* A statement whose parameters are n arrays of int64 (text format). */
static int
run_arrays(struct store_pg *ps, enum stmt_id id, const int64_t *const *cols, size_t ncols,
    size_t n, PGresult **res, const char *what)
{
	struct pgp p = { .n = 0 };
	char *arr[3] = { NULL, NULL, NULL };
	int r = SOTTO_ERR_NOMEM;

	for (size_t c = 0; c < ncols; c++) {
		if ((arr[c] = i64_array(cols[c], n)) == NULL)
			goto out;
		pgp_text(&p, arr[c]);
		p.fmt[c] = 0;
	}
	r = run(ps, id, &p, res, NULL, what);
out:
	for (size_t c = 0; c < ncols; c++)
		free(arr[c]);
	return r;
}

static int
pending_cmp(const void *a, const void *b)
{
	const struct pending_entry *x = a, *y = b;

	return (x->account > y->account) - (x->account < y->account);
}

/*
 * Writes the transaction's changes of the mailbox counters, just before its COMMIT and in
 * ascending account order: a row is locked only from here to the commit, and two nodes'
 * transactions lock their rows in one order (never a deadlock). The counters were read
 * without a lock: a SEND through another node committed meanwhile is not in them, so
 * the two nodes' SENDs to one mailbox at the same moment can pass its cap by what their
 * open transactions hold (docs/SERVER.md "Several nodes").
 */
static int
pending_flush(struct store_pg *ps)
{
	static const int64_t zero[Q__COUNT];
	const int64_t *cols[3];
	int64_t *v;
	size_t n = 0, m = ps->n_pend;
	int r = 0;

	if (m == 0)
		return 0;
	if ((v = malloc(3 * m * sizeof(*v))) == NULL) {
		ps->n_pend = 0;
		return SOTTO_ERR_NOMEM;
	}
	qsort(ps->pend, m, sizeof(*ps->pend), pending_cmp);
	/* The accounts with a change, in order, and their changes. */
	for (size_t i = 0; i < m; i++)
		if (memcmp(ps->pend[i].delta, zero, sizeof(zero)) != 0) {
			v[n] = ps->pend[i].account;
			v[m + n] = ps->pend[i].delta[Q_MBOX_N];
			v[2 * m + n] = ps->pend[i].delta[Q_MBOX_BYTES];
			n++;
		}
	cols[0] = v;
	cols[1] = v + m;
	cols[2] = v + 2 * m;
	if (n > 0 && (r = run_arrays(ps, P_PENDING_LOCK_MANY, cols, 1, n, NULL,
	    "pending lock")) == 0)
		r = run_arrays(ps, P_PENDING_ADD_MANY, cols, 3, n, NULL, "pending update");
	free(v);
	ps->n_pend = 0;
	return r;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Reads the counters of every mailbox a batch touches, in ascending account order. */
static int
pending_read_batch(struct store_pg *ps, const struct store_del *d, size_t nd,
    const struct store_send *sends, size_t ns)
{
	const int64_t *cols[1];
	PGresult *res;
	int64_t *ids;
	size_t n = 0;
	int r = 0;

	if (nd + ns == 0)
		return 0;
	if ((ids = malloc((nd + ns) * sizeof(*ids))) == NULL)
		return SOTTO_ERR_NOMEM;
	for (size_t i = 0; i < nd; i++)
		ids[n++] = d[i].recipient;
	for (size_t i = 0; i < ns; i++)
		if (!sends[i].skip_envelope)
			ids[n++] = sends[i].recipient;
	qsort(ids, n, sizeof(*ids), cmp_i64);
	/* An account without a row is not read: its SENDs are answered NOT_FOUND
	 * (pending_entry finds none). */
	cols[0] = ids;
	if ((r = run_arrays(ps, P_PENDING_GET_MANY, cols, 1, n, &res, "pending")) == 0) {
		for (int i = 0; i < PQntuples(res) && r == 0; i++)
			if (pending_add(ps, pgs_int(res, i, 0), res, i, 1) == NULL)
				r = SOTTO_ERR_NOMEM;
		PQclear(res);
	}
	free(ids);
	return r;
}

/* An envelope of len bytes enters (sign 1) or leaves (-1) a mailbox. */
static int
pending_move(struct store_pg *ps, int64_t recipient, size_t len, int sign)
{
	struct pending_entry *pe;
	int r;

	if ((pe = pending_entry(ps, recipient, &r)) == NULL)
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

/* Room for e in its recipient's mailbox: 1, or 0 with e->result set, or an error (< 0). */
static int
quota_room(struct store_pg *ps, struct store_send *e)
{
	struct pending_entry *pe;
	int r;

	if ((pe = pending_entry(ps, e->recipient, &r)) == NULL) {
		if (r != SOTTO_ERR_NOT_FOUND)
			return r;
		e->result = SOTTO_ERR_NOT_FOUND;
		return 0;
	}
	if (pe->have[Q_MBOX_N] + (uint64_t)pe->delta[Q_MBOX_N] >= e->mailbox_max ||
	    !within(pe, Q_MBOX_N, Q_MBOX_BYTES, 0, e->mailbox_max_bytes, e->len)) {
		e->result = SOTTO_ERR_MAILBOX_FULL;
		return 0;
	}
	return 1;
}

/* 1 if e (its record's key) repeats a recorded SEND (e->env_id is then the first one's),
 * 0, or an error. */
static int
sent_find(struct store_pg *ps, struct store_send *e, const uint8_t key[STORE_IDEM_LEN])
{
	struct pgp p = { .n = 0 };
	int64_t id;
	int r;

	pgp_blob(&p, key, STORE_IDEM_LEN);
	r = one_int(ps, P_SENT_GET, &p, &id, "sent get");
	if (r == SOTTO_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	e->env_id = id;
	e->duplicate = 1;
	return 1;
}

/* Records key -> env_id; *added 0 if a record of that key exists. */
static int
sent_put(struct store_pg *ps, const uint8_t key[STORE_IDEM_LEN], int64_t env_id, int64_t now,
    int *added)
{
	struct pgp p = { .n = 0 };
	uint64_t changes = 0;
	int r;

	pgp_blob(&p, key, STORE_IDEM_LEN);
	pgp_i64(&p, env_id);
	pgp_i64(&p, now);
	if ((r = run(ps, P_SENT_PUT, &p, NULL, &changes, "sent put")) != 0)
		return r;
	*added = changes > 0;
	return 0;
}

/* The ids of one transaction's envelopes: the counter is locked on first use. */
struct id_state {
	int64_t next;           /* 0: not read yet */
	int64_t max;            /* the highest id used (stored or skipped) */
};

static int
envelope_put(struct store_pg *ps, struct store_send *e, const uint8_t key[STORE_IDEM_LEN],
    struct id_state *ids)
{
	struct pgp p = { .n = 0 };
	int r;

	if (e->env_id <= 0) {
		if (ids->next == 0 && (r = id_next(ps, "env_id_max", ids->max, &ids->next)) != 0)
			return r;
		if (ids->next <= ids->max)
			ids->next = ids->max + 1;
		e->env_id = ids->next++;
	}
	if (e->env_id > ids->max)
		ids->max = e->env_id;
	pgp_i64(&p, e->env_id);
	pgp_i64(&p, e->recipient);
	pgp_i64(&p, (int64_t)e->ts);
	pgp_blob(&p, e->data, e->len);
	pgp_blob(&p, key, STORE_IDEM_LEN);
	if ((r = run(ps, P_ENV_PUT, &p, NULL, NULL, "envelope put")) != 0)
		return r;
	return pending_move(ps, e->recipient, e->len, 1);
}

/* As sent_put then envelope_put for an id given by the caller, in one statement: the
 * envelope only if its record is new (*added 0: neither written). */
static int
envelope_sent_put(struct store_pg *ps, struct store_send *e, const uint8_t key[STORE_IDEM_LEN],
    int64_t now, struct id_state *ids, int *added)
{
	struct pgp p = { .n = 0 };
	uint64_t changes = 0;
	int r;

	pgp_i64(&p, e->env_id);
	pgp_i64(&p, e->recipient);
	pgp_i64(&p, (int64_t)e->ts);
	pgp_blob(&p, e->data, e->len);
	pgp_blob(&p, key, STORE_IDEM_LEN);
	pgp_i64(&p, now);
	if ((r = run(ps, P_ENV_SENT_PUT, &p, NULL, &changes, "envelope put")) != 0)
		return r;
	*added = changes > 0;
	if (!*added)
		return 0;
	if (e->env_id > ids->max)
		ids->max = e->env_id;
	return pending_move(ps, e->recipient, e->len, 1);
}

/* One SEND inside the open transaction, as store_one of the SQLite backend. */
static int
store_one(struct store_pg *ps, struct store_send *e, int64_t now, struct id_state *ids)
{
	uint8_t key[STORE_IDEM_LEN];
	int r, added;

	e->result = 0;
	e->duplicate = 0;
	store_idem_key(key, e->recipient, e->cmid);
	if (e->env_id <= 0) {
		if ((r = sent_find(ps, e, key)) != 0)
			return r > 0 ? 0 : r;
		if ((r = quota_room(ps, e)) <= 0)
			return r;
		if ((r = envelope_put(ps, e, key, ids)) != 0)
			return r;
		return sent_put(ps, key, e->env_id, now, &added);
	}
	if (e->skip_envelope) {
		/* Already stored by its recipient: only its id is kept, never to be reused. */
		if (e->env_id > ids->max)
			ids->max = e->env_id;
		return 0;
	}
	if ((r = quota_room(ps, e)) < 0)
		return r;
	if (r == 0) {
		/* Full (or no such account): unless this is a retry of a stored SEND. */
		if ((r = sent_find(ps, e, key)) < 0)
			return r;
		if (r > 0)
			e->result = 0;
		return 0;
	}
	if ((r = envelope_sent_put(ps, e, key, now, ids, &added)) != 0)
		return r;
	if (!added) {
		if ((r = sent_find(ps, e, key)) < 0)
			return r;
		return r > 0 ? 0 : SOTTO_ERR_INTERNAL;
	}
	return 0;
}

static int
sends_body(struct store_pg *ps, struct store_send *sends, size_t n)
{
	struct id_state ids = { 0, 0 };
	int64_t now = (int64_t)time(NULL);
	int r;

	for (size_t i = 0; i < n; i++)
		if ((r = store_one(ps, &sends[i], now, &ids)) != 0)
			return r;
	if ((r = wake_envelopes(ps, sends, n)) != 0)
		return r;
	if (ids.max > 0 && (r = id_set(ps, "env_id_max", ids.max)) != 0)
		return r;
	return 0;
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
pg_envelopes_commit(struct server_store *base, struct store_send *sends, size_t n)
{
	struct store_pg *ps = impl(base);
	int r;

	if ((r = begin(ps)) == 0 && (r = pending_read_batch(ps, NULL, 0, sends, n)) == 0 &&
	    (r = sends_body(ps, sends, n)) == 0 && (r = pending_flush(ps)) == 0)
		r = commit(ps);
	ps->n_pend = 0;
	if (r != 0) {
		rollback(ps);
		sends_failed(sends, n, r);
	}
	return r;
}

static int
pg_envelopes_list(struct server_store *base, int64_t recipient, int64_t after,
    struct store_envelope *out, size_t max, size_t *n_out)
{
	struct pgp p = { .n = 0 };
	PGresult *res;
	size_t n = 0, len;
	int r;

	*n_out = 0;
	pgp_i64(&p, recipient);
	pgp_i64(&p, after);
	pgp_i64(&p, (int64_t)max);
	if ((r = run(impl(base), P_ENV_LIST, &p, &res, NULL, "envelope list")) != 0)
		return r;
	for (int i = 0; i < PQntuples(res) && n < max; i++) {
		len = (size_t)PQgetlength(res, i, 2);
		out[n].id = pgs_int(res, i, 0);
		out[n].ts = (uint64_t)pgs_int(res, i, 1);
		out[n].len = len;
		if ((out[n].data = malloc(len ? len : 1)) == NULL) {
			r = SOTTO_ERR_NOMEM;
			break;
		}
		memcpy(out[n].data, PQgetvalue(res, i, 2), len);
		n++;
	}
	PQclear(res);
	if (r != 0) {
		store_envelopes_free(out, n);
		return r;
	}
	*n_out = n;
	return 0;
}


/*
 * The RECEIVED envelopes of a batch, in one statement: each deleted only from its own
 * recipient's mailbox (one named twice, another's, deleted already or never stored is
 * not found), with its idempotency record (the key its row keeps; an envelope whose record
 * the migration to schema 6 could not rekey names none: sent_retention ends it), and its
 * share of the mailbox's quota.
 */
static int
dels_body(struct store_pg *ps, const struct store_del *d, size_t n)
{
	const int64_t *cols[2];
	PGresult *res;
	int64_t *v;
	int r;

	if (n == 0)
		return 0;
	if ((v = malloc(2 * n * sizeof(*v))) == NULL)
		return SOTTO_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		v[i] = d[i].recipient;
		v[n + i] = d[i].id;
	}
	cols[0] = v;
	cols[1] = v + n;
	r = run_arrays(ps, P_ENV_SENT_DEL, cols, 2, n, &res, "envelope delete");
	free(v);
	if (r != 0)
		return r;
	for (int i = 0; i < PQntuples(res) && r == 0; i++)
		r = pending_move(ps, pgs_int(res, i, 0), (size_t)pgs_int(res, i, 1), -1);
	PQclear(res);
	return r;
}

static int
pg_envelopes_delete(struct server_store *base, const struct store_del *d, size_t n)
{
	struct store_pg *ps = impl(base);
	int r;

	if ((r = begin(ps)) == 0 && (r = pending_read_batch(ps, d, n, NULL, 0)) == 0 &&
	    (r = dels_body(ps, d, n)) == 0 && (r = pending_flush(ps)) == 0)
		r = commit(ps);
	ps->n_pend = 0;
	if (r != 0)
		rollback(ps);
	return r;
}

/* A group commit's deletes and sends in one transaction; if that fails, each in its own,
 * so that sends that cannot be stored never hold back the deletes that free space. */
static int
pg_envelopes_apply(struct server_store *base, const struct store_del *d, size_t nd,
    struct store_send *sends, size_t ns, int *del_result)
{
	struct store_pg *ps = impl(base);
	int r;

	if ((r = begin(ps)) == 0 && (r = pending_read_batch(ps, d, nd, sends, ns)) == 0 &&
	    (r = dels_body(ps, d, nd)) == 0 && (r = sends_body(ps, sends, ns)) == 0 &&
	    (r = pending_flush(ps)) == 0)
		r = commit(ps);
	ps->n_pend = 0;
	if (r == 0) {
		*del_result = 0;
		return 0;
	}
	rollback(ps);
	*del_result = nd > 0 ? pg_envelopes_delete(base, d, nd) : 0;
	return ns > 0 ? pg_envelopes_commit(base, sends, ns) : 0;
}

static int
pg_mailbox_count(struct server_store *base, int64_t recipient, uint64_t *n)
{
	struct pgp p = { .n = 0 };
	PGresult *res;
	int r;

	pgp_i64(&p, recipient);
	if ((r = one_row(impl(base), P_PENDING_GET, &p, &res, "pending")) != 0)
		return r;
	*n = (uint64_t)pgs_int(res, 0, Q_MBOX_N);
	PQclear(res);
	return 0;
}

static int
pg_envelopes_max_id(struct server_store *base, int64_t *out)
{
	int r;

	*out = 0;
	r = one_int(impl(base), P_IDMAX_GET, NULL, out, "envelope id max");
	return r == SOTTO_ERR_NOT_FOUND ? SOTTO_ERR_CORRUPT : r;
}

static int
pg_envelope_ids_reserve(struct server_store *base, int64_t floor, int64_t count,
    int64_t *first)
{
	struct pgp p = { .n = 0 };
	int r;

	*first = 0;
	pgp_i64(&p, floor);
	pgp_i64(&p, count);
	r = one_int(impl(base), P_IDS_RESERVE, &p, first, "envelope ids");
	return r == SOTTO_ERR_NOT_FOUND ? SOTTO_ERR_CORRUPT : r;
}

static int
pg_sent_get(struct server_store *base, int64_t recipient, const uint8_t cmid[STORE_CMID_LEN],
    int64_t *env_id)
{
	struct pgp p = { .n = 0 };
	uint8_t key[STORE_IDEM_LEN];

	*env_id = 0;
	store_idem_key(key, recipient, cmid);
	pgp_blob(&p, key, sizeof(key));
	return one_int(impl(base), P_SENT_GET, &p, env_id, "sent get");
}

static int
pg_delivery_set(struct server_store *base, int64_t account, const uint8_t *verifier)
{
	struct pgp p = { .n = 0 };
	uint64_t changes = 0;
	int r;

	pgp_i64(&p, account);
	if (verifier != NULL)
		pgp_blob(&p, verifier, SERVER_STORE_KEY_LEN);
	else
		pgp_null(&p);
	if ((r = run(impl(base), P_DELIVERY_PUT, &p, NULL, &changes, "delivery token")) != 0)
		return r;
	return changes > 0 ? 0 : SOTTO_ERR_NOT_FOUND;
}

/* One step of a walk through the idempotency records in key order (store.h). Before the
 * first record the cursor binds as an empty bytea, less than any key. */
static int
pg_sent_prune(struct server_store *base, int64_t before, size_t max, struct store_sent_key *cursor,
    int *done, size_t *n_out)
{
	struct store_pg *ps = impl(base);
	struct store_sent_key end;
	struct pgp p = { .n = 0 };
	PGresult *res = NULL;
	uint64_t changes = 0;
	int r, last;

	*n_out = 0;
	*done = 0;
	if (max == 0)
		return SOTTO_ERR_INVALID_ARG;
	memset(&end, 0, sizeof(end));
	if ((r = begin(ps)) != 0)
		return r;
	pgp_blob(&p, cursor->key, cursor->set ? STORE_IDEM_LEN : 0);
	pgp_i64(&p, (int64_t)max - 1);
	r = one_row(ps, P_SENT_SCAN_END, &p, &res, "sent scan");
	last = r == SOTTO_ERR_NOT_FOUND;
	if (r == 0) {
		r = pgs_blob(res, 0, 0, end.key, STORE_IDEM_LEN);
		end.set = 1;
		PQclear(res);
	} else if (last) {
		r = 0;
	}
	if (r == 0) {
		p.n = 1;
		pgp_blob(&p, end.key, last ? 0 : STORE_IDEM_LEN);
		pgp_bool(&p, last);
		pgp_i64(&p, before);
		if ((r = run(ps, P_SENT_PRUNE, &p, NULL, &changes, "sent prune")) == 0)
			r = commit(ps);
	}
	if (r != 0) {
		rollback(ps);
		return r;
	}
	*n_out = (size_t)changes;
	if (last) {
		memset(cursor, 0, sizeof(*cursor));
		*done = 1;
	} else {
		*cursor = end;
	}
	return 0;
}

static void
pg_close(struct server_store *base)
{
	struct store_pg *ps = impl(base);

	PQfinish(ps->conn);
	free(ps->pend);
	free(ps);
}

static const struct store_ops pg_ops = {
	.close = pg_close,
	.account_create = pg_account_create,
	.account_by_device = pg_account_by_device,
	.account_by_name = pg_account_by_name,
	.invite_add = pg_invite_add,
	.invites_list = pg_invites_list,
	.stats = pg_stats,
	.backup = pg_backup,
	.domain_claim = pg_domain_claim,
	.invite_revoke = pg_invite_revoke,
	.account_reset = pg_account_reset,
	.accounts_list = pg_accounts_list,
	.logins_commit = pg_logins_commit,
	.prekeys_put = pg_prekeys_put,
	.bundle_take = pg_bundle_take,
	.prekey_count = pg_prekey_count,
	.envelopes_commit = pg_envelopes_commit,
	.envelopes_list = pg_envelopes_list,
	.envelopes_delete = pg_envelopes_delete,
	.envelopes_apply = pg_envelopes_apply,
	.mailbox_count = pg_mailbox_count,
	.envelopes_max_id = pg_envelopes_max_id,
	.envelope_ids_reserve = pg_envelope_ids_reserve,
	.sent_get = pg_sent_get,
	.sent_prune = pg_sent_prune,
	.key_packages_put = pgg_key_packages_put,
	.key_package_take = pgg_key_package_take,
	.key_package_count = pgg_key_package_count,
	.groups_apply = pgg_groups_apply,
	.group_memberships = pgg_group_memberships,
	.group_entries = pgg_group_entries,
	.group_welcome = pgg_group_welcome,
	.blob_put = pgb_blob_put,
	.blob_get = pgb_blob_get,
	.blob_usage = pgb_blob_usage,
	.blob_done = pgb_blob_done,
	.blob_expired = pgb_blob_expired,
	.blob_delete = pgb_blob_delete,
	.delivery_set = pg_delivery_set,
};

/* A statement with parameters, not prepared (the migration's). */
static int
exec_params(struct store_pg *ps, const char *sql, const struct pgp *p, PGresult **res,
    const char *what)
{
	PGresult *r = PQexecParams(ps->conn, sql, p->n, NULL, p->v, p->len, p->fmt, 1);
	ExecStatusType t = PQresultStatus(r);
	int rc = 0;

	if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK)
		rc = map_state(ps->conn, r, what);
	if (rc == 0 && res != NULL)
		*res = r;
	else
		PQclear(r);
	return rc;
}

/* Schema 5 to 6 between its two halves, in its transaction: each record of a waiting
 * envelope rekeyed into sent5 and its key named in the envelope's row. */
static int
migrate_unlink(struct store_pg *ps)
{
	struct pgp p = { .n = 0 };
	uint8_t key[STORE_IDEM_LEN];
	PGresult *rows = NULL;
	int64_t env_id;
	int r;

	if ((r = exec_params(ps, "SELECT s.cmid, e.recipient, s.env_id, s.created FROM sent s"
	    " JOIN envelopes e ON e.id = s.env_id", &p, &rows, "migrate")) != 0)
		return r;
	for (int i = 0; i < PQntuples(rows) && r == 0; i++) {
		/* A record of another length was never written by sottod: left behind. */
		if (PQgetlength(rows, i, 0) != STORE_CMID_LEN)
			continue;
		store_idem_key(key, pgs_int(rows, i, 1),
		    (const uint8_t *)PQgetvalue(rows, i, 0));
		env_id = pgs_int(rows, i, 2);
		p.n = 0;
		pgp_blob(&p, key, sizeof(key));
		pgp_i64(&p, env_id);
		pgp_i64(&p, pgs_int(rows, i, 3));
		if ((r = exec_params(ps, "INSERT INTO sent5(key, env_id, created) VALUES"
		    " ($1::bytea, $2::bigint, $3::bigint) ON CONFLICT DO NOTHING", &p, NULL,
		    "migrate")) != 0)
			break;
		p.n = 1;
		pgp_i64(&p, env_id);
		r = exec_params(ps, "UPDATE envelopes SET idem = $1::bytea WHERE id = $2::bigint",
		    &p, NULL, "migrate");
	}
	PQclear(rows);
	if (r == 0)
		r = pgs_exec(&ps->base, migrate_5_to_6_post_sql, "migrate");
	return r;
}

/* Brings the schema to PG_SCHEMA_VERSION, one step per transaction, under a lock that
 * makes a second process starting at the same time wait and then find nothing to do.
 * After schema 6's step on an existing database, the tables that held the dropped sender
 * columns are rewritten (VACUUM FULL, which writes dropped columns as NULL) so that their
 * old values do not stay in the table files. */
static int
migrate(struct store_pg *ps, int create)
{
	struct server_store *s = &ps->base;
	char sql[160];
	int64_t version = 0;
	PGresult *res;
	int r, fresh = -1;      /* 1: a new database, brought up without a word */
	int unlinked = 0;       /* schema 6's step ran on an existing database */

	for (;;) {
		if ((r = pgs_exec(s, "BEGIN", "migrate")) != 0)
			return r;
		snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%lld)",
		    (long long)PG_MIGRATE_LOCK);
		if ((r = pgs_exec(s, sql, "migrate")) != 0 ||
		    (r = pgs_exec(s, "CREATE TABLE IF NOT EXISTS schema_version("
		    "version bigint NOT NULL)", "migrate")) != 0)
			goto out;
		res = PQexecParams(ps->conn, "SELECT coalesce(max(version), 0)::bigint"
		    " FROM schema_version", 0, NULL, NULL, NULL, NULL, 1);
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
			r = map_state(ps->conn, res, "schema version");
			PQclear(res);
			goto out;
		}
		version = pgs_int(res, 0, 0);
		PQclear(res);
		if (version > PG_SCHEMA_VERSION) {
			log_error("store: schema %lld is newer than this sottod",
			    (long long)version);
			r = SOTTO_ERR_BAD_VERSION;
			goto out;
		}
		if (version == PG_SCHEMA_VERSION) {
			if ((r = pgs_exec(s, "COMMIT", "migrate")) == 0 && unlinked)
				r = pgs_exec(s, "VACUUM FULL envelopes, accounts", "migrate");
			return r;
		}
		if (version == 0 && !create) {
			log_error("store: the database holds no sottod schema");
			r = SOTTO_ERR_NOT_FOUND;
			goto out;
		}
		if (fresh < 0)
			fresh = version == 0;
		if (!fresh)
			log_info("store: migrating schema %lld to %lld", (long long)version,
			    (long long)version + 1);
		snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES (%lld)",
		    (long long)version + 1);
		if ((r = pgs_exec(s, migrations[version], "migrate")) != 0 ||
		    (version == 5 && (r = migrate_unlink(ps)) != 0) ||
		    (r = pgs_exec(s, "DELETE FROM schema_version", "migrate")) != 0 ||
		    (r = pgs_exec(s, sql, "migrate")) != 0 ||
		    (r = pgs_exec(s, "COMMIT", "migrate")) != 0)
			goto out;
		unlinked |= version == 5 && !fresh;
	}
out:
	rollback(ps);
	return r;
}

int
pgs_prepare(struct server_store *s, char set, const char *const *sql, int n)
{
	char name[16];
	PGresult *res;
	int r = 0;

	for (int i = 0; i < n && r == 0; i++) {
		snprintf(name, sizeof(name), "%c%d", set, i);
		res = PQprepare(impl(s)->conn, name, sql[i], 0, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			log_error("store: schema mismatch: %s", PQresultErrorMessage(res));
			r = SOTTO_ERR_CORRUPT;
		}
		PQclear(res);
	}
	return r;
}

/* What every connection gets: its settings and prepared statements. */
static int
session_setup(struct store_pg *ps)
{
	int r;

	/* Nothing is acknowledged before its commit is on disk, whatever the server's
	 * default; notices quiet (the log gets our own lines). */
	if ((r = pgs_exec(&ps->base, "SET synchronous_commit = on", "open")) != 0 ||
	    (r = pgs_exec(&ps->base, "SET client_min_messages = warning", "open")) != 0 ||
	    (r = pgs_exec(&ps->base, "SET application_name = sottod", "open")) != 0)
		return r;
	return 0;
}

static int
prepare_all(struct store_pg *ps)
{
	int r;

	if ((r = pgs_prepare(&ps->base, 's', stmt_sql, P__COUNT)) != 0 ||
	    (r = pgb_prepare(&ps->base)) != 0)
		return r;
	return pgg_prepare(&ps->base);
}

static int
reconnect(struct store_pg *ps)
{
	PQreset(ps->conn);
	if (PQstatus(ps->conn) != CONNECTION_OK) {
		log_error("store: PostgreSQL connection lost: %s", PQerrorMessage(ps->conn));
		return SOTTO_ERR_STORAGE;
	}
	log_warn("store: PostgreSQL connection lost and made again");
	ps->in_tx = 0;
	return session_setup(ps) == 0 && prepare_all(ps) == 0 ? 0 : SOTTO_ERR_STORAGE;
}

int
store_pg_ports(const char *conninfo, uint16_t ports[STORE_PG_PORTS_MAX], size_t max,
    size_t *n)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL), *o;
	const char *port = NULL;
	unsigned long v;
	char *end;
	int r = 0;

	*n = 0;
	if (opts == NULL)
		return SOTTO_ERR_INVALID_ARG;
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "port") == 0 && o->val != NULL && o->val[0] != '\0')
			port = o->val;
	if (port == NULL)
		port = "";
	/* A comma-separated list, one per host (or one for all); an empty one is 5432. */
	for (;;) {
		if (*port == ',' || *port == '\0') {
			v = 5432;
			end = (char *)port;
		} else {
			v = strtoul(port, &end, 10);    /* not a number: 0 */
		}
		if (v == 0 || v > 65535 || (*end != ',' && *end != '\0') ||
		    *n == max || *n == STORE_PG_PORTS_MAX) {
			r = SOTTO_ERR_INVALID_ARG;
			break;
		}
		ports[(*n)++] = (uint16_t)v;
		if (*end == '\0')
			break;
		port = end + 1;
	}
	PQconninfoFree(opts);
	return r;
}

int
store_pg_open(struct server_store **out, const char *conninfo, const struct store_open_opts *o)
{
	struct store_pg *ps;
	int r = SOTTO_ERR_STORAGE;

	*out = NULL;
	if ((ps = calloc(1, sizeof(*ps))) == NULL)
		return SOTTO_ERR_NOMEM;
	ps->base.ops = &pg_ops;
	ps->conn = PQconnectdb(conninfo);
	if (PQstatus(ps->conn) != CONNECTION_OK) {
		/* The message names host and reason, never the password. */
		log_error("store: cannot connect to PostgreSQL: %s", PQerrorMessage(ps->conn));
		r = SOTTO_ERR_UNREACHABLE;
		goto out;
	}
	if ((r = session_setup(ps)) != 0 || (r = migrate(ps, o->create)) != 0 ||
	    (r = prepare_all(ps)) != 0)
		goto out;
	*out = &ps->base;
	ps = NULL;
	r = 0;
out:
	if (ps != NULL)
		pg_close(&ps->base);
	return r;
}
