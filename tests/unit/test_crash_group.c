/*
 * Crash safety of group sends: sottod is SIGKILLed at random moments while members send
 * application messages to one group, each on an unidentified connection with the group
 * token (GROUP_SEND_SEALED, as the client sends them), then restarted; a sender retries an
 * unanswered send under the same client message id on a new unidentified connection, as
 * an outbox does. At the end every send that was acknowledged must be in the group's log
 * and reach a member that was offline throughout, under one seq: never lost, never stored
 * twice.
 *
 * SOTTO_CRASH_CYCLES (default 10) sets the number of kills; `make soak` raises it.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "client/group_net.h"
#include "sottod_proc.h"
#include "waitfor.h"

#define N_SENDERS 3
#define MAX_MSGS 20000
#define T 3000

static const uint8_t GID[] = "crash-group";
#define GID_LEN (sizeof(GID) - 1)

static struct sottod_proc sp;
static volatile int stop_flag;
static uint8_t token[PROTO_GROUP_TOKEN_LEN];    /* the group token of epoch 1 */

struct sender {
	struct test_user u;
	int index;
	int next;                       /* retried until acknowledged */
	long interrupted;               /* GROUP_SENDs that got no answer */
	uint64_t seq[MAX_MSGS];         /* the seq of each acknowledged message; 0: not yet */
};

static struct sender senders[N_SENDERS];

static void *
sender_main(void *arg)
{
	struct sender *s = arg;
	struct proto_group_result res;
	struct conn *c = NULL;
	uint8_t cmid[16];
	char text[32];
	int r;

	if (conn_open_sealed(&c, sp.address, T) != 0)
		return NULL;
	while (!stop_flag && s->next < MAX_MSGS) {
		snprintf(text, sizeof(text), "s%d m%d", s->index, s->next);
		sottod_proc_cmid(cmid, s->next, (uint8_t)s->index);
		r = group_net_send_sealed(&transport_conn, c, GID, GID_LEN, token, cmid,
		    (const uint8_t *)text, strlen(text), &res, T);
		if (r != 0) {
			s->interrupted++;
			break;          /* the server is gone: retried after the restart */
		}
		s->seq[s->next++] = res.seq;
	}
	conn_close(c);
	return NULL;
}

static void
round_run(int kill_after_ms)
{
	pthread_t th[N_SENDERS];

	stop_flag = 0;
	for (int i = 0; i < N_SENDERS; i++)
		pthread_create(&th[i], NULL, sender_main, &senders[i]);
	wait_sleep_ms(kill_after_ms);   /* a random moment, not a wait for a condition */
	sottod_proc_stop(&sp, SIGKILL);
	stop_flag = 1;
	for (int i = 0; i < N_SENDERS; i++)
		pthread_join(th[i], NULL);
}

