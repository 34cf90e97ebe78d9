/*
 * The PostgreSQL backend of the MLS delivery service (schema 2, store_pg.c): the
 * KeyPackage directory and the group logs, with the rules of store_sqlite_group.c (and
 * docs/SERVER.md, "Groups"). A group's row is locked (FOR UPDATE) by every write to it,
 * so that two writers of one group (sottod's writer and another process on the same
 * database) take turns: exactly one Commit is accepted per epoch. KeyPackages are claimed
 * with FOR UPDATE SKIP LOCKED: two concurrent claims never get the same one.
 */
#include "server/store_pg_int.h"

#include <stdlib.h>
#include <string.h>

#include "wire/proto_group.h"

enum g_stmt {
	G_SAVE, G_RELEASE, G_UNDO,
	G_KP_COUNT, G_KP_PUT, G_KP_DEL_LR, G_KP_TAKE, G_KP_LAST,
	G_ACCOUNT_ID, G_GROUP_GET, G_GROUP_ADD, G_GROUP_SET, G_GROUP_TOKEN,
	G_MEMBER_GET, G_MEMBER_PUT, G_MEMBER_LEAVE, G_MEMBER_WELCOME, G_MEMBER_COUNT,
	G_ACCOUNT_GROUPS, G_MEMBERS, G_MEMBER_ACK, G_MEMBER_DEL, G_MIN_READ,
	G_LOG_PUT, G_LOG_BY_CMID, G_LOG_COMMIT_AT, G_LOG_PRUNE, G_LOG_LIST,
	G_WELCOME_PUT, G_WELCOME_GET, G_WELCOME_GC, G_MEMBERSHIPS,
	G__COUNT
};

