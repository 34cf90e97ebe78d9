/*
 * The SQLite backend of the MLS delivery service (schema 6, store_sqlite.c): the
 * KeyPackage directory and the group logs. Layout and rules: docs/SERVER.md, "Groups".
 *
 * A group's log holds each entry (Commit or application message) once, under the next seq
 * of the group; each member's row keeps how far it has read (read_seq), and a removed
 * member's row keeps the seq of the Commit that removed it (left_seq), the last entry it
 * gets. Entries every row has read are deleted. Exactly one Commit is accepted per epoch:
 * the epoch check, the log append, the membership change and the Welcomes are one
 * savepoint of the group commit's transaction.
 */
#include "server/store_sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "wire/proto_group.h"

_Static_assert(STORE_GROUP_ID_MAX == PROTO_GROUP_ID_MAX, "one group id cap");
_Static_assert(STORE_KEY_PACKAGE_MAX == PROTO_KEY_PACKAGE_MAX, "one KeyPackage cap");

enum g_stmt {
	G_BEGIN, G_COMMIT, G_ROLLBACK, G_SAVE, G_RELEASE, G_UNDO,
	G_KP_COUNT, G_KP_HAS_LR, G_KP_PUT, G_KP_DEL_LR, G_KP_FIRST, G_KP_DEL,
	G_ACCOUNT_ID, G_GROUP_GET, G_GROUP_ADD, G_GROUP_SET, G_GROUP_TOKEN,
	G_MEMBER_GET, G_MEMBER_PUT, G_MEMBER_LEAVE, G_MEMBER_WELCOME, G_MEMBER_COUNT,
	G_ACCOUNT_GROUPS, G_MEMBERS, G_MEMBER_ACK, G_MEMBER_DEL, G_MIN_READ,
	G_LOG_PUT, G_LOG_BY_CMID, G_LOG_COMMIT_AT, G_LOG_PRUNE, G_LOG_LIST,
	G_WELCOME_PUT, G_WELCOME_GET, G_WELCOME_GC, G_MEMBERSHIPS,
	G__COUNT
};

static const char *const g_sql[G__COUNT] = {
	[G_BEGIN] = "BEGIN IMMEDIATE",
	[G_COMMIT] = "COMMIT",
	[G_ROLLBACK] = "ROLLBACK",
	[G_SAVE] = "SAVEPOINT group_op",
	[G_RELEASE] = "RELEASE group_op",
	[G_UNDO] = "ROLLBACK TO group_op",
	[G_KP_COUNT] = "SELECT count(*) FROM key_packages WHERE account = ?1 AND last_resort = 0",
	[G_KP_HAS_LR] = "SELECT count(*) FROM key_packages WHERE account = ?1 AND last_resort = 1",
	[G_KP_PUT] = "INSERT INTO key_packages(account, last_resort, data) VALUES (?1, ?2, ?3)",
	[G_KP_DEL_LR] = "DELETE FROM key_packages WHERE account = ?1 AND last_resort = 1",
	/* One-time ones first, oldest first; the last-resort one only when none is left. */
	[G_KP_FIRST] = "SELECT id, last_resort, data FROM key_packages WHERE account = ?1"
	    " ORDER BY last_resort, id LIMIT 1",
	[G_KP_DEL] = "DELETE FROM key_packages WHERE id = ?1",
	[G_ACCOUNT_ID] = "SELECT id FROM accounts WHERE name = ?1",
	[G_GROUP_GET] = "SELECT id, epoch, next_seq, low_seq, verifier, prev_verifier FROM groups"
	    " WHERE gid = ?1",
	[G_GROUP_ADD] = "INSERT INTO groups(gid, epoch, next_seq, low_seq, created, verifier)"
	    " VALUES (?1, 0, 1, 1, ?2, ?3)",
	[G_GROUP_SET] = "UPDATE groups SET epoch = ?2, next_seq = ?3, low_seq = ?4 WHERE id = ?1",
	/* A Commit's: the new epoch's verifier, and the one before it for late messages. */
	[G_GROUP_TOKEN] = "UPDATE groups SET prev_verifier = verifier, verifier = ?2 WHERE id = ?1",
	[G_MEMBER_GET] = "SELECT read_seq, left_seq, welcome FROM group_members"
	    " WHERE grp = ?1 AND account = ?2",
	/* A removed member added again starts afresh at this Commit. */
	[G_MEMBER_PUT] = "INSERT OR REPLACE INTO group_members(grp, account, read_seq, left_seq,"
	    " welcome) VALUES (?1, ?2, ?3, 0, NULL)",
	[G_MEMBER_LEAVE] = "UPDATE group_members SET left_seq = ?3 WHERE grp = ?1 AND account = ?2"
	    " AND left_seq = 0",
	[G_MEMBER_WELCOME] = "UPDATE group_members SET welcome = ?4 WHERE grp = ?1"
	    " AND account = ?2 AND read_seq = ?3 AND left_seq = 0 AND welcome IS NULL",
	[G_MEMBER_COUNT] = "SELECT count(*) FROM group_members WHERE grp = ?1 AND left_seq = 0",
	[G_ACCOUNT_GROUPS] = "SELECT count(*) FROM group_members WHERE account = ?1"
	    " AND left_seq = 0",
	/* Whom an entry at ?2 goes to: members, and removed ones whose last entry it is. */
	[G_MEMBERS] = "SELECT account, left_seq, read_seq FROM group_members WHERE grp = ?1"
	    " AND (left_seq = 0 OR left_seq >= ?2)",
	[G_MEMBER_ACK] = "UPDATE group_members SET read_seq = ?3, welcome = NULL"
	    " WHERE grp = ?1 AND account = ?2",
	[G_MEMBER_DEL] = "DELETE FROM group_members WHERE grp = ?1 AND account = ?2",
	[G_MIN_READ] = "SELECT min(read_seq) FROM group_members WHERE grp = ?1",
	[G_LOG_PUT] = "INSERT INTO group_log(grp, seq, kind, epoch, ts, cmid, data)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[G_LOG_BY_CMID] = "SELECT seq, epoch FROM group_log WHERE grp = ?1 AND cmid = ?2",
	[G_LOG_COMMIT_AT] = "SELECT seq, data FROM group_log WHERE grp = ?1 AND kind = 2"
	    " AND epoch = ?2",
	[G_LOG_PRUNE] = "DELETE FROM group_log WHERE grp = ?1 AND seq < ?2",
	[G_LOG_LIST] = "SELECT seq, kind, epoch, ts, data FROM group_log WHERE grp = ?1"
	    " AND seq > ?2 AND seq <= ?3 ORDER BY seq LIMIT ?4",
	[G_WELCOME_PUT] = "INSERT INTO group_welcomes(grp, seq, epoch, ts, data)"
	    " VALUES (?1, ?2, ?3, ?4, ?5)",
	[G_WELCOME_GET] = "SELECT w.seq, w.epoch, w.ts, w.data FROM group_members m"
	    " JOIN group_welcomes w ON w.id = m.welcome WHERE m.grp = ?1 AND m.account = ?2",
	[G_WELCOME_GC] = "DELETE FROM group_welcomes WHERE id = ?1 AND NOT EXISTS"
	    " (SELECT 1 FROM group_members WHERE welcome = ?1)",
	[G_MEMBERSHIPS] = "SELECT m.grp, g.gid, m.read_seq, m.left_seq, m.welcome IS NOT NULL"
	    " FROM group_members m JOIN groups g ON g.id = m.grp WHERE m.account = ?1"
	    " AND m.grp > ?3 ORDER BY m.grp LIMIT ?2",
};

