/*
 * sottod's fast path against a real process: a SEND is pushed before its commit, its
 * sender is answered when the envelope is durable at the server OR at the recipient
 * (RECEIVED), and an envelope RECEIVED before the writer took it is never stored.
 *
 * The writer is held deterministically by this process taking the database's write lock
 * (BEGIN IMMEDIATE from a second SQLite connection): the server's writer then waits in its
 * own BEGIN (busy timeout 10 s) with its batch, and what arrives meanwhile waits on the
 * loop, which is the window these tests need.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "check.h"
#include "tmp_db.h"
#include "client/conn.h"
#include "server/store.h"
#include "sottod_proc.h"
#include "waitfor.h"

static struct proto_msg req, resp, ev;
static int rcv_ok, rcv_bad;             /* answers to received_async seen so far */

/* Counts an answer to received_async wherever it turns up. */
static void
note_event(const struct proto_msg *m)
{
	if (m->type == (PROTO_RESPONSE | PROTO_RECEIVED) && m->id == 77) {
		if (m->status == 0)
			rcv_ok++;
		else
			rcv_bad++;
	}
}

/* This program's client message ids. */
static void
cmid_of(uint8_t cmid[16], int i)
{
	sottod_proc_cmid(cmid, i, 0xfa);
}

/* A SEND without waiting for its answer; request id 1000 + i. */
static int
send_async(struct test_user *u, const char *to, int i, const void *env, size_t len)
{
	static struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_SEND;
	m.id = (uint32_t)(1000 + i);
	snprintf(m.u.send.recipient, sizeof(m.u.send.recipient), "%s", to);
	cmid_of(m.u.send.client_msg_id, i);
	m.u.send.envelope = env;
	m.u.send.envelope_len = len;
	return conn_send(u->c, &m);
}

/* The next SEND answer (request id 1000 + i): i, with *status; -1 on timeout. */
static int
next_answer(struct test_user *u, int timeout_ms, int *status)
{
	for (;;) {
		if (conn_next_event(u->c, &ev, timeout_ms) != 0)
			return -1;
		note_event(&ev);
		if (ev.type == (PROTO_RESPONSE | PROTO_SEND) && ev.id >= 1000) {
			*status = ev.status;
			return (int)ev.id - 1000;
		}
	}
}

/* Next PUSH; copies the envelope into out as a string. */
static int
next_push(struct test_user *u, int timeout_ms, uint64_t *id, char *out, size_t cap)
{
	for (;;) {
		int r = conn_next_event(u->c, &ev, timeout_ms);
		if (r != 0)
			return r;
		note_event(&ev);
		if (ev.type != PROTO_PUSH)
			continue;
		*id = ev.u.push.envelope_id;
		if (ev.u.push.envelope_len >= cap)
			return -1;
		memcpy(out, ev.u.push.envelope, ev.u.push.envelope_len);
		out[ev.u.push.envelope_len] = '\0';
		return 0;
	}
}

static int
received(struct test_user *u, const uint64_t *ids, size_t n)
{
	memset(&req, 0, sizeof(req));
	req.type = PROTO_RECEIVED;
	req.u.received.n = n;
	memcpy(req.u.received.ids, ids, n * sizeof(*ids));
	if (conn_request(u->c, &req, &resp, 5000) != 0)
		return -1000;
	return resp.status;
}

/* RECEIVED without waiting for its answer, which follows its delete's commit. */
static int
received_async(struct test_user *u, const uint64_t *ids, size_t n)
{
	static struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_RECEIVED;
	m.id = 77;
	m.u.received.n = n;
	memcpy(m.u.received.ids, ids, n * sizeof(*ids));
	return conn_send(u->c, &m);
}

/* Waits until n answers to received_async (counted since the last call) came; 0 if all
 * had status 0. */
static int
received_answers(struct test_user *u, int n, int timeout_ms)
{
	int r = 0;

	while (rcv_ok + rcv_bad < n) {
		if (conn_next_event(u->c, &ev, timeout_ms) != 0)
			return -1;
		note_event(&ev);
	}
	if (rcv_bad > 0)
		r = 1;
	rcv_ok -= n;
	if (rcv_ok < 0)
		rcv_ok = 0;
	rcv_bad = 0;
	return r;
}

