/*
 * Mail folders for the IMAP bridge. A folder is found by the keyed hash of its name; a
 * mail by (folder, uid). Bodies are sealed; uid, flags, internal date and size are in
 * clear so the bridge can answer FETCH FLAGS and SEARCH without opening bodies.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/store_int.h"

#define FOLDER_REC_MAX (2 + STORE_FOLDER_NAME_MAX)
#define MAIL_FLAGS_ALL 0x3fu

void
store_folder_list_free(struct store_folder_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void
store_mail_list_free(struct store_mail_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
folder_hash(struct store *st, const char *name, uint8_t h[STORE_HASH_LEN])
{
	return store_name_hash(st, STORE_HASH_FOLDER, name, STORE_FOLDER_NAME_MAX, h);
}

static void
mail_rowkey(uint8_t rk[12], int64_t folder, uint32_t uid)
{
	uint64_t f = (uint64_t)folder;
	int i;

	for (i = 0; i < 8; i++)
		rk[i] = (uint8_t)(f >> (56 - 8 * i));
	for (i = 0; i < 4; i++)
		rk[8 + i] = (uint8_t)(uid >> (24 - 8 * i));
}

/* Columns: id, h, uidvalidity, uidnext, rec, count. */
#define FOLDER_SELECT "SELECT id, h, uidvalidity, uidnext, rec," \
	" (SELECT count(*) FROM mail WHERE mail.folder = folders.id) FROM folders"

static int
folder_row(struct store *st, sqlite3_stmt *s, void *elem)
{
	struct store_folder *out = elem;
	int64_t id = sqlite3_column_int64(s, 0);
	int64_t uidvalidity = sqlite3_column_int64(s, 2);
	int64_t uidnext = sqlite3_column_int64(s, 3);
	int64_t count = sqlite3_column_int64(s, 5);
	uint8_t *pt = NULL;
	size_t n = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if (uidvalidity < 0 || uidvalidity > UINT32_MAX || uidnext < 1 ||
	    uidnext > (int64_t)UINT32_MAX + 1 || count < 0 || count > UINT32_MAX)
		return SOTTO_ERR_CORRUPT;
	if ((r = store_column_open_hashed(st, s, 1, 4, "folders", FOLDER_REC_MAX, &pt, &n)) != 0)
		return r;
	r = store_name_decode(pt, n, out->name, STORE_FOLDER_NAME_MAX);
	store_blob_free(pt, n);
	out->id = id;
	out->uidvalidity = (uint32_t)uidvalidity;
	/* uidnext past the last uid means the folder is full: appends fail with LIMIT. */
	out->uidnext = uidnext > UINT32_MAX ? 0 : (uint32_t)uidnext;
	out->count = (uint32_t)count;
	return r;
}

int
store_folder_create(struct store *st, const char *name, uint32_t uidvalidity,
    struct store_folder *out)
{
	uint8_t h[STORE_HASH_LEN];
	sqlite3_stmt *s = NULL;
	struct buf b;
	int r;

	if ((r = folder_hash(st, name, h)) != 0)
		return r;
	if ((r = store_wbegin(st)) != 0)
		return r;
	if ((r = store_prepare(st, "INSERT INTO folders(h, uidvalidity, uidnext, rec)"
	    " VALUES(?, ?, 1, ?)", &s)) != 0)
		goto out;
	sqlite3_bind_blob(s, 1, h, sizeof(h), SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, uidvalidity);
	buf_init_dyn(&b, FOLDER_REC_MAX);
	store_name_encode(&b, name);
	if ((r = store_step_sealed(st, s, 3, "folders", h, sizeof(h), &b)) != 0)
		goto out;
	if (out != NULL)
		r = store_folder_get(st, name, out);
out:
	sqlite3_finalize(s);
	return store_wend(st, r);
}