struct sqg {
	sqlite3_stmt *st[G__COUNT];
};

void
sqg_free(struct sqg *g)
{
	if (g == NULL)
		return;
	for (int i = 0; i < G__COUNT; i++)
		sqlite3_finalize(g->st[i]);
	free(g);
}

/* The statements of this handle, prepared on first use. */
static int
sqg_get(struct server_store *s, struct sqg **out)
{
	struct sqg **slot = store_sqlite_group_state(s), *g;
	sqlite3 *db = store_sqlite_db(s);
	int rc;

	if (*slot != NULL) {
		*out = *slot;
		return 0;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return SOTTO_ERR_NOMEM;
	for (int i = 0; i < G__COUNT; i++) {
		rc = sqlite3_prepare_v3(db, g_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &g->st[i], NULL);
		if (rc != SQLITE_OK) {
			sqg_free(g);
			return SOTTO_ERR_CORRUPT;
		}
	}
	*slot = g;
	*out = g;
	return 0;
}

static sqlite3_stmt *
gst(struct sqg *g, enum g_stmt id)
{
	sqlite3_reset(g->st[id]);
	sqlite3_clear_bindings(g->st[id]);
	return g->st[id];
}

static int
grun(struct server_store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_sqlite_rc(s, rc, what);
}

/* One integer of the first row (*found 0 if there is none). */
static int
gint(struct server_store *s, sqlite3_stmt *st, int64_t *v, int *found, const char *what)
{
	int rc = sqlite3_step(st);

	*found = rc == SQLITE_ROW;
	*v = *found ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_sqlite_rc(s, rc, what);
}

static void
gend(struct server_store *s, struct sqg *g, int ok)
{
	if (!ok && !sqlite3_get_autocommit(store_sqlite_db(s)))
		(void)grun(s, gst(g, G_ROLLBACK), "rollback");
}

static int
gcommit(struct server_store *s, struct sqg *g)
{
	int r = grun(s, gst(g, G_COMMIT), "commit");

	if (r != 0)
		gend(s, g, 0);
	return r;
}

/* --- KeyPackages --- */

static int
kp_counts(struct server_store *s, struct sqg *g, int64_t account, struct store_kp_count *c)
{
	sqlite3_stmt *st;
	int64_t v;
	int r, found;

	st = gst(g, G_KP_COUNT);
	sqlite3_bind_int64(st, 1, account);
	if ((r = gint(s, st, &v, &found, "key package count")) != 0)
		return r;
	c->count = (uint32_t)v;
	st = gst(g, G_KP_HAS_LR);
	sqlite3_bind_int64(st, 1, account);
	if ((r = gint(s, st, &v, &found, "key package count")) != 0)
		return r;
	c->has_last_resort = v > 0;
	return 0;
}

static int
kp_insert(struct server_store *s, struct sqg *g, int64_t account, int last_resort,
    const struct store_blob *b)
{
	sqlite3_stmt *st = gst(g, G_KP_PUT);

	if (b->len == 0 || b->len > STORE_KEY_PACKAGE_MAX)
		return SOTTO_ERR_INVALID_ARG;
	sqlite3_bind_int64(st, 1, account);
	sqlite3_bind_int(st, 2, last_resort);
	sqlite3_bind_blob(st, 3, b->p, (int)b->len, SQLITE_STATIC);
	return grun(s, st, "key package put");
}

int
sqg_key_packages_put(struct server_store *s, int64_t account, const struct store_blob *kps, size_t n,
    const struct store_blob *last_resort, uint32_t max, struct store_kp_count *left)
{
	struct store_kp_count c;
	struct sqg *g;
	sqlite3_stmt *st;
	int r;

	if ((r = sqg_get(s, &g)) != 0)
		return r;
	if ((r = grun(s, gst(g, G_BEGIN), "begin")) != 0)
		return r;
	if ((r = kp_counts(s, g, account, &c)) != 0)
		goto out;
	if ((uint64_t)c.count + n > max) {
		r = SOTTO_ERR_LIMIT;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if ((r = kp_insert(s, g, account, 0, &kps[i])) != 0)
			goto out;
	if (last_resort != NULL) {
		st = gst(g, G_KP_DEL_LR);
		sqlite3_bind_int64(st, 1, account);
		if ((r = grun(s, st, "key package put")) != 0 ||
		    (r = kp_insert(s, g, account, 1, last_resort)) != 0)
			goto out;
	}
	if ((r = kp_counts(s, g, account, left)) != 0)
		goto out;
	r = gcommit(s, g);
out:
	gend(s, g, r == 0);
	return r;
}

int
sqg_key_package_take(struct server_store *s, int64_t account, struct store_kp_claim *out)
{
	struct sqg *g;
	sqlite3_stmt *st;
	int64_t id;
	size_t len;
	int r, rc;

	if ((r = sqg_get(s, &g)) != 0)
		return r;
	if ((r = grun(s, gst(g, G_BEGIN), "begin")) != 0)
		return r;
	st = gst(g, G_KP_FIRST);
	sqlite3_bind_int64(st, 1, account);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? SOTTO_ERR_NOT_FOUND : store_sqlite_rc(s, rc, "key package");
		sqlite3_reset(st);
		goto out;
	}
	id = sqlite3_column_int64(st, 0);
	out->last_resort = sqlite3_column_int(st, 1) != 0;
	len = (size_t)sqlite3_column_bytes(st, 2);
	if (len == 0 || len > sizeof(out->data)) {
		sqlite3_reset(st);
		r = SOTTO_ERR_CORRUPT;
		goto out;
	}
	memcpy(out->data, sqlite3_column_blob(st, 2), len);
	out->len = len;
	sqlite3_reset(st);
	if (!out->last_resort) {
		st = gst(g, G_KP_DEL);
		sqlite3_bind_int64(st, 1, id);
		if ((r = grun(s, st, "key package take")) != 0)
			goto out;
	}
	if ((r = kp_counts(s, g, account, &out->left)) != 0)
		goto out;
	r = gcommit(s, g);
out:
	gend(s, g, r == 0);
	return r;
}

int
sqg_key_package_count(struct server_store *s, int64_t account, struct store_kp_count *out)
{
	struct sqg *g;
	int r;

	if ((r = sqg_get(s, &g)) != 0)
		return r;
	return kp_counts(s, g, account, out);
}

/* --- groups --- */

struct grow {
	int64_t id;
	uint64_t epoch, next_seq, low_seq;
	uint8_t verifier[STORE_GROUP_VERIFIER_LEN];     /* zeros: none */
	uint8_t prev_verifier[STORE_GROUP_VERIFIER_LEN];
};

/* A verifier column into out (zeros if NULL or not a verifier). */
static void
verifier_col(sqlite3_stmt *st, int col, uint8_t out[STORE_GROUP_VERIFIER_LEN])
{
	memset(out, 0, STORE_GROUP_VERIFIER_LEN);
	if (sqlite3_column_bytes(st, col) == STORE_GROUP_VERIFIER_LEN)
		memcpy(out, sqlite3_column_blob(st, col), STORE_GROUP_VERIFIER_LEN);
}

struct mrow {
	uint64_t read_seq, left_seq;
	int64_t welcome;                /* 0: none */
};

/* SOTTO_ERR_UNKNOWN_GROUP if there is no such group. */
static int
group_get(struct server_store *s, struct sqg *g, const uint8_t *gid, size_t len, struct grow *out)
{
	sqlite3_stmt *st = gst(g, G_GROUP_GET);
	int rc;

	sqlite3_bind_blob(st, 1, gid, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->id = sqlite3_column_int64(st, 0);
		out->epoch = (uint64_t)sqlite3_column_int64(st, 1);
		out->next_seq = (uint64_t)sqlite3_column_int64(st, 2);
		out->low_seq = (uint64_t)sqlite3_column_int64(st, 3);
		verifier_col(st, 4, out->verifier);
		verifier_col(st, 5, out->prev_verifier);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return SOTTO_ERR_UNKNOWN_GROUP;
	return rc == SQLITE_ROW ? 0 : store_sqlite_rc(s, rc, "group get");
}

static int
group_set(struct server_store *s, struct sqg *g, const struct grow *gr)
{
	sqlite3_stmt *st = gst(g, G_GROUP_SET);

	sqlite3_bind_int64(st, 1, gr->id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)gr->epoch);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)gr->next_seq);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)gr->low_seq);
	return grun(s, st, "group set");
}