static uint64_t
now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* Takes the database's write lock: sottod's writer waits until db_unlock. */
static sqlite3 *
db_lock(const struct sottod_proc *sp)
{
	char path[256];
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/sottod.db", sp->dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

static void
db_unlock(sqlite3 *db)
{
	(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
}

/* Ends a test: both users leave, SIGTERM, and the envelopes and idempotency records
 * left in the database are counted. */
static void
stop_and_count(struct sottod_proc *sp, struct test_user *a, struct test_user *b,
    int64_t envelopes, int64_t sent)
{
	test_user_close(a);
	test_user_close(b);
	CHECK_EQ_INT(sottod_proc_stop(sp, SIGTERM), 0);
	CHECK_EQ_INT(sottod_proc_db_int(sp, "SELECT count(*) FROM envelopes"), envelopes);
	CHECK_EQ_INT(sottod_proc_db_int(sp, "SELECT count(*) FROM sent"), sent);
	sottod_proc_cleanup(sp);
}

static void
setup(struct sottod_proc *sp, const char *conf, struct test_user *a, struct test_user *b)
{
	REQUIRE(sottod_proc_init(sp, conf) == 0);
	REQUIRE(sottod_proc_start(sp) == 0);
	test_user_new(a, "alice");
	test_user_new(b, "bob");
	REQUIRE(test_user_register(a, sp, NULL) == 0);
	REQUIRE(test_user_register(b, sp, NULL) == 0);
}

TEST(pushed_before_commit_acked_on_received_and_not_stored)
{
	struct sottod_proc sp;
	struct test_user a, b;
	sqlite3 *lk;
	uint64_t id1 = 0, id2 = 0, id3 = 0, t0 = now_ms();
	char got[64];
	int st = -1, st2 = -1;

	setup(&sp, "registration = open", &a, &b);
	REQUIRE((lk = db_lock(&sp)) != NULL);
	/* m0: the writer takes it and waits for the lock with it. */
	REQUIRE(send_async(&a, b.address, 0, "m0", 2) == 0);
	REQUIRE(next_push(&b, 3000, &id1, got, sizeof(got)) == 0);
	CHECK(strcmp(got, "m0") == 0);
	/* Ids are given on arrival, above the clock's share (ms << 20). */
	CHECK(id1 >= (t0 - 1000) << 20);
	/* Pushed, not yet durable anywhere: no answer. */
	CHECK_EQ_INT(next_answer(&a, 300, &st), -1);
	/* m1 waits on the loop (the writer is busy); bob stores it and says so first. */
	REQUIRE(send_async(&a, b.address, 1, "m1", 2) == 0);
	REQUIRE(next_push(&b, 3000, &id2, got, sizeof(got)) == 0);
	CHECK(strcmp(got, "m1") == 0);
	CHECK(id2 > id1);
	CHECK_EQ_INT(received(&b, &id2, 1), 0);
	/* Durable on the recipient: answered while the commit is still held. */
	CHECK_EQ_INT(next_answer(&a, 3000, &st), 1);
	CHECK_EQ_INT(st, 0);
	/* m0 is in the writer's batch: RECEIVED answers its sender too, and its delete goes
	 * into a later batch, after the one that stores it. */
	REQUIRE(received_async(&b, &id1, 1) == 0);
	CHECK_EQ_INT(next_answer(&a, 3000, &st), 0);
	CHECK_EQ_INT(st, 0);
	CHECK_EQ_INT(received_answers(&b, 1, 300), -1);        /* the delete waits */
	db_unlock(lk);
	CHECK_EQ_INT(received_answers(&b, 1, 5000), 0);
	/* Each SEND is answered once: nothing more comes after the commit. */
	CHECK_EQ_INT(next_answer(&a, 500, &st2), -1);
	test_user_close(&a);
	test_user_close(&b);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);

	/* m0 was stored then deleted with its idempotency record, m1 never stored nor
	 * recorded: both are RECEIVED. */
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM envelopes"), 0);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM sent"), 0);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT pending FROM accounts WHERE name = 'bob'"), 0);
	CHECK(sottod_proc_db_int(&sp, "SELECT v FROM meta WHERE k = 'env_id_max'") == (int64_t)id2);

	REQUIRE(sottod_proc_start(&sp) == 0);
	REQUIRE(test_user_connect(&a, &sp) == 0);
	REQUIRE(test_user_connect(&b, &sp) == 0);
	CHECK(next_push(&b, 500, &id3, got, sizeof(got)) == SOTTO_ERR_TIMEOUT);
	/* m1 was RECEIVED, so no record holds it: a retry is new to the server, answered,
	 * pushed again under a new id (the recipient's client drops it by message id). */
	REQUIRE(send_async(&a, b.address, 1, "m1", 2) == 0);
	CHECK_EQ_INT(next_answer(&a, 3000, &st), 1);
	CHECK_EQ_INT(st, 0);
	REQUIRE(next_push(&b, 3000, &id3, got, sizeof(got)) == 0);
	CHECK(strcmp(got, "m1") == 0);
	CHECK(id3 > id2);
	CHECK_EQ_INT(received(&b, &id3, 1), 0);
	/* Ids keep growing across the restart, past the never-stored one. */
	REQUIRE(send_async(&a, b.address, 2, "m2", 2) == 0);
	REQUIRE(next_push(&b, 3000, &id3, got, sizeof(got)) == 0);
	CHECK(strcmp(got, "m2") == 0);
	CHECK(id3 > id2);
	CHECK_EQ_INT(next_answer(&a, 3000, &st), 2);
	CHECK_EQ_INT(st, 0);
	CHECK_EQ_INT(received(&b, &id3, 1), 0);
	stop_and_count(&sp, &a, &b, 0, 0);
}

