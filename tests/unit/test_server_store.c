#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>
#include <sodium.h>

#include "check.h"
#include "tmp_db.h"
#include "server/commit.h"
#include "server/log.h"
#include "server/store.h"

/*
 * The contract tests run against both backends: SQLite (a file in a temporary directory)
 * and PostgreSQL (a schema of its own in the database SOTTO_TEST_PG names, which
 * scripts/run-tests starts with scripts/pg-throwaway). `spec` is what store_open takes.
 */
static char dir[TMP_DB_DIR_MAX];
static char path[TMP_DB_PATH_MAX];
static int pg;                  /* the backend of the current run: 1 PostgreSQL */
static char spec[1024];
static char schema[32];
static PGconn *pg_admin;        /* makes and drops the schemas */
static unsigned pg_schemas;

/* Runs sql (no data in it: names made here) on the admin connection. */
static int
pg_admin_exec(const char *sql)
{
	PGresult *r = PQexec(pg_admin, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		fprintf(stderr, "pg: %s: %s", sql, PQerrorMessage(pg_admin));
	PQclear(r);
	return ok ? 0 : -1;
}

static void
fresh_path(void)
{
	const char *base = getenv("SOTTO_TEST_PG");
	char sql[128];

	if (!pg) {
		tmp_db_make(dir, path, "sotto-store");
		snprintf(spec, sizeof(spec), "%s", path);
		return;
	}
	snprintf(schema, sizeof(schema), "t%d_%u", (int)getpid(), ++pg_schemas);
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", schema);
	if (pg_admin_exec(sql) != 0)
		abort();
	snprintf(spec, sizeof(spec), "%s%coptions=-csearch_path%%3D%s", base,
	    strchr(base, '?') != NULL ? '&' : '?', schema);
}

static void
cleanup(void)
{
	char sql[128];

	if (!pg) {
		tmp_db_remove(dir, path);
		return;
	}
	snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", schema);
	(void)pg_admin_exec(sql);
}

/* The rows of a table (a constant name), read beside the store; -1 on error. */
static int64_t
table_rows(const char *table)
{
	char sql[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	PGresult *r;
	int64_t n = -1;

	if (pg) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.%s", schema, table);
		r = PQexec(pg_admin, sql);
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
			n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
		return n;
	}
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	if (sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return n;
}

static struct server_store *
open_db(int create)
{
	struct store_open_opts o = { .create = create, .durability_full = 1 };
	struct server_store *s = NULL;

	if (store_open_spec(&s, spec, &o) != 0)
		return NULL;
	return s;
}

static void
key(uint8_t k[32], uint8_t v)
{
	memset(k, v, 32);
}

/* A fresh database with the accounts alice (device dk) and bob (device dk2). */
static struct server_store *
open_alice_bob(uint8_t dk[32], uint8_t dk2[32], int64_t *alice, int64_t *bob)
{
	struct server_store *s;
	uint8_t ik[32];

	fresh_path();
	if ((s = open_db(1)) == NULL)
		return NULL;
	key(ik, 1), key(dk, 2), key(dk2, 3);
	if (s->ops->account_create(s, "alice", ik, dk, NULL, alice) != 0 ||
	    s->ops->account_create(s, "bob", ik, dk2, NULL, bob) != 0) {
		server_store_close(s);
		return NULL;
	}
	return s;
}

/* n SENDs of "hello" to recipient, client message ids cmid0, cmid0 + 1... */
static void
hello_sends(struct store_send *sd, int n, int64_t recipient, uint8_t cmid0,
    uint32_t mailbox_max)
{
	memset(sd, 0, (size_t)n * sizeof(*sd));
	for (int i = 0; i < n; i++) {
		sd[i].recipient = recipient;
		memset(sd[i].cmid, cmid0 + i, 16);
		sd[i].data = (const uint8_t *)"hello";
		sd[i].len = 5;
		sd[i].mailbox_max = mailbox_max;
	}
}

TEST(store_accounts_and_invites)
{
	struct server_store *s;
	struct store_account a;
	uint8_t ik[32], dk[32], dk2[32], tok[32], tok2[32];
	int64_t id = 0, id2 = 0;

	fresh_path();
	s = open_db(1);
	REQUIRE(s != NULL);
	key(ik, 1), key(dk, 2), key(dk2, 3), key(tok, 9), key(tok2, 10);
	CHECK_EQ_INT(s->ops->account_create(s, "alice", ik, dk, NULL, &id), 0);
	CHECK(id > 0);
	CHECK_EQ_INT(s->ops->account_create(s, "alice", ik, dk2, NULL, &id2), SOTTO_ERR_EXISTS);
	CHECK_EQ_INT(s->ops->account_create(s, "bob", ik, dk, NULL, &id2), SOTTO_ERR_EXISTS);
	CHECK_EQ_INT(s->ops->account_by_device(s, dk, &a), 0);
	CHECK(strcmp(a.name, "alice") == 0);
	CHECK_EQ_INT(a.id, id);
	CHECK_MEM(a.identity_key, ik, 32);
	CHECK_EQ_INT(s->ops->account_by_name(s, "nobody", &a), SOTTO_ERR_NOT_FOUND);

	/* An invite works once, and a second use says so; an unknown token never. */
	CHECK_EQ_INT(s->ops->invite_add(s, tok, 0, 1), 0);
	CHECK_EQ_INT(s->ops->account_create(s, "bob", ik, dk2, tok2, &id2),
	    SOTTO_ERR_INVITE_UNKNOWN);
	CHECK_EQ_INT(s->ops->account_by_name(s, "bob", &a), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(s->ops->account_create(s, "bob", ik, dk2, tok, &id2), 0);
	key(dk2, 4);
	CHECK_EQ_INT(s->ops->account_create(s, "carol", ik, dk2, tok, &id2),
	    SOTTO_ERR_INVITE_USED);
	/* A failed create does not burn the invite. */
	CHECK_EQ_INT(s->ops->invite_add(s, tok2, 0, 1), 0);
	CHECK_EQ_INT(s->ops->account_create(s, "alice", ik, dk2, tok2, &id2), SOTTO_ERR_EXISTS);
	CHECK_EQ_INT(s->ops->account_create(s, "carol", ik, dk2, tok2, &id2), 0);
	server_store_close(s);
	cleanup();
}

struct invite_seen {
	size_t n;
	const uint8_t *want;            /* the token hash whose entry is kept */
	struct store_invite_info it;
};

static int
invite_seen(void *arg, const struct store_invite_info *i)
{
	struct invite_seen *v = arg;

	v->n++;
	if (memcmp(i->id, v->want, STORE_INVITE_ID_LEN) == 0)
		v->it = *i;
	return 0;
}

/* The administrator's ops (issue 17) on every backend: an invite's uses, lifetime and
 * revocation, the list, the domain a database serves, and the counts of status. */
TEST(store_admin_invites_domain_and_stats)
{
	struct server_store *s;
	struct store_stats st;
	struct invite_seen seen = { .n = 0, .want = NULL };
	char recorded[STORE_DOMAIN_MAX + 1];
	uint8_t ik[32], dk[32], twice[32], old[32];
	int64_t id = 0, now = (int64_t)time(NULL);

	fresh_path();
	REQUIRE((s = open_db(1)) != NULL);
	key(ik, 1), key(twice, 20), key(old, 21);
	CHECK_EQ_INT(s->ops->invite_add(s, twice, now + 3600, 2), 0);
	CHECK_EQ_INT(s->ops->invite_add(s, old, now - 1, 1), 0);
	key(dk, 2);
	CHECK_EQ_INT(s->ops->account_create(s, "a", ik, dk, twice, &id), 0);
	key(dk, 3);
	CHECK_EQ_INT(s->ops->account_create(s, "b", ik, dk, old, &id), SOTTO_ERR_INVITE_EXPIRED);
	CHECK_EQ_INT(s->ops->invite_revoke(s, twice, STORE_INVITE_ID_LEN, now), 0);
	CHECK_EQ_INT(s->ops->account_create(s, "b", ik, dk, twice, &id), SOTTO_ERR_INVITE_EXPIRED);
	CHECK_EQ_INT(s->ops->invite_revoke(s, ik, STORE_INVITE_ID_LEN, now), SOTTO_ERR_NOT_FOUND);
	seen.want = twice;
	CHECK_EQ_INT(s->ops->invites_list(s, invite_seen, &seen), 0);
	CHECK_EQ_INT(seen.n, 2);
	CHECK_MEM(seen.it.id, twice, STORE_INVITE_ID_LEN);
	CHECK_EQ_INT(seen.it.uses, 1);
	CHECK(seen.it.used >= now);
	CHECK_EQ_INT(seen.it.revoked, now);
	CHECK_EQ_INT(seen.it.expires, now + 3600);
	/* The first domain claimed stays the database's. */
	CHECK_EQ_INT(s->ops->domain_claim(s, "a.example", recorded), 0);
	CHECK_EQ_INT(s->ops->domain_claim(s, "a.example", recorded), 0);
	CHECK_EQ_INT(s->ops->domain_claim(s, "b.example", recorded), SOTTO_ERR_OTHER_DOMAIN);
	CHECK(strcmp(recorded, "a.example") == 0);
	CHECK_EQ_INT(s->ops->stats(s, &st), 0);
	CHECK_EQ_INT(st.accounts, 1);
	CHECK_EQ_INT(st.envelopes, 0);
	CHECK(st.pages > 0 && st.page_size > 0);
	server_store_close(s);
	cleanup();
}

TEST(store_prekeys_handed_out_once)
{
	struct server_store *s;
	struct store_signed_prekey spk = { .id = 7 };
	struct store_prekey otpk[3];
	struct store_bundle b;
	uint8_t ik[32], dk[32];
	uint32_t n = 99;
	int64_t id;

	fresh_path();
	s = open_db(1);
	REQUIRE(s != NULL);
	key(ik, 1), key(dk, 2);
	REQUIRE(s->ops->account_create(s, "alice", ik, dk, NULL, &id) == 0);
	CHECK_EQ_INT(s->ops->bundle_take(s, id, &b), SOTTO_ERR_NOT_FOUND);
	memset(spk.key, 5, 32);
	memset(spk.sig, 6, 64);
	for (int i = 0; i < 3; i++) {
		otpk[i].id = 100 + (uint32_t)i;
		memset(otpk[i].key, 0x40 + i, 32);
	}
	CHECK_EQ_INT(s->ops->prekeys_put(s, id, &spk, otpk, 3, NULL, 2), SOTTO_ERR_LIMIT);
	CHECK_EQ_INT(s->ops->prekey_count(s, id, &n), 0);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(s->ops->prekeys_put(s, id, &spk, otpk, 3, NULL, 10), 0);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(s->ops->bundle_take(s, id, &b), 0);
		CHECK_EQ_INT(b.has_otpk, 1);
		CHECK_EQ_INT(b.otpk.id, 100 + i);
		CHECK_EQ_INT(b.otpk.key[0], 0x40 + i);
		CHECK_EQ_INT(b.remaining, 2 - i);
		CHECK_EQ_INT(b.spk.id, 7);
		CHECK(strcmp(b.account.name, "alice") == 0);
	}
	CHECK_EQ_INT(s->ops->bundle_take(s, id, &b), 0);
	CHECK_EQ_INT(b.has_otpk, 0);
	CHECK_EQ_INT(b.spk.sig[0], 6);
	server_store_close(s);
	cleanup();
}

/* ML-KEM prekeys: a one-time key is handed out once and deleted in the transaction that
 * read it, the last-resort one again and again; a refused upload stores nothing. */
/* Blob records (schema 8): quota in bytes and count per owner checked in the put, a
 * repeated put kept once, BLOB_DONE counting down to an expiry now, the expired listed
 * oldest first and deleted. */
TEST(store_blob_records)
{
	struct server_store *s;
	struct store_blob_rec b[4], got;
	uint8_t hashes[4][STORE_BLOB_HASH_LEN];
	uint64_t bytes = 9;
	uint32_t count = 9;
	size_t n = 9;

	fresh_path();
	s = open_db(1);
	REQUIRE(s != NULL);
	memset(b, 0, sizeof(b));
	for (int i = 0; i < 4; i++) {
		memset(b[i].hash, 0x10 + i, STORE_BLOB_HASH_LEN);
		b[i].owner = i < 3 ? 1 : 2;
		b[i].size = 1000;
		b[i].expires = 5000 + i;
	}
	b[0].left = 2;
	CHECK_EQ_INT(s->ops->blob_usage(s, 1, &bytes, &count), 0);
	CHECK_EQ_INT(bytes, 0);
	CHECK_EQ_INT(count, 0);
	CHECK_EQ_INT(s->ops->blob_put(s, &b[0], 2000, 2), 0);
	CHECK_EQ_INT(s->ops->blob_put(s, &b[0], 2000, 2), 0);          /* kept once */
	CHECK_EQ_INT(s->ops->blob_put(s, &b[1], 1999, 2), SOTTO_ERR_QUOTA); /* bytes */
	CHECK_EQ_INT(s->ops->blob_put(s, &b[1], 2000, 2), 0);
	CHECK_EQ_INT(s->ops->blob_put(s, &b[2], 1 << 20, 2), SOTTO_ERR_QUOTA); /* count */
	CHECK_EQ_INT(s->ops->blob_put(s, &b[3], 1000, 1), 0);          /* another owner */
	CHECK_EQ_INT(s->ops->blob_usage(s, 1, &bytes, &count), 0);
	CHECK_EQ_INT(bytes, 2000);
	CHECK_EQ_INT(count, 2);
	CHECK_EQ_INT(s->ops->blob_get(s, b[2].hash, &got), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(s->ops->blob_get(s, b[0].hash, &got), 0);
	CHECK_EQ_INT(got.owner, 1);
	CHECK_EQ_INT(got.size, 1000);
	CHECK_EQ_INT(got.expires, 5000);
	CHECK_EQ_INT(got.left, 2);
	/* Two recipients: the second BLOB_DONE makes it expire now; a third changes nothing. */
	CHECK_EQ_INT(s->ops->blob_done(s, b[0].hash, 100), 0);
	CHECK_EQ_INT(s->ops->blob_get(s, b[0].hash, &got), 0);
	CHECK_EQ_INT(got.left, 1);
	CHECK_EQ_INT(got.expires, 5000);
	CHECK_EQ_INT(s->ops->blob_done(s, b[0].hash, 100), 0);
	CHECK_EQ_INT(s->ops->blob_done(s, b[0].hash, 200), 0);
	CHECK_EQ_INT(s->ops->blob_get(s, b[0].hash, &got), 0);
	CHECK_EQ_INT(got.left, 0);
	CHECK_EQ_INT(got.expires, 100);
	/* Expired at 5001: blob 0 (at 100), then blob 1 (5001); not blob 3 (5003). */
	CHECK_EQ_INT(s->ops->blob_expired(s, 99, hashes, 4, &n), 0);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(s->ops->blob_expired(s, 5001, hashes, 4, &n), 0);
	CHECK_EQ_INT(n, 2);
	CHECK_MEM(hashes[0], b[0].hash, STORE_BLOB_HASH_LEN);
	CHECK_MEM(hashes[1], b[1].hash, STORE_BLOB_HASH_LEN);
	CHECK_EQ_INT(s->ops->blob_expired(s, 5001, hashes, 1, &n), 0);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(s->ops->blob_delete(s, b[0].hash), 0);
	CHECK_EQ_INT(s->ops->blob_delete(s, b[1].hash), 0);
	CHECK_EQ_INT(s->ops->blob_usage(s, 1, &bytes, &count), 0);
	CHECK_EQ_INT(bytes, 0);
	CHECK_EQ_INT(count, 0);
	CHECK_EQ_INT(s->ops->blob_expired(s, 5001, hashes, 4, &n), 0);
	CHECK_EQ_INT(n, 0);
	server_store_close(s);
	cleanup();
}

TEST(store_kem_prekeys_once_then_last_resort)
{
	struct server_store *s;
	struct store_signed_prekey spk = { .id = 7 };
	struct store_prekey otpk = { .id = 1 };
	static struct store_kem_prekey kem[3], lr;
	struct store_kem_upload up = { .last_resort = &lr, .onetime = kem, .n = 3 };
	static struct store_bundle b;
	uint8_t ik[32], dk[32];
	uint32_t n = 99;
	int64_t id;

	fresh_path();
	s = open_db(1);
	REQUIRE(s != NULL);
	key(ik, 1), key(dk, 2);
	REQUIRE(s->ops->account_create(s, "alice", ik, dk, NULL, &id) == 0);
	for (int i = 0; i < 3; i++) {
		kem[i].id = 10 + (uint32_t)i;
		memset(kem[i].key, 0x50 + i, sizeof(kem[i].key));
		memset(kem[i].sig, 0x60 + i, sizeof(kem[i].sig));
	}
	lr.id = 99;
	memset(lr.key, 0x77, sizeof(lr.key));
	CHECK_EQ_INT(s->ops->prekeys_put(s, id, &spk, &otpk, 1, &up, 2), SOTTO_ERR_LIMIT);
	CHECK_EQ_INT(s->ops->bundle_take(s, id, &b), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(s->ops->prekeys_put(s, id, &spk, &otpk, 1, &up, 3), 0);
	/* One X25519 key, three ML-KEM keys: the X25519 stock is the smaller. */
	CHECK_EQ_INT(s->ops->prekey_count(s, id, &n), 0);
	CHECK_EQ_INT(n, 1);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(s->ops->bundle_take(s, id, &b), 0);
		CHECK_EQ_INT(b.has_kem, 1);
		CHECK_EQ_INT(b.kem_last_resort, 0);
		CHECK_EQ_INT(b.kem.id, 10 + i);
		CHECK_EQ_INT(b.kem.key[1183], 0x50 + i);
		CHECK_EQ_INT(b.kem.sig[0], 0x60 + i);
		CHECK_EQ_INT(b.remaining, 0);
	}
	for (int i = 0; i < 2; i++) {
		CHECK_EQ_INT(s->ops->bundle_take(s, id, &b), 0);
		CHECK_EQ_INT(b.has_kem, 1);
		CHECK_EQ_INT(b.kem_last_resort, 1);
		CHECK_EQ_INT(b.kem.id, 99);
		CHECK_EQ_INT(b.kem.key[0], 0x77);
	}
	/* A new last resort replaces the old one; no one-time keys with it. */
	lr.id = 100;
	up.n = 0;
	CHECK_EQ_INT(s->ops->prekeys_put(s, id, NULL, NULL, 0, &up, 3), 0);
	CHECK_EQ_INT(s->ops->bundle_take(s, id, &b), 0);
	CHECK_EQ_INT(b.kem.id, 100);
	/* Resetting the account deletes its ML-KEM prekeys. */
	{
		uint64_t envs = 0;

		CHECK_EQ_INT(table_rows("kem_prekeys"), 1);
		CHECK_EQ_INT(s->ops->account_reset(s, "alice", NULL, 0, &envs), 0);
		server_store_close(s);
		CHECK_EQ_INT(table_rows("kem_prekeys"), 0);
	}
	cleanup();
}

TEST(store_envelopes_idempotent_capped_and_deleted)
{
	struct server_store *s;
	struct store_send sd[4];
	struct store_envelope env[8];
	struct store_del del[2] = { 0 };
	uint8_t dk[32], dk2[32];
	uint64_t pending = 0;
	int64_t alice, bob, id;
	size_t n = 0;

	REQUIRE((s = open_alice_bob(dk, dk2, &alice, &bob)) != NULL);
	hello_sends(sd, 4, bob, 0, 2);
	memset(sd[1].cmid, 0, 16);      /* a duplicate of sd[0] in the same batch */
	CHECK_EQ_INT(s->ops->envelopes_commit(s, sd, 4), 0);
	CHECK_EQ_INT(sd[0].result, 0);
	CHECK_EQ_INT(sd[0].duplicate, 0);
	CHECK_EQ_INT(sd[1].result, 0);
	CHECK_EQ_INT(sd[1].duplicate, 1);
	CHECK_EQ_INT(sd[1].env_id, sd[0].env_id);
	CHECK_EQ_INT(sd[2].result, 0);
	CHECK_EQ_INT(sd[3].result, SOTTO_ERR_MAILBOX_FULL);
	CHECK_EQ_INT(s->ops->mailbox_count(s, bob, &pending), 0);
	CHECK_EQ_INT(pending, 2);
	/* A retry while it waits is recognised, even in a full mailbox. */
	CHECK_EQ_INT(s->ops->envelopes_commit(s, sd, 1), 0);
	CHECK_EQ_INT(sd[0].result, 0);
	CHECK_EQ_INT(sd[0].duplicate, 1);

	CHECK_EQ_INT(s->ops->envelopes_list(s, bob, 0, env, 8, &n), 0);
	REQUIRE(n == 2);
	CHECK_EQ_INT(env[0].id, sd[0].env_id);
	CHECK_EQ_INT(env[1].id, sd[2].env_id);
	CHECK(env[0].len == 5 && memcmp(env[0].data, "hello", 5) == 0);
	store_envelopes_free(env, n);
	CHECK_EQ_INT(s->ops->envelopes_list(s, bob, sd[0].env_id, env, 8, &n), 0);
	CHECK_EQ_INT(n, 1);
	store_envelopes_free(env, n);

	/* Alice cannot delete Bob's envelopes. */
	del[0].recipient = alice, del[0].id = sd[0].env_id;
	CHECK_EQ_INT(s->ops->envelopes_delete(s, del, 1), 0);
	CHECK_EQ_INT(s->ops->mailbox_count(s, bob, &pending), 0);
	CHECK_EQ_INT(pending, 2);
	del[0].recipient = bob;
	del[1].recipient = bob, del[1].id = sd[0].env_id;  /* twice: counted once */
	CHECK_EQ_INT(s->ops->envelopes_delete(s, del, 2), 0);
	CHECK_EQ_INT(s->ops->mailbox_count(s, bob, &pending), 0);
	CHECK_EQ_INT(pending, 1);
	/* The record went with the envelope: a retry after delivery is new to the server
	 * (stored again; the recipient's client drops it by message id). */
	CHECK_EQ_INT(s->ops->sent_get(s, bob, sd[0].cmid, &id), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(s->ops->sent_get(s, bob, sd[2].cmid, &id), 0);
	sd[0].mailbox_max = 10;
	sd[0].env_id = 0;
	CHECK_EQ_INT(s->ops->envelopes_commit(s, sd, 1), 0);
	CHECK_EQ_INT(sd[0].duplicate, 0);
	CHECK_EQ_INT(s->ops->mailbox_count(s, bob, &pending), 0);
	CHECK_EQ_INT(pending, 2);
	server_store_close(s);

	/* Reopen: everything is still there. */
	s = open_db(0);
	REQUIRE(s != NULL);
	CHECK_EQ_INT(s->ops->envelopes_list(s, bob, 0, env, 8, &n), 0);
	CHECK_EQ_INT(n, 2);
	store_envelopes_free(env, n);
	server_store_close(s);
	cleanup();
}

/* Idempotency records: a walk in chunks deletes the old ones; a pruned retry is new. */
TEST(store_sent_records_pruned_in_chunks)
{
	struct server_store *s;
	struct store_send sd[5];
	struct store_sent_key cur;
	uint8_t dk[32], dk2[32];
	int64_t alice, bob, env_id = 0;
	uint64_t pending = 0;
	size_t n = 99, total = 0;
	int done = 0, steps = 0;

	REQUIRE((s = open_alice_bob(dk, dk2, &alice, &bob)) != NULL);
	hello_sends(sd, 5, bob, 0x40, 100);
	CHECK_EQ_INT(s->ops->envelopes_commit(s, sd, 5), 0);
	/* None is older than a minute ago: one step of 10 walks them all, deletes none. */
	memset(&cur, 0, sizeof(cur));
	CHECK_EQ_INT(s->ops->sent_prune(s, (int64_t)time(NULL) - 60, 10, &cur, &done, &n), 0);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(done, 1);
	CHECK_EQ_INT(s->ops->sent_get(s, bob, sd[0].cmid, &env_id), 0);
	/* All are older than a minute from now: steps of two: 2, 2, 1. */
	do {
		CHECK_EQ_INT(s->ops->sent_prune(s, (int64_t)time(NULL) + 60, 2, &cur, &done, &n),
		    0);
		CHECK(n <= 2);
		total += n;
	} while (!done && ++steps < 10);
	CHECK_EQ_INT(total, 5);
	CHECK_EQ_INT(steps, 2);
	CHECK_EQ_INT(cur.set, 0);
	for (int i = 0; i < 5; i++)
		CHECK_EQ_INT(s->ops->sent_get(s, sd[i].recipient, sd[i].cmid, &env_id),
		    SOTTO_ERR_NOT_FOUND);
	/* The envelopes themselves stay until RECEIVED. */
	CHECK_EQ_INT(s->ops->mailbox_count(s, bob, &pending), 0);
	CHECK_EQ_INT(pending, 5);
	/* A retry now is a new envelope. */
	sd[0].env_id = 0;
	CHECK_EQ_INT(s->ops->envelopes_commit(s, sd, 1), 0);
	CHECK_EQ_INT(sd[0].duplicate, 0);
	CHECK_EQ_INT(s->ops->mailbox_count(s, bob, &pending), 0);
	CHECK_EQ_INT(pending, 6);
	server_store_close(s);
	cleanup();
}

TEST(store_refuses_corrupt_or_missing)
{
	struct server_store *s;
	int fd;

	fresh_path();
	CHECK(open_db(0) == NULL);              /* missing and not asked to create */
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, "this is not a database at all, just some text........", 54) == 54);
	close(fd);
	CHECK(open_db(0) == NULL);
	CHECK(open_db(1) == NULL);
	unlink(path);
	s = open_db(1);
	REQUIRE(s != NULL);
	server_store_close(s);
	/* Damage the header's magic: refused, not replaced. */
	fd = open(path, O_WRONLY);
	REQUIRE(fd >= 0);
	REQUIRE(pwrite(fd, "XXXXXXXX", 8, 0) == 8);
	close(fd);
	CHECK(open_db(0) == NULL);
	cleanup();
}

struct commit_test {
	int done;
	struct commit_item *seen[8];
};

static void
on_done(void *ud, struct commit_item *it)
{
	struct commit_test *t = ud;

	if (t->done < (int)(sizeof(t->seen) / sizeof(t->seen[0])))
		t->seen[t->done] = it;
	t->done++;
}

TEST(commit_group_and_disk_full)
{
	struct store_open_opts o = { .create = 0, .durability_full = 1, .max_pages = 0 };
	struct commit_test t = { 0 };
	struct commit_item it[3];
	struct store_del del = { 0 };
	struct server_store *s, *w = NULL;
	struct commit *c = NULL;
	uint8_t ik[32], dk[32], dk2[32];
	static uint8_t big[200000];
	uv_loop_t loop;
	int64_t bob;

	fresh_path();
	s = open_db(1);
	REQUIRE(s != NULL);
	key(ik, 1), key(dk, 2), key(dk2, 3);
	REQUIRE(s->ops->account_create(s, "bob", ik, dk2, NULL, &bob) == 0);
	REQUIRE(store_open_spec(&w, spec, &o) == 0);
	uv_loop_init(&loop);
	REQUIRE(commit_start(&c, &loop, w, on_done, &t) == 0);
	memset(it, 0, sizeof(it));
	for (int i = 0; i < 2; i++) {
		it[i].kind = COMMIT_SEND;
		it[i].send.recipient = bob;
		memset(it[i].send.cmid, i, 16);
		it[i].send.data = (const uint8_t *)"x";
		it[i].send.len = 1;
		it[i].send.mailbox_max = 10;
		commit_submit(c, &it[i]);
	}
	CHECK_EQ_INT(commit_pending(c), 2);
	while (t.done < 2)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK_EQ_INT(it[0].result, 0);
	CHECK(it[0].send.env_id > 0);
	CHECK(it[1].send.env_id > it[0].send.env_id);
	CHECK_EQ_INT(commit_pending(c), 0);
	del.recipient = bob;
	del.id = it[0].send.env_id;
	it[2].kind = COMMIT_DELETE;
	it[2].dels = &del;
	it[2].n_dels = 1;
	commit_submit(c, &it[2]);
	while (t.done < 3)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK_EQ_INT(it[2].result, 0);
	commit_stop(c);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (pg)         /* PostgreSQL has no page cap of its own (SERVER.md) */
		goto out;

	/* A database at its page quota: the commit fails and reports it. */
	o.max_pages = 8;
	REQUIRE(store_sqlite_open(&w, path, &o) == 0);
	REQUIRE(commit_start(&c, &loop, w, on_done, &t) == 0);
	it[0].send.data = big;
	it[0].send.len = sizeof(big);
	memset(it[0].send.cmid, 9, 16);
	commit_submit(c, &it[0]);
	commit_stop(c);  /* stop drains: the done callback runs before it returns */
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_EQ_INT(t.done, 4);
	CHECK(it[0].result != 0);
	CHECK(it[0].send.result != 0);
	{
		uint64_t pending = 9;
		CHECK_EQ_INT(s->ops->mailbox_count(s, bob, &pending), 0);
		CHECK_EQ_INT(pending, 1);
	}
out:
	uv_loop_close(&loop);
	server_store_close(s);
	cleanup();
}

/* A SEND whose recipient has it already: nothing is written but its id's high mark. */
static void
record_item(struct commit_item *it, int64_t recipient, uint8_t cmid, int64_t env_id)
{
	memset(it, 0, sizeof(*it));
	it->kind = COMMIT_SEND;
	it->send.recipient = recipient;
	it->send.skip_envelope = 1;
	memset(it->send.cmid, cmid, 16);
	it->send.data = (const uint8_t *)"x";
	it->send.len = 1;
	it->send.mailbox_max = 10;
	it->send.env_id = env_id;
}

TEST(commit_deferred_records_wait_then_go_in_order)
{
	struct store_open_opts o = { .create = 0, .durability_full = 1 };
	struct commit_test t = { 0 };
	static struct commit_item many[COMMIT_DEFER_MAX];
	struct commit_item it[4];
	struct server_store *s, *w = NULL;
	struct commit *c = NULL;
	uint8_t dk[32], dk2[32];
	uint64_t t0, batches0, batches1, items, pending = 9;
	uv_loop_t loop;
	int64_t alice, bob, env_id = 0;
	int waited;

	REQUIRE((s = open_alice_bob(dk, dk2, &alice, &bob)) != NULL);
	REQUIRE(store_open_spec(&w, spec, &o) == 0);
	uv_loop_init(&loop);
	REQUIRE(commit_start(&c, &loop, w, on_done, &t) == 0);

	/* Alone, a deferred record waits (20 ms) rather than start a commit of its own. */
	t0 = uv_hrtime();
	record_item(&it[0], bob, 1, 1001);
	commit_submit_deferred(c, &it[0]);
	uv_run(&loop, UV_RUN_NOWAIT);
	if (uv_hrtime() - t0 < 10 * 1000000ull)
		CHECK_EQ_INT(commit_item_handed(c, &it[0]), 0);
	CHECK_EQ_INT(commit_pending(c), 1);
	/* A later SEND repeating it (same device and message id) goes in the same batch,
	 * after it: received, the first left no record, so the retry is stored (the
	 * recipient's client drops it by message id). */
	record_item(&it[1], bob, 1, 0);
	it[1].send.skip_envelope = 0;
	waited = !commit_item_handed(c, &it[0]);
	commit_stats(c, &batches0, &items);
	commit_submit(c, &it[1]);
	while (t.done < 2)
		uv_run(&loop, UV_RUN_ONCE);
	commit_stats(c, &batches1, &items);
	if (waited)     /* not if a slow machine let the 20 ms pass before it[1] came */
		CHECK_EQ_INT(batches1 - batches0, 1);
	CHECK(t.seen[0] == &it[0]);
	CHECK(t.seen[1] == &it[1]);
	CHECK_EQ_INT(it[0].result, 0);
	CHECK_EQ_INT(it[1].result, 0);
	CHECK_EQ_INT(it[1].send.duplicate, 0);
	CHECK(it[1].send.env_id > 0);
	CHECK_EQ_INT(s->ops->mailbox_count(s, bob, &pending), 0);
	CHECK_EQ_INT(pending, 1);

	/* Nothing else comes: it goes on its own once it has waited. */
	record_item(&it[2], bob, 2, 1002);
	commit_submit_deferred(c, &it[2]);
	while (t.done < 3)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK_EQ_INT(it[2].result, 0);
	CHECK_EQ_INT(s->ops->sent_get(s, bob, it[2].send.cmid, &env_id), SOTTO_ERR_NOT_FOUND);

	/* COMMIT_DEFER_MAX of them go at once. */
	t.done = 0;
	for (int i = 0; i < COMMIT_DEFER_MAX; i++) {
		record_item(&many[i], alice, 0, 2000 + i);
		memcpy(many[i].send.cmid, &i, sizeof(i));
		commit_submit_deferred(c, &many[i]);
	}
	uv_run(&loop, UV_RUN_NOWAIT);
	CHECK_EQ_INT(commit_item_handed(c, &many[COMMIT_DEFER_MAX - 1]), 1);
	while (commit_pending(c) > 0)
		uv_run(&loop, UV_RUN_ONCE);

	/* When the server stops, nothing waits. */
	record_item(&it[3], bob, 3, 1003);
	commit_submit_deferred(c, &it[3]);
	commit_defer_off(c);
	uv_run(&loop, UV_RUN_NOWAIT);
	CHECK_EQ_INT(commit_item_handed(c, &it[3]), 1);
	commit_stop(c);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_EQ_INT(it[3].result, 0);
	/* Only its id is kept, never to be given again. */
	CHECK_EQ_INT(s->ops->envelopes_max_id(s, &env_id), 0);
	CHECK(env_id >= 2000 + COMMIT_DEFER_MAX - 1);
	uv_loop_close(&loop);
	server_store_close(s);
	cleanup();
}

/* Schema 1 keyed the idempotency records (sender, cmid); opening such a database moves
 * them to schema 2's (cmid, sender), adds schema 3's quota counters and schema 4's
 * mark of a used invite, and keeps everything else. */
TEST(store_migrates_schema_1)
{
	static const char v1[] =
	    "CREATE TABLE meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
	    "CREATE TABLE accounts(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	    " identity_key BLOB NOT NULL, device_key BLOB NOT NULL UNIQUE,"
	    " pending INTEGER NOT NULL, created INTEGER NOT NULL);"
	    "CREATE TABLE invites(token_hash BLOB PRIMARY KEY, created INTEGER NOT NULL);"
	    "CREATE TABLE signed_prekeys(account INTEGER PRIMARY KEY, id INTEGER NOT NULL,"
	    " key BLOB NOT NULL, sig BLOB NOT NULL);"
	    "CREATE TABLE prekeys(account INTEGER NOT NULL, id INTEGER NOT NULL,"
	    " key BLOB NOT NULL, PRIMARY KEY(account, id));"
	    "CREATE TABLE envelopes(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	    " recipient INTEGER NOT NULL, ts INTEGER NOT NULL, data BLOB NOT NULL);"
	    "CREATE INDEX envelopes_by_recipient ON envelopes(recipient, id);"
	    "CREATE TABLE sent(sender BLOB NOT NULL, cmid BLOB NOT NULL, env_id INTEGER NOT NULL,"
	    " created INTEGER NOT NULL, PRIMARY KEY(sender, cmid)) WITHOUT ROWID;"
	    "INSERT INTO meta VALUES ('schema', 1);"
	    "INSERT INTO accounts VALUES (7, 'carol', x'01', zeroblob(32), 1, 0);"
	    "INSERT INTO invites VALUES (zeroblob(32), 0);"
	    "INSERT INTO envelopes VALUES (41, 7, 5, x'c0ffee');"
	    "INSERT INTO sent VALUES (zeroblob(32), x'0102030405060708090a0b0c0d0e0f10', 41,"
	    " strftime('%s', 'now'));";
	static const uint8_t cmid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	uint8_t zero[32] = { 0 }, ik[32], dk[32];
	struct store_envelope env[2];
	struct store_send sd[1];
	struct server_store *s;
	sqlite3 *db;
	sqlite3_stmt *q;
	int64_t env_id = 0;
	size_t n = 0;

	fresh_path();
	REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
	REQUIRE(sqlite3_exec(db, v1, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	REQUIRE((s = open_db(0)) != NULL);
	CHECK_EQ_INT(s->ops->sent_get(s, 7, cmid, &env_id), 0);
	CHECK_EQ_INT(env_id, 41);
	CHECK_EQ_INT(s->ops->envelopes_list(s, 7, 0, env, 2, &n), 0);
	CHECK_EQ_INT(n, 1);
	if (n == 1) {
		CHECK_EQ_INT(env[0].id, 41);
		CHECK_EQ_INT(env[0].len, 3);
		store_envelopes_free(env, n);
	}
	/* A retry of that SEND is still a duplicate. */
	hello_sends(sd, 1, 7, 0, 10);
	memcpy(sd[0].cmid, cmid, 16);
	CHECK_EQ_INT(s->ops->envelopes_commit(s, sd, 1), 0);
	CHECK_EQ_INT(sd[0].duplicate, 1);
	/* The invite made under schema 1 works once; then it is known as used. */
	memset(ik, 2, sizeof(ik));
	memset(dk, 3, sizeof(dk));
	CHECK_EQ_INT(s->ops->account_create(s, "dave", ik, dk, zero, &env_id), 0);
	dk[0] = 4;
	CHECK_EQ_INT(s->ops->account_create(s, "erin", ik, dk, zero, &env_id),
	    SOTTO_ERR_INVITE_USED);
	server_store_close(s);
	REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
	/* Then to the latest schema: the mailbox's bytes counted, the record rekeyed and
	 * named by its envelope. */
	REQUIRE(sqlite3_prepare_v2(db, "SELECT (SELECT v FROM meta WHERE k = 'schema'),"
	    " (SELECT count(*) FROM sent), (SELECT sql FROM sqlite_master WHERE name = 'sent'),"
	    " (SELECT pending_bytes FROM accounts WHERE id = 7),"
	    " (SELECT count(*) FROM envelopes e JOIN sent s ON s.key = e.idem AND"
	    " s.env_id = e.id WHERE e.id = 41),"
	    " (SELECT count(*) FROM sqlite_master WHERE name IN ('key_packages', 'groups',"
	    " 'group_log', 'group_members', 'group_welcomes')),"
	    " (SELECT count(*) FROM kem_prekeys), (SELECT count(*) FROM blobs),"
	    " (SELECT count(*) FROM pragma_table_info('invites')"
	    " WHERE name IN ('expires', 'uses', 'revoked'))", -1, &q, NULL) == SQLITE_OK);
	REQUIRE(sqlite3_step(q) == SQLITE_ROW);
	CHECK_EQ_INT(sqlite3_column_int(q, 0), 12);     /* on to the latest schema */
	CHECK_EQ_INT(sqlite3_column_type(q, 6), SQLITE_INTEGER);   /* schema 7's table */
	CHECK_EQ_INT(sqlite3_column_type(q, 7), SQLITE_INTEGER);   /* schema 8's table */
	CHECK_EQ_INT(sqlite3_column_int(q, 8), 3);     /* schema 9's invite columns */
	CHECK_EQ_INT(sqlite3_column_int(q, 1), 1);
	CHECK(strstr((const char *)sqlite3_column_text(q, 2), "key BLOB PRIMARY KEY") != NULL);
	CHECK_EQ_INT(sqlite3_column_int(q, 3), 3);
	CHECK_EQ_INT(sqlite3_column_int(q, 4), 1);
	CHECK_EQ_INT(sqlite3_column_int(q, 5), 5);     /* schema 6: the delivery service */
	sqlite3_finalize(q);
	sqlite3_close(db);
	/* Opened again: already at the latest, nothing to do; the old envelope is deleted as any. */
	REQUIRE((s = open_db(0)) != NULL);
	CHECK_EQ_INT(s->ops->sent_get(s, 7, cmid, &env_id), 0);
	{
		struct store_del d = { .recipient = 7, .id = 41 };
		uint64_t pending = 9;
		CHECK_EQ_INT(s->ops->envelopes_delete(s, &d, 1), 0);
		CHECK_EQ_INT(s->ops->mailbox_count(s, 7, &pending), 0);
		CHECK_EQ_INT(pending, 0);
	}
	/* Its record went with it. */
	CHECK_EQ_INT(s->ops->sent_get(s, 7, cmid, &env_id), SOTTO_ERR_NOT_FOUND);
	server_store_close(s);
	cleanup();
}

/* A group write of kind on group "g" by account (limits generous). */
static struct store_group_op
gop(int kind, int64_t account)
{
	struct store_group_op op;

	memset(&op, 0, sizeof(op));
	op.kind = kind;
	memcpy(op.group, "g", 1);
	op.group_len = 1;
	op.account = account;
	op.ts = 1700000000000ull;
	op.members_max = 100;
	op.groups_max = 100;
	op.log_max = 100;
	return op;
}

/* The storage contract of the delivery service, without a server: one Commit per epoch,
 * the log stored once and pruned as members read, removed members, KeyPackages. */
TEST(store_groups_and_key_packages)
{
	static const char names[][STORE_NAME_MAX + 1] = { "bob" };
	struct store_welcome w = { { (const uint8_t *)"W", 1 }, names, 1 };
	struct store_group_op ops[3];
	struct store_membership ms[4];
	struct store_group_entry e[4];
	struct store_blob kps[2] = { { (const uint8_t *)"k1", 2 }, { (const uint8_t *)"k2", 2 } };
	struct store_blob lr = { (const uint8_t *)"LR", 2 };
	static struct store_kp_claim claim;
	struct store_kp_count left;
	uint8_t dk[32], dk2[32];
	int64_t alice, bob;
	size_t n;
	struct server_store *s;

	REQUIRE((s = open_alice_bob(dk, dk2, &alice, &bob)) != NULL);
	/* KeyPackages: one-time in order, then the last-resort one, kept. */
	CHECK_EQ_INT(s->ops->key_packages_put(s, alice, kps, 2, &lr, 2, &left), 0);
	CHECK(left.count == 2 && left.has_last_resort == 1);
	CHECK_EQ_INT(s->ops->key_packages_put(s, alice, kps, 1, NULL, 2, &left), SOTTO_ERR_LIMIT);
	CHECK_EQ_INT(s->ops->key_package_take(s, alice, &claim), 0);
	CHECK(claim.last_resort == 0 && claim.len == 2 && memcmp(claim.data, "k1", 2) == 0);
	CHECK_EQ_INT(s->ops->key_package_take(s, alice, &claim), 0);
	CHECK(claim.last_resort == 0 && memcmp(claim.data, "k2", 2) == 0);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ_INT(s->ops->key_package_take(s, alice, &claim), 0);
		CHECK(claim.last_resort == 1 && memcmp(claim.data, "LR", 2) == 0);
		CHECK(claim.left.count == 0 && claim.left.has_last_resort == 1);
	}
	CHECK_EQ_INT(s->ops->key_package_take(s, bob, &claim), SOTTO_ERR_NOT_FOUND);

	/* Create; two Commits for epoch 0 in one batch: the first wins, the second is stale
	 * and stores nothing; bob's Welcome comes with the first. */
	ops[0] = gop(STORE_GROUP_CREATE, alice);
	CHECK_EQ_INT(s->ops->groups_apply(s, ops, 1), 0);
	CHECK_EQ_INT(ops[0].result, 0);
	ops[0] = gop(STORE_GROUP_COMMIT, alice);
	ops[0].data = (struct store_blob){ (const uint8_t *)"C1", 2 };
	ops[0].add = names;
	ops[0].n_add = 1;
	ops[0].welcomes = &w;
	ops[0].n_welcomes = 1;
	ops[1] = ops[0];
	ops[1].data = (struct store_blob){ (const uint8_t *)"C2", 2 };
	ops[1].add = NULL;
	ops[1].n_add = 0;
	ops[1].n_welcomes = 0;
	CHECK_EQ_INT(s->ops->groups_apply(s, ops, 2), 0);
	CHECK_EQ_INT(ops[0].result, 0);
	CHECK(ops[0].seq == 1 && ops[0].cur_epoch == 1);
	CHECK_EQ_INT(ops[0].n_members, 2);
	CHECK_EQ_INT(ops[1].result, SOTTO_ERR_STALE_EPOCH);
	CHECK_EQ_INT(ops[1].cur_epoch, 1);
	store_group_ops_release(ops, 2);
	CHECK_EQ_INT(s->ops->group_memberships(s, bob, 0, ms, 4, &n), 0);
	REQUIRE(n == 1);
	CHECK(ms[0].read_seq == 1 && ms[0].welcome == 1 && ms[0].left_seq == 0);
	CHECK_EQ_INT(s->ops->group_welcome(s, ms[0].grp, bob, &e[0]), 0);
	CHECK(e[0].seq == 1 && e[0].epoch == 1 && e[0].len == 1 && e[0].data[0] == 'W');
	store_group_entries_free(e, 1);
	/* Two messages, one a retry: stored once. */
	ops[0] = gop(STORE_GROUP_MESSAGE, bob);
	ops[0].data = (struct store_blob){ (const uint8_t *)"M", 1 };
	memset(ops[0].cmid, 7, 16);
	ops[1] = ops[0];
	ops[2] = gop(STORE_GROUP_MESSAGE, 999);        /* no such member */
	ops[2].data = ops[0].data;
	CHECK_EQ_INT(s->ops->groups_apply(s, ops, 3), 0);
	CHECK(ops[0].result == 0 && ops[0].seq == 2 && ops[0].duplicate == 0);
	CHECK(ops[1].result == 0 && ops[1].seq == 2 && ops[1].duplicate == 1);
	CHECK_EQ_INT(ops[2].result, SOTTO_ERR_NOT_MEMBER);
	store_group_ops_release(ops, 3);
	CHECK_EQ_INT(s->ops->group_entries(s, ms[0].grp, 1, UINT64_MAX, e, 4, &n), 0);
	CHECK(n == 1 && e[0].seq == 2 && e[0].kind == 3);
	store_group_entries_free(e, n);
	/* Alice removes bob: he keeps his row until he read up to his removal. */
	ops[0] = gop(STORE_GROUP_COMMIT, alice);
	ops[0].epoch = 1;
	ops[0].data = (struct store_blob){ (const uint8_t *)"C3", 2 };
	ops[0].remove = names;
	ops[0].n_remove = 1;
	CHECK_EQ_INT(s->ops->groups_apply(s, ops, 1), 0);
	CHECK(ops[0].result == 0 && ops[0].seq == 3);
	store_group_ops_release(ops, 1);
	ops[0] = gop(STORE_GROUP_ACK, alice);
	ops[0].ack_seq = 3;
	ops[1] = gop(STORE_GROUP_ACK, bob);
	ops[1].ack_seq = 2;
	CHECK_EQ_INT(s->ops->groups_apply(s, ops, 2), 0);
	/* Bob has not read his removal: seq 3 stays, seq 1 and 2 are gone. */
	CHECK_EQ_INT(s->ops->group_entries(s, ms[0].grp, 0, UINT64_MAX, e, 4, &n), 0);
	CHECK(n == 1 && e[0].seq == 3);
	store_group_entries_free(e, n);
	ops[0] = gop(STORE_GROUP_ACK, bob);
	ops[0].ack_seq = 99;
	CHECK_EQ_INT(s->ops->groups_apply(s, ops, 1), 0);
	CHECK_EQ_INT(s->ops->group_memberships(s, bob, 0, ms + 1, 3, &n), 0);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(s->ops->group_entries(s, ms[0].grp, 0, UINT64_MAX, e, 4, &n), 0);
	CHECK_EQ_INT(n, 0);
	ops[0] = gop(STORE_GROUP_MESSAGE, bob);
	ops[0].data = (struct store_blob){ (const uint8_t *)"X", 1 };
	CHECK_EQ_INT(s->ops->groups_apply(s, ops, 1), 0);
	CHECK_EQ_INT(ops[0].result, SOTTO_ERR_NOT_MEMBER);
	server_store_close(s);
	cleanup();
}

/* A group of 1,000 members (what group_members_max must allow): one Commit adds 999, a
 * message is one row for all of them, and goes once every member read it. */
/* A sealed MESSAGE (account 0, the verifier of the token it presents). */
static struct store_group_op
sealed_gop(const uint8_t verifier[STORE_GROUP_VERIFIER_LEN], uint8_t cmid)
{
	struct store_group_op op = gop(STORE_GROUP_MESSAGE, 0);

	op.sealed = 1;
	memcpy(op.verifier, verifier, STORE_GROUP_VERIFIER_LEN);
	op.data = (struct store_blob){ (const uint8_t *)"S", 1 };
	memset(op.cmid, cmid, sizeof(op.cmid));
	return op;
}

/*
 * Group tokens (issue 15): a sealed message is taken with the verifier of the current
 * epoch only, which the creator and each accepted Commit set in the same transaction as
 * the group's change; the previous epoch's is answered STALE_EPOCH (a retry of what it
 * stored then, as that retry), anything else AUTH; a refused one stores nothing, and no
 * member row is needed or made.
 */
TEST(store_group_tokens)
{
	static const char names[][STORE_NAME_MAX + 1] = { "bob" };
	struct store_welcome w = { { (const uint8_t *)"W", 1 }, names, 1 };
	uint8_t v0[STORE_GROUP_VERIFIER_LEN], v1[STORE_GROUP_VERIFIER_LEN];
	uint8_t v2[STORE_GROUP_VERIFIER_LEN], none[STORE_GROUP_VERIFIER_LEN];
	struct store_group_op ops[4];
	struct store_group_entry e[8];
	struct store_membership ms[2];
	uint8_t dk[32], dk2[32];
	int64_t alice, bob;
	size_t n;
	struct server_store *s;

	randombytes_buf(v0, sizeof(v0));
	randombytes_buf(v1, sizeof(v1));
	randombytes_buf(v2, sizeof(v2));
	memset(none, 0, sizeof(none));
	REQUIRE((s = open_alice_bob(dk, dk2, &alice, &bob)) != NULL);
	ops[0] = gop(STORE_GROUP_CREATE, alice);
	memcpy(ops[0].verifier, v0, sizeof(v0));
	CHECK_EQ_INT(s->ops->groups_apply(s, ops, 1), 0);
	CHECK_EQ_INT(ops[0].result, 0);
	/* Epoch 0: its verifier, not another, not none; an unknown group is AUTH too. */
	ops[0] = sealed_gop(v0, 1);
	ops[1] = sealed_gop(v1, 2);
	ops[2] = sealed_gop(none, 3);
	ops[3] = sealed_gop(v0, 4);
	memcpy(ops[3].group, "h", 1);
	CHECK_EQ_INT(s->ops->groups_apply(s, ops, 4), 0);
	CHECK(ops[0].result == 0 && ops[0].seq == 1 && ops[0].cur_epoch == 0);
	CHECK_EQ_INT(ops[0].n_members, 1);
	CHECK_EQ_INT(ops[1].result, SOTTO_ERR_AUTH);
	CHECK_EQ_INT(ops[2].result, SOTTO_ERR_AUTH);
	CHECK_EQ_INT(ops[3].result, SOTTO_ERR_AUTH);
	store_group_ops_release(ops, 4);
	/* A Commit adding bob sets epoch 1's verifier; in the same batch, a message with
	 * epoch 0's verifier after it is late, one with epoch 1's is taken. */
	ops[0] = gop(STORE_GROUP_COMMIT, alice);
	memcpy(ops[0].verifier, v1, sizeof(v1));
	ops[0].data = (struct store_blob){ (const uint8_t *)"C1", 2 };
	ops[0].add = names;
	ops[0].n_add = 1;
	ops[0].welcomes = &w;
	ops[0].n_welcomes = 1;
	ops[1] = sealed_gop(v0, 5);
	ops[2] = sealed_gop(v1, 6);
	ops[3] = sealed_gop(v0, 1);     /* a retry of epoch 0's message */
	CHECK_EQ_INT(s->ops->groups_apply(s, ops, 4), 0);
	CHECK(ops[0].result == 0 && ops[0].seq == 2 && ops[0].cur_epoch == 1);
	CHECK(ops[1].result == SOTTO_ERR_STALE_EPOCH && ops[1].cur_epoch == 1);
	CHECK(ops[2].result == 0 && ops[2].seq == 3 && ops[2].cur_epoch == 1);
	CHECK_EQ_INT(ops[2].n_members, 2);
	CHECK(ops[3].result == 0 && ops[3].duplicate == 1 && ops[3].seq == 1);
	store_group_ops_release(ops, 4);
	/* A refused Commit (stale) changes no verifier. */
	ops[0] = gop(STORE_GROUP_COMMIT, alice);
	memcpy(ops[0].verifier, v2, sizeof(v2));
	ops[0].data = (struct store_blob){ (const uint8_t *)"Cx", 2 };
	ops[1] = sealed_gop(v1, 7);
	ops[2] = sealed_gop(v2, 8);
	CHECK_EQ_INT(s->ops->groups_apply(s, ops, 3), 0);
	CHECK_EQ_INT(ops[0].result, SOTTO_ERR_STALE_EPOCH);
	CHECK_EQ_INT(ops[1].result, 0);
	CHECK_EQ_INT(ops[2].result, SOTTO_ERR_AUTH);
	store_group_ops_release(ops, 3);
	/* Bob removed at epoch 1: epoch 2's verifier; epoch 1's (which bob knows) is late,
	 * and after one more Commit no epoch's at all. */
	ops[0] = gop(STORE_GROUP_COMMIT, alice);
	ops[0].epoch = 1;
	memcpy(ops[0].verifier, v2, sizeof(v2));
	ops[0].data = (struct store_blob){ (const uint8_t *)"C2", 2 };
	ops[0].remove = names;
	ops[0].n_remove = 1;
	ops[1] = sealed_gop(v1, 9);
	ops[2] = gop(STORE_GROUP_COMMIT, alice);
	ops[2].epoch = 2;
	memcpy(ops[2].verifier, v0, sizeof(v0));   /* any fresh one: epoch 3's */
	ops[2].data = (struct store_blob){ (const uint8_t *)"C3", 2 };
	ops[3] = sealed_gop(v1, 10);
	CHECK_EQ_INT(s->ops->groups_apply(s, ops, 4), 0);
	CHECK(ops[0].result == 0 && ops[0].cur_epoch == 2);
	CHECK(ops[1].result == SOTTO_ERR_STALE_EPOCH && ops[1].cur_epoch == 2);
	CHECK(ops[2].result == 0 && ops[2].cur_epoch == 3);
	CHECK_EQ_INT(ops[3].result, SOTTO_ERR_AUTH);
	store_group_ops_release(ops, 4);
	/* The log: the three sealed messages taken, and the Commits, once each; the member
	 * rows are alice's and bob's (until he reads his removal), none made by a send. */
	CHECK_EQ_INT(s->ops->group_memberships(s, alice, 0, ms, 2, &n), 0);
	REQUIRE(n == 1);
	CHECK_EQ_INT(s->ops->group_entries(s, ms[0].grp, 0, UINT64_MAX, e, 8, &n), 0);
	CHECK_EQ_INT(n, 6);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ_INT(e[i].seq, i + 1);
	CHECK(n == 6 && e[0].kind == 3 && e[1].kind == 2 && e[2].kind == 3 && e[3].kind == 3 &&
	    e[4].kind == 2 && e[5].kind == 2);
	store_group_entries_free(e, n);
	server_store_close(s);
	cleanup();
}

/*
 * A group made before group tokens (schema 12) has no verifier: a sealed message to it is
 * NO_GROUP_TOKEN (not AUTH: the sender then commits to register one) and stores nothing;
 * an empty Commit (no adds, no removes) registers its epoch's, with which the next one is
 * taken; any other token in that epoch is STALE_EPOCH (the epoch before had none: a
 * member's message of it), one epoch later AUTH; an unknown group stays AUTH.
 */
TEST(store_group_token_registered_late)
{
	uint8_t v1[STORE_GROUP_VERIFIER_LEN], v2[STORE_GROUP_VERIFIER_LEN];
	uint8_t none[STORE_GROUP_VERIFIER_LEN];
	struct store_group_op ops[4];
	struct store_group_entry e[4];
	struct store_membership ms[1];
	uint8_t dk[32], dk2[32];
	int64_t alice, bob;
	size_t n;
	struct server_store *s;

	randombytes_buf(v1, sizeof(v1));
	randombytes_buf(v2, sizeof(v2));
	memset(none, 0, sizeof(none));
	REQUIRE((s = open_alice_bob(dk, dk2, &alice, &bob)) != NULL);
	ops[0] = gop(STORE_GROUP_CREATE, alice);        /* no verifier: zeros */
	CHECK_EQ_INT(s->ops->groups_apply(s, ops, 1), 0);
	CHECK_EQ_INT(ops[0].result, 0);
	ops[0] = sealed_gop(v1, 1);
	ops[1] = sealed_gop(none, 2);
	ops[2] = sealed_gop(v1, 3);
	memcpy(ops[2].group, "h", 1);
	CHECK_EQ_INT(s->ops->groups_apply(s, ops, 3), 0);
	CHECK_EQ_INT(ops[0].result, SOTTO_ERR_NO_GROUP_TOKEN);
	CHECK_EQ_INT(ops[1].result, SOTTO_ERR_NO_GROUP_TOKEN);
	CHECK_EQ_INT(ops[2].result, SOTTO_ERR_AUTH);
	store_group_ops_release(ops, 3);
	/* The empty Commit and, in the same batch, the message sent again (same client id). */
	ops[0] = gop(STORE_GROUP_COMMIT, alice);
	memcpy(ops[0].verifier, v1, sizeof(v1));
	ops[0].data = (struct store_blob){ (const uint8_t *)"E1", 2 };
	ops[1] = sealed_gop(v1, 1);
	ops[2] = sealed_gop(none, 4);
	CHECK_EQ_INT(s->ops->groups_apply(s, ops, 3), 0);
	CHECK(ops[0].result == 0 && ops[0].seq == 1 && ops[0].cur_epoch == 1);
	CHECK(ops[1].result == 0 && ops[1].duplicate == 0 && ops[1].seq == 2);
	CHECK(ops[2].result == SOTTO_ERR_STALE_EPOCH && ops[2].cur_epoch == 1);
	store_group_ops_release(ops, 3);
	/* One more Commit: epoch 1's verifier is the previous one; any other is AUTH. */
	ops[0] = gop(STORE_GROUP_COMMIT, alice);
	ops[0].epoch = 1;
	memcpy(ops[0].verifier, v2, sizeof(v2));
	ops[0].data = (struct store_blob){ (const uint8_t *)"E2", 2 };
	ops[1] = sealed_gop(none, 5);
	ops[2] = sealed_gop(v1, 6);
	CHECK_EQ_INT(s->ops->groups_apply(s, ops, 3), 0);
	CHECK(ops[0].result == 0 && ops[0].cur_epoch == 2);
	CHECK_EQ_INT(ops[1].result, SOTTO_ERR_AUTH);
	CHECK(ops[2].result == SOTTO_ERR_STALE_EPOCH && ops[2].cur_epoch == 2);
	store_group_ops_release(ops, 3);
	/* The log: the Commits and the one message; nothing of the refused ones. */
	CHECK_EQ_INT(s->ops->group_memberships(s, alice, 0, ms, 1, &n), 0);
	REQUIRE(n == 1);
	CHECK_EQ_INT(s->ops->group_entries(s, ms[0].grp, 0, UINT64_MAX, e, 4, &n), 0);
	CHECK(n == 3 && e[0].kind == 2 && e[1].kind == 3 && e[1].seq == 2 && e[2].kind == 2);
	store_group_entries_free(e, n);
	server_store_close(s);
	cleanup();
}

TEST(store_group_of_1000_members)
{
	static char names[999][STORE_NAME_MAX + 1];
	struct store_welcome w = { { (const uint8_t *)"W", 1 }, (const char (*)[STORE_NAME_MAX + 1])names,
	    999 };
	struct store_open_opts o = { .create = 1, .durability_full = 0 };
	struct store_group_op op, *acks;
	uint8_t ik[32], dk[32];
	int64_t ids[1000];
	struct server_store *s = NULL;

	fresh_path();
	REQUIRE(store_open_spec(&s, spec, &o) == 0);
	key(ik, 1);
	for (int i = 0; i < 1000; i++) {
		char name[STORE_NAME_MAX + 1];

		snprintf(name, sizeof(name), "m%d", i);
		if (i > 0)
			memcpy(names[i - 1], name, sizeof(name));
		memset(dk, 0, sizeof(dk));
		memcpy(dk, &i, sizeof(i));
		REQUIRE(s->ops->account_create(s, name, ik, dk, NULL, &ids[i]) == 0);
	}
	op = gop(STORE_GROUP_CREATE, ids[0]);
	REQUIRE(s->ops->groups_apply(s, &op, 1) == 0 && op.result == 0);
	op = gop(STORE_GROUP_COMMIT, ids[0]);
	op.members_max = 1000;
	op.data = (struct store_blob){ (const uint8_t *)"C", 1 };
	op.add = (const char (*)[STORE_NAME_MAX + 1])names;
	op.n_add = 999;
	op.welcomes = &w;
	op.n_welcomes = 1;
	REQUIRE(s->ops->groups_apply(s, &op, 1) == 0);
	CHECK_EQ_INT(op.result, 0);
	CHECK_EQ_INT(op.n_members, 1000);
	store_group_ops_release(&op, 1);
	op = gop(STORE_GROUP_MESSAGE, ids[500]);
	op.data = (struct store_blob){ (const uint8_t *)"M", 1 };
	REQUIRE(s->ops->groups_apply(s, &op, 1) == 0);
	CHECK_EQ_INT(op.result, 0);
	CHECK_EQ_INT(op.n_members, 1000);
	store_group_ops_release(&op, 1);
	REQUIRE((acks = calloc(1000, sizeof(*acks))) != NULL);
	for (int i = 0; i < 1000; i++) {
		acks[i] = gop(STORE_GROUP_ACK, ids[i]);
		acks[i].ack_seq = 2;
	}
	/* Everyone but the last has read it: the one row stays. */
	REQUIRE(s->ops->groups_apply(s, acks, 999) == 0);
	CHECK_EQ_INT(table_rows("group_log"), 1);
	REQUIRE(s->ops->groups_apply(s, acks + 999, 1) == 0);
	CHECK_EQ_INT(table_rows("group_log"), 0);
	free(acks);
	server_store_close(s);
	cleanup();
}

/* Occurrences of needle in the first MiB of file (0 if it does not exist). */
static int
file_count(const char *file, const uint8_t *needle, size_t n)
{
	static uint8_t buf[1 << 20];
	FILE *f = fopen(file, "rb");
	size_t len;
	int count = 0;

	if (f == NULL)
		return 0;
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(buf + i, needle, n) == 0)
			count++;
	return count;
}

/*
 * Schema 5 tied every envelope to its sender: records (client message id, sender device)
 * and envelopes naming the sender's account, device key and message id. Opening such a
 * database rekeys the records of waiting envelopes by (recipient, message id), drops the
 * one whose envelope is gone, removes the sender columns and the sender's counters, and
 * leaves the sender's device key in the files only where its account keeps it.
 */
TEST(store_migrates_schema_5_to_unlinked)
{
	static const char v5[] =
	    "CREATE TABLE meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
	    "CREATE TABLE accounts(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	    " identity_key BLOB NOT NULL, device_key BLOB NOT NULL UNIQUE,"
	    " pending INTEGER NOT NULL, created INTEGER NOT NULL,"
	    " pending_bytes INTEGER NOT NULL DEFAULT 0, out_count INTEGER NOT NULL DEFAULT 0,"
	    " out_bytes INTEGER NOT NULL DEFAULT 0);"
	    "CREATE TABLE invites(token_hash BLOB PRIMARY KEY, created INTEGER NOT NULL,"
	    " used INTEGER NOT NULL DEFAULT 0, name TEXT);"
	    "CREATE INDEX invites_by_name ON invites(name) WHERE name IS NOT NULL;"
	    "CREATE TABLE signed_prekeys(account INTEGER PRIMARY KEY, id INTEGER NOT NULL,"
	    " key BLOB NOT NULL, sig BLOB NOT NULL);"
	    "CREATE TABLE prekeys(account INTEGER NOT NULL, id INTEGER NOT NULL,"
	    " key BLOB NOT NULL, PRIMARY KEY(account, id));"
	    "CREATE TABLE envelopes(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	    " recipient INTEGER NOT NULL, ts INTEGER NOT NULL, data BLOB NOT NULL,"
	    " sender INTEGER NOT NULL DEFAULT 0, sender_dev BLOB, cmid BLOB);"
	    "CREATE INDEX envelopes_by_recipient ON envelopes(recipient, id);"
	    "CREATE TABLE sent(cmid BLOB NOT NULL, sender BLOB NOT NULL,"
	    " env_id INTEGER NOT NULL, created INTEGER NOT NULL,"
	    " PRIMARY KEY(cmid, sender)) WITHOUT ROWID;"
	    "CREATE TABLE logins(account INTEGER PRIMARY KEY, proven INTEGER NOT NULL,"
	    " floor INTEGER NOT NULL, issued INTEGER NOT NULL);"
	    "INSERT INTO meta VALUES ('schema', 5);"
	    "INSERT INTO accounts VALUES (7, 'carol', x'01', zeroblob(32), 2, 0, 6, 0, 0);"
	    "INSERT INTO accounts VALUES (8, 'dave', x'02', x'"
	    "d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0', 0, 0, 0, 2, 6);"
	    "INSERT INTO envelopes VALUES (41, 7, 5, x'c0ffee', 8, x'"
	    "d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0',"
	    " x'0102030405060708090a0b0c0d0e0f10');"
	    "INSERT INTO envelopes VALUES (42, 7, 6, x'c0ffee', 8, x'"
	    "d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0',"
	    " x'0102030405060708090a0b0c0d0e0f11');"
	    "INSERT INTO sent SELECT cmid, sender_dev, id, strftime('%s', 'now') FROM envelopes;"
	    "INSERT INTO sent VALUES (x'0102030405060708090a0b0c0d0e0f12', x'"
	    "d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0', 40,"
	    " strftime('%s', 'now'));";
	static const uint8_t dev[32] = { 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9,
	    0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7,
	    0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef, 0xf0 };
	uint8_t cmid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	char wal[300];
	struct store_send sd[1];
	struct server_store *s;
	sqlite3 *db;
	int64_t env_id = 0;
	uint64_t pending = 0;

	fresh_path();
	snprintf(wal, sizeof(wal), "%s-wal", path);
	REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
	REQUIRE(sqlite3_exec(db, v5, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	CHECK(file_count(path, dev, sizeof(dev)) >= 5);
	REQUIRE((s = open_db(0)) != NULL);
	/* The two waiting envelopes keep their records under the new keys. */
	CHECK_EQ_INT(s->ops->sent_get(s, 7, cmid, &env_id), 0);
	CHECK_EQ_INT(env_id, 41);
	cmid[15] = 0x11;
	CHECK_EQ_INT(s->ops->sent_get(s, 7, cmid, &env_id), 0);
	CHECK_EQ_INT(env_id, 42);
	/* A retry is still a duplicate, whoever sends it. */
	hello_sends(sd, 1, 7, 0, 10);
	memcpy(sd[0].cmid, cmid, 16);
	CHECK_EQ_INT(s->ops->envelopes_commit(s, sd, 1), 0);
	CHECK_EQ_INT(sd[0].duplicate, 1);
	CHECK_EQ_INT(s->ops->mailbox_count(s, 7, &pending), 0);
	CHECK_EQ_INT(pending, 2);
	server_store_close(s);
	REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
	{
		sqlite3_stmt *q;

		REQUIRE(sqlite3_prepare_v2(db, "SELECT (SELECT v FROM meta WHERE k = 'schema'),"
		    " (SELECT count(*) FROM sent),"
		    " (SELECT count(*) FROM pragma_table_info('envelopes')),"
		    " (SELECT count(*) FROM pragma_table_info('accounts') WHERE name LIKE 'out%'),"
		    " (SELECT count(*) FROM pragma_table_info('sent'))", -1, &q, NULL) ==
		    SQLITE_OK);
		REQUIRE(sqlite3_step(q) == SQLITE_ROW);
		CHECK_EQ_INT(sqlite3_column_int(q, 0), 12);
		CHECK_EQ_INT(sqlite3_column_int(q, 1), 2);     /* the one of envelope 40 dropped */
		CHECK_EQ_INT(sqlite3_column_int(q, 2), 5);     /* id, recipient, ts, data, idem */
		CHECK_EQ_INT(sqlite3_column_int(q, 3), 0);
		CHECK_EQ_INT(sqlite3_column_int(q, 4), 3);     /* key, env_id, created */
		sqlite3_finalize(q);
	}
	sqlite3_close(db);
	/* Only the account row and the index on device keys still hold it, in the database
	 * and its WAL together. */
	CHECK_EQ_INT(file_count(path, dev, sizeof(dev)) + file_count(wal, dev, sizeof(dev)), 2);
	cleanup();
}

/* KeyPackages: the oldest one-time one goes first and once; the last-resort one stays;
 * two connections claiming at once never get the same one. */
TEST(store_key_packages_claimed_once)
{
	struct server_store *s, *s2 = NULL;
	struct store_open_opts o = { .create = 0, .durability_full = 1 };
	struct store_blob kps[3], lr = { (const uint8_t *)"last", 4 };
	struct store_kp_count left;
	static struct store_kp_claim c, c2;
	uint8_t dk[32], dk2[32];
	int64_t alice, bob;

	REQUIRE((s = open_alice_bob(dk, dk2, &alice, &bob)) != NULL);
	kps[0] = (struct store_blob){ (const uint8_t *)"kp-0", 4 };
	kps[1] = (struct store_blob){ (const uint8_t *)"kp-1", 4 };
	kps[2] = (struct store_blob){ (const uint8_t *)"kp-2", 4 };
	CHECK_EQ_INT(s->ops->key_package_take(s, alice, &c), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(s->ops->key_packages_put(s, alice, kps, 3, &lr, 2, &left), SOTTO_ERR_LIMIT);
	CHECK_EQ_INT(s->ops->key_package_count(s, alice, &left), 0);
	CHECK_EQ_INT(left.count, 0);
	CHECK_EQ_INT(left.has_last_resort, 0);
	CHECK_EQ_INT(s->ops->key_packages_put(s, alice, kps, 3, &lr, 10, &left), 0);
	CHECK_EQ_INT(left.count, 3);
	CHECK_EQ_INT(left.has_last_resort, 1);
	REQUIRE(store_open_spec(&s2, spec, &o) == 0);
	CHECK_EQ_INT(s->ops->key_package_take(s, alice, &c), 0);
	CHECK_EQ_INT(s2->ops->key_package_take(s2, alice, &c2), 0);
	CHECK(c.len == 4 && memcmp(c.data, "kp-0", 4) == 0);
	CHECK(c2.len == 4 && memcmp(c2.data, "kp-1", 4) == 0);
	CHECK_EQ_INT(c2.left.count, 1);
	CHECK_EQ_INT(s->ops->key_package_take(s, alice, &c), 0);
	CHECK(c.len == 4 && memcmp(c.data, "kp-2", 4) == 0);
	CHECK_EQ_INT(c.last_resort, 0);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ_INT(s2->ops->key_package_take(s2, alice, &c), 0);
		CHECK(c.len == 4 && memcmp(c.data, "last", 4) == 0);
		CHECK_EQ_INT(c.last_resort, 1);
		CHECK_EQ_INT(c.left.has_last_resort, 1);
	}
	CHECK_EQ_INT(s->ops->key_package_take(s, bob, &c), SOTTO_ERR_NOT_FOUND);
	server_store_close(s2);
	server_store_close(s);
	cleanup();
}

/* Opening again finds the schema at its version (migrations run once); a database that
 * holds none is not created unless asked. */
TEST(store_opens_twice_and_refuses_missing)
{
	struct server_store *s, *s2;
	uint8_t dk[32], dk2[32];
	int64_t alice, bob;
	struct store_account a;

	fresh_path();
	CHECK(open_db(0) == NULL);
	cleanup();
	REQUIRE((s = open_alice_bob(dk, dk2, &alice, &bob)) != NULL);
	REQUIRE((s2 = open_db(0)) != NULL);
	CHECK_EQ_INT(s2->ops->account_by_name(s2, "bob", &a), 0);
	CHECK_EQ_INT(a.id, bob);
	server_store_close(s2);
	server_store_close(s);
	cleanup();
}

/* Two handles (two connections, as two processes or two nodes would have) at once:
 * 200 one-time prekeys claimed by two threads go out once each, and of two Commits made
 * in the same epoch by two members exactly one is accepted. */
#define RACE_PREKEYS 200

struct race {
	struct server_store *s;
	int64_t account;
	uint32_t got[RACE_PREKEYS];
	int n_got, errors;
	struct store_group_op commit;
	int commit_rc;
};

static void *
race_main(void *arg)
{
	struct race *rc = arg;
	struct store_bundle b;

	for (int i = 0; i < RACE_PREKEYS; i++) {
		if (rc->s->ops->bundle_take(rc->s, rc->account, &b) != 0) {
			rc->errors++;
			continue;
		}
		if (b.has_otpk && rc->n_got < RACE_PREKEYS)
			rc->got[rc->n_got++] = b.otpk.id;
	}
	rc->commit_rc = rc->s->ops->groups_apply(rc->s, &rc->commit, 1);
	return NULL;
}

TEST(store_concurrent_claims_and_commits)
{
	static const char bob_name[][STORE_NAME_MAX + 1] = { "bob" };
	struct store_open_opts o = { .create = 0, .durability_full = 1 };
	static struct race rc[2];
	static struct store_prekey otpk[RACE_PREKEYS];
	struct store_signed_prekey spk = { .id = 1 };
	struct store_group_op op;
	struct server_store *s;
	pthread_t th[2];
	uint8_t dk[32], dk2[32], seen[RACE_PREKEYS] = { 0 };
	int64_t alice, bob;
	int total = 0, twice = 0, accepted = 0, stale = 0;

	REQUIRE((s = open_alice_bob(dk, dk2, &alice, &bob)) != NULL);
	for (int i = 0; i < RACE_PREKEYS; i++) {
		otpk[i].id = (uint32_t)i;
		memset(otpk[i].key, i & 0xff, 32);
	}
	REQUIRE(s->ops->prekeys_put(s, bob, &spk, otpk, RACE_PREKEYS, NULL, RACE_PREKEYS) == 0);
	/* A group of alice and bob at epoch 1. */
	op = gop(STORE_GROUP_CREATE, alice);
	REQUIRE(s->ops->groups_apply(s, &op, 1) == 0 && op.result == 0);
	op = gop(STORE_GROUP_COMMIT, alice);
	op.data = (struct store_blob){ (const uint8_t *)"C0", 2 };
	op.add = bob_name;
	op.n_add = 1;
	{
		struct store_welcome w = { { (const uint8_t *)"W", 1 }, bob_name, 1 };
		op.welcomes = &w;
		op.n_welcomes = 1;
		REQUIRE(s->ops->groups_apply(s, &op, 1) == 0);
		CHECK_EQ_INT(op.result, 0);
	}
	store_group_ops_release(&op, 1);
	memset(rc, 0, sizeof(rc));
	for (int t = 0; t < 2; t++) {
		REQUIRE(store_open_spec(&rc[t].s, spec, &o) == 0);
		rc[t].account = bob;
		rc[t].commit = gop(STORE_GROUP_COMMIT, t == 0 ? alice : bob);
		rc[t].commit.epoch = 1;
		rc[t].commit.data = (struct store_blob){ (const uint8_t *)(t == 0 ? "CA" : "CB"),
		    2 };
	}
	for (int t = 0; t < 2; t++)
		REQUIRE(pthread_create(&th[t], NULL, race_main, &rc[t]) == 0);
	for (int t = 0; t < 2; t++)
		pthread_join(th[t], NULL);
	for (int t = 0; t < 2; t++) {
		CHECK_EQ_INT(rc[t].errors, 0);
		CHECK_EQ_INT(rc[t].commit_rc, 0);
		for (int i = 0; i < rc[t].n_got; i++) {
			twice += seen[rc[t].got[i]]++ != 0;
			total++;
		}
		accepted += rc[t].commit.result == 0;
		stale += rc[t].commit.result == SOTTO_ERR_STALE_EPOCH;
		store_group_ops_release(&rc[t].commit, 1);
		server_store_close(rc[t].s);
	}
	CHECK_EQ_INT(total, RACE_PREKEYS);
	CHECK_EQ_INT(twice, 0);
	CHECK_EQ_INT(accepted, 1);
	CHECK_EQ_INT(stale, 1);
	server_store_close(s);
	cleanup();
}

/*
 * Two handles (two nodes' writers) commit batches of SENDs to the same BATCH_ACCOUNTS
 * mailboxes at once, one in ascending order of recipient, the other in descending order:
 * every batch is stored. Before each batch locked its mailboxes' counters in one order,
 * PostgreSQL found deadlocks between them and failed one batch of each.
 */
#define BATCH_ACCOUNTS 20
#define BATCH_ROUNDS 40

struct batch_race {
	struct server_store *s;
	const int64_t *accounts;
	int t, failed;
};

static void *
batch_main(void *arg)
{
	struct batch_race *br = arg;
	struct store_send sd[BATCH_ACCOUNTS];

	for (int r = 0; r < BATCH_ROUNDS; r++) {
		memset(sd, 0, sizeof(sd));
		for (int i = 0; i < BATCH_ACCOUNTS; i++) {
			int k = br->t == 0 ? i : BATCH_ACCOUNTS - 1 - i;

			sd[i].recipient = br->accounts[k];
			sd[i].cmid[0] = (uint8_t)br->t;
			sd[i].cmid[1] = (uint8_t)r;
			sd[i].env_id = 1000000 * (br->t + 1) + 100 * r + i;
			sd[i].data = (const uint8_t *)"hello";
			sd[i].len = 5;
			sd[i].mailbox_max = 1000;
		}
		if (br->s->ops->envelopes_commit(br->s, sd, BATCH_ACCOUNTS) != 0)
			br->failed++;
		else
			for (int i = 0; i < BATCH_ACCOUNTS; i++)
				br->failed += sd[i].result != 0;
	}
	return NULL;
}

TEST(store_concurrent_batches_in_opposite_orders)
{
	struct store_open_opts o = { .create = 0, .durability_full = 1 };
	struct batch_race br[2];
	struct server_store *s;
	pthread_t th[2];
	int64_t accounts[BATCH_ACCOUNTS];
	uint8_t ik[32], dk[32];
	char name[16];
	uint64_t n;

	fresh_path();
	REQUIRE((s = open_db(1)) != NULL);
	key(ik, 1);
	for (int i = 0; i < BATCH_ACCOUNTS; i++) {
		snprintf(name, sizeof(name), "user%d", i);
		key(dk, (uint8_t)(10 + i));
		REQUIRE(s->ops->account_create(s, name, ik, dk, NULL, &accounts[i]) == 0);
	}
	memset(br, 0, sizeof(br));
	for (int t = 0; t < 2; t++) {
		REQUIRE(store_open_spec(&br[t].s, spec, &o) == 0);
		br[t].accounts = accounts;
		br[t].t = t;
	}
	for (int t = 0; t < 2; t++)
		REQUIRE(pthread_create(&th[t], NULL, batch_main, &br[t]) == 0);
	for (int t = 0; t < 2; t++)
		pthread_join(th[t], NULL);
	for (int t = 0; t < 2; t++) {
		CHECK_EQ_INT(br[t].failed, 0);
		server_store_close(br[t].s);
	}
	for (int i = 0; i < BATCH_ACCOUNTS; i++) {
		CHECK_EQ_INT(s->ops->mailbox_count(s, accounts[i], &n), 0);
		CHECK_EQ_INT(n, 2 * BATCH_ROUNDS);
	}
	server_store_close(s);
	cleanup();
}

/* The verifier of an account's delivery token: set, read with the account, replaced,
 * removed; an unknown account is NOT_FOUND. */
TEST(store_delivery_verifier)
{
	struct server_store *s;
	struct store_account a;
	uint8_t dk[32], dk2[32], v[32];
	int64_t alice, bob;

	REQUIRE((s = open_alice_bob(dk, dk2, &alice, &bob)) != NULL);
	CHECK_EQ_INT(s->ops->account_by_name(s, "bob", &a), 0);
	CHECK_EQ_INT(a.has_delivery, 0);
	memset(v, 0x5a, sizeof(v));
	CHECK_EQ_INT(s->ops->delivery_set(s, bob, v), 0);
	CHECK_EQ_INT(s->ops->account_by_device(s, dk2, &a), 0);
	CHECK_EQ_INT(a.id, bob);
	CHECK_EQ_INT(a.has_delivery, 1);
	CHECK(memcmp(a.delivery, v, 32) == 0);
	v[31] = 1;
	CHECK_EQ_INT(s->ops->delivery_set(s, bob, v), 0);
	CHECK_EQ_INT(s->ops->account_by_name(s, "bob", &a), 0);
	CHECK(a.has_delivery == 1 && memcmp(a.delivery, v, 32) == 0);
	CHECK_EQ_INT(s->ops->account_by_name(s, "alice", &a), 0);
	CHECK_EQ_INT(a.has_delivery, 0);
	CHECK_EQ_INT(s->ops->delivery_set(s, bob, NULL), 0);
	CHECK_EQ_INT(s->ops->account_by_name(s, "bob", &a), 0);
	CHECK_EQ_INT(a.has_delivery, 0);
	CHECK_EQ_INT(s->ops->delivery_set(s, bob + alice + 100, v), SOTTO_ERR_NOT_FOUND);
	server_store_close(s);
	cleanup();
}

/* An integer the PostgreSQL of SOTTO_TEST_PG answers to sql (-1: an error). */
static int64_t
pg_admin_int(const char *sql)
{
	PGresult *r = PQexec(pg_admin, sql);
	int64_t n = -1;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return n;
}

/* Runs tmpl with every "%S" replaced by the test's schema name. */
static int
pg_admin_exec_schema(const char *tmpl)
{
	char sql[4096];
	size_t n = 0, sl = strlen(schema);

	for (const char *c = tmpl; *c != '\0' && n + sl < sizeof(sql) - 1; c++) {
		if (c[0] == '%' && c[1] == 'S') {
			memcpy(sql + n, schema, sl);
			n += sl;
			c++;
		} else {
			sql[n++] = *c;
		}
	}
	sql[n] = '\0';
	return pg_admin_exec(sql);
}

/*
 * PostgreSQL only: a schema-1 database (before the group and ML-KEM tables, with the
 * idempotency records keyed by sender device and envelopes naming their sender) is brought
 * to the current schema when opened, keeping its data: the records of waiting envelopes
 * are rekeyed by (recipient, message id), the one whose envelope is gone is dropped, the
 * sender columns and counters are gone. A newer schema than this sottod's is refused.
 */
TEST(store_pg_migrates_and_refuses_newer)
{
	static const char to_v1[] =
	    "DROP TABLE %S.groups, %S.group_log, %S.group_members, %S.group_welcomes,"
	    " %S.kem_prekeys, %S.blobs, %S.sent, %S.envelopes;"
	    "ALTER TABLE %S.accounts DROP COLUMN delivery,"
	    " ADD COLUMN out_count bigint NOT NULL DEFAULT 0,"
	    " ADD COLUMN out_bytes bigint NOT NULL DEFAULT 0;"
	    "CREATE TABLE %S.envelopes(id bigint PRIMARY KEY, recipient bigint NOT NULL,"
	    " ts bigint NOT NULL, data bytea NOT NULL, sender bigint NOT NULL DEFAULT 0,"
	    " sender_dev bytea, cmid bytea);"
	    "CREATE INDEX ON %S.envelopes(recipient, id);"
	    "CREATE TABLE %S.sent(cmid bytea NOT NULL, sender bytea NOT NULL,"
	    " env_id bigint NOT NULL, created bigint NOT NULL, PRIMARY KEY(cmid, sender));"
	    "INSERT INTO %S.envelopes SELECT 40 + i, b.id, 5, '\\xc0ffee', a.id,"
	    " a.device_key, decode('0102030405060708090a0b0c0d0e0f1' || i, 'hex')"
	    " FROM %S.accounts a, %S.accounts b, generate_series(1, 2) i"
	    " WHERE a.name = 'alice' AND b.name = 'bob';"
	    "INSERT INTO %S.sent SELECT cmid, sender_dev, id,"
	    " extract(epoch FROM now())::bigint FROM %S.envelopes;"
	    "INSERT INTO %S.sent SELECT decode('0102030405060708090a0b0c0d0e0f13', 'hex'),"
	    " device_key, 40, extract(epoch FROM now())::bigint FROM %S.accounts"
	    " WHERE name = 'alice';"
	    "UPDATE %S.accounts SET pending = 2, pending_bytes = 6 WHERE name = 'bob';"
	    "UPDATE %S.accounts SET out_count = 2, out_bytes = 6 WHERE name = 'alice';"
	    "UPDATE %S.meta SET v = 42 WHERE k = 'env_id_max';"
	    "ALTER TABLE %S.invites DROP COLUMN expires, DROP COLUMN uses,"
	    " DROP COLUMN revoked;"
	    "DROP TABLE %S.meta_text;"
	    "UPDATE %S.schema_version SET version = 1;";
	struct store_open_opts o = { .create = 0, .durability_full = 1 };
	struct server_store *s;
	struct store_account a;
	struct store_group_op op;
	struct store_send sd[1];
	struct store_del del = { 0 };
	uint8_t dk[32], dk2[32];
	uint8_t cmid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0x11 };
	int64_t alice, bob, env_id = 0;
	uint64_t pending = 0;
	char sql[512];

	REQUIRE((s = open_alice_bob(dk, dk2, &alice, &bob)) != NULL);
	server_store_close(s);
	REQUIRE(pg_admin_exec_schema(to_v1) == 0);
	REQUIRE(store_open_spec(&s, spec, &o) == 0);
	CHECK_EQ_INT(s->ops->account_by_name(s, "bob", &a), 0);
	CHECK_EQ_INT(a.id, bob);
	CHECK_EQ_INT(a.has_delivery, 0);
	op = gop(STORE_GROUP_CREATE, alice);
	CHECK_EQ_INT(s->ops->groups_apply(s, &op, 1), 0);
	CHECK_EQ_INT(op.result, 0);
	/* The records of envelopes 41 and 42 rekeyed; a retry of 42 is still a duplicate. */
	CHECK_EQ_INT(s->ops->sent_get(s, bob, cmid, &env_id), 0);
	CHECK_EQ_INT(env_id, 41);
	CHECK_EQ_INT(table_rows("sent"), 2);
	hello_sends(sd, 1, bob, 0, 10);
	memcpy(sd[0].cmid, cmid, 16);
	sd[0].cmid[15] = 0x12;
	CHECK_EQ_INT(s->ops->envelopes_commit(s, sd, 1), 0);
	CHECK_EQ_INT(sd[0].duplicate, 1);
	CHECK_EQ_INT(sd[0].env_id, 42);
	CHECK_EQ_INT(s->ops->mailbox_count(s, bob, &pending), 0);
	CHECK_EQ_INT(pending, 2);
	/* RECEIVED of 41 ends its record with it. */
	del.recipient = bob;
	del.id = 41;
	CHECK_EQ_INT(s->ops->envelopes_delete(s, &del, 1), 0);
	CHECK_EQ_INT(table_rows("sent"), 1);
	server_store_close(s);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM information_schema.columns"
	    " WHERE table_schema = '%s' AND (column_name IN ('sender', 'sender_dev',"
	    " 'out_count', 'out_bytes') OR (table_name = 'envelopes' AND column_name = 'cmid'))",
	    schema);
	CHECK_EQ_INT(pg_admin_int(sql), 0);
	CHECK_EQ_INT(table_rows("group_log"), 0);    /* the tables are there again */
	CHECK_EQ_INT(table_rows("kem_prekeys"), 0);
	CHECK_EQ_INT(table_rows("blobs"), 0);
	CHECK_EQ_INT(table_rows("meta_text"), 0);
	snprintf(sql, sizeof(sql), "UPDATE %s.schema_version SET version = 99", schema);
	REQUIRE(pg_admin_exec(sql) == 0);
	s = NULL;
	CHECK_EQ_INT(store_open_spec(&s, spec, &o), SOTTO_ERR_BAD_VERSION);
	CHECK(s == NULL);
	cleanup();
}

/* PostgreSQL only: a connection lost between operations (a restart, a failover, an
 * administrator's pg_terminate_backend) fails at most the operation that finds it lost;
 * the next one connects again, with its prepared statements, and nothing is lost. */
TEST(store_pg_reconnects_between_transactions)
{
	struct server_store *s;
	struct store_send sd[2];
	uint8_t dk[32], dk2[32];
	int64_t alice, bob;
	uint64_t pending = 0;
	int r, failed = 0;

	REQUIRE((s = open_alice_bob(dk, dk2, &alice, &bob)) != NULL);
	hello_sends(sd, 2, bob, 0x70, 10);
	REQUIRE(s->ops->envelopes_commit(s, sd, 1) == 0);
	REQUIRE(pg_admin_exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
	    " WHERE application_name = 'sottod' AND pid <> pg_backend_pid()") == 0);
	/* The first use may find it gone (and fail whole); the second connects again. */
	for (int i = 0; i < 2; i++) {
		r = s->ops->envelopes_commit(s, sd + 1, 1);
		if (r == 0)
			break;
		CHECK_EQ_INT(r, SOTTO_ERR_STORAGE);
		CHECK_EQ_INT(sd[1].result, SOTTO_ERR_STORAGE);
		failed++;
	}
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(sd[1].result, 0);
	CHECK_EQ_INT(s->ops->mailbox_count(s, bob, &pending), 0);
	CHECK_EQ_INT(pending, 2);
	printf("# %d operation(s) failed before the connection was made again\n", failed);
	server_store_close(s);
	cleanup();
}

