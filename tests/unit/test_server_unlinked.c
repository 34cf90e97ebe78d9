/*
 * A server that does not learn who writes to whom (issue 15), against a real sottod:
 * a SEND retried after its connection dropped is stored once, and no table of the
 * database ties an envelope to the account, device or identity that sent it
 * (docs/SERVER.md "Idempotency"); SEND_SEALED on unidentified connections (Noise_NK),
 * authorised by the recipient's delivery token, refused with a wrong or rotated one,
 * limited per mailbox (docs/PROTOCOL-wire.md).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "check.h"
#include "client/conn.h"
#include "wire/address.h"
#include "sottod_proc.h"
#include "waitfor.h"

#define MAX_ENV 16

/* This program's client message ids. */
static void
cmid_of(uint8_t cmid[16], int i)
{
	sottod_proc_cmid(cmid, i, 0x15);
}

struct db_count {
	const struct sottod_proc *sp;
	const char *sql;
	int64_t want;
};

static int
db_count_is(void *arg)
{
	struct db_count *d = arg;

	return sottod_proc_db_int(d->sp, d->sql) == d->want;
}

/* Writes a SEND on u's connection and drops the connection without reading the answer. */
static int
send_and_drop(struct test_user *u, const char *to, const uint8_t cmid[16], const char *env)
{
	struct proto_msg m;
	int r;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_SEND;
	m.id = 77;
	snprintf(m.u.send.recipient, sizeof(m.u.send.recipient), "%s", to);
	memcpy(m.u.send.client_msg_id, cmid, 16);
	m.u.send.envelope = (const uint8_t *)env;
	m.u.send.envelope_len = strlen(env);
	r = conn_send(u->c, &m);
	test_user_close(u);
	return r;
}

/*
 * A SEND whose connection drops before its answer, retried on a new connection, again
 * after a restart: one envelope, one record. The same message id to another recipient is
 * another message. The recipient's RECEIVED ends the record.
 */
TEST(retry_after_dropped_connection_stored_once)
{
	struct sottod_proc sp;
	struct test_user a, b, c;
	struct db_count d;
	uint8_t cmid[16];

	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	REQUIRE(test_user_join(&c, &sp, "carol") == 0);
	test_user_close(&b);
	test_user_close(&c);
	cmid_of(cmid, 1);
	CHECK_EQ_INT(send_and_drop(&a, "bob@localhost", cmid, "dropped"), 0);
	d.sp = &sp;
	d.sql = "SELECT count(*) FROM envelopes";
	d.want = 1;
	CHECK(wait_until(db_count_is, &d, 5000));
	REQUIRE(test_user_connect(&a, &sp) == 0);
	CHECK_EQ_INT(test_user_send(&a, "bob@localhost", cmid, "dropped", 7), 0);
	test_user_close(&a);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGKILL), 128 + SIGKILL);
	REQUIRE(sottod_proc_start(&sp) == 0);
	REQUIRE(test_user_connect(&a, &sp) == 0);
	CHECK_EQ_INT(test_user_send(&a, "bob@localhost", cmid, "dropped", 7), 0);
	/* The same message id to carol: not a retry of bob's. */
	CHECK_EQ_INT(test_user_send(&a, "carol@localhost", cmid, "to carol", 8), 0);
	test_user_close(&a);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM envelopes"), 2);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM sent"), 2);
	REQUIRE(test_user_connect(&b, &sp) == 0);
	CHECK_EQ_INT(test_user_drain(&b, 2, 1000), 1);
	test_user_close(&b);
	d.sql = "SELECT count(*) FROM sent";
	d.want = 1;
	CHECK(wait_until(db_count_is, &d, 5000));
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

/* What the sender is in the database: its account id, name and keys. */
struct sender {
	int64_t id;
	const char *name;
	const uint8_t *keys[2];         /* identity and device public keys */
};

/* What marks an envelope: its id, its idempotency key, its bytes. */
struct envelopes {
	int64_t id[MAX_ENV];
	uint8_t idem[MAX_ENV][32];
	size_t n;
};