TEST(full_window_is_not_overtaken_by_a_later_early_push)
{
	struct sottod_proc sp;
	struct test_user a, b;
	sqlite3 *lk;
	uint64_t ids[8], id, prev = 0;
	char got[64], want[16];
	int seen[8] = { 0 }, st, n = 0, k, acked = 0;

	setup(&sp, "registration = open\npush_window = 2", &a, &b);
	REQUIRE((lk = db_lock(&sp)) != NULL);
	/* m0, m1 fill the window; m2 cannot be pushed and nothing is committed. */
	for (int i = 0; i < 3; i++) {
		snprintf(want, sizeof(want), "m%d", i);
		REQUIRE(send_async(&a, b.address, i, want, 2) == 0);
	}
	for (; n < 2; n++) {
		REQUIRE(next_push(&b, 3000, &ids[n], got, sizeof(got)) == 0);
		snprintf(want, sizeof(want), "m%d", n);
		CHECK(strcmp(got, want) == 0);
	}
	CHECK(next_push(&b, 300, &id, got, sizeof(got)) == SOTTO_ERR_TIMEOUT);
	/* The window opens while m2 is still uncommitted: it comes from memory, in order,
	 * and m3 (sent after) comes after it rather than past it. */
	REQUIRE(received_async(&b, &ids[0], 1) == 0);
	REQUIRE(send_async(&a, b.address, 3, "m3", 2) == 0);
	REQUIRE(next_push(&b, 3000, &ids[n], got, sizeof(got)) == 0);
	CHECK(strcmp(got, "m2") == 0);
	n++;
	REQUIRE(received_async(&b, &ids[1], 1) == 0);
	REQUIRE(next_push(&b, 3000, &ids[n], got, sizeof(got)) == 0);
	CHECK(strcmp(got, "m3") == 0);
	n++;
	db_unlock(lk);
	REQUIRE(received_async(&b, &ids[2], 2) == 0);
	CHECK_EQ_INT(received_answers(&b, 3, 5000), 0);
	/* Nothing is pushed twice on this connection once all is committed. */
	CHECK(next_push(&b, 500, &id, got, sizeof(got)) == SOTTO_ERR_TIMEOUT);
	for (k = 0; k < n; k++) {
		CHECK(ids[k] > prev);
		prev = ids[k];
	}
	while (acked < 4 && (k = next_answer(&a, 3000, &st)) >= 0) {
		CHECK_EQ_INT(st, 0);
		if (k >= 0 && k < 4 && !seen[k]++)
			acked++;
	}
	CHECK_EQ_INT(acked, 4);
	CHECK_EQ_INT(next_answer(&a, 300, &st), -1);
	test_user_close(&b);
	REQUIRE(test_user_connect(&b, &sp) == 0);
	CHECK(next_push(&b, 500, &id, got, sizeof(got)) == SOTTO_ERR_TIMEOUT);
	test_user_close(&a);
	test_user_close(&b);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(disconnect_after_early_push_gets_it_again)
{
	struct sottod_proc sp;
	struct test_user a, b;
	sqlite3 *lk;
	uint64_t id = 0, id2 = 0;
	char got[64];
	int st;

	setup(&sp, "registration = open", &a, &b);
	REQUIRE((lk = db_lock(&sp)) != NULL);
	REQUIRE(send_async(&a, b.address, 0, "m0", 2) == 0);
	REQUIRE(next_push(&b, 3000, &id, got, sizeof(got)) == 0);
	/* Its sender names it in a RECEIVED of its own: that neither answers the SEND nor
	 * drops the envelope (only the recipient's mailbox is searched). */
	REQUIRE(received_async(&a, &id, 1) == 0);
	/* Gone before RECEIVED: the next connection gets it, from memory while its
	 * commit waits, then from the store. */
	test_user_close(&b);
	REQUIRE(test_user_connect(&b, &sp) == 0);
	REQUIRE(next_push(&b, 3000, &id2, got, sizeof(got)) == 0);
	CHECK_EQ_INT(id2, id);
	CHECK(strcmp(got, "m0") == 0);
	test_user_close(&b);
	CHECK_EQ_INT(next_answer(&a, 300, &st), -1);
	db_unlock(lk);
	CHECK_EQ_INT(next_answer(&a, 5000, &st), 0);
	CHECK_EQ_INT(st, 0);
	REQUIRE(test_user_connect(&b, &sp) == 0);
	REQUIRE(next_push(&b, 3000, &id2, got, sizeof(got)) == 0);
	CHECK_EQ_INT(id2, id);
	CHECK(next_push(&b, 300, &id2, got, sizeof(got)) == SOTTO_ERR_TIMEOUT);
	CHECK_EQ_INT(received(&b, &id, 1), 0);
	test_user_close(&b);
	REQUIRE(test_user_connect(&b, &sp) == 0);
	CHECK(next_push(&b, 500, &id2, got, sizeof(got)) == SOTTO_ERR_TIMEOUT);
	test_user_close(&a);
	test_user_close(&b);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(failed_commit_refuses_unless_received_first)
{
	struct sottod_proc sp;
	struct test_user a, b;
	static uint8_t big[60000];
	sqlite3 *lk;
	uint64_t ids[8], id;
	char got[64];
	int status[8], answered = 0, st, k;

	/* 60 pages: one big envelope fits, five in one transaction do not. No commit gap:
	 * m0 must go to the writer alone, at once, and the five wait for it together. */
	setup(&sp, "registration = open\ndb_max_pages = 60\ncommit_gap_us = 0\n"
	    "received_wait_ms = 0", &a, &b);
	REQUIRE((lk = db_lock(&sp)) != NULL);
	REQUIRE(send_async(&a, b.address, 0, "m0", 2) == 0);
	REQUIRE(next_push(&b, 3000, &ids[0], got, sizeof(got)) == 0);
	memset(big, 'z', sizeof(big));
	for (int i = 1; i <= 5; i++) {
		big[0] = (uint8_t)('0' + i);
		REQUIRE(send_async(&a, b.address, i, big, sizeof(big)) == 0);
	}
	for (int i = 1; i <= 5; i++) {
		REQUIRE(conn_next_event(b.c, &ev, 3000) == 0);
		REQUIRE(ev.type == PROTO_PUSH);
		CHECK_EQ_INT(ev.u.push.envelope_len, sizeof(big));
		CHECK_EQ_INT(ev.u.push.envelope[0], '0' + i);
		ids[i] = ev.u.push.envelope_id;
	}
	/* Bob has m3: its sender is answered now, whatever the commit does. */
	CHECK_EQ_INT(received(&b, &ids[3], 1), 0);
	for (int i = 0; i < 8; i++)
		status[i] = 1;
	CHECK_EQ_INT(next_answer(&a, 3000, &st), 3);
	CHECK_EQ_INT(st, 0);
	status[3] = st;
	answered++;
	db_unlock(lk);
	while (answered < 6 && (k = next_answer(&a, 5000, &st)) >= 0) {
		REQUIRE(k >= 0 && k <= 5);
		CHECK_EQ_INT(status[k], 1);     /* one answer each */
		status[k] = st;
		answered++;
	}
	CHECK_EQ_INT(answered, 6);
	CHECK_EQ_INT(status[0], 0);
	for (int i = 1; i <= 5; i++)
		if (i != 3)
			CHECK_EQ_INT(status[i], SOTTO_ERR_SERVER_FULL);
	/* What is acknowledged and not RECEIVED is there; the refused ones are not. */
	test_user_close(&b);
	REQUIRE(test_user_connect(&b, &sp) == 0);
	REQUIRE(next_push(&b, 3000, &id, got, sizeof(got)) == 0);
	CHECK_EQ_INT(id, ids[0]);
	CHECK(strcmp(got, "m0") == 0);
	CHECK(next_push(&b, 500, &id, got, sizeof(got)) == SOTTO_ERR_TIMEOUT);
	test_user_close(&a);
	test_user_close(&b);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(sigterm_drains_while_the_writer_is_held)
{
	struct sottod_proc sp;
	struct test_user a, b;
	sqlite3 *lk;
	uint64_t id;
	char got[64], env[16];
	int seen[16] = { 0 }, st, k, acked = 0, n = 0;

	setup(&sp, "registration = open", &a, &b);
	test_user_close(&b);
	REQUIRE((lk = db_lock(&sp)) != NULL);
	for (int i = 0; i < 16; i++) {
		snprintf(env, sizeof(env), "d%d", i);
		REQUIRE(send_async(&a, b.address, i, env, strlen(env)) == 0);
	}
	/* Give the server the SENDs, then ask it to stop while its writer is held. */
	CHECK_EQ_INT(next_answer(&a, 300, &st), -1);
	kill(sp.pid, SIGTERM);
	db_unlock(lk);
	while ((k = next_answer(&a, 3000, &st)) >= 0)
		if (st == 0 && k < 16 && !seen[k]++)
			acked++;
	CHECK_EQ_INT(acked, 16);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	test_user_close(&a);
	REQUIRE(sottod_proc_start(&sp) == 0);
	REQUIRE(test_user_connect(&b, &sp) == 0);
	while (next_push(&b, 1000, &id, got, sizeof(got)) == 0) {
		CHECK(got[0] == 'd' && atoi(got + 1) == n);
		n++;
	}
	CHECK_EQ_INT(n, 16);
	test_user_close(&b);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(retries_are_pushed_once)
{
	struct sottod_proc sp;
	struct test_user a, b;
	sqlite3 *lk;
	uint64_t id = 0, id2 = 0;
	char got[64];
	int st, k, answers = 0;

	setup(&sp, "registration = open", &a, &b);
	/* A retry of a SEND already RECEIVED: its record went with it, so the retry is new to
	 * the server: answered, pushed again under a new id, and the recipient's client
	 * drops it by message id. */
	REQUIRE(send_async(&a, b.address, 0, "m0", 2) == 0);
	REQUIRE(next_push(&b, 3000, &id, got, sizeof(got)) == 0);
	CHECK_EQ_INT(next_answer(&a, 3000, &st), 0);
	CHECK_EQ_INT(st, 0);
	CHECK_EQ_INT(received(&b, &id, 1), 0);
	REQUIRE(send_async(&a, b.address, 0, "m0", 2) == 0);
	CHECK_EQ_INT(next_answer(&a, 3000, &st), 0);
	CHECK_EQ_INT(st, 0);
	REQUIRE(next_push(&b, 3000, &id2, got, sizeof(got)) == 0);
	CHECK(id2 > id);
	CHECK(strcmp(got, "m0") == 0);
	CHECK_EQ_INT(received(&b, &id2, 1), 0);
	/* A retry of a SEND still in flight: pushed once, both answered. */
	REQUIRE((lk = db_lock(&sp)) != NULL);
	REQUIRE(send_async(&a, b.address, 1, "m1", 2) == 0);
	REQUIRE(send_async(&a, b.address, 1, "m1", 2) == 0);
	REQUIRE(next_push(&b, 3000, &id, got, sizeof(got)) == 0);
	CHECK(strcmp(got, "m1") == 0);
	CHECK(next_push(&b, 300, &id2, got, sizeof(got)) == SOTTO_ERR_TIMEOUT);
	db_unlock(lk);
	while (answers < 2 && (k = next_answer(&a, 3000, &st)) >= 0) {
		CHECK_EQ_INT(k, 1);
		CHECK_EQ_INT(st, 0);
		answers++;
	}
	CHECK_EQ_INT(answers, 2);
	CHECK(next_push(&b, 300, &id2, got, sizeof(got)) == SOTTO_ERR_TIMEOUT);
	/* m1, not RECEIVED: its envelope and its one record wait. */
	stop_and_count(&sp, &a, &b, 1, 1);
}

static int
one_sent_record(void *arg)
{
	return sottod_proc_db_int(arg, "SELECT count(*) FROM sent") == 1;
}

static int
no_sent_records(void *arg)
{
	return sottod_proc_db_int(arg, "SELECT count(*) FROM sent") == 0;
}

/*
 * sent_retention: an idempotency record is deleted once older than that even if its
 * envelope still waits (the records of envelopes stored before schema 3 end only so); a
 * retry after that is a new message to the server.
 */
TEST(idempotency_records_expire)
{
	struct sottod_proc sp;
	struct test_user a, b;
	uint64_t id = 0, id2 = 0;
	char got[64];
	int st = -1;

	setup(&sp, "registration = open\nsent_retention = 1", &a, &b);
	test_user_close(&b);            /* offline: m0 is stored with its record */
	REQUIRE(send_async(&a, b.address, 0, "m0", 2) == 0);
	CHECK_EQ_INT(next_answer(&a, 3000, &st), 0);
	CHECK_EQ_INT(st, 0);
	REQUIRE(wait_until(one_sent_record, &sp, 5000));
	REQUIRE(wait_until(no_sent_records, &sp, 10000));
	/* The retry is stored again; bob gets both (his client drops one by message id). */
	REQUIRE(send_async(&a, b.address, 0, "m0", 2) == 0);
	CHECK_EQ_INT(next_answer(&a, 3000, &st), 0);
	CHECK_EQ_INT(st, 0);
	REQUIRE(test_user_connect(&b, &sp) == 0);
	REQUIRE(next_push(&b, 3000, &id, got, sizeof(got)) == 0);
	REQUIRE(next_push(&b, 3000, &id2, got, sizeof(got)) == 0);
	CHECK(id2 > id);
	CHECK(strcmp(got, "m0") == 0);
	CHECK_EQ_INT(received(&b, &id, 1), 0);
	/* Left: the retry's envelope (its record may have expired too by now). */
	test_user_close(&a);
	test_user_close(&b);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM envelopes"), 1);
	CHECK(sottod_proc_db_int(&sp, "SELECT count(*) FROM sent") <= 1);
	sottod_proc_cleanup(&sp);
}

/*
 * commit_gap_us: a group commit starts at least that long after the one before, and what
 * waits for it is handed over by the timer: nothing stalls.
 */
TEST(commit_gap_spaces_group_commits)
{
	struct sottod_proc sp;
	struct test_user a, b;
	uint64_t t0;
	int st = -1, k, i, answers = 0, ok = 0;

	setup(&sp, "registration = open\ncommit_gap_us = 100000", &a, &b);
	test_user_close(&b);            /* offline: every SEND is answered by its commit */
	t0 = now_ms();
	REQUIRE(send_async(&a, b.address, 0, "g0", 2) == 0);
	REQUIRE(next_answer(&a, 5000, &st) == 0);
	CHECK_EQ_INT(st, 0);
	/* These reach the server after the first batch went to the writer. */
	for (i = 1; i < 20; i++)
		REQUIRE(send_async(&a, b.address, i, "gN", 2) == 0);
	while (answers < 19 && (k = next_answer(&a, 5000, &st)) >= 0) {
		CHECK(k >= 1 && k < 20);
		ok += st == 0;
		answers++;
	}
	CHECK_EQ_INT(answers, 19);
	CHECK_EQ_INT(ok, 19);
	CHECK(now_ms() - t0 >= 100);
	test_user_close(&a);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM envelopes"), 20);
	sottod_proc_cleanup(&sp);
}

/*
 * received_wait_ms: a SEND pushed early waits on the loop for its RECEIVED; if it comes, the
 * envelope is never stored and the sender is answered then; if not, it is committed after
 * the wait and answered by its commit.
 */
TEST(held_send_is_stored_only_without_received)
{
	struct sottod_proc sp;
	struct test_user a, b;
	uint64_t id0 = 0, id1 = 0, t0;
	char got[64];
	int st = -1;

	setup(&sp, "registration = open\nreceived_wait_ms = 1000", &a, &b);
	REQUIRE(send_async(&a, b.address, 0, "m0", 2) == 0);
	REQUIRE(next_push(&b, 3000, &id0, got, sizeof(got)) == 0);
	CHECK_EQ_INT(next_answer(&a, 200, &st), -1);    /* held: neither stored nor answered */
	CHECK_EQ_INT(received(&b, &id0, 1), 0);
	CHECK_EQ_INT(next_answer(&a, 3000, &st), 0);
	CHECK_EQ_INT(st, 0);
	t0 = now_ms();
	REQUIRE(send_async(&a, b.address, 1, "m1", 2) == 0);
	REQUIRE(next_push(&b, 3000, &id1, got, sizeof(got)) == 0);
	CHECK(id1 > id0);
	CHECK_EQ_INT(next_answer(&a, 5000, &st), 1);    /* by its commit, after the wait */
	CHECK_EQ_INT(st, 0);
	CHECK(now_ms() - t0 >= 1000);
	/* m0 RECEIVED while held: nothing of it is stored; m1 waits with its record. */
	stop_and_count(&sp, &a, &b, 1, 1);
}

struct id_mark {
	struct sottod_proc *sp;
	uint64_t id;
};

static int
id_mark_written(void *arg)
{
	struct id_mark *m = arg;

	return sottod_proc_db_int(m->sp, "SELECT v FROM meta WHERE k = 'env_id_max'") == (int64_t)m->id;
}

/*
 * A held SEND whose RECEIVED came leaves nothing to write but the high mark of the ids
 * given (no envelope, no idempotency record: it is RECEIVED), which nobody waits for: it
 * is deferred (at most 20 ms) to go with a later commit, or alone, and so reaches the
 * disk with no other traffic: it survives a SIGKILL. A retry is new to the server.
 */
TEST(received_send_record_deferred_then_durable)
{
	struct sottod_proc sp;
	struct test_user a, b;
	struct id_mark mark = { &sp, 0 };
	uint64_t id0 = 0, id1 = 0;
	char got[64];
	int st = -1;

	setup(&sp, "registration = open\nreceived_wait_ms = 1000", &a, &b);
	REQUIRE(send_async(&a, b.address, 0, "m0", 2) == 0);
	REQUIRE(next_push(&b, 3000, &id0, got, sizeof(got)) == 0);
	CHECK_EQ_INT(received(&b, &id0, 1), 0);
	CHECK_EQ_INT(next_answer(&a, 3000, &st), 0);
	CHECK_EQ_INT(st, 0);
	mark.id = id0;
	CHECK(wait_until(id_mark_written, &mark, 5000));
	REQUIRE(send_async(&a, b.address, 0, "m0", 2) == 0);
	REQUIRE(next_push(&b, 3000, &id1, got, sizeof(got)) == 0);
	CHECK(strcmp(got, "m0") == 0);
	CHECK(id1 > id0);
	CHECK_EQ_INT(received(&b, &id1, 1), 0);
	CHECK_EQ_INT(next_answer(&a, 3000, &st), 0);
	CHECK_EQ_INT(st, 0);
	mark.id = id1;
	CHECK(wait_until(id_mark_written, &mark, 5000));
	test_user_close(&a);
	test_user_close(&b);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGKILL), 128 + SIGKILL);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM envelopes"), 0);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM sent"), 0);
	CHECK(sottod_proc_db_int(&sp, "SELECT v FROM meta WHERE k = 'env_id_max'") == (int64_t)id1);
	sottod_proc_cleanup(&sp);
}