/* SOTTO_ERR_NOT_FOUND if account has no row in the group. */
static int
member_get(struct server_store *s, struct sqg *g, int64_t grp, int64_t account, struct mrow *out)
{
	sqlite3_stmt *st = gst(g, G_MEMBER_GET);
	int rc;

	sqlite3_bind_int64(st, 1, grp);
	sqlite3_bind_int64(st, 2, account);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->read_seq = (uint64_t)sqlite3_column_int64(st, 0);
		out->left_seq = (uint64_t)sqlite3_column_int64(st, 1);
		out->welcome = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return SOTTO_ERR_NOT_FOUND;
	return rc == SQLITE_ROW ? 0 : store_sqlite_rc(s, rc, "member get");
}

static int
account_id(struct server_store *s, struct sqg *g, const char *name, int64_t *id, int *found)
{
	sqlite3_stmt *st = gst(g, G_ACCOUNT_ID);

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	return gint(s, st, id, found, "account id");
}

static int
count_by(struct server_store *s, struct sqg *g, enum g_stmt id, int64_t key, int64_t *n)
{
	sqlite3_stmt *st = gst(g, id);
	int found;

	sqlite3_bind_int64(st, 1, key);
	return gint(s, st, n, &found, "group count");
}

/*
 * Whether op may write to the group: a sealed message by the group token of the current
 * epoch (the previous epoch's: SOTTO_ERR_STALE_EPOCH, which op_message answers after
 * its retry check), anything else by its account being a current member. This is the
 * one place that decides it. 0, SOTTO_ERR_NOT_MEMBER, SOTTO_ERR_AUTH, STALE_EPOCH, or a
 * storage error.
 */
