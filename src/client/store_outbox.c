/*
 * The outbox: sends waiting for the server's acknowledgement, oldest first. An item holds
 * a ratchet message, or (kind STORE_OUTBOX_CONTENT) a content that still waits for a
 * session with its recipient; both are sealed records like every other row.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/store_int.h"

#define OUTBOX_MAX (STORE_ENVELOPE_MAX + STORE_ADDR_MAX + 64)

void
store_outbox_list_free(struct store_outbox_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		store_blob_free(l->v[i].envelope, l->v[i].envelope_len);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* The sealed record of one item, bound to the INSERT or UPDATE statement s at index idx. */
static int
outbox_seal(struct store *st, sqlite3_stmt *s, int idx, const uint8_t h[STORE_HASH_LEN],
    const uint8_t id[STORE_MSGID_LEN], const char *recipient, const uint8_t *env,
    size_t env_len)
{
	struct buf b;

	buf_init_dyn(&b, OUTBOX_MAX);
	store_outbox_encode(&b, id, recipient, env, env_len);
	return store_step_sealed(st, s, idx, "outbox", h, STORE_HASH_LEN, &b);
}

static int
outbox_check(struct store *st, const char *recipient, const uint8_t *env, size_t env_len)
{
	uint8_t unused[STORE_HASH_LEN];
	int r;

	if ((r = store_addr_hash(st, recipient, unused)) != 0)
		return r;
	if ((env == NULL && env_len > 0) || env_len > STORE_ENVELOPE_MAX)
		return env_len > STORE_ENVELOPE_MAX ? SOTTO_ERR_TOO_LARGE : SOTTO_ERR_INVALID_ARG;
	return 0;
}

int
store_outbox_add(struct store *st, const uint8_t id[STORE_MSGID_LEN], const char *recipient,
    const uint8_t *env, size_t env_len, uint64_t now)
{
	uint8_t h[STORE_HASH_LEN];
	sqlite3_stmt *s = NULL;
	int r;

	if ((r = outbox_check(st, recipient, env, env_len)) != 0)
		return r;
	if (now > INT64_MAX)
		return SOTTO_ERR_INVALID_ARG;
	store_hash(st, STORE_HASH_MSGID, id, STORE_MSGID_LEN, h);
	if ((r = store_wbegin(st)) != 0)
		return r;
	if ((r = store_prepare(st, "INSERT INTO outbox(h, created, attempts, rec)"
	    " VALUES(?, ?, 0, ?)", &s)) != 0)
		goto out;
	sqlite3_bind_blob(s, 1, h, sizeof(h), SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)now);
	r = outbox_seal(st, s, 3, h, id, recipient, env, env_len);
out:
	sqlite3_finalize(s);
	return store_wend(st, r);
}

int
store_outbox_replace(struct store *st, const uint8_t id[STORE_MSGID_LEN],
    const char *recipient, const uint8_t *env, size_t env_len)
{
	uint8_t h[STORE_HASH_LEN];
	sqlite3_stmt *s = NULL;
	int r;

	if ((r = outbox_check(st, recipient, env, env_len)) != 0)
		return r;
	store_hash(st, STORE_HASH_MSGID, id, STORE_MSGID_LEN, h);
	if ((r = store_wbegin(st)) != 0)
		return r;
	if ((r = store_prepare(st, "UPDATE outbox SET rec = ? WHERE h = ?", &s)) != 0)
		goto out;
	sqlite3_bind_blob(s, 2, h, sizeof(h), SQLITE_STATIC);
	if ((r = outbox_seal(st, s, 1, h, id, recipient, env, env_len)) == 0 &&
	    sqlite3_changes(st->db) == 0)
		r = SOTTO_ERR_NOT_FOUND;
out:
	sqlite3_finalize(s);
	return store_wend(st, r);
}

