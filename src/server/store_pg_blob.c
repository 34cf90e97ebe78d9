/*
 * The PostgreSQL backend's blob records (its schema 4, store_pg.c), with the rules of
 * store_sqlite_blob.c (store.h, docs/SERVER.md "Blobs"). blob_put locks the owner's
 * account row (FOR UPDATE), so that two commits of one owner check its quota in turn.
 */
#include "server/store_pg_int.h"

#include <string.h>

enum b_stmt {
	B_LOCK, B_USAGE, B_GET, B_PUT, B_DONE, B_EXPIRED, B_DELETE,
	B__COUNT
};

static const char *const b_sql[B__COUNT] = {
	[B_LOCK] = "SELECT id FROM accounts WHERE id = $1::bigint FOR UPDATE",
	[B_USAGE] = "SELECT COALESCE(sum(size), 0)::bigint, count(*) FROM blobs"
	    " WHERE owner = $1::bigint",
	[B_GET] = "SELECT owner, size, expires, remaining FROM blobs WHERE hash = $1::bytea",
	[B_PUT] = "INSERT INTO blobs(hash, owner, size, expires, remaining) VALUES ($1::bytea,"
	    " $2::bigint, $3::bigint, $4::bigint, $5::bigint) ON CONFLICT (hash) DO NOTHING",
	[B_DONE] = "UPDATE blobs SET remaining = remaining - 1, expires = CASE WHEN"
	    " remaining = 1 AND expires > $2::bigint THEN $2::bigint ELSE expires END"
	    " WHERE hash = $1::bytea AND remaining > 0",
	[B_EXPIRED] = "SELECT hash FROM blobs WHERE expires <= $1::bigint ORDER BY expires"
	    " LIMIT $2::bigint",
	[B_DELETE] = "DELETE FROM blobs WHERE hash = $1::bytea",
};

int
pgb_prepare(struct server_store *s)
{
	return pgs_prepare(s, 'b', b_sql, B__COUNT);
}

int
pgb_blob_usage(struct server_store *s, int64_t owner, uint64_t *bytes, uint32_t *count)
{
	struct pgp p = { .n = 0 };
	PGresult *res;
	int r;

	*bytes = 0;
	*count = 0;
	pgp_i64(&p, owner);
	if ((r = pgs_row(s, 'b', B_USAGE, &p, &res, "blob usage")) != 0)
		return r;
	*bytes = (uint64_t)pgs_int(res, 0, 0);
	*count = (uint32_t)pgs_int(res, 0, 1);
	PQclear(res);
	return 0;
}

int
pgb_blob_get(struct server_store *s, const uint8_t hash[STORE_BLOB_HASH_LEN],
    struct store_blob_rec *out)
{
	struct pgp p = { .n = 0 };
	PGresult *res;
	int r;

	pgp_blob(&p, hash, STORE_BLOB_HASH_LEN);
	if ((r = pgs_row(s, 'b', B_GET, &p, &res, "blob get")) != 0)
		return r;
	memcpy(out->hash, hash, STORE_BLOB_HASH_LEN);
	out->owner = pgs_int(res, 0, 0);
	out->size = (uint64_t)pgs_int(res, 0, 1);
	out->expires = pgs_int(res, 0, 2);
	out->left = (uint32_t)pgs_int(res, 0, 3);
	PQclear(res);
	return 0;
}

int
pgb_blob_put(struct server_store *s, const struct store_blob_rec *b, uint64_t quota_bytes,
    uint32_t quota_count)
{
	struct store_blob_rec have;
	struct pgp p = { .n = 0 };
	PGresult *res = NULL;
	uint64_t bytes;
	uint32_t count;
	int r;

	if ((r = pgs_begin(s)) != 0)
		return r;
	pgp_i64(&p, b->owner);
	/* No account row (deleted meanwhile): nothing to lock, the insert goes on. */
	r = pgs_row(s, 'b', B_LOCK, &p, &res, "blob owner");
	PQclear(res);
	if (r != 0 && r != SOTTO_ERR_NOT_FOUND)
		goto out;
	if ((r = pgb_blob_get(s, b->hash, &have)) != SOTTO_ERR_NOT_FOUND)
		goto out;               /* 0: recorded before (a repeated commit) */
	if ((r = pgb_blob_usage(s, b->owner, &bytes, &count)) != 0)
		goto out;
	if (count >= quota_count || bytes > quota_bytes || b->size > quota_bytes - bytes) {
		r = SOTTO_ERR_QUOTA;
		goto out;
	}
	p.n = 0;
	pgp_blob(&p, b->hash, STORE_BLOB_HASH_LEN);
	pgp_i64(&p, b->owner);
	pgp_i64(&p, (int64_t)b->size);
	pgp_i64(&p, b->expires);
	pgp_i64(&p, b->left);
	r = pgs_run(s, 'b', B_PUT, &p, NULL, NULL, "blob put");
out:
	if (r == 0)
		return pgs_commit(s);
	pgs_rollback(s);
	return r;
}

int
pgb_blob_done(struct server_store *s, const uint8_t hash[STORE_BLOB_HASH_LEN], int64_t now)
{
	struct pgp p = { .n = 0 };

	pgp_blob(&p, hash, STORE_BLOB_HASH_LEN);
	pgp_i64(&p, now);
	return pgs_run(s, 'b', B_DONE, &p, NULL, NULL, "blob done");
}

int
pgb_blob_expired(struct server_store *s, int64_t now, uint8_t (*out)[STORE_BLOB_HASH_LEN],
    size_t max, size_t *n_out)
{
	struct pgp p = { .n = 0 };
	PGresult *res;
	size_t n = 0;
	int r;

	*n_out = 0;
	pgp_i64(&p, now);
	pgp_i64(&p, (int64_t)max);
	if ((r = pgs_run(s, 'b', B_EXPIRED, &p, &res, NULL, "blob expired")) != 0)
		return r;
	for (int i = 0; i < PQntuples(res) && n < max; i++)
		if (pgs_blob(res, i, 0, out[n], STORE_BLOB_HASH_LEN) == 0)
			n++;
	PQclear(res);
	*n_out = n;
	return 0;
}

int
pgb_blob_delete(struct server_store *s, const uint8_t hash[STORE_BLOB_HASH_LEN])
{
	struct pgp p = { .n = 0 };

	pgp_blob(&p, hash, STORE_BLOB_HASH_LEN);
	return pgs_run(s, 'b', B_DELETE, &p, NULL, NULL, "blob delete");
}