static int
group_authorize(struct server_store *s, struct sqg *g, const struct grow *gr,
    const struct store_group_op *op)
{
	struct mrow m;
	int r;

	if (op->sealed)
		return store_group_token_check(gr->epoch, gr->verifier, gr->prev_verifier,
		    op->verifier);
	r = member_get(s, g, gr->id, op->account, &m);
	if (r == SOTTO_ERR_NOT_FOUND || (r == 0 && m.left_seq != 0))
		return SOTTO_ERR_NOT_MEMBER;
	return r;
}

/* A Commit's new epoch gets its verifier; the one before stays for late messages. */
static int
group_token_set(struct server_store *s, struct sqg *g, const struct grow *gr,
    const struct store_group_op *op)
{
	sqlite3_stmt *st = gst(g, G_GROUP_TOKEN);

	sqlite3_bind_int64(st, 1, gr->id);
	sqlite3_bind_blob(st, 2, op->verifier, STORE_GROUP_VERIFIER_LEN, SQLITE_STATIC);
	return grun(s, st, "group token");
}

static int
log_put(struct server_store *s, struct sqg *g, const struct grow *gr, uint64_t seq, int kind,
    const struct store_group_op *op)
{
	sqlite3_stmt *st = gst(g, G_LOG_PUT);

	sqlite3_bind_int64(st, 1, gr->id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
	sqlite3_bind_int(st, 3, kind);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)gr->epoch);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)op->ts);
	if (kind == PROTO_GROUP_APPLICATION)
		sqlite3_bind_blob(st, 6, op->cmid, STORE_CMID_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 7, op->data.p, (int)op->data.len, SQLITE_STATIC);
	return grun(s, st, "group log put");
}

/* Drops the oldest entries when the log is full (store_group_log_low); the caller's
 * group_set stores the new low_seq. */
static int
log_make_room(struct server_store *s, struct sqg *g, struct grow *gr,
    const struct store_group_op *op)
{
	uint64_t low = store_group_log_low(gr->next_seq, gr->low_seq, op->log_max);
	sqlite3_stmt *st;
	int r;

	if (low == gr->low_seq)
		return 0;
	st = gst(g, G_LOG_PRUNE);
	sqlite3_bind_int64(st, 1, gr->id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)low);
	if ((r = grun(s, st, "group log drop")) != 0)
		return r;
	gr->low_seq = low;
	return 0;
}

