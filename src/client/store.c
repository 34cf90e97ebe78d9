/*
 * Opening, creating and closing the store; its schema; transactions and the helpers the
 * per-table files share. See docs/STORE.md.
 */
#include "client/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "client/store_int.h"

#define STORE_APPLICATION_ID 0x536f7474     /* "Sott" */
/* 2: a message record may end in sent_ms (docs/STORE.md); the tables are those of 1.
 * 3: the MLS tables (groups, key_packages). 4: the kem_prekey table. 5: a received mail is
 * stored once, as its history entry, which folder rows refer to (mail.msg); mail_parts. */
#define STORE_SCHEMA_VERSION 5

/* Columns in clear are named in docs/STORE.md; every "rec" is a sealed record. */
static const char schema_v1[] =
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE identity(k INTEGER PRIMARY KEY CHECK (k = 1), rec BLOB NOT NULL);"
    "CREATE TABLE spk(id INTEGER PRIMARY KEY, created INTEGER NOT NULL, rec BLOB NOT NULL);"
    "CREATE TABLE otpk(id INTEGER PRIMARY KEY, rec BLOB NOT NULL);"
    "CREATE TABLE contacts(h BLOB PRIMARY KEY, rec BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE sessions(h BLOB PRIMARY KEY, rec BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE messages(row INTEGER PRIMARY KEY AUTOINCREMENT, h BLOB NOT NULL UNIQUE,"
    " conv BLOB NOT NULL, local_time INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
    " rec BLOB NOT NULL);"
    "CREATE INDEX messages_conv ON messages(conv, row);"
    "CREATE INDEX messages_expiry ON messages(expires_at) WHERE expires_at > 0;"
    "CREATE TABLE seen(h BLOB PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE outbox(h BLOB NOT NULL UNIQUE, created INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL, rec BLOB NOT NULL);"
    "CREATE TABLE settings(h BLOB PRIMARY KEY, rec BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE folders(id INTEGER PRIMARY KEY AUTOINCREMENT, h BLOB NOT NULL UNIQUE,"
    " uidvalidity INTEGER NOT NULL, uidnext INTEGER NOT NULL, rec BLOB NOT NULL);"
    "CREATE TABLE mail(folder INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,"
    " uid INTEGER NOT NULL, flags INTEGER NOT NULL, internaldate INTEGER NOT NULL,"
    " size INTEGER NOT NULL, rec BLOB NOT NULL, UNIQUE(folder, uid));";

/* Added in version 3: MLS groups and our KeyPackages. */
static const char schema_v3[] =
    "CREATE TABLE groups(h BLOB PRIMARY KEY, rec BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE key_packages(h BLOB PRIMARY KEY, last_resort INTEGER NOT NULL,"
    " created INTEGER NOT NULL, rec BLOB NOT NULL) WITHOUT ROWID;";

/* Added in version 4 (issue 16): signed ML-KEM prekeys, one-time and last-resort
 * (store.h). */
static const char schema_v4[] =
    "CREATE TABLE kem_prekey(id INTEGER PRIMARY KEY, last_resort INTEGER NOT NULL,"
    " created INTEGER NOT NULL, rec BLOB NOT NULL);";

/* Added in version 5 (issue 14): a folder row may refer to the history entry holding a
 * received mail instead of a copy of its own, and parts of mails not complete yet wait in
 * mail_parts. */
static const char schema_v5[] =
    "ALTER TABLE mail ADD COLUMN msg INTEGER REFERENCES messages(row) ON DELETE CASCADE;"
    "CREATE INDEX mail_msg ON mail(msg) WHERE msg IS NOT NULL;"
    "CREATE TABLE mail_parts(h BLOB PRIMARY KEY, mail BLOB NOT NULL,"
    " received INTEGER NOT NULL, rec BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX mail_parts_mail ON mail_parts(mail);"
    "CREATE INDEX mail_parts_received ON mail_parts(received);";

static const char *const side_files[] = { "-wal", "-shm", "-journal" };

int
store_default_dir(char *out, size_t cap)
{
	const char *home = getenv("HOME");
	struct passwd *pw;
	int n;

	if (home == NULL || home[0] != '/') {
		if ((pw = getpwuid(getuid())) == NULL || pw->pw_dir == NULL)
			return SOTTO_ERR_NOT_FOUND;
		home = pw->pw_dir;
	}
	n = snprintf(out, cap, "%s/.sotto", home);
	if (n < 0 || (size_t)n >= cap)
		return SOTTO_ERR_TOO_LARGE;
	return 0;
}

