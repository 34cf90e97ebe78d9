#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "check.h"
#include "store_schema4.h"
#include "client/store.h"
#include "client/store_int.h"      /* st->db, to simulate a full disk */
#include "client/store_record.h"

#define PASS "correct horse battery staple"
#define PASS_LEN (sizeof(PASS) - 1)

static char root[64];
static char home[128];
static char dbpath[160];

/* A fresh directory for each test: root/home does not exist yet. */
static void
fresh_home(void)
{
	strcpy(root, "/tmp/sotto-store-XXXXXX");
	if (mkdtemp(root) == NULL)
		abort();
	snprintf(home, sizeof(home), "%s/home", root);
	snprintf(dbpath, sizeof(dbpath), "%s/" STORE_FILE_NAME, home);
}

static void
remove_home(void)
{
	static const char *const names[] = { "", "-wal", "-shm", "-journal" };
	char p[200];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", dbpath, names[i]);
		(void)unlink(p);
	}
	(void)rmdir(home);
	(void)rmdir(root);
}

static struct store *
create_store(void)
{
	struct store *st = NULL;

	fresh_home();
	if (store_create(home, (const uint8_t *)PASS, PASS_LEN, STORE_KDF_TEST_MIN, &st) != 0)
		return NULL;
	return st;
}

static int
reopen(struct store **st)
{
	store_close(*st);
	*st = NULL;
	return store_open(home, (const uint8_t *)PASS, PASS_LEN, st);
}

static int
file_mode(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (int)(sb.st_mode & 07777) : -1;
}

/* Reads a whole file (empty if missing). */
static uint8_t *
slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p = NULL;
	long len;

	*n = 0;
	if (f == NULL)
		return calloc(1, 1);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)len + 1);
	if (p != NULL && fread(p, 1, (size_t)len, f) == (size_t)len)
		*n = (size_t)len;
	fclose(f);
	return p;
}

/* 1 if needle occurs in the database file or its WAL. */
static int
files_contain(const void *needle, size_t len)
{
	static const char *const names[] = { "", "-wal" };
	char p[200];
	size_t i, n;
	int found = 0;

	for (i = 0; i < 2; i++) {
		uint8_t *b;

		snprintf(p, sizeof(p), "%s%s", dbpath, names[i]);
		b = slurp(p, &n);
		if (b != NULL && memmem(b, n, needle, len) != NULL)
			found = 1;
		free(b);
	}
	return found;
}

/* How many of the 32-byte pieces of p occur in the files: a record larger than a page's
 * local payload is split across overflow pages, so it is not contiguous on disk. */
static size_t
files_contain_pieces(const uint8_t *p, size_t len)
{
	size_t off, found = 0;

	for (off = 0; off + 32 <= len; off += 32)
		found += (size_t)files_contain(p + off, 32);
	return found;
}

/* Runs SQL on the file through plain SQLite, as an attacker with the file would. */
static int
raw_exec(const char *sql)
{
	sqlite3 *db = NULL;
	int rc;

	if (sqlite3_open(dbpath, &db) != SQLITE_OK)
		return -1;
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* A meta value as bytes, read through plain SQLite. */
static uint8_t *
raw_meta(const char *k, size_t *len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	uint8_t *out = NULL;

	*len = 0;
	if (sqlite3_open(dbpath, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT v FROM meta WHERE k = ?", -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW && (out = malloc(64 + (size_t)
		    sqlite3_column_bytes(s, 0))) != NULL) {
			*len = (size_t)sqlite3_column_bytes(s, 0);
			memcpy(out, sqlite3_column_blob(s, 0), *len);
		}
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	return out;
}

/* The rec column of the largest row of table. */
static uint8_t *
raw_first_rec(const char *table, size_t *len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	uint8_t *out = NULL;
	char sql[128];

	*len = 0;
	snprintf(sql, sizeof(sql), "SELECT rec FROM %s ORDER BY length(rec) DESC LIMIT 1", table);
	if (sqlite3_open(dbpath, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW &&
	    (out = malloc((size_t)sqlite3_column_bytes(s, 0) + 1)) != NULL) {
		*len = (size_t)sqlite3_column_bytes(s, 0);
		memcpy(out, sqlite3_column_blob(s, 0), *len);
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	return out;
}

static int
raw_put_meta(const char *k, const uint8_t *v, size_t len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (sqlite3_open(dbpath, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "UPDATE meta SET v = ? WHERE k = ?", -1, &s, NULL) == 0) {
		sqlite3_bind_blob(s, 1, v, (int)len, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, k, -1, SQLITE_STATIC);
		rc = sqlite3_step(s) == SQLITE_DONE && sqlite3_changes(db) == 1 ? 0 : -1;
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	return rc;
}

/* Flips one byte in the middle of the first row's rec column of table. */
static int
raw_flip(const char *table)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
	    "UPDATE %s SET rec = substr(rec, 1, 30) || CAST(x'ff' AS BLOB) ||"
	    " substr(rec, 32) WHERE rowid = (SELECT min(rowid) FROM %s)", table, table);
	return raw_exec(sql);
}

static void
make_contact(struct store_contact *c, const char *addr, uint8_t seed)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->address, sizeof(c->address), "%s", addr);
	memset(c->identity_pk, seed, sizeof(c->identity_pk));
	c->verified = seed & 1;
	c->trust = seed % 3;
	c->first_seen = 1700000000u + seed;
	c->changed_at = seed;
	c->expiry_seconds = 3600u * seed;
	c->send_seq = 7u * seed;
	c->recv_seq = 11u * seed;
}

static void
make_message(struct store_message *m, const char *peer, uint32_t n, const char *body)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->peer, sizeof(m->peer), "%s", peer);
	memset(m->id, 0, sizeof(m->id));
	m->id[0] = 0xa5;
	m->id[12] = (uint8_t)(n >> 24);
	m->id[13] = (uint8_t)(n >> 16);
	m->id[14] = (uint8_t)(n >> 8);
	m->id[15] = (uint8_t)n;
	m->dir = (n & 1) ? STORE_DIR_IN : STORE_DIR_OUT;
	m->type = STORE_MSG_TEXT;
	m->seq = n;
	m->server_time = 1700000000u + n;
	m->local_time = 1700000001u + n;
	m->body = (uint8_t *)(uintptr_t)body;
	m->body_len = strlen(body);
}

