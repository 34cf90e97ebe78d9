/*
 * Parts of received mails still waiting for the others (schema 5). A part row is found
 * by the keyed hash of (peer, mail id, index); `mail` is the keyed hash of (peer, mail
 * id), which finds a mail's parts together. The part itself is sealed under the part's
 * hash; `received` (unix seconds) is in clear so that a mail its sender gave up can be
 * dropped without opening anything.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/store_int.h"

/* A part as received: the mail part format's header and SOTTO_TEXT_MAX bytes at most. */
#define MAIL_PART_REC_MAX (SOTTO_TEXT_MAX + 64)

/* The keyed hash of (peer, mail id) and, for index >= 0, of (peer, mail id, index). */
static int
part_hash(struct store *st, enum store_hash_kind kind, const char *peer,
    const uint8_t *mail_id, size_t id_len, int64_t index, uint8_t h[STORE_HASH_LEN])
{
	uint8_t in[STORE_ADDR_MAX + 1 + 64 + 4];
	size_t plen = strlen(peer), n = 0;

	if (plen == 0 || plen > STORE_ADDR_MAX || id_len == 0 || id_len > 64)
		return SOTTO_ERR_INVALID_ARG;
	memcpy(in, peer, plen + 1);     /* the NUL separates the address from the id */
	n = plen + 1;
	memcpy(in + n, mail_id, id_len);
	n += id_len;
	if (index >= 0) {
		for (int i = 0; i < 4; i++)
			in[n++] = (uint8_t)((uint32_t)index >> (24 - 8 * i));
	}
	store_hash(st, kind, in, n, h);
	sodium_memzero(in, sizeof(in));
	return 0;
}

int
store_mail_part_put(struct store *st, const char *peer, const uint8_t *mail_id,
    size_t id_len, uint32_t index, uint64_t received, const uint8_t *part, size_t len)
{
	uint8_t h[STORE_HASH_LEN], mail[STORE_HASH_LEN];
	sqlite3_stmt *s = NULL;
	struct buf b;
	int r;

	if (part == NULL || len == 0 || len > MAIL_PART_REC_MAX || received > INT64_MAX)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = part_hash(st, STORE_HASH_MAIL_PART, peer, mail_id, id_len, index, h)) != 0 ||
	    (r = part_hash(st, STORE_HASH_MAIL_PARTS, peer, mail_id, id_len, -1, mail)) != 0)
		return r;
	if ((r = store_prepare(st, "INSERT INTO mail_parts(h, mail, received, rec)"
	    " VALUES(?, ?, ?, ?)", &s)) != 0)
		return r;
	sqlite3_bind_blob(s, 1, h, sizeof(h), SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, mail, sizeof(mail), SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)received);
	buf_init_dyn(&b, MAIL_PART_REC_MAX);
	buf_put(&b, part, len);
	return store_write_sealed(st, s, 4, "mail_parts", h, sizeof(h), &b);
}

static int
part_row(struct store *st, sqlite3_stmt *s, void *elem)
{
	struct store_mail_part *p = elem;

	memset(p, 0, sizeof(*p));
	return store_column_open_hashed(st, s, 0, 1, "mail_parts", MAIL_PART_REC_MAX, &p->data,
	    &p->len);
}

static void
part_rows_free(void *v, size_t n)
{
	struct store_mail_part_list l = { v, n };

	store_mail_part_list_free(&l);
}

int
store_mail_part_list(struct store *st, const char *peer, const uint8_t *mail_id,
    size_t id_len, struct store_mail_part_list *out)
{
	uint8_t mail[STORE_HASH_LEN];
	sqlite3_stmt *s = NULL;
	void *v = NULL;
	int r;

	out->v = NULL;
	out->n = 0;
	if ((r = part_hash(st, STORE_HASH_MAIL_PARTS, peer, mail_id, id_len, -1, mail)) != 0)
		return r;
	if ((r = store_prepare(st, "SELECT h, rec FROM mail_parts WHERE mail = ?", &s)) != 0)
		return r;
	sqlite3_bind_blob(s, 1, mail, sizeof(mail), SQLITE_STATIC);
	r = store_rows(st, s, sizeof(*out->v), 8, part_row, part_rows_free, &v, &out->n);
	sqlite3_finalize(s);
	if (r == 0)
		out->v = v;
	return r;
}

int
store_mail_part_count(struct store *st, const char *peer, const uint8_t *mail_id,
    size_t id_len, uint32_t *n)
{
	uint8_t mail[STORE_HASH_LEN];
	sqlite3_stmt *s = NULL;
	int r;

	*n = 0;
	if ((r = part_hash(st, STORE_HASH_MAIL_PARTS, peer, mail_id, id_len, -1, mail)) != 0)
		return r;
	if ((r = store_prepare(st, "SELECT count(*) FROM mail_parts WHERE mail = ?", &s)) != 0)
		return r;
	sqlite3_bind_blob(s, 1, mail, sizeof(mail), SQLITE_STATIC);
	if ((r = store_step_row(st, s)) == 0) {
		int64_t c = sqlite3_column_int64(s, 0);

		*n = c < 0 ? 0 : c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
	}
	sqlite3_finalize(s);
	return r;
}

int
store_mail_part_delete(struct store *st, const char *peer, const uint8_t *mail_id,
    size_t id_len)
{
	uint8_t mail[STORE_HASH_LEN];
	int r;

	if ((r = part_hash(st, STORE_HASH_MAIL_PARTS, peer, mail_id, id_len, -1, mail)) != 0)
		return r;
	r = store_change_by_hash(st, "DELETE FROM mail_parts WHERE mail = ?", mail);
	return r == SOTTO_ERR_NOT_FOUND ? 0 : r;
}

int
store_mail_part_expire(struct store *st, uint64_t before)
{
	int r;

	if (before > INT64_MAX)
		return SOTTO_ERR_INVALID_ARG;
	r = store_change_by_id(st, "DELETE FROM mail_parts WHERE received < ?",
	    (int64_t)before);
	return r == SOTTO_ERR_NOT_FOUND ? 0 : r;
}

void
store_mail_part_list_free(struct store_mail_part_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		store_blob_free(l->v[i].data, l->v[i].len);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}