/*
 * A SEND that cannot be pushed early (the window is full) sends the recipient's held SENDs
 * to the writer first: the mailbox reaches the store in id order, and the pump delivers
 * the rest in order once the window opens. SIGTERM commits what is still held.
 */
TEST(held_sends_go_first_and_drain_on_sigterm)
{
	struct sottod_proc sp;
	struct test_user a, b;
	uint64_t id0 = 0, id1 = 0, id2 = 0;
	char got[64];
	int st = -1, k, answers = 0;

	setup(&sp, "registration = open\nreceived_wait_ms = 1000\npush_window = 1", &a, &b);
	REQUIRE(send_async(&a, b.address, 0, "m0", 2) == 0);
	REQUIRE(next_push(&b, 3000, &id0, got, sizeof(got)) == 0);
	CHECK(strcmp(got, "m0") == 0);
	REQUIRE(send_async(&a, b.address, 1, "m1", 2) == 0);     /* window full: not pushed */
	/* m1 is committed at once, and m0 (held until now) before it: both answered well
	 * before the wait is over. */
	while (answers < 2 && (k = next_answer(&a, 800, &st)) >= 0) {
		CHECK(k == 0 || k == 1);
		CHECK_EQ_INT(st, 0);
		answers++;
	}
	CHECK_EQ_INT(answers, 2);
	CHECK_EQ_INT(received(&b, &id0, 1), 0);
	REQUIRE(next_push(&b, 3000, &id1, got, sizeof(got)) == 0);
	CHECK(strcmp(got, "m1") == 0);
	CHECK(id1 > id0);
	/* Held when SIGTERM comes: committed by the drain. */
	CHECK_EQ_INT(received(&b, &id1, 1), 0);
	REQUIRE(send_async(&a, b.address, 2, "m2", 2) == 0);
	REQUIRE(next_push(&b, 3000, &id2, got, sizeof(got)) == 0);
	CHECK(strcmp(got, "m2") == 0);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	test_user_close(&a);
	test_user_close(&b);
	/* m0 and m1 were stored, then deleted with their records; m2 waits with its own. */
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM envelopes"), 1);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM sent"), 1);
	sottod_proc_cleanup(&sp);
}

