/* Our own keys: the identity row, signed prekeys, one-time prekeys and ML-KEM prekeys. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/store_int.h"

#define IDENTITY_MAX 2048
#define KEYPAIR_MAX (2 * STORE_KEY_LEN + STORE_SIG_LEN)
#define KEM_REC_LEN (STORE_KEM_DK_LEN + STORE_SIG_LEN)

static const uint8_t identity_rowkey[] = { 1 };

void
store_identity_wipe(struct store_identity *id)
{
	sodium_memzero(id, sizeof(*id));
}

void
store_spk_wipe(struct store_spk *spk)
{
	sodium_memzero(spk, sizeof(*spk));
}

static int
str_fits(const char *s, size_t max)
{
	return strnlen(s, max + 1) <= max;
}

int
store_identity_put(struct store *st, const struct store_identity *id)
{
	sqlite3_stmt *s = NULL;
	struct buf b;
	int r;

	if (!str_fits(id->address, STORE_ADDR_MAX) || !str_fits(id->server, STORE_SERVER_MAX) ||
	    !str_fits(id->bridge_pw_hash, STORE_PWHASH_MAX) ||
	    id->reg_state > STORE_REG_REGISTERED)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = store_prepare(st, "INSERT OR REPLACE INTO identity(k, rec) VALUES(1, ?)",
	    &s)) != 0)
		return r;
	buf_init_dyn(&b, IDENTITY_MAX);
	store_identity_encode(&b, id);
	return store_write_sealed(st, s, 1, "identity", identity_rowkey,
	    sizeof(identity_rowkey), &b);
}

int
store_identity_get(struct store *st, struct store_identity *out)
{
	sqlite3_stmt *s = NULL;
	uint8_t *pt = NULL;
	size_t n = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = store_prepare(st, "SELECT rec FROM identity WHERE k = 1", &s)) != 0)
		return r;
	if ((r = store_step_row(st, s)) != 0)
		goto out;
	if ((r = store_column_open(st, s, 0, "identity", identity_rowkey,
	    sizeof(identity_rowkey), IDENTITY_MAX, &pt, &n)) != 0)
		goto out;
	r = store_identity_decode(pt, n, out);
out:
	store_blob_free(pt, n);
	sqlite3_finalize(s);
	return r;
}

static void
id_rowkey(uint8_t rk[4], uint32_t id)
{
	rk[0] = (uint8_t)(id >> 24);
	rk[1] = (uint8_t)(id >> 16);
	rk[2] = (uint8_t)(id >> 8);
	rk[3] = (uint8_t)id;
}

int
store_spk_put(struct store *st, const struct store_spk *spk)
{
	sqlite3_stmt *s = NULL;
	uint8_t rk[4];
	struct buf b;
	int r;

	if (spk->created > INT64_MAX)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = store_prepare(st, "INSERT OR REPLACE INTO spk(id, created, rec) VALUES(?, ?, ?)",
	    &s)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, spk->id);
	sqlite3_bind_int64(s, 2, (int64_t)spk->created);
	id_rowkey(rk, spk->id);
	buf_init_dyn(&b, KEYPAIR_MAX);
	store_keypair_encode(&b, spk->pk, spk->sk, spk->sig);
	return store_write_sealed(st, s, 3, "spk", rk, sizeof(rk), &b);
}

static int
spk_read(struct store *st, sqlite3_stmt *s, void *elem)
{
	struct store_spk *out = elem;
	uint8_t *pt = NULL;
	uint8_t rk[4];
	size_t n = 0;
	int64_t id, created;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = store_step_row(st, s)) != 0)
		return r;
	id = sqlite3_column_int64(s, 0);
	created = sqlite3_column_int64(s, 1);
	if (id < 0 || id > UINT32_MAX || created < 0)
		return SOTTO_ERR_CORRUPT;
	id_rowkey(rk, (uint32_t)id);
	if ((r = store_column_open(st, s, 2, "spk", rk, sizeof(rk), KEYPAIR_MAX, &pt, &n)) != 0)
		return r;
	r = store_keypair_decode(pt, n, out->pk, out->sk, out->sig);
	store_blob_free(pt, n);
	out->id = (uint32_t)id;
	out->created = (uint64_t)created;
	return r;
}

/* The one row sql selects (bound to id unless id is -1), read by read_row into out. */
static int
key_row(struct store *st, const char *sql, int64_t id,
    int (*read_row)(struct store *, sqlite3_stmt *, void *), void *out)
{
	sqlite3_stmt *s = NULL;
	int r;

	if ((r = store_prepare(st, sql, &s)) != 0)
		return r;
	if (id >= 0)
		sqlite3_bind_int64(s, 1, id);
	r = read_row(st, s, out);
	sqlite3_finalize(s);
	return r;
}

int
store_spk_get(struct store *st, uint32_t id, struct store_spk *out)
{
	return key_row(st, "SELECT id, created, rec FROM spk WHERE id = ?", id, spk_read, out);
}

int
store_spk_latest(struct store *st, struct store_spk *out)
{
	return key_row(st, "SELECT id, created, rec FROM spk ORDER BY created DESC, id DESC"
	    " LIMIT 1", -1, spk_read, out);
}