TEST(store_create_open_close)
{
	struct store_identity id;
	struct store *st = create_store();
	char wal[200], shm[200];

	REQUIRE(st != NULL);
	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	snprintf(shm, sizeof(shm), "%s-shm", dbpath);
	CHECK_EQ_INT(file_mode(home), 0700);
	CHECK_EQ_INT(file_mode(dbpath), 0600);
	CHECK_EQ_INT(file_mode(wal), 0600);
	CHECK_EQ_INT(file_mode(shm), 0600);
	CHECK_EQ_INT(store_identity_get(st, &id), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(reopen(&st), 0);
	REQUIRE(st != NULL);
	CHECK_EQ_INT(file_mode(wal), 0600);
	CHECK_EQ_INT(file_mode(shm), 0600);
	store_close(st);
	st = NULL;
	/* A second store in the same place is refused. */
	CHECK_EQ_INT(store_create(home, (const uint8_t *)PASS, PASS_LEN, STORE_KDF_TEST_MIN, &st),
	    SOTTO_ERR_EXISTS);
	CHECK(st == NULL);
	remove_home();
	CHECK_EQ_INT(store_open(home, (const uint8_t *)PASS, PASS_LEN, &st), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(store_create(home, (const uint8_t *)"", 0, STORE_KDF_TEST_MIN, &st),
	    SOTTO_ERR_INVALID_ARG);
}

TEST(store_default_dir_is_home_dot_sotto)
{
	char buf[512], want[512];
	const char *h = getenv("HOME");

	REQUIRE(store_default_dir(buf, sizeof(buf)) == 0);
	if (h != NULL && h[0] == '/') {
		snprintf(want, sizeof(want), "%s/.sotto", h);
		CHECK(strcmp(buf, want) == 0);
	}
	CHECK_EQ_INT(store_default_dir(buf, 3), SOTTO_ERR_TOO_LARGE);
}

TEST(store_create_fixes_loose_dir)
{
	struct store *st = NULL;

	fresh_home();
	REQUIRE(mkdir(home, 0755) == 0);
	REQUIRE(chmod(home, 0755) == 0);
	REQUIRE(store_create(home, (const uint8_t *)PASS, PASS_LEN, STORE_KDF_TEST_MIN, &st) == 0);
	CHECK_EQ_INT(file_mode(home), 0700);
	store_close(st);
	remove_home();
}

TEST(store_open_refuses_loose_permissions)
{
	struct store *st = create_store();

	REQUIRE(st != NULL);
	store_close(st);
	st = NULL;
	REQUIRE(chmod(home, 0750) == 0);
	CHECK_EQ_INT(store_open(home, (const uint8_t *)PASS, PASS_LEN, &st), SOTTO_ERR_AUTH);
	REQUIRE(chmod(home, 0700) == 0);
	REQUIRE(chmod(dbpath, 0644) == 0);
	CHECK_EQ_INT(store_open(home, (const uint8_t *)PASS, PASS_LEN, &st), SOTTO_ERR_AUTH);
	REQUIRE(chmod(dbpath, 0600) == 0);
	CHECK_EQ_INT(store_open(home, (const uint8_t *)PASS, PASS_LEN, &st), 0);
	store_close(st);
	remove_home();
}

TEST(store_wrong_passphrase)
{
	struct store *st = create_store();
	struct store_contact c, got;

	REQUIRE(st != NULL);
	make_contact(&c, "bob@example.org", 3);
	CHECK_EQ_INT(store_contact_put(st, &c), 0);
	store_close(st);
	st = NULL;
	CHECK_EQ_INT(store_open(home, (const uint8_t *)"correct horse battery stapler", 29, &st),
	    SOTTO_ERR_PASSPHRASE);
	CHECK(st == NULL);
	CHECK_EQ_INT(store_open(home, (const uint8_t *)PASS, PASS_LEN - 1, &st),
	    SOTTO_ERR_PASSPHRASE);
	CHECK_EQ_INT(store_open(home, (const uint8_t *)PASS, PASS_LEN, &st), 0);
	REQUIRE(st != NULL);
	CHECK_EQ_INT(store_contact_get(st, "bob@example.org", &got), 0);
	CHECK(memcmp(&got, &c, sizeof(c)) == 0);
	store_close(st);
	remove_home();
}

TEST(store_passphrase_change)
{
	struct store *st = create_store();
	static const uint8_t newpass[] = "new passphrase";
	uint8_t *v = NULL, *old_wrap;
	size_t n = 0, old_len = 0;

	REQUIRE(st != NULL);
	CHECK_EQ_INT(store_setting_put(st, "k", (const uint8_t *)"value", 5), 0);
	CHECK_EQ_INT(store_checkpoint(st), 0);
	old_wrap = raw_meta("wrapped", &old_len);
	REQUIRE(old_wrap != NULL && files_contain(old_wrap, old_len));
	CHECK_EQ_INT(store_change_passphrase(st, newpass, sizeof(newpass) - 1, STORE_KDF_TEST_MIN),
	    0);
	/* The data key wrapped under the old passphrase is gone from both files. */
	CHECK(!files_contain(old_wrap, old_len));
	free(old_wrap);
	store_close(st);
	st = NULL;
	CHECK_EQ_INT(store_open(home, (const uint8_t *)PASS, PASS_LEN, &st), SOTTO_ERR_PASSPHRASE);
	REQUIRE(store_open(home, newpass, sizeof(newpass) - 1, &st) == 0);
	CHECK_EQ_INT(store_setting_get(st, "k", &v, &n), 0);
	CHECK(n == 5 && v != NULL && memcmp(v, "value", 5) == 0);
	store_blob_free(v, n);
	store_close(st);
	remove_home();
}

TEST(store_identity_roundtrip)
{
	struct store *st = create_store();
	struct store_identity id, got;

	REQUIRE(st != NULL);
	memset(&id, 0, sizeof(id));
	strcpy(id.address, "alice@example.org");
	strcpy(id.server, "sotto://AAAA@127.0.0.1:7000");
	id.reg_state = STORE_REG_REGISTERED;
	randombytes_buf(id.identity_pk, sizeof(id.identity_pk));
	randombytes_buf(id.identity_sk, sizeof(id.identity_sk));
	randombytes_buf(id.device_pk, sizeof(id.device_pk));
	randombytes_buf(id.device_sk, sizeof(id.device_sk));
	strcpy(id.bridge_pw_hash, "$argon2id$v=19$m=65536,t=2,p=1$xxxx$yyyy");
	CHECK_EQ_INT(store_identity_put(st, &id), 0);
	CHECK_EQ_INT(reopen(&st), 0);
	REQUIRE(st != NULL);
	CHECK_EQ_INT(store_identity_get(st, &got), 0);
	CHECK(memcmp(&got, &id, sizeof(id)) == 0);
	id.reg_state = STORE_REG_NONE;
	CHECK_EQ_INT(store_identity_put(st, &id), 0);
	CHECK_EQ_INT(store_identity_get(st, &got), 0);
	CHECK_EQ_INT(got.reg_state, STORE_REG_NONE);
	id.reg_state = 9;
	CHECK_EQ_INT(store_identity_put(st, &id), SOTTO_ERR_INVALID_ARG);
	/* The secret key is nowhere in the file in clear. */
	store_close(st);
	CHECK(!files_contain(id.identity_sk, sizeof(id.identity_sk)));
	CHECK(!files_contain(id.address, strlen(id.address)));
	store_identity_wipe(&id);
	store_identity_wipe(&got);
	remove_home();
}

TEST(store_prekeys_roundtrip)
{
	struct store *st = create_store();
	struct store_spk a, b, got;
	uint8_t pk[32], sk[32], gpk[32], gsk[32];
	uint32_t first = 0, count = 99, i;

	REQUIRE(st != NULL);
	CHECK_EQ_INT(store_spk_latest(st, &got), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(store_prekey_next_id(st, STORE_PREKEY_SIGNED, 1, &first), 0);
	CHECK_EQ_INT(first, 1);
	memset(&a, 0, sizeof(a));
	a.id = first;
	a.created = 1000;
	randombytes_buf(a.pk, 32);
	randombytes_buf(a.sk, 32);
	randombytes_buf(a.sig, 64);
	b = a;
	CHECK_EQ_INT(store_prekey_next_id(st, STORE_PREKEY_SIGNED, 1, &first), 0);
	CHECK_EQ_INT(first, 2);
	b.id = first;
	b.created = 2000;
	b.sk[0] ^= 1;
	CHECK_EQ_INT(store_spk_put(st, &a), 0);
	CHECK_EQ_INT(store_spk_put(st, &b), 0);
	CHECK_EQ_INT(store_spk_get(st, 1, &got), 0);
	CHECK(memcmp(&got, &a, sizeof(a)) == 0);
	CHECK_EQ_INT(store_spk_latest(st, &got), 0);
	CHECK(memcmp(&got, &b, sizeof(b)) == 0);
	/* Pruning keeps the latest even when it is old too. */
	CHECK_EQ_INT(store_spk_prune(st, 5000), 0);
	CHECK_EQ_INT(store_spk_get(st, 1, &got), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(store_spk_get(st, 2, &got), 0);

	CHECK_EQ_INT(store_prekey_next_id(st, STORE_PREKEY_ONETIME, 10, &first), 0);
	CHECK_EQ_INT(first, 1);
	for (i = first; i < first + 10; i++) {
		memset(pk, (int)i, 32);
		memset(sk, (int)(i + 100), 32);
		CHECK_EQ_INT(store_otpk_put(st, i, pk, sk), 0);
	}
	CHECK_EQ_INT(store_otpk_put(st, 3, pk, sk), SOTTO_ERR_EXISTS);
	CHECK_EQ_INT(store_otpk_count(st, &count), 0);
	CHECK_EQ_INT(count, 10);
	CHECK_EQ_INT(store_otpk_get(st, 4, gpk, gsk), 0);
	memset(pk, 4, 32);
	memset(sk, 104, 32);
	CHECK(memcmp(gpk, pk, 32) == 0 && memcmp(gsk, sk, 32) == 0);
	CHECK_EQ_INT(store_otpk_delete(st, 4), 0);
	CHECK_EQ_INT(store_otpk_delete(st, 4), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(store_otpk_get(st, 4, gpk, gsk), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(store_otpk_delete(st, 10), 0);
	CHECK_EQ_INT(store_otpk_count(st, &count), 0);
	CHECK_EQ_INT(count, 8);
	{
		struct store_otpk_list ol;
		static const uint32_t want[] = { 1, 2, 3, 5, 6, 7, 8, 9 };

		REQUIRE(store_otpk_list(st, &ol) == 0);
		REQUIRE(ol.n == 8);
		for (i = 0; i < 8; i++) {
			CHECK_EQ_INT(ol.v[i].id, want[i]);
			memset(pk, (int)want[i], 32);
			CHECK(memcmp(ol.v[i].pk, pk, 32) == 0);
		}
		store_otpk_list_free(&ol);
	}
	/* Ids are never handed out twice, even after the highest one was deleted. */
	CHECK_EQ_INT(reopen(&st), 0);
	REQUIRE(st != NULL);
	CHECK_EQ_INT(store_prekey_next_id(st, STORE_PREKEY_ONETIME, 5, &first), 0);
	CHECK_EQ_INT(first, 11);
	CHECK_EQ_INT(store_prekey_next_id(st, STORE_PREKEY_ONETIME, 1, &first), 0);
	CHECK_EQ_INT(first, 16);
	CHECK_EQ_INT(store_prekey_next_id(st, STORE_PREKEY_ONETIME, 0, &first),
	    SOTTO_ERR_INVALID_ARG);
	store_spk_wipe(&a);
	store_spk_wipe(&b);
	store_spk_wipe(&got);
	store_close(st);
	remove_home();
}

TEST(store_contacts_roundtrip)
{
	struct store *st = create_store();
	struct store_contact c1, c2, c3, got;
	struct store_contact_list l;
	char longaddr[STORE_ADDR_MAX + 2];

	REQUIRE(st != NULL);
	make_contact(&c1, "carol@example.org", 1);
	make_contact(&c2, "alice@example.org", 2);
	make_contact(&c3, "bob@b.example", 3);
	CHECK_EQ_INT(store_contact_get(st, "carol@example.org", &got), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(store_contact_put(st, &c1), 0);
	CHECK_EQ_INT(store_contact_put(st, &c2), 0);
	CHECK_EQ_INT(store_contact_put(st, &c3), 0);
	CHECK_EQ_INT(reopen(&st), 0);
	REQUIRE(st != NULL);
	CHECK_EQ_INT(store_contact_get(st, "carol@example.org", &got), 0);
	CHECK(memcmp(&got, &c1, sizeof(c1)) == 0);
	c1.trust = STORE_TRUST_BLOCKED;
	c1.send_seq = 12345;
	c1.token_state = STORE_TOKEN_STALE;
	memset(c1.token, 0x77, sizeof(c1.token));
	c1.token_seq = 9;
	c1.token_given = 4;
	CHECK_EQ_INT(store_contact_put(st, &c1), 0);
	CHECK_EQ_INT(store_contact_get(st, "carol@example.org", &got), 0);
	CHECK(memcmp(&got, &c1, sizeof(c1)) == 0);
	REQUIRE(store_contact_list(st, &l) == 0);
	REQUIRE(l.n == 3);
	CHECK(strcmp(l.v[0].address, "alice@example.org") == 0);
	CHECK(strcmp(l.v[1].address, "bob@b.example") == 0);
	CHECK(memcmp(&l.v[2], &c1, sizeof(c1)) == 0);
	store_contact_list_free(&l);
	CHECK_EQ_INT(store_contact_delete(st, "bob@b.example"), 0);
	CHECK_EQ_INT(store_contact_delete(st, "bob@b.example"), SOTTO_ERR_NOT_FOUND);
	REQUIRE(store_contact_list(st, &l) == 0);
	CHECK_EQ_INT(l.n, 2);
	store_contact_list_free(&l);
	memset(longaddr, 'a', sizeof(longaddr) - 1);
	longaddr[sizeof(longaddr) - 1] = '\0';
	CHECK_EQ_INT(store_contact_get(st, longaddr, &got), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(store_contact_get(st, "", &got), SOTTO_ERR_INVALID_ARG);
	c3.trust = 7;
	CHECK_EQ_INT(store_contact_put(st, &c3), SOTTO_ERR_INVALID_ARG);
	c3.trust = 0;
	c3.token_state = 3;
	CHECK_EQ_INT(store_contact_put(st, &c3), SOTTO_ERR_INVALID_ARG);
	{
		/* A record from before delivery tokens (no trailer) reads as holding none. */
		struct buf rb;

		buf_init_dyn(&rb, 1024);
		store_contact_encode(&rb, &c1);
		REQUIRE(rb.len > STORE_CONTACT_TOKEN_TRAILER);
		CHECK_EQ_INT(store_contact_decode(rb.p, rb.len - STORE_CONTACT_TOKEN_TRAILER,
		    &got), 0);
		CHECK(got.token_state == STORE_TOKEN_NONE && got.token_seq == 0 &&
		    got.token_given == 0 && got.send_seq == 12345);
		CHECK(store_contact_decode(rb.p, rb.len - 1, &got) != 0);
		buf_free(&rb);
	}
	store_close(st);
	CHECK(!files_contain("carol@example.org", 17));
	CHECK(!files_contain(c1.identity_pk, sizeof(c1.identity_pk)));
	remove_home();
}

TEST(store_sessions_roundtrip)
{
	struct store *st = create_store();
	uint8_t *big = malloc(200000), *got = NULL;
	size_t n = 0;

	REQUIRE(st != NULL && big != NULL);
	randombytes_buf(big, 200000);
	CHECK_EQ_INT(store_session_get(st, "bob@b.example", &got, &n), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(store_session_put(st, "bob@b.example", big, 200000), 0);
	CHECK_EQ_INT(store_session_put(st, "eve@e.example", (const uint8_t *)"x", 1), 0);
	CHECK_EQ_INT(reopen(&st), 0);
	REQUIRE(st != NULL);
	CHECK_EQ_INT(store_session_get(st, "bob@b.example", &got, &n), 0);
	CHECK(n == 200000 && got != NULL && memcmp(got, big, n) == 0);
	store_blob_free(got, n);
	big[0] ^= 1;
	CHECK_EQ_INT(store_session_put(st, "bob@b.example", big, 1000), 0);
	CHECK_EQ_INT(store_session_get(st, "bob@b.example", &got, &n), 0);
	CHECK(n == 1000 && got != NULL && memcmp(got, big, n) == 0);
	store_blob_free(got, n);
	CHECK_EQ_INT(store_session_put(st, "bob@b.example", big, STORE_SESSION_MAX + 1),
	    SOTTO_ERR_TOO_LARGE);
	/* An overwritten state leaves no copy behind once checkpointed. */
	{
		uint8_t *old_rec;
		size_t old_len = 0;

		CHECK_EQ_INT(store_checkpoint(st), 0);
		old_rec = raw_first_rec("sessions", &old_len);
		REQUIRE(old_rec != NULL && old_len > 1000);
		CHECK(files_contain_pieces(old_rec, old_len) >= old_len / 32 - 2);
		CHECK_EQ_INT(store_session_put(st, "bob@b.example", big, 999), 0);
		CHECK_EQ_INT(store_session_put(st, "eve@e.example", (const uint8_t *)"x", 1), 0);
		CHECK_EQ_INT(store_checkpoint(st), 0);
		CHECK_EQ_INT(files_contain_pieces(old_rec, old_len), 0);
		free(old_rec);
	}
	CHECK_EQ_INT(store_session_delete(st, "bob@b.example"), 0);
	CHECK_EQ_INT(store_session_get(st, "bob@b.example", &got, &n), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(store_session_get(st, "eve@e.example", &got, &n), 0);
	CHECK(n == 1 && got[0] == 'x');
	store_blob_free(got, n);
	free(big);
	store_close(st);
	remove_home();
}

TEST(store_settings_roundtrip)
{
	struct store *st = create_store();
	uint8_t *v = NULL;
	size_t n = 0;

	REQUIRE(st != NULL);
	CHECK_EQ_INT(store_setting_get(st, "sender_cert", &v, &n), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(store_setting_put(st, "sender_cert", (const uint8_t *)"abc", 3), 0);
	CHECK_EQ_INT(store_setting_put(st, "empty", NULL, 0), 0);
	CHECK_EQ_INT(store_setting_get(st, "sender_cert", &v, &n), 0);
	CHECK(n == 3 && memcmp(v, "abc", 3) == 0);
	store_blob_free(v, n);
	CHECK_EQ_INT(store_setting_get(st, "empty", &v, &n), 0);
	CHECK_EQ_INT(n, 0);
	store_blob_free(v, n);
	CHECK_EQ_INT(store_setting_delete(st, "empty"), 0);
	CHECK_EQ_INT(store_setting_get(st, "empty", &v, &n), SOTTO_ERR_NOT_FOUND);
	store_close(st);
	remove_home();
}

TEST(store_messages_roundtrip_and_duplicates)
{
	struct store *st = create_store();
	struct store_message m, got;
	struct store_message_list l;
	uint32_t i;

	REQUIRE(st != NULL);
	for (i = 1; i <= 6; i++) {
		make_message(&m, (i % 2) ? "bob@b.example" : "carol@c.example", i,
		    (i % 2) ? "hello bob" : "hi carol");
		CHECK_EQ_INT(store_seen_has(st, m.id), 0);
		CHECK_EQ_INT(store_message_add(st, &m), 0);
		CHECK_EQ_INT(store_seen_has(st, m.id), 1);
	}
	/* Same id again, even with other content: dropped, nothing written. */
	make_message(&m, "bob@b.example", 3, "a replay");
	CHECK_EQ_INT(store_message_add(st, &m), SOTTO_ERR_EXISTS);
	CHECK_EQ_INT(reopen(&st), 0);
	REQUIRE(st != NULL);
	CHECK_EQ_INT(store_message_add(st, &m), SOTTO_ERR_EXISTS);
	REQUIRE(store_message_list(st, "bob@b.example", 0, 0, &l) == 0);
	REQUIRE(l.n == 3);
	for (i = 0; i < 3; i++) {
		make_message(&m, "bob@b.example", 2 * i + 1, "hello bob");
		CHECK(memcmp(l.v[i].id, m.id, 16) == 0);
		CHECK(strcmp(l.v[i].peer, "bob@b.example") == 0);
		CHECK(l.v[i].body_len == 9 && memcmp(l.v[i].body, "hello bob", 9) == 0);
		CHECK_EQ_INT(l.v[i].seq, m.seq);
		CHECK_EQ_INT(l.v[i].server_time, m.server_time);
		CHECK_EQ_INT(l.v[i].local_time, m.local_time);
		CHECK_EQ_INT(l.v[i].dir, STORE_DIR_IN);
		CHECK_EQ_INT(l.v[i].type, STORE_MSG_TEXT);
		if (i > 0)
			CHECK(l.v[i].row > l.v[i - 1].row);
	}
	/* Paging: after the first row, at most one. */
	{
		struct store_message_list p;
		int64_t after = l.v[0].row;

		REQUIRE(store_message_list(st, "bob@b.example", after, 1, &p) == 0);
		CHECK(p.n == 1 && p.v[0].row == l.v[1].row);
		store_message_list_free(&p);
	}
	/* The newest first page, oldest first; and paging back from a row. */
	{
		struct store_message_list p;

		REQUIRE(store_message_list_before(st, "bob@b.example", 0, 2, &p) == 0);
		CHECK(p.n == 2 && p.v[0].row == l.v[1].row && p.v[1].row == l.v[2].row);
		store_message_list_free(&p);
		REQUIRE(store_message_list_before(st, "bob@b.example", l.v[1].row, 5, &p) == 0);
		CHECK(p.n == 1 && p.v[0].row == l.v[0].row);
		store_message_list_free(&p);
		REQUIRE(store_message_list_before(st, NULL, 0, 0, &p) == 0);
		CHECK(p.n == 6 && p.v[0].row < p.v[5].row);
		store_message_list_free(&p);
	}
	store_message_list_free(&l);
	REQUIRE(store_message_list(st, NULL, 0, 0, &l) == 0);
	CHECK_EQ_INT(l.n, 6);
	store_message_list_free(&l);

	make_message(&m, "carol@c.example", 4, "");
	CHECK_EQ_INT(store_message_update(st, m.id, STORE_FLAG_READ | STORE_FLAG_DELIVERED, 99),
	    0);
	CHECK_EQ_INT(store_message_get(st, m.id, &got), 0);
	CHECK_EQ_INT(got.flags, STORE_FLAG_READ | STORE_FLAG_DELIVERED);
	CHECK_EQ_INT(got.expires_at, 99);
	CHECK(got.body_len == 8 && memcmp(got.body, "hi carol", 8) == 0);
	CHECK_EQ_INT(got.dir, STORE_DIR_OUT);
	store_message_wipe(&got);
	make_message(&m, "carol@c.example", 77, "");
	CHECK_EQ_INT(store_message_get(st, m.id, &got), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(store_message_update(st, m.id, 0, 0), SOTTO_ERR_NOT_FOUND);
	/* A seen id without a message (e.g. a control message) also blocks duplicates. */
	CHECK_EQ_INT(store_seen_add(st, m.id, 5), 0);
	CHECK_EQ_INT(store_seen_add(st, m.id, 5), SOTTO_ERR_EXISTS);
	CHECK_EQ_INT(store_message_add(st, &m), SOTTO_ERR_EXISTS);
	make_message(&m, "carol@c.example", 78, "x");
	m.type = 9;
	CHECK_EQ_INT(store_message_add(st, &m), SOTTO_ERR_INVALID_ARG);
	make_message(&m, "carol@c.example", 78, "x");
	m.body_len = STORE_BODY_MAX + 1;
	CHECK_EQ_INT(store_message_add(st, &m), SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(store_seen_has(st, m.id), 0);
	/* A timer that starts when the message is read: set the deadline later. */
	make_message(&m, "bob@b.example", 5, "");
	CHECK_EQ_INT(store_message_update(st, m.id, STORE_FLAG_READ, 1000), 0);
	{
		size_t deleted = 0;

		/* Message 4's deadline (99) has passed; message 5's (1000) not yet. */
		CHECK_EQ_INT(store_expire(st, 999, &deleted), 0);
		CHECK_EQ_INT(deleted, 1);
		CHECK_EQ_INT(store_message_get(st, m.id, &got), 0);
		CHECK_EQ_INT(got.flags, STORE_FLAG_READ);
		store_message_wipe(&got);
		CHECK_EQ_INT(store_expire(st, 1000, &deleted), 0);
		CHECK_EQ_INT(deleted, 1);
		CHECK_EQ_INT(store_message_get(st, m.id, &got), SOTTO_ERR_NOT_FOUND);
	}
	store_close(st);
	CHECK(!files_contain("hello bob", 9));
	CHECK(!files_contain("bob@b.example", 13));
	remove_home();
}

TEST(store_outbox_roundtrip)
{
	struct store *st = create_store();
	struct store_outbox_list l;
	uint8_t id1[16], id2[16], env[300];

	REQUIRE(st != NULL);
	memset(id1, 1, 16);
	memset(id2, 2, 16);
	randombytes_buf(env, sizeof(env));
	CHECK_EQ_INT(store_outbox_add(st, id2, "bob@b.example", env, sizeof(env), 10), 0);
	CHECK_EQ_INT(store_outbox_add(st, id1, "carol@c.example", env, 100, 20), 0);
	CHECK_EQ_INT(store_outbox_add(st, id1, "carol@c.example", env, 100, 30), SOTTO_ERR_EXISTS);
	CHECK_EQ_INT(store_outbox_attempt(st, id2), 0);
	CHECK_EQ_INT(store_outbox_attempt(st, id2), 0);
	CHECK_EQ_INT(reopen(&st), 0);
	REQUIRE(st != NULL);
	REQUIRE(store_outbox_list(st, &l) == 0);
	REQUIRE(l.n == 2);
	CHECK(memcmp(l.v[0].id, id2, 16) == 0);
	CHECK(strcmp(l.v[0].recipient, "bob@b.example") == 0);
	CHECK(l.v[0].envelope_len == sizeof(env) && memcmp(l.v[0].envelope, env, sizeof(env)) == 0);
	CHECK_EQ_INT(l.v[0].attempts, 2);
	CHECK_EQ_INT(l.v[0].created, 10);
	CHECK(memcmp(l.v[1].id, id1, 16) == 0);
	CHECK_EQ_INT(l.v[1].envelope_len, 100);
	CHECK_EQ_INT(l.v[1].attempts, 0);
	store_outbox_list_free(&l);
	/* One item by id; replacing it keeps its place, its age and its attempts. */
	{
		struct store_outbox_item it;
		uint8_t other[16];

		CHECK_EQ_INT(store_outbox_has(st, id2), 1);
		CHECK_EQ_INT(store_outbox_replace(st, id2, "bob@b.example", env + 1, 50), 0);
		REQUIRE(store_outbox_get(st, id2, &it) == 0);
		CHECK(it.envelope_len == 50 && memcmp(it.envelope, env + 1, 50) == 0);
		CHECK(it.created == 10 && it.attempts == 2);
		store_outbox_item_free(&it);
		REQUIRE(store_outbox_list(st, &l) == 0);
		CHECK(l.n == 2 && memcmp(l.v[0].id, id2, 16) == 0);
		store_outbox_list_free(&l);
		memset(other, 3, sizeof(other));
		CHECK_EQ_INT(store_outbox_has(st, other), 0);
		CHECK_EQ_INT(store_outbox_get(st, other, &it), SOTTO_ERR_NOT_FOUND);
		CHECK_EQ_INT(store_outbox_replace(st, other, "bob@b.example", env, 5),
		    SOTTO_ERR_NOT_FOUND);
	}
	CHECK_EQ_INT(store_outbox_remove(st, id2), 0);
	CHECK_EQ_INT(store_outbox_has(st, id2), 0);
	CHECK_EQ_INT(store_outbox_remove(st, id2), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(store_outbox_attempt(st, id2), SOTTO_ERR_NOT_FOUND);
	REQUIRE(store_outbox_list(st, &l) == 0);
	CHECK_EQ_INT(l.n, 1);
	store_outbox_list_free(&l);
	store_close(st);
	remove_home();
}

TEST(store_mail_roundtrip)
{
	struct store *st = create_store();
	struct store_folder f, g;
	struct store_folder_list fl;
	struct store_mail_list ml;
	struct store_mail meta;
	uint32_t uid = 0, *uids = NULL, i;
	uint8_t *body = NULL;
	size_t n = 0;
	char text[64];

	REQUIRE(st != NULL);
	CHECK_EQ_INT(store_folder_create(st, "INBOX", 1234, &f), 0);
	CHECK_EQ_INT(f.uidvalidity, 1234);
	CHECK_EQ_INT(f.uidnext, 1);
	CHECK(strcmp(f.name, "INBOX") == 0);
	CHECK_EQ_INT(store_folder_create(st, "INBOX", 1, NULL), SOTTO_ERR_EXISTS);
	CHECK_EQ_INT(store_folder_create(st, "Archive", 99, &g), 0);
	for (i = 1; i <= 4; i++) {
		snprintf(text, sizeof(text), "Subject: mail %u\r\n\r\nbody %u\r\n", i, i);
		CHECK_EQ_INT(store_mail_append(st, f.id, STORE_MAIL_RECENT, 1700000000u + i,
		    (const uint8_t *)text, strlen(text), &uid), 0);
		CHECK_EQ_INT(uid, i);
	}
	CHECK_EQ_INT(store_mail_append(st, 999, 0, 0, (const uint8_t *)"x", 1, &uid),
	    SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(reopen(&st), 0);
	REQUIRE(st != NULL);
	REQUIRE(store_folder_list(st, &fl) == 0);
	REQUIRE(fl.n == 2);
	CHECK(strcmp(fl.v[0].name, "Archive") == 0);
	CHECK(strcmp(fl.v[1].name, "INBOX") == 0);
	CHECK_EQ_INT(fl.v[1].uidnext, 5);
	CHECK_EQ_INT(fl.v[1].count, 4);
	store_folder_list_free(&fl);
	CHECK_EQ_INT(store_mail_get(st, f.id, 3, &meta, &body, &n), 0);
	snprintf(text, sizeof(text), "Subject: mail %u\r\n\r\nbody %u\r\n", 3u, 3u);
	CHECK(n == strlen(text) && memcmp(body, text, n) == 0);
	CHECK_EQ_INT(meta.uid, 3);
	CHECK_EQ_INT(meta.size, n);
	CHECK_EQ_INT(meta.internaldate, 1700000003u);
	store_blob_free(body, n);
	CHECK_EQ_INT(store_mail_set_flags(st, f.id, 2, STORE_MAIL_SEEN | STORE_MAIL_DELETED), 0);
	CHECK_EQ_INT(store_mail_set_flags(st, f.id, 4, STORE_MAIL_DELETED), 0);
	CHECK_EQ_INT(store_mail_set_flags(st, f.id, 44, STORE_MAIL_DELETED), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(store_mail_set_flags(st, f.id, 1, 0x1000), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(store_mail_expunge(st, f.id, &uids, &n), 0);
	CHECK(n == 2 && uids != NULL && uids[0] == 2 && uids[1] == 4);
	free(uids);
	REQUIRE(store_mail_list(st, f.id, &ml) == 0);
	REQUIRE(ml.n == 2);
	CHECK_EQ_INT(ml.v[0].uid, 1);
	CHECK_EQ_INT(ml.v[1].uid, 3);
	CHECK_EQ_INT(ml.v[1].flags, STORE_MAIL_RECENT);
	store_mail_list_free(&ml);
	/* Uids are not reused after an expunge. */
	CHECK_EQ_INT(store_mail_append(st, f.id, 0, 1, (const uint8_t *)"x", 1, &uid), 0);
	CHECK_EQ_INT(uid, 5);
	CHECK_EQ_INT(store_mail_get(st, f.id, 4, &meta, &body, &n), SOTTO_ERR_NOT_FOUND);
	/* Deleting a folder deletes its mail. */
	CHECK_EQ_INT(store_folder_delete(st, f.id), 0);
	CHECK_EQ_INT(store_folder_get(st, "INBOX", &f), SOTTO_ERR_NOT_FOUND);
	REQUIRE(store_mail_list(st, 1, &ml) == 0);
	CHECK_EQ_INT(ml.n, 0);
	store_mail_list_free(&ml);
	store_close(st);
	CHECK(!files_contain("body 3", 6));
	CHECK(!files_contain("INBOX", 5));
	remove_home();
}

/* A mail row holds more than a history body: the bridge takes mails up to 25 MiB. */
TEST(store_mail_holds_25_mib)
{
	struct store *st = create_store();
	struct store_folder f;
	struct store_mail_list ml;
	struct store_mail meta;
	size_t big = (25u << 20) - 1000, n = 0, i;
	uint8_t *mail = malloc(STORE_MAIL_MAX + 1), *body = NULL;
	uint32_t uid = 0;

	REQUIRE(st != NULL && mail != NULL);
	for (i = 0; i <= STORE_MAIL_MAX; i++)
		mail[i] = (uint8_t)(i * 131 + (i >> 12));
	CHECK(big < STORE_MAIL_MAX);
	CHECK_EQ_INT(store_folder_create(st, "INBOX", 7, &f), 0);
	CHECK_EQ_INT(store_mail_append(st, f.id, 0, 1, mail, big, &uid), 0);
	CHECK_EQ_INT(uid, 1);
	CHECK_EQ_INT(store_mail_append(st, f.id, 0, 1, mail, STORE_MAIL_MAX + 1, &uid),
	    SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(uid, 0);
	REQUIRE(store_mail_list(st, f.id, &ml) == 0);
	CHECK(ml.n == 1 && ml.v[0].size == big);
	store_mail_list_free(&ml);
	CHECK_EQ_INT(store_mail_get(st, f.id, 1, &meta, &body, &n), 0);
	CHECK(n == big && body != NULL && memcmp(body, mail, big) == 0);
	CHECK_EQ_INT(meta.size, big);
	store_blob_free(body, n);
	free(mail);
	store_close(st);
	remove_home();
}

TEST(store_transactions_group_writes)
{
	struct store *st = create_store();
	struct store_contact c, got;
	struct store_message m, gm;
	uint8_t *v = NULL;
	size_t n = 0;

	REQUIRE(st != NULL);
	make_contact(&c, "bob@b.example", 1);
	CHECK_EQ_INT(store_begin(st), 0);
	CHECK_EQ_INT(store_begin(st), SOTTO_ERR_STATE);
	CHECK_EQ_INT(store_contact_put(st, &c), 0);
	CHECK_EQ_INT(store_session_put(st, "bob@b.example", (const uint8_t *)"s", 1), 0);
	store_rollback(st);
	CHECK_EQ_INT(store_contact_get(st, "bob@b.example", &got), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(store_session_get(st, "bob@b.example", &v, &n), SOTTO_ERR_NOT_FOUND);
	/* A failed write inside a transaction undoes only itself. */
	make_message(&m, "bob@b.example", 1, "one");
	CHECK_EQ_INT(store_begin(st), 0);
	CHECK_EQ_INT(store_message_add(st, &m), 0);
	CHECK_EQ_INT(store_message_add(st, &m), SOTTO_ERR_EXISTS);
	CHECK_EQ_INT(store_contact_put(st, &c), 0);
	CHECK_EQ_INT(store_commit(st), 0);
	CHECK_EQ_INT(store_commit(st), SOTTO_ERR_STATE);
	CHECK_EQ_INT(reopen(&st), 0);
	REQUIRE(st != NULL);
	CHECK_EQ_INT(store_contact_get(st, "bob@b.example", &got), 0);
	CHECK_EQ_INT(store_message_get(st, m.id, &gm), 0);
	store_message_wipe(&gm);
	store_close(st);
	remove_home();
}

TEST(store_tampered_rows_are_corrupt)
{
	struct store *st = create_store();
	struct store_contact a, b, got;
	struct store_message m, gm;
	struct store_message_list l;
	struct store_outbox_list ol;
	struct store_identity id;
	uint8_t *v = NULL, *saved, env[40] = { 0 };
	size_t n = 0, saved_len = 0;

	REQUIRE(st != NULL);
	make_contact(&a, "alice@a.example", 1);
	make_contact(&b, "bob@b.example", 2);
	memset(&id, 0, sizeof(id));
	strcpy(id.address, "me@m.example");
	CHECK_EQ_INT(store_identity_put(st, &id), 0);
	CHECK_EQ_INT(store_contact_put(st, &a), 0);
	CHECK_EQ_INT(store_contact_put(st, &b), 0);
	CHECK_EQ_INT(store_session_put(st, "alice@a.example", (const uint8_t *)"state", 5), 0);
	make_message(&m, "bob@b.example", 1, "tamper me");
	CHECK_EQ_INT(store_message_add(st, &m), 0);
	CHECK_EQ_INT(store_outbox_add(st, m.id, "bob@b.example", env, sizeof(env), 1), 0);
	store_close(st);

	/* A flipped byte in a sealed column. */
	REQUIRE(raw_flip("messages") == 0);
	REQUIRE(raw_flip("identity") == 0);
	REQUIRE(raw_flip("outbox") == 0);
	/* Alice's sealed record copied into Bob's row: bound to its row, so refused. */
	REQUIRE(raw_exec("UPDATE contacts SET rec = (SELECT rec FROM contacts"
	    " ORDER BY h LIMIT 1) WHERE h = (SELECT h FROM contacts ORDER BY h DESC LIMIT 1)") == 0);
	/* A session record moved into the contacts table of the same address: refused. */
	REQUIRE(raw_exec("INSERT OR REPLACE INTO sessions(h, rec) SELECT h, rec FROM contacts"
	    " ORDER BY h DESC LIMIT 1") == 0);
	REQUIRE(store_open(home, (const uint8_t *)PASS, PASS_LEN, &st) == 0);
	CHECK_EQ_INT(store_message_get(st, m.id, &gm), SOTTO_ERR_CORRUPT);
	CHECK_EQ_INT(store_message_list(st, NULL, 0, 0, &l), SOTTO_ERR_CORRUPT);
	CHECK(l.v == NULL && l.n == 0);
	CHECK_EQ_INT(store_identity_get(st, &id), SOTTO_ERR_CORRUPT);
	CHECK_EQ_INT(store_outbox_list(st, &ol), SOTTO_ERR_CORRUPT);
	{
		int ra = store_contact_get(st, "alice@a.example", &got);
		int rb = store_contact_get(st, "bob@b.example", &got);

		/* Exactly one row was overwritten with the other's record. */
		CHECK((ra == 0 && rb == SOTTO_ERR_CORRUPT) || (rb == 0 && ra == SOTTO_ERR_CORRUPT));
		if (ra == SOTTO_ERR_CORRUPT)
			CHECK_EQ_INT(store_session_get(st, "alice@a.example", &v, &n), SOTTO_ERR_CORRUPT);
		else
			CHECK_EQ_INT(store_session_get(st, "bob@b.example", &v, &n), SOTTO_ERR_CORRUPT);
	}
	store_close(st);
	st = NULL;

	/* A tampered key-check value: the file is corrupt, not the passphrase wrong. */
	saved = raw_meta("check", &saved_len);
	REQUIRE(saved != NULL);
	REQUIRE(raw_exec("UPDATE meta SET v = substr(v, 1, 30) || CAST(x'00' AS BLOB) ||"
	    " substr(v, 32) WHERE k = 'check'") == 0);
	CHECK_EQ_INT(store_open(home, (const uint8_t *)PASS, PASS_LEN, &st), SOTTO_ERR_CORRUPT);
	REQUIRE(raw_put_meta("check", saved, saved_len) == 0);
	free(saved);
	CHECK_EQ_INT(store_open(home, (const uint8_t *)PASS, PASS_LEN, &st), 0);
	store_close(st);
	st = NULL;
	/* A KDF asking for absurd memory is refused before any allocation (without the cap,
	 * crypto_pwhash would fail with out-of-memory instead). */
	REQUIRE(raw_exec("UPDATE meta SET v = substr(v, 1, 9) || x'0000010000000000' ||"
	    " substr(v, 18) WHERE k = 'kdf'") == 0);
	CHECK_EQ_INT(store_open(home, (const uint8_t *)PASS, PASS_LEN, &st), SOTTO_ERR_CORRUPT);
	REQUIRE(raw_exec("PRAGMA user_version = 6") == 0);
	CHECK_EQ_INT(store_open(home, (const uint8_t *)PASS, PASS_LEN, &st), SOTTO_ERR_BAD_VERSION);
	CHECK(st == NULL);
	remove_home();
}

static int64_t
raw_user_version(void)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	if (sqlite3_open(dbpath, &db) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/* Our sends keep the server's receive time (sent_ms), which a decryption-failure receipt
 * names; a schema 1 file, whose records have no sent_ms and which has no MLS tables,
 * opens as schema 3 with them. */
TEST(store_message_sent_ms_and_schema_1)
{
	struct store *st = create_store();
	struct store_message m, got;
	uint8_t id[STORE_MSGID_LEN];
	const uint8_t *body;
	struct buf b;
	uint32_t i;

	REQUIRE(st != NULL);
	for (i = 1; i <= 200; i++) {            /* more than one batch of the search */
		make_message(&m, "bob@b.example", i, "hello bob");
		REQUIRE(store_message_add(st, &m) == 0);
	}
	make_message(&m, "bob@b.example", 2, "hello bob");
	CHECK_EQ_INT(store_message_set_sent(st, m.id, 1700000000123u), 0);
	make_message(&m, "bob@b.example", 4, "hello bob");
	CHECK_EQ_INT(store_message_set_sent(st, m.id, 1700000000456u), 0);
	CHECK_EQ_INT(reopen(&st), 0);
	REQUIRE(st != NULL);
	CHECK_EQ_INT(store_message_find_sent(st, "bob@b.example", 1700000000123u, id), 0);
	make_message(&m, "bob@b.example", 2, "hello bob");
	CHECK(memcmp(id, m.id, STORE_MSGID_LEN) == 0);
	CHECK_EQ_INT(store_message_get(st, m.id, &got), 0);
	CHECK(got.sent_ms == 1700000000123u && got.body_len == 9);
	store_message_wipe(&got);
	/* a flag update keeps it */
	REQUIRE(store_message_update(st, m.id, STORE_FLAG_UNREADABLE, 0) == 0);
	CHECK_EQ_INT(store_message_find_sent(st, "bob@b.example", 1700000000123u, id), 0);
	CHECK_EQ_INT(store_message_find_sent(st, "bob@b.example", 1700000000124u, id),
	    SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(store_message_find_sent(st, "carol@c.example", 1700000000456u, id),
	    SOTTO_ERR_NOT_FOUND);
	/* A record as schema 1 wrote it: no sent_ms after the body. */
	make_message(&m, "bob@b.example", 7, "old record");
	buf_init_dyn(&b, 4096);
	store_message_encode(&b, &m);
	REQUIRE(b.len > 8);
	CHECK_EQ_INT(store_message_decode(b.p, b.len - 8, &got, &body), 0);
	CHECK(got.sent_ms == 0 && got.body_len == 10 && memcmp(body, "old record", 10) == 0);
	CHECK_EQ_INT(store_message_decode(b.p, b.len - 4, &got, &body), SOTTO_ERR_CORRUPT);
	buf_free(&b);
	store_close(st);
	st = NULL;
	/* A schema 1 file (no MLS tables, no kem_prekey table, no mail references) opens as
	 * schema 5, with them. */
	REQUIRE(raw_exec(STORE_TEST_TO_SCHEMA_4) == 0);
	REQUIRE(raw_exec("DROP TABLE groups; DROP TABLE key_packages; DROP TABLE kem_prekey;"
	    " PRAGMA user_version = 1") == 0);
	CHECK_EQ_INT(store_open(home, (const uint8_t *)PASS, PASS_LEN, &st), 0);
	CHECK_EQ_INT(raw_user_version(), 5);
	{
		uint32_t one_time = 1, last_resort = 1;
		struct store_group_list gl;
		struct store_kem_prekey k = { .id = 3, .last_resort = 1, .created = 9 };

		CHECK_EQ_INT(store_key_package_count(st, &one_time, &last_resort), 0);
		CHECK(one_time == 0 && last_resort == 0);
		CHECK_EQ_INT(store_group_list(st, &gl), 0);
		CHECK(gl.n == 0);
		store_group_list_free(&gl);
		randombytes_buf(k.dk, sizeof(k.dk));
		CHECK_EQ_INT(store_kem_prekey_put(st, &k), 0);
		CHECK_EQ_INT(store_kem_prekey_get(st, 3, &k), 0);
		CHECK_EQ_INT(k.last_resort, 1);
		store_kem_prekey_wipe(&k);
	}
	store_close(st);
	remove_home();
}

/* A list whose last row is tampered with fails as a whole: nothing returned, and the rows
 * already decoded (with their bodies) are freed, which the leak checker verifies. */
TEST(store_lists_fail_whole_on_a_later_bad_row)
{
	struct store *st = create_store();
	struct store_message m;
	struct store_message_list l;
	struct store_outbox_list ol;
	uint8_t env[40] = { 0 };

	REQUIRE(st != NULL);
	for (uint32_t i = 1; i <= 3; i++) {
		make_message(&m, "bob@b.example", i, "a body to free");
		CHECK_EQ_INT(store_message_add(st, &m), 0);
		env[0] = (uint8_t)i;
		CHECK_EQ_INT(store_outbox_add(st, m.id, "bob@b.example", env, sizeof(env), i), 0);
	}
	REQUIRE(store_message_list(st, NULL, 0, 0, &l) == 0);
	CHECK_EQ_INT(l.n, 3);
	store_message_list_free(&l);
	REQUIRE(store_outbox_list(st, &ol) == 0);
	CHECK_EQ_INT(ol.n, 3);
	store_outbox_list_free(&ol);
	store_close(st);
	REQUIRE(raw_exec("UPDATE messages SET rec = substr(rec, 1, 30) || CAST(x'ff' AS BLOB) ||"
	    " substr(rec, 32) WHERE rowid = (SELECT max(rowid) FROM messages)") == 0);
	REQUIRE(raw_exec("UPDATE outbox SET rec = substr(rec, 1, 30) || CAST(x'ff' AS BLOB) ||"
	    " substr(rec, 32) WHERE rowid = (SELECT max(rowid) FROM outbox)") == 0);
	REQUIRE(store_open(home, (const uint8_t *)PASS, PASS_LEN, &st) == 0);
	CHECK_EQ_INT(store_message_list(st, NULL, 0, 0, &l), SOTTO_ERR_CORRUPT);
	CHECK(l.v == NULL && l.n == 0);
	/* The first two rows alone are still readable. */
	REQUIRE(store_message_list(st, NULL, 0, 2, &l) == 0);
	CHECK_EQ_INT(l.n, 2);
	store_message_list_free(&l);
	CHECK_EQ_INT(store_outbox_list(st, &ol), SOTTO_ERR_CORRUPT);
	CHECK(ol.v == NULL && ol.n == 0);
	store_close(st);
	remove_home();
}

TEST(store_garbage_file_is_corrupt)
{
	struct store *st = create_store();
	FILE *f;
	char junk[8192];

	REQUIRE(st != NULL);
	store_close(st);
	st = NULL;
	remove_home();
	fresh_home();
	REQUIRE(mkdir(home, 0700) == 0);
	REQUIRE((f = fopen(dbpath, "wb")) != NULL);
	memset(junk, 'Z', sizeof(junk));
	fwrite(junk, 1, sizeof(junk), f);
	fclose(f);
	REQUIRE(chmod(dbpath, 0600) == 0);
	CHECK_EQ_INT(store_open(home, (const uint8_t *)PASS, PASS_LEN, &st), SOTTO_ERR_CORRUPT);
	CHECK(st == NULL);
	/* An ordinary SQLite file that is not a Sotto store. */
	(void)unlink(dbpath);
	REQUIRE(raw_exec("CREATE TABLE t(x)") == 0);
	REQUIRE(chmod(dbpath, 0600) == 0);
	CHECK_EQ_INT(store_open(home, (const uint8_t *)PASS, PASS_LEN, &st), SOTTO_ERR_CORRUPT);
	remove_home();
}

TEST(store_two_handles_share_one_file)
{
	struct store *a = create_store(), *b = NULL;
	struct store_message m, got;
	struct store_contact c, gc;

	REQUIRE(a != NULL);
	REQUIRE(store_open(home, (const uint8_t *)PASS, PASS_LEN, &b) == 0);
	make_message(&m, "bob@b.example", 1, "via a");
	CHECK_EQ_INT(store_message_add(a, &m), 0);
	CHECK_EQ_INT(store_message_get(b, m.id, &got), 0);
	CHECK(got.body_len == 5 && memcmp(got.body, "via a", 5) == 0);
	store_message_wipe(&got);
	/* The duplicate check holds across handles (the daemon and a one-off command). */
	CHECK_EQ_INT(store_message_add(b, &m), SOTTO_ERR_EXISTS);
	make_contact(&c, "bob@b.example", 2);
	CHECK_EQ_INT(store_contact_put(b, &c), 0);
	CHECK_EQ_INT(store_contact_get(a, "bob@b.example", &gc), 0);
	CHECK(memcmp(&gc, &c, sizeof(c)) == 0);
	store_close(b);
	store_close(a);
	remove_home();
}

/* Lets the database grow by `extra` pages only, as if the disk were full. */
static int
limit_growth(struct store *st, int extra)
{
	sqlite3_stmt *s = NULL;
	long long pages = -1;
	char sql[96];

	if (sqlite3_prepare_v2(st->db, "PRAGMA page_count", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		pages = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (pages < 0)
		return -1;
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld", pages + extra);
	return sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

TEST(store_full_disk_loses_nothing)
{
	struct store *st = create_store();
	struct store_message m, got;
	struct store_message_list l;
	char body[2000];
	uint32_t i, stored = 0;
	int r = 0;

	REQUIRE(st != NULL);
	REQUIRE(limit_growth(st, 6) == 0);
	memset(body, 'q', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	for (i = 1; i <= 200; i++) {
		make_message(&m, "bob@b.example", i, body);
		if ((r = store_message_add(st, &m)) != 0)
			break;
		stored = i;
	}
	CHECK_EQ_INT(r, SOTTO_ERR_STORAGE);
	CHECK(stored > 0 && stored < 200);
	/* The failed write left nothing half done: its id is not marked seen. */
	make_message(&m, "bob@b.example", stored + 1, "");
	CHECK_EQ_INT(store_seen_has(st, m.id), 0);
	CHECK_EQ_INT(store_message_get(st, m.id, &got), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(reopen(&st), 0);
	REQUIRE(st != NULL);
	REQUIRE(store_message_list(st, NULL, 0, 0, &l) == 0);
	CHECK_EQ_INT(l.n, stored);
	store_message_list_free(&l);
	/* With room again, the same message goes in. */
	make_message(&m, "bob@b.example", stored + 1, body);
	CHECK_EQ_INT(store_message_add(st, &m), 0);

	/* Inside the caller's transaction: all that was reported written, or nothing. */
	{
		uint32_t before = stored + 1, ok = 0;
		int rc;

		REQUIRE(limit_growth(st, 6) == 0);
		REQUIRE(store_begin(st) == 0);
		for (i = 1000; i < 1200; i++) {
			make_message(&m, "carol@c.example", i, body);
			if ((r = store_message_add(st, &m)) != 0)
				break;
			ok++;
		}
		CHECK_EQ_INT(r, SOTTO_ERR_STORAGE);
		CHECK(ok > 0);
		rc = store_commit(st);
		CHECK_EQ_INT(reopen(&st), 0);
		REQUIRE(st != NULL);
		REQUIRE(store_message_list(st, NULL, 0, 0, &l) == 0);
		CHECK_EQ_INT(l.n, before + (rc == 0 ? ok : 0));
		store_message_list_free(&l);
	}
	store_close(st);
	remove_home();
}

/* The sealed rec column of the message with this id, as bytes in the file. */
static uint8_t *
raw_message_rec(struct store *st, uint32_t n, size_t *len)
{
	struct store_message m;
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	uint8_t *out = NULL;

	(void)st;
	*len = 0;
	make_message(&m, "x@y", n, "");
	/* Rows are keyed by a hash we cannot compute here; find by the order of insertion. */
	if (sqlite3_open(dbpath, &db) != SQLITE_OK)
		goto out;
	if (sqlite3_prepare_v2(db, "SELECT rec FROM messages WHERE row = ?", -1, &s, NULL) != 0)
		goto out;
	sqlite3_bind_int64(s, 1, n);
	if (sqlite3_step(s) == SQLITE_ROW) {
		*len = (size_t)sqlite3_column_bytes(s, 0);
		out = malloc(*len);
		memcpy(out, sqlite3_column_blob(s, 0), *len);
	}
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
	return out;
}

TEST(store_expiry_leaves_no_trace)
{
	struct store *st = create_store();
	enum { N = 120 };
	uint8_t *recs[N + 1] = { 0 };
	size_t lens[N + 1] = { 0 };
	struct store_message m, got;
	struct store_message_list l;
	char body[600];
	size_t deleted = 0;
	uint32_t i;

	REQUIRE(st != NULL);
	/* Odd messages expire at 5000, even ones never; bodies big enough to split pages. */
	for (i = 1; i <= N; i++) {
		memset(body, 'a' + (int)(i % 26), sizeof(body) - 1);
		body[sizeof(body) - 1] = '\0';
		snprintf(body, 40, "%s-%04u-", (i & 1) ? "EXPIREMARKER" : "KEEPMARKER", i);
		body[strlen(body)] = 'z';
		make_message(&m, "bob@b.example", i, body);
		m.expires_at = (i & 1) ? 5000 : 0;
		REQUIRE(store_message_add(st, &m) == 0);
	}
	CHECK_EQ_INT(store_checkpoint(st), 0);
	for (i = 1; i <= N; i++)
		recs[i] = raw_message_rec(st, i, &lens[i]);
	/* The scan finds sealed rows that are there... */
	CHECK(recs[1] != NULL && files_contain(recs[1], lens[1]));
	CHECK(recs[2] != NULL && files_contain(recs[2], lens[2]));
	CHECK_EQ_INT(store_expire(st, 4999, &deleted), 0);
	CHECK_EQ_INT(deleted, 0);
	CHECK_EQ_INT(store_expire(st, 5000, &deleted), 0);
	CHECK_EQ_INT(deleted, N / 2);
	make_message(&m, "bob@b.example", 1, "");
	CHECK_EQ_INT(store_message_get(st, m.id, &got), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(store_seen_has(st, m.id), 1);
	REQUIRE(store_message_list(st, "bob@b.example", 0, 0, &l) == 0);
	CHECK_EQ_INT(l.n, N / 2);
	store_message_list_free(&l);
	/* ...and none of the expired ones, in the database file or the WAL, while open. */
	for (i = 1; i <= N; i++) {
		if (recs[i] == NULL)
			continue;
		if (i & 1)
			CHECK_EQ_INT(files_contain_pieces(recs[i], lens[i]), 0);
		else
			CHECK(files_contain(recs[i], lens[i]));
	}
	CHECK(!files_contain("EXPIREMARKER", 12));
	CHECK(!files_contain("KEEPMARKER", 10));
	store_close(st);
	for (i = 1; i <= N; i++)
		if (recs[i] != NULL && (i & 1))
			CHECK_EQ_INT(files_contain_pieces(recs[i], lens[i]), 0);
	for (i = 1; i <= N; i++)
		free(recs[i]);
	remove_home();
}

/*
 * A child writes messages in a loop and reports each id on a pipe only after
 * store_message_add returned (committed). The parent SIGKILLs it at a random moment,
 * reopens the store and checks that every reported message is there.
 */
static void
crash_child(int fd, uint32_t base)
{
	struct store *st = NULL;
	struct store_message m;
	uint32_t i;
	char body[64];

	if (store_open(home, (const uint8_t *)PASS, PASS_LEN, &st) != 0)
		_exit(3);
	for (i = base; ; i++) {
		snprintf(body, sizeof(body), "crash test message %u", i);
		make_message(&m, "bob@b.example", i, body);
		if (store_message_add(st, &m) != 0)
			_exit(4);
		if (write(fd, &i, sizeof(i)) != sizeof(i))
			_exit(5);
	}
}

TEST(store_survives_sigkill)
{
	struct store *st = create_store();
	uint32_t base = 1, round, reported[4096];
	struct store_message got;
	size_t nrep = 0;

	REQUIRE(st != NULL);
	store_close(st);
	st = NULL;
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	for (round = 0; round < 6; round++) {
		struct timespec ts = { 0, (long)(rand() % 40) * 1000000L + rand() % 1000000L };
		int fds[2], status = 0;
		size_t i, before = nrep;
		pid_t pid;
		ssize_t got_bytes;
		uint32_t v;

		REQUIRE(pipe(fds) == 0);
		pid = fork();
		REQUIRE(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			crash_child(fds[1], base);
		}
		close(fds[1]);
		/* Kill at a random moment after the child's first commit. */
		if (read(fds[0], &v, sizeof(v)) == sizeof(v) &&
		    nrep < sizeof(reported) / sizeof(reported[0]))
			reported[nrep++] = v;
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		REQUIRE(waitpid(pid, &status, 0) == pid);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		while ((got_bytes = read(fds[0], &v, sizeof(v))) == sizeof(v))
			if (nrep < sizeof(reported) / sizeof(reported[0]))
				reported[nrep++] = v;
		close(fds[0]);
		REQUIRE(store_open(home, (const uint8_t *)PASS, PASS_LEN, &st) == 0);
		for (i = 0; i < nrep; i++) {
			struct store_message m;

			make_message(&m, "bob@b.example", reported[i], "");
			if (store_message_get(st, m.id, &got) != 0) {
				CHECK(!"a committed message was lost");
				break;
			}
			store_message_wipe(&got);
		}
		/* The next child starts after whatever the killed one may have committed. */
		{
			struct store_message_list l;

			REQUIRE(store_message_list(st, NULL, 0, 0, &l) == 0);
			CHECK(l.n >= nrep);
			base = (uint32_t)(l.n + 1);
			/* Seen id and message went in together or not at all. */
			for (v = 1; v < base + 3; v++) {
				struct store_message m;
				int have;

				make_message(&m, "bob@b.example", v, "");
				have = store_message_get(st, m.id, &got) == 0;
				if (have)
					store_message_wipe(&got);
				CHECK_EQ_INT(store_seen_has(st, m.id), have);
				CHECK_EQ_INT(have, v < base);
			}
			store_message_list_free(&l);
			CHECK(nrep == before || reported[nrep - 1] < base);
		}
		store_close(st);
		st = NULL;
	}
	CHECK(nrep > 0);
	printf("# %zu committed writes checked across 6 kills\n", nrep);
	remove_home();
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(store_create_open_close);
	RUN(store_default_dir_is_home_dot_sotto);
	RUN(store_create_fixes_loose_dir);
	RUN(store_open_refuses_loose_permissions);
	RUN(store_wrong_passphrase);
	RUN(store_passphrase_change);
	RUN(store_identity_roundtrip);
	RUN(store_prekeys_roundtrip);
	RUN(store_contacts_roundtrip);
	RUN(store_sessions_roundtrip);
	RUN(store_settings_roundtrip);
	RUN(store_messages_roundtrip_and_duplicates);
	RUN(store_message_sent_ms_and_schema_1);
	RUN(store_outbox_roundtrip);
	RUN(store_mail_roundtrip);
	RUN(store_mail_holds_25_mib);
	RUN(store_transactions_group_writes);
	RUN(store_tampered_rows_are_corrupt);
	RUN(store_lists_fail_whole_on_a_later_bad_row);
	RUN(store_garbage_file_is_corrupt);
	RUN(store_two_handles_share_one_file);
	RUN(store_full_disk_loses_nothing);
	RUN(store_expiry_leaves_no_trace);
	RUN(store_survives_sigkill);
	return check_summary();
}