static int
outbox_row(struct store *st, sqlite3_stmt *s, void *elem)
{
	struct store_outbox_item *out = elem;
	int64_t created = sqlite3_column_int64(s, 1);
	int64_t attempts = sqlite3_column_int64(s, 2);
	const uint8_t *env = NULL;
	uint8_t *pt = NULL;
	size_t n = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if (created < 0 || attempts < 0 || attempts > UINT32_MAX)
		return SOTTO_ERR_CORRUPT;
	if ((r = store_column_open_hashed(st, s, 0, 3, "outbox", OUTBOX_MAX, &pt, &n)) != 0)
		return r;
	if ((r = store_outbox_decode(pt, n, out, &env)) != 0)
		goto out;
	if ((out->envelope = store_dup_nul(env, out->envelope_len)) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	out->created = (uint64_t)created;
	out->attempts = (uint32_t)attempts;
	r = 0;
out:
	if (r != 0)
		memset(out, 0, sizeof(*out));
	store_blob_free(pt, n);
	return r;
}

static void
outbox_rows_free(void *v, size_t n)
{
	struct store_outbox_list l = { v, n };

	store_outbox_list_free(&l);
}

int
store_outbox_list(struct store *st, struct store_outbox_list *out)
{
	sqlite3_stmt *s = NULL;
	void *v;
	int r;

	out->v = NULL;
	out->n = 0;
	if ((r = store_prepare(st, "SELECT h, created, attempts, rec FROM outbox"
	    " ORDER BY created, rowid", &s)) != 0)
		return r;
	r = store_rows(st, s, sizeof(*out->v), 16, outbox_row, outbox_rows_free, &v, &out->n);
	sqlite3_finalize(s);
	if (r == 0)
		out->v = v;
	return r;
}

int
store_outbox_get(struct store *st, const uint8_t id[STORE_MSGID_LEN],
    struct store_outbox_item *out)
{
	uint8_t h[STORE_HASH_LEN];
	sqlite3_stmt *s = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	store_hash(st, STORE_HASH_MSGID, id, STORE_MSGID_LEN, h);
	if ((r = store_prepare(st, "SELECT h, created, attempts, rec FROM outbox WHERE h = ?",
	    &s)) != 0)
		return r;
	sqlite3_bind_blob(s, 1, h, sizeof(h), SQLITE_STATIC);
	if ((r = store_step_row(st, s)) == 0)
		r = outbox_row(st, s, out);
	sqlite3_finalize(s);
	return r;
}

void
store_outbox_item_free(struct store_outbox_item *it)
{
	store_blob_free(it->envelope, it->envelope_len);
	memset(it, 0, sizeof(*it));
}

int
store_outbox_has(struct store *st, const uint8_t id[STORE_MSGID_LEN])
{
	uint8_t h[STORE_HASH_LEN];
	sqlite3_stmt *s = NULL;
	int r;

	store_hash(st, STORE_HASH_MSGID, id, STORE_MSGID_LEN, h);
	if ((r = store_prepare(st, "SELECT 1 FROM outbox WHERE h = ?", &s)) != 0)
		return r;
	sqlite3_bind_blob(s, 1, h, sizeof(h), SQLITE_STATIC);
	r = sqlite3_step(s);
	r = r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? 0 : store_sqlerr(st, r);
	sqlite3_finalize(s);
	return r;
}

static int
outbox_change(struct store *st, const char *sql, const uint8_t id[STORE_MSGID_LEN])
{
	uint8_t h[STORE_HASH_LEN];

	store_hash(st, STORE_HASH_MSGID, id, STORE_MSGID_LEN, h);
	return store_change_by_hash(st, sql, h);
}

int
store_outbox_attempt(struct store *st, const uint8_t id[STORE_MSGID_LEN])
{
	return outbox_change(st, "UPDATE outbox SET attempts = min(attempts + 1, 4294967295)"
	    " WHERE h = ?", id);
}

int
store_outbox_remove(struct store *st, const uint8_t id[STORE_MSGID_LEN])
{
	return outbox_change(st, "DELETE FROM outbox WHERE h = ?", id);
}
