/*
 * Shared by the store's own files only: the store handle, transactions, SQLite error
 * mapping, stepping and list growth, keyed lookup hashes and row sealing under the
 * store's keys.
 */
#ifndef SOTTO_CLIENT_STORE_INT_H
#define SOTTO_CLIENT_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "client/store.h"
#include "client/store_record.h"

#define STORE_HASH_LEN 32

/* Secret; in sodium_malloc memory, read-only except while being set. */
struct store_keys {
	uint8_t data[STORE_KEY_LEN];     /* the random data key, wrapped in the file */
	uint8_t record[STORE_KEY_LEN];   /* seals records */
	uint8_t lookup[STORE_KEY_LEN];   /* keys the BLAKE2b row hashes */
};

struct store {
	sqlite3 *db;
	char *path;             /* .../store.db */
	struct store_keys *keys;
	int user_tx;            /* inside store_begin .. store_commit */
};

/* Domain of a lookup hash, so an address and a message id never share a hash. */
enum store_hash_kind {
	STORE_HASH_ADDRESS = 'a',
	STORE_HASH_MSGID = 'm',
	STORE_HASH_SETTING = 's',
	STORE_HASH_FOLDER = 'f',
	STORE_HASH_GROUP = 'g',
	STORE_HASH_KEY_PACKAGE = 'k',
	STORE_HASH_MAIL_PART = 'p',         /* (peer, mail id, index) */
	STORE_HASH_MAIL_PARTS = 'q',        /* (peer, mail id) */
};

int store_sqlerr(struct store *st, int rc);
int store_prepare(struct store *st, const char *sql, sqlite3_stmt **out) SOTTO_MUST_CHECK;
int store_exec(struct store *st, const char *sql) SOTTO_MUST_CHECK;
/* Runs a write: opens a transaction (or a savepoint inside the caller's); wend commits
 * when r is 0 and rolls back otherwise, returning r or the commit's error. */
int store_wbegin(struct store *st) SOTTO_MUST_CHECK;
int store_wend(struct store *st, int r) SOTTO_MUST_CHECK;

/* Steps a lookup: 0 when it found its row, SOTTO_ERR_NOT_FOUND when there was none. */
int store_step_row(struct store *st, sqlite3_stmt *s) SOTTO_MUST_CHECK;
/* Steps an UPDATE or DELETE: SOTTO_ERR_NOT_FOUND when it changed no row. */
int store_step_changed(struct store *st, sqlite3_stmt *s) SOTTO_MUST_CHECK;
/* One write transaction running sql with the lookup hash h (or the integer id) bound to
 * parameter 1; SOTTO_ERR_NOT_FOUND when it changed no row. */
int store_change_by_hash(struct store *st, const char *sql,
    const uint8_t h[STORE_HASH_LEN]) SOTTO_MUST_CHECK;
int store_change_by_id(struct store *st, const char *sql, int64_t id) SOTTO_MUST_CHECK;

/* Room for element n in the array v of *cap elements of size bytes each: v, or v grown
 * (from first elements, then doubling) with *cap updated, or NULL (v still valid and
 * *cap unchanged) when out of memory. */
void *store_grow(void *v, size_t n, size_t *cap, size_t size, size_t first);

/* Decodes the current row of s into elem (zeroed). On error it leaves nothing in elem to
 * free. */
typedef int (*store_row_fn)(struct store *st, sqlite3_stmt *s, void *elem);
/* Frees a list of n decoded rows: what each element holds, then the array v itself. */
typedef void (*store_rows_free_fn)(void *v, size_t n);
/* Steps s (prepared and bound by the caller, not finalized here) to its end, decoding every
 * row with row into an array of size-byte elements grown by store_grow from first. On
 * success *v (malloc'd; NULL when there was no row) and *n. On error *v is NULL, *n is 0
 * and the rows decoded so far are freed with drop (plain free() when drop is NULL). */
int store_rows(struct store *st, sqlite3_stmt *s, size_t size, size_t first, store_row_fn row,
    store_rows_free_fn drop, void **v, size_t *n) SOTTO_MUST_CHECK;

void store_hash(const struct store *st, enum store_hash_kind kind, const void *p, size_t n,
    uint8_t out[STORE_HASH_LEN]);