static char *
path_with(const char *base, const char *suffix)
{
	size_t a = strlen(base), b = strlen(suffix);
	char *p = malloc(a + b + 1);

	if (p != NULL) {
		memcpy(p, base, a);
		memcpy(p + a, suffix, b + 1);
	}
	return p;
}

/* The store must be ours alone: owned by us, no group or other permission bits. */
static int
check_private(const char *path, int is_dir)
{
	struct stat sb;
	int rc = is_dir ? stat(path, &sb) : lstat(path, &sb);

	if (rc != 0)
		return errno == ENOENT ? SOTTO_ERR_NOT_FOUND : SOTTO_ERR_IO;
	if (is_dir ? !S_ISDIR(sb.st_mode) : !S_ISREG(sb.st_mode))
		return SOTTO_ERR_AUTH;
	if (sb.st_uid != geteuid() || (sb.st_mode & 077) != 0)
		return SOTTO_ERR_AUTH;
	return 0;
}

static int
check_side_files(const char *path, int fix)
{
	size_t i;
	int r;

	for (i = 0; i < sizeof(side_files) / sizeof(side_files[0]); i++) {
		char *p = path_with(path, side_files[i]);

		if (p == NULL)
			return SOTTO_ERR_NOMEM;
		/*
		 * SQLite creates these with the main file's mode; chmod in case of a umask.
		 * By path, never through a descriptor of our own: closing any descriptor of a
		 * file drops all of this process's POSIX locks on it, SQLite's on the -shm
		 * included, and another process that then finds the -shm unlocked truncates it
		 * under our mapping (SIGBUS on the next access).
		 */
		if (fix) {
			struct stat sb;

			if (lstat(p, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 077) != 0)
				(void)chmod(p, 0600);
		}
		r = check_private(p, 0);
		free(p);
		if (r != 0 && r != SOTTO_ERR_NOT_FOUND)
			return r;
	}
	return 0;
}

static void
remove_files(const char *path)
{
	size_t i;

	(void)unlink(path);
	for (i = 0; i < sizeof(side_files) / sizeof(side_files[0]); i++) {
		char *p = path_with(path, side_files[i]);

		if (p != NULL)
			(void)unlink(p);
		free(p);
	}
}

int
store_sqlerr(struct store *st, int rc)
{
	(void)st;
	switch (rc) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_CONSTRAINT_PRIMARYKEY:
	case SQLITE_CONSTRAINT_UNIQUE:
		return SOTTO_ERR_EXISTS;
	default:
		break;
	}
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return SOTTO_ERR_NOMEM;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return SOTTO_ERR_CORRUPT;
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
		return SOTTO_ERR_IO;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISUSE:
	case SQLITE_RANGE:
		return SOTTO_ERR_INTERNAL;
	default:
		return SOTTO_ERR_STORAGE;   /* full disk, busy, read-only, ... */
	}
}

int
store_prepare(struct store *st, const char *sql, sqlite3_stmt **out)
{
	*out = NULL;
	return store_sqlerr(st, sqlite3_prepare_v2(st->db, sql, -1, out, NULL));
}

int
store_exec(struct store *st, const char *sql)
{
	return store_sqlerr(st, sqlite3_exec(st->db, sql, NULL, NULL, NULL));
}

/* For rollbacks on a path that already failed: the first error is the one reported. */
static void
exec_quiet(struct store *st, const char *sql)
{
	(void)sqlite3_exec(st->db, sql, NULL, NULL, NULL);
}

int
store_wbegin(struct store *st)
{
	/* SQLite may have rolled back the caller's whole transaction after an I/O error or
	 * a full disk; writing on would silently autocommit outside it. */
	if (st->user_tx && sqlite3_get_autocommit(st->db))
		return SOTTO_ERR_STATE;
	return store_exec(st, st->user_tx ? "SAVEPOINT w" : "BEGIN IMMEDIATE");
}

