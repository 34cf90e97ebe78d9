/* Contacts, their sessions, and named settings: rows found by a keyed hash of the name. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/store_int.h"

#define CONTACT_MAX (2 + STORE_ADDR_MAX + 128)

void
store_blob_free(uint8_t *p, size_t len)
{
	if (p == NULL)
		return;
	sodium_memzero(p, len);
	free(p);
}

void
store_contact_token_reset(struct store_contact *c)
{
	sodium_memzero(c->token, sizeof(c->token));
	c->token_state = STORE_TOKEN_NONE;
	c->token_seq = 0;
	c->token_given = 0;
}

int
store_contact_put(struct store *st, const struct store_contact *c)
{
	uint8_t h[STORE_HASH_LEN];
	sqlite3_stmt *s = NULL;
	struct buf b;
	int r;

	if ((r = store_addr_hash(st, c->address, h)) != 0)
		return r;
	if (c->verified > 1 || c->trust > STORE_TRUST_BLOCKED ||
	    c->token_state > STORE_TOKEN_STALE)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = store_prepare(st, "INSERT OR REPLACE INTO contacts(h, rec) VALUES(?, ?)",
	    &s)) != 0)
		return r;
	sqlite3_bind_blob(s, 1, h, sizeof(h), SQLITE_STATIC);
	buf_init_dyn(&b, CONTACT_MAX);
	store_contact_encode(&b, c);
	return store_write_sealed(st, s, 2, "contacts", h, sizeof(h), &b);
}

static int
contact_row(struct store *st, sqlite3_stmt *s, void *elem)
{
	struct store_contact *out = elem;
	uint8_t *pt = NULL;
	size_t n = 0;
	int r;

	if ((r = store_column_open_hashed(st, s, 0, 1, "contacts", CONTACT_MAX, &pt, &n)) != 0)
		return r;
	r = store_contact_decode(pt, n, out);
	store_blob_free(pt, n);
	return r;
}

int
store_contact_get(struct store *st, const char *address, struct store_contact *out)
{
	uint8_t h[STORE_HASH_LEN];
	sqlite3_stmt *s = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = store_addr_hash(st, address, h)) != 0)
		return r;
	if ((r = store_prepare(st, "SELECT h, rec FROM contacts WHERE h = ?", &s)) != 0)
		return r;
	sqlite3_bind_blob(s, 1, h, sizeof(h), SQLITE_STATIC);
	if ((r = store_step_row(st, s)) == 0 && (r = contact_row(st, s, out)) == 0 &&
	    strcmp(out->address, address) != 0)
		r = SOTTO_ERR_CORRUPT;
	sqlite3_finalize(s);
	return r;
}

int
store_contact_delete(struct store *st, const char *address)
{
	uint8_t h[STORE_HASH_LEN];
	int r;

	if ((r = store_addr_hash(st, address, h)) != 0)
		return r;
	return store_change_by_hash(st, "DELETE FROM contacts WHERE h = ?", h);
}

static int
contact_cmp(const void *a, const void *b)
{
	return strcmp(((const struct store_contact *)a)->address,
	    ((const struct store_contact *)b)->address);
}

int
store_contact_list(struct store *st, struct store_contact_list *out)
{
	sqlite3_stmt *s = NULL;
	void *v;
	int r;

	out->v = NULL;
	out->n = 0;
	if ((r = store_prepare(st, "SELECT h, rec FROM contacts", &s)) != 0)
		return r;
	r = store_rows(st, s, sizeof(*out->v), 16, contact_row, NULL, &v, &out->n);
	sqlite3_finalize(s);
	if (r != 0)
		return r;
	out->v = v;
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), contact_cmp);
	return 0;
}

void
store_contact_list_free(struct store_contact_list *l)
{
	if (l->v != NULL)
		sodium_memzero(l->v, l->n * sizeof(*l->v));     /* tokens */
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* A sealed blob in a (h, rec) table: sessions and settings. */
static int
blob_put(struct store *st, const char *sql, const char *table, const uint8_t h[STORE_HASH_LEN],
    const uint8_t *v, size_t len, size_t max)
{
	sqlite3_stmt *s = NULL;
	struct buf b;
	int r;

	if ((v == NULL && len > 0) || len > max)
		return len > max ? SOTTO_ERR_TOO_LARGE : SOTTO_ERR_INVALID_ARG;
	if ((r = store_prepare(st, sql, &s)) != 0)
		return r;
	sqlite3_bind_blob(s, 1, h, STORE_HASH_LEN, SQLITE_STATIC);
	buf_init_dyn(&b, max);
	if (len > 0)
		buf_put(&b, v, len);
	return store_write_sealed(st, s, 2, table, h, STORE_HASH_LEN, &b);
}

