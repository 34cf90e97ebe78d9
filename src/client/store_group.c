/* MLS groups and our KeyPackages: rows found by a keyed hash of the group id or the
 * KeyPackageRef. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/store_int.h"

#define GROUP_REC_MAX (2 + STORE_GROUP_ID_MAX + 2 + STORE_GROUP_NAME_MAX + 4 + 1 + 8 + \
	2 * (4 + STORE_GROUP_STATE_MAX))
#define KP_REC_MAX (STORE_KP_REF_LEN + 1 + 8 + 2 * STORE_KEY_LEN + 4 + STORE_KEY_PACKAGE_MAX)

static int
group_hash(struct store *st, const uint8_t *id, size_t id_len, uint8_t h[STORE_HASH_LEN])
{
	if (id == NULL || id_len == 0 || id_len > STORE_GROUP_ID_MAX)
		return SOTTO_ERR_INVALID_ARG;
	store_hash(st, STORE_HASH_GROUP, id, id_len, h);
	return 0;
}

void
store_group_wipe(struct store_group *g)
{
	store_blob_free(g->state, g->state_len);
	store_blob_free(g->prev_state, g->prev_state_len);
	sodium_memzero(g, sizeof(*g));
}

int
store_group_put(struct store *st, const struct store_group *g)
{
	uint8_t h[STORE_HASH_LEN];
	sqlite3_stmt *s = NULL;
	struct buf b;
	int r;

	if ((r = group_hash(st, g->id, g->id_len, h)) != 0)
		return r;
	if (strnlen(g->name, STORE_GROUP_NAME_MAX + 1) > STORE_GROUP_NAME_MAX ||
	    g->status > STORE_GROUP_MISSED || g->state_len > STORE_GROUP_STATE_MAX ||
	    (g->state == NULL && g->state_len > 0) ||
	    g->prev_state_len > STORE_GROUP_STATE_MAX ||
	    (g->prev_state == NULL && g->prev_state_len > 0))
		return SOTTO_ERR_INVALID_ARG;
	if ((r = store_prepare(st, "INSERT OR REPLACE INTO groups(h, rec) VALUES(?, ?)", &s)) != 0)
		return r;
	sqlite3_bind_blob(s, 1, h, sizeof(h), SQLITE_STATIC);
	buf_init_dyn(&b, GROUP_REC_MAX);
	store_group_encode(&b, g);
	return store_write_sealed(st, s, 2, "groups", h, sizeof(h), &b);
}

/* A malloc'd copy of a state (secret), or NULL for none; *ok 0 when out of memory. */
static uint8_t *
state_dup(const uint8_t *p, size_t len, int *ok)
{
	uint8_t *d;

	if (p == NULL)
		return NULL;
	if ((d = malloc(len + 1)) == NULL)
		*ok = 0;
	else
		memcpy(d, p, len);
	return d;
}

/* The row's record into out, with its states copied (with_state) or dropped. */
static int
group_read(struct store *st, sqlite3_stmt *s, struct store_group *out, int with_state)
{
	const uint8_t *state, *prev;
	uint8_t *pt = NULL;
	size_t n = 0;
	int r, ok = 1;

	if ((r = store_column_open_hashed(st, s, 0, 1, "groups", GROUP_REC_MAX, &pt, &n)) != 0)
		return r;
	if ((r = store_group_decode(pt, n, out, &state, &prev)) == 0) {
		if (!with_state) {
			out->state_len = out->prev_state_len = 0;
		} else {
			out->state = state_dup(state, out->state_len, &ok);
			out->prev_state = state_dup(prev, out->prev_state_len, &ok);
			if (!ok) {
				store_group_wipe(out);
				r = SOTTO_ERR_NOMEM;
			}
		}
	}
	if (r != 0)
		sodium_memzero(out, sizeof(*out));
	store_blob_free(pt, n);
	return r;
}

int
store_group_get(struct store *st, const uint8_t *id, size_t id_len, struct store_group *out)
{
	uint8_t h[STORE_HASH_LEN];
	sqlite3_stmt *s = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = group_hash(st, id, id_len, h)) != 0)
		return r;
	if ((r = store_prepare(st, "SELECT h, rec FROM groups WHERE h = ?", &s)) != 0)
		return r;
	sqlite3_bind_blob(s, 1, h, sizeof(h), SQLITE_STATIC);
	if ((r = store_step_row(st, s)) == 0 && (r = group_read(st, s, out, 1)) == 0 &&
	    (out->id_len != id_len || memcmp(out->id, id, id_len) != 0)) {
		store_group_wipe(out);
		r = SOTTO_ERR_CORRUPT;
	}
	sqlite3_finalize(s);
	return r;
}

int
store_group_delete(struct store *st, const uint8_t *id, size_t id_len)
{
	uint8_t h[STORE_HASH_LEN];
	int r;

	if ((r = group_hash(st, id, id_len, h)) != 0)
		return r;
	return store_change_by_hash(st, "DELETE FROM groups WHERE h = ?", h);
}

static int
group_row(struct store *st, sqlite3_stmt *s, void *elem)
{
	return group_read(st, s, elem, 0);
}

static int
group_cmp(const void *a, const void *b)
{
	const struct store_group *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	if (x->id_len != y->id_len)
		return x->id_len < y->id_len ? -1 : 1;
	return memcmp(x->id, y->id, x->id_len);
}