TEST(acknowledged_group_sends_survive_sigkill)
{
	const char *env = getenv("SOTTO_CRASH_CYCLES");
	int cycles = env != NULL ? atoi(env) : 10, c;
	static struct test_user reader;
	static uint64_t seen_seq[N_SENDERS][MAX_MSGS];
	long acked = 0, interrupted = 0, missing = 0, twice = 0, wrong = 0, n_read = 0;
	struct test_user owner;
	const char *add[N_SENDERS + 1];
	static char addr[N_SENDERS + 1][64];
	struct group_net_welcome w = { (const uint8_t *)"welcome", 7, add, N_SENDERS + 1 };
	struct group_net_commit gc;
	struct proto_group_result res;
	uint8_t verifier[PROTO_GROUP_TOKEN_LEN];
	char name[32];

	if (cycles < 1)
		cycles = 10;
	randombytes_buf(token, sizeof(token));
	proto_group_verifier(verifier, token);
	/* One token for every sender: its rate is not what this test is about. */
	REQUIRE(sottod_proc_init(&sp, "registration = open\ngroup_log_max = 10000000\n"
	    "sealed_rate = 1000000\nsealed_burst = 1000000\n") == 0);
	REQUIRE(sottod_proc_start(&sp) == 0);
	REQUIRE(test_user_join(&owner, &sp, "owner") == 0);
	for (int i = 0; i < N_SENDERS; i++) {
		snprintf(name, sizeof(name), "sender%d", i);
		test_user_new(&senders[i].u, name);
		senders[i].index = i;
		REQUIRE(test_user_register(&senders[i].u, &sp, NULL) == 0);
		test_user_close(&senders[i].u);
		snprintf(addr[i], sizeof(addr[i]), "%s@localhost", name);
		add[i] = addr[i];
	}
	test_user_new(&reader, "reader");
	REQUIRE(test_user_register(&reader, &sp, NULL) == 0);
	test_user_close(&reader);
	snprintf(addr[N_SENDERS], sizeof(addr[N_SENDERS]), "reader@localhost");
	add[N_SENDERS] = addr[N_SENDERS];
	REQUIRE(group_net_create(&transport_conn, owner.c, GID, GID_LEN, NULL, T) == 0);
	memset(&gc, 0, sizeof(gc));
	gc.id = GID;
	gc.id_len = GID_LEN;
	gc.verifier = verifier;
	gc.commit = (const uint8_t *)"commit";
	gc.commit_len = 6;
	gc.add = add;
	gc.n_add = N_SENDERS + 1;
	gc.welcomes = &w;
	gc.n_welcomes = 1;
	REQUIRE(group_net_commit(&transport_conn, owner.c, &gc, &res, T) == 0);
	test_user_close(&owner);

	for (c = 0; c < cycles; c++) {
		if (c > 0 && sottod_proc_start(&sp) != 0) {
			CHECK(!"sottod restarts after SIGKILL");
			break;
		}
		round_run(20 + (int)randombytes_uniform(150));
	}
	/* The last round runs to its end: every sender's pending message is retried. */
	REQUIRE(sottod_proc_start(&sp) == 0);
	for (int i = 0; i < N_SENDERS; i++) {
		struct proto_group_result r2;
		struct conn *sc = NULL;
		uint8_t cmid[16];
		char text[32];

		REQUIRE(conn_open_sealed(&sc, sp.address, T) == 0);
		snprintf(text, sizeof(text), "s%d m%d", i, senders[i].next);
		sottod_proc_cmid(cmid, senders[i].next, (uint8_t)i);
		REQUIRE(group_net_send_sealed(&transport_conn, sc, GID, GID_LEN, token, cmid,
		    (const uint8_t *)text, strlen(text), &r2, T) == 0);
		senders[i].seq[senders[i].next++] = r2.seq;
		conn_close(sc);
	}
	/* The reader, offline throughout, reads the whole log. */
	REQUIRE(test_user_connect(&reader, &sp) == 0);
	for (;;) {
		struct proto_group_push *gp = &reader.ev.u.group_push;
		int si, mi;
		char text[40];

		if (conn_next_event(reader.c, &reader.ev, wait_scaled_ms(2000)) != 0)
			break;
		if (reader.ev.type != PROTO_GROUP_PUSH)
			continue;
		if (gp->kind == PROTO_GROUP_APPLICATION) {
			snprintf(text, sizeof(text), "%.*s", (int)gp->data.len,
			    (const char *)gp->data.p);
			if (sscanf(text, "s%d m%d", &si, &mi) != 2 || si < 0 || si >= N_SENDERS ||
			    mi < 0 || mi >= MAX_MSGS) {
				wrong++;
			} else {
				if (seen_seq[si][mi] != 0 && seen_seq[si][mi] != gp->seq)
					twice++;
				seen_seq[si][mi] = gp->seq;
			}
		}
		/* Acknowledged 32 at a time, inside the push window. */
		if (++n_read % 32 == 0) {
			struct proto_group_ack a;

			memset(&a, 0, sizeof(a));
			memcpy(a.group.id, gp->group.id, gp->group.len);
			a.group.len = gp->group.len;
			a.seq = gp->seq;
			REQUIRE(group_net_received(&transport_conn, reader.c, &a, 1, T) == 0);
		}
	}
	for (int i = 0; i < N_SENDERS; i++) {
		interrupted += senders[i].interrupted;
		for (int m = 0; m < senders[i].next; m++) {
			acked++;
			if (seen_seq[i][m] == 0)
				missing++;
			else if (seen_seq[i][m] != senders[i].seq[m])
				wrong++;
		}
	}
	printf("# %d kills: %ld group sends acknowledged, %ld cut off, %ld missing, %ld stored "
	    "twice, %ld under another seq\n", c, acked, interrupted, missing, twice, wrong);
	CHECK(acked > cycles);
	CHECK(interrupted > 0);
	CHECK_EQ_INT(missing, 0);
	CHECK_EQ_INT(twice, 0);
	CHECK_EQ_INT(wrong, 0);
	test_user_close(&reader);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	SOTTOD_RUN_BOTH(acknowledged_group_sends_survive_sigkill);
	return check_summary();
}
