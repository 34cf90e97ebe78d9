/*
 * libsotto's public group API (sotto/group.h) against a real sottod: KeyPackages uploaded
 * at registration and replenished on the server's low-water notice; a KeyPackage whose
 * credential carries another identity key or address than the ones the server names for
 * its owner is refused when adding; a group's text stored in the history with its group,
 * shown once.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "client/client_int.h"
#include "client/group.h"
#include "client/group_net.h"
#include "mls/limits.h"
#include "sotto/group.h"
#include "sottod_proc.h"
#include "waitfor.h"

#define T 5000

static struct sottod_proc sp;
static char root[160];

static struct sotto *
user(const char *name)
{
	char home[256], addr[64];
	struct sotto *s = NULL;

	snprintf(home, sizeof(home), "%s/%s", root, name);
	snprintf(addr, sizeof(addr), "%s@localhost", name);
	if (sotto_create(&s, home, (const uint8_t *)"pw", 2, SOTTO_KDF_MIN) != 0)
		return NULL;
	if (sotto_init(s, addr, sp.address, NULL, T) != 0) {
		sotto_close(s);
		return NULL;
	}
	return s;
}

/* A KeyPackage made by a client whose identity claims address with a key of its own (not
 * the account's), into kp. */
static int
forged_key_package(const char *address, struct buf *kp)
{
	struct store_identity id;
	struct sotto *s = NULL;
	char home[256];
	int r;

	snprintf(home, sizeof(home), "%s/forger", root);
	if ((r = sotto_create(&s, home, (const uint8_t *)"pw", 2, SOTTO_KDF_MIN)) != 0)
		return r;
	memset(&id, 0, sizeof(id));
	snprintf(id.address, sizeof(id.address), "%s", address);
	crypto_sign_keypair(id.identity_pk, id.identity_sk);
	crypto_box_keypair(id.device_pk, id.device_sk);
	id.reg_state = STORE_REG_REGISTERED;
	if ((r = store_identity_put(s->st, &id)) == 0 && (r = client_load_identity(s)) == 0)
		r = client_key_package_new(s, 0, kp);
	store_identity_wipe(&id);
	sotto_close(s);
	return r;
}

/* The server's count of s's one-time KeyPackages (an empty upload answers with it). */
static long
kp_count(struct sotto *s)
{
	struct proto_key_package_count left;

	if (group_net_upload_key_packages(s->ops, s->t, NULL, 0, NULL, &left, T) != 0)
		return -1;
	return left.has_last_resort ? (long)left.count : -2;
}

struct seen {
	int texts, joined;
	char group[2 * SOTTO_GROUP_ID_MAX + 1];
	char body[64];
};

static void
on_event(void *ctx, const struct sotto_event *ev)
{
	struct seen *sn = ctx;

	if (ev->type == SOTTO_EVENT_GROUP && ev->change == SOTTO_CHANGE_JOINED)
		sn->joined++;
	if (ev->type == SOTTO_EVENT_MESSAGE && ev->group != NULL) {
		sn->texts++;
		snprintf(sn->group, sizeof(sn->group), "%s", ev->group);
		snprintf(sn->body, sizeof(sn->body), "%.*s", (int)ev->body_len,
		    (const char *)ev->body);
	}
}

/* Polls s until cond(sn) holds or the scaled deadline passes. */
static int
poll_until(struct sotto *s, struct seen *sn, int (*cond)(const struct seen *))
{
	uint64_t end = client_now_ms() + (uint64_t)wait_scaled_ms(T);

	while (!cond(sn)) {
		if (client_now_ms() > end || sotto_poll(s, 200, on_event, sn) < 0)
			return -1;
	}
	return 0;
}

static int
has_joined(const struct seen *sn)
{
	return sn->joined > 0;
}

static int
has_text(const struct seen *sn)
{
	return sn->texts > 0;
}