/* Runs sql, a DELETE with one parameter: a time (unix seconds) before which to delete. */
static int
prune_before(struct store *st, const char *sql, uint64_t before)
{
	sqlite3_stmt *s = NULL;
	int r;

	if (before > INT64_MAX)
		before = INT64_MAX;
	if ((r = store_wbegin(st)) != 0)
		return r;
	if ((r = store_prepare(st, sql, &s)) != 0)
		goto out;
	sqlite3_bind_int64(s, 1, (int64_t)before);
	r = store_sqlerr(st, sqlite3_step(s));
out:
	sqlite3_finalize(s);
	return store_wend(st, r);
}

int
store_spk_prune(struct store *st, uint64_t before)
{
	return prune_before(st, "DELETE FROM spk WHERE created < ? AND id NOT IN"
	    " (SELECT id FROM spk ORDER BY created DESC, id DESC LIMIT 1)", before);
}

int
store_otpk_put(struct store *st, uint32_t id, const uint8_t pk[STORE_KEY_LEN],
    const uint8_t sk[STORE_KEY_LEN])
{
	sqlite3_stmt *s = NULL;
	uint8_t rk[4];
	struct buf b;
	int r;

	if ((r = store_prepare(st, "INSERT INTO otpk(id, rec) VALUES(?, ?)", &s)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, id);
	id_rowkey(rk, id);
	buf_init_dyn(&b, KEYPAIR_MAX);
	store_keypair_encode(&b, pk, sk, NULL);
	return store_write_sealed(st, s, 2, "otpk", rk, sizeof(rk), &b);
}

int
store_otpk_get(struct store *st, uint32_t id, uint8_t pk[STORE_KEY_LEN],
    uint8_t sk[STORE_KEY_LEN])
{
	sqlite3_stmt *s = NULL;
	uint8_t *pt = NULL;
	uint8_t rk[4];
	size_t n = 0;
	int r;

	id_rowkey(rk, id);
	if ((r = store_prepare(st, "SELECT rec FROM otpk WHERE id = ?", &s)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, id);
	if ((r = store_step_row(st, s)) != 0)
		goto out;
	if ((r = store_column_open(st, s, 0, "otpk", rk, sizeof(rk), KEYPAIR_MAX, &pt, &n)) != 0)
		goto out;
	r = store_keypair_decode(pt, n, pk, sk, NULL);
out:
	store_blob_free(pt, n);
	sqlite3_finalize(s);
	return r;
}

void
store_otpk_list_free(struct store_otpk_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* The public half of a one-time prekey row; the secret half is decoded and wiped. */
static int
otpk_public_row(struct store *st, sqlite3_stmt *s, void *elem)
{
	struct store_otpk_public *out = elem;
	uint8_t sk[STORE_KEY_LEN];      /* secret, not returned */
	int64_t id = sqlite3_column_int64(s, 0);
	uint8_t *pt = NULL;
	uint8_t rk[4];
	size_t len = 0;
	int r;

	if (id < 0 || id > UINT32_MAX)
		return SOTTO_ERR_CORRUPT;
	id_rowkey(rk, (uint32_t)id);
	if ((r = store_column_open(st, s, 1, "otpk", rk, sizeof(rk), KEYPAIR_MAX, &pt,
	    &len)) != 0)
		return r;
	r = store_keypair_decode(pt, len, out->pk, sk, NULL);
	store_blob_free(pt, len);
	sodium_memzero(sk, sizeof(sk));
	if (r != 0)
		return r;
	out->id = (uint32_t)id;
	return 0;
}

int
store_otpk_list(struct store *st, struct store_otpk_list *out)
{
	sqlite3_stmt *s = NULL;
	void *v;
	int r;

	out->v = NULL;
	out->n = 0;
	if ((r = store_prepare(st, "SELECT id, rec FROM otpk ORDER BY id", &s)) != 0)
		return r;
	r = store_rows(st, s, sizeof(*out->v), 64, otpk_public_row, NULL, &v, &out->n);
	sqlite3_finalize(s);
	if (r == 0)
		out->v = v;
	return r;
}

int
store_otpk_delete(struct store *st, uint32_t id)
{
	return store_change_by_id(st, "DELETE FROM otpk WHERE id = ?", id);
}

int
store_otpk_count(struct store *st, uint32_t *out)
{
	sqlite3_stmt *s = NULL;
	int r;

	*out = 0;
	if ((r = store_prepare(st, "SELECT count(*) FROM otpk", &s)) != 0)
		return r;
	if ((r = sqlite3_step(s)) == SQLITE_ROW) {
		*out = (uint32_t)sqlite3_column_int64(s, 0);
		r = 0;
	} else
		r = store_sqlerr(st, r);
	sqlite3_finalize(s);
	return r;
}

int
store_prekey_next_id(struct store *st, enum store_prekey_kind kind, uint32_t n,
    uint32_t *first)
{
	const char *k = kind == STORE_PREKEY_SIGNED ? "spk_next" :
	    kind == STORE_PREKEY_KEM ? "kem_next" : "otpk_next";
	int64_t next = 1;
	int r;

	*first = 0;
	if (n == 0 || (kind != STORE_PREKEY_SIGNED && kind != STORE_PREKEY_ONETIME &&
	    kind != STORE_PREKEY_KEM))
		return SOTTO_ERR_INVALID_ARG;
	if ((r = store_wbegin(st)) != 0)
		return r;
	if ((r = store_meta_get_int(st, k, &next)) == SOTTO_ERR_NOT_FOUND) {
		next = 1;
		r = 0;
	}
	if (r != 0)
		goto out;
	if (next < 1 || next > (int64_t)UINT32_MAX + 1) {
		r = SOTTO_ERR_CORRUPT;
		goto out;
	}
	if ((uint64_t)next + n - 1 > UINT32_MAX) {
		r = SOTTO_ERR_LIMIT;
		goto out;
	}
	if ((r = store_meta_put_int(st, k, next + n)) != 0)
		goto out;
	*first = (uint32_t)next;
out:
	r = store_wend(st, r);
	if (r != 0)
		*first = 0;
	return r;
}

void
store_kem_prekey_wipe(struct store_kem_prekey *k)
{
	sodium_memzero(k, sizeof(*k));
}

int
store_kem_prekey_put(struct store *st, const struct store_kem_prekey *k)
{
	sqlite3_stmt *s = NULL;
	uint8_t rk[4];
	struct buf b;
	int r;

	if (k->created > INT64_MAX)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = store_prepare(st, "INSERT OR REPLACE INTO kem_prekey(id, last_resort, created,"
	    " rec) VALUES(?, ?, ?, ?)", &s)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, k->id);
	sqlite3_bind_int(s, 2, k->last_resort ? 1 : 0);
	sqlite3_bind_int64(s, 3, (int64_t)k->created);
	id_rowkey(rk, k->id);
	buf_init_dyn(&b, KEM_REC_LEN);
	buf_put(&b, k->dk, sizeof(k->dk));
	buf_put(&b, k->sig, sizeof(k->sig));
	return store_write_sealed(st, s, 4, "kem_prekey", rk, sizeof(rk), &b);
}

/* A row of (id, last_resort, created, rec). */
static int
kem_read(struct store *st, sqlite3_stmt *s, void *elem)
{
	struct store_kem_prekey *out = elem;
	int64_t id, created;
	uint8_t *pt = NULL;
	uint8_t rk[4];
	size_t n = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = store_step_row(st, s)) != 0)
		return r;
	id = sqlite3_column_int64(s, 0);
	created = sqlite3_column_int64(s, 2);
	if (id < 0 || id > UINT32_MAX || created < 0)
		return SOTTO_ERR_CORRUPT;
	id_rowkey(rk, (uint32_t)id);
	if ((r = store_column_open(st, s, 3, "kem_prekey", rk, sizeof(rk), KEM_REC_LEN, &pt,
	    &n)) != 0)
		return r;
	if (n != KEM_REC_LEN) {
		r = SOTTO_ERR_CORRUPT;
		goto out;
	}
	out->id = (uint32_t)id;
	out->last_resort = sqlite3_column_int(s, 1) != 0;
	out->created = (uint64_t)created;
	memcpy(out->dk, pt, STORE_KEM_DK_LEN);
	memcpy(out->sig, pt + STORE_KEM_DK_LEN, STORE_SIG_LEN);
out:
	store_blob_free(pt, n);
	return r;
}