/* Whom the entry at seq goes to, into op->members. */
static int
members_out(struct server_store *s, struct sqg *g, int64_t grp, uint64_t seq,
    struct store_group_op *op)
{
	sqlite3_stmt *st = gst(g, G_MEMBERS);
	struct store_group_member *m = NULL, *nm;
	size_t n = 0, cap = 0;
	int rc, r = 0;

	sqlite3_bind_int64(st, 1, grp);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			if ((nm = realloc(m, cap * sizeof(*m))) == NULL) {
				r = SOTTO_ERR_NOMEM;
				break;
			}
			m = nm;
		}
		m[n].account = sqlite3_column_int64(st, 0);
		m[n].left_seq = (uint64_t)sqlite3_column_int64(st, 1);
		m[n].added = m[n].left_seq == 0 &&
		    (uint64_t)sqlite3_column_int64(st, 2) == seq && op->kind == STORE_GROUP_COMMIT;
		n++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_sqlite_rc(s, rc, "group members");
	sqlite3_reset(st);
	if (r != 0) {
		free(m);
		return r;
	}
	op->members = m;
	op->n_members = n;
	op->grp = grp;
	return 0;
}

static int
op_create(struct server_store *s, struct sqg *g, struct store_group_op *op)
{
	sqlite3_stmt *st;
	int64_t n;
	int r;

	if ((r = count_by(s, g, G_ACCOUNT_GROUPS, op->account, &n)) != 0)
		return r;
	if ((uint64_t)n >= op->groups_max)
		return op->result = SOTTO_ERR_TOO_MANY_GROUPS, 0;
	st = gst(g, G_GROUP_ADD);
	sqlite3_bind_blob(st, 1, op->group, (int)op->group_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(op->ts / 1000));
	sqlite3_bind_blob(st, 3, op->verifier, STORE_GROUP_VERIFIER_LEN, SQLITE_STATIC);
	if ((r = grun(s, st, "group create")) == SOTTO_ERR_EXISTS)
		return op->result = SOTTO_ERR_EXISTS, 0;
	if (r != 0)
		return r;
	st = gst(g, G_MEMBER_PUT);
	sqlite3_bind_int64(st, 1, sqlite3_last_insert_rowid(store_sqlite_db(s)));
	sqlite3_bind_int64(st, 2, op->account);
	sqlite3_bind_int64(st, 3, 0);
	return grun(s, st, "group create");
}

/* A retry of a Commit that was accepted (its answer lost): the same bytes at its epoch. */
static int
commit_retried(struct server_store *s, struct sqg *g, const struct grow *gr,
    struct store_group_op *op, int *same)
{
	sqlite3_stmt *st = gst(g, G_LOG_COMMIT_AT);
	int rc;

	*same = 0;
	sqlite3_bind_int64(st, 1, gr->id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)op->epoch);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && (size_t)sqlite3_column_bytes(st, 1) == op->data.len &&
	    memcmp(sqlite3_column_blob(st, 1), op->data.p, op->data.len) == 0) {
		*same = 1;
		op->seq = (uint64_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_sqlite_rc(s, rc, "commit get");
}

static int
commit_removes(struct server_store *s, struct sqg *g, int64_t grp, uint64_t seq,
    const struct store_group_op *op)
{
	sqlite3_stmt *st;
	int64_t id;
	int r, found;

	/* Removing an account that is not a member (any more) changes nothing: the Commit
	 * may remove the leaf of an account deleted since. */
	for (size_t i = 0; i < op->n_remove; i++) {
		if ((r = account_id(s, g, op->remove[i], &id, &found)) != 0)
			return r;
		if (!found)
			continue;
		st = gst(g, G_MEMBER_LEAVE);
		sqlite3_bind_int64(st, 1, grp);
		sqlite3_bind_int64(st, 2, id);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)seq);
		if ((r = grun(s, st, "member leave")) != 0)
			return r;
	}
	return 0;
}

static int
commit_adds(struct server_store *s, struct sqg *g, int64_t grp, uint64_t seq,
    struct store_group_op *op)
{
	sqlite3_stmt *st;
	struct mrow m;
	int64_t id, n;
	int r, found;

	for (size_t i = 0; i < op->n_add; i++) {
		if ((r = account_id(s, g, op->add[i], &id, &found)) != 0)
			return r;
		if (!found)
			return op->result = SOTTO_ERR_UNKNOWN_USER, 0;
		r = member_get(s, g, grp, id, &m);
		if (r == 0 && m.left_seq == 0)
			return op->result = SOTTO_ERR_EXISTS, 0;
		if (r != 0 && r != SOTTO_ERR_NOT_FOUND)
			return r;
		if ((r = count_by(s, g, G_ACCOUNT_GROUPS, id, &n)) != 0)
			return r;
		if ((uint64_t)n >= op->groups_max)
			return op->result = SOTTO_ERR_TOO_MANY_GROUPS, 0;
		st = gst(g, G_MEMBER_PUT);
		sqlite3_bind_int64(st, 1, grp);
		sqlite3_bind_int64(st, 2, id);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)seq);
		if ((r = grun(s, st, "member add")) != 0)
			return r;
	}
	return 0;
}