int
store_group_list(struct store *st, struct store_group_list *out)
{
	sqlite3_stmt *s = NULL;
	void *v;
	int r;

	out->v = NULL;
	out->n = 0;
	if ((r = store_prepare(st, "SELECT h, rec FROM groups", &s)) != 0)
		return r;
	r = store_rows(st, s, sizeof(*out->v), 8, group_row, NULL, &v, &out->n);
	sqlite3_finalize(s);
	if (r != 0)
		return r;
	out->v = v;
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), group_cmp);
	return 0;
}

void
store_group_list_free(struct store_group_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void
store_key_package_wipe(struct store_key_package *k)
{
	free(k->kp);
	sodium_memzero(k, sizeof(*k));
}

int
store_key_package_put(struct store *st, const struct store_key_package *k)
{
	uint8_t h[STORE_HASH_LEN];
	sqlite3_stmt *s = NULL;
	struct buf b;
	int r;

	if (k->kp == NULL || k->kp_len == 0 || k->kp_len > STORE_KEY_PACKAGE_MAX ||
	    k->last_resort > 1 || k->created > INT64_MAX)
		return SOTTO_ERR_INVALID_ARG;
	store_hash(st, STORE_HASH_KEY_PACKAGE, k->ref, sizeof(k->ref), h);
	if ((r = store_prepare(st, "INSERT INTO key_packages(h, last_resort, created, rec)"
	    " VALUES(?, ?, ?, ?)", &s)) != 0)
		return r;
	sqlite3_bind_blob(s, 1, h, sizeof(h), SQLITE_STATIC);
	sqlite3_bind_int(s, 2, k->last_resort);
	sqlite3_bind_int64(s, 3, (int64_t)k->created);
	buf_init_dyn(&b, KP_REC_MAX);
	store_key_package_encode(&b, k);
	return store_write_sealed(st, s, 4, "key_packages", h, sizeof(h), &b);
}

int
store_key_package_get(struct store *st, const uint8_t ref[STORE_KP_REF_LEN],
    struct store_key_package *out)
{
	uint8_t h[STORE_HASH_LEN], *pt = NULL;
	const uint8_t *kp;
	sqlite3_stmt *s = NULL;
	size_t n = 0;
	int r;

	memset(out, 0, sizeof(*out));
	store_hash(st, STORE_HASH_KEY_PACKAGE, ref, STORE_KP_REF_LEN, h);
	if ((r = store_prepare(st, "SELECT rec FROM key_packages WHERE h = ?", &s)) != 0)
		return r;
	sqlite3_bind_blob(s, 1, h, sizeof(h), SQLITE_STATIC);
	if ((r = store_step_row(st, s)) != 0 ||
	    (r = store_column_open(st, s, 0, "key_packages", h, sizeof(h), KP_REC_MAX, &pt,
	    &n)) != 0 ||
	    (r = store_key_package_decode(pt, n, out, &kp)) != 0)
		goto out;
	if (sodium_memcmp(out->ref, ref, STORE_KP_REF_LEN) != 0) {
		r = SOTTO_ERR_CORRUPT;
	} else if ((out->kp = malloc(out->kp_len)) == NULL) {
		r = SOTTO_ERR_NOMEM;
	} else
		memcpy(out->kp, kp, out->kp_len);
	if (r != 0)
		store_key_package_wipe(out);
out:
	store_blob_free(pt, n);
	sqlite3_finalize(s);
	return r;
}

int
store_key_package_delete(struct store *st, const uint8_t ref[STORE_KP_REF_LEN])
{
	uint8_t h[STORE_HASH_LEN];

	store_hash(st, STORE_HASH_KEY_PACKAGE, ref, STORE_KP_REF_LEN, h);
	return store_change_by_hash(st, "DELETE FROM key_packages WHERE h = ?", h);
}

int
store_key_package_prune(struct store *st, uint64_t before, size_t *deleted)
{
	sqlite3_stmt *s = NULL;
	int r;

	if (deleted != NULL)
		*deleted = 0;
	if (before > INT64_MAX)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = store_prepare(st, "DELETE FROM key_packages WHERE created < ?", &s)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, (int64_t)before);
	if ((r = store_wbegin(st)) != 0) {
		sqlite3_finalize(s);
		return r;
	}
	if ((r = store_sqlerr(st, sqlite3_step(s))) == 0 && deleted != NULL)
		*deleted = (size_t)sqlite3_changes(st->db);
	sqlite3_finalize(s);
	return store_wend(st, r);
}

int
store_key_package_count(struct store *st, uint32_t *one_time, uint32_t *last_resort)
{
	sqlite3_stmt *s = NULL;
	int r;

	*one_time = *last_resort = 0;
	if ((r = store_prepare(st, "SELECT last_resort, count(*) FROM key_packages"
	    " GROUP BY last_resort", &s)) != 0)
		return r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t n = sqlite3_column_int64(s, 1);

		if (n < 0 || n > UINT32_MAX)
			continue;
		if (sqlite3_column_int(s, 0) == 0)
			*one_time = (uint32_t)n;
		else
			*last_resort = (uint32_t)n;
	}
	r = store_sqlerr(st, r);
	sqlite3_finalize(s);
	return r;
}
