/*
 * Several sottod nodes on one PostgreSQL database (docs/SERVER.md "Several nodes"), from
 * outside: `sottod accounts reset` ends the account's connections on every node without a
 * reload; envelope ids from two nodes never collide; the re-scan does not push again what
 * a client has not yet acknowledged. (Blobs across nodes: test_server_blob; messages,
 * groups and a killed node: test_multinode.py.)
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "sottod_proc.h"
#include "waitfor.h"

#define CONF "registration = open"

/* Two nodes of one database, both with conf: 0, or -1 (both cleaned). */
static int
two_nodes_conf(struct sottod_proc *n1, struct sottod_proc *n2, const char *conf)
{
	if (sottod_proc_launch(n1, conf) != 0) {
		sottod_proc_cleanup(n1);
		return -1;
	}
	if (sottod_proc_node(n2, n1, NULL) != 0) {
		sottod_proc_cleanup(n2);
		sottod_proc_cleanup(n1);
		return -1;
	}
	return 0;
}

static int
two_nodes(struct sottod_proc *n1, struct sottod_proc *n2)
{
	return two_nodes_conf(n1, n2, CONF);
}

static void
two_nodes_stop(struct sottod_proc *n1, struct sottod_proc *n2)
{
	CHECK_EQ_INT(sottod_proc_stop(n2, SIGTERM), 0);
	CHECK_EQ_INT(sottod_proc_stop(n1, SIGTERM), 0);
	sottod_proc_cleanup(n2);
	sottod_proc_cleanup(n1);
}

static int
reset_logged(void *arg)
{
	return sottod_proc_log_lines(arg, "account reset by the administrator") > 0;
}

/*
 * bob is connected to node 2 when the administrator resets his account through node 1's
 * data directory: node 2 ends his connection by itself (no SIGHUP to anyone); carol's
 * connection there goes on.
 */
TEST(reset_ends_connections_on_every_node)
{
	struct sottod_proc n1, n2;
	struct test_user bob, carol;
	const char *args[] = { "accounts", "reset", "bob", "--data", n1.dir, NULL };
	char token[256];

	REQUIRE(two_nodes(&n1, &n2) == 0);
	REQUIRE(test_user_join(&bob, &n1, "bob") == 0);
	REQUIRE(test_user_join(&carol, &n1, "carol") == 0);
	test_user_close(&bob);
	test_user_close(&carol);
	REQUIRE(test_user_connect(&bob, &n2) == 0);
	REQUIRE(test_user_connect(&carol, &n2) == 0);
	CHECK_EQ_INT(test_user_lookup(&bob, "carol@localhost"), 0);
	CHECK_EQ_INT(sottod_proc_cmd(args, token, sizeof(token)), 0);
	CHECK(strlen(token) > 10);
	CHECK(wait_until(reset_logged, &n2, 5000));
	CHECK_EQ_INT(test_user_lookup(&bob, "carol@localhost"), TEST_USER_NO_ANSWER);
	CHECK_EQ_INT(test_user_lookup(&carol, "carol@localhost"), 0);
	CHECK_EQ_INT(sottod_proc_log_lines(&n1, "account reset by the administrator"), 0);
	test_user_close(&bob);
	test_user_close(&carol);
	two_nodes_stop(&n1, &n2);
}

/*
 * The stored maximum set far above the clock's share, then SENDs to bob (offline, so all
 * are stored) through node 1, node 2, node 1: with a counter per node started from the
 * stored maximum, node 2 starts at node 1's second id and the third SEND failed as a
 * unique violation. Now all three are accepted, and bob gets them under three ids.
 */
TEST(envelope_ids_never_collide_across_nodes)
{
	struct sottod_proc n1, n2;
	struct test_user alice, carol, bob;
	uint64_t ids[3] = { 0, 0, 0 };

	REQUIRE(two_nodes(&n1, &n2) == 0);
	REQUIRE(test_user_join(&alice, &n1, "alice") == 0);
	REQUIRE(test_user_join(&bob, &n1, "bob") == 0);
	REQUIRE(test_user_join(&carol, &n1, "carol") == 0);
	test_user_close(&bob);
	test_user_close(&carol);
	REQUIRE(test_user_connect(&carol, &n2) == 0);
	CHECK_EQ_INT(sottod_proc_db_int(&n1, "UPDATE meta SET v = 4000000000000000000"
	    " WHERE k = 'env_id_max' RETURNING v"), 4000000000000000000);
	CHECK_EQ_INT(test_user_send(&alice, "bob@localhost", NULL, "one", 3), 0);
	CHECK_EQ_INT(test_user_send(&carol, "bob@localhost", NULL, "two", 3), 0);
	CHECK_EQ_INT(test_user_send(&alice, "bob@localhost", NULL, "three", 5), 0);
	REQUIRE(test_user_connect(&bob, &n2) == 0);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(test_user_next_push(&bob, 5000), 0);
		ids[i] = bob.ev.u.push.envelope_id;
		CHECK_EQ_INT(test_user_received(&bob, &ids[i], 1), 0);
	}
	for (int i = 0; i < 3; i++)
		CHECK(ids[i] > 4000000000000000000u && ids[i] != ids[(i + 1) % 3]);
	test_user_close(&alice);
	test_user_close(&bob);
	test_user_close(&carol);
	two_nodes_stop(&n1, &n2);
}

