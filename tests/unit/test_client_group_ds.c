/*
 * libsotto's group layer (client/group.h) through a real sottod's delivery service
 * (client/group_net.h): Bob and Carol upload KeyPackages made by their clients, Alice
 * claims them (the server vouches for each owner's identity key, which the credential
 * inside must carry), creates the group, commits the Adds with the Welcome, and sends the
 * group's name; everyone reads what the server pushes and acknowledges it once the client
 * stored it. Then Alice and Bob commit in the same epoch: the server takes Bob's, Alice's
 * is refused as stale, she goes back, follows Bob's Commit from the log and commits again.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "client/client_int.h"
#include "client/group.h"
#include "client/group_net.h"
#include "client/transport.h"
#include "mls/credential.h"
#include "mls/key_package.h"
#include "mls/limits.h"
#include "sottod_proc.h"
#include "waitfor.h"

#define T 5000

static const uint8_t PASS[] = "ds pass";

struct member {
	struct test_user u;
	struct sotto *s;
	char home[256];
};

/* Registered with the server (u), and a client store holding the same identity (s). */
static int
member_new(struct member *m, const struct sottod_proc *sp, const char *name)
{
	struct store_identity id;
	int r;

	memset(m, 0, sizeof(*m));
	if ((r = test_user_join(&m->u, sp, name)) != 0)
		return r;
	snprintf(m->home, sizeof(m->home), "/tmp/sotto-test-group-ds-%d-%s", (int)getpid(), name);
	if ((r = sotto_create(&m->s, m->home, PASS, sizeof(PASS) - 1, SOTTO_KDF_MIN)) != 0)
		return r;
	memset(&id, 0, sizeof(id));
	memcpy(id.address, m->u.address, strlen(m->u.address) + 1);
	memcpy(id.identity_pk, m->u.id_pk, 32);
	memcpy(id.identity_sk, m->u.id_sk, 64);
	memcpy(id.device_pk, m->u.dev_pk, 32);
	memcpy(id.device_sk, m->u.dev_sk, 32);
	id.reg_state = STORE_REG_REGISTERED;
	if ((r = store_identity_put(m->s->st, &id)) == 0)
		r = client_load_identity(m->s);
	store_identity_wipe(&id);
	return r;
}

static void
member_free(struct member *m)
{
	char cmd[300];

	test_user_close(&m->u);
	sotto_close(m->s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", m->home);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", m->home);
}

/* One one-time and one last-resort KeyPackage of m's client, uploaded. */
static int
upload(struct member *m)
{
	struct buf one, lr;
	struct proto_blob b1, b2;
	struct proto_key_package_count left;
	int r;

	buf_init_dyn(&one, MLS_MESSAGE_MAX);
	buf_init_dyn(&lr, MLS_MESSAGE_MAX);
	if ((r = client_key_package_new(m->s, 0, &one)) == 0 &&
	    (r = client_key_package_new(m->s, 1, &lr)) == 0) {
		b1.p = one.p;
		b1.len = one.len;
		b2.p = lr.p;
		b2.len = lr.len;
		r = group_net_upload_key_packages(&transport_conn, m->u.c, &b1, 1, &b2, &left, T);
	}
	buf_free(&one);
	buf_free(&lr);
	return r;
}

/* m's next group event from the server: each push given to the client and acknowledged
 * once it is stored; a push the client drops (our own message back, SOTTO_ERR_REPLAY or
 * SOTTO_ERR_STATE) is acknowledged and skipped. */
static int
take(struct member *m, struct client_group_event *ev)
{
	struct proto_group_ack a;
	int r;

	for (;;) {
		do
			r = conn_next_event(m->u.c, &m->u.ev, wait_scaled_ms(T));
		while (r == 0 && m->u.ev.type != PROTO_GROUP_PUSH);
		if (r != 0)
			return r;
		r = client_group_receive(m->s, m->u.ev.u.group_push.data.p,
		    m->u.ev.u.group_push.data.len, ev);
		memset(&a, 0, sizeof(a));
		a.group = m->u.ev.u.group_push.group;
		a.seq = m->u.ev.u.group_push.seq;
		if (group_net_received(&transport_conn, m->u.c, &a, 1, T) != 0)
			return SOTTO_ERR_CLOSED;
		if (r != SOTTO_ERR_REPLAY && r != SOTTO_ERR_STATE)
			return r;
	}
}