int
store_folder_ensure(struct store *st, const char *name, int64_t *id)
{
	struct store_folder f;
	int r;

	r = store_folder_get(st, name, &f);
	if (r == SOTTO_ERR_NOT_FOUND) {
		/* 1..2^31-1: some clients keep UIDVALIDITY in a signed 32-bit integer */
		uint32_t uv = randombytes_uniform(0x7ffffffeu) + 1;
		r = store_folder_create(st, name, uv, &f);
		if (r == SOTTO_ERR_EXISTS)
			r = store_folder_get(st, name, &f);
	}
	if (r == 0)
		*id = f.id;
	return r;
}

int
store_folder_get(struct store *st, const char *name, struct store_folder *out)
{
	uint8_t h[STORE_HASH_LEN];
	sqlite3_stmt *s = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = folder_hash(st, name, h)) != 0)
		return r;
	if ((r = store_prepare(st, FOLDER_SELECT " WHERE h = ?", &s)) != 0)
		return r;
	sqlite3_bind_blob(s, 1, h, sizeof(h), SQLITE_STATIC);
	if ((r = store_step_row(st, s)) == 0)
		r = folder_row(st, s, out);
	sqlite3_finalize(s);
	return r;
}

static int
folder_cmp(const void *a, const void *b)
{
	return strcmp(((const struct store_folder *)a)->name,
	    ((const struct store_folder *)b)->name);
}

int
store_folder_list(struct store *st, struct store_folder_list *out)
{
	sqlite3_stmt *s = NULL;
	void *v;
	int r;

	out->v = NULL;
	out->n = 0;
	if ((r = store_prepare(st, FOLDER_SELECT, &s)) != 0)
		return r;
	r = store_rows(st, s, sizeof(*out->v), 8, folder_row, NULL, &v, &out->n);
	sqlite3_finalize(s);
	if (r != 0)
		return r;
	out->v = v;
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), folder_cmp);
	return 0;
}

/* Runs one statement binding (a, b, c) as int64s; NOT_FOUND if it changed nothing. */
static int
exec_ints(struct store *st, const char *sql, int nargs, int64_t a, int64_t b, int64_t c)
{
	sqlite3_stmt *s = NULL;
	int r;

	if ((r = store_prepare(st, sql, &s)) != 0)
		return r;
	if (nargs > 0)
		sqlite3_bind_int64(s, 1, a);
	if (nargs > 1)
		sqlite3_bind_int64(s, 2, b);
	if (nargs > 2)
		sqlite3_bind_int64(s, 3, c);
	r = store_step_changed(st, s);
	sqlite3_finalize(s);
	return r;
}

int
store_folder_delete(struct store *st, int64_t folder)
{
	return store_change_by_id(st, "DELETE FROM folders WHERE id = ?", folder);
}

/* Appends under the folder's next uid: the body itself, or (msg > 0) a reference to the
 * history entry in row msg whose body is the len-byte mail. */
