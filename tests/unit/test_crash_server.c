/*
 * Crash safety of sottod: the real server is SIGKILLed at random moments while senders
 * send and recipients receive, then restarted. Senders retry an unanswered SEND with the
 * same client message id after each restart, as a client's outbox does. At the end every
 * SEND that was acknowledged must have reached its recipient exactly once: never lost,
 * never stored twice (a second envelope id for the same message). A push repeated under the
 * same envelope id (its RECEIVED lost in a crash) is allowed: a client drops it by id.
 * So is a second envelope id for a message whose SEND a kill cut off: sottod pushes a
 * SEND before its commit, so the retry of one killed before its commit is new to the
 * server; the client drops it by message id. Envelope ids are never reused.
 *
 * SOTTO_CRASH_CYCLES (default 20) sets the number of kills; `make soak` raises it. The
 * test runs once on each storage backend: SQLite, then PostgreSQL (SOTTO_TEST_PG), where
 * the kills land between a COMMIT and its answer as well as anywhere else.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "client/conn.h"
#include "sottod_proc.h"
#include "waitfor.h"

#define N_SENDERS 4
#define N_RCPTS 2
#define MAX_MSGS 20000          /* per sender */
#define MAX_ENV_IDS (N_SENDERS * MAX_MSGS * 2)
#define OWNER_SLOTS (MAX_ENV_IDS * 2)   /* open addressing, at most half full */

static struct sottod_proc sp;
static volatile int stop_flag, final_mode;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

struct sender {
	struct test_user u;
	int index;
	int next;                       /* next message; retried until acknowledged */
	int pending;                    /* next was sent and got no answer yet */
	uint8_t acked[MAX_MSGS];
	long interrupted;               /* SENDs that got no answer (server killed) */
	struct proto_msg req, resp;
};

struct rcpt {
	struct test_user u;
	struct proto_msg req, resp, ev;
};

static struct sender senders[N_SENDERS];
static struct rcpt rcpts[N_RCPTS];
/* Per message: the envelope id it was first delivered under, and how often a different id
 * carried it again. Per envelope id: which message it carried (1 + s * MAX_MSGS + i). */
static uint64_t first_env[N_SENDERS][MAX_MSGS];
static unsigned dup_env[N_SENDERS][MAX_MSGS];
static uint8_t cut_off[N_SENDERS][MAX_MSGS];    /* its SEND was cut off and retried */
/* Envelope id -> message (sottod's ids are large: a hash table, not an array). */
struct owner_slot {
	uint64_t id;
	uint32_t owner;
};
static struct owner_slot *env_owner;
static long redelivered, reused_ids, foreign, owner_full;

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void
cmid_of(uint8_t cmid[16], int s, int i)
{
	memset(cmid, 0xc5, 16);
	cmid[0] = (uint8_t)s;
	cmid[1] = (uint8_t)(i >> 16);
	cmid[2] = (uint8_t)(i >> 8);
	cmid[3] = (uint8_t)i;
}

static void *
sender_main(void *arg)
{
	struct sender *s = arg;
	char body[96];
	int r;

	if (test_user_connect(&s->u, &sp) != 0)
		return NULL;
	while (s->next < MAX_MSGS && (final_mode ? s->pending : !stop_flag)) {
		int len = snprintf(body, sizeof(body), "crash-test s=%d i=%d pad=%u", s->index,
		    s->next, randombytes_uniform(1000000));

		memset(&s->req, 0, sizeof(s->req));
		s->req.type = PROTO_SEND;
		snprintf(s->req.u.send.recipient, sizeof(s->req.u.send.recipient), "%s",
		    rcpts[s->index % N_RCPTS].u.address);
		cmid_of(s->req.u.send.client_msg_id, s->index, s->next);
		s->req.u.send.envelope = (const uint8_t *)body;
		s->req.u.send.envelope_len = (size_t)len;
		s->pending = 1;
		if ((r = conn_request(s->u.c, &s->req, &s->resp, 5000)) != 0) {
			s->interrupted++;
			pthread_mutex_lock(&mu);
			cut_off[s->index][s->next] = 1;
			pthread_mutex_unlock(&mu);
			break;          /* not acknowledged: retried with the same id later */
		}
		if (s->resp.status == SOTTO_ERR_LIMIT) {
			sleep_ms(5);
			continue;
		}
		if (s->resp.status != 0) {
			fprintf(stderr, "SEND refused: %s\n", sotto_strerror(s->resp.status));
			break;
		}
		s->acked[s->next++] = 1;
		s->pending = 0;
	}
	test_user_close(&s->u);
	return NULL;
}