int
store_wend(struct store *st, int r)
{
	int e;

	if (st->user_tx) {
		if (r == 0)
			return store_exec(st, "RELEASE w");
		if (store_exec(st, "ROLLBACK TO w") == 0)
			exec_quiet(st, "RELEASE w");
		return r;
	}
	if (r == 0) {
		if ((e = store_exec(st, "COMMIT")) == 0)
			return 0;
		r = e;
	}
	if (!sqlite3_get_autocommit(st->db))
		exec_quiet(st, "ROLLBACK");
	return r;
}

int
store_step_row(struct store *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? SOTTO_ERR_NOT_FOUND : store_sqlerr(st, rc);
}

int
store_step_changed(struct store *st, sqlite3_stmt *s)
{
	int r;

	if ((r = store_sqlerr(st, sqlite3_step(s))) == 0 && sqlite3_changes(st->db) == 0)
		r = SOTTO_ERR_NOT_FOUND;
	return r;
}

/* Runs the bound write s in a write transaction of its own, then finalizes it. */
static int
change_in_tx(struct store *st, sqlite3_stmt *s)
{
	int r;

	if ((r = store_wbegin(st)) != 0) {
		sqlite3_finalize(s);
		return r;
	}
	r = store_step_changed(st, s);
	sqlite3_finalize(s);
	return store_wend(st, r);
}

int
store_change_by_hash(struct store *st, const char *sql, const uint8_t h[STORE_HASH_LEN])
{
	sqlite3_stmt *s = NULL;
	int r;

	if ((r = store_prepare(st, sql, &s)) != 0)
		return r;
	sqlite3_bind_blob(s, 1, h, STORE_HASH_LEN, SQLITE_STATIC);
	return change_in_tx(st, s);
}

int
store_change_by_id(struct store *st, const char *sql, int64_t id)
{
	sqlite3_stmt *s = NULL;
	int r;

	if ((r = store_prepare(st, sql, &s)) != 0)
		return r;
	sqlite3_bind_int64(s, 1, id);
	return change_in_tx(st, s);
}

void *
store_grow(void *v, size_t n, size_t *cap, size_t size, size_t first)
{
	size_t c;
	void *nv;

	if (n < *cap)
		return v;
	c = *cap ? *cap * 2 : first;
	if (c > SIZE_MAX / size || (nv = realloc(v, c * size)) == NULL)
		return NULL;
	*cap = c;
	return nv;
}

int
store_rows(struct store *st, sqlite3_stmt *s, size_t size, size_t first, store_row_fn row,
    store_rows_free_fn drop, void **v, size_t *n)
{
	uint8_t *a = NULL, *na;
	size_t count = 0, cap = 0;
	int r;

	*v = NULL;
	*n = 0;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		if ((na = store_grow(a, count, &cap, size, first)) == NULL) {
			r = SOTTO_ERR_NOMEM;
			goto out;
		}
		a = na;
		memset(a + count * size, 0, size);
		if ((r = row(st, s, a + count * size)) != 0)
			goto out;
		count++;
	}
	if ((r = store_sqlerr(st, r)) != 0)
		goto out;
	*v = a;
	*n = count;
	return 0;
out:
	if (drop != NULL && a != NULL)
		drop(a, count);
	else
		free(a);
	return r;
}

int
store_begin(struct store *st)
{
	int r;

	if (st->user_tx)
		return SOTTO_ERR_STATE;
	if ((r = store_exec(st, "BEGIN IMMEDIATE")) == 0)
		st->user_tx = 1;
	return r;
}

int
store_commit(struct store *st)
{
	int r;

	if (!st->user_tx)
		return SOTTO_ERR_STATE;
	st->user_tx = 0;
	if ((r = store_exec(st, "COMMIT")) != 0 && !sqlite3_get_autocommit(st->db))
		exec_quiet(st, "ROLLBACK");
	return r;
}

void
store_rollback(struct store *st)
{
	if (!st->user_tx)
		return;
	st->user_tx = 0;
	if (!sqlite3_get_autocommit(st->db))
		exec_quiet(st, "ROLLBACK");
}

int
store_checkpoint(struct store *st)
{
	return store_sqlerr(st, sqlite3_wal_checkpoint_v2(st->db, NULL,
	    SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL));
}

void
store_hash(const struct store *st, enum store_hash_kind kind, const void *p, size_t n,
    uint8_t out[STORE_HASH_LEN])
{
	crypto_generichash_state h;
	uint8_t k = (uint8_t)kind;

	crypto_generichash_init(&h, st->keys->lookup, sizeof(st->keys->lookup), STORE_HASH_LEN);
	crypto_generichash_update(&h, &k, 1);
	crypto_generichash_update(&h, p, n);
	crypto_generichash_final(&h, out, STORE_HASH_LEN);
	sodium_memzero(&h, sizeof(h));
}