int
store_kem_prekey_get(struct store *st, uint32_t id, struct store_kem_prekey *out)
{
	return key_row(st, "SELECT id, last_resort, created, rec FROM kem_prekey WHERE id = ?",
	    id, kem_read, out);
}

int
store_kem_last_resort_latest(struct store *st, struct store_kem_prekey *out)
{
	return key_row(st, "SELECT id, last_resort, created, rec FROM kem_prekey"
	    " WHERE last_resort = 1 ORDER BY created DESC, id DESC LIMIT 1", -1, kem_read, out);
}

int
store_kem_prekey_use(struct store *st, uint32_t id)
{
	return store_change_by_id(st, "DELETE FROM kem_prekey WHERE id = ? AND last_resort = 0",
	    id);
}

int
store_kem_last_resort_prune(struct store *st, uint64_t before)
{
	return prune_before(st, "DELETE FROM kem_prekey WHERE last_resort = 1 AND created < ?"
	    " AND id NOT IN (SELECT id FROM kem_prekey WHERE last_resort = 1"
	    " ORDER BY created DESC, id DESC LIMIT 1)", before);
}

int
store_kem_prekey_count(struct store *st, uint32_t *onetime)
{
	sqlite3_stmt *s = NULL;
	int r;

	*onetime = 0;
	if ((r = store_prepare(st, "SELECT count(*) FROM kem_prekey WHERE last_resort = 0",
	    &s)) != 0)
		return r;
	if ((r = sqlite3_step(s)) == SQLITE_ROW) {
		*onetime = (uint32_t)sqlite3_column_int64(s, 0);
		r = 0;
	} else
		r = store_sqlerr(st, r);
	sqlite3_finalize(s);
	return r;
}