static const char *const g_sql[G__COUNT] = {
	[G_SAVE] = "SAVEPOINT group_op",
	[G_RELEASE] = "RELEASE group_op",
	[G_UNDO] = "ROLLBACK TO group_op",
	[G_KP_COUNT] = "SELECT count(*) FILTER (WHERE NOT last_resort),"
	    " count(*) FILTER (WHERE last_resort) FROM key_packages WHERE account = $1::bigint",
	[G_KP_PUT] = "INSERT INTO key_packages(account, last_resort, data) VALUES ($1::bigint,"
	    " $2::boolean, $3::bytea)",
	[G_KP_DEL_LR] = "DELETE FROM key_packages WHERE account = $1::bigint AND last_resort",
	/* The oldest one-time one, deleted as it is read. */
	[G_KP_TAKE] = "DELETE FROM key_packages WHERE id = (SELECT id FROM key_packages"
	    " WHERE account = $1::bigint AND NOT last_resort ORDER BY id LIMIT 1"
	    " FOR UPDATE SKIP LOCKED) RETURNING data",
	[G_KP_LAST] = "SELECT data FROM key_packages WHERE account = $1::bigint AND last_resort"
	    " LIMIT 1",
	[G_ACCOUNT_ID] = "SELECT id FROM accounts WHERE name = $1::text",
	[G_GROUP_GET] = "SELECT id, epoch, next_seq, low_seq, verifier, prev_verifier FROM groups"
	    " WHERE gid = $1::bytea FOR UPDATE",
	[G_GROUP_ADD] = "INSERT INTO groups(gid, epoch, next_seq, low_seq, created, verifier)"
	    " VALUES ($1::bytea, 0, 1, 1, $2::bigint, $3::bytea) ON CONFLICT (gid) DO NOTHING"
	    " RETURNING id",
	[G_GROUP_SET] = "UPDATE groups SET epoch = $2::bigint, next_seq = $3::bigint,"
	    " low_seq = $4::bigint WHERE id = $1::bigint",
	/* A Commit's: the new epoch's verifier, and the one before it for late messages. */
	[G_GROUP_TOKEN] = "UPDATE groups SET prev_verifier = verifier, verifier = $2::bytea"
	    " WHERE id = $1::bigint",
	[G_MEMBER_GET] = "SELECT read_seq, left_seq, welcome FROM group_members"
	    " WHERE grp = $1::bigint AND account = $2::bigint",
	/* A removed member added again starts afresh at this Commit. */
	[G_MEMBER_PUT] = "INSERT INTO group_members(grp, account, read_seq, left_seq, welcome)"
	    " VALUES ($1::bigint, $2::bigint, $3::bigint, 0, NULL) ON CONFLICT (grp, account)"
	    " DO UPDATE SET read_seq = excluded.read_seq, left_seq = 0, welcome = NULL",
	[G_MEMBER_LEAVE] = "UPDATE group_members SET left_seq = $3::bigint"
	    " WHERE grp = $1::bigint AND account = $2::bigint AND left_seq = 0",
	[G_MEMBER_WELCOME] = "UPDATE group_members SET welcome = $4::bigint"
	    " WHERE grp = $1::bigint AND account = $2::bigint AND read_seq = $3::bigint"
	    " AND left_seq = 0 AND welcome IS NULL",
	[G_MEMBER_COUNT] = "SELECT count(*) FROM group_members WHERE grp = $1::bigint"
	    " AND left_seq = 0",
	[G_ACCOUNT_GROUPS] = "SELECT count(*) FROM group_members WHERE account = $1::bigint"
	    " AND left_seq = 0",
	/* Whom an entry at $2 goes to: members, and removed ones whose last entry it is. */
	[G_MEMBERS] = "SELECT account, left_seq, read_seq FROM group_members"
	    " WHERE grp = $1::bigint AND (left_seq = 0 OR left_seq >= $2::bigint)",
	[G_MEMBER_ACK] = "UPDATE group_members SET read_seq = $3::bigint, welcome = NULL"
	    " WHERE grp = $1::bigint AND account = $2::bigint",
	[G_MEMBER_DEL] = "DELETE FROM group_members WHERE grp = $1::bigint"
	    " AND account = $2::bigint",
	[G_MIN_READ] = "SELECT min(read_seq) FROM group_members WHERE grp = $1::bigint",
	[G_LOG_PUT] = "INSERT INTO group_log(grp, seq, kind, epoch, ts, cmid, data)"
	    " VALUES ($1::bigint, $2::bigint, $3::bigint, $4::bigint, $5::bigint, $6::bytea,"
	    " $7::bytea)",
	[G_LOG_BY_CMID] = "SELECT seq, epoch FROM group_log WHERE grp = $1::bigint"
	    " AND cmid = $2::bytea",
	[G_LOG_COMMIT_AT] = "SELECT seq, data FROM group_log WHERE grp = $1::bigint"
	    " AND kind = 2 AND epoch = $2::bigint",
	[G_LOG_PRUNE] = "DELETE FROM group_log WHERE grp = $1::bigint AND seq < $2::bigint",
	[G_LOG_LIST] = "SELECT seq, kind, epoch, ts, data FROM group_log WHERE grp = $1::bigint"
	    " AND seq > $2::bigint AND seq <= $3::bigint ORDER BY seq LIMIT $4::bigint",
	[G_WELCOME_PUT] = "INSERT INTO group_welcomes(grp, seq, epoch, ts, data)"
	    " VALUES ($1::bigint, $2::bigint, $3::bigint, $4::bigint, $5::bytea) RETURNING id",
	[G_WELCOME_GET] = "SELECT w.seq, w.epoch, w.ts, w.data FROM group_members m"
	    " JOIN group_welcomes w ON w.id = m.welcome WHERE m.grp = $1::bigint"
	    " AND m.account = $2::bigint",
	[G_WELCOME_GC] = "DELETE FROM group_welcomes WHERE id = $1::bigint AND NOT EXISTS"
	    " (SELECT 1 FROM group_members WHERE welcome = $1::bigint)",
	[G_MEMBERSHIPS] = "SELECT m.grp, g.gid, m.read_seq, m.left_seq, m.welcome IS NOT NULL"
	    " FROM group_members m JOIN groups g ON g.id = m.grp WHERE m.account = $1::bigint"
	    " AND m.grp > $3::bigint ORDER BY m.grp LIMIT $2::bigint",
};

_Static_assert(STORE_KEY_PACKAGE_MAX == PROTO_KEY_PACKAGE_MAX, "one KeyPackage cap");

int
pgg_prepare(struct server_store *s)
{
	return pgs_prepare(s, 'g', g_sql, G__COUNT);
}

static int
grun(struct server_store *s, enum g_stmt id, const struct pgp *p, uint64_t *changes,
    const char *what)
{
	return pgs_run(s, 'g', (int)id, p, NULL, changes, what);
}

static int
grow_get(struct server_store *s, enum g_stmt id, const struct pgp *p, PGresult **res,
    const char *what)
{
	return pgs_row(s, 'g', (int)id, p, res, what);
}