/* take, wanting an event of this type. */
static int
take_type(struct member *m, enum client_group_event_type type, struct client_group_event *ev)
{
	int r = take(m, ev);

	if (r == 0 && ev->type != type) {
		client_group_event_free(ev);
		return SOTTO_ERR_INTERNAL;
	}
	return r;
}

static int
send_group(struct member *m, const uint8_t *gid, const struct buf *msg)
{
	struct proto_group_result res;
	uint8_t cmid[16];

	randombytes_buf(cmid, sizeof(cmid));
	return group_net_send(&transport_conn, m->u.c, gid, CLIENT_GROUP_ID_LEN, cmid, msg->p,
	    msg->len, &res, T);
}

/* m's pending Commit to the server, made in the epoch before its current one; its answer
 * passed back to the client. */
static int
commit_to_server(struct member *m, const uint8_t *gid, const struct buf *commit,
    const char *const *add, size_t n_add, const struct buf *welcome, const char *const *remove,
    size_t n_remove)
{
	struct group_net_welcome w = { welcome != NULL ? welcome->p : NULL,
	    welcome != NULL ? welcome->len : 0, add, n_add };
	struct group_net_commit gc;
	struct proto_group_result res;
	uint64_t epoch;
	int r;

	if ((r = client_group_epoch(m->s, gid, CLIENT_GROUP_ID_LEN, &epoch)) != 0)
		return r;
	memset(&gc, 0, sizeof(gc));
	gc.id = gid;
	gc.id_len = CLIENT_GROUP_ID_LEN;
	gc.epoch = epoch - 1;
	gc.commit = commit->p;
	gc.commit_len = commit->len;
	gc.add = add;
	gc.n_add = n_add;
	gc.remove = remove;
	gc.n_remove = n_remove;
	gc.welcomes = &w;
	gc.n_welcomes = n_add > 0;
	r = group_net_commit(&transport_conn, m->u.c, &gc, &res, T);
	if (r == 0 || r == SOTTO_ERR_STALE_EPOCH) {
		int d = client_group_commit_done(m->s, gid, CLIENT_GROUP_ID_LEN, r == 0);

		if (d != 0)
			return d;
	}
	return r;
}

static int
reads(struct member *m, const char *text, const char *from)
{
	struct client_group_event ev;
	int r = take_type(m, CLIENT_GROUP_MESSAGE, &ev);

	if (r != 0)
		return r;
	if (ev.body_len != strlen(text) || memcmp(ev.body, text, ev.body_len) != 0 ||
	    strcmp(ev.sender, from) != 0)
		r = SOTTO_ERR_INTERNAL;
	client_group_event_free(&ev);
	return r;
}