static int
blob_has(const void *b, int len, const uint8_t *needle, size_t n)
{
	return b != NULL && len >= (int)n && memmem(b, (size_t)len, needle, n) != NULL;
}

/* Whether one cell names the sender; col is the cell's column name. */
static int
cell_names_sender(sqlite3_stmt *q, int i, const struct sender *snd)
{
	const char *col = sqlite3_column_name(q, i);
	const void *b = sqlite3_column_blob(q, i);
	int len = sqlite3_column_bytes(q, i);

	switch (sqlite3_column_type(q, i)) {
	case SQLITE_INTEGER:
		return (strcmp(col, "id") == 0 || strstr(col, "account") != NULL ||
		    strstr(col, "sender") != NULL) && sqlite3_column_int64(q, i) == snd->id;
	case SQLITE_TEXT:
		return strstr((const char *)sqlite3_column_text(q, i), snd->name) != NULL;
	case SQLITE_BLOB:
		return blob_has(b, len, snd->keys[0], 32) || blob_has(b, len, snd->keys[1], 32);
	default:
		return 0;
	}
}

static int
cell_names_envelope(sqlite3_stmt *q, int i, const struct envelopes *e)
{
	const void *b = sqlite3_column_blob(q, i);
	int len = sqlite3_column_bytes(q, i);

	for (size_t k = 0; k < e->n; k++) {
		if (sqlite3_column_type(q, i) == SQLITE_INTEGER &&
		    sqlite3_column_int64(q, i) == e->id[k])
			return 1;
		if (sqlite3_column_type(q, i) == SQLITE_BLOB && blob_has(b, len, e->idem[k], 32))
			return 1;
	}
	return 0;
}

/* 1 if table t holds both a cell naming the sender and one naming an envelope. */
static int
table_links(sqlite3 *db, const char *t, const struct sender *snd, const struct envelopes *e)
{
	char sql[128];
	sqlite3_stmt *q = NULL;
	int names = 0, envs = 0;

	snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\"", t);
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		return 1;
	while (sqlite3_step(q) == SQLITE_ROW)
		for (int i = 0; i < sqlite3_column_count(q); i++) {
			names |= cell_names_sender(q, i, snd);
			envs |= cell_names_envelope(q, i, e);
		}
	sqlite3_finalize(q);
	if (names && envs)
		fprintf(stderr, "# table %s names the sender and an envelope\n", t);
	return names && envs;
}

/*
 * The database of the stopped server sp after alice (a) wrote: want envelopes wait, each
 * with its idempotency record, no table holds both something of alice (her account id,
 * name, identity or device key) and something of an envelope (its id or its record's
 * key), and no column outside accounts is named for a sender or a device.
 */