int
store_name_hash(const struct store *st, enum store_hash_kind kind, const char *name,
    size_t max, uint8_t out[STORE_HASH_LEN])
{
	size_t n;

	if (name == NULL || (n = strnlen(name, max + 1)) == 0 || n > max)
		return SOTTO_ERR_INVALID_ARG;
	store_hash(st, kind, name, n, out);
	return 0;
}

int
store_addr_hash(const struct store *st, const char *address, uint8_t out[STORE_HASH_LEN])
{
	return store_name_hash(st, STORE_HASH_ADDRESS, address, STORE_ADDR_MAX, out);
}

static int
bind_sealed(struct store *st, sqlite3_stmt *s, int idx, const char *table,
    const uint8_t *rowkey, size_t rowkey_len, struct buf *pt)
{
	uint8_t *rec = NULL;
	size_t rec_len = 0;
	int r;

	if ((r = buf_status(pt)) != 0)
		goto out;
	if ((r = store_rec_seal(st->keys->record, table, rowkey, rowkey_len, pt->p, pt->len,
	    &rec, &rec_len)) != 0)
		goto out;
	if (rec_len > INT32_MAX) {
		free(rec);
		r = SOTTO_ERR_TOO_LARGE;
		goto out;
	}
	/* SQLite frees rec even when binding fails. */
	r = store_sqlerr(st, sqlite3_bind_blob(s, idx, rec, (int)rec_len, free));
out:
	buf_wipe_free(pt);
	return r;
}

int
store_step_sealed(struct store *st, sqlite3_stmt *s, int idx, const char *table,
    const uint8_t *rowkey, size_t rowkey_len, struct buf *pt)
{
	int r;

	if ((r = bind_sealed(st, s, idx, table, rowkey, rowkey_len, pt)) != 0)
		return r;
	return store_sqlerr(st, sqlite3_step(s));
}

int
store_write_sealed(struct store *st, sqlite3_stmt *s, int idx, const char *table,
    const uint8_t *rowkey, size_t rowkey_len, struct buf *pt)
{
	int r;

	if ((r = store_wbegin(st)) != 0) {
		buf_wipe_free(pt);
		sqlite3_finalize(s);
		return r;
	}
	r = store_step_sealed(st, s, idx, table, rowkey, rowkey_len, pt);
	sqlite3_finalize(s);
	return store_wend(st, r);
}

int
store_column_open(struct store *st, sqlite3_stmt *s, int col, const char *table,
    const uint8_t *rowkey, size_t rowkey_len, size_t max, uint8_t **pt, size_t *pt_len)
{
	const uint8_t *rec;
	int n;

	*pt = NULL;
	*pt_len = 0;
	if (sqlite3_column_type(s, col) != SQLITE_BLOB)
		return SOTTO_ERR_CORRUPT;
	rec = sqlite3_column_blob(s, col);
	n = sqlite3_column_bytes(s, col);
	if (rec == NULL || n <= 0)
		return SOTTO_ERR_CORRUPT;
	return store_rec_open(st->keys->record, table, rowkey, rowkey_len, rec, (size_t)n, max,
	    pt, pt_len);
}

int
store_column_open_hashed(struct store *st, sqlite3_stmt *s, int hcol, int col,
    const char *table, size_t max, uint8_t **pt, size_t *pt_len)
{
	const void *h = sqlite3_column_blob(s, hcol);

	*pt = NULL;
	*pt_len = 0;
	if (h == NULL || sqlite3_column_bytes(s, hcol) != STORE_HASH_LEN)
		return SOTTO_ERR_CORRUPT;
	return store_column_open(st, s, col, table, h, STORE_HASH_LEN, max, pt, pt_len);
}

uint8_t *
store_dup_nul(const uint8_t *p, size_t len)
{
	uint8_t *d;

	if (len == SIZE_MAX || (d = malloc(len + 1)) == NULL)
		return NULL;
	if (len > 0)
		memcpy(d, p, len);
	d[len] = '\0';
	return d;
}