/* Every account added gets exactly one Welcome, and only they get one. */
static int
commit_welcomes(struct server_store *s, struct sqg *g, const struct grow *gr, uint64_t seq,
    struct store_group_op *op)
{
	sqlite3_stmt *st;
	int64_t wid, id;
	size_t given = 0;
	int r, found;

	for (size_t i = 0; i < op->n_welcomes; i++) {
		const struct store_welcome *w = &op->welcomes[i];

		st = gst(g, G_WELCOME_PUT);
		sqlite3_bind_int64(st, 1, gr->id);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)(gr->epoch + 1));
		sqlite3_bind_int64(st, 4, (sqlite3_int64)op->ts);
		sqlite3_bind_blob(st, 5, w->data.p, (int)w->data.len, SQLITE_STATIC);
		if ((r = grun(s, st, "welcome put")) != 0)
			return r;
		wid = sqlite3_last_insert_rowid(store_sqlite_db(s));
		for (size_t j = 0; j < w->n_to; j++) {
			if ((r = account_id(s, g, w->to[j], &id, &found)) != 0)
				return r;
			if (!found)
				return op->result = SOTTO_ERR_INVALID_ARG, 0;
			st = gst(g, G_MEMBER_WELCOME);
			sqlite3_bind_int64(st, 1, gr->id);
			sqlite3_bind_int64(st, 2, id);
			sqlite3_bind_int64(st, 3, (sqlite3_int64)seq);
			sqlite3_bind_int64(st, 4, wid);
			if ((r = grun(s, st, "welcome member")) != 0)
				return r;
			if (sqlite3_changes(store_sqlite_db(s)) != 1)
				return op->result = SOTTO_ERR_INVALID_ARG, 0;
			given++;
		}
	}
	if (given != op->n_add)
		op->result = SOTTO_ERR_INVALID_ARG;
	return 0;
}

static int
op_commit(struct server_store *s, struct sqg *g, struct store_group_op *op)
{
	struct grow gr;
	int64_t n;
	uint64_t seq;
	int r, same;

	if ((r = group_get(s, g, op->group, op->group_len, &gr)) != 0 ||
	    (r = group_authorize(s, g, &gr, op)) != 0)
		goto refused;
	if (op->epoch != gr.epoch) {
		op->cur_epoch = gr.epoch;
		if (op->epoch < gr.epoch) {
			if ((r = commit_retried(s, g, &gr, op, &same)) != 0)
				return r;
			if (same) {
				op->duplicate = 1;
				op->cur_epoch = op->epoch + 1;
				return 0;
			}
		}
		return op->result = SOTTO_ERR_STALE_EPOCH, 0;
	}
	if ((r = log_make_room(s, g, &gr, op)) != 0)
		return r;
	seq = gr.next_seq;
	if ((r = log_put(s, g, &gr, seq, PROTO_GROUP_COMMIT_ENTRY, op)) != 0 ||
	    (r = commit_removes(s, g, gr.id, seq, op)) != 0 ||
	    (r = commit_adds(s, g, gr.id, seq, op)) != 0 || op->result != 0)
		return r;
	if ((r = count_by(s, g, G_MEMBER_COUNT, gr.id, &n)) != 0)
		return r;
	if ((uint64_t)n > op->members_max)
		return op->result = SOTTO_ERR_GROUP_FULL, 0;
	if ((r = commit_welcomes(s, g, &gr, seq, op)) != 0 || op->result != 0)
		return r;
	gr.epoch++;
	gr.next_seq++;
	if ((r = group_set(s, g, &gr)) != 0 || (r = group_token_set(s, g, &gr, op)) != 0)
		return r;
	op->seq = seq;
	op->cur_epoch = gr.epoch;
	return members_out(s, g, gr.id, seq, op);
refused:
	if (r == SOTTO_ERR_UNKNOWN_GROUP || r == SOTTO_ERR_NOT_MEMBER)
		return op->result = r, 0;
	return r;
}

/*
 * An application message, stored once under its client id. A sealed one is taken only
 * with the current epoch's token; with the previous epoch's, a retry of a message stored
 * then is answered as a retry, anything else STALE_EPOCH (the sender follows the group
 * and sends again). An unknown group is AUTH to a sealed sender, as a wrong token.
 */