/*
 * bob on node 2 does not acknowledge a push of what alice sent through node 1: the
 * re-scans (every 2 s) do not push it again (before, every second re-scan did). A second
 * SEND meanwhile waits for his acknowledgement, then comes.
 */
TEST(rescan_does_not_push_again_what_is_unacknowledged)
{
	struct sottod_proc n1, n2;
	struct test_user alice, bob;
	uint64_t first;

	REQUIRE(two_nodes(&n1, &n2) == 0);
	REQUIRE(test_user_join(&alice, &n1, "alice") == 0);
	REQUIRE(test_user_join(&bob, &n1, "bob") == 0);
	test_user_close(&bob);
	REQUIRE(test_user_connect(&bob, &n2) == 0);
	CHECK_EQ_INT(test_user_send(&alice, "bob@localhost", NULL, "one", 3), 0);
	CHECK_EQ_INT(test_user_next_push(&bob, 5000), 0);
	first = bob.ev.u.push.envelope_id;
	CHECK_EQ_INT(test_user_send(&alice, "bob@localhost", NULL, "two", 3), 0);
	/* Three re-scans: nothing more comes (a fixed wait: a check that nothing happens). */
	CHECK_EQ_INT(test_user_next_push(&bob, 3 * 2000 + 1000), SOTTO_ERR_TIMEOUT);
	CHECK_EQ_INT(test_user_received(&bob, &first, 1), 0);
	CHECK_EQ_INT(test_user_next_push(&bob, 5000), 0);
	CHECK(bob.ev.u.push.envelope_id != first);
	CHECK_EQ_INT(bob.ev.u.push.envelope_len, 3);
	CHECK(bob.ev.u.push.envelope_len == 3 && memcmp(bob.ev.u.push.envelope, "two", 3) == 0);
	test_user_close(&alice);
	test_user_close(&bob);
	two_nodes_stop(&n1, &n2);
}

/*
 * A mailbox's cap holds over both nodes together (its counters are in the database, read
 * under a row lock by each commit): two SENDs through each node to bob's mailbox of 3, the
 * fourth refused.
 */
TEST(mailbox_quota_holds_across_nodes)
{
	struct sottod_proc n1, n2;
	struct test_user alice, bob, carol;

	REQUIRE(two_nodes_conf(&n1, &n2, CONF "\nmailbox_max = 3") == 0);
	REQUIRE(test_user_join(&alice, &n1, "alice") == 0);
	REQUIRE(test_user_join(&bob, &n1, "bob") == 0);
	REQUIRE(test_user_join(&carol, &n1, "carol") == 0);
	test_user_close(&bob);
	test_user_close(&carol);
	REQUIRE(test_user_connect(&carol, &n2) == 0);
	CHECK_EQ_INT(test_user_send(&alice, "bob@localhost", NULL, "1", 1), 0);
	CHECK_EQ_INT(test_user_send(&alice, "bob@localhost", NULL, "2", 1), 0);
	CHECK_EQ_INT(test_user_send(&carol, "bob@localhost", NULL, "3", 1), 0);
	CHECK_EQ_INT(test_user_send(&carol, "bob@localhost", NULL, "4", 1), SOTTO_ERR_MAILBOX_FULL);
	test_user_close(&alice);
	test_user_close(&carol);
	two_nodes_stop(&n1, &n2);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		return 1;
	SOTTOD_RUN_PG(reset_ends_connections_on_every_node);
	SOTTOD_RUN_PG(envelope_ids_never_collide_across_nodes);
	SOTTOD_RUN_PG(rescan_does_not_push_again_what_is_unacknowledged);
	SOTTOD_RUN_PG(mailbox_quota_holds_across_nodes);
	return check_summary();
}