static int
mail_append(struct store *st, int64_t folder, uint32_t flags, uint64_t internaldate,
    const uint8_t *body, size_t len, int64_t msg, uint32_t *uid)
{
	uint8_t rk[12];
	sqlite3_stmt *s = NULL;
	int64_t next = 0;
	struct buf b;
	int r;

	*uid = 0;
	if ((body == NULL && len > 0 && msg <= 0) || (flags & ~MAIL_FLAGS_ALL) != 0 ||
	    internaldate > INT64_MAX)
		return SOTTO_ERR_INVALID_ARG;
	if (len > STORE_MAIL_MAX)
		return SOTTO_ERR_TOO_LARGE;
	if ((r = store_wbegin(st)) != 0)
		return r;
	if ((r = store_prepare(st, "SELECT uidnext FROM folders WHERE id = ?", &s)) != 0)
		goto out;
	sqlite3_bind_int64(s, 1, folder);
	if ((r = store_step_row(st, s)) != 0)
		goto out;
	next = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	s = NULL;
	if (next < 1 || next > (int64_t)UINT32_MAX + 1) {
		r = SOTTO_ERR_CORRUPT;
		goto out;
	}
	if (next > UINT32_MAX) {
		r = SOTTO_ERR_LIMIT;
		goto out;
	}
	mail_rowkey(rk, folder, (uint32_t)next);
	if ((r = store_prepare(st, "INSERT INTO mail(folder, uid, flags, internaldate, size, rec,"
	    " msg) VALUES(?, ?, ?, ?, ?, ?, ?)", &s)) != 0)
		goto out;
	sqlite3_bind_int64(s, 1, folder);
	sqlite3_bind_int64(s, 2, next);
	sqlite3_bind_int64(s, 3, flags);
	sqlite3_bind_int64(s, 4, (int64_t)internaldate);
	sqlite3_bind_int64(s, 5, (int64_t)len);
	if (msg > 0)
		sqlite3_bind_int64(s, 7, msg);
	else
		sqlite3_bind_null(s, 7);
	/* a reference seals nothing but the row key: the body is the history entry's */
	buf_init_dyn(&b, STORE_MAIL_MAX);
	if (msg <= 0 && len > 0)
		buf_put(&b, body, len);
	if ((r = store_step_sealed(st, s, 6, "mail", rk, sizeof(rk), &b)) != 0)
		goto out;
	if ((r = exec_ints(st, "UPDATE folders SET uidnext = ? WHERE id = ?", 2, next + 1,
	    folder, 0)) != 0)
		goto out;
	*uid = (uint32_t)next;
out:
	sqlite3_finalize(s);
	r = store_wend(st, r);
	if (r != 0)
		*uid = 0;
	return r;
}

int
store_mail_append(struct store *st, int64_t folder, uint32_t flags, uint64_t internaldate,
    const uint8_t *body, size_t len, uint32_t *uid)
{
	return mail_append(st, folder, flags, internaldate, body, len, 0, uid);
}

int
store_mail_append_msg(struct store *st, int64_t folder, uint32_t flags,
    uint64_t internaldate, int64_t msg, size_t len, uint32_t *uid)
{
	if (msg <= 0) {
		*uid = 0;
		return SOTTO_ERR_INVALID_ARG;
	}
	return mail_append(st, folder, flags, internaldate, NULL, len, msg, uid);
}

static int
mail_meta(struct store *st, sqlite3_stmt *s, void *elem)
{
	struct store_mail *m = elem;
	int64_t uid = sqlite3_column_int64(s, 0), flags = sqlite3_column_int64(s, 1);
	int64_t date = sqlite3_column_int64(s, 2), size = sqlite3_column_int64(s, 3);

	(void)st;
	if (uid < 1 || uid > UINT32_MAX || flags < 0 || flags > MAIL_FLAGS_ALL || date < 0 ||
	    size < 0 || size > STORE_MAIL_MAX)
		return SOTTO_ERR_CORRUPT;
	m->uid = (uint32_t)uid;
	m->flags = (uint32_t)flags;
	m->internaldate = (uint64_t)date;
	m->size = (uint32_t)size;
	return 0;
}

