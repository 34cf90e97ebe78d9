/*
 * Several sottod nodes on one PostgreSQL database (docs/SERVER.md "Several nodes"), from
 * outside: `sottod accounts reset` ends the account's connections on every node without a
 * reload; envelope ids from two nodes never collide; the re-scan does not push again what
 * a client has not yet acknowledged; envelopes stored through one node for many accounts
 * online on the other are read together, each account getting exactly its new ones.
 * (Blobs across nodes: test_server_blob; messages, groups and a killed node:
 * test_multinode.py.)
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

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

static int
send_unknown(void *arg)
{
	return test_user_send(arg, "bob@localhost", NULL, "x", 1) == SOTTO_ERR_UNKNOWN_USER;
}

/*
 * bob is connected to node 2 when the administrator resets his account through node 1's
 * data directory: node 2 ends his connection by itself (no SIGHUP to anyone); carol's
 * connection there goes on. dave on node 1 had sent to bob (node 1 keeps bob's row, read
 * for that SEND: rcpt_cache.c): node 1 forgets it, and SENDs to bob become UNKNOWN_USER.
 */
TEST(reset_ends_connections_on_every_node)
{
	struct sottod_proc n1, n2;
	struct test_user bob, carol, dave;
	const char *args[] = { "accounts", "reset", "bob", "--data", n1.dir, NULL };
	char token[256];

	REQUIRE(two_nodes(&n1, &n2) == 0);
	REQUIRE(test_user_join(&bob, &n1, "bob") == 0);
	REQUIRE(test_user_join(&carol, &n1, "carol") == 0);
	test_user_close(&bob);
	test_user_close(&carol);
	REQUIRE(test_user_connect(&bob, &n2) == 0);
	REQUIRE(test_user_connect(&carol, &n2) == 0);
	REQUIRE(test_user_join(&dave, &n1, "dave") == 0);
	CHECK_EQ_INT(test_user_lookup(&bob, "carol@localhost"), 0);
	CHECK_EQ_INT(test_user_send(&dave, "bob@localhost", NULL, "hi", 2), 0);
	CHECK_EQ_INT(sottod_proc_cmd(args, token, sizeof(token)), 0);
	CHECK(strlen(token) > 10);
	CHECK(wait_until(reset_logged, &n2, 5000));
	CHECK_EQ_INT(test_user_lookup(&bob, "carol@localhost"), TEST_USER_NO_ANSWER);
	CHECK_EQ_INT(test_user_lookup(&carol, "carol@localhost"), 0);
	CHECK_EQ_INT(sottod_proc_log_lines(&n1, "account reset by the administrator"), 0);
	CHECK(wait_until(send_unknown, &dave, 5000));
	test_user_close(&bob);
	test_user_close(&carol);
	test_user_close(&dave);
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

/* The next push to u is exactly env (len bytes); its id in *id. What came instead is
 * printed. */
static int
push_is(struct test_user *u, const char *env, uint64_t *id)
{
	size_t len = strlen(env);
	int r;

	if ((r = test_user_next_push(u, 5000)) != 0) {
		printf("# waiting for a push of \"%s\": %s\n", env, sotto_strerror(r));
		return 0;
	}
	if (u->ev.u.push.envelope_len != len || memcmp(u->ev.u.push.envelope, env, len) != 0) {
		printf("# waiting for a push of \"%s\": \"%.*s\" came (id %llu)\n", env,
		    (int)u->ev.u.push.envelope_len, (const char *)u->ev.u.push.envelope,
		    (unsigned long long)u->ev.u.push.envelope_id);
		return 0;
	}
	*id = u->ev.u.push.envelope_id;
	return 1;
}

/*
 * bob on node 2 does not acknowledge a push of what alice sent through node 1: a second
 * SEND is pushed without waiting for that acknowledgement (read by its id: the first is
 * not pushed again), and the re-scans (every 2 s) push neither again (before, every second
 * re-scan did).
 */
TEST(rescan_does_not_push_again_what_is_unacknowledged)
{
	struct sottod_proc n1, n2;
	struct test_user alice, bob;
	uint64_t ids[2] = { 0, 0 };

	REQUIRE(two_nodes(&n1, &n2) == 0);
	REQUIRE(test_user_join(&alice, &n1, "alice") == 0);
	REQUIRE(test_user_join(&bob, &n1, "bob") == 0);
	test_user_close(&bob);
	REQUIRE(test_user_connect(&bob, &n2) == 0);
	CHECK_EQ_INT(test_user_send(&alice, "bob@localhost", NULL, "one", 3), 0);
	CHECK(push_is(&bob, "one", &ids[0]));
	CHECK_EQ_INT(test_user_send(&alice, "bob@localhost", NULL, "two", 3), 0);
	CHECK(push_is(&bob, "two", &ids[1]));
	/* Three re-scans: nothing more comes (a fixed wait: a check that nothing happens). */
	CHECK_EQ_INT(test_user_next_push(&bob, 3 * 2000 + 1000), SOTTO_ERR_TIMEOUT);
	CHECK_EQ_INT(test_user_received(&bob, ids, 2), 0);
	test_user_close(&alice);
	test_user_close(&bob);
	two_nodes_stop(&n1, &n2);
}

/*
 * With a push window of 2, bob on node 2 holds two pushes of what alice sent through node
 * 1 unacknowledged when a third comes: it does not fit, so his pushes restart instead
 * (from the start of the mailbox, once nothing is in flight): it comes after his
 * acknowledgement, and the two are not pushed again.
 */
TEST(wake_that_does_not_fit_restarts_and_loses_nothing)
{
	struct sottod_proc n1, n2;
	struct test_user alice, bob;
	uint64_t ids[3] = { 0, 0, 0 };

	REQUIRE(two_nodes_conf(&n1, &n2, CONF "\npush_window = 2") == 0);
	REQUIRE(test_user_join(&alice, &n1, "alice") == 0);
	REQUIRE(test_user_join(&bob, &n1, "bob") == 0);
	test_user_close(&bob);
	REQUIRE(test_user_connect(&bob, &n2) == 0);
	CHECK_EQ_INT(test_user_send(&alice, "bob@localhost", NULL, "one", 3), 0);
	CHECK(push_is(&bob, "one", &ids[0]));
	CHECK_EQ_INT(test_user_send(&alice, "bob@localhost", NULL, "two", 3), 0);
	CHECK(push_is(&bob, "two", &ids[1]));
	CHECK_EQ_INT(test_user_send(&alice, "bob@localhost", NULL, "three", 5), 0);
	CHECK_EQ_INT(test_user_received(&bob, ids, 2), 0);
	CHECK(push_is(&bob, "three", &ids[2]));
	CHECK_EQ_INT(test_user_received(&bob, &ids[2], 1), 0);
	test_user_close(&alice);
	test_user_close(&bob);
	two_nodes_stop(&n1, &n2);
}

#define WOKEN_ACCOUNTS 12

/* The "N notifications, M batched reads" of a node's log (written when it stops). */
static int
wake_stats(const struct sottod_proc *sp, unsigned long long *notes, unsigned long long *reads)
{
	char path[256], line[1024];
	const char *at;
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/log", sp->dir);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if ((at = strstr(line, "wake: ")) != NULL &&
		    sscanf(at, "wake: %llu notifications, %llu batched reads", notes, reads) == 2)
			found = 1;
	fclose(f);
	return found;
}