static void
check_no_table_links(const struct sottod_proc *sp, const struct test_user *a, size_t want)
{
	struct sender snd;
	struct envelopes e;
	char path[256];
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int tables = 0;

	if (sp->pg_db[0] != '\0') {
		/* PostgreSQL: the same counts, and by its catalogue no column is named for a
		 * sender and the envelopes and records hold only their own columns. */
		CHECK_EQ_INT(sottod_proc_db_int(sp, "SELECT count(*) FROM envelopes"), want);
		CHECK_EQ_INT(sottod_proc_db_int(sp, "SELECT count(*) FROM sent"), want);
		CHECK_EQ_INT(sottod_proc_db_int(sp, "SELECT count(*) FROM information_schema.tables"
		    " WHERE table_schema = current_schema()") >= 8, 1);
		CHECK_EQ_INT(sottod_proc_db_int(sp, "SELECT count(*) FROM information_schema.columns"
		    " WHERE table_schema = current_schema() AND (column_name LIKE '%sender%'"
		    " OR column_name LIKE '%dev%' AND table_name <> 'accounts')"), 0);
		CHECK_EQ_INT(sottod_proc_db_int(sp, "SELECT count(*) FROM information_schema.columns"
		    " WHERE table_schema = current_schema() AND table_name IN ('envelopes', 'sent')"
		    " AND column_name NOT IN ('id', 'recipient', 'ts', 'data', 'idem', 'key',"
		    " 'env_id', 'created')"), 0);
		return;
	}
	snd.id = sottod_proc_db_int(sp, "SELECT id FROM accounts WHERE name = 'alice'");
	snd.name = "alice";
	snd.keys[0] = a->id_pk;
	snd.keys[1] = a->dev_pk;
	snprintf(path, sizeof(path), "%s/sottod.db", sp->dir);
	REQUIRE(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	memset(&e, 0, sizeof(e));
	if (sqlite3_prepare_v2(db, "SELECT id, idem FROM envelopes", -1, &q, NULL) == SQLITE_OK)
		while (sqlite3_step(q) == SQLITE_ROW && e.n < MAX_ENV) {
			e.id[e.n] = sqlite3_column_int64(q, 0);
			if (sqlite3_column_bytes(q, 1) == 32)
				memcpy(e.idem[e.n], sqlite3_column_blob(q, 1), 32);
			e.n++;
		}
	sqlite3_finalize(q);
	CHECK_EQ_INT(e.n, want);
	CHECK_EQ_INT(sottod_proc_db_int(sp, "SELECT count(*) FROM sent"), want);
	if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table'", -1,
	    &q, NULL) == SQLITE_OK)
		while (sqlite3_step(q) == SQLITE_ROW) {
			tables++;
			CHECK(!table_links(db, (const char *)sqlite3_column_text(q, 0), &snd, &e));
		}
	sqlite3_finalize(q);
	CHECK(tables >= 8);
	CHECK_EQ_INT(sottod_proc_db_int(sp, "SELECT count(*) FROM sqlite_master m,"
	    " pragma_table_info(m.name) c WHERE m.type = 'table' AND (c.name LIKE '%sender%'"
	    " OR c.name LIKE '%dev%' AND m.name <> 'accounts')"), 0);
	sqlite3_close(db);
}

/*
 * alice writes to bob (offline) and retries; carol writes to bob too. Then, in every table
 * of the database: none holds both something of alice (her account id, name, identity or
 * device key) and something of an envelope (its id or its idempotency key), and no
 * column is named for a sender.
 */
TEST(no_table_ties_an_envelope_to_its_sender)
{
	struct sottod_proc sp;
	struct test_user a, b, c;
	uint8_t cmid[16];

	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	REQUIRE(test_user_join(&c, &sp, "carol") == 0);
	test_user_close(&b);
	for (int i = 0; i < 3; i++) {
		cmid_of(cmid, 10 + i);
		CHECK_EQ_INT(test_user_send(&a, "bob@localhost", cmid, "from alice", 10), 0);
		CHECK_EQ_INT(test_user_send(&a, "bob@localhost", cmid, "from alice", 10), 0);
	}
	cmid_of(cmid, 20);
	CHECK_EQ_INT(test_user_send(&c, "bob@localhost", cmid, "from carol", 10), 0);
	test_user_close(&a);
	test_user_close(&c);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);

	check_no_table_links(&sp, &a, 4);
	sottod_proc_cleanup(&sp);
}

/* DELIVERY_TOKEN on u's identified connection: the verifier of token (NULL: none). */
static int
set_token(struct test_user *u, const uint8_t *token)
{
	memset(&u->req, 0, sizeof(u->req));
	u->req.type = PROTO_DELIVERY_TOKEN;
	if (token != NULL)
		proto_delivery_verifier(u->req.u.delivery.verifier, token);
	return test_user_request(u, 5000);
}

/* SEND_SEALED on the unidentified connection c: the answer's status. */
static int
send_sealed(struct conn *c, const char *to, const uint8_t token[32], const char *env)
{
	struct proto_msg req, resp;

	memset(&req, 0, sizeof(req));
	req.type = PROTO_SEND_SEALED;
	snprintf(req.u.send.recipient, sizeof(req.u.send.recipient), "%s", to);
	randombytes_buf(req.u.send.client_msg_id, 16);
	memcpy(req.u.send.token, token, 32);
	req.u.send.envelope = (const uint8_t *)env;
	req.u.send.envelope_len = strlen(env);
	if (conn_request(c, &req, &resp, 5000) != 0)
		return TEST_USER_NO_ANSWER;
	return resp.type == (PROTO_RESPONSE | PROTO_SEND_SEALED) ? resp.status :
	    TEST_USER_NO_ANSWER;
}