/* Runs a contract test against each backend, naming it. */
#define RUN_BOTH(name) do {                                                            \
	pg = 0;                                                                        \
	check_begin(#name " (sqlite)"); name(); check_end();                           \
	pg = 1;                                                                        \
	check_begin(#name " (postgresql)");                                            \
	if (pg_admin != NULL)                                                          \
		name();                                                                \
	else                                                                           \
		check_fail(__FILE__, __LINE__, "SOTTO_TEST_PG: no PostgreSQL to test"); \
	check_end();                                                                   \
	pg = 0;                                                                        \
} while (0)

/* Runs a test of the PostgreSQL backend alone. */
#define RUN_PG(name) do {                                                              \
	pg = 1;                                                                        \
	check_begin(#name " (postgresql)");                                            \
	if (pg_admin != NULL)                                                          \
		name();                                                                \
	else                                                                           \
		check_fail(__FILE__, __LINE__, "SOTTO_TEST_PG: no PostgreSQL to test"); \
	check_end();                                                                   \
	pg = 0;                                                                        \
} while (0)

/* The PostgreSQL of SOTTO_TEST_PG (scripts/run-tests starts one): without it the
 * PostgreSQL runs fail, never skip. */
static void
pg_connect(void)
{
	const char *base = getenv("SOTTO_TEST_PG");

	if (base == NULL || *base == '\0') {
		fprintf(stderr, "SOTTO_TEST_PG is not set: run under scripts/pg-throwaway\n");
		return;
	}
	pg_admin = PQconnectdb(base);
	if (PQstatus(pg_admin) == CONNECTION_OK)
		(void)pg_admin_exec("SET client_min_messages = warning");
	if (PQstatus(pg_admin) != CONNECTION_OK) {
		fprintf(stderr, "SOTTO_TEST_PG: %s", PQerrorMessage(pg_admin));
		PQfinish(pg_admin);
		pg_admin = NULL;
	}
}

int
main(void)
{
	log_set_level(LOG_ERROR - 1);
	pg_connect();
	RUN_BOTH(store_groups_and_key_packages);
	RUN_BOTH(store_group_tokens);
	RUN_BOTH(store_group_token_registered_late);
	RUN_BOTH(store_group_of_1000_members);
	RUN_BOTH(store_accounts_and_invites);
	RUN_BOTH(store_admin_invites_domain_and_stats);
	RUN_BOTH(store_prekeys_handed_out_once);
	RUN_BOTH(store_kem_prekeys_once_then_last_resort);
	RUN_BOTH(store_blob_records);
	RUN_BOTH(store_envelopes_idempotent_capped_and_deleted);
	RUN_BOTH(store_sent_records_pruned_in_chunks);
	RUN_BOTH(store_key_packages_claimed_once);
	RUN_BOTH(store_opens_twice_and_refuses_missing);
	RUN_BOTH(store_concurrent_claims_and_commits);
	RUN_BOTH(store_concurrent_batches_in_opposite_orders);
	RUN_BOTH(store_delivery_verifier);
	RUN(store_refuses_corrupt_or_missing);
	RUN_BOTH(commit_group_and_disk_full);
	RUN_BOTH(commit_deferred_records_wait_then_go_in_order);
	RUN(store_migrates_schema_1);
	RUN(store_migrates_schema_5_to_unlinked);
	RUN_PG(store_pg_migrates_and_refuses_newer);
	RUN_PG(store_pg_reconnects_between_transactions);
	PQfinish(pg_admin);
	return check_summary();
}