int
store_meta_get_blob(struct store *st, const char *k, size_t max, uint8_t **v, size_t *len)
{
	sqlite3_stmt *s = NULL;
	const void *p;
	int r, n;

	*v = NULL;
	*len = 0;
	if ((r = store_prepare(st, "SELECT v FROM meta WHERE k = ?", &s)) != 0)
		return r;
	sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
	if ((r = store_step_row(st, s)) != 0)
		goto out;
	p = sqlite3_column_blob(s, 0);
	n = sqlite3_column_bytes(s, 0);
	if (sqlite3_column_type(s, 0) != SQLITE_BLOB || p == NULL || n <= 0 ||
	    (size_t)n > max) {
		r = SOTTO_ERR_CORRUPT;
		goto out;
	}
	if ((*v = malloc((size_t)n)) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	memcpy(*v, p, (size_t)n);
	*len = (size_t)n;
	r = 0;
out:
	sqlite3_finalize(s);
	return r;
}

int
store_meta_put_blob(struct store *st, const char *k, const uint8_t *v, size_t len)
{
	sqlite3_stmt *s = NULL;
	int r;

	if ((r = store_prepare(st, "INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)", &s)) != 0)
		return r;
	sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, v, (int)len, SQLITE_TRANSIENT);
	r = store_sqlerr(st, sqlite3_step(s));
	sqlite3_finalize(s);
	return r;
}

int
store_meta_get_int(struct store *st, const char *k, int64_t *v)
{
	sqlite3_stmt *s = NULL;
	int r;

	*v = 0;
	if ((r = store_prepare(st, "SELECT v FROM meta WHERE k = ?", &s)) != 0)
		return r;
	sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
	if ((r = store_step_row(st, s)) == 0) {
		if (sqlite3_column_type(s, 0) == SQLITE_INTEGER)
			*v = sqlite3_column_int64(s, 0);
		else
			r = SOTTO_ERR_CORRUPT;
	}
	sqlite3_finalize(s);
	return r;
}

int
store_meta_put_int(struct store *st, const char *k, int64_t v)
{
	sqlite3_stmt *s = NULL;
	int r;

	if ((r = store_prepare(st, "INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)", &s)) != 0)
		return r;
	sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, v);
	r = store_sqlerr(st, sqlite3_step(s));
	sqlite3_finalize(s);
	return r;
}

static int
pragma_int(struct store *st, const char *sql, int64_t *v)
{
	sqlite3_stmt *s = NULL;
	int r;

	if ((r = store_prepare(st, sql, &s)) != 0)
		return r;
	if ((r = sqlite3_step(s)) == SQLITE_ROW) {
		*v = sqlite3_column_int64(s, 0);
		r = 0;
	} else
		r = r == SQLITE_DONE ? SOTTO_ERR_STORAGE : store_sqlerr(st, r);
	sqlite3_finalize(s);
	return r;
}