/*
 * Bob gives out a delivery token; a connection without any static key sends to him with
 * it and bob gets the envelope. Before he set one, with another token, after he rotated
 * it or removed it: refused. An unidentified connection may only SEND_SEALED, an
 * identified one never.
 */
TEST(sealed_send_needs_the_current_token)
{
	struct sottod_proc sp;
	struct test_user a, b;
	struct conn *c = NULL;
	uint8_t t1[32], t2[32], cmid[16];

	randombytes_buf(t1, sizeof(t1));
	randombytes_buf(t2, sizeof(t2));
	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	/* Pinned to another server key: no connection (the server cannot read -> e, es). */
	{
		struct address_server as;
		uint8_t sk[64];
		char other[ADDRESS_SERVER_MAX + 1];

		REQUIRE(address_server_parse(sp.address, &as) == 0);
		crypto_sign_keypair(as.key, sk);
		REQUIRE(address_server_format(&as, other, sizeof(other)) == 0);
		CHECK(conn_open_sealed(&c, other, 5000) != 0);
		CHECK(c == NULL);
	}
	REQUIRE(conn_open_sealed(&c, sp.address, 5000) == 0);
	CHECK_EQ_INT(send_sealed(c, "bob@localhost", t1, "before"), SOTTO_ERR_AUTH);
	CHECK_EQ_INT(set_token(&b, t1), 0);
	test_user_close(&b);
	CHECK_EQ_INT(send_sealed(c, "bob@localhost", t2, "wrong"), SOTTO_ERR_AUTH);
	CHECK_EQ_INT(send_sealed(c, "bob@localhost", t1, "sealed one"), 0);
	CHECK_EQ_INT(send_sealed(c, "nobody@localhost", t1, "x"), SOTTO_ERR_UNKNOWN_USER);
	/* Only SEND_SEALED here; and never on an identified connection. */
	{
		struct proto_msg req, resp;

		memset(&req, 0, sizeof(req));
		req.type = PROTO_LOOKUP;
		snprintf(req.u.lookup.address, sizeof(req.u.lookup.address), "bob@localhost");
		CHECK(conn_request(c, &req, &resp, 5000) == 0 && resp.status == SOTTO_ERR_AUTH);
	}
	cmid_of(cmid, 30);
	memset(&a.req, 0, sizeof(a.req));
	a.req.type = PROTO_SEND_SEALED;
	snprintf(a.req.u.send.recipient, sizeof(a.req.u.send.recipient), "bob@localhost");
	memcpy(a.req.u.send.client_msg_id, cmid, 16);
	memcpy(a.req.u.send.token, t1, 32);
	a.req.u.send.envelope = (const uint8_t *)"linked";
	a.req.u.send.envelope_len = 6;
	CHECK_EQ_INT(test_user_request(&a, 5000), SOTTO_ERR_AUTH);
	/* Bob reads it: exactly the sealed one. */
	REQUIRE(test_user_connect(&b, &sp) == 0);
	REQUIRE(test_user_next_push(&b, 5000) == 0);
	CHECK(b.ev.u.push.envelope_len == 10 &&
	    memcmp(b.ev.u.push.envelope, "sealed one", 10) == 0);
	/* Rotated: the old token stops working, the new one works, on the same connection. */
	CHECK_EQ_INT(set_token(&b, t2), 0);
	CHECK_EQ_INT(send_sealed(c, "bob@localhost", t1, "old"), SOTTO_ERR_AUTH);
	CHECK_EQ_INT(send_sealed(c, "bob@localhost", t2, "new"), 0);
	/* Removed: nothing sealed reaches bob. */
	CHECK_EQ_INT(set_token(&b, NULL), 0);
	CHECK_EQ_INT(send_sealed(c, "bob@localhost", t2, "none"), SOTTO_ERR_AUTH);
	conn_close(c);
	/* Across a restart the store keeps the verifier. */
	CHECK_EQ_INT(set_token(&b, t1), 0);
	test_user_close(&b);
	test_user_close(&a);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	REQUIRE(sottod_proc_start(&sp) == 0);
	REQUIRE(conn_open_sealed(&c, sp.address, 5000) == 0);
	CHECK_EQ_INT(send_sealed(c, "bob@localhost", t1, "after restart"), 0);
	CHECK_EQ_INT(send_sealed(c, "bob@localhost", t2, "after restart"), SOTTO_ERR_AUTH);
	conn_close(c);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

/* SEND_SEALED of env under cmid on c; with drop, the answer is not read. */
static int
send_sealed_id(struct conn *c, const char *to, const uint8_t token[32],
    const uint8_t cmid[16], const char *env, int drop)
{
	struct proto_msg req, resp;

	memset(&req, 0, sizeof(req));
	req.type = PROTO_SEND_SEALED;
	req.id = 5;
	snprintf(req.u.send.recipient, sizeof(req.u.send.recipient), "%s", to);
	memcpy(req.u.send.client_msg_id, cmid, 16);
	memcpy(req.u.send.token, token, 32);
	req.u.send.envelope = (const uint8_t *)env;
	req.u.send.envelope_len = strlen(env);
	if (drop)
		return conn_send(c, &req);
	if (conn_request(c, &req, &resp, 5000) != 0)
		return TEST_USER_NO_ANSWER;
	return resp.status;
}

/*
 * The client's retries (docs/PROTOCOL.md 7.0): a SEND_SEALED whose unidentified connection
 * drops before the answer, retried on a new one, is stored once; so is the identified SEND
 * a client falls back to under the same id. A refused SEND_SEALED (a rotated token) writes
 * nothing, so its identified retry is stored, once.
 */
TEST(sealed_retries_and_fallback_stored_once)
{
	struct sottod_proc sp;
	struct test_user a, b;
	struct conn *c = NULL;
	struct db_count d;
	uint8_t t1[32], t2[32], cmid[16];

	randombytes_buf(t1, sizeof(t1));
	randombytes_buf(t2, sizeof(t2));
	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	CHECK_EQ_INT(set_token(&b, t1), 0);
	test_user_close(&b);
	cmid_of(cmid, 40);
	REQUIRE(conn_open_sealed(&c, sp.address, 5000) == 0);
	CHECK_EQ_INT(send_sealed_id(c, "bob@localhost", t1, cmid, "sealed", 1), 0);
	conn_close(c);
	d.sp = &sp;
	d.sql = "SELECT count(*) FROM envelopes";
	d.want = 1;
	CHECK(wait_until(db_count_is, &d, 5000));
	REQUIRE(conn_open_sealed(&c, sp.address, 5000) == 0);
	CHECK_EQ_INT(send_sealed_id(c, "bob@localhost", t1, cmid, "sealed", 0), 0);
	conn_close(c);
	CHECK_EQ_INT(test_user_send(&a, "bob@localhost", cmid, "sealed", 6), 0);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM envelopes"), 1);
	/* Rotated: the old holder is refused and nothing is written; its identified
	 * fallback under the same id is stored once. */
	REQUIRE(test_user_connect(&b, &sp) == 0);
	CHECK_EQ_INT(set_token(&b, t2), 0);
	test_user_close(&b);
	cmid_of(cmid, 41);
	REQUIRE(conn_open_sealed(&c, sp.address, 5000) == 0);
	CHECK_EQ_INT(send_sealed_id(c, "bob@localhost", t1, cmid, "fallback", 0), SOTTO_ERR_AUTH);
	conn_close(c);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM envelopes"), 1);
	CHECK_EQ_INT(test_user_send(&a, "bob@localhost", cmid, "fallback", 8), 0);
	CHECK_EQ_INT(test_user_send(&a, "bob@localhost", cmid, "fallback", 8), 0);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM envelopes"), 2);
	REQUIRE(test_user_connect(&b, &sp) == 0);
	CHECK_EQ_INT(test_user_drain(&b, 3, 1000), 2);
	test_user_close(&b);
	test_user_close(&a);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

/* sealed_rate per mailbox: a flood through one token is cut off for that mailbox only. */
TEST(sealed_rate_per_mailbox)
{
	struct sottod_proc sp;
	struct test_user b, c;
	struct conn *x = NULL, *y = NULL;
	uint8_t tb[32], tc[32];

	randombytes_buf(tb, sizeof(tb));
	randombytes_buf(tc, sizeof(tc));
	REQUIRE(sottod_proc_launch(&sp, "registration = open\nsealed_rate = 1\n"
	    "sealed_burst = 3") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	REQUIRE(test_user_join(&c, &sp, "carol") == 0);
	CHECK_EQ_INT(set_token(&b, tb), 0);
	CHECK_EQ_INT(set_token(&c, tc), 0);
	REQUIRE(conn_open_sealed(&x, sp.address, 5000) == 0);
	REQUIRE(conn_open_sealed(&y, sp.address, 5000) == 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(send_sealed(i % 2 ? x : y, "bob@localhost", tb, "flood"), 0);
	/* Over the burst, whichever connection it comes on. */
	CHECK_EQ_INT(send_sealed(x, "bob@localhost", tb, "flood"), SOTTO_ERR_LIMIT);
	CHECK_EQ_INT(send_sealed(y, "bob@localhost", tb, "flood"), SOTTO_ERR_LIMIT);
	/* Carol's mailbox has its own. */
	CHECK_EQ_INT(send_sealed(x, "carol@localhost", tc, "fine"), 0);
	conn_close(x);
	conn_close(y);
	test_user_close(&b);
	test_user_close(&c);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

/* Occurrences of needle in the file (its first 4 MiB). */
static int
file_has(const char *file, const void *needle, size_t n)
{
	static uint8_t buf[4 << 20];
	FILE *f = fopen(file, "rb");
	size_t len;

	if (f == NULL)
		return 0;
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return memmem(buf, len, needle, n) != NULL;
}

/*
 * alice sends to bob only on unidentified connections: afterwards no table ties an
 * envelope to her, and the log (default level) names neither her nor her device key,
 * nor the token.
 */
TEST(sealed_exchange_leaves_no_sender_in_tables_or_log)
{
	struct sottod_proc sp;
	struct test_user a, b;
	struct conn *c = NULL;
	char path[256], log[300], hex[65];
	uint8_t t[32];

	randombytes_buf(t, sizeof(t));
	/* The default level (the harness asks for debug first). */
	REQUIRE(sottod_proc_launch(&sp, "registration = open\nlog_level = info") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	CHECK_EQ_INT(set_token(&b, t), 0);
	test_user_close(&b);
	for (int i = 0; i < 3; i++) {
		REQUIRE(conn_open_sealed(&c, sp.address, 5000) == 0);
		CHECK_EQ_INT(send_sealed(c, "bob@localhost", t, "from alice, sealed"), 0);
		conn_close(c);
	}
	test_user_close(&a);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	check_no_table_links(&sp, &a, 3);
	snprintf(path, sizeof(path), "%s/sottod.db", sp.dir);
	/* The log the harness keeps of this server. */
	snprintf(log, sizeof(log), "%s/log", sp.dir);
	sodium_bin2hex(hex, sizeof(hex), a.dev_pk, 32);
	CHECK(file_has(log, "unidentified", 12));
	CHECK(!file_has(log, "alice", 5));
	CHECK(!file_has(log, hex, 64));
	sodium_bin2hex(hex, sizeof(hex), t, 32);
	CHECK(!file_has(log, hex, 64));
	CHECK(!file_has(path, t, 32));
	sottod_proc_cleanup(&sp);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	SOTTOD_RUN_BOTH(retry_after_dropped_connection_stored_once);
	SOTTOD_RUN_BOTH(no_table_ties_an_envelope_to_its_sender);
	RUN(sealed_send_needs_the_current_token);
	SOTTOD_RUN_BOTH(sealed_retries_and_fallback_stored_once);
	RUN(sealed_rate_per_mailbox);
	RUN(sealed_exchange_leaves_no_sender_in_tables_or_log);
	return check_summary();
}