/* The store's side: explicit ids, an envelope recorded only as sent, ids never reused. */
TEST(store_explicit_ids_and_skipped_envelopes)
{
	struct store_open_opts o = { .create = 1 };
	struct server_store *st = NULL;
	struct store_send sd[3];
	struct store_envelope env[4];
	char dir[TMP_DB_DIR_MAX], path[TMP_DB_PATH_MAX];
	uint8_t ik[32] = { 1 }, dk[32] = { 2 };
	int64_t bob, max = -1, old = 0;
	uint64_t n = 99;
	size_t got = 0;
	int del_r = -1;

	tmp_db_make(dir, path, "sotto-fastpath");
	REQUIRE(store_sqlite_open(&st, path, &o) == 0);
	REQUIRE(st->ops->account_create(st, "bob", ik, dk, NULL, &bob) == 0);
	CHECK_EQ_INT(st->ops->envelopes_max_id(st, &max), 0);
	CHECK_EQ_INT(max, 0);
	memset(sd, 0, sizeof(sd));
	for (int i = 0; i < 3; i++) {
		sd[i].recipient = bob;
		sd[i].cmid[0] = (uint8_t)(i + 1);
		sd[i].data = (const uint8_t *)"env";
		sd[i].len = 3;
		sd[i].ts = 1;
		sd[i].mailbox_max = 10;
		sd[i].env_id = ((int64_t)1 << 40) + 10 * (i + 1);
	}
	sd[2].skip_envelope = 1;                /* the newest: RECEIVED before its commit */
	REQUIRE(st->ops->envelopes_apply(st, NULL, 0, sd, 3, &del_r) == 0);
	CHECK_EQ_INT(sd[0].result, 0);
	CHECK(sd[0].env_id == ((int64_t)1 << 40) + 10);
	CHECK(sd[2].env_id == ((int64_t)1 << 40) + 30);
	REQUIRE(st->ops->envelopes_list(st, bob, 0, env, 4, &got) == 0);
	CHECK_EQ_INT(got, 2);
	if (got == 2) {
		CHECK(env[0].id == sd[0].env_id);
		CHECK(env[1].id == sd[1].env_id);
	}
	store_envelopes_free(env, got);
	CHECK_EQ_INT(st->ops->mailbox_count(st, bob, &n), 0);
	CHECK_EQ_INT(n, 2);
	/* A stored one keeps its idempotency record until RECEIVED; the skipped one (RECEIVED
	 * already) keeps none, but its id stays used. */
	CHECK_EQ_INT(st->ops->sent_get(st, sd[0].recipient, sd[0].cmid, &old), 0);
	CHECK(old == sd[0].env_id);
	CHECK_EQ_INT(st->ops->sent_get(st, sd[2].recipient, sd[2].cmid, &old),
	    SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(st->ops->envelopes_max_id(st, &max), 0);
	CHECK(max == sd[2].env_id);
	/* With the mailbox full: a retry of a stored SEND is still a duplicate (answered as
	 * the first one was), a new SEND is refused and leaves no record. */
	sd[0].mailbox_max = sd[1].mailbox_max = 2;
	sd[0].env_id = ((int64_t)1 << 40) + 50;
	sd[1].env_id = ((int64_t)1 << 40) + 60;
	sd[1].cmid[0] = 9;
	REQUIRE(st->ops->envelopes_commit(st, sd, 2) == 0);
	CHECK_EQ_INT(sd[0].result, 0);
	CHECK_EQ_INT(sd[0].duplicate, 1);
	CHECK(sd[0].env_id == ((int64_t)1 << 40) + 10);
	CHECK_EQ_INT(sd[1].result, SOTTO_ERR_MAILBOX_FULL);
	CHECK_EQ_INT(sd[1].duplicate, 0);
	CHECK_EQ_INT(st->ops->sent_get(st, sd[1].recipient, sd[1].cmid, &old),
	    SOTTO_ERR_NOT_FOUND);
	sd[1].cmid[0] = 2;
	sd[1].env_id = ((int64_t)1 << 40) + 20;
	/* Deleting the newest stored envelope does not lower the highest id used; its
	 * idempotency record goes with it. */
	{
		struct store_del d[2] = { { .recipient = bob, .id = sd[0].env_id },
		    { .recipient = bob, .id = sd[1].env_id } };
		CHECK_EQ_INT(st->ops->envelopes_delete(st, d, 2), 0);
	}
	CHECK_EQ_INT(st->ops->envelopes_max_id(st, &max), 0);
	CHECK(max == ((int64_t)1 << 40) + 30);
	CHECK_EQ_INT(st->ops->sent_get(st, sd[0].recipient, sd[0].cmid, &old),
	    SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(st->ops->sent_get(st, sd[0].recipient, (const uint8_t *)"nope-nope-nope-x",
	    &old), SOTTO_ERR_NOT_FOUND);
	server_store_close(st);
	tmp_db_remove(dir, path);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	RUN(pushed_before_commit_acked_on_received_and_not_stored);
	RUN(full_window_is_not_overtaken_by_a_later_early_push);
	RUN(disconnect_after_early_push_gets_it_again);
	RUN(failed_commit_refuses_unless_received_first);
	RUN(sigterm_drains_while_the_writer_is_held);
	RUN(retries_are_pushed_once);
	RUN(idempotency_records_expire);
	RUN(commit_gap_spaces_group_commits);
	RUN(held_send_is_stored_only_without_received);
	RUN(held_sends_go_first_and_drain_on_sigterm);
	RUN(received_send_record_deferred_then_durable);
	RUN(store_explicit_ids_and_skipped_envelopes);
	return check_summary();
}