static struct store *
store_alloc(const char *dir)
{
	struct store *st;

	if (sodium_init() < 0 || (st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	if ((st->path = path_with(dir, "/" STORE_FILE_NAME)) == NULL ||
	    (st->keys = sodium_malloc(sizeof(*st->keys))) == NULL) {
		free(st->path);
		free(st);
		return NULL;
	}
	sodium_memzero(st->keys, sizeof(*st->keys));
	sodium_mprotect_readonly(st->keys);
	return st;
}

static void
store_free(struct store *st)
{
	if (st->db != NULL)
		sqlite3_close_v2(st->db);
	if (st->keys != NULL)
		sodium_free(st->keys);      /* wipes */
	free(st->path);
	free(st);
}

/* Connection settings: WAL + synchronous=FULL make every commit durable; secure_delete
 * zeroes deleted content; defensive mode and no trusted schema limit what a tampered
 * file can make SQLite do. */
static int
db_connect(struct store *st)
{
	sqlite3_stmt *s = NULL;
	int r;

	if ((r = sqlite3_open_v2(st->path, &st->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL)) != SQLITE_OK)
		return r == SQLITE_CANTOPEN ? SOTTO_ERR_IO : store_sqlerr(st, r);
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, 5000);
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	/* temp_store: sorts and temporary indexes never spill into files outside the store.
	 * journal_size_limit 0: the WAL is cut to zero whenever a checkpoint resets it, so
	 * superseded records (old ratchet states) do not linger in stale frames. */
	if ((r = store_exec(st, "PRAGMA secure_delete = ON; PRAGMA foreign_keys = ON;"
	    "PRAGMA cell_size_check = ON; PRAGMA temp_store = MEMORY;"
	    "PRAGMA journal_size_limit = 0;")) != 0)
		return r;
	if ((r = store_prepare(st, "PRAGMA journal_mode = WAL", &s)) != 0)
		return r;
	if ((r = sqlite3_step(s)) != SQLITE_ROW ||
	    sqlite3_stricmp((const char *)sqlite3_column_text(s, 0), "wal") != 0)
		r = r == SQLITE_ROW ? SOTTO_ERR_STORAGE : store_sqlerr(st, r);
	else
		r = 0;
	sqlite3_finalize(s);
	if (r != 0)
		return r;
	return store_exec(st, "PRAGMA synchronous = FULL");
}

static int
valid_pass(const uint8_t *pass, size_t len)
{
	return pass != NULL && len > 0 && len <= STORE_PASSPHRASE_MAX;
}

int
store_create(const char *dir, const uint8_t *pass, size_t pass_len,
    enum store_kdf_level level, struct store **out)
{
	struct store *st = NULL;
	struct stat sb;
	int r, fd, made = 0;
	char sql[96];

	*out = NULL;
	if (dir == NULL || !valid_pass(pass, pass_len))
		return SOTTO_ERR_INVALID_ARG;
	if (mkdir(dir, 0700) != 0) {
		if (errno != EEXIST)
			return SOTTO_ERR_IO;
		if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
			return SOTTO_ERR_IO;
		if (sb.st_uid != geteuid())
			return SOTTO_ERR_AUTH;
	}
	/* Fix rather than refuse on creation: nothing secret is in there yet. */
	if (chmod(dir, 0700) != 0)
		return SOTTO_ERR_IO;
	if ((st = store_alloc(dir)) == NULL)
		return SOTTO_ERR_NOMEM;
	if (lstat(st->path, &sb) == 0) {
		r = SOTTO_ERR_EXISTS;
		goto out;
	}
	/* A stale WAL beside no database would be replayed into the new file. */
	remove_files(st->path);
	fd = open(st->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = errno == EEXIST ? SOTTO_ERR_EXISTS : SOTTO_ERR_IO;
		goto out;
	}
	made = 1;
	r = fchmod(fd, 0600);
	close(fd);
	if (r != 0) {
		r = SOTTO_ERR_IO;
		goto out;
	}
	if ((r = db_connect(st)) != 0)
		goto out;
	if ((r = store_exec(st, "BEGIN IMMEDIATE")) != 0)
		goto out;
	snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; PRAGMA user_version = %d;",
	    STORE_APPLICATION_ID, STORE_SCHEMA_VERSION);
	if ((r = store_exec(st, schema_v1)) != 0 || (r = store_exec(st, schema_v3)) != 0 ||
	    (r = store_exec(st, schema_v4)) != 0 || (r = store_exec(st, schema_v5)) != 0 ||
	    (r = store_exec(st, sql)) != 0 ||
	    (r = store_meta_put_int(st, "schema", STORE_SCHEMA_VERSION)) != 0 ||
	    (r = store_key_new(st, pass, pass_len, level)) != 0) {
		exec_quiet(st, "ROLLBACK");
		goto out;
	}
	if ((r = store_exec(st, "COMMIT")) != 0)
		goto out;
	if ((r = check_side_files(st->path, 1)) != 0)
		goto out;
	*out = st;
	st = NULL;
out:
	if (st != NULL) {
		if (st->db != NULL) {
			sqlite3_close_v2(st->db);
			st->db = NULL;
		}
		if (made)
			remove_files(st->path);
		store_free(st);
	}
	return r;
}

/* A schema 1 file becomes 2 as it is: its records read as they are (no sent_ms); one
 * before 3 gets the MLS tables, one before 4 the (empty) table of ML-KEM prekeys, which
 * the next connection fills; one before 5 the mail reference and mail_parts, and its mail
 * folded into one copy each (store_mail_fold.c). The version goes up so that an older client refuses the
 * file (SOTTO_ERR_BAD_VERSION) rather than take a record with sent_ms for a corrupt one. */