/* The lookup hash of a name (an address, a setting or folder name), after checking that
 * it is not empty and at most max bytes long. */
int store_name_hash(const struct store *st, enum store_hash_kind kind, const char *name,
    size_t max, uint8_t out[STORE_HASH_LEN]) SOTTO_MUST_CHECK;
int store_addr_hash(const struct store *st, const char *address,
    uint8_t out[STORE_HASH_LEN]) SOTTO_MUST_CHECK;

/* Seal the encoded buffer (wiped and freed here) for table/rowkey, bind it at idx and
 * run the statement, whose other parameters the caller has bound. */
int store_step_sealed(struct store *st, sqlite3_stmt *s, int idx, const char *table,
    const uint8_t *rowkey, size_t rowkey_len, struct buf *pt) SOTTO_MUST_CHECK;
/* The same as a write of its own: opens the write transaction, runs s and ends it; s is
 * finalized and pt wiped on every path. */
int store_write_sealed(struct store *st, sqlite3_stmt *s, int idx, const char *table,
    const uint8_t *rowkey, size_t rowkey_len, struct buf *pt) SOTTO_MUST_CHECK;
/* Open the sealed blob in column col (NULL/empty is corrupt). */
int store_column_open(struct store *st, sqlite3_stmt *s, int col, const char *table,
    const uint8_t *rowkey, size_t rowkey_len, size_t max, uint8_t **pt,
    size_t *pt_len) SOTTO_MUST_CHECK;
/* The same for a row whose key is the lookup hash in column hcol (corrupt if not one). */
int store_column_open_hashed(struct store *st, sqlite3_stmt *s, int hcol, int col,
    const char *table, size_t max, uint8_t **pt, size_t *pt_len) SOTTO_MUST_CHECK;
/* A malloc'd copy of p[0..len) with one spare NUL byte, so a text body can be used as a
 * C string; NULL when out of memory. */
uint8_t *store_dup_nul(const uint8_t *p, size_t len);

/* The body of the history entry in row (malloc'd, with a spare NUL: store_blob_free). */
int store_message_body_by_row(struct store *st, int64_t row, uint8_t **body,
    size_t *len) SOTTO_MUST_CHECK;
/* For the fold: mail uid of folder becomes a reference to history row msg (its own copy
 * goes); the first folder row that holds a copy of body of its own. */
int store_mail_make_ref(struct store *st, int64_t folder, uint32_t uid,
    int64_t msg) SOTTO_MUST_CHECK;
int store_mail_find_copy(struct store *st, const uint8_t *body, size_t len, int64_t *folder,
    uint32_t *uid) SOTTO_MUST_CHECK;
/* Folds a schema 4 store's mail into schema 5 (store_mail_fold.c), inside the upgrade's
 * transaction. */
int store_mail_fold(struct store *st) SOTTO_MUST_CHECK;

/* Reads or writes an integer in the meta table. */
int store_meta_get_int(struct store *st, const char *k, int64_t *v) SOTTO_MUST_CHECK;
int store_meta_put_int(struct store *st, const char *k, int64_t v) SOTTO_MUST_CHECK;

/* Meta blobs: *v malloc'd, at most max bytes (else SOTTO_ERR_CORRUPT). */
int store_meta_get_blob(struct store *st, const char *k, size_t max, uint8_t **v,
    size_t *len) SOTTO_MUST_CHECK;
int store_meta_put_blob(struct store *st, const char *k, const uint8_t *v,
    size_t len) SOTTO_MUST_CHECK;

/* Key hierarchy (store_key.c). new: a fresh data key, wrapped under pass, with its check
 * value; wrap: (re)wrap the current data key; unlock: derive, unwrap, check. */
int store_key_new(struct store *st, const uint8_t *pass, size_t pass_len,
    enum store_kdf_level level) SOTTO_MUST_CHECK;
int store_key_wrap(struct store *st, const uint8_t *pass, size_t pass_len,
    enum store_kdf_level level) SOTTO_MUST_CHECK;
int store_key_unlock(struct store *st, const uint8_t *pass, size_t pass_len) SOTTO_MUST_CHECK;

#endif
