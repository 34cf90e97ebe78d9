/*
 * What store_sqlite.c shares with the other files of the SQLite backend
 * (store_sqlite_group.c): its connection, its error mapping, and a slot for their state.
 */
#ifndef SOTTO_SERVER_STORE_SQLITE_INT_H
#define SOTTO_SERVER_STORE_SQLITE_INT_H

#include <sqlite3.h>

#include "server/store.h"

struct sqg;

sqlite3 *store_sqlite_db(struct server_store *s);
/* An SQLite result code as a sotto_err (SQLITE_FULL: SOTTO_ERR_SERVER_FULL, ...). */
int store_sqlite_rc(struct server_store *s, int rc, const char *what);
struct sqg **store_sqlite_group_state(struct server_store *s);

/* store_sqlite_group.c */
void sqg_free(struct sqg *g);
int sqg_key_packages_put(struct server_store *s, int64_t account, const struct store_blob *kps,
    size_t n, const struct store_blob *last_resort, uint32_t max, struct store_kp_count *left);
int sqg_key_package_take(struct server_store *s, int64_t account, struct store_kp_claim *out);
int sqg_key_package_count(struct server_store *s, int64_t account, struct store_kp_count *out);
int sqg_groups_apply(struct server_store *s, struct store_group_op *ops, size_t n);
int sqg_group_memberships(struct server_store *s, int64_t account, int64_t after,
    struct store_membership *out, size_t max, size_t *n_out);
int sqg_group_entries(struct server_store *s, int64_t grp, uint64_t after, uint64_t upto,
    struct store_group_entry *out, size_t max, size_t *n_out);
int sqg_group_welcome(struct server_store *s, int64_t grp, int64_t account,
    struct store_group_entry *out);

/* store_sqlite_blob.c */
int sqb_blob_put(struct server_store *s, const struct store_blob_rec *b, uint64_t quota_bytes,
    uint32_t quota_count);
int sqb_blob_get(struct server_store *s, const uint8_t hash[STORE_BLOB_HASH_LEN],
    struct store_blob_rec *out);
int sqb_blob_usage(struct server_store *s, int64_t owner, uint64_t *bytes, uint32_t *count);
int sqb_blob_done(struct server_store *s, const uint8_t hash[STORE_BLOB_HASH_LEN], int64_t now);
int sqb_blob_expired(struct server_store *s, int64_t now, uint8_t (*out)[STORE_BLOB_HASH_LEN],
    size_t max, size_t *n_out);
int sqb_blob_delete(struct server_store *s, const uint8_t hash[STORE_BLOB_HASH_LEN]);

#endif