/* One integer of the first row (*found 0 if there is none; NULL reads as none). */
static int
gint(struct server_store *s, enum g_stmt id, const struct pgp *p, int64_t *v, int *found,
    const char *what)
{
	PGresult *res;
	int r = grow_get(s, id, p, &res, what);

	*v = 0;
	*found = 0;
	if (r == SOTTO_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	*found = !PQgetisnull(res, 0, 0);
	*v = pgs_int(res, 0, 0);
	PQclear(res);
	return 0;
}

/* --- KeyPackages --- */

static int
kp_counts(struct server_store *s, int64_t account, struct store_kp_count *c)
{
	struct pgp p = { .n = 0 };
	PGresult *res;
	int r;

	memset(c, 0, sizeof(*c));
	pgp_i64(&p, account);
	if ((r = grow_get(s, G_KP_COUNT, &p, &res, "key package count")) != 0)
		return r;
	c->count = (uint32_t)pgs_int(res, 0, 0);
	c->has_last_resort = pgs_int(res, 0, 1) > 0;
	PQclear(res);
	return 0;
}

static int
kp_insert(struct server_store *s, int64_t account, int last_resort, const struct store_blob *b)
{
	struct pgp p = { .n = 0 };

	if (b->len == 0 || b->len > STORE_KEY_PACKAGE_MAX)
		return SOTTO_ERR_INVALID_ARG;
	pgp_i64(&p, account);
	pgp_bool(&p, last_resort);
	pgp_blob(&p, b->p, b->len);
	return grun(s, G_KP_PUT, &p, NULL, "key package put");
}

int
pgg_key_packages_put(struct server_store *s, int64_t account, const struct store_blob *kps,
    size_t n, const struct store_blob *last_resort, uint32_t max, struct store_kp_count *left)
{
	struct store_kp_count c;
	struct pgp p = { .n = 0 };
	int r;

	if ((r = pgs_begin(s)) != 0)
		return r;
	if ((r = kp_counts(s, account, &c)) != 0)
		goto out;
	if ((uint64_t)c.count + n > max) {
		r = SOTTO_ERR_LIMIT;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if ((r = kp_insert(s, account, 0, &kps[i])) != 0)
			goto out;
	if (last_resort != NULL) {
		pgp_i64(&p, account);
		if ((r = grun(s, G_KP_DEL_LR, &p, NULL, "key package put")) != 0 ||
		    (r = kp_insert(s, account, 1, last_resort)) != 0)
			goto out;
	}
	if ((r = kp_counts(s, account, left)) != 0)
		goto out;
	r = pgs_commit(s);
out:
	if (r != 0)
		pgs_rollback(s);
	return r;
}

int
pgg_key_package_take(struct server_store *s, int64_t account, struct store_kp_claim *out)
{
	struct pgp p = { .n = 0 };
	PGresult *res = NULL;
	size_t len;
	int r;

	pgp_i64(&p, account);
	if ((r = pgs_begin(s)) != 0)
		return r;
	/* One-time ones first, oldest first; the last-resort one only when none is left. */
	out->last_resort = 0;
	r = grow_get(s, G_KP_TAKE, &p, &res, "key package take");
	if (r == SOTTO_ERR_NOT_FOUND) {
		out->last_resort = 1;
		r = grow_get(s, G_KP_LAST, &p, &res, "key package take");
	}
	if (r != 0)
		goto out;
	len = (size_t)PQgetlength(res, 0, 0);
	if (len == 0 || len > sizeof(out->data)) {
		r = SOTTO_ERR_CORRUPT;
		goto out;
	}
	memcpy(out->data, PQgetvalue(res, 0, 0), len);
	out->len = len;
	if ((r = kp_counts(s, account, &out->left)) != 0)
		goto out;
	r = pgs_commit(s);
out:
	PQclear(res);
	if (r != 0)
		pgs_rollback(s);
	return r;
}

int
pgg_key_package_count(struct server_store *s, int64_t account, struct store_kp_count *out)
{
	return kp_counts(s, account, out);
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
verifier_col(PGresult *res, int col, uint8_t out[STORE_GROUP_VERIFIER_LEN])
{
	memset(out, 0, STORE_GROUP_VERIFIER_LEN);
	if (!PQgetisnull(res, 0, col) && PQgetlength(res, 0, col) == STORE_GROUP_VERIFIER_LEN)
		memcpy(out, PQgetvalue(res, 0, col), STORE_GROUP_VERIFIER_LEN);
}

struct mrow {
	uint64_t read_seq, left_seq;
	int64_t welcome;                /* 0: none */
};

/* Locks the group's row. SOTTO_ERR_UNKNOWN_GROUP if there is no such group. */
static int
group_get(struct server_store *s, const uint8_t *gid, size_t len, struct grow *out)
{
	struct pgp p = { .n = 0 };
	PGresult *res;
	int r;

	pgp_blob(&p, gid, len);
	if ((r = grow_get(s, G_GROUP_GET, &p, &res, "group get")) != 0)
		return r == SOTTO_ERR_NOT_FOUND ? SOTTO_ERR_UNKNOWN_GROUP : r;
	out->id = pgs_int(res, 0, 0);
	out->epoch = (uint64_t)pgs_int(res, 0, 1);
	out->next_seq = (uint64_t)pgs_int(res, 0, 2);
	out->low_seq = (uint64_t)pgs_int(res, 0, 3);
	verifier_col(res, 4, out->verifier);
	verifier_col(res, 5, out->prev_verifier);
	PQclear(res);
	return 0;
}

static int
group_set(struct server_store *s, const struct grow *gr)
{
	struct pgp p = { .n = 0 };

	pgp_i64(&p, gr->id);
	pgp_i64(&p, (int64_t)gr->epoch);
	pgp_i64(&p, (int64_t)gr->next_seq);
	pgp_i64(&p, (int64_t)gr->low_seq);
	return grun(s, G_GROUP_SET, &p, NULL, "group set");
}

/* SOTTO_ERR_NOT_FOUND if account has no row in the group. */
static int
member_get(struct server_store *s, int64_t grp, int64_t account, struct mrow *out)
{
	struct pgp p = { .n = 0 };
	PGresult *res;
	int r;

	pgp_i64(&p, grp);
	pgp_i64(&p, account);
	if ((r = grow_get(s, G_MEMBER_GET, &p, &res, "member get")) != 0)
		return r;
	out->read_seq = (uint64_t)pgs_int(res, 0, 0);
	out->left_seq = (uint64_t)pgs_int(res, 0, 1);
	out->welcome = pgs_int(res, 0, 2);
	PQclear(res);
	return 0;
}

static int
account_id(struct server_store *s, const char *name, int64_t *id, int *found)
{
	struct pgp p = { .n = 0 };

	pgp_text(&p, name);
	return gint(s, G_ACCOUNT_ID, &p, id, found, "account id");
}

static int
count_by(struct server_store *s, enum g_stmt id, int64_t key, int64_t *n)
{
	struct pgp p = { .n = 0 };
	int found;

	pgp_i64(&p, key);
	return gint(s, id, &p, n, &found, "group count");
}

/* Whether op may write to the group (group_authorize of store_sqlite_group.c): a sealed
 * message by the current epoch's group token, anything else by a current member. */
static int
group_authorize(struct server_store *s, const struct grow *gr, const struct store_group_op *op)
{
	struct mrow m;
	int r;

	if (op->sealed)
		return store_group_token_check(gr->epoch, gr->verifier, gr->prev_verifier,
		    op->verifier);
	r = member_get(s, gr->id, op->account, &m);
	if (r == SOTTO_ERR_NOT_FOUND || (r == 0 && m.left_seq != 0))
		return SOTTO_ERR_NOT_MEMBER;
	return r;
}

/* A Commit's new epoch gets its verifier; the one before stays for late messages. */
static int
group_token_set(struct server_store *s, const struct grow *gr, const struct store_group_op *op)
{
	struct pgp p = { .n = 0 };

	pgp_i64(&p, gr->id);
	pgp_blob(&p, op->verifier, STORE_GROUP_VERIFIER_LEN);
	return grun(s, G_GROUP_TOKEN, &p, NULL, "group token");
}

static int
log_put(struct server_store *s, const struct grow *gr, uint64_t seq, int kind,
    const struct store_group_op *op)
{
	struct pgp p = { .n = 0 };

	pgp_i64(&p, gr->id);
	pgp_i64(&p, (int64_t)seq);
	pgp_i64(&p, kind);
	pgp_i64(&p, (int64_t)gr->epoch);
	pgp_i64(&p, (int64_t)op->ts);
	if (kind == PROTO_GROUP_APPLICATION)
		pgp_blob(&p, op->cmid, STORE_CMID_LEN);
	else
		pgp_null(&p);
	pgp_blob(&p, op->data.p, op->data.len);
	return grun(s, G_LOG_PUT, &p, NULL, "group log put");
}

/* Drops the oldest entries when the log is full (store_group_log_low); the caller's
 * group_set stores the new low_seq. */
static int
log_make_room(struct server_store *s, struct grow *gr, const struct store_group_op *op)
{
	uint64_t low = store_group_log_low(gr->next_seq, gr->low_seq, op->log_max);
	struct pgp p = { .n = 0 };
	int r;

	if (low == gr->low_seq)
		return 0;
	pgp_i64(&p, gr->id);
	pgp_i64(&p, (int64_t)low);
	if ((r = grun(s, G_LOG_PRUNE, &p, NULL, "group log drop")) != 0)
		return r;
	gr->low_seq = low;
	return 0;
}

/* Whom the entry at seq goes to, into op->members. */
static int
members_out(struct server_store *s, int64_t grp, uint64_t seq, struct store_group_op *op)
{
	struct pgp p = { .n = 0 };
	struct store_group_member *m = NULL;
	PGresult *res;
	size_t n;
	int r;

	pgp_i64(&p, grp);
	pgp_i64(&p, (int64_t)seq);
	if ((r = pgs_run(s, 'g', G_MEMBERS, &p, &res, NULL, "group members")) != 0)
		return r;
	n = (size_t)PQntuples(res);
	if (n > 0 && (m = calloc(n, sizeof(*m))) == NULL) {
		PQclear(res);
		return SOTTO_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		m[i].account = pgs_int(res, (int)i, 0);
		m[i].left_seq = (uint64_t)pgs_int(res, (int)i, 1);
		m[i].added = m[i].left_seq == 0 && (uint64_t)pgs_int(res, (int)i, 2) == seq &&
		    op->kind == STORE_GROUP_COMMIT;
	}
	PQclear(res);
	op->members = m;
	op->n_members = n;
	op->grp = grp;
	return 0;
}

static int
op_create(struct server_store *s, struct store_group_op *op)
{
	struct pgp p = { .n = 0 };
	int64_t n, grp;
	int r, found;

	if ((r = count_by(s, G_ACCOUNT_GROUPS, op->account, &n)) != 0)
		return r;
	if ((uint64_t)n >= op->groups_max)
		return op->result = SOTTO_ERR_TOO_MANY_GROUPS, 0;
	pgp_blob(&p, op->group, op->group_len);
	pgp_i64(&p, (int64_t)(op->ts / 1000));
	pgp_blob(&p, op->verifier, STORE_GROUP_VERIFIER_LEN);
	if ((r = gint(s, G_GROUP_ADD, &p, &grp, &found, "group create")) != 0)
		return r;
	if (!found)
		return op->result = SOTTO_ERR_EXISTS, 0;
	p.n = 0;
	pgp_i64(&p, grp);
	pgp_i64(&p, op->account);
	pgp_i64(&p, 0);
	return grun(s, G_MEMBER_PUT, &p, NULL, "group create");
}

/* A retry of a Commit that was accepted (its answer lost): the same bytes at its epoch. */
static int
commit_retried(struct server_store *s, const struct grow *gr, struct store_group_op *op, int *same)
{
	struct pgp p = { .n = 0 };
	PGresult *res;
	int r;

	*same = 0;
	pgp_i64(&p, gr->id);
	pgp_i64(&p, (int64_t)op->epoch);
	r = grow_get(s, G_LOG_COMMIT_AT, &p, &res, "commit get");
	if (r != 0)
		return r == SOTTO_ERR_NOT_FOUND ? 0 : r;
	if ((size_t)PQgetlength(res, 0, 1) == op->data.len &&
	    memcmp(PQgetvalue(res, 0, 1), op->data.p, op->data.len) == 0) {
		*same = 1;
		op->seq = (uint64_t)pgs_int(res, 0, 0);
	}
	PQclear(res);
	return 0;
}

static int
commit_removes(struct server_store *s, int64_t grp, uint64_t seq, const struct store_group_op *op)
{
	struct pgp p;
	int64_t id;
	int r, found;

	/* Removing an account that is not a member (any more) changes nothing. */
	for (size_t i = 0; i < op->n_remove; i++) {
		if ((r = account_id(s, op->remove[i], &id, &found)) != 0)
			return r;
		if (!found)
			continue;
		p.n = 0;
		pgp_i64(&p, grp);
		pgp_i64(&p, id);
		pgp_i64(&p, (int64_t)seq);
		if ((r = grun(s, G_MEMBER_LEAVE, &p, NULL, "member leave")) != 0)
			return r;
	}
	return 0;
}

static int
commit_adds(struct server_store *s, int64_t grp, uint64_t seq, struct store_group_op *op)
{
	struct pgp p;
	struct mrow m;
	int64_t id, n;
	int r, found;

	for (size_t i = 0; i < op->n_add; i++) {
		if ((r = account_id(s, op->add[i], &id, &found)) != 0)
			return r;
		if (!found)
			return op->result = SOTTO_ERR_UNKNOWN_USER, 0;
		r = member_get(s, grp, id, &m);
		if (r == 0 && m.left_seq == 0)
			return op->result = SOTTO_ERR_EXISTS, 0;
		if (r != 0 && r != SOTTO_ERR_NOT_FOUND)
			return r;
		if ((r = count_by(s, G_ACCOUNT_GROUPS, id, &n)) != 0)
			return r;
		if ((uint64_t)n >= op->groups_max)
			return op->result = SOTTO_ERR_TOO_MANY_GROUPS, 0;
		p.n = 0;
		pgp_i64(&p, grp);
		pgp_i64(&p, id);
		pgp_i64(&p, (int64_t)seq);
		if ((r = grun(s, G_MEMBER_PUT, &p, NULL, "member add")) != 0)
			return r;
	}
	return 0;
}

/* Every account added gets exactly one Welcome, and only they get one. */
static int
commit_welcomes(struct server_store *s, const struct grow *gr, uint64_t seq, struct store_group_op *op)
{
	struct pgp p;
	uint64_t changes;
	int64_t wid, id;
	size_t given = 0;
	int r, found;

	for (size_t i = 0; i < op->n_welcomes; i++) {
		const struct store_welcome *w = &op->welcomes[i];

		p.n = 0;
		pgp_i64(&p, gr->id);
		pgp_i64(&p, (int64_t)seq);
		pgp_i64(&p, (int64_t)(gr->epoch + 1));
		pgp_i64(&p, (int64_t)op->ts);
		pgp_blob(&p, w->data.p, w->data.len);
		if ((r = gint(s, G_WELCOME_PUT, &p, &wid, &found, "welcome put")) != 0)
			return r;
		for (size_t j = 0; j < w->n_to; j++) {
			if ((r = account_id(s, w->to[j], &id, &found)) != 0)
				return r;
			if (!found)
				return op->result = SOTTO_ERR_INVALID_ARG, 0;
			p.n = 0;
			pgp_i64(&p, gr->id);
			pgp_i64(&p, id);
			pgp_i64(&p, (int64_t)seq);
			pgp_i64(&p, wid);
			if ((r = grun(s, G_MEMBER_WELCOME, &p, &changes, "welcome member")) != 0)
				return r;
			if (changes != 1)
				return op->result = SOTTO_ERR_INVALID_ARG, 0;
			given++;
		}
	}
	if (given != op->n_add)
		op->result = SOTTO_ERR_INVALID_ARG;
	return 0;
}

static int
op_commit(struct server_store *s, struct store_group_op *op)
{
	struct grow gr;
	int64_t n;
	uint64_t seq;
	int r, same;

	if ((r = group_get(s, op->group, op->group_len, &gr)) != 0 ||
	    (r = group_authorize(s, &gr, op)) != 0)
		goto refused;
	if (op->epoch != gr.epoch) {
		op->cur_epoch = gr.epoch;
		if (op->epoch < gr.epoch) {
			if ((r = commit_retried(s, &gr, op, &same)) != 0)
				return r;
			if (same) {
				op->duplicate = 1;
				op->cur_epoch = op->epoch + 1;
				return 0;
			}
		}
		return op->result = SOTTO_ERR_STALE_EPOCH, 0;
	}
	if ((r = log_make_room(s, &gr, op)) != 0)
		return r;
	seq = gr.next_seq;
	if ((r = log_put(s, &gr, seq, PROTO_GROUP_COMMIT_ENTRY, op)) != 0 ||
	    (r = commit_removes(s, gr.id, seq, op)) != 0 ||
	    (r = commit_adds(s, gr.id, seq, op)) != 0 || op->result != 0)
		return r;
	if ((r = count_by(s, G_MEMBER_COUNT, gr.id, &n)) != 0)
		return r;
	if ((uint64_t)n > op->members_max)
		return op->result = SOTTO_ERR_GROUP_FULL, 0;
	if ((r = commit_welcomes(s, &gr, seq, op)) != 0 || op->result != 0)
		return r;
	gr.epoch++;
	gr.next_seq++;
	if ((r = group_set(s, &gr)) != 0 || (r = group_token_set(s, &gr, op)) != 0)
		return r;
	op->seq = seq;
	op->cur_epoch = gr.epoch;
	return members_out(s, gr.id, seq, op);
refused:
	if (r == SOTTO_ERR_UNKNOWN_GROUP || r == SOTTO_ERR_NOT_MEMBER)
		return op->result = r, 0;
	return r;
}

/* An application message, by the rules of op_message in store_sqlite_group.c. */
static int
op_message(struct server_store *s, struct store_group_op *op)
{
	struct pgp p = { .n = 0 };
	struct grow gr;
	PGresult *res;
	int r, auth;

	if ((r = group_get(s, op->group, op->group_len, &gr)) != 0) {
		if (r == SOTTO_ERR_UNKNOWN_GROUP)
			return op->result = op->sealed ? SOTTO_ERR_AUTH : r, 0;
		return r;
	}
	auth = group_authorize(s, &gr, op);
	if (auth == SOTTO_ERR_NOT_MEMBER || auth == SOTTO_ERR_AUTH ||
	    auth == SOTTO_ERR_NO_GROUP_TOKEN)
		return op->result = auth, 0;
	if (auth != 0 && auth != SOTTO_ERR_STALE_EPOCH)
		return auth;
	op->cur_epoch = gr.epoch;
	pgp_i64(&p, gr.id);
	pgp_blob(&p, op->cmid, STORE_CMID_LEN);
	r = grow_get(s, G_LOG_BY_CMID, &p, &res, "group message get");
	if (r == 0) {
		op->duplicate = 1;
		op->seq = (uint64_t)pgs_int(res, 0, 0);
		op->cur_epoch = (uint64_t)pgs_int(res, 0, 1);
		PQclear(res);
		return 0;
	}
	if (r != SOTTO_ERR_NOT_FOUND)
		return r;
	if (auth == SOTTO_ERR_STALE_EPOCH)
		return op->result = auth, 0;
	if ((r = log_make_room(s, &gr, op)) != 0)
		return r;
	op->seq = gr.next_seq;
	if ((r = log_put(s, &gr, op->seq, PROTO_GROUP_APPLICATION, op)) != 0)
		return r;
	gr.next_seq++;
	if ((r = group_set(s, &gr)) != 0)
		return r;
	return members_out(s, gr.id, op->seq, op);
}

/* Deletes the entries every row has read (all of them when no row is left). */
static int
group_prune(struct server_store *s, struct grow *gr)
{
	struct pgp p = { .n = 0 };
	uint64_t low;
	int64_t min;
	int r, found;

	pgp_i64(&p, gr->id);
	if ((r = gint(s, G_MIN_READ, &p, &min, &found, "group prune")) != 0)
		return r;
	low = found ? (uint64_t)min + 1 : gr->next_seq;
	if (low <= gr->low_seq)
		return 0;
	pgp_i64(&p, (int64_t)low);
	if ((r = grun(s, G_LOG_PRUNE, &p, NULL, "group prune")) != 0)
		return r;
	gr->low_seq = low;
	return group_set(s, gr);
}

static int
op_ack(struct server_store *s, struct store_group_op *op)
{
	struct pgp p = { .n = 0 };
	struct grow gr;
	struct mrow m;
	uint64_t limit, to;
	int r;

	if ((r = group_get(s, op->group, op->group_len, &gr)) != 0 ||
	    (r = member_get(s, gr.id, op->account, &m)) != 0) {
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
	pgp_i64(&p, gr.id);
	pgp_i64(&p, op->account);
	if (m.left_seq != 0 && to >= m.left_seq) {
		r = grun(s, G_MEMBER_DEL, &p, NULL, "group ack");
	} else {
		pgp_i64(&p, (int64_t)to);
		r = grun(s, G_MEMBER_ACK, &p, NULL, "group ack");
	}
	if (r != 0)
		return r;
	if (m.welcome != 0) {
		p.n = 0;
		pgp_i64(&p, m.welcome);
		if ((r = grun(s, G_WELCOME_GC, &p, NULL, "welcome gc")) != 0)
			return r;
	}
	op->seq = to;
	return group_prune(s, &gr);
}

static int
op_apply(struct server_store *s, struct store_group_op *op)
{
	if (op->group_len == 0 || op->group_len > STORE_GROUP_ID_MAX)
		return op->result = SOTTO_ERR_INVALID_ARG, 0;
	switch (op->kind) {
	case STORE_GROUP_CREATE:
		return op_create(s, op);
	case STORE_GROUP_COMMIT:
		return op_commit(s, op);
	case STORE_GROUP_MESSAGE:
		return op_message(s, op);
	case STORE_GROUP_ACK:
		return op_ack(s, op);
	default:
		return op->result = SOTTO_ERR_INVALID_ARG, 0;
	}
}

int
pgg_groups_apply(struct server_store *s, struct store_group_op *ops, size_t n)
{
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		ops[i].result = 0;
		ops[i].duplicate = 0;
		ops[i].members = NULL;
		ops[i].n_members = 0;
	}
	if ((r = pgs_begin(s)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		/* A refused op leaves nothing behind; a storage error undoes the batch. */
		if ((r = grun(s, G_SAVE, NULL, NULL, "savepoint")) != 0 ||
		    (r = op_apply(s, &ops[i])) != 0)
			goto out;
		if (ops[i].result != 0) {
			store_group_ops_release(&ops[i], 1);
			if ((r = grun(s, G_UNDO, NULL, NULL, "savepoint")) != 0)
				goto out;
		}
		if ((r = grun(s, G_RELEASE, NULL, NULL, "savepoint")) != 0)
			goto out;
	}
	/* Every member this entry goes to is woken on whichever node it is online. */
	for (i = 0; i < n; i++)
		for (size_t k = 0; ops[i].result == 0 && k < ops[i].n_members; k++)
			if ((r = pgs_wake(s, ops[i].members[k].account)) != 0)
				goto out;
	r = pgs_commit(s);
out:
	if (r != 0) {
		pgs_rollback(s);
		store_group_ops_release(ops, n);
		for (i = 0; i < n; i++)
			ops[i].result = r;
	}
	return r;
}

int
pgg_group_memberships(struct server_store *s, int64_t account, int64_t after,
    struct store_membership *out, size_t max, size_t *n_out)
{
	struct pgp p = { .n = 0 };
	PGresult *res;
	size_t n = 0, len;
	int r;

	*n_out = 0;
	pgp_i64(&p, account);
	pgp_i64(&p, (int64_t)max);
	pgp_i64(&p, after);
	if ((r = pgs_run(s, 'g', G_MEMBERSHIPS, &p, &res, NULL, "group memberships")) != 0)
		return r;
	for (int i = 0; i < PQntuples(res) && n < max; i++) {
		len = (size_t)PQgetlength(res, i, 1);
		if (len == 0 || len > STORE_GROUP_ID_MAX) {
			r = SOTTO_ERR_CORRUPT;
			break;
		}
		out[n].grp = pgs_int(res, i, 0);
		memcpy(out[n].group, PQgetvalue(res, i, 1), len);
		out[n].group_len = len;
		out[n].read_seq = (uint64_t)pgs_int(res, i, 2);
		out[n].left_seq = (uint64_t)pgs_int(res, i, 3);
		out[n].welcome = pgs_int(res, i, 4) != 0;
		n++;
	}
	PQclear(res);
	if (r == 0)
		*n_out = n;
	return r;
}

/* Column col of row as an entry's data (copied). */
static int
entry_read(const PGresult *res, int row, int col, struct store_group_entry *e)
{
	size_t len = (size_t)PQgetlength(res, row, col);

	if (len == 0 || (e->data = malloc(len)) == NULL)
		return len == 0 ? SOTTO_ERR_CORRUPT : SOTTO_ERR_NOMEM;
	memcpy(e->data, PQgetvalue(res, row, col), len);
	e->len = len;
	return 0;
}

int
pgg_group_entries(struct server_store *s, int64_t grp, uint64_t after, uint64_t upto,
    struct store_group_entry *out, size_t max, size_t *n_out)
{
	struct pgp p = { .n = 0 };
	PGresult *res;
	size_t n = 0;
	int r;

	*n_out = 0;
	pgp_i64(&p, grp);
	pgp_i64(&p, (int64_t)after);
	pgp_i64(&p, (int64_t)(upto > INT64_MAX ? INT64_MAX : upto));
	pgp_i64(&p, (int64_t)max);
	if ((r = pgs_run(s, 'g', G_LOG_LIST, &p, &res, NULL, "group entries")) != 0)
		return r;
	for (int i = 0; i < PQntuples(res) && n < max; i++) {
		out[n].seq = (uint64_t)pgs_int(res, i, 0);
		out[n].kind = (int)pgs_int(res, i, 1);
		out[n].epoch = (uint64_t)pgs_int(res, i, 2);
		out[n].ts = (uint64_t)pgs_int(res, i, 3);
		if ((r = entry_read(res, i, 4, &out[n])) != 0)
			break;
		n++;
	}
	PQclear(res);
	if (r != 0) {
		store_group_entries_free(out, n);
		return r;
	}
	*n_out = n;
	return 0;
}

int
pgg_group_welcome(struct server_store *s, int64_t grp, int64_t account, struct store_group_entry *out)
{
	struct pgp p = { .n = 0 };
	PGresult *res;
	int r;

	pgp_i64(&p, grp);
	pgp_i64(&p, account);
	if ((r = grow_get(s, G_WELCOME_GET, &p, &res, "welcome")) != 0)
		return r;
	out->kind = PROTO_GROUP_WELCOME;
	out->seq = (uint64_t)pgs_int(res, 0, 0);
	out->epoch = (uint64_t)pgs_int(res, 0, 1);
	out->ts = (uint64_t)pgs_int(res, 0, 2);
	r = entry_read(res, 0, 3, out);
	PQclear(res);
	return r;
}