TEST(group_through_the_delivery_service)
{
	static struct group_net_claimed got[2];
	struct sottod_proc sp;
	struct member alice, bob, carol;
	struct client_group_event ev;
	uint8_t gid[CLIENT_GROUP_ID_LEN];
	struct buf commit, welcome, info, msg, bob_commit;
	const uint8_t *kps[2];
	size_t lens[2];
	const char *const adds[2] = { "bob@localhost", "carol@localhost" };
	const char *const rm_carol[1] = { "carol@localhost" };

	REQUIRE(sottod_proc_launch(&sp, "registration = open") == 0);
	REQUIRE(member_new(&alice, &sp, "alice") == 0);
	REQUIRE(member_new(&bob, &sp, "bob") == 0);
	REQUIRE(member_new(&carol, &sp, "carol") == 0);
	buf_init_dyn(&commit, MLS_MESSAGE_MAX);
	buf_init_dyn(&welcome, MLS_MESSAGE_MAX);
	buf_init_dyn(&info, MLS_MESSAGE_MAX);
	buf_init_dyn(&msg, MLS_MESSAGE_MAX);
	buf_init_dyn(&bob_commit, MLS_MESSAGE_MAX);
	REQUIRE(upload(&bob) == 0 && upload(&carol) == 0);

	/* Alice claims their KeyPackages; the server says whose they are. */
	REQUIRE(group_net_claim_key_package(&transport_conn, alice.u.c, adds[0], &got[0], T) == 0);
	REQUIRE(group_net_claim_key_package(&transport_conn, alice.u.c, adds[1], &got[1], T) == 0);
	CHECK(got[0].last_resort == 0 && memcmp(got[0].identity_pk, bob.u.id_pk, 32) == 0);
	CHECK(memcmp(got[1].identity_pk, carol.u.id_pk, 32) == 0);
	for (size_t i = 0; i < 2; i++) {
		struct mls_key_package kp;
		struct mls_sotto_credential cr;
		struct cur c;

		cur_init(&c, got[i].kp, got[i].len);
		mls_key_package_read(&c, &kp);
		REQUIRE(cur_finish(&c) == 0);
		REQUIRE(mls_credential_of_leaf(&kp.leaf, &cr) == 0);
		CHECK(memcmp(cr.identity_key, got[i].identity_pk, 32) == 0);
		CHECK(cr.address_len == strlen(adds[i]) &&
		    memcmp(cr.address, adds[i], cr.address_len) == 0);
	}
	REQUIRE(client_group_create(alice.s, "Through sottod", gid) == 0);
	REQUIRE(group_net_create(&transport_conn, alice.u.c, gid, sizeof(gid), NULL, T) == 0);
	kps[0] = got[0].kp;
	lens[0] = got[0].len;
	kps[1] = got[1].kp;
	lens[1] = got[1].len;
	REQUIRE(client_group_add(alice.s, gid, sizeof(gid), kps, lens, 2, &commit, &welcome,
	    &info) == 0);
	REQUIRE(commit_to_server(&alice, gid, &commit, adds, 2, &welcome, NULL, 0) == 0);
	REQUIRE(send_group(&alice, gid, &info) == 0);
	REQUIRE(take_type(&bob, CLIENT_GROUP_JOINED, &ev) == 0);
	CHECK_EQ_INT(ev.added.n, 3);
	client_group_event_free(&ev);
	REQUIRE(take_type(&bob, CLIENT_GROUP_INFO, &ev) == 0);
	CHECK(strcmp(ev.name, "Through sottod") == 0);
	client_group_event_free(&ev);
	REQUIRE(take_type(&carol, CLIENT_GROUP_JOINED, &ev) == 0);
	client_group_event_free(&ev);
	REQUIRE(take_type(&carol, CLIENT_GROUP_INFO, &ev) == 0);
	client_group_event_free(&ev);

	/* Messages both ways. */
	REQUIRE(client_group_send(alice.s, gid, sizeof(gid), 0, (const uint8_t *)"hello", 5, NULL,
	    &msg) == 0);
	REQUIRE(send_group(&alice, gid, &msg) == 0);
	CHECK_EQ_INT(reads(&bob, "hello", "alice@localhost"), 0);
	CHECK_EQ_INT(reads(&carol, "hello", "alice@localhost"), 0);
	REQUIRE(client_group_send(bob.s, gid, sizeof(gid), 0, (const uint8_t *)"hi", 2, NULL,
	    &msg) == 0);
	REQUIRE(send_group(&bob, gid, &msg) == 0);
	CHECK_EQ_INT(reads(&alice, "hi", "bob@localhost"), 0);
	CHECK_EQ_INT(reads(&carol, "hi", "bob@localhost"), 0);

	/* Alice and Bob both remove Carol in the same epoch: Bob's Commit is first. */
	REQUIRE(client_group_remove(bob.s, gid, sizeof(gid), rm_carol[0], &bob_commit) == 0);
	REQUIRE(client_group_remove(alice.s, gid, sizeof(gid), rm_carol[0], &commit) == 0);
	REQUIRE(commit_to_server(&bob, gid, &bob_commit, NULL, 0, NULL, rm_carol, 1) == 0);
	CHECK_EQ_INT(commit_to_server(&alice, gid, &commit, NULL, 0, NULL, rm_carol, 1),
	    SOTTO_ERR_STALE_EPOCH);
	REQUIRE(take_type(&alice, CLIENT_GROUP_COMMIT, &ev) == 0);
	CHECK(ev.removed.n == 1 && strcmp(ev.removed.v[0].address, "carol@localhost") == 0);
	client_group_event_free(&ev);
	REQUIRE(take_type(&carol, CLIENT_GROUP_REMOVED, &ev) == 0);
	client_group_event_free(&ev);
	/* The two left go on in Bob's epoch. */
	REQUIRE(client_group_send(alice.s, gid, sizeof(gid), 0, (const uint8_t *)"just us", 7, NULL,
	    &msg) == 0);
	REQUIRE(send_group(&alice, gid, &msg) == 0);
	CHECK_EQ_INT(reads(&bob, "just us", "alice@localhost"), 0);

	buf_free(&commit);
	buf_free(&welcome);
	buf_free(&info);
	buf_free(&msg);
	buf_free(&bob_commit);
	member_free(&alice);
	member_free(&bob);
	member_free(&carol);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

int
main(void)
{
	RUN(group_through_the_delivery_service);
	return check_summary();
}
