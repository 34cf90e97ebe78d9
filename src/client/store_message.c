/*
 * Messages, the seen-id set that drops duplicates, and expiry. A message row is found by
 * the keyed hash of its id; its conversation by the keyed hash of the peer's address.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/store_int.h"

#define MESSAGE_MAX (STORE_BODY_MAX + STORE_ADDR_MAX + STORE_GROUP_ID_MAX + 128)
#define MESSAGE_FIND_BATCH 64       /* rows read per step by store_message_find_sent */

void
store_message_wipe(struct store_message *m)
{
	store_blob_free(m->body, m->body_len);
	sodium_memzero(m, sizeof(*m));
}

void
store_message_list_free(struct store_message_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		store_message_wipe(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
message_valid(const struct store_message *m)
{
	return m->dir >= STORE_DIR_IN && m->dir <= STORE_DIR_OUT &&
	    m->type >= STORE_MSG_TEXT && m->type <= STORE_MSG_GROUP_EVENT &&
	    m->body_len <= STORE_BODY_MAX && (m->body != NULL || m->body_len == 0) &&
	    m->local_time <= INT64_MAX && m->expires_at <= INT64_MAX;
}

static int
seen_insert(struct store *st, const uint8_t h[STORE_HASH_LEN], uint64_t now)
{
	sqlite3_stmt *s = NULL;
	int r;

	if ((r = store_prepare(st, "INSERT INTO seen(h, at) VALUES(?, ?)", &s)) != 0)
		return r;
	sqlite3_bind_blob(s, 1, h, STORE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now > INT64_MAX ? INT64_MAX : (int64_t)now);
	r = store_sqlerr(st, sqlite3_step(s));
	sqlite3_finalize(s);
	return r;
}

int
store_message_add(struct store *st, const struct store_message *m)
{
	return store_message_add_row(st, m, NULL);
}

int
store_message_add_row(struct store *st, const struct store_message *m, int64_t *row)
{
	uint8_t h[STORE_HASH_LEN], conv[STORE_HASH_LEN];
	sqlite3_stmt *s = NULL;
	struct buf b;
	int r;

	if (m->body_len > STORE_BODY_MAX)
		return SOTTO_ERR_TOO_LARGE;
	if (!message_valid(m))
		return SOTTO_ERR_INVALID_ARG;
	if ((r = store_addr_hash(st, m->peer, conv)) != 0)
		return r;
	store_hash(st, STORE_HASH_MSGID, m->id, sizeof(m->id), h);
	if ((r = store_wbegin(st)) != 0)
		return r;
	/* The seen id and the message commit together: a crash between them cannot make a
	 * redelivered message look new, nor a stored one look unseen. */
	if ((r = seen_insert(st, h, m->local_time)) != 0)
		goto out;
	if ((r = store_prepare(st, "INSERT INTO messages(h, conv, local_time, expires_at, rec)"
	    " VALUES(?, ?, ?, ?, ?)", &s)) != 0)
		goto out;
	sqlite3_bind_blob(s, 1, h, sizeof(h), SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, conv, sizeof(conv), SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)m->local_time);
	sqlite3_bind_int64(s, 4, (int64_t)m->expires_at);
	buf_init_dyn(&b, MESSAGE_MAX);
	store_message_encode(&b, m);
	r = store_step_sealed(st, s, 5, "messages", h, sizeof(h), &b);
	if (r == 0 && row != NULL)
		*row = sqlite3_last_insert_rowid(st->db);
out:
	sqlite3_finalize(s);
	return store_wend(st, r);
}

/* Columns: row, h, local_time, expires_at, rec. */
#define MESSAGE_COLUMNS "row, h, local_time, expires_at, rec"

static int
message_row(struct store *st, sqlite3_stmt *s, void *elem)
{
	struct store_message *out = elem;
	const uint8_t *body = NULL;
	int64_t row = sqlite3_column_int64(s, 0);
	int64_t local_time = sqlite3_column_int64(s, 2);
	int64_t expires_at = sqlite3_column_int64(s, 3);
	uint8_t *pt = NULL;
	size_t n = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if (local_time < 0 || expires_at < 0)
		return SOTTO_ERR_CORRUPT;
	if ((r = store_column_open_hashed(st, s, 1, 4, "messages", MESSAGE_MAX, &pt, &n)) != 0)
		return r;
	if ((r = store_message_decode(pt, n, out, &body)) != 0)
		goto out;
	if ((out->body = store_dup_nul(body, out->body_len)) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	out->row = row;
	out->local_time = (uint64_t)local_time;
	out->expires_at = (uint64_t)expires_at;
	r = 0;
out:
	if (r != 0)
		store_message_wipe(out);
	store_blob_free(pt, n);
	return r;
}

int
store_message_get(struct store *st, const uint8_t id[STORE_MSGID_LEN],
    struct store_message *out)
{
	uint8_t h[STORE_HASH_LEN];
	sqlite3_stmt *s = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	store_hash(st, STORE_HASH_MSGID, id, STORE_MSGID_LEN, h);
	if ((r = store_prepare(st, "SELECT " MESSAGE_COLUMNS " FROM messages WHERE h = ?",
	    &s)) != 0)
		return r;
	sqlite3_bind_blob(s, 1, h, sizeof(h), SQLITE_STATIC);
	if ((r = store_step_row(st, s)) == 0)
		r = message_row(st, s, out);
	sqlite3_finalize(s);
	return r;
}

int
store_message_body_by_row(struct store *st, int64_t row, uint8_t **body, size_t *len)
{
	struct store_message m;
	sqlite3_stmt *s = NULL;
	int r;

	*body = NULL;
	*len = 0;
	if ((r = store_prepare(st, "SELECT " MESSAGE_COLUMNS " FROM messages WHERE row = ?",
	    &s)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, row);
	if ((r = store_step_row(st, s)) == 0 && (r = message_row(st, s, &m)) == 0) {
		*body = m.body;
		*len = m.body_len;
		m.body = NULL;
		m.body_len = 0;
		store_message_wipe(&m);
	}
	sqlite3_finalize(s);
	return r;
}

/* Rewrites message id with the fields given (NULL: kept). */
static int
message_rewrite(struct store *st, const uint8_t id[STORE_MSGID_LEN], const uint32_t *flags,
    const uint64_t *expires_at, const uint64_t *sent_ms)
{
	struct store_message m;
	uint8_t h[STORE_HASH_LEN];
	sqlite3_stmt *s = NULL;
	struct buf b;
	int r;

	memset(&m, 0, sizeof(m));
	if (expires_at != NULL && *expires_at > INT64_MAX)
		return SOTTO_ERR_INVALID_ARG;
	store_hash(st, STORE_HASH_MSGID, id, STORE_MSGID_LEN, h);
	if ((r = store_wbegin(st)) != 0)
		return r;
	if ((r = store_message_get(st, id, &m)) != 0)
		goto out;
	if (flags != NULL)
		m.flags = *flags;
	if (expires_at != NULL)
		m.expires_at = *expires_at;
	if (sent_ms != NULL)
		m.sent_ms = *sent_ms;
	if ((r = store_prepare(st, "UPDATE messages SET expires_at = ?, rec = ? WHERE h = ?",
	    &s)) != 0)
		goto out;
	sqlite3_bind_int64(s, 1, (int64_t)m.expires_at);
	sqlite3_bind_blob(s, 3, h, sizeof(h), SQLITE_STATIC);
	buf_init_dyn(&b, MESSAGE_MAX);
	store_message_encode(&b, &m);
	r = store_step_sealed(st, s, 2, "messages", h, sizeof(h), &b);
out:
	store_message_wipe(&m);
	sqlite3_finalize(s);
	return store_wend(st, r);
}

int
store_message_update(struct store *st, const uint8_t id[STORE_MSGID_LEN], uint32_t flags,
    uint64_t expires_at)
{
	return message_rewrite(st, id, &flags, &expires_at, NULL);
}

int
store_message_set_sent(struct store *st, const uint8_t id[STORE_MSGID_LEN], uint64_t sent_ms)
{
	return message_rewrite(st, id, NULL, NULL, &sent_ms);
}

static void
message_rows_free(void *v, size_t n)
{
	struct store_message_list l = { v, n };

	store_message_list_free(&l);
}

static int
message_list(struct store *st, const char *peer, int64_t row, size_t max, int newest,
    struct store_message_list *out)
{
	static const char *const sql[2][2] = {
		{ "SELECT " MESSAGE_COLUMNS " FROM messages WHERE row > ?1 ORDER BY row LIMIT ?2",
		  "SELECT " MESSAGE_COLUMNS " FROM messages WHERE conv = ?3 AND row > ?1"
		  " ORDER BY row LIMIT ?2" },
		{ "SELECT * FROM (SELECT " MESSAGE_COLUMNS " FROM messages WHERE row < ?1"
		  " ORDER BY row DESC LIMIT ?2) ORDER BY row",
		  "SELECT * FROM (SELECT " MESSAGE_COLUMNS " FROM messages WHERE conv = ?3 AND"
		  " row < ?1 ORDER BY row DESC LIMIT ?2) ORDER BY row" },
	};
	uint8_t conv[STORE_HASH_LEN];
	sqlite3_stmt *s = NULL;
	void *v;
	int r;

	out->v = NULL;
	out->n = 0;
	if (peer != NULL && (r = store_addr_hash(st, peer, conv)) != 0)
		return r;
	if ((r = store_prepare(st, sql[newest][peer != NULL], &s)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, row);
	sqlite3_bind_int64(s, 2, max == 0 || max > INT64_MAX ? -1 : (int64_t)max);
	if (peer != NULL)
		sqlite3_bind_blob(s, 3, conv, sizeof(conv), SQLITE_STATIC);
	r = store_rows(st, s, sizeof(*out->v), 16, message_row, message_rows_free, &v, &out->n);
	sqlite3_finalize(s);
	if (r == 0)
		out->v = v;
	return r;
}

int
store_message_list(struct store *st, const char *peer, int64_t after_row, size_t max,
    struct store_message_list *out)
{
	return message_list(st, peer, after_row, max, 0, out);
}

int
store_message_list_before(struct store *st, const char *peer, int64_t before_row,
    size_t max, struct store_message_list *out)
{
	return message_list(st, peer, before_row > 0 ? before_row : INT64_MAX, max, 1, out);
}

int
store_message_find_sent(struct store *st, const char *peer, uint64_t sent_ms,
    uint8_t id[STORE_MSGID_LEN])
{
	struct store_message_list l = { NULL, 0 };
	int64_t before = 0;
	size_t i;
	int r;

	if (sent_ms == 0)
		return SOTTO_ERR_NOT_FOUND;
	do {
		if ((r = store_message_list_before(st, peer, before, MESSAGE_FIND_BATCH, &l)) != 0)
			return r;
		r = SOTTO_ERR_NOT_FOUND;
		for (i = l.n; i-- > 0 && r == SOTTO_ERR_NOT_FOUND;) {
			if (l.v[i].dir == STORE_DIR_OUT && l.v[i].sent_ms == sent_ms) {
				memcpy(id, l.v[i].id, STORE_MSGID_LEN);
				r = 0;
			}
		}
		before = l.n > 0 ? l.v[0].row : 0;
		store_message_list_free(&l);
	} while (r == SOTTO_ERR_NOT_FOUND && before > 0);
	return r;
}

int
store_expire(struct store *st, uint64_t now, size_t *deleted)
{
	sqlite3_stmt *s = NULL;
	size_t n = 0;
	int r;

	if (deleted != NULL)
		*deleted = 0;
	if ((r = store_wbegin(st)) != 0)
		return r;
	if ((r = store_prepare(st, "DELETE FROM messages WHERE expires_at > 0 AND expires_at <= ?",
	    &s)) != 0)
		goto out;
	sqlite3_bind_int64(s, 1, now > INT64_MAX ? INT64_MAX : (int64_t)now);
	if ((r = store_sqlerr(st, sqlite3_step(s))) == 0)
		n = (size_t)sqlite3_changes(st->db);
out:
	sqlite3_finalize(s);
	if ((r = store_wend(st, r)) != 0)
		return r;
	if (deleted != NULL)
		*deleted = n;
	/* secure_delete zeroed the content in the new page images; the checkpoint writes them
	 * over the old ones and the truncate drops the WAL frames that still held them. A
	 * reader in another connection can make this busy; the next expiry retries. */
	if (n > 0 && !st->user_tx && (r = store_checkpoint(st)) != 0 && r != SOTTO_ERR_STORAGE)
		return r;
	return 0;
}

int
store_seen_has(struct store *st, const uint8_t id[STORE_MSGID_LEN])
{
	uint8_t h[STORE_HASH_LEN];
	sqlite3_stmt *s = NULL;
	int r;

	store_hash(st, STORE_HASH_MSGID, id, STORE_MSGID_LEN, h);
	if ((r = store_prepare(st, "SELECT 1 FROM seen WHERE h = ?", &s)) != 0)
		return r;
	sqlite3_bind_blob(s, 1, h, sizeof(h), SQLITE_STATIC);
	r = sqlite3_step(s);
	r = r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? 0 : store_sqlerr(st, r);
	sqlite3_finalize(s);
	return r;
}

int
store_seen_add(struct store *st, const uint8_t id[STORE_MSGID_LEN], uint64_t now)
{
	uint8_t h[STORE_HASH_LEN];
	int r;

	store_hash(st, STORE_HASH_MSGID, id, STORE_MSGID_LEN, h);
	if ((r = store_wbegin(st)) != 0)
		return r;
	r = seen_insert(st, h, now);
	return store_wend(st, r);
}