TEST(key_packages_credentials_and_history)
{
	struct test_user mallory, trudy;
	struct group_net_claimed got;
	struct proto_blob b;
	struct buf kp;
	struct sotto *alice, *bob, *carol;
	struct sotto_message *h = NULL;
	struct seen sn;
	const char *bob_addr[1] = { "bob@localhost" };
	const char *mal_addr[1] = { "mallory@localhost" };
	char id[2 * SOTTO_GROUP_ID_MAX + 1];
	size_t n = 0;
	int i;

	REQUIRE(sottod_proc_launch(&sp, "registration = open\nkey_package_low = 18") == 0);
	snprintf(root, sizeof(root), "%s/clients", sp.dir);
	REQUIRE(mkdir(root, 0700) == 0);
	REQUIRE((alice = user("alice")) != NULL);
	REQUIRE((bob = user("bob")) != NULL);
	REQUIRE((carol = user("carol")) != NULL);

	/* Registration uploaded one-time KeyPackages and a last-resort one. */
	CHECK_EQ_INT(kp_count(bob), 20);

	/* Mallory's account offers a KeyPackage whose credential names mallory but carries
	 * another identity key than the one the server names for mallory; Trudy's offers one
	 * of Carol's client (Carol's address and key). Neither is added. */
	REQUIRE(test_user_join(&mallory, &sp, "mallory") == 0);
	REQUIRE(test_user_join(&trudy, &sp, "trudy") == 0);
	buf_init_dyn(&kp, MLS_MESSAGE_MAX);
	REQUIRE(forged_key_package("mallory@localhost", &kp) == 0);
	b.p = kp.p;
	b.len = kp.len;
	REQUIRE(group_net_upload_key_packages(&transport_conn, mallory.c, &b, 1, NULL, NULL, T)
	    == 0);
	buf_reset(&kp);
	REQUIRE(client_key_package_new(carol, 0, &kp) == 0);
	b.p = kp.p;
	b.len = kp.len;
	REQUIRE(group_net_upload_key_packages(&transport_conn, trudy.c, &b, 1, NULL, NULL, T)
	    == 0);
	REQUIRE(sotto_group_create(alice, "Checked", NULL, 0, id) == 0);
	CHECK_EQ_INT(sotto_group_add(alice, id, mal_addr, 1), SOTTO_ERR_UNTRUSTED_IDENTITY);
	CHECK_EQ_INT(sotto_group_add(alice, id, (const char *const []){ "trudy@localhost" }, 1),
	    SOTTO_ERR_UNTRUSTED_IDENTITY);
	CHECK_EQ_INT(sotto_group_add(alice, id, (const char *const []){ "nobody@localhost" }, 1),
	    SOTTO_ERR_UNKNOWN_USER);

	/* Bob's KeyPackages claimed below the mark: the server tells his client, which
	 * uploads more while it polls. */
	for (i = 0; i < 3; i++)
		REQUIRE(group_net_claim_key_package(&transport_conn, mallory.c, "bob@localhost",
		    &got, T) == 0);
	CHECK_EQ_INT(kp_count(bob), 17);
	memset(&sn, 0, sizeof(sn));
	REQUIRE(sotto_poll(bob, 500, on_event, &sn) >= 0);
	CHECK_EQ_INT(kp_count(bob), 37);

	/* Bob is added; a text reaches him with its group and is in his history. */
	REQUIRE(sotto_group_add(alice, "Checked", bob_addr, 1) == 0);
	REQUIRE(poll_until(bob, &sn, has_joined) == 0);
	REQUIRE(sotto_group_send(alice, "Checked", "to the group", 12, NULL) == 0);
	REQUIRE(poll_until(bob, &sn, has_text) == 0);
	CHECK(strcmp(sn.group, id) == 0 && strcmp(sn.body, "to the group") == 0);
	REQUIRE(sotto_history(bob, NULL, 0, 10, &h, &n) == 0);
	/* our joining and the group's name (from Alice), then the text */
	REQUIRE(n == 3);
	CHECK(h[0].content == SOTTO_CONTENT_GROUP_EVENT && h[0].change == SOTTO_CHANGE_JOINED);
	CHECK(h[1].content == SOTTO_CONTENT_GROUP_EVENT && h[1].change == SOTTO_CHANGE_RENAMED);
	CHECK(strcmp((const char *)h[1].body, "Checked") == 0);
	CHECK(h[2].content == SOTTO_CONTENT_TEXT);
	for (i = 0; i < (int)n; i++) {
		CHECK(strcmp(h[i].group, id) == 0 && strcmp(h[i].group_name, "Checked") == 0);
		CHECK(strcmp(h[i].peer, "alice@localhost") == 0 && h[i].dir == SOTTO_IN);
	}
	sotto_history_free(h, n);
	/* Nothing is shown twice: a later poll finds nothing new. */
	memset(&sn, 0, sizeof(sn));
	REQUIRE(sotto_poll(bob, 300, on_event, &sn) >= 0);
	CHECK_EQ_INT(sn.texts, 0);

	buf_free(&kp);
	test_user_close(&mallory);
	test_user_close(&trudy);
	sotto_close(alice);
	sotto_close(bob);
	sotto_close(carol);
	CHECK_EQ_INT(sottod_proc_stop(&sp, SIGTERM), 0);
	sottod_proc_cleanup(&sp);
}

int
main(void)
{
	RUN(key_packages_credentials_and_history);
	return check_summary();
}