/*
 * Twelve accounts online on node 2, each with an envelope pushed and not acknowledged.
 * Node 2 is stopped (SIGSTOP) while alice sends through node 1 one to three envelopes to
 * each, so that their notifications reach node 2 together: after SIGCONT each account gets
 * exactly its new envelopes, in order, the unacknowledged one not again (the next push
 * after them is the last SEND to it), and node 2 read them in fewer reads than accounts.
 */
TEST(accounts_woken_together_get_exactly_their_new_envelopes)
{
	struct sottod_proc n1, n2;
	struct test_user alice, u[WOKEN_ACCOUNTS];
	char name[32], to[64], env[64];
	uint64_t id, acked[4];
	unsigned long long notes = 0, reads = 0;
	int i, j, stopped = 0;

	REQUIRE(two_nodes(&n1, &n2) == 0);
	REQUIRE(test_user_join(&alice, &n1, "alice") == 0);
	for (i = 0; i < WOKEN_ACCOUNTS; i++) {
		snprintf(name, sizeof(name), "u%d", i);
		REQUIRE(test_user_join(&u[i], &n1, name) == 0);
		test_user_close(&u[i]);
		REQUIRE(test_user_connect(&u[i], &n2) == 0);
	}
	for (i = 0; i < WOKEN_ACCOUNTS; i++) {
		snprintf(to, sizeof(to), "u%d@localhost", i);
		snprintf(env, sizeof(env), "old u%d", i);
		CHECK_EQ_INT(test_user_send(&alice, to, NULL, env, strlen(env)), 0);
		CHECK(push_is(&u[i], env, &id));
	}
	if (kill(n2.pid, SIGSTOP) == 0)
		stopped = 1;
	CHECK(stopped);
	for (i = 0; i < WOKEN_ACCOUNTS; i++)
		for (j = 0; j <= i % 3; j++) {
			snprintf(to, sizeof(to), "u%d@localhost", i);
			snprintf(env, sizeof(env), "u%d #%d", i, j);
			CHECK_EQ_INT(test_user_send(&alice, to, NULL, env, strlen(env)), 0);
		}
	if (stopped)
		CHECK_EQ_INT(kill(n2.pid, SIGCONT), 0);
	for (i = 0; i < WOKEN_ACCOUNTS; i++) {
		for (j = 0; j <= i % 3; j++) {
			snprintf(env, sizeof(env), "u%d #%d", i, j);
			CHECK(push_is(&u[i], env, &acked[j]));
			CHECK(j == 0 || acked[j] > acked[j - 1]);
		}
		CHECK_EQ_INT(test_user_received(&u[i], acked, (size_t)j), 0);
		snprintf(to, sizeof(to), "u%d@localhost", i);
		CHECK_EQ_INT(test_user_send(&alice, to, NULL, "last", 4), 0);
		CHECK(push_is(&u[i], "last", &id));
	}
	test_user_close(&alice);
	for (i = 0; i < WOKEN_ACCOUNTS; i++)
		test_user_close(&u[i]);
	CHECK_EQ_INT(sottod_proc_stop(&n2, SIGTERM), 0);
	CHECK_EQ_INT(sottod_proc_stop(&n1, SIGTERM), 0);
	/* Node 2's tally, logged when it stopped: the "old" and "last" rounds take a read per
	 * account (each waits for its push); the round sent while it was stopped fewer. */
	CHECK(wake_stats(&n2, &notes, &reads));
	CHECK(notes >= 4 * WOKEN_ACCOUNTS);
	CHECK(reads > 0 && reads < 3 * WOKEN_ACCOUNTS);
	sottod_proc_cleanup(&n2);
	sottod_proc_cleanup(&n1);
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
	SOTTOD_RUN_PG(accounts_woken_together_get_exactly_their_new_envelopes);
	SOTTOD_RUN_PG(wake_that_does_not_fit_restarts_and_loses_nothing);
	return check_summary();
}
