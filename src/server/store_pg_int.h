/*
 * What store_pg.c shares with the other files of the PostgreSQL backend
 * (store_pg_group.c): bound parameters, prepared statements by set and number, results,
 * transactions, and the statements of the group file.
 */
#ifndef SOTTO_SERVER_STORE_PG_INT_H
#define SOTTO_SERVER_STORE_PG_INT_H

#include <libpq-fe.h>

#include "server/store.h"

#define PG_PARAMS_MAX 8

/* The parameters of one statement, all in binary format (bigint: 8 bytes big-endian). */
struct pgp {
	const char *v[PG_PARAMS_MAX];
	int len[PG_PARAMS_MAX];
	int fmt[PG_PARAMS_MAX];
	uint64_t ints[PG_PARAMS_MAX];
	int n;
};

void pgp_blob(struct pgp *p, const void *v, size_t len);
void pgp_i64(struct pgp *p, int64_t v);
void pgp_bool(struct pgp *p, int v);
void pgp_text(struct pgp *p, const char *s);
void pgp_null(struct pgp *p);

/* Prepares n statements as set (a letter) 0..n-1; SOTTO_ERR_CORRUPT if one does not. */
int pgs_prepare(struct server_store *s, char set, const char *const *sql, int n);
/* Runs prepared statement (set, id); *res (if res) gets a statement's rows (PQclear);
 * *changes (if changes) the number of rows it changed. Errors mapped to sotto_err. */
int pgs_run(struct server_store *s, char set, int id, const struct pgp *p, PGresult **res,
    uint64_t *changes, const char *what);
/* As pgs_run for a statement of one row: SOTTO_ERR_NOT_FOUND if it returns none. */
int pgs_row(struct server_store *s, char set, int id, const struct pgp *p, PGresult **res,
    const char *what);
/* A statement without parameters, not prepared (transaction control, schema). */
int pgs_exec(struct server_store *s, const char *sql, const char *what);
int pgs_begin(struct server_store *s);
/* On failure the transaction is rolled back. */
int pgs_commit(struct server_store *s);
void pgs_rollback(struct server_store *s);
/* A column as an integer (NULL: 0), or its bytes (exactly len, else SOTTO_ERR_CORRUPT). */
int64_t pgs_int(const PGresult *res, int row, int col);
int pgs_blob(const PGresult *res, int row, int col, uint8_t *out, size_t len);

/* NOTIFY STORE_PG_WAKE_CHANNEL naming account, inside the open transaction. */
int pgs_wake(struct server_store *s, int64_t account);

/* store_pg_group.c */
int pgg_prepare(struct server_store *s);
int pgg_key_packages_put(struct server_store *s, int64_t account, const struct store_blob *kps,
    size_t n, const struct store_blob *last_resort, uint32_t max, struct store_kp_count *left);
int pgg_key_package_take(struct server_store *s, int64_t account, struct store_kp_claim *out);
int pgg_key_package_count(struct server_store *s, int64_t account, struct store_kp_count *out);
int pgg_groups_apply(struct server_store *s, struct store_group_op *ops, size_t n);
int pgg_group_memberships(struct server_store *s, int64_t account, int64_t after,
    struct store_membership *out, size_t max, size_t *n_out);
int pgg_group_entries(struct server_store *s, int64_t grp, uint64_t after, uint64_t upto,
    struct store_group_entry *out, size_t max, size_t *n_out);
int pgg_group_welcome(struct server_store *s, int64_t grp, int64_t account,
    struct store_group_entry *out);

/* store_pg_blob.c */
int pgb_prepare(struct server_store *s);
int pgb_blob_put(struct server_store *s, const struct store_blob_rec *b, uint64_t quota_bytes,
    uint32_t quota_count);
int pgb_blob_get(struct server_store *s, const uint8_t hash[STORE_BLOB_HASH_LEN],
    struct store_blob_rec *out);
int pgb_blob_usage(struct server_store *s, int64_t owner, uint64_t *bytes, uint32_t *count);
int pgb_blob_done(struct server_store *s, const uint8_t hash[STORE_BLOB_HASH_LEN], int64_t now);
int pgb_blob_expired(struct server_store *s, int64_t now, uint8_t (*out)[STORE_BLOB_HASH_LEN],
    size_t max, size_t *n_out);
int pgb_blob_delete(struct server_store *s, const uint8_t hash[STORE_BLOB_HASH_LEN]);

#endif
