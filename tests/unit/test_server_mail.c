/* sottod against real processes: SEND, PUSH, RECEIVED, durability and restarts. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "client/conn.h"
#include "sottod_proc.h"

/* The next PUSH's envelope id, and its envelope as a string in out. */
static int
next_push(struct test_user *u, int timeout_ms, uint64_t *id, char *out, size_t cap)
{
	int r;

	if ((r = test_user_next_push(u, timeout_ms)) != 0)
		return r;
	*id = u->ev.u.push.envelope_id;
	if (u->ev.u.push.envelope_len >= cap)
		return -1;
	memcpy(out, u->ev.u.push.envelope, u->ev.u.push.envelope_len);
	out[u->ev.u.push.envelope_len] = '\0';
	return 0;
}

/* This program's client message ids. */
static void
cmid_of(uint8_t cmid[16], int i)
{
	sottod_proc_cmid(cmid, i, 0x5a);
}

TEST(send_push_received_delete)
{
	struct sottod_proc sp;
	struct test_user a, b;
	uint8_t cmid[16];
	uint64_t id = 0, id2 = 0;
	char got[128];

	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	cmid_of(cmid, 1);
	CHECK_EQ_INT(test_user_send(&a, "bob@localhost", cmid, "sealed-1", 8), 0);
	CHECK(a.resp.u.sent.timestamp > 1700000000000ull);
	CHECK_EQ_INT(test_user_send(&a, "nobody@localhost", cmid, "x", 1), SOTTO_ERR_UNKNOWN_USER);
	CHECK_EQ_INT(test_user_send(&a, "bob@elsewhere.example", cmid, "x", 1),
	    SOTTO_ERR_OTHER_DOMAIN);
	/* Bob is online: pushed as it is committed. */
	REQUIRE(next_push(&b, 5000, &id, got, sizeof(got)) == 0);
	CHECK(strcmp(got, "sealed-1") == 0);
	/* Not acknowledged yet: a reconnect gets it again (at least once). */
	test_user_close(&b);
	REQUIRE(test_user_connect(&b, &sp) == 0);
	REQUIRE(next_push(&b, 5000, &id2, got, sizeof(got)) == 0);
	CHECK_EQ_INT(id2, id);
	CHECK(strcmp(got, "sealed-1") == 0);
	CHECK_EQ_INT(test_user_received(&b, &id, 1), 0);
	/* Deleted: a reconnect gets nothing. */
	test_user_close(&b);
	REQUIRE(test_user_connect(&b, &sp) == 0);
	CHECK(next_push(&b, 500, &id2, got, sizeof(got)) == SOTTO_ERR_TIMEOUT);
	/* Alice cannot delete Bob's mail by guessing ids. */
	cmid_of(cmid, 2);
	REQUIRE(test_user_send(&a, "bob@localhost", cmid, "sealed-2", 8) == 0);
	REQUIRE(next_push(&b, 5000, &id, got, sizeof(got)) == 0);
	CHECK_EQ_INT(test_user_received(&a, &id, 1), 0);
	test_user_close(&b);
	REQUIRE(test_user_connect(&b, &sp) == 0);
	REQUIRE(next_push(&b, 5000, &id2, got, sizeof(got)) == 0);
	CHECK_EQ_INT(id2, id);
	test_user_close(&a);
	test_user_close(&b);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(store_and_forward_across_restart_and_duplicates)
{
	struct sottod_proc sp;
	struct test_user a, b;
	uint8_t cmid[16];
	uint64_t ids[20], id;
	char got[128], want[32];
	int n = 0;

	REQUIRE(sottod_proc_launch(&sp, "registration = open\npush_window = 4") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	test_user_close(&b);                    /* Bob goes offline */
	for (int i = 0; i < 10; i++) {
		cmid_of(cmid, i);
		snprintf(want, sizeof(want), "m%d", i);
		CHECK_EQ_INT(test_user_send(&a, "bob@localhost", cmid, want, strlen(want)), 0);
	}
	/* A retry with the same client message id is acknowledged and stored once. */
	cmid_of(cmid, 3);
	CHECK_EQ_INT(test_user_send(&a, "bob@localhost", cmid, "m3", 2), 0);
	test_user_close(&a);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	REQUIRE(sottod_proc_start(&sp) == 0);
	REQUIRE(test_user_connect(&b, &sp) == 0);
	/* All ten arrive in order, through a push window of 4 freed by RECEIVED. */
	while (n < 20 && next_push(&b, 1500, &id, got, sizeof(got)) == 0) {
		snprintf(want, sizeof(want), "m%d", n);
		CHECK(strcmp(got, want) == 0);
		ids[n++] = id;
		if (n % 2 == 0)
			CHECK_EQ_INT(test_user_received(&b, &ids[n - 2], 2), 0);
	}
	CHECK_EQ_INT(n, 10);
	test_user_close(&b);
	/* A clean exit: under ASan this also reports leaks and errors of the server. */
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(sigkill_after_ack_loses_nothing)
{
	struct sottod_proc sp;
	struct test_user a, b;
	uint8_t cmid[16], env[300];
	uint64_t id;
	char got[400];
	int acked = 0, n = 0;

	REQUIRE(sottod_proc_launch(&sp, "registration = open\npush_window = 1000") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	test_user_close(&b);
	for (int i = 0; i < 50; i++) {
		cmid_of(cmid, i);
		memset(env, 'a' + i % 26, sizeof(env) - 1);
		env[sizeof(env) - 1] = 0;
		if (test_user_send(&a, "bob@localhost", cmid, env, strlen((char *)env)) == 0)
			acked++;
	}
	CHECK_EQ_INT(acked, 50);
	/* No drain, no clean shutdown: whatever was acknowledged must be on disk. */
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGKILL), 128 + SIGKILL);
	test_user_close(&a);
	REQUIRE(sottod_proc_start(&sp) == 0);
	REQUIRE(test_user_connect(&b, &sp) == 0);
	while (next_push(&b, 1000, &id, got, sizeof(got)) == 0) {
		CHECK_EQ_INT(got[0], 'a' + n % 26);
		CHECK_EQ_INT(strlen(got), 299);
		n++;
	}
	CHECK_EQ_INT(n, 50);
	test_user_close(&b);
	/* A clean exit: under ASan this also reports leaks and errors of the server. */
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(mailbox_full_and_database_full_refuse_send)
{
	struct sottod_proc sp;
	struct test_user a, b;
	uint8_t cmid[16];
	static uint8_t big[60000];
	int ok = 0, refused = 0, n = 0;

	REQUIRE(sottod_proc_launch(&sp, "registration = open\nmailbox_max = 3") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	test_user_close(&b);
	for (int i = 0; i < 3; i++) {
		cmid_of(cmid, i);
		CHECK_EQ_INT(test_user_send(&a, "bob@localhost", cmid, "x", 1), 0);
	}
	cmid_of(cmid, 3);
	CHECK_EQ_INT(test_user_send(&a, "bob@localhost", cmid, "x", 1), SOTTO_ERR_MAILBOX_FULL);
	test_user_close(&a);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);

	/* A database at its cap: SEND fails with its own error (the client tells the user the
	 * server is full); everything acknowledged is delivered. */
	REQUIRE(sottod_proc_launch(&sp, "registration = open\ndb_max_pages = 60") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	test_user_close(&b);
	memset(big, 'z', sizeof(big));
	for (int i = 0; i < 12; i++) {
		int r;
		cmid_of(cmid, 100 + i);
		big[0] = (uint8_t)('0' + i);
		r = test_user_send(&a, "bob@localhost", cmid, big, sizeof(big));
		if (r == 0)
			ok++;
		else if (r == SOTTO_ERR_SERVER_FULL)
			refused++;
	}
	CHECK(ok >= 1);
	CHECK(refused >= 1);
	CHECK_EQ_INT(ok + refused, 12);
	REQUIRE(test_user_connect(&b, &sp) == 0);
	while (test_user_next_push(&b, 1000) == 0) {
		CHECK_EQ_INT(b.ev.u.push.envelope_len, sizeof(big));
		n++;
	}
	CHECK_EQ_INT(n, ok);
	test_user_close(&a);
	test_user_close(&b);
	/* A clean exit: under ASan this also reports leaks and errors of the server. */
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(sigterm_drains_pipelined_sends)
{
	struct sottod_proc sp;
	struct test_user a, b;
	static struct proto_msg m;
	int acked[64] = { 0 }, got_ids[64] = { 0 }, n_acked = 0, n_got = 0;
	uint64_t id;
	char env[32], got[64];

	REQUIRE(sottod_proc_launch(&sp, "registration = open\npush_window = 100") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	test_user_close(&b);
	/* 64 SENDs without waiting, then SIGTERM while they are in flight. */
	for (int i = 0; i < 64; i++) {
		memset(&m, 0, sizeof(m));
		m.type = PROTO_SEND;
		m.id = (uint32_t)(1000 + i);
		strcpy(m.u.send.recipient, "bob@localhost");
		cmid_of(m.u.send.client_msg_id, i);
		snprintf(env, sizeof(env), "%d", i);
		m.u.send.envelope = (const uint8_t *)env;
		m.u.send.envelope_len = strlen(env);
		REQUIRE(conn_send(a.c, &m) == 0);
	}
	kill(sp.pid, SIGTERM);
	while (conn_next_event(a.c, &a.ev, 3000) == 0)
		if (a.ev.type == (PROTO_RESPONSE | PROTO_SEND) && a.ev.status == 0 &&
		    a.ev.id >= 1000 && a.ev.id < 1064) {
			acked[a.ev.id - 1000] = 1;
			n_acked++;
		}
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	test_user_close(&a);
	REQUIRE(sottod_proc_start(&sp) == 0);
	REQUIRE(test_user_connect(&b, &sp) == 0);
	while (next_push(&b, 1000, &id, got, sizeof(got)) == 0) {
		int i = atoi(got);
		if (i >= 0 && i < 64 && !got_ids[i]) {
			got_ids[i] = 1;
			n_got++;
		}
	}
	/* Every acknowledged SEND was stored; whatever reached the server before the signal
	 * was acknowledged, so at least some were. */
	for (int i = 0; i < 64; i++)
		if (acked[i])
			CHECK(got_ids[i]);
	CHECK(n_acked > 0);
	CHECK(n_got >= n_acked);
	test_user_close(&b);
	/* A clean exit: under ASan this also reports leaks and errors of the server. */
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(send_push_received_delete);
	RUN(store_and_forward_across_restart_and_duplicates);
	RUN(sigkill_after_ack_loses_nothing);
	RUN(mailbox_full_and_database_full_refuse_send);
	RUN(sigterm_drains_pipelined_sends);
	return check_summary();
}