static int
schema_upgrade(struct store *st, int64_t ver)
{
	char sql[64];
	int r;

	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d;", STORE_SCHEMA_VERSION);
	if ((r = store_begin(st)) != 0)
		return r;
	if ((ver < 3 && (r = store_exec(st, schema_v3)) != 0) ||
	    (ver < 4 && (r = store_exec(st, schema_v4)) != 0) ||
	    (ver < 5 && (r = store_exec(st, schema_v5)) != 0) ||
	    (ver < 5 && (r = store_mail_fold(st)) != 0) ||
	    (r = store_exec(st, sql)) != 0 ||
	    (r = store_meta_put_int(st, "schema", STORE_SCHEMA_VERSION)) != 0) {
		store_rollback(st);
		return r;
	}
	return store_commit(st);
}

/* The end of an open: st goes to *out if r is 0 and the side files are ours, else it is
 * freed. */
static int
open_done(struct store *st, int r, struct store **out)
{
	if (r == 0)
		r = check_side_files(st->path, 1);
	if (r == 0)
		*out = st;
	else
		store_free(st);
	return r;
}

/* The file's schema version, after checking that it is a Sotto store at all. */
static int
file_version(struct store *st, int64_t *ver)
{
	int64_t app = 0;
	int r;

	if ((r = pragma_int(st, "PRAGMA application_id", &app)) != 0 ||
	    (r = pragma_int(st, "PRAGMA user_version", ver)) != 0)
		return r;
	return app != STORE_APPLICATION_ID || *ver < 1 ? SOTTO_ERR_CORRUPT : 0;
}

int
store_open(const char *dir, const uint8_t *pass, size_t pass_len, struct store **out)
{
	struct store *st = NULL;
	int64_t ver = 0;
	int r;

	*out = NULL;
	if (dir == NULL || !valid_pass(pass, pass_len))
		return SOTTO_ERR_INVALID_ARG;
	if ((r = check_private(dir, 1)) != 0)
		return r;
	if ((st = store_alloc(dir)) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((r = check_private(st->path, 0)) != 0 || (r = check_side_files(st->path, 0)) != 0)
		goto out;
	if ((r = db_connect(st)) != 0)
		goto out;
	if ((r = file_version(st, &ver)) != 0)
		goto out;
	if (ver > STORE_SCHEMA_VERSION) {
		r = SOTTO_ERR_BAD_VERSION;
		goto out;
	}
	if ((r = store_key_unlock(st, pass, pass_len)) != 0)
		goto out;
	if (ver < STORE_SCHEMA_VERSION)
		r = schema_upgrade(st, ver);
out:
	return open_done(st, r, out);
}

int
store_open_again(const struct store *from, struct store **out)
{
	struct store *st = NULL;
	int64_t ver = 0;
	int r = SOTTO_ERR_NOMEM;

	*out = NULL;
	if (sodium_init() < 0 || (st = calloc(1, sizeof(*st))) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((st->path = strdup(from->path)) == NULL ||
	    (st->keys = sodium_malloc(sizeof(*st->keys))) == NULL)
		goto out;
	/* the keys the first handle unlocked: no second Argon2id */
	memcpy(st->keys, from->keys, sizeof(*st->keys));
	sodium_mprotect_readonly(st->keys);
	if ((r = check_private(st->path, 0)) != 0 || (r = db_connect(st)) != 0)
		goto out;
	if ((r = file_version(st, &ver)) != 0)
		goto out;
	/* the first handle upgraded it; anything else is another file now */
	if (ver != STORE_SCHEMA_VERSION)
		r = SOTTO_ERR_CORRUPT;
out:
	return open_done(st, r, out);
}

int
store_data_version(struct store *st, int64_t *v)
{
	return pragma_int(st, "PRAGMA data_version", v);
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	store_rollback(st);
	if (st->db != NULL)
		(void)store_checkpoint(st);
	store_free(st);
}

int
store_change_passphrase(struct store *st, const uint8_t *pass, size_t pass_len,
    enum store_kdf_level level)
{
	int r;

	if (!valid_pass(pass, pass_len))
		return SOTTO_ERR_INVALID_ARG;
	if ((r = store_wbegin(st)) != 0)
		return r;
	r = store_key_wrap(st, pass, pass_len, level);
	if ((r = store_wend(st, r)) != 0)
		return r;
	/* The old wrapped key must not linger in the WAL. */
	return st->user_tx ? 0 : store_checkpoint(st);
}
