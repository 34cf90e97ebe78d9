/*
 * sottod against a real process: the MLS delivery service (docs/PROTOCOL-wire.md 0x0A to
 * 0x0F and 0x17, docs/SERVER.md "Groups" and "Group tokens"), driven through the client's requests (client/group_net.h).
 * MLS messages are opaque to the server, so the tests use recognisable bytes.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "client/group_net.h"
#include "sottod_proc.h"
#include "waitfor.h"
#include "wire/frame.h"

#define T 5000

static const uint8_t GID[] = "group-one";
#define GID_LEN (sizeof(GID) - 1)

static struct proto_blob
blob(const char *s)
{
	struct proto_blob b = { (const uint8_t *)s, strlen(s) };

	return b;
}

/* The next GROUP_PUSH of u into u->ev (other notices skipped): 0, or the conn error. */
static int
next_group_push(struct test_user *u, int timeout_ms)
{
	int r;

	while ((r = conn_next_event(u->c, &u->ev, wait_scaled_ms(timeout_ms))) == 0)
		if (u->ev.type == PROTO_GROUP_PUSH)
			return 0;
	return r;
}

/* The next push at or after seq. On PostgreSQL a re-scan (server.h WAKE_RESCAN_MS) may
 * restart a busy connection's pushes from its read position; a client drops what it has
 * already seen by its seq (PROTOCOL-wire.md 4a), and so does this. */
static int
next_group_push_from(struct test_user *u, uint64_t seq, int timeout_ms)
{
	int r;

	while ((r = next_group_push(u, timeout_ms)) == 0 && u->ev.u.group_push.seq < seq)
		;
	return r;
}

/* Nothing after seq arrives within timeout_ms (a fixed wait for something that must not
 * happen); repeats of what was already pushed may. */
static int
no_group_push_after(struct test_user *u, uint64_t seq, int timeout_ms)
{
	struct timespec t0, t;
	long left = timeout_ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (left > 0 && next_group_push(u, (int)left) == 0) {
		if (u->ev.u.group_push.seq > seq)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &t);
		left = timeout_ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
	}
	return 1;
}

static int
ack(struct test_user *u, const uint8_t *gid, size_t len, uint64_t seq)
{
	struct proto_group_ack a;

	memset(&a, 0, sizeof(a));
	memcpy(a.group.id, gid, len);
	a.group.len = len;
	a.seq = seq;
	return group_net_received(&transport_conn, u->c, &a, 1, T);
}

/* A Commit at epoch registering verifier (NULL: none) for the epoch it makes, adding the
 * addresses in add with one Welcome for all of them and removing those in remove. */
static int
commit_token(struct test_user *u, uint64_t epoch, const uint8_t *verifier, const char *commit,
    const char *const *add, size_t n_add, const char *const *remove, size_t n_remove,
    struct proto_group_result *res)
{
	struct group_net_welcome w = { (const uint8_t *)"welcome", 7, add, n_add };
	struct group_net_commit gc;

	memset(&gc, 0, sizeof(gc));
	gc.id = GID;
	gc.id_len = GID_LEN;
	gc.epoch = epoch;
	gc.verifier = verifier;
	gc.commit = (const uint8_t *)commit;
	gc.commit_len = strlen(commit);
	gc.add = add;
	gc.n_add = n_add;
	gc.remove = remove;
	gc.n_remove = n_remove;
	gc.welcomes = &w;
	gc.n_welcomes = n_add > 0;
	return group_net_commit(&transport_conn, u->c, &gc, res, T);
}

/* The same without a verifier. */
static int
commit_adds(struct test_user *u, uint64_t epoch, const char *commit, const char *const *add,
    size_t n_add, const char *const *remove, size_t n_remove, struct proto_group_result *res)
{
	return commit_token(u, epoch, NULL, commit, add, n_add, remove, n_remove, res);
}

static int
send_text(struct test_user *u, int i, const char *text, struct proto_group_result *res)
{
	uint8_t cmid[16];

	sottod_proc_cmid(cmid, i, 0x61);
	return group_net_send(&transport_conn, u->c, GID, GID_LEN, cmid, (const uint8_t *)text,
	    strlen(text), res, T);
}

/* A random group token and its verifier. */
static void
token_new(uint8_t token[PROTO_GROUP_TOKEN_LEN], uint8_t verifier[PROTO_GROUP_TOKEN_LEN])
{
	randombytes_buf(token, PROTO_GROUP_TOKEN_LEN);
	proto_group_verifier(verifier, token);
}

/* GROUP_SEND_SEALED of text under client id i with token on the unidentified connection c
 * (group gid, GID if NULL). */
static int
send_sealed(struct conn *c, const uint8_t *gid, const uint8_t token[PROTO_GROUP_TOKEN_LEN],
    int i, const char *text, struct proto_group_result *res)
{
	uint8_t cmid[16];

	sottod_proc_cmid(cmid, i, 0x73);
	return group_net_send_sealed(&transport_conn, c, gid != NULL ? gid : GID, GID_LEN, token,
	    cmid, (const uint8_t *)text, strlen(text), res, T);
}

static void
drain_notices(struct test_user *u)
{
	while (conn_next_event(u->c, &u->ev, 0) == 0)
		;
}