static void
record(const uint8_t *env, size_t len, uint64_t env_id)
{
	char text[128];
	int s, i;

	if (len >= sizeof(text)) {
		foreign++;
		return;
	}
	memcpy(text, env, len);
	text[len] = '\0';
	if (sscanf(text, "crash-test s=%d i=%d", &s, &i) != 2 || s < 0 || s >= N_SENDERS ||
	    i < 0 || i >= MAX_MSGS) {
		foreign++;
		return;
	}
	pthread_mutex_lock(&mu);
	if (first_env[s][i] == 0)
		first_env[s][i] = env_id;
	else if (first_env[s][i] == env_id)
		redelivered++;
	else
		dup_env[s][i]++;
	{
		uint32_t owner = 1 + (uint32_t)(s * MAX_MSGS + i);
		size_t k = (size_t)((env_id * 0x9e3779b97f4a7c15ull) >> 20) % OWNER_SLOTS, n = 0;

		while (env_owner[k].owner != 0 && env_owner[k].id != env_id && n++ < OWNER_SLOTS)
			k = (k + 1) % OWNER_SLOTS;
		if (n >= OWNER_SLOTS) {
			owner_full++;
		} else if (env_owner[k].owner == 0) {
			env_owner[k].id = env_id;
			env_owner[k].owner = owner;
		} else if (env_owner[k].owner != owner) {
			reused_ids++;
		}
	}
	pthread_mutex_unlock(&mu);
}

static void *
rcpt_main(void *arg)
{
	struct rcpt *rc = arg;

	if (test_user_connect(&rc->u, &sp) != 0)
		return NULL;
	while (!stop_flag) {
		int r = conn_next_event(rc->u.c, &rc->ev, 50);
		uint64_t id;

		if (r == SOTTO_ERR_TIMEOUT)
			continue;
		if (r != 0)
			break;
		if (rc->ev.type != PROTO_PUSH)
			continue;
		id = rc->ev.u.push.envelope_id;
		record(rc->ev.u.push.envelope, rc->ev.u.push.envelope_len, id);
		memset(&rc->req, 0, sizeof(rc->req));
		rc->req.type = PROTO_RECEIVED;
		rc->req.u.received.n = 1;
		rc->req.u.received.ids[0] = id;
		if (conn_request(rc->u.c, &rc->req, &rc->resp, 5000) != 0)
			break;
	}
	test_user_close(&rc->u);
	return NULL;
}

static long
count_acked(void)
{
	long n = 0;

	for (int s = 0; s < N_SENDERS; s++)
		for (int i = 0; i < MAX_MSGS; i++)
			n += senders[s].acked[i];
	return n;
}

static long
count_missing(void)
{
	long n = 0;

	for (int s = 0; s < N_SENDERS; s++)
		for (int i = 0; i < MAX_MSGS; i++)
			if (senders[s].acked[i] && first_env[s][i] == 0)
				n++;
	return n;
}

static int
none_missing(void *arg)
{
	(void)arg;
	return count_missing() == 0;
}

/* One run of every thread against the running server, which is killed after
 * kill_after_ms; or the final round: no kill, each sender only retries its pending message,
 * and the recipients drain until nothing acknowledged is missing (10 s at most, scaled). */
static void
round_run(unsigned kill_after_ms, int final)
{
	pthread_t ts[N_SENDERS], tr[N_RCPTS];
	int i;

	stop_flag = 0;
	final_mode = final;
	for (i = 0; i < N_RCPTS; i++)
		pthread_create(&tr[i], NULL, rcpt_main, &rcpts[i]);
	for (i = 0; i < N_SENDERS; i++)
		pthread_create(&ts[i], NULL, sender_main, &senders[i]);
	if (!final) {
		sleep_ms(kill_after_ms);
		sottod_proc_stop(&sp, SIGKILL);
		stop_flag = 1;
	}
	for (i = 0; i < N_SENDERS; i++)
		pthread_join(ts[i], NULL);
	if (final) {
		wait_until(none_missing, NULL, 10000);
		sleep_ms(300);          /* late duplicates, if any, would arrive now */
	}
	stop_flag = 1;
	for (i = 0; i < N_RCPTS; i++)
		pthread_join(tr[i], NULL);
}

