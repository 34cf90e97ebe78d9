/*
 * Idempotency without linkage (issue 15) against a real sottod: a SEND retried after its
 * connection dropped is stored once, and no table of the database ties an envelope to the
 * account, device or identity that sent it (docs/SERVER.md "Idempotency").
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "check.h"
#include "client/conn.h"
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
 * alice writes to bob (offline) and retries; carol writes to bob too. Then, in every table
 * of the database: none holds both something of alice (her account id, name, identity or
 * device key) and something of an envelope (its id or its idempotency key), and no
 * column is named for a sender.
 */
TEST(no_table_ties_an_envelope_to_its_sender)
{
	struct sottod_proc sp;
	struct test_user a, b, c;
	struct sender snd;
	struct envelopes e;
	char path[256];
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	uint8_t cmid[16];
	int tables = 0;

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

	snd.id = sottod_proc_db_int(&sp, "SELECT id FROM accounts WHERE name = 'alice'");
	snd.name = "alice";
	snd.keys[0] = a.id_pk;
	snd.keys[1] = a.dev_pk;
	snprintf(path, sizeof(path), "%s/sottod.db", sp.dir);
	REQUIRE(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	memset(&e, 0, sizeof(e));
	REQUIRE(sqlite3_prepare_v2(db, "SELECT id, idem FROM envelopes", -1, &q, NULL) ==
	    SQLITE_OK);
	while (sqlite3_step(q) == SQLITE_ROW && e.n < MAX_ENV) {
		e.id[e.n] = sqlite3_column_int64(q, 0);
		if (sqlite3_column_bytes(q, 1) == 32)
			memcpy(e.idem[e.n], sqlite3_column_blob(q, 1), 32);
		e.n++;
	}
	sqlite3_finalize(q);
	CHECK_EQ_INT(e.n, 4);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM sent"), 4);
	REQUIRE(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table'",
	    -1, &q, NULL) == SQLITE_OK);
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(q, 0);

		tables++;
		CHECK(!table_links(db, t, &snd, &e));
	}
	sqlite3_finalize(q);
	CHECK(tables >= 8);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM sqlite_master m,"
	    " pragma_table_info(m.name) c WHERE m.type = 'table' AND (c.name LIKE '%sender%'"
	    " OR c.name LIKE '%dev%' AND m.name <> 'accounts')"), 0);
	sqlite3_close(db);
	sottod_proc_cleanup(&sp);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(retry_after_dropped_connection_stored_once);
	RUN(no_table_ties_an_envelope_to_its_sender);
	return check_summary();
}