int
store_mail_list(struct store *st, int64_t folder, struct store_mail_list *out)
{
	sqlite3_stmt *s = NULL;
	void *v;
	int r;

	out->v = NULL;
	out->n = 0;
	if ((r = store_prepare(st, "SELECT uid, flags, internaldate, size FROM mail"
	    " WHERE folder = ? ORDER BY uid", &s)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, folder);
	r = store_rows(st, s, sizeof(*out->v), 32, mail_meta, NULL, &v, &out->n);
	sqlite3_finalize(s);
	if (r == 0)
		out->v = v;
	return r;
}

int
store_mail_get(struct store *st, int64_t folder, uint32_t uid, struct store_mail *meta,
    uint8_t **body, size_t *len)
{
	struct store_mail m;
	uint8_t rk[12];
	sqlite3_stmt *s = NULL;
	int r;

	*body = NULL;
	*len = 0;
	if ((r = store_prepare(st, "SELECT uid, flags, internaldate, size, rec, msg FROM mail"
	    " WHERE folder = ? AND uid = ?", &s)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, folder);
	sqlite3_bind_int64(s, 2, uid);
	if ((r = store_step_row(st, s)) != 0)
		goto out;
	if ((r = mail_meta(st, s, &m)) != 0)
		goto out;
	mail_rowkey(rk, folder, uid);
	if (sqlite3_column_type(s, 5) != SQLITE_NULL)
		r = store_message_body_by_row(st, sqlite3_column_int64(s, 5), body, len);
	else
		r = store_column_open(st, s, 4, "mail", rk, sizeof(rk), STORE_MAIL_MAX, body, len);
	if (r != 0)
		goto out;
	if (*len != m.size) {
		store_blob_free(*body, *len);
		*body = NULL;
		*len = 0;
		r = SOTTO_ERR_CORRUPT;
		goto out;
	}
	if (meta != NULL)
		*meta = m;
out:
	sqlite3_finalize(s);
	return r;
}

int
store_mail_make_ref(struct store *st, int64_t folder, uint32_t uid, int64_t msg)
{
	uint8_t rk[12];
	sqlite3_stmt *s = NULL;
	struct buf b;
	int r;

	mail_rowkey(rk, folder, uid);
	if ((r = store_prepare(st, "UPDATE mail SET msg = ?, rec = ? WHERE folder = ? AND uid = ?",
	    &s)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, msg);
	sqlite3_bind_int64(s, 3, folder);
	sqlite3_bind_int64(s, 4, uid);
	buf_init_dyn(&b, 1);
	return store_write_sealed(st, s, 2, "mail", rk, sizeof(rk), &b);
}

static int
folder_uid_row(struct store *st, sqlite3_stmt *s, void *elem)
{
	int64_t *fu = elem;

	(void)st;
	fu[0] = sqlite3_column_int64(s, 0);
	fu[1] = sqlite3_column_int64(s, 1);
	return 0;
}

int
store_mail_find_copy(struct store *st, const uint8_t *body, size_t len, int64_t *folder,
    uint32_t *uid)
{
	sqlite3_stmt *s = NULL;
	int64_t (*v)[2] = NULL;
	void *got = NULL;
	uint8_t *b = NULL;
	size_t n = 0, i, blen = 0;
	int r;

	if ((r = store_prepare(st, "SELECT folder, uid FROM mail WHERE size = ? AND msg IS NULL"
	    " ORDER BY folder, uid", &s)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, (int64_t)len);
	r = store_rows(st, s, sizeof(*v), 4, folder_uid_row, NULL, &got, &n);
	sqlite3_finalize(s);
	if (r != 0)
		return r;
	v = got;
	r = SOTTO_ERR_NOT_FOUND;
	for (i = 0; i < n && r == SOTTO_ERR_NOT_FOUND; i++) {
		if (v[i][1] < 1 || v[i][1] > UINT32_MAX) {
			r = SOTTO_ERR_CORRUPT;
			break;
		}
		if ((r = store_mail_get(st, v[i][0], (uint32_t)v[i][1], NULL, &b, &blen)) != 0)
			break;
		if (blen == len && memcmp(b, body, len) == 0) {
			*folder = v[i][0];
			*uid = (uint32_t)v[i][1];
			r = 0;
		} else {
			r = SOTTO_ERR_NOT_FOUND;
		}
		store_blob_free(b, blen);
		b = NULL;
	}
	free(v);
	return r;
}

int
store_mail_copy(struct store *st, int64_t from, uint32_t uid, int64_t to, uint32_t *new_uid)
{
	struct store_mail m;
	uint8_t *body = NULL;
	size_t len = 0;
	sqlite3_stmt *s = NULL;
	int64_t msg = 0;
	int r;

	*new_uid = 0;
	if ((r = store_prepare(st, "SELECT uid, flags, internaldate, size, msg FROM mail"
	    " WHERE folder = ? AND uid = ?", &s)) != 0)
		goto out;
	sqlite3_bind_int64(s, 1, from);
	sqlite3_bind_int64(s, 2, uid);
	if ((r = store_step_row(st, s)) != 0 || (r = mail_meta(st, s, &m)) != 0)
		goto out;
	if (sqlite3_column_type(s, 4) != SQLITE_NULL)
		msg = sqlite3_column_int64(s, 4);
	if (msg > 0)
		r = mail_append(st, to, m.flags & ~STORE_MAIL_RECENT, m.internaldate, NULL, m.size,
		    msg, new_uid);
	else if ((r = store_mail_get(st, from, uid, NULL, &body, &len)) == 0)
		r = mail_append(st, to, m.flags & ~STORE_MAIL_RECENT, m.internaldate, body, len,
		    0, new_uid);
out:
	sqlite3_finalize(s);
	store_blob_free(body, len);
	return r;
}

int
store_mail_set_flags(struct store *st, int64_t folder, uint32_t uid, uint32_t flags)
{
	int r;

	if ((flags & ~MAIL_FLAGS_ALL) != 0)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = store_wbegin(st)) != 0)
		return r;
	r = exec_ints(st, "UPDATE mail SET flags = ? WHERE folder = ? AND uid = ?", 3, flags,
	    folder, uid);
	return store_wend(st, r);
}

static int
uid_row(struct store *st, sqlite3_stmt *s, void *elem)
{
	uint32_t *uid = elem;

	(void)st;
	*uid = (uint32_t)sqlite3_column_int64(s, 0);
	return 0;
}

int
store_mail_expunge(struct store *st, int64_t folder, uint32_t **uids, size_t *n)
{
	uint32_t *v = NULL;
	void *got = NULL;
	size_t count = 0;
	sqlite3_stmt *s = NULL;
	int r;

	if (uids != NULL)
		*uids = NULL;
	if (n != NULL)
		*n = 0;
	if ((r = store_wbegin(st)) != 0)
		return r;
	if ((r = store_prepare(st, "SELECT uid FROM mail WHERE folder = ? AND (flags & ?) != 0"
	    " ORDER BY uid", &s)) != 0)
		goto out;
	sqlite3_bind_int64(s, 1, folder);
	sqlite3_bind_int64(s, 2, STORE_MAIL_DELETED);
	if ((r = store_rows(st, s, sizeof(*v), 32, uid_row, NULL, &got, &count)) != 0)
		goto out;
	v = got;
	sqlite3_finalize(s);
	s = NULL;
	/* The history entry of a received mail that leaves its last folder goes too (its
	 * folder rows with it, ON DELETE CASCADE): the mail is deleted, not hidden. */
	if ((r = store_prepare(st, "DELETE FROM messages WHERE row IN (SELECT msg FROM mail"
	    " WHERE folder = ?1 AND (flags & ?2) != 0) AND NOT EXISTS (SELECT 1 FROM mail o"
	    " WHERE o.msg = messages.row AND NOT (o.folder = ?1 AND (o.flags & ?2) != 0))",
	    &s)) != 0)
		goto out;
	sqlite3_bind_int64(s, 1, folder);
	sqlite3_bind_int64(s, 2, STORE_MAIL_DELETED);
	r = store_sqlerr(st, sqlite3_step(s));
	sqlite3_finalize(s);
	s = NULL;
	if (r != 0)
		goto out;
	r = exec_ints(st, "DELETE FROM mail WHERE folder = ? AND (flags & ?) != 0", 2, folder,
	    STORE_MAIL_DELETED, 0);
	if (r == SOTTO_ERR_NOT_FOUND)
		r = 0;
out:
	sqlite3_finalize(s);
	if ((r = store_wend(st, r)) != 0) {
		free(v);
		return r;
	}
	if (uids != NULL) {
		*uids = v;
		v = NULL;
	}
	if (n != NULL)
		*n = count;
	free(v);
	return 0;
}
