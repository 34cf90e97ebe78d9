/*
 * The SQLite backend's blob records (store.h, schema 8). Blob requests are rare next to
 * SENDs: each call prepares its statement and finalizes it.
 */
#include "server/store_sqlite_int.h"

#include <string.h>

/* Prepares sql on s's connection: 0 or the mapped error. */
static int
prep(struct server_store *s, const char *sql, sqlite3_stmt **q)
{
	int rc = sqlite3_prepare_v2(store_sqlite_db(s), sql, -1, q, NULL);

	return rc == SQLITE_OK ? 0 : store_sqlite_rc(s, rc, "blob: prepare");
}

/* Steps q once: 0 for a row or the end, else the mapped error. */
static int
step(struct server_store *s, sqlite3_stmt *q, int *row)
{
	int rc = sqlite3_step(q);

	*row = rc == SQLITE_ROW;
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_sqlite_rc(s, rc, "blob");
}

static int
exec(struct server_store *s, const char *sql)
{
	sqlite3_stmt *q = NULL;
	int r, row;

	if ((r = prep(s, sql, &q)) == 0)
		r = step(s, q, &row);
	sqlite3_finalize(q);
	return r;
}

static int
usage(struct server_store *s, int64_t owner, uint64_t *bytes, uint32_t *count)
{
	sqlite3_stmt *q = NULL;
	int r, row;

	*bytes = 0;
	*count = 0;
	if ((r = prep(s, "SELECT COALESCE(SUM(size), 0), COUNT(*) FROM blobs WHERE owner = ?1",
	    &q)) != 0)
		goto out;
	sqlite3_bind_int64(q, 1, owner);
	if ((r = step(s, q, &row)) != 0 || !row)
		goto out;
	*bytes = (uint64_t)sqlite3_column_int64(q, 0);
	*count = (uint32_t)sqlite3_column_int64(q, 1);
out:
	sqlite3_finalize(q);
	return r;
}

int
sqb_blob_usage(struct server_store *s, int64_t owner, uint64_t *bytes, uint32_t *count)
{
	return usage(s, owner, bytes, count);
}

int
sqb_blob_get(struct server_store *s, const uint8_t hash[STORE_BLOB_HASH_LEN],
    struct store_blob_rec *out)
{
	sqlite3_stmt *q = NULL;
	int r, row;

	if ((r = prep(s, "SELECT owner, size, expires, left FROM blobs WHERE hash = ?1", &q)) != 0)
		goto out;
	sqlite3_bind_blob(q, 1, hash, STORE_BLOB_HASH_LEN, SQLITE_STATIC);
	if ((r = step(s, q, &row)) != 0)
		goto out;
	if (!row) {
		r = SOTTO_ERR_NOT_FOUND;
		goto out;
	}
	memcpy(out->hash, hash, STORE_BLOB_HASH_LEN);
	out->owner = sqlite3_column_int64(q, 0);
	out->size = (uint64_t)sqlite3_column_int64(q, 1);
	out->expires = sqlite3_column_int64(q, 2);
	out->left = (uint32_t)sqlite3_column_int64(q, 3);
out:
	sqlite3_finalize(q);
	return r;
}

int
sqb_blob_put(struct server_store *s, const struct store_blob_rec *b, uint64_t quota_bytes,
    uint32_t quota_count)
{
	struct store_blob_rec have;
	sqlite3_stmt *q = NULL;
	uint64_t bytes;
	uint32_t count;
	int r, row, open = 0;

	if ((r = exec(s, "BEGIN IMMEDIATE")) != 0)
		goto out;
	open = 1;
	if ((r = sqb_blob_get(s, b->hash, &have)) != SOTTO_ERR_NOT_FOUND)
		goto out;               /* 0: recorded before (a repeated commit) */
	if ((r = usage(s, b->owner, &bytes, &count)) != 0)
		goto out;
	if (count >= quota_count || bytes > quota_bytes || b->size > quota_bytes - bytes) {
		r = SOTTO_ERR_QUOTA;
		goto out;
	}
	if ((r = prep(s, "INSERT INTO blobs(hash, owner, size, expires, left)"
	    " VALUES(?1, ?2, ?3, ?4, ?5)", &q)) != 0)
		goto out;
	sqlite3_bind_blob(q, 1, b->hash, STORE_BLOB_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, b->owner);
	sqlite3_bind_int64(q, 3, (int64_t)b->size);
	sqlite3_bind_int64(q, 4, b->expires);
	sqlite3_bind_int64(q, 5, b->left);
	r = step(s, q, &row);
out:
	sqlite3_finalize(q);
	if (open) {
		if (r == 0)
			r = exec(s, "COMMIT");
		if (r != 0 && !sqlite3_get_autocommit(store_sqlite_db(s)))
			(void)exec(s, "ROLLBACK");
	}
	return r;
}

int
sqb_blob_done(struct server_store *s, const uint8_t hash[STORE_BLOB_HASH_LEN], int64_t now)
{
	sqlite3_stmt *q = NULL;
	int r, row;

	if ((r = prep(s, "UPDATE blobs SET left = left - 1,"
	    " expires = CASE WHEN left = 1 AND expires > ?2 THEN ?2 ELSE expires END"
	    " WHERE hash = ?1 AND left > 0", &q)) != 0)
		goto out;
	sqlite3_bind_blob(q, 1, hash, STORE_BLOB_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, now);
	r = step(s, q, &row);
out:
	sqlite3_finalize(q);
	return r;
}

int
sqb_blob_expired(struct server_store *s, int64_t now, uint8_t (*out)[STORE_BLOB_HASH_LEN],
    size_t max, size_t *n_out)
{
	sqlite3_stmt *q = NULL;
	size_t n = 0;
	int r, row = 1;

	if ((r = prep(s, "SELECT hash FROM blobs WHERE expires <= ?1 ORDER BY expires LIMIT ?2",
	    &q)) != 0)
		goto out;
	sqlite3_bind_int64(q, 1, now);
	sqlite3_bind_int64(q, 2, (int64_t)max);
	while (n < max && (r = step(s, q, &row)) == 0 && row) {
		if (sqlite3_column_bytes(q, 0) != STORE_BLOB_HASH_LEN)
			continue;
		memcpy(out[n++], sqlite3_column_blob(q, 0), STORE_BLOB_HASH_LEN);
	}
out:
	sqlite3_finalize(q);
	*n_out = r == 0 ? n : 0;
	return r;
}

int
sqb_blob_delete(struct server_store *s, const uint8_t hash[STORE_BLOB_HASH_LEN])
{
	sqlite3_stmt *q = NULL;
	int r, row;

	if ((r = prep(s, "DELETE FROM blobs WHERE hash = ?1", &q)) != 0)
		goto out;
	sqlite3_bind_blob(q, 1, hash, STORE_BLOB_HASH_LEN, SQLITE_STATIC);
	r = step(s, q, &row);
out:
	sqlite3_finalize(q);
	return r;
}