static int
op_message(struct server_store *s, struct sqg *g, struct store_group_op *op)
{
	sqlite3_stmt *st;
	struct grow gr;
	int r, rc, auth;

	if ((r = group_get(s, g, op->group, op->group_len, &gr)) != 0) {
		if (r == SOTTO_ERR_UNKNOWN_GROUP)
			return op->result = op->sealed ? SOTTO_ERR_AUTH : r, 0;
		return r;
	}
	auth = group_authorize(s, g, &gr, op);
	if (auth == SOTTO_ERR_NOT_MEMBER || auth == SOTTO_ERR_AUTH ||
	    auth == SOTTO_ERR_NO_GROUP_TOKEN)
		return op->result = auth, 0;
	if (auth != 0 && auth != SOTTO_ERR_STALE_EPOCH)
		return auth;
	op->cur_epoch = gr.epoch;
	st = gst(g, G_LOG_BY_CMID);
	sqlite3_bind_int64(st, 1, gr.id);
	sqlite3_bind_blob(st, 2, op->cmid, STORE_CMID_LEN, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		op->duplicate = 1;
		op->seq = (uint64_t)sqlite3_column_int64(st, 0);
		op->cur_epoch = (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_sqlite_rc(s, rc, "group message get");
	if (op->duplicate)
		return 0;
	if (auth == SOTTO_ERR_STALE_EPOCH)
		return op->result = auth, 0;
	if ((r = log_make_room(s, g, &gr, op)) != 0)
		return r;
	op->seq = gr.next_seq;
	if ((r = log_put(s, g, &gr, op->seq, PROTO_GROUP_APPLICATION, op)) != 0)
		return r;
	gr.next_seq++;
	if ((r = group_set(s, g, &gr)) != 0)
		return r;
	return members_out(s, g, gr.id, op->seq, op);
}

/* Deletes the entries every row has read (all of them when no row is left). */
static int
group_prune(struct server_store *s, struct sqg *g, struct grow *gr)
{
	sqlite3_stmt *st = gst(g, G_MIN_READ);
	uint64_t low;
	int rc, r;

	sqlite3_bind_int64(st, 1, gr->id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return store_sqlite_rc(s, rc, "group prune");
	}
	low = sqlite3_column_type(st, 0) == SQLITE_NULL ? gr->next_seq :
	    (uint64_t)sqlite3_column_int64(st, 0) + 1;
	sqlite3_reset(st);
	if (low <= gr->low_seq)
		return 0;
	st = gst(g, G_LOG_PRUNE);
	sqlite3_bind_int64(st, 1, gr->id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)low);
	if ((r = grun(s, st, "group prune")) != 0)
		return r;
	gr->low_seq = low;
	return group_set(s, g, gr);
}

static int
op_ack(struct server_store *s, struct sqg *g, struct store_group_op *op)
{
	sqlite3_stmt *st;
	struct grow gr;
	struct mrow m;
	uint64_t limit, to;
	int r;

	if ((r = group_get(s, g, op->group, op->group_len, &gr)) != 0 ||
	    (r = member_get(s, g, gr.id, op->account, &m)) != 0) {
		if (r == SOTTO_ERR_UNKNOWN_GROUP)
			return op->result = r, 0;
		if (r == SOTTO_ERR_NOT_FOUND)
			return op->result = SOTTO_ERR_NOT_MEMBER, 0;
		return r;
	}
	/* An acknowledgement of what was never sent acknowledges what there is. */
	limit = m.left_seq != 0 ? m.left_seq : gr.next_seq - 1;
	to = op->ack_seq < limit ? op->ack_seq : limit;
	if (op->ack_seq < m.read_seq || (to == m.read_seq && m.welcome == 0))
		return 0;
	if (to < m.read_seq)
		to = m.read_seq;
	if (m.left_seq != 0 && to >= m.left_seq) {
		st = gst(g, G_MEMBER_DEL);
		sqlite3_bind_int64(st, 1, gr.id);
		sqlite3_bind_int64(st, 2, op->account);
	} else {
		st = gst(g, G_MEMBER_ACK);
		sqlite3_bind_int64(st, 1, gr.id);
		sqlite3_bind_int64(st, 2, op->account);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)to);
	}
	if ((r = grun(s, st, "group ack")) != 0)
		return r;
	if (m.welcome != 0) {
		st = gst(g, G_WELCOME_GC);
		sqlite3_bind_int64(st, 1, m.welcome);
		if ((r = grun(s, st, "welcome gc")) != 0)
			return r;
	}
	op->seq = to;
	return group_prune(s, g, &gr);
}

static int
op_apply(struct server_store *s, struct sqg *g, struct store_group_op *op)
{
	if (op->group_len == 0 || op->group_len > STORE_GROUP_ID_MAX)
		return op->result = SOTTO_ERR_INVALID_ARG, 0;
	switch (op->kind) {
	case STORE_GROUP_CREATE:
		return op_create(s, g, op);
	case STORE_GROUP_COMMIT:
		return op_commit(s, g, op);
	case STORE_GROUP_MESSAGE:
		return op_message(s, g, op);
	case STORE_GROUP_ACK:
		return op_ack(s, g, op);
	default:
		return op->result = SOTTO_ERR_INVALID_ARG, 0;
	}
}

void
store_group_ops_release(struct store_group_op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ops[i].members);
		ops[i].members = NULL;
		ops[i].n_members = 0;
	}
}