static int
blob_get(struct store *st, const char *sql, const char *table, const uint8_t h[STORE_HASH_LEN],
    size_t max, uint8_t **v, size_t *len)
{
	sqlite3_stmt *s = NULL;
	int r;

	*v = NULL;
	*len = 0;
	if ((r = store_prepare(st, sql, &s)) != 0)
		return r;
	sqlite3_bind_blob(s, 1, h, STORE_HASH_LEN, SQLITE_STATIC);
	if ((r = store_step_row(st, s)) == 0)
		r = store_column_open(st, s, 0, table, h, STORE_HASH_LEN, max, v, len);
	sqlite3_finalize(s);
	return r;
}

int
store_session_put(struct store *st, const char *address, const uint8_t *state, size_t len)
{
	uint8_t h[STORE_HASH_LEN];
	int r;

	if ((r = store_addr_hash(st, address, h)) != 0)
		return r;
	return blob_put(st, "INSERT OR REPLACE INTO sessions(h, rec) VALUES(?, ?)", "sessions",
	    h, state, len, STORE_SESSION_MAX);
}

int
store_session_get(struct store *st, const char *address, uint8_t **state, size_t *len)
{
	uint8_t h[STORE_HASH_LEN];
	int r;

	*state = NULL;
	*len = 0;
	if ((r = store_addr_hash(st, address, h)) != 0)
		return r;
	return blob_get(st, "SELECT rec FROM sessions WHERE h = ?", "sessions", h,
	    STORE_SESSION_MAX, state, len);
}

int
store_session_delete(struct store *st, const char *address)
{
	uint8_t h[STORE_HASH_LEN];
	int r;

	if ((r = store_addr_hash(st, address, h)) != 0)
		return r;
	return store_change_by_hash(st, "DELETE FROM sessions WHERE h = ?", h);
}

static int
setting_hash(struct store *st, const char *name, uint8_t h[STORE_HASH_LEN])
{
	return store_name_hash(st, STORE_HASH_SETTING, name, STORE_SETTING_NAME_MAX, h);
}

int
store_setting_put(struct store *st, const char *name, const uint8_t *v, size_t len)
{
	uint8_t h[STORE_HASH_LEN];
	int r;

	if ((r = setting_hash(st, name, h)) != 0)
		return r;
	return blob_put(st, "INSERT OR REPLACE INTO settings(h, rec) VALUES(?, ?)", "settings",
	    h, v, len, STORE_SETTING_MAX);
}

int
store_setting_get(struct store *st, const char *name, uint8_t **v, size_t *len)
{
	uint8_t h[STORE_HASH_LEN];
	int r;

	*v = NULL;
	*len = 0;
	if ((r = setting_hash(st, name, h)) != 0)
		return r;
	return blob_get(st, "SELECT rec FROM settings WHERE h = ?", "settings", h,
	    STORE_SETTING_MAX, v, len);
}

int
store_setting_delete(struct store *st, const char *name)
{
	uint8_t h[STORE_HASH_LEN];
	int r;

	if ((r = setting_hash(st, name, h)) != 0)
		return r;
	return store_change_by_hash(st, "DELETE FROM settings WHERE h = ?", h);
}