TEST(key_packages_one_time_then_last_resort)
{
	struct sottod_proc sp;
	struct test_user a, b;
	struct proto_key_package_count left;
	struct proto_blob kps[3] = { blob("kp-1"), blob("kp-2"), blob("kp-3") }, lr = blob("kp-lr");
	struct proto_blob more[2] = { blob("kp-4"), blob("kp-5") };
	static struct group_net_claimed got;
	int seen[3] = { 0, 0, 0 }, lows = 0;

	REQUIRE(sottod_proc_launch(&sp, "registration = open\nkey_package_max = 4\n"
	    "key_package_low = 2") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	CHECK_EQ_INT(group_net_claim_key_package(&transport_conn, b.c, "alice@localhost", &got, T),
	    SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(group_net_claim_key_package(&transport_conn, b.c, "nobody@localhost", &got, T),
	    SOTTO_ERR_UNKNOWN_USER);
	CHECK_EQ_INT(group_net_claim_key_package(&transport_conn, b.c, "alice@elsewhere.example",
	    &got, T), SOTTO_ERR_OTHER_DOMAIN);
	REQUIRE(group_net_upload_key_packages(&transport_conn, a.c, kps, 3, &lr, &left, T) == 0);
	CHECK_EQ_INT(left.count, 3);
	CHECK_EQ_INT(left.has_last_resort, 1);
	/* Over key_package_max: refused whole, nothing stored. */
	CHECK_EQ_INT(group_net_upload_key_packages(&transport_conn, a.c, more, 2, NULL, &left, T),
	    SOTTO_ERR_LIMIT);
	for (int i = 0; i < 3; i++) {
		REQUIRE(group_net_claim_key_package(&transport_conn, b.c, "Alice@LocalHost", &got,
		    T) == 0);
		CHECK_EQ_INT(got.last_resort, 0);
		CHECK_MEM(got.identity_pk, a.id_pk, 32);
		REQUIRE(got.len == 4 && memcmp(got.kp, "kp-", 3) == 0);
		REQUIRE(got.kp[3] >= '1' && got.kp[3] <= '3');
		seen[got.kp[3] - '1']++;
	}
	CHECK(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
	/* Then the last-resort one, which is not used up. */
	for (int i = 0; i < 3; i++) {
		REQUIRE(group_net_claim_key_package(&transport_conn, b.c, "alice@localhost", &got,
		    T) == 0);
		CHECK_EQ_INT(got.last_resort, 1);
		CHECK(got.len == 5 && memcmp(got.kp, "kp-lr", 5) == 0);
	}
	/* Alice heard of it as her stock fell under 2. */
	while (conn_next_event(a.c, &a.ev, wait_scaled_ms(300)) == 0)
		if (a.ev.type == PROTO_KEY_PACKAGE_LOW) {
			lows++;
			CHECK(a.ev.u.kp_low.count < 2);
			CHECK_EQ_INT(a.ev.u.kp_low.has_last_resort, 1);
		}
	CHECK(lows >= 2);
	/* A new last-resort KeyPackage replaces the old one. */
	lr = blob("kp-lr2");
	REQUIRE(group_net_upload_key_packages(&transport_conn, a.c, NULL, 0, &lr, &left, T) == 0);
	CHECK(left.count == 0 && left.has_last_resort == 1);
	REQUIRE(group_net_claim_key_package(&transport_conn, b.c, "alice@localhost", &got, T) == 0);
	CHECK(got.last_resort == 1 && got.len == 6 && memcmp(got.kp, "kp-lr2", 6) == 0);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM key_packages"), 1);
	/* On the next login the owner is told again. */
	test_user_close(&a);
	REQUIRE(test_user_connect(&a, &sp) == 0);
	do
		REQUIRE(conn_next_event(a.c, &a.ev, wait_scaled_ms(T)) == 0);
	while (a.ev.type == PROTO_PREKEY_LOW);
	CHECK_EQ_INT(a.ev.type, PROTO_KEY_PACKAGE_LOW);
	CHECK_EQ_INT(a.ev.u.kp_low.count, 0);
	/* An account that never uploaded one hears nothing (bob). */
	drain_notices(&b);
	test_user_close(&b);
	REQUIRE(test_user_connect(&b, &sp) == 0);
	CHECK_EQ_INT(test_user_cert(&b), 0);
	while (conn_next_event(b.c, &b.ev, 0) == 0)
		CHECK(b.ev.type != PROTO_KEY_PACKAGE_LOW);
	test_user_close(&a);
	test_user_close(&b);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

#define CLAIMERS 4
#define CLAIMS_EACH 30
#define KPS 100

struct claimer {
	struct test_user u;
	int got[CLAIMS_EACH];           /* KeyPackage number, or -1 for the last-resort one */
	int errors;
};

static void *
claimer_main(void *arg)
{
	struct claimer *c = arg;
	static __thread struct group_net_claimed kp;

	for (int i = 0; i < CLAIMS_EACH; i++) {
		if (group_net_claim_key_package(&transport_conn, c->u.c, "alice@localhost", &kp,
		    T) != 0) {
			c->errors++;
			c->got[i] = -2;
			continue;
		}
		c->got[i] = kp.last_resort ? -1 : atoi((const char *)kp.kp + 3);
	}
	return NULL;
}

TEST(key_packages_concurrent_claims_hand_each_out_once)
{
	struct sottod_proc sp;
	struct test_user a;
	static struct claimer cl[CLAIMERS];
	static char text[KPS][16];
	struct proto_blob kps[KPS], lr = blob("kp-lr");
	pthread_t th[CLAIMERS];
	int count[KPS], last_resort = 0;
	char name[32];

	memset(count, 0, sizeof(count));
	REQUIRE(sottod_proc_launch(&sp, "registration = open\nkey_package_max = 100") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	for (int i = 0; i < KPS; i++) {
		snprintf(text[i], sizeof(text[i]), "kp-%d", i);
		kps[i] = blob(text[i]);
	}
	REQUIRE(group_net_upload_key_packages(&transport_conn, a.c, kps, KPS, &lr, NULL, T) == 0);
	for (int i = 0; i < CLAIMERS; i++) {
		snprintf(name, sizeof(name), "claimer%d", i);
		REQUIRE(test_user_join(&cl[i].u, &sp, name) == 0);
	}
	for (int i = 0; i < CLAIMERS; i++)
		pthread_create(&th[i], NULL, claimer_main, &cl[i]);
	for (int i = 0; i < CLAIMERS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < CLAIMERS; i++) {
		CHECK_EQ_INT(cl[i].errors, 0);
		for (int j = 0; j < CLAIMS_EACH; j++) {
			if (cl[i].got[j] == -1)
				last_resort++;
			else if (cl[i].got[j] >= 0 && cl[i].got[j] < KPS)
				count[cl[i].got[j]]++;
		}
		test_user_close(&cl[i].u);
	}
	/* 120 claims of 100 one-time KeyPackages: each handed out exactly once, then the
	 * last-resort one for the 20 others. */
	for (int i = 0; i < KPS; i++)
		CHECK_EQ_INT(count[i], 1);
	CHECK_EQ_INT(last_resort, CLAIMERS * CLAIMS_EACH - KPS);
	test_user_close(&a);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

struct racer {
	struct test_user *u;
	uint64_t epoch;
	char commit[32];
	int r;
	struct proto_group_result res;
	pthread_barrier_t *go;
};

static void *
racer_main(void *arg)
{
	struct racer *x = arg;

	pthread_barrier_wait(x->go);
	x->r = commit_adds(x->u, x->epoch, x->commit, NULL, 0, NULL, 0, &x->res);
	return NULL;
}

TEST(one_commit_per_epoch_the_late_one_learns_the_epoch)
{
	struct sottod_proc sp;
	struct test_user a, b;
	struct proto_group_result res;
	const char *add_b[] = { "bob@localhost" };
	pthread_barrier_t go;
	uint64_t epoch;
	int wins = 0;

	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	REQUIRE(group_net_create(&transport_conn, a.c, GID, GID_LEN, NULL, T) == 0);
	CHECK_EQ_INT(group_net_create(&transport_conn, b.c, GID, GID_LEN, NULL, T), SOTTO_ERR_EXISTS);
	REQUIRE(commit_adds(&a, 0, "commit-add-bob", add_b, 1, NULL, 0, &res) == 0);
	CHECK_EQ_INT(res.epoch, 1);
	CHECK_EQ_INT(res.seq, 1);
	/* The retry of an accepted Commit (its answer lost) is answered as it was. */
	REQUIRE(commit_adds(&a, 0, "commit-add-bob", add_b, 1, NULL, 0, &res) == 0);
	CHECK(res.seq == 1 && res.epoch == 1);
	/* Another Commit for epoch 0 is late. */
	CHECK_EQ_INT(commit_adds(&a, 0, "commit-other", NULL, 0, NULL, 0, &res),
	    SOTTO_ERR_STALE_EPOCH);
	CHECK_EQ_INT(res.epoch, 1);
	epoch = 1;
	pthread_barrier_init(&go, NULL, 2);
	for (int round = 0; round < 20; round++) {
		struct racer x[2] = { { &a, epoch, "", 0, { 0, 0 }, &go },
		    { &b, epoch, "", 0, { 0, 0 }, &go } };
		pthread_t th[2];

		snprintf(x[0].commit, sizeof(x[0].commit), "commit-a-%d", round);
		snprintf(x[1].commit, sizeof(x[1].commit), "commit-b-%d", round);
		for (int i = 0; i < 2; i++)
			pthread_create(&th[i], NULL, racer_main, &x[i]);
		for (int i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		/* Exactly one wins; the other is told the epoch the winner made. */
		CHECK((x[0].r == 0) != (x[1].r == 0));
		for (int i = 0; i < 2; i++) {
			if (x[i].r == 0) {
				wins++;
				CHECK_EQ_INT(x[i].res.epoch, epoch + 1);
			} else {
				CHECK_EQ_INT(x[i].r, SOTTO_ERR_STALE_EPOCH);
				CHECK_EQ_INT(x[i].res.epoch, epoch + 1);
			}
		}
		epoch++;
	}
	pthread_barrier_destroy(&go);
	CHECK_EQ_INT(wins, 20);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT epoch FROM groups"), 21);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM group_log WHERE kind = 2"), 21);
	test_user_close(&a);
	test_user_close(&b);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(welcome_only_with_its_accepted_commit)
{
	struct sottod_proc sp;
	struct test_user a, b, c;
	struct proto_group_result res;
	const char *add_b[] = { "bob@localhost" }, *add_c[] = { "carol@localhost" };
	const char *add_bc[] = { "bob@localhost", "carol@localhost" };
	struct group_net_welcome w = { (const uint8_t *)"welcome-b", 9, add_c, 1 };
	struct group_net_commit gc;

	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	REQUIRE(test_user_join(&c, &sp, "carol") == 0);
	REQUIRE(group_net_create(&transport_conn, a.c, GID, GID_LEN, NULL, T) == 0);
	/* A Welcome for someone the Commit does not add, or an add without a Welcome:
	 * refused, nothing stored (the same epoch is still open). */
	memset(&gc, 0, sizeof(gc));
	gc.id = GID;
	gc.id_len = GID_LEN;
	gc.commit = (const uint8_t *)"commit-x";
	gc.commit_len = 8;
	gc.add = add_b;
	gc.n_add = 1;
	gc.welcomes = &w;
	gc.n_welcomes = 1;
	CHECK_EQ_INT(group_net_commit(&transport_conn, a.c, &gc, &res, T), SOTTO_ERR_INVALID_ARG);
	gc.n_welcomes = 0;
	CHECK_EQ_INT(group_net_commit(&transport_conn, a.c, &gc, &res, T), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(commit_adds(&a, 0, "commit-y", add_bc, 2, NULL, 0, NULL) == 0 ? 0 : 1, 0);
	/* That one was accepted (epoch 0 -> 1). A late Commit adding carol is refused and
	 * leaves no Welcome behind. */
	CHECK_EQ_INT(commit_adds(&b, 0, "commit-late", add_c, 1, NULL, 0, &res),
	    SOTTO_ERR_STALE_EPOCH);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM group_welcomes"), 1);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM group_log"), 1);
	/* Bob and carol each get the accepted Commit's Welcome: seq 1, the new epoch. */
	REQUIRE(next_group_push(&b, T) == 0);
	CHECK_EQ_INT(b.ev.u.group_push.kind, PROTO_GROUP_WELCOME);
	CHECK_EQ_INT(b.ev.u.group_push.seq, 1);
	CHECK_EQ_INT(b.ev.u.group_push.epoch, 1);
	CHECK(b.ev.u.group_push.data.len == 7 && memcmp(b.ev.u.group_push.data.p, "welcome", 7) == 0);
	CHECK(b.ev.u.group_push.group.len == GID_LEN &&
	    memcmp(b.ev.u.group_push.group.id, GID, GID_LEN) == 0);
	REQUIRE(next_group_push(&c, T) == 0);
	CHECK_EQ_INT(c.ev.u.group_push.kind, PROTO_GROUP_WELCOME);
	/* Adding a member again is refused. */
	CHECK_EQ_INT(commit_adds(&a, 1, "commit-again", add_b, 1, NULL, 0, &res), SOTTO_ERR_EXISTS);
	/* Acknowledged by both: the Welcome is gone; an unacknowledged one comes again. */
	CHECK_EQ_INT(ack(&b, GID, GID_LEN, 1), 0);
	test_user_close(&c);
	REQUIRE(test_user_connect(&c, &sp) == 0);
	REQUIRE(next_group_push(&c, T) == 0);
	CHECK_EQ_INT(c.ev.u.group_push.kind, PROTO_GROUP_WELCOME);
	CHECK_EQ_INT(ack(&c, GID, GID_LEN, 1), 0);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM group_welcomes"), 0);
	test_user_close(&a);
	test_user_close(&b);
	test_user_close(&c);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

#define MEMBERS 12
#define FANOUT_MSGS 40

TEST(fanout_stored_once_delivered_in_order_across_reconnects)
{
	struct sottod_proc sp;
	static struct test_user a, m[MEMBERS];
	struct proto_group_result res;
	const char *add[MEMBERS];
	static char addr[MEMBERS][48];
	char name[32], text[32];
	uint64_t next[MEMBERS];

	REQUIRE(sottod_proc_launch(&sp, "registration = open\npush_window = 8") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	for (int i = 0; i < MEMBERS; i++) {
		snprintf(name, sizeof(name), "member%d", i);
		REQUIRE(test_user_join(&m[i], &sp, name) == 0);
		snprintf(addr[i], sizeof(addr[i]), "%s@localhost", name);
		add[i] = addr[i];
	}
	REQUIRE(group_net_create(&transport_conn, a.c, GID, GID_LEN, NULL, T) == 0);
	REQUIRE(commit_adds(&a, 0, "commit-add-all", add, MEMBERS, NULL, 0, &res) == 0);
	for (int i = 0; i < FANOUT_MSGS; i++) {
		snprintf(text, sizeof(text), "message %d", i);
		REQUIRE(send_text(&a, i, text, &res) == 0);
		CHECK_EQ_INT(res.seq, (uint64_t)i + 2);
		CHECK_EQ_INT(res.epoch, 1);
	}
	/* Stored once for the whole group, however many members; one Welcome. */
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM group_log WHERE kind = 3"),
	    FANOUT_MSGS);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM group_welcomes"), 1);
	/* A retry under the same client message id is the same entry. */
	REQUIRE(send_text(&a, 3, "message 3", &res) == 0);
	CHECK_EQ_INT(res.seq, 5);
	for (int i = 0; i < MEMBERS; i++) {
		REQUIRE(next_group_push(&m[i], T) == 0);
		CHECK_EQ_INT(m[i].ev.u.group_push.kind, PROTO_GROUP_WELCOME);
		CHECK_EQ_INT(ack(&m[i], GID, GID_LEN, m[i].ev.u.group_push.seq), 0);
		next[i] = 2;
	}
	/* Each member reads in order; the odd ones leave after half, without acknowledging
	 * the last entry they got, and come back. */
	for (int i = 0; i < MEMBERS; i++) {
		int half = i % 2 ? FANOUT_MSGS / 2 : FANOUT_MSGS;

		while (next[i] < (uint64_t)half + 2) {
			REQUIRE(next_group_push_from(&m[i], next[i], T) == 0);
			CHECK_EQ_INT(m[i].ev.u.group_push.seq, next[i]);
			CHECK_EQ_INT(m[i].ev.u.group_push.kind, PROTO_GROUP_APPLICATION);
			snprintf(text, sizeof(text), "message %d", (int)next[i] - 2);
			CHECK(m[i].ev.u.group_push.data.len == strlen(text) &&
			    memcmp(m[i].ev.u.group_push.data.p, text, strlen(text)) == 0);
			if (next[i] + 1 < (uint64_t)half + 2 || !(i % 2))
				CHECK_EQ_INT(ack(&m[i], GID, GID_LEN, next[i]), 0);
			next[i]++;
		}
		if (i % 2) {
			test_user_close(&m[i]);
			REQUIRE(test_user_connect(&m[i], &sp) == 0);
			next[i]--;      /* the unacknowledged one comes again, then the rest */
			while (next[i] < FANOUT_MSGS + 2) {
				REQUIRE(next_group_push_from(&m[i], next[i], T) == 0);
				CHECK_EQ_INT(m[i].ev.u.group_push.seq, next[i]);
				CHECK_EQ_INT(ack(&m[i], GID, GID_LEN, next[i]), 0);
				next[i]++;
			}
		}
	}
	/* Nothing more for anyone, and every entry was read by all: the log is empty. */
	for (int i = 0; i < MEMBERS; i++)
		for (int n = 0; n < 4 * FANOUT_MSGS && conn_next_event(m[i].c, &m[i].ev, 0) == 0; n++)
			CHECK(m[i].ev.type != PROTO_GROUP_PUSH ||
			    m[i].ev.u.group_push.seq < FANOUT_MSGS + 2);
	/* Alice got every entry too (she is a member, the author included: she knows hers by
	 * the seq of the answer); she reads them and the log empties. */
	for (uint64_t seq = 1; seq < FANOUT_MSGS + 2; seq++) {
		REQUIRE(next_group_push_from(&a, seq, T) == 0);
		CHECK_EQ_INT(a.ev.u.group_push.seq, seq);
		CHECK_EQ_INT(ack(&a, GID, GID_LEN, seq), 0);
	}
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM group_log"), 0);
	test_user_close(&a);
	for (int i = 0; i < MEMBERS; i++)
		test_user_close(&m[i]);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(removed_member_gets_its_removal_and_nothing_after)
{
	struct sottod_proc sp;
	struct test_user a, b, c;
	struct proto_group_result res;
	const char *add_bc[] = { "bob@localhost", "carol@localhost" };
	const char *rm_c[] = { "carol@localhost" };
	uint64_t removal;

	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	REQUIRE(test_user_join(&c, &sp, "carol") == 0);
	REQUIRE(group_net_create(&transport_conn, a.c, GID, GID_LEN, NULL, T) == 0);
	REQUIRE(commit_adds(&a, 0, "commit-add", add_bc, 2, NULL, 0, &res) == 0);
	REQUIRE(send_text(&a, 1, "before", &res) == 0);
	REQUIRE(commit_adds(&a, 1, "commit-remove-carol", NULL, 0, rm_c, 1, &res) == 0);
	removal = res.seq;
	CHECK_EQ_INT(res.epoch, 2);
	REQUIRE(send_text(&a, 2, "after", &res) == 0);
	/* Carol: the Welcome, the message before, and the Commit removing her, flagged. */
	REQUIRE(next_group_push(&c, T) == 0);
	CHECK_EQ_INT(c.ev.u.group_push.kind, PROTO_GROUP_WELCOME);
	REQUIRE(next_group_push_from(&c, c.ev.u.group_push.seq + 1, T) == 0);
	CHECK(c.ev.u.group_push.kind == PROTO_GROUP_APPLICATION && c.ev.u.group_push.flags == 0);
	REQUIRE(next_group_push_from(&c, c.ev.u.group_push.seq + 1, T) == 0);
	CHECK_EQ_INT(c.ev.u.group_push.kind, PROTO_GROUP_COMMIT_ENTRY);
	CHECK_EQ_INT(c.ev.u.group_push.seq, removal);
	CHECK_EQ_INT(c.ev.u.group_push.epoch, 1);
	CHECK_EQ_INT(c.ev.u.group_push.flags, PROTO_GROUP_FLAG_REMOVED);
	/* Bob gets the message after the removal... */
	REQUIRE(next_group_push_from(&b, removal + 1, T) == 0);
	CHECK(b.ev.u.group_push.kind == PROTO_GROUP_APPLICATION &&
	    b.ev.u.group_push.seq == removal + 1);
	/* ...carol never does: not on this connection (a fixed wait for something that must
	 * not happen), nor on a new one. */
	CHECK(no_group_push_after(&c, removal, 300));
	CHECK_EQ_INT(ack(&c, GID, GID_LEN, removal), 0);
	test_user_close(&c);
	REQUIRE(test_user_connect(&c, &sp) == 0);
	CHECK_EQ_INT(test_user_cert(&c), 0);
	CHECK(next_group_push(&c, 300) != 0);
	/* Her row went with her acknowledgement; she can neither send nor commit. */
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM group_members"), 2);
	CHECK_EQ_INT(send_text(&c, 9, "intruder", &res), SOTTO_ERR_NOT_MEMBER);
	CHECK_EQ_INT(commit_adds(&c, 2, "commit-c", NULL, 0, NULL, 0, &res), SOTTO_ERR_NOT_MEMBER);
	test_user_close(&a);
	test_user_close(&b);
	test_user_close(&c);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

/*
 * Issue 15 for groups: an application message on an unidentified connection is taken with
 * the group token of the group's current epoch only (its verifier registered at
 * GROUP_CREATE and with each Commit), stored once under its client id with no account,
 * and delivered to the members as any other. The previous epoch's token is answered
 * STALE_EPOCH with the current epoch, and stores nothing; any other token, or a group
 * that does not exist, AUTH. Neither connection may make the other's request.
 */
TEST(sealed_send_needs_the_current_epochs_token)
{
	struct sottod_proc sp;
	struct test_user a, b;
	struct proto_group_result res, again;
	const char *add_b[] = { "bob@localhost" };
	uint8_t t0[32], v0[32], t1[32], v1[32], other[32], vo[32];
	static const uint8_t unknown[] = "group-two";
	struct conn *c = NULL;

	token_new(t0, v0);
	token_new(t1, v1);
	token_new(other, vo);
	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	REQUIRE(conn_open_sealed(&c, sp.address, T) == 0);
	REQUIRE(group_net_create(&transport_conn, a.c, GID, GID_LEN, v0, T) == 0);
	/* Epoch 0: alice alone, and her token works. */
	CHECK_EQ_INT(send_sealed(c, NULL, t0, 1, "epoch-0", &res), 0);
	CHECK(res.seq == 1 && res.epoch == 0);
	REQUIRE(next_group_push_from(&a, 1, T) == 0);
	CHECK(a.ev.u.group_push.kind == PROTO_GROUP_APPLICATION &&
	    a.ev.u.group_push.data.len == 7 && memcmp(a.ev.u.group_push.data.p, "epoch-0", 7) == 0);
	/* The Commit adding bob registers epoch 1's verifier. */
	REQUIRE(commit_token(&a, 0, v1, "commit-add-bob", add_b, 1, NULL, 0, &res) == 0);
	CHECK_EQ_INT(res.epoch, 1);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM group_log"), 2);
	/* Epoch 0's token now: STALE_EPOCH, the epoch to follow, nothing stored. */
	memset(&res, 0, sizeof(res));
	CHECK_EQ_INT(send_sealed(c, NULL, t0, 2, "late", &res), SOTTO_ERR_STALE_EPOCH);
	CHECK_EQ_INT(res.epoch, 1);
	/* ...but a retry of what it sent then is the message stored then. */
	CHECK_EQ_INT(send_sealed(c, NULL, t0, 1, "epoch-0", &again), 0);
	CHECK(again.seq == 1 && again.epoch == 0);
	/* A token of no epoch, or a group that does not exist: AUTH. */
	CHECK_EQ_INT(send_sealed(c, NULL, other, 3, "forged", &res), SOTTO_ERR_AUTH);
	CHECK_EQ_INT(send_sealed(c, unknown, t1, 4, "nowhere", &res), SOTTO_ERR_AUTH);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM group_log"), 2);
	/* Epoch 1's token: stored once, a retry is the same entry. */
	CHECK_EQ_INT(send_sealed(c, NULL, t1, 5, "epoch-1", &res), 0);
	CHECK(res.seq == 3 && res.epoch == 1);
	CHECK_EQ_INT(send_sealed(c, NULL, t1, 5, "epoch-1", &again), 0);
	CHECK(again.seq == res.seq && again.epoch == 1);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM group_log"), 3);
	/* Bob gets it as any entry (after his Welcome and the Commit that added him). */
	REQUIRE(next_group_push_from(&b, 3, T) == 0);
	CHECK(b.ev.u.group_push.kind == PROTO_GROUP_APPLICATION && b.ev.u.group_push.seq == 3 &&
	    b.ev.u.group_push.data.len == 7 && memcmp(b.ev.u.group_push.data.p, "epoch-1", 7) == 0);
	/* Only sealed requests on the unidentified connection, never one there. */
	CHECK_EQ_INT(send_text(&a, 6, "identified", &res), 0);
	CHECK_EQ_INT(group_net_send(&transport_conn, c, GID, GID_LEN, (const uint8_t *)
	    "0123456789abcdef", (const uint8_t *)"x", 1, &res, T), SOTTO_ERR_AUTH);
	CHECK_EQ_INT(send_sealed(a.c, NULL, t1, 7, "on-identified", &res), SOTTO_ERR_AUTH);
	/* The stored rows name no account: the log's columns, and the members table as
	 * before (the two members). */
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM group_log"), 4);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM group_members"), 2);
	conn_close(c);
	test_user_close(&a);
	test_user_close(&b);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

/*
 * A group made before group tokens (no verifier: GROUP_CREATE and a Commit registered
 * none, as on a server upgraded to schema 12): a sealed send is NO_GROUP_TOKEN, told apart
 * from a wrong token (AUTH, as for a group that does not exist), and stores nothing. A
 * member's empty Commit (no adds, no removes) registers the new epoch's verifier; then
 * the send is taken and reaches every member. In that epoch any other token is
 * STALE_EPOCH (a member's message of the epoch before, which had no token, cannot be
 * told from it): its sender follows the Commit and sends again.
 */
TEST(group_without_token_until_an_empty_commit)
{
	struct sottod_proc sp;
	struct test_user a, b;
	struct proto_group_result res;
	const char *add_b[] = { "bob@localhost" };
	uint8_t t2[32], v2[32], other[32], vo[32];
	static const uint8_t unknown[] = "group-two";
	struct conn *c = NULL;

	token_new(t2, v2);
	token_new(other, vo);
	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	REQUIRE(conn_open_sealed(&c, sp.address, T) == 0);
	REQUIRE(group_net_create(&transport_conn, a.c, GID, GID_LEN, NULL, T) == 0);
	REQUIRE(commit_adds(&a, 0, "commit-add-bob", add_b, 1, NULL, 0, &res) == 0);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM group_log"), 1);
	/* No verifier: any token is NO_GROUP_TOKEN; another group's is still AUTH. */
	CHECK_EQ_INT(send_sealed(c, NULL, t2, 1, "before", &res), SOTTO_ERR_NO_GROUP_TOKEN);
	CHECK_EQ_INT(send_sealed(c, NULL, other, 2, "forged", &res), SOTTO_ERR_NO_GROUP_TOKEN);
	CHECK_EQ_INT(send_sealed(c, unknown, t2, 3, "nowhere", &res), SOTTO_ERR_AUTH);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM group_log"), 1);
	/* The empty Commit registers epoch 2's verifier. */
	REQUIRE(commit_token(&b, 1, v2, "commit-empty", NULL, 0, NULL, 0, &res) == 0);
	CHECK(res.seq == 2 && res.epoch == 2);
	/* The same message again: taken now; another token is late, with the epoch. */
	CHECK_EQ_INT(send_sealed(c, NULL, t2, 1, "before", &res), 0);
	CHECK(res.seq == 3 && res.epoch == 2);
	memset(&res, 0, sizeof(res));
	CHECK_EQ_INT(send_sealed(c, NULL, other, 2, "made-in-1", &res), SOTTO_ERR_STALE_EPOCH);
	CHECK_EQ_INT(res.epoch, 2);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM group_log"), 3);
	REQUIRE(next_group_push_from(&a, 3, T) == 0);
	CHECK(a.ev.u.group_push.kind == PROTO_GROUP_APPLICATION && a.ev.u.group_push.seq == 3 &&
	    a.ev.u.group_push.data.len == 6 && memcmp(a.ev.u.group_push.data.p, "before", 6) == 0);
	REQUIRE(next_group_push_from(&b, 3, T) == 0);
	CHECK(b.ev.u.group_push.kind == PROTO_GROUP_APPLICATION && b.ev.u.group_push.seq == 3);
	conn_close(c);
	test_user_close(&a);
	test_user_close(&b);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

/*
 * A removed member knows the token of the epochs it was in; the Commit that removes it
 * registers a new one. Its old token gets STALE_EPOCH once (nothing stored), AUTH once
 * another Commit has passed; the members' tokens work throughout. And a flood through one
 * token is held at sealed_rate/sealed_burst, whose bucket is that token's alone.
 */
TEST(removed_members_token_refused_after_the_commit)
{
	struct sottod_proc sp;
	struct test_user a, b, c;
	struct proto_group_result res;
	const char *add_bc[] = { "bob@localhost", "carol@localhost" };
	const char *rm_c[] = { "carol@localhost" };
	uint8_t t[4][32], v[4][32];
	struct conn *x = NULL;
	long logged;

	for (int i = 0; i < 4; i++)
		token_new(t[i], v[i]);
	REQUIRE(sottod_proc_launch(&sp, "registration = open\nsealed_rate = 1\n"
	    "sealed_burst = 4") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	REQUIRE(test_user_join(&c, &sp, "carol") == 0);
	REQUIRE(conn_open_sealed(&x, sp.address, T) == 0);
	REQUIRE(group_net_create(&transport_conn, a.c, GID, GID_LEN, v[0], T) == 0);
	REQUIRE(commit_token(&a, 0, v[1], "commit-add", add_bc, 2, NULL, 0, &res) == 0);
	/* Carol, a member of epoch 1, sends with its token. */
	CHECK_EQ_INT(send_sealed(x, NULL, t[1], 1, "carol-in", &res), 0);
	/* Alice removes her: epoch 2, a token carol never learns. */
	REQUIRE(commit_token(&a, 1, v[2], "commit-remove-carol", NULL, 0, rm_c, 1, &res) == 0);
	CHECK_EQ_INT(res.epoch, 2);
	logged = sottod_proc_db_int(&sp, "SELECT max(seq) FROM group_log");
	CHECK_EQ_INT(send_sealed(x, NULL, t[1], 2, "carol-out", &res), SOTTO_ERR_STALE_EPOCH);
	CHECK_EQ_INT(res.epoch, 2);
	CHECK_EQ_INT(send_sealed(x, NULL, t[2], 3, "bob-in", &res), 0);
	/* One more Commit (bob's turn, epoch 3): carol's token is no epoch's now. */
	REQUIRE(commit_token(&b, 2, v[3], "commit-update", NULL, 0, NULL, 0, &res) == 0);
	CHECK_EQ_INT(send_sealed(x, NULL, t[1], 4, "carol-again", &res), SOTTO_ERR_AUTH);
	CHECK_EQ_INT(send_sealed(x, NULL, t[2], 5, "bob-late", &res), SOTTO_ERR_STALE_EPOCH);
	/* Only "bob-in" and the Commit after it were stored since the removal. */
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT max(seq) FROM group_log"), logged + 2);
	/* Epoch 3's token has a bucket of its own: its burst of four, then held. */
	CHECK_EQ_INT(send_sealed(x, NULL, t[3], 6, "flood", &res), 0);
	CHECK_EQ_INT(send_sealed(x, NULL, t[3], 7, "flood", &res), 0);
	CHECK_EQ_INT(send_sealed(x, NULL, t[3], 8, "flood", &res), 0);
	CHECK_EQ_INT(send_sealed(x, NULL, t[3], 9, "flood", &res), 0);
	CHECK_EQ_INT(send_sealed(x, NULL, t[3], 10, "flood", &res), SOTTO_ERR_LIMIT);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT max(seq) FROM group_log"), logged + 6);
	conn_close(x);
	test_user_close(&a);
	test_user_close(&b);
	test_user_close(&c);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

TEST(bad_requests_get_clear_errors)
{
	struct sottod_proc sp;
	struct test_user a, b;
	struct proto_group_result res;
	static uint8_t big[70 * 1024];
	static const uint8_t other[] = "no-such-group";
	const char *add_bad[] = { "nobody@localhost" }, *add_foreign[] = { "x@elsewhere.example" };
	const char *add_bc[] = { "bob@localhost", "carol@localhost" };
	struct test_user c;
	uint8_t cmid[16] = { 1 };
	uint8_t long_id[PROTO_GROUP_ID_MAX + 1];

	REQUIRE(sottod_proc_launch(&sp, "registration = open\ngroup_log_max = 3\n"
	    "group_members_max = 2\ngroup_max = 1") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	CHECK_EQ_INT(group_net_send(&transport_conn, a.c, other, sizeof(other) - 1, cmid,
	    (const uint8_t *)"x", 1, &res, T), SOTTO_ERR_UNKNOWN_GROUP);
	memset(long_id, 'g', sizeof(long_id));
	CHECK_EQ_INT(group_net_create(&transport_conn, a.c, long_id, sizeof(long_id), NULL, T),
	    SOTTO_ERR_INVALID_ARG);
	REQUIRE(group_net_create(&transport_conn, a.c, GID, GID_LEN, NULL, T) == 0);
	/* group_max = 1 */
	CHECK_EQ_INT(group_net_create(&transport_conn, a.c, other, sizeof(other) - 1, NULL, T),
	    SOTTO_ERR_TOO_MANY_GROUPS);
	CHECK_EQ_INT(send_text(&b, 1, "not a member", &res), SOTTO_ERR_NOT_MEMBER);
	CHECK_EQ_INT(commit_adds(&b, 0, "commit-b", NULL, 0, NULL, 0, &res), SOTTO_ERR_NOT_MEMBER);
	CHECK_EQ_INT(commit_adds(&a, 0, "commit-1", add_bad, 1, NULL, 0, &res),
	    SOTTO_ERR_UNKNOWN_USER);
	CHECK_EQ_INT(commit_adds(&a, 0, "commit-1", add_foreign, 1, NULL, 0, &res),
	    SOTTO_ERR_OTHER_DOMAIN);
	CHECK_EQ_INT(group_net_send(&transport_conn, a.c, GID, GID_LEN, cmid, big, sizeof(big),
	    &res, T), SOTTO_ERR_MESSAGE_TOO_LARGE);
	/* group_members_max = 2: alice, bob and carol would be 3. */
	REQUIRE(test_user_join(&c, &sp, "carol") == 0);
	CHECK_EQ_INT(commit_adds(&a, 0, "commit-2", add_bc, 2, NULL, 0, &res), SOTTO_ERR_GROUP_FULL);
	/* group_max = 1: bob, in a group of his own, cannot be added to alice's. */
	REQUIRE(group_net_create(&transport_conn, b.c, other, sizeof(other) - 1, NULL, T) == 0);
	CHECK_EQ_INT(commit_adds(&a, 0, "commit-3", add_bc, 1, NULL, 0, &res),
	    SOTTO_ERR_TOO_MANY_GROUPS);
	/* None of the refused Commits changed the group (nor bob's): epoch 0 is still open. */
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT max(epoch) FROM groups"), 0);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM group_members"), 2);
	/* group_log_max = 3: the log keeps the 3 newest entries nobody has read (the oldest
	 * is dropped to take a fourth, test lagging_member_misses_entries_not_the_group)... */
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(send_text(&a, 10 + i, "filler", &res), 0);
	CHECK_EQ_INT(send_text(&a, 20, "one more", &res), 0);
	CHECK_EQ_INT(res.seq, 4);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM group_log"), 3);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT min(seq) FROM group_log"), 2);
	/* ...and what is read goes. */
	CHECK_EQ_INT(ack(&a, GID, GID_LEN, 4), 0);
	CHECK_EQ_INT(send_text(&a, 21, "room again", &res), 0);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM group_log"), 1);
	test_user_close(&a);
	test_user_close(&b);
	test_user_close(&c);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

/* Alice sends (or commits) an entry, then she and bob read it: bob gets exactly the next
 * seq, of kind. */
static void
send_and_read(struct test_user *a, struct test_user *b, uint64_t seq, int kind,
    const struct proto_group_result *res)
{
	CHECK_EQ_INT(res->seq, seq);
	CHECK_EQ_INT(ack(a, GID, GID_LEN, seq), 0);
	REQUIRE(next_group_push_from(b, seq, T) == 0);
	CHECK_EQ_INT(b->ev.u.group_push.seq, seq);
	CHECK_EQ_INT(b->ev.u.group_push.kind, kind);
	CHECK_EQ_INT(ack(b, GID, GID_LEN, seq), 0);
}

/* The next push of u is a MISSED one for the entries up to last, n of them. */
static void
check_missed(struct test_user *u, uint64_t last, uint64_t n, uint8_t flags)
{
	const struct proto_group_push *gp = &u->ev.u.group_push;
	uint64_t v = 0;

	REQUIRE(next_group_push_from(u, 2, T) == 0);
	CHECK_EQ_INT(gp->kind, PROTO_GROUP_MISSED);
	CHECK_EQ_INT(gp->seq, last);
	CHECK_EQ_INT(gp->flags, flags);
	REQUIRE(gp->data.len == PROTO_GROUP_MISSED_LEN);
	for (size_t i = 0; i < PROTO_GROUP_MISSED_LEN; i++)
		v = v << 8 | gp->data.p[i];
	CHECK_EQ_INT(v, n);
}

/*
 * Members who never read (carol, and dave who is removed meanwhile) do not stop the
 * group at group_log_max unread entries: the oldest are dropped as new ones come, the
 * members who read get every entry once, and a lagging member is told what it missed,
 * with one MISSED push in their place (PROTOCOL-wire.md 0x42), when it reads again.
 */
TEST(lagging_member_misses_entries_not_the_group)
{
	struct sottod_proc sp;
	struct test_user a, b, c, d;
	struct proto_group_result res;
	const char *add[] = { "bob@localhost", "carol@localhost", "dave@localhost" };
	const char *rm_d[] = { "dave@localhost" };
	uint64_t seq;

	REQUIRE(sottod_proc_launch(&sp, "registration = open\ngroup_log_max = 5") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	REQUIRE(test_user_join(&c, &sp, "carol") == 0);
	REQUIRE(test_user_join(&d, &sp, "dave") == 0);
	test_user_close(&c);
	test_user_close(&d);
	REQUIRE(group_net_create(&transport_conn, a.c, GID, GID_LEN, NULL, T) == 0);
	REQUIRE(commit_adds(&a, 0, "commit-add", add, 3, NULL, 0, &res) == 0);
	REQUIRE(next_group_push(&b, T) == 0);
	CHECK_EQ_INT(b.ev.u.group_push.kind, PROTO_GROUP_WELCOME);
	CHECK_EQ_INT(ack(&a, GID, GID_LEN, 1), 0);
	CHECK_EQ_INT(ack(&b, GID, GID_LEN, 1), 0);
	for (seq = 2; seq <= 4; seq++) {
		REQUIRE(send_text(&a, (int)seq, "text", &res) == 0);
		send_and_read(&a, &b, seq, PROTO_GROUP_APPLICATION, &res);
	}
	REQUIRE(commit_adds(&a, 1, "commit-remove-dave", NULL, 0, rm_d, 1, &res) == 0);
	send_and_read(&a, &b, 5, PROTO_GROUP_COMMIT_ENTRY, &res);
	/* Far past group_log_max entries carol has not read: each send is taken. */
	for (seq = 6; seq <= 13; seq++) {
		REQUIRE(send_text(&a, (int)seq, "text", &res) == 0);
		send_and_read(&a, &b, seq, PROTO_GROUP_APPLICATION, &res);
	}
	CHECK(no_group_push_after(&b, 13, 300));        /* nothing twice, nothing more */
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM group_log"), 5);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT min(seq) FROM group_log"), 9);
	/* Carol: her Welcome, then 2..8 missed, then 9..13. */
	REQUIRE(test_user_connect(&c, &sp) == 0);
	CHECK_EQ_INT(test_user_cert(&c), 0);
	REQUIRE(next_group_push(&c, T) == 0);
	CHECK_EQ_INT(c.ev.u.group_push.kind, PROTO_GROUP_WELCOME);
	check_missed(&c, 8, 7, 0);
	for (seq = 9; seq <= 13; seq++) {
		REQUIRE(next_group_push_from(&c, seq, T) == 0);
		CHECK_EQ_INT(c.ev.u.group_push.seq, seq);
	}
	CHECK_EQ_INT(ack(&c, GID, GID_LEN, 13), 0);
	/* Dave missed 2..5, the last the Commit removing him: his row goes with his ack. */
	REQUIRE(test_user_connect(&d, &sp) == 0);
	CHECK_EQ_INT(test_user_cert(&d), 0);
	REQUIRE(next_group_push(&d, T) == 0);
	CHECK_EQ_INT(d.ev.u.group_push.kind, PROTO_GROUP_WELCOME);
	check_missed(&d, 5, 4, PROTO_GROUP_FLAG_REMOVED);
	CHECK(no_group_push_after(&d, 5, 300));
	CHECK_EQ_INT(ack(&d, GID, GID_LEN, 5), 0);
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM group_members"), 3);
	/* Everyone read everything: the log empties as before. */
	CHECK_EQ_INT(sottod_proc_db_int(&sp, "SELECT count(*) FROM group_log"), 0);
	test_user_close(&a);
	test_user_close(&b);
	test_user_close(&c);
	test_user_close(&d);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

/* More groups than the server reads at a time at login: a member gets every one. */
TEST(member_of_many_groups_gets_each_at_login)
{
	struct sottod_proc sp;
	struct test_user a, b;
	const char *add_b[] = { "bob@localhost" };
	struct group_net_welcome w = { (const uint8_t *)"welcome", 7, add_b, 1 };
	struct group_net_commit gc;
	struct proto_group_result res;
	char ids[45][16];
	int got[45], total = 0, k;

	memset(got, 0, sizeof(got));
	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	test_user_close(&b);
	for (int i = 0; i < 45; i++) {
		snprintf(ids[i], sizeof(ids[i]), "grp-%02d", i);
		REQUIRE(group_net_create(&transport_conn, a.c, (const uint8_t *)ids[i],
		    strlen(ids[i]), NULL, T) == 0);
		memset(&gc, 0, sizeof(gc));
		gc.id = (const uint8_t *)ids[i];
		gc.id_len = strlen(ids[i]);
		gc.commit = (const uint8_t *)"commit";
		gc.commit_len = 6;
		gc.add = add_b;
		gc.n_add = 1;
		gc.welcomes = &w;
		gc.n_welcomes = 1;
		REQUIRE(group_net_commit(&transport_conn, a.c, &gc, &res, T) == 0);
		REQUIRE(group_net_send(&transport_conn, a.c, gc.id, gc.id_len,
		    (const uint8_t *)"0123456789abcdef", (const uint8_t *)ids[i], gc.id_len, &res,
		    T) == 0);
	}
	REQUIRE(test_user_connect(&b, &sp) == 0);
	/* Per group its Welcome, then its message; all 45 groups. */
	while (total < 90 && next_group_push(&b, T) == 0) {
		struct proto_group_push *gp = &b.ev.u.group_push;

		total++;
		if (gp->group.len != 6 || sscanf((const char *)gp->group.id + 4, "%2d", &k) != 1 ||
		    k < 0 || k >= 45)
			continue;
		if (gp->kind == PROTO_GROUP_WELCOME)
			CHECK_EQ_INT(got[k]++, 0);
		else if (gp->kind == PROTO_GROUP_APPLICATION)
			CHECK_EQ_INT(got[k]++, 1);
		CHECK_EQ_INT(ack(&b, gp->group.id, gp->group.len, gp->seq), 0);
	}
	for (int i = 0; i < 45; i++)
		CHECK_EQ_INT(got[i], 2);
	test_user_close(&a);
	test_user_close(&b);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

/* Pushes go to a member's newest connection; when it closes, the one before takes over
 * from the read position. */
TEST(older_connection_takes_over_group_pushes)
{
	struct sottod_proc sp;
	static struct test_user a, b, b2;
	struct proto_group_result res;
	const char *add_b[] = { "bob@localhost" };

	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	REQUIRE(test_user_join(&b, &sp, "bob") == 0);
	REQUIRE(group_net_create(&transport_conn, a.c, GID, GID_LEN, NULL, T) == 0);
	REQUIRE(commit_adds(&a, 0, "commit-add-bob", add_b, 1, NULL, 0, &res) == 0);
	REQUIRE(next_group_push(&b, T) == 0);
	CHECK_EQ_INT(b.ev.u.group_push.kind, PROTO_GROUP_WELCOME);
	CHECK_EQ_INT(ack(&b, GID, GID_LEN, 1), 0);
	b2 = b;
	b2.c = NULL;
	REQUIRE(test_user_connect(&b2, &sp) == 0);
	CHECK_EQ_INT(test_user_cert(&b2), 0);   /* logged in: now the newest */
	REQUIRE(send_text(&a, 1, "first", &res) == 0);
	REQUIRE(next_group_push(&b2, T) == 0);
	CHECK_EQ_INT(b2.ev.u.group_push.seq, 2);
	/* Not acknowledged on b2, which closes: b gets it, and what follows. */
	test_user_close(&b2);
	REQUIRE(next_group_push(&b, T) == 0);
	CHECK_EQ_INT(b.ev.u.group_push.seq, 2);
	REQUIRE(send_text(&a, 2, "second", &res) == 0);
	REQUIRE(next_group_push(&b, T) == 0);
	CHECK_EQ_INT(b.ev.u.group_push.seq, 3);
	test_user_close(&a);
	test_user_close(&b);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

static int
closed_by_server(int fd, int timeout_ms)
{
	uint8_t tmp[512];
	struct timeval tv = { 0, 0 };
	ssize_t k;

	tv.tv_sec = wait_scaled_ms(timeout_ms) / 1000;
	tv.tv_usec = (wait_scaled_ms(timeout_ms) % 1000) * 1000;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (;;) {
		k = read(fd, tmp, sizeof(tmp));
		if (k == 0 || (k < 0 && errno == ECONNRESET))
			return 1;
		if (k < 0)
			return 0;
	}
}

/* Truncated and oversized group requests close only that connection. */
TEST(malformed_group_requests_close_the_connection)
{
	struct sottod_proc sp;
	struct test_user a;
	struct noise_transport t;
	struct proto_msg m;
	struct buf enc, fr;
	const char *add[] = { "alice@localhost" };
	struct proto_welcome w;
	int fd;

	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	REQUIRE(test_user_join(&a, &sp, "alice") == 0);
	/* A GROUP_COMMIT, encoded, then cut short by one byte at every length. */
	memset(&m, 0, sizeof(m));
	m.type = PROTO_GROUP_COMMIT;
	m.id = 7;
	memcpy(m.u.group_commit.group.id, GID, GID_LEN);
	m.u.group_commit.group.len = GID_LEN;
	m.u.group_commit.commit.p = (const uint8_t *)"c";
	m.u.group_commit.commit.len = 1;
	m.u.group_commit.add.n = 1;
	m.u.group_commit.add.addrs = add;
	memset(&w, 0, sizeof(w));
	w.data.p = (const uint8_t *)"w";
	w.data.len = 1;
	w.to.n = 1;
	w.to.addrs = add;
	m.u.group_commit.welcomes.n = 1;
	m.u.group_commit.welcomes.items = &w;
	buf_init_dyn(&enc, 4096);
	REQUIRE(proto_encode(&m, &enc) == 0);
	for (size_t cut = enc.len - 1; cut > enc.len - 12; cut--) {
		REQUIRE((fd = sottod_proc_handshake_raw(&sp, a.dev_sk, &t)) >= 0);
		buf_init_dyn(&fr, 1u << 20);
		REQUIRE(frame_seal(&t, enc.p, cut, &fr) == 0);
		REQUIRE(sottod_proc_write_all(fd, fr.p, fr.len) == 0);
		buf_free(&fr);
		CHECK(closed_by_server(fd, T));
		close(fd);
	}
	buf_free(&enc);
	/* A GROUP_RECEIVED announcing more acknowledgements than allowed. */
	{
		uint8_t msg[8] = { PROTO_VERSION, PROTO_GROUP_RECEIVED, 0, 0, 0, 9, 0x01, 0x01 };

		REQUIRE((fd = sottod_proc_handshake_raw(&sp, a.dev_sk, &t)) >= 0);
		buf_init_dyn(&fr, 4096);
		REQUIRE(frame_seal(&t, msg, sizeof(msg), &fr) == 0);
		REQUIRE(sottod_proc_write_all(fd, fr.p, fr.len) == 0);
		buf_free(&fr);
		CHECK(closed_by_server(fd, T));
		close(fd);
	}
	/* The server serves on. */
	test_user_close(&a);
	REQUIRE(test_user_connect(&a, &sp) == 0);
	CHECK_EQ_INT(group_net_create(&transport_conn, a.c, GID, GID_LEN, NULL, T), 0);
	test_user_close(&a);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	SOTTOD_RUN_BOTH(key_packages_one_time_then_last_resort);
	SOTTOD_RUN_BOTH(key_packages_concurrent_claims_hand_each_out_once);
	SOTTOD_RUN_BOTH(one_commit_per_epoch_the_late_one_learns_the_epoch);
	SOTTOD_RUN_BOTH(welcome_only_with_its_accepted_commit);
	SOTTOD_RUN_BOTH(fanout_stored_once_delivered_in_order_across_reconnects);
	SOTTOD_RUN_BOTH(removed_member_gets_its_removal_and_nothing_after);
	SOTTOD_RUN_BOTH(sealed_send_needs_the_current_epochs_token);
	SOTTOD_RUN_BOTH(group_without_token_until_an_empty_commit);
	SOTTOD_RUN_BOTH(removed_members_token_refused_after_the_commit);
	SOTTOD_RUN_BOTH(bad_requests_get_clear_errors);
	SOTTOD_RUN_BOTH(lagging_member_misses_entries_not_the_group);
	SOTTOD_RUN_BOTH(member_of_many_groups_gets_each_at_login);
	SOTTOD_RUN_BOTH(older_connection_takes_over_group_pushes);
	SOTTOD_RUN_BOTH(malformed_group_requests_close_the_connection);
	return check_summary();
}