int
sqg_groups_apply(struct server_store *s, struct store_group_op *ops, size_t n)
{
	struct sqg *g = NULL;
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		ops[i].result = 0;
		ops[i].duplicate = 0;
		ops[i].members = NULL;
		ops[i].n_members = 0;
	}
	if ((r = sqg_get(s, &g)) != 0 || (r = grun(s, gst(g, G_BEGIN), "begin")) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		/* A refused op leaves nothing behind; a storage error undoes the batch. */
		if ((r = grun(s, gst(g, G_SAVE), "savepoint")) != 0 ||
		    (r = op_apply(s, g, &ops[i])) != 0)
			goto out;
		if (ops[i].result != 0) {
			store_group_ops_release(&ops[i], 1);
			if ((r = grun(s, gst(g, G_UNDO), "savepoint")) != 0)
				goto out;
		}
		if ((r = grun(s, gst(g, G_RELEASE), "savepoint")) != 0)
			goto out;
	}
	r = gcommit(s, g);
out:
	if (r != 0) {
		if (g != NULL)
			gend(s, g, 0);
		store_group_ops_release(ops, n);
		for (i = 0; i < n; i++)
			ops[i].result = r;
	}
	return r;
}

int
sqg_group_memberships(struct server_store *s, int64_t account, int64_t after,
    struct store_membership *out, size_t max, size_t *n_out)
{
	struct sqg *g;
	sqlite3_stmt *st;
	size_t n = 0, len;
	int r, rc;

	*n_out = 0;
	if ((r = sqg_get(s, &g)) != 0)
		return r;
	st = gst(g, G_MEMBERSHIPS);
	sqlite3_bind_int64(st, 1, account);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	sqlite3_bind_int64(st, 3, after);
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		len = (size_t)sqlite3_column_bytes(st, 1);
		if (len == 0 || len > STORE_GROUP_ID_MAX) {
			sqlite3_reset(st);
			return SOTTO_ERR_CORRUPT;
		}
		out[n].grp = sqlite3_column_int64(st, 0);
		memcpy(out[n].group, sqlite3_column_blob(st, 1), len);
		out[n].group_len = len;
		out[n].read_seq = (uint64_t)sqlite3_column_int64(st, 2);
		out[n].left_seq = (uint64_t)sqlite3_column_int64(st, 3);
		out[n].welcome = sqlite3_column_int(st, 4);
		n++;
	}
	sqlite3_reset(st);
	if (n < max && rc != SQLITE_DONE)
		return store_sqlite_rc(s, rc, "group memberships");
	*n_out = n;
	return 0;
}

static int
entry_read(sqlite3_stmt *st, int col, struct store_group_entry *e)
{
	size_t len = (size_t)sqlite3_column_bytes(st, col);

	if (len == 0 || (e->data = malloc(len)) == NULL)
		return len == 0 ? SOTTO_ERR_CORRUPT : SOTTO_ERR_NOMEM;
	memcpy(e->data, sqlite3_column_blob(st, col), len);
	e->len = len;
	return 0;
}

int
sqg_group_entries(struct server_store *s, int64_t grp, uint64_t after, uint64_t upto,
    struct store_group_entry *out, size_t max, size_t *n_out)
{
	struct sqg *g;
	sqlite3_stmt *st;
	size_t n = 0;
	int r, rc;

	*n_out = 0;
	if ((r = sqg_get(s, &g)) != 0)
		return r;
	st = gst(g, G_LOG_LIST);
	sqlite3_bind_int64(st, 1, grp);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)after);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)(upto > INT64_MAX ? INT64_MAX : upto));
	sqlite3_bind_int64(st, 4, (sqlite3_int64)max);
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		out[n].seq = (uint64_t)sqlite3_column_int64(st, 0);
		out[n].kind = sqlite3_column_int(st, 1);
		out[n].epoch = (uint64_t)sqlite3_column_int64(st, 2);
		out[n].ts = (uint64_t)sqlite3_column_int64(st, 3);
		if ((r = entry_read(st, 4, &out[n])) != 0) {
			sqlite3_reset(st);
			store_group_entries_free(out, n);
			return r;
		}
		n++;
	}
	if (n < max && rc != SQLITE_DONE) {
		sqlite3_reset(st);
		store_group_entries_free(out, n);
		return store_sqlite_rc(s, rc, "group entries");
	}
	sqlite3_reset(st);
	*n_out = n;
	return 0;
}

int
sqg_group_welcome(struct server_store *s, int64_t grp, int64_t account, struct store_group_entry *out)
{
	struct sqg *g;
	sqlite3_stmt *st;
	int r, rc;

	if ((r = sqg_get(s, &g)) != 0)
		return r;
	st = gst(g, G_WELCOME_GET);
	sqlite3_bind_int64(st, 1, grp);
	sqlite3_bind_int64(st, 2, account);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? SOTTO_ERR_NOT_FOUND : store_sqlite_rc(s, rc, "welcome");
	}
	out->kind = PROTO_GROUP_WELCOME;
	out->seq = (uint64_t)sqlite3_column_int64(st, 0);
	out->epoch = (uint64_t)sqlite3_column_int64(st, 1);
	out->ts = (uint64_t)sqlite3_column_int64(st, 2);
	r = entry_read(st, 3, out);
	sqlite3_reset(st);
	return r;
}

void
store_group_entries_free(struct store_group_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].data);
		e[i].data = NULL;
	}
}