TEST(acknowledged_sends_arrive_exactly_once_across_sigkills)
{
	const char *env = getenv("SOTTO_CRASH_CYCLES");
	int cycles = env != NULL ? atoi(env) : 20, c, i;
	long interrupted = 0, missing, dups = 0, retry_dups = 0;
	char name[32];

	if (cycles < 1)
		cycles = 20;
	REQUIRE((env_owner = calloc(OWNER_SLOTS, sizeof(*env_owner))) != NULL);
	REQUIRE(sottod_proc_init(&sp, "registration = open\nmailbox_max = 1000000\n") == 0);
	REQUIRE(sottod_proc_start(&sp) == 0);
	for (i = 0; i < N_RCPTS; i++) {
		snprintf(name, sizeof(name), "rcpt%d", i);
		test_user_new(&rcpts[i].u, name);
		REQUIRE(test_user_register(&rcpts[i].u, &sp, NULL) == 0);
		test_user_close(&rcpts[i].u);
	}
	for (i = 0; i < N_SENDERS; i++) {
		snprintf(name, sizeof(name), "sender%d", i);
		test_user_new(&senders[i].u, name);
		senders[i].index = i;
		REQUIRE(test_user_register(&senders[i].u, &sp, NULL) == 0);
		test_user_close(&senders[i].u);
	}
	for (c = 0; c < cycles; c++) {
		if (c > 0 && sottod_proc_start(&sp) != 0) {
			CHECK(!"sottod restarts after SIGKILL");
			printf("# cycle %d: sottod exited with %d\n", c, sp.exit_status);
			break;
		}
		round_run(5 + randombytes_uniform(120), 0);
	}
	REQUIRE(sottod_proc_start(&sp) == 0);
	round_run(0, 1);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);

	for (i = 0; i < N_SENDERS; i++)
		interrupted += senders[i].interrupted;
	for (int s = 0; s < N_SENDERS; s++)
		for (i = 0; i < MAX_MSGS; i++) {
			if (cut_off[s][i])
				retry_dups += dup_env[s][i];
			else
				dups += dup_env[s][i];
		}
	missing = count_missing();
	printf("# %d kills: %ld SENDs acknowledged, %ld cut off by a kill, %ld missing, "
	    "%ld stored twice, %ld pushes repeated under the same id, %ld retries of a SEND "
	    "cut off pushed under a new id\n", c, count_acked(), interrupted, missing, dups,
	    redelivered, retry_dups);
	CHECK(count_acked() > cycles);          /* the test really sent */
	CHECK(interrupted > 0);                 /* and kills really cut SENDs off */
	CHECK_EQ_INT(missing, 0);
	CHECK_EQ_INT(dups, 0);
	CHECK_EQ_INT(reused_ids, 0);
	CHECK_EQ_INT(owner_full, 0);
	CHECK_EQ_INT(foreign, 0);
	if (check_failed_now())
		printf("# server data kept in %s\n", sp.dir);
	else
		sottod_proc_cleanup(&sp);
	free(env_owner);
}

/* Everything one run leaves behind, for the next backend's run. */
static void
reset_state(void)
{
	stop_flag = final_mode = 0;
	memset(senders, 0, sizeof(senders));
	memset(rcpts, 0, sizeof(rcpts));
	memset(first_env, 0, sizeof(first_env));
	memset(dup_env, 0, sizeof(dup_env));
	memset(cut_off, 0, sizeof(cut_off));
	redelivered = reused_ids = foreign = owner_full = 0;
	env_owner = NULL;
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	check_begin("acknowledged_sends_arrive_exactly_once_across_sigkills (sqlite)");
	acknowledged_sends_arrive_exactly_once_across_sigkills();
	check_end();
	reset_state();
	check_begin("acknowledged_sends_arrive_exactly_once_across_sigkills (postgresql)");
	if (sottod_proc_use_pg(1) != 0)
		check_fail(__FILE__, __LINE__, "SOTTO_TEST_PG: no PostgreSQL to test");
	else
		acknowledged_sends_arrive_exactly_once_across_sigkills();
	check_end();
	return check_summary();
}
