/*
 * Groups in libsotto (src/client/group*.c) between in-process clients, each with its own
 * encrypted store in a temporary directory, exchanging the MLS bytes directly (no
 * server). Alice creates a group and adds Bob and Carol from their KeyPackages (Bob's
 * one-time, used up by the Welcome; Carol's last-resort, kept); the name reaches them in
 * the first application message. Messages go both ways; clients are closed and opened
 * again between steps (the state comes back from the store); Dave, unknown to the others,
 * is added and flagged; Bob is removed and reads nothing after; Carol leaves by proposing
 * her own removal, which Dave commits, and an old Welcome does not bring her back; Bob is
 * added again and reads the group again. Credentials are checked against contacts: an
 * impostor's KeyPackage under a verified contact's address is refused, one under an
 * unverified contact's address is flagged, and a member whose contact key changed later
 * is flagged in the members list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "sotto/group.h"
#include "sotto/sotto.h"
#include "client/client_int.h"
#include "client/group.h"
#include "client/group_content.h"
#include "client/group_events.h"
#include "client/group_note.h"
#include "client/store.h"
#include "crypto/dh.h"
#include "crypto/sign.h"
#include "client/content.h"
#include "mls/limits.h"

static const uint8_t PASS[] = "group pass";
static char tmp_root[256];

struct user {
	const char *name;
	char address[64];
	struct sotto *s;
};

static struct user alice = { .name = "alice" }, bob = { .name = "bob" }, carol = { .name = "carol" }, dave = { .name = "dave" };

static void
home_of(const struct user *u, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", tmp_root, u->name);
}

/* A client with a fresh identity, as sotto_init would leave it (no server address: these
 * clients never connect). */
static int
user_new(struct user *u)
{
	struct store_identity id;
	char home[512];
	int r;

	home_of(u, home, sizeof(home));
	snprintf(u->address, sizeof(u->address), "%s@example.org", u->name);
	if ((r = sotto_create(&u->s, home, PASS, sizeof(PASS) - 1, SOTTO_KDF_MIN)) != 0)
		return r;
	memset(&id, 0, sizeof(id));
	memcpy(id.address, u->address, strlen(u->address) + 1);
	id.reg_state = STORE_REG_REGISTERED;
	if ((r = sign_keypair(id.identity_pk, id.identity_sk)) != 0 ||
	    (r = dh_keypair(id.device_pk, id.device_sk)) != 0 ||
	    (r = store_identity_put(u->s->st, &id)) != 0)
		return r;
	store_identity_wipe(&id);
	return client_load_identity(u->s);
}

/* Closes and opens the client again: everything comes back from its store. */
static int
user_restart(struct user *u)
{
	char home[512];

	home_of(u, home, sizeof(home));
	sotto_close(u->s);
	u->s = NULL;
	return sotto_open(&u->s, home, PASS, sizeof(PASS) - 1);
}

/* u knows peer as a contact (verified or not) under peer's identity key or another. */
static int
know(struct user *u, const struct user *peer, int verified, const uint8_t *other_key)
{
	struct store_contact c;

	memset(&c, 0, sizeof(c));
	memcpy(c.address, peer->address, strlen(peer->address) + 1);
	memcpy(c.identity_pk, other_key != NULL ? other_key : peer->s->k->id.identity_pk, 32);
	c.verified = verified != 0;
	c.first_seen = 1;
	c.send_seq = 1;
	return store_contact_put(u->s->st, &c);
}

static void
bufs_init(struct buf *a, struct buf *b, struct buf *c)
{
	buf_init_dyn(a, MLS_MESSAGE_MAX);
	buf_init_dyn(b, MLS_MESSAGE_MAX);
	buf_init_dyn(c, MLS_MESSAGE_MAX);
}

static void
bufs_free(struct buf *a, struct buf *b, struct buf *c)
{
	buf_free(a);
	buf_free(b);
	buf_free(c);
}

/* u receives msg; the event's type must be want (0 on success, else the error). */
static int
receive(struct user *u, const struct buf *msg, enum client_group_event_type want,
    struct client_group_event *ev)
{
	int r = client_group_receive(u->s, msg->p, msg->len, ev);

	if (r == 0 && ev->type != want) {
		client_group_event_free(ev);
		return SOTTO_ERR_INTERNAL;
	}
	return r;
}

/* u reads the text from sender in msg. */
static int
reads(struct user *u, const struct buf *msg, const char *text, const struct user *sender)
{
	struct client_group_event ev;
	int r = receive(u, msg, CLIENT_GROUP_MESSAGE, &ev);

	if (r != 0)
		return r;
	if (ev.body_len != strlen(text) || memcmp(ev.body, text, ev.body_len) != 0 ||
	    strcmp(ev.sender, sender->address) != 0)
		r = SOTTO_ERR_INTERNAL;
	client_group_event_free(&ev);
	return r;
}

/* m lists address with this identity key and trust. */
static int
has_member_key(const struct client_group_members *m, const char *address, const uint8_t *key,
    enum client_member_trust t)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->v[i].address, address) == 0)
			return m->v[i].trust == t && memcmp(m->v[i].identity_key, key, 32) == 0;
	return 0;
}

static int
has_member(const struct client_group_members *m, const struct user *u, enum client_member_trust t)
{
	return has_member_key(m, u->address, u->s->k->id.identity_pk, t);
}

/* u's view of the group's members: n of them. */
static size_t
member_count(struct user *u, const uint8_t id[CLIENT_GROUP_ID_LEN])
{
	struct client_group_members m;
	size_t n;

	if (client_group_members(u->s, id, CLIENT_GROUP_ID_LEN, &m) != 0)
		return 0;
	n = m.n;
	client_group_members_free(&m);
	return n;
}

TEST(group_lifecycle_between_four_clients)
{
	uint8_t gid[CLIENT_GROUP_ID_LEN];
	struct client_group_event ev;
	struct client_group_members m;
	struct buf kp_b, kp_c, kp_d, commit, welcome, info, msg, first_welcome;
	uint32_t one_time, last_resort;
	const uint8_t *kps[2];
	size_t lens[2];

	REQUIRE(user_new(&alice) == 0 && user_new(&bob) == 0 && user_new(&carol) == 0 &&
	    user_new(&dave) == 0);
	/* Alice has compared Bob's safety number, knows Carol's key, has never met Dave. */
	REQUIRE(know(&alice, &bob, 1, NULL) == 0 && know(&alice, &carol, 0, NULL) == 0);
	REQUIRE(know(&bob, &alice, 0, NULL) == 0);
	bufs_init(&kp_b, &kp_c, &kp_d);
	bufs_init(&commit, &welcome, &info);
	buf_init_dyn(&msg, MLS_MESSAGE_MAX);
	buf_init_dyn(&first_welcome, MLS_MESSAGE_MAX);
	REQUIRE(client_key_package_new(bob.s, 0, &kp_b) == 0);
	REQUIRE(client_key_package_new(carol.s, 1, &kp_c) == 0);
	REQUIRE(client_key_package_new(dave.s, 0, &kp_d) == 0);
	REQUIRE(store_key_package_count(bob.s->st, &one_time, &last_resort) == 0);
	CHECK(one_time == 1 && last_resort == 0);

	/* Alice creates the group and adds Bob and Carol. */
	REQUIRE(client_group_create(alice.s, "Friends", gid) == 0);
	CHECK_EQ_INT(member_count(&alice, gid), 1);
	kps[0] = kp_b.p;
	lens[0] = kp_b.len;
	kps[1] = kp_c.p;
	lens[1] = kp_c.len;
	REQUIRE(client_group_add(alice.s, gid, sizeof(gid), kps, lens, 2, &commit, &welcome,
	    &info) == 0);
	CHECK(welcome.len > 0 && info.len > 0);
	/* One Commit in flight at a time, until the delivery service took it. */
	CHECK_EQ_INT(client_group_add(alice.s, gid, sizeof(gid), kps, lens, 2, &commit, &welcome,
	    &info), SOTTO_ERR_STATE);
	CHECK_EQ_INT(client_group_commit_done(alice.s, gid, sizeof(gid), 1), 0);
	CHECK_EQ_INT(client_group_commit_done(alice.s, gid, sizeof(gid), 1), SOTTO_ERR_NOT_FOUND);
	buf_put(&first_welcome, welcome.p, welcome.len);
	REQUIRE(receive(&bob, &welcome, CLIENT_GROUP_JOINED, &ev) == 0);
	CHECK(ev.group_id_len == sizeof(gid) && memcmp(ev.group_id, gid, sizeof(gid)) == 0);
	CHECK_EQ_INT(ev.added.n, 3);
	CHECK(has_member(&ev.added, &alice, CLIENT_MEMBER_KNOWN));
	CHECK(has_member(&ev.added, &bob, CLIENT_MEMBER_SELF));
	CHECK(has_member(&ev.added, &carol, CLIENT_MEMBER_UNKNOWN));
	CHECK(ev.warnings == CLIENT_GROUP_WARN_UNKNOWN);
	client_group_event_free(&ev);
	REQUIRE(receive(&carol, &welcome, CLIENT_GROUP_JOINED, &ev) == 0);
	client_group_event_free(&ev);
	/* The Welcome again: Carol is in already. */
	CHECK_EQ_INT(client_group_receive(carol.s, welcome.p, welcome.len, &ev), SOTTO_ERR_REPLAY);
	/* Bob's one-time KeyPackage is used up, Carol's last-resort one kept. */
	REQUIRE(store_key_package_count(bob.s->st, &one_time, &last_resort) == 0);
	CHECK(one_time == 0 && last_resort == 0);
	REQUIRE(store_key_package_count(carol.s->st, &one_time, &last_resort) == 0);
	CHECK(one_time == 0 && last_resort == 1);
	/* The name arrives in the first application message. */
	REQUIRE(receive(&bob, &info, CLIENT_GROUP_INFO, &ev) == 0);
	CHECK(strcmp(ev.name, "Friends") == 0 && strcmp(ev.sender, alice.address) == 0);
	client_group_event_free(&ev);
	REQUIRE(user_restart(&carol) == 0);
	REQUIRE(receive(&carol, &info, CLIENT_GROUP_INFO, &ev) == 0);
	CHECK(strcmp(ev.name, "Friends") == 0);
	client_group_event_free(&ev);

	/* Messages both ways, with restarts in between. */
	REQUIRE(client_group_send(alice.s, gid, sizeof(gid), 0, (const uint8_t *)"hello all", 9,
	    NULL, &msg) == 0);
	CHECK_EQ_INT(reads(&bob, &msg, "hello all", &alice), 0);
	CHECK_EQ_INT(reads(&bob, &msg, "hello all", &alice), SOTTO_ERR_REPLAY);
	REQUIRE(user_restart(&carol) == 0);
	CHECK_EQ_INT(reads(&carol, &msg, "hello all", &alice), 0);
	REQUIRE(user_restart(&bob) == 0);
	REQUIRE(client_group_send(bob.s, gid, sizeof(gid), 0, (const uint8_t *)"hi alice", 8, NULL,
	    &msg) == 0);
	REQUIRE(user_restart(&alice) == 0);
	CHECK_EQ_INT(reads(&alice, &msg, "hi alice", &bob), 0);
	CHECK_EQ_INT(reads(&carol, &msg, "hi alice", &bob), 0);

	/* Alice adds Dave, whom nobody knows: flagged in the Commit the others process. */
	kps[0] = kp_d.p;
	lens[0] = kp_d.len;
	REQUIRE(client_group_add(alice.s, gid, sizeof(gid), kps, lens, 1, &commit, &welcome,
	    &info) == 0);
	REQUIRE(client_group_commit_done(alice.s, gid, sizeof(gid), 1) == 0);
	REQUIRE(receive(&bob, &commit, CLIENT_GROUP_COMMIT, &ev) == 0);
	CHECK(ev.added.n == 1 && ev.removed.n == 0 && has_member(&ev.added, &dave, CLIENT_MEMBER_UNKNOWN));
	CHECK(ev.warnings & CLIENT_GROUP_WARN_UNKNOWN);
	client_group_event_free(&ev);
	REQUIRE(receive(&carol, &commit, CLIENT_GROUP_COMMIT, &ev) == 0);
	client_group_event_free(&ev);
	CHECK_EQ_INT(client_group_receive(carol.s, commit.p, commit.len, &ev), SOTTO_ERR_STATE);
	REQUIRE(receive(&dave, &welcome, CLIENT_GROUP_JOINED, &ev) == 0);
	CHECK_EQ_INT(ev.added.n, 4);
	client_group_event_free(&ev);
	REQUIRE(receive(&dave, &info, CLIENT_GROUP_INFO, &ev) == 0);
	CHECK(strcmp(ev.name, "Friends") == 0);
	client_group_event_free(&ev);
	REQUIRE(receive(&bob, &info, CLIENT_GROUP_INFO, &ev) == 0);
	client_group_event_free(&ev);
	CHECK_EQ_INT(member_count(&dave, gid), 4);

	/* A new name and a timer for everyone. */
	REQUIRE(client_group_set_info(dave.s, gid, sizeof(gid), "Old friends", 3600, &msg) == 0);
	REQUIRE(client_group_remove(alice.s, gid, sizeof(gid), bob.address, &commit) == 0);
	/* Not sent after all (the user changed their mind before it went out): back. */
	REQUIRE(client_group_commit_done(alice.s, gid, sizeof(gid), 0) == 0);
	REQUIRE(receive(&alice, &msg, CLIENT_GROUP_INFO, &ev) == 0);
	CHECK(strcmp(ev.name, "Old friends") == 0 && ev.expiry == 3600 &&
	    strcmp(ev.sender, dave.address) == 0);
	client_group_event_free(&ev);
	REQUIRE(receive(&carol, &msg, CLIENT_GROUP_INFO, &ev) == 0);
	client_group_event_free(&ev);

	/* Alice removes Bob: the others see him go, he is told, and reads nothing after. */
	CHECK_EQ_INT(client_group_remove(alice.s, gid, sizeof(gid), alice.address, &commit),
	    SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(client_group_remove(alice.s, gid, sizeof(gid), "nobody@example.org", &commit),
	    SOTTO_ERR_NOT_FOUND);
	REQUIRE(client_group_remove(alice.s, gid, sizeof(gid), bob.address, &commit) == 0);
	REQUIRE(receive(&carol, &commit, CLIENT_GROUP_COMMIT, &ev) == 0);
	CHECK(ev.removed.n == 1 && strcmp(ev.removed.v[0].address, bob.address) == 0 &&
	    ev.added.n == 0);
	client_group_event_free(&ev);
	REQUIRE(receive(&dave, &commit, CLIENT_GROUP_COMMIT, &ev) == 0);
	client_group_event_free(&ev);
	REQUIRE(user_restart(&bob) == 0);
	REQUIRE(receive(&bob, &commit, CLIENT_GROUP_REMOVED, &ev) == 0);
	client_group_event_free(&ev);
	REQUIRE(client_group_send(alice.s, gid, sizeof(gid), 0, (const uint8_t *)"bob is gone", 11,
	    NULL, &msg) == 0);
	CHECK_EQ_INT(reads(&carol, &msg, "bob is gone", &alice), 0);
	CHECK_EQ_INT(reads(&dave, &msg, "bob is gone", &alice), 0);
	CHECK_EQ_INT(reads(&bob, &msg, "bob is gone", &alice), SOTTO_ERR_STATE);
	CHECK_EQ_INT(client_group_send(bob.s, gid, sizeof(gid), 0, (const uint8_t *)"x", 1, NULL,
	    &msg), SOTTO_ERR_STATE);
	CHECK_EQ_INT(member_count(&carol, gid), 3);

	/* Carol leaves: her proposal asks the others; Dave commits it. */
	REQUIRE(client_group_leave(carol.s, gid, sizeof(gid), &msg) == 0);
	REQUIRE(receive(&dave, &msg, CLIENT_GROUP_PROPOSAL, &ev) == 0);
	CHECK(ev.leave_request && strcmp(ev.sender, carol.address) == 0);
	client_group_event_free(&ev);
	REQUIRE(receive(&alice, &msg, CLIENT_GROUP_PROPOSAL, &ev) == 0);
	CHECK(ev.leave_request);
	client_group_event_free(&ev);
	/* Alice's removal of Bob was taken: Carol wrote in the epoch it made. */
	CHECK_EQ_INT(client_group_commit_done(alice.s, gid, sizeof(gid), 1), SOTTO_ERR_NOT_FOUND);
	REQUIRE(user_restart(&dave) == 0);
	REQUIRE(client_group_commit_pending(dave.s, gid, sizeof(gid), &commit) == 0);
	REQUIRE(client_group_commit_done(dave.s, gid, sizeof(gid), 1) == 0);
	REQUIRE(receive(&alice, &commit, CLIENT_GROUP_COMMIT, &ev) == 0);
	CHECK(ev.removed.n == 1 && strcmp(ev.removed.v[0].address, carol.address) == 0);
	client_group_event_free(&ev);
	REQUIRE(receive(&carol, &commit, CLIENT_GROUP_REMOVED, &ev) == 0);
	client_group_event_free(&ev);
	REQUIRE(client_group_send(dave.s, gid, sizeof(gid), 0, (const uint8_t *)"just us", 7, NULL,
	    &msg) == 0);
	CHECK_EQ_INT(reads(&alice, &msg, "just us", &dave), 0);
	CHECK_EQ_INT(reads(&carol, &msg, "just us", &dave), SOTTO_ERR_STATE);
	REQUIRE(client_group_members(alice.s, gid, sizeof(gid), &m) == 0);
	CHECK(m.n == 2 && has_member(&m, &alice, CLIENT_MEMBER_SELF) &&
	    has_member(&m, &dave, CLIENT_MEMBER_UNKNOWN));
	client_group_members_free(&m);

	/* The first Welcome again for Carol, who left (her last-resort KeyPackage still
	 * opens it): of an epoch before the one she left in, it does not bring her back. */
	CHECK_EQ_INT(client_group_receive(carol.s, first_welcome.p, first_welcome.len, &ev),
	    SOTTO_ERR_REPLAY);
	/* Alice adds Bob back: his new Welcome replaces the group that removed him, and he
	 * reads the group again. The same Welcome twice: its KeyPackage is used up. */
	buf_reset(&kp_b);
	REQUIRE(client_key_package_new(bob.s, 0, &kp_b) == 0);
	kps[0] = kp_b.p;
	lens[0] = kp_b.len;
	REQUIRE(client_group_add(alice.s, gid, sizeof(gid), kps, lens, 1, &commit, &welcome,
	    &info) == 0);
	REQUIRE(receive(&dave, &commit, CLIENT_GROUP_COMMIT, &ev) == 0);
	client_group_event_free(&ev);
	REQUIRE(receive(&bob, &welcome, CLIENT_GROUP_JOINED, &ev) == 0);
	CHECK_EQ_INT(ev.added.n, 3);
	client_group_event_free(&ev);
	CHECK_EQ_INT(client_group_receive(bob.s, welcome.p, welcome.len, &ev), SOTTO_ERR_NOT_FOUND);
	REQUIRE(receive(&bob, &info, CLIENT_GROUP_INFO, &ev) == 0);
	CHECK(strcmp(ev.name, "Old friends") == 0 && ev.expiry == 3600);
	client_group_event_free(&ev);
	REQUIRE(client_group_send(bob.s, gid, sizeof(gid), 0, (const uint8_t *)"back again", 10, NULL,
	    &msg) == 0);
	CHECK_EQ_INT(reads(&alice, &msg, "back again", &bob), 0);
	CHECK_EQ_INT(reads(&dave, &msg, "back again", &bob), 0);

	bufs_free(&kp_b, &kp_c, &kp_d);
	bufs_free(&commit, &welcome, &info);
	buf_free(&msg);
	buf_free(&first_welcome);
}

TEST(member_keys_are_checked_against_contacts)
{
	struct user eve = { .name = "eve" }, erin = { .name = "erin" }, frank = { .name = "frank" };
	uint8_t gid[CLIENT_GROUP_ID_LEN];
	struct client_group_members m;
	struct buf kp_e, kp_f, commit, welcome, info;
	const uint8_t *kps[1];
	size_t lens[1];
	uint8_t other[32], other_sec[64];

	/* Eve and Erin take the addresses of Alice's contacts Bob (verified) and Carol (not
	 * verified), each with her own identity key. */
	REQUIRE(user_new(&eve) == 0 && user_new(&erin) == 0 && user_new(&frank) == 0);
	memcpy(eve.s->k->id.address, bob.address, strlen(bob.address) + 1);
	memcpy(erin.s->k->id.address, carol.address, strlen(carol.address) + 1);
	bufs_init(&kp_e, &kp_f, &commit);
	buf_init_dyn(&welcome, MLS_MESSAGE_MAX);
	buf_init_dyn(&info, MLS_MESSAGE_MAX);
	REQUIRE(client_key_package_new(eve.s, 0, &kp_e) == 0);
	REQUIRE(client_key_package_new(frank.s, 0, &kp_f) == 0);
	REQUIRE(client_group_create(alice.s, "Checked", gid) == 0);
	kps[0] = kp_e.p;
	lens[0] = kp_e.len;
	CHECK_EQ_INT(client_group_add(alice.s, gid, sizeof(gid), kps, lens, 1, &commit, &welcome,
	    &info), SOTTO_ERR_UNTRUSTED_IDENTITY);
	CHECK_EQ_INT(member_count(&alice, gid), 1);
	buf_reset(&kp_e);
	REQUIRE(client_key_package_new(erin.s, 0, &kp_e) == 0);
	kps[0] = kp_e.p;
	lens[0] = kp_e.len;
	REQUIRE(client_group_add(alice.s, gid, sizeof(gid), kps, lens, 1, &commit, &welcome,
	    &info) == 0);
	REQUIRE(client_group_commit_done(alice.s, gid, sizeof(gid), 1) == 0);
	REQUIRE(client_group_members(alice.s, gid, sizeof(gid), &m) == 0);
	CHECK(has_member_key(&m, carol.address, erin.s->k->id.identity_pk, CLIENT_MEMBER_CHANGED));
	client_group_members_free(&m);
	/* A KeyPackage whose bytes were changed is refused. */
	kps[0] = kp_f.p;
	lens[0] = kp_f.len;
	kp_f.p[kp_f.len / 2] ^= 1;
	CHECK(client_group_add(alice.s, gid, sizeof(gid), kps, lens, 1, &commit, &welcome,
	    &info) != 0);
	kp_f.p[kp_f.len / 2] ^= 1;
	REQUIRE(client_group_add(alice.s, gid, sizeof(gid), kps, lens, 1, &commit, &welcome,
	    &info) == 0);
	REQUIRE(client_group_commit_done(alice.s, gid, sizeof(gid), 1) == 0);
	/* Frank becomes a contact; then his key changes (as a message under a new key would
	 * record it): the members list flags him, and blocks once he was verified. */
	REQUIRE(know(&alice, &frank, 0, NULL) == 0);
	REQUIRE(client_group_members(alice.s, gid, sizeof(gid), &m) == 0);
	CHECK(has_member(&m, &frank, CLIENT_MEMBER_KNOWN));
	client_group_members_free(&m);
	REQUIRE(sign_keypair(other, other_sec) == 0);
	REQUIRE(know(&alice, &frank, 0, other) == 0);
	REQUIRE(client_group_members(alice.s, gid, sizeof(gid), &m) == 0);
	CHECK(has_member(&m, &frank, CLIENT_MEMBER_CHANGED));
	client_group_members_free(&m);
	REQUIRE(know(&alice, &frank, 1, other) == 0);
	REQUIRE(client_group_members(alice.s, gid, sizeof(gid), &m) == 0);
	CHECK(has_member(&m, &frank, CLIENT_MEMBER_BLOCKED));
	client_group_members_free(&m);
	REQUIRE(know(&alice, &frank, 1, NULL) == 0);
	REQUIRE(client_group_members(alice.s, gid, sizeof(gid), &m) == 0);
	CHECK(has_member(&m, &frank, CLIENT_MEMBER_VERIFIED));
	client_group_members_free(&m);
	bufs_free(&kp_e, &kp_f, &commit);
	buf_free(&welcome);
	buf_free(&info);
	sotto_close(eve.s);
	sotto_close(erin.s);
	sotto_close(frank.s);
}

/* Alice and Dave commit in the same epoch; the delivery service takes Dave's. Alice goes
 * back to the epoch before hers, follows Dave's Commit and commits hers again; the
 * group goes on with everyone in it. */
TEST(competing_commits_roll_back)
{
	struct user grace = { .name = "grace" }, heidi = { .name = "heidi" };
	uint8_t gid[CLIENT_GROUP_ID_LEN];
	struct client_group_event ev;
	struct buf kp_d, kp_g, kp_h, commit_a, commit_d, welcome, info, msg;
	const uint8_t *kps[1];
	size_t lens[1];

	REQUIRE(user_new(&grace) == 0 && user_new(&heidi) == 0);
	bufs_init(&kp_d, &kp_g, &kp_h);
	bufs_init(&commit_a, &commit_d, &welcome);
	buf_init_dyn(&info, MLS_MESSAGE_MAX);
	buf_init_dyn(&msg, MLS_MESSAGE_MAX);
	REQUIRE(client_key_package_new(dave.s, 0, &kp_d) == 0);
	REQUIRE(client_key_package_new(grace.s, 0, &kp_g) == 0);
	REQUIRE(client_key_package_new(heidi.s, 0, &kp_h) == 0);
	REQUIRE(client_group_create(alice.s, "Race", gid) == 0);
	kps[0] = kp_d.p;
	lens[0] = kp_d.len;
	REQUIRE(client_group_add(alice.s, gid, sizeof(gid), kps, lens, 1, &commit_a, &welcome,
	    &info) == 0);
	REQUIRE(client_group_commit_done(alice.s, gid, sizeof(gid), 1) == 0);
	REQUIRE(receive(&dave, &welcome, CLIENT_GROUP_JOINED, &ev) == 0);
	client_group_event_free(&ev);
	/* Both commit at once: Alice adds Grace, Dave adds Heidi. */
	kps[0] = kp_g.p;
	lens[0] = kp_g.len;
	REQUIRE(client_group_add(alice.s, gid, sizeof(gid), kps, lens, 1, &commit_a, &welcome,
	    &info) == 0);
	kps[0] = kp_h.p;
	lens[0] = kp_h.len;
	CHECK_EQ_INT(client_group_add(dave.s, gid, sizeof(gid), kps, lens, 1, &commit_d, &welcome,
	    &info), 0);
	/* Dave's is taken; Alice cannot read it until she goes back. */
	REQUIRE(client_group_commit_done(dave.s, gid, sizeof(gid), 1) == 0);
	CHECK_EQ_INT(client_group_receive(alice.s, commit_d.p, commit_d.len, &ev), SOTTO_ERR_STATE);
	REQUIRE(user_restart(&alice) == 0);
	REQUIRE(client_group_commit_done(alice.s, gid, sizeof(gid), 0) == 0);
	REQUIRE(receive(&alice, &commit_d, CLIENT_GROUP_COMMIT, &ev) == 0);
	CHECK(ev.added.n == 1 && strcmp(ev.added.v[0].address, heidi.address) == 0);
	client_group_event_free(&ev);
	REQUIRE(receive(&heidi, &welcome, CLIENT_GROUP_JOINED, &ev) == 0);
	client_group_event_free(&ev);
	/* Dave never had the name (nobody sent it since he joined): his INFO carries none. */
	REQUIRE(receive(&heidi, &info, CLIENT_GROUP_INFO, &ev) == 0);
	CHECK(strcmp(ev.name, "") == 0 && strcmp(ev.sender, dave.address) == 0);
	client_group_event_free(&ev);
	REQUIRE(receive(&alice, &info, CLIENT_GROUP_INFO, &ev) == 0);
	CHECK(strcmp(ev.name, "Race") == 0);
	client_group_event_free(&ev);
	/* Alice's add again, in the new epoch: everyone follows. */
	kps[0] = kp_g.p;
	lens[0] = kp_g.len;
	REQUIRE(client_group_add(alice.s, gid, sizeof(gid), kps, lens, 1, &commit_a, &welcome,
	    &info) == 0);
	REQUIRE(receive(&dave, &commit_a, CLIENT_GROUP_COMMIT, &ev) == 0);
	client_group_event_free(&ev);
	REQUIRE(receive(&heidi, &commit_a, CLIENT_GROUP_COMMIT, &ev) == 0);
	client_group_event_free(&ev);
	REQUIRE(receive(&grace, &welcome, CLIENT_GROUP_JOINED, &ev) == 0);
	CHECK_EQ_INT(ev.added.n, 4);
	client_group_event_free(&ev);
	REQUIRE(client_group_send(grace.s, gid, sizeof(gid), 0, (const uint8_t *)"made it", 7, NULL,
	    &msg) == 0);
	CHECK_EQ_INT(reads(&alice, &msg, "made it", &grace), 0);
	CHECK_EQ_INT(reads(&dave, &msg, "made it", &grace), 0);
	CHECK_EQ_INT(reads(&heidi, &msg, "made it", &grace), 0);
	/* Grace's message was of Alice's new epoch: her Commit counts as taken. */
	CHECK_EQ_INT(client_group_commit_done(alice.s, gid, sizeof(gid), 0), SOTTO_ERR_NOT_FOUND);
	bufs_free(&kp_d, &kp_g, &kp_h);
	bufs_free(&commit_a, &commit_d, &welcome);
	buf_free(&info);
	buf_free(&msg);
	sotto_close(grace.s);
	sotto_close(heidi.s);
}

/* A group named by its id in hex or by its name; a shared name names none. */
TEST(groups_are_found_by_id_or_name)
{
	uint8_t a1[CLIENT_GROUP_ID_LEN], a2[CLIENT_GROUP_ID_LEN], id[STORE_GROUP_ID_MAX];
	char hex[2 * CLIENT_GROUP_ID_LEN + 1];
	size_t len, i;

	REQUIRE(client_group_create(bob.s, "Book club", a1) == 0);
	CHECK_EQ_INT(client_group_find(bob.s, "Book club", id, &len), 0);
	CHECK(len == sizeof(a1) && memcmp(id, a1, len) == 0);
	CHECK_EQ_INT(client_group_find(bob.s, "Book", id, &len), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(client_group_find(bob.s, "", id, &len), SOTTO_ERR_INVALID_ARG);
	REQUIRE(client_group_create(bob.s, "Book club", a2) == 0);
	CHECK_EQ_INT(client_group_find(bob.s, "Book club", id, &len), SOTTO_ERR_EXISTS);
	sodium_bin2hex(hex, sizeof(hex), a2, sizeof(a2));
	CHECK_EQ_INT(client_group_find(bob.s, hex, id, &len), 0);
	CHECK(len == sizeof(a2) && memcmp(id, a2, len) == 0);
	for (i = 0; hex[i] != '\0'; i++)
		if (hex[i] >= 'a' && hex[i] <= 'f')
			hex[i] = (char)(hex[i] - 'a' + 'A');
	CHECK_EQ_INT(client_group_find(bob.s, hex, id, &len), 0);
	CHECK(len == sizeof(a2) && memcmp(id, a2, len) == 0);
	hex[0] = hex[0] == '0' ? '1' : '0';
	CHECK_EQ_INT(client_group_find(bob.s, hex, id, &len), SOTTO_ERR_NOT_FOUND);
	/* The first group Bob was added to, by the name its members gave it. */
	CHECK_EQ_INT(client_group_find(bob.s, "Old friends", id, &len), 0);
}

/* KeyPackages whose lifetime is over go, with their private keys; the others stay. */
TEST(expired_key_packages_are_pruned)
{
	struct store_key_package old;
	uint32_t one_time, last_resort;
	struct buf kp;

	buf_init_dyn(&kp, MLS_MESSAGE_MAX);
	REQUIRE(client_key_package_new(dave.s, 0, &kp) == 0);
	REQUIRE(client_key_package_new(dave.s, 1, &kp) == 0);
	REQUIRE(store_key_package_count(dave.s->st, &one_time, &last_resort) == 0);
	/* One made a lifetime and a minute ago (its row as the store keeps it). */
	memset(&old, 0, sizeof(old));
	memset(old.ref, 0x77, sizeof(old.ref));
	old.created = client_now() - CLIENT_KP_LIFETIME - 60;
	old.kp = kp.p;
	old.kp_len = kp.len;
	REQUIRE(store_key_package_put(dave.s->st, &old) == 0);
	CHECK_EQ_INT(store_key_package_put(dave.s->st, &old), SOTTO_ERR_EXISTS);
	CHECK_EQ_INT(client_key_packages_prune(dave.s), 1);
	CHECK_EQ_INT(client_key_packages_prune(dave.s), 0);
	{
		uint32_t o2, l2;
		struct store_key_package got;

		REQUIRE(store_key_package_count(dave.s->st, &o2, &l2) == 0);
		CHECK(o2 == one_time && l2 == last_resort && l2 >= 1);
		CHECK_EQ_INT(store_key_package_get(dave.s->st, old.ref, &got), SOTTO_ERR_NOT_FOUND);
	}
	buf_free(&kp);
}

/* The content codec inside application messages: round trip, and every refusal. */
TEST(group_content_codec)
{
	static const uint8_t nul_name[] = { 'a', 0, 'b' };
	struct group_content c, d;
	uint8_t big[CONTENT_BODY_MAX + 1];
	struct buf b;
	size_t n;

	buf_init_dyn(&b, 2 * CONTENT_BODY_MAX);
	memset(&c, 0, sizeof(c));
	c.type = GROUP_CONTENT_TEXT;
	memset(c.id, 7, sizeof(c.id));
	c.sent_ms = 1700000000123u;
	c.expiry = 60;
	c.body = (const uint8_t *)"hello";
	c.body_len = 5;
	REQUIRE(group_content_encode(&c, &b) == 0);
	CHECK_EQ_INT(b.len, GROUP_CONTENT_HEADER_LEN + 4 + 5);
	REQUIRE(group_content_decode(b.p, b.len, &d) == 0);
	CHECK(d.type == c.type && memcmp(d.id, c.id, sizeof(c.id)) == 0 &&
	    d.sent_ms == c.sent_ms && d.expiry == 60 && d.body_len == 5 &&
	    memcmp(d.body, "hello", 5) == 0);
	/* Truncated anywhere, a byte more, another version or type. */
	n = b.len;
	for (size_t i = 0; i < n; i++)
		CHECK(group_content_decode(b.p, i, &d) != 0);
	buf_u8(&b, 0);
	CHECK_EQ_INT(group_content_decode(b.p, b.len, &d), SOTTO_ERR_TRAILING);
	b.len = n;
	b.p[0] = 2;
	CHECK_EQ_INT(group_content_decode(b.p, b.len, &d), SOTTO_ERR_BAD_VERSION);
	b.p[0] = GROUP_CONTENT_VERSION;
	b.p[1] = GROUP_CONTENT_FILE + 1;
	CHECK_EQ_INT(group_content_decode(b.p, b.len, &d), SOTTO_ERR_MALFORMED);
	/* A mail's part: the same layout as a text, its own type. */
	b.p[1] = GROUP_CONTENT_MAIL;
	REQUIRE(group_content_decode(b.p, b.len, &d) == 0);
	CHECK(d.type == GROUP_CONTENT_MAIL && d.body_len == 5 && memcmp(d.body, "hello", 5) == 0);
	/* Empty or oversized texts, a timer over the cap, a name with a NUL. */
	buf_reset(&b);
	c.body_len = 0;
	CHECK_EQ_INT(group_content_encode(&c, &b), SOTTO_ERR_INVALID_ARG);
	memset(big, 'x', sizeof(big));
	c.body = big;
	c.body_len = sizeof(big);
	CHECK_EQ_INT(group_content_encode(&c, &b), SOTTO_ERR_INVALID_ARG);
	c.body_len = CONTENT_BODY_MAX;
	CHECK_EQ_INT(group_content_encode(&c, &b), 0);
	c.expiry = CONTENT_EXPIRY_MAX + 1;
	buf_reset(&b);
	CHECK_EQ_INT(group_content_encode(&c, &b), SOTTO_ERR_INVALID_ARG);
	c.expiry = 0;
	c.type = GROUP_CONTENT_INFO;
	c.body = NULL;
	c.body_len = 0;
	buf_reset(&b);
	REQUIRE(group_content_encode(&c, &b) == 0);
	REQUIRE(group_content_decode(b.p, b.len, &d) == 0);
	CHECK(d.type == GROUP_CONTENT_INFO && d.body_len == 0);
	c.body = big;
	c.body_len = STORE_GROUP_NAME_MAX + 1;
	buf_reset(&b);
	CHECK_EQ_INT(group_content_encode(&c, &b), SOTTO_ERR_INVALID_ARG);
	c.body = nul_name;
	c.body_len = sizeof(nul_name);
	CHECK_EQ_INT(group_content_encode(&c, &b), SOTTO_ERR_INVALID_ARG);
	c.body = (const uint8_t *)"Friends";
	c.body_len = 7;
	REQUIRE(group_content_encode(&c, &b) == 0);
	REQUIRE(group_content_decode(b.p, b.len, &d) == 0);
	CHECK(d.type == GROUP_CONTENT_INFO && d.body_len == 7);
	b.p[b.len - 4] = 0;   /* a NUL inside the name as received */
	CHECK_EQ_INT(group_content_decode(b.p, b.len, &d), SOTTO_ERR_MALFORMED);
	buf_free(&b);
}

/* Encodes fc into inner, and a group FILE content of it into b: group_content_encode's
 * result. */
static int
group_file_of(const struct content *fc, struct buf *inner, struct group_content *g,
    struct buf *b)
{
	buf_reset(inner);
	buf_reset(b);
	if (content_encode(fc, inner) != 0)
		return -1;
	g->body = inner->p;
	g->body_len = inner->len;
	return group_content_encode(g, b);
}

/* A group's FILE content carries a FILE content (client/content.h): round trip; a TEXT
 * content, a FILE with a token field, or bytes that are no content are refused. */
TEST(group_content_file)
{
	uint8_t hash[FILE_HASH_LEN], key[FILE_KEY_LEN], digest[FILE_DIGEST_LEN];
	struct group_content g, d;
	struct content fc;
	struct buf inner, b;

	memset(hash, 1, sizeof(hash));
	memset(key, 2, sizeof(key));
	memset(digest, 3, sizeof(digest));
	memset(&fc, 0, sizeof(fc));
	fc.type = CONTENT_FILE;
	fc.seq = 1;
	fc.file_size = 70000;
	fc.file_hash = hash;
	fc.file_key = key;
	fc.file_digest = digest;
	fc.file_name = (const uint8_t *)"plan.pdf";
	fc.file_name_len = 8;
	fc.file_type = (const uint8_t *)"application/pdf";
	fc.file_type_len = 15;
	buf_init_dyn(&inner, CONTENT_FILE_MAX);
	buf_init_dyn(&b, 2 * CONTENT_FILE_MAX);
	REQUIRE(content_encode(&fc, &inner) == 0);
	memset(&g, 0, sizeof(g));
	g.type = GROUP_CONTENT_FILE;
	memset(g.id, 9, sizeof(g.id));
	g.body = inner.p;
	g.body_len = inner.len;
	REQUIRE(group_content_encode(&g, &b) == 0);
	CHECK_EQ_INT(b.len, GROUP_CONTENT_HEADER_LEN + 4 + inner.len);
	REQUIRE(group_content_decode(b.p, b.len, &d) == 0);
	CHECK(d.type == GROUP_CONTENT_FILE && d.body_len == inner.len &&
	    memcmp(d.body, inner.p, inner.len) == 0);
	/* the inner content cut by a byte: no content, refused */
	b.p[GROUP_CONTENT_HEADER_LEN + 3]--;
	b.len--;
	CHECK_EQ_INT(group_content_decode(b.p, b.len, &d), SOTTO_ERR_MALFORMED);
	/* a TEXT content inside, or a FILE with the token field */
	fc.type = CONTENT_TEXT;
	fc.body = (const uint8_t *)"hi";
	fc.body_len = 2;
	CHECK_EQ_INT(group_file_of(&fc, &inner, &g, &b), SOTTO_ERR_INVALID_ARG);
	fc.type = CONTENT_FILE;
	fc.has_token = 1;
	CHECK_EQ_INT(group_file_of(&fc, &inner, &g, &b), SOTTO_ERR_INVALID_ARG);
	buf_free(&inner);
	buf_free(&b);
}

/* ev, recorded in u's history: n entries, the last of change by `by`. */
static int
record(struct user *u, struct client_group_event *ev, size_t n, uint8_t change, const char *by)
{
	struct client_group_notes notes;
	struct group_note gn;
	int r;

	if ((r = client_group_notes_record(u->s, ev, 1000, &notes)) != 0)
		return r;
	r = notes.n != n ? SOTTO_ERR_INTERNAL : 0;
	if (r == 0 && n > 0 &&
	    ((r = group_note_decode(notes.v[n - 1].body, notes.v[n - 1].body_len, &gn)) != 0 ||
	    gn.change != change || strcmp(notes.v[n - 1].peer, by) != 0))
		r = r != 0 ? r : SOTTO_ERR_INTERNAL;
	client_group_notes_free(&notes);
	client_group_event_free(ev);
	return r;
}

/* Every change a member sees becomes a history entry: who made it, whom it names, and a
 * key that is not the contact's flagged. */
TEST(changes_become_history_entries)
{
	struct user g = { .name = "gina" }, h = { .name = "hank" }, iv = { .name = "ivy" },
	    j = { .name = "jack" };
	static const enum sotto_group_change want[] = { SOTTO_CHANGE_JOINED,
	    SOTTO_CHANGE_RENAMED, SOTTO_CHANGE_ADDED, SOTTO_CHANGE_LEFT, SOTTO_CHANGE_YOU_REMOVED };
	uint8_t gid[CLIENT_GROUP_ID_LEN], other[32], other_sec[64];
	struct client_group_event ev;
	struct buf kp_h, kp_i, kp_j, commit, welcome, info;
	struct sotto_message *v = NULL;
	const uint8_t *kps[2];
	size_t lens[2], n = 0, i;

	REQUIRE(user_new(&g) == 0 && user_new(&h) == 0 && user_new(&iv) == 0 &&
	    user_new(&j) == 0);
	/* Ivy knows Hank and Jack under another key. */
	REQUIRE(sign_keypair(other, other_sec) == 0);
	REQUIRE(know(&iv, &h, 0, other) == 0 && know(&iv, &j, 0, other) == 0);
	bufs_init(&kp_h, &kp_i, &kp_j);
	bufs_init(&commit, &welcome, &info);
	REQUIRE(client_key_package_new(h.s, 0, &kp_h) == 0);
	REQUIRE(client_key_package_new(iv.s, 0, &kp_i) == 0);
	REQUIRE(client_key_package_new(j.s, 0, &kp_j) == 0);
	REQUIRE(client_group_create(g.s, "Crew", gid) == 0);
	kps[0] = kp_h.p;
	lens[0] = kp_h.len;
	kps[1] = kp_i.p;
	lens[1] = kp_i.len;
	REQUIRE(client_group_add(g.s, gid, sizeof(gid), kps, lens, 2, &commit, &welcome,
	    &info) == 0);
	REQUIRE(client_group_commit_done(g.s, gid, sizeof(gid), 1) == 0);
	/* Joined: added by Gina, with a member whose key is not Ivy's contact's. */
	REQUIRE(receive(&iv, &welcome, CLIENT_GROUP_JOINED, &ev) == 0);
	CHECK(strcmp(ev.sender, g.address) == 0);
	CHECK(ev.warnings & CLIENT_GROUP_WARN_KEY_CHANGED);
	CHECK_EQ_INT(record(&iv, &ev, 1, SOTTO_CHANGE_JOINED, g.address), 0);
	REQUIRE(receive(&h, &welcome, CLIENT_GROUP_JOINED, &ev) == 0);
	client_group_event_free(&ev);
	/* The name: a rename from none; the timer unchanged is no entry. */
	REQUIRE(receive(&iv, &info, CLIENT_GROUP_INFO, &ev) == 0);
	CHECK_EQ_INT(record(&iv, &ev, 1, SOTTO_CHANGE_RENAMED, g.address), 0);
	REQUIRE(receive(&h, &info, CLIENT_GROUP_INFO, &ev) == 0);
	client_group_event_free(&ev);
	/* Jack added: by Gina, his key flagged. */
	kps[0] = kp_j.p;
	lens[0] = kp_j.len;
	REQUIRE(client_group_add(g.s, gid, sizeof(gid), kps, lens, 1, &commit, &welcome,
	    &info) == 0);
	REQUIRE(client_group_commit_done(g.s, gid, sizeof(gid), 1) == 0);
	REQUIRE(receive(&iv, &commit, CLIENT_GROUP_COMMIT, &ev) == 0);
	CHECK(strcmp(ev.sender, g.address) == 0);
	CHECK(ev.added.n == 1 && ev.removed.n == 0 && ev.added.v[0].trust == CLIENT_MEMBER_CHANGED);
	CHECK_EQ_INT(record(&iv, &ev, 1, SOTTO_CHANGE_ADDED, g.address), 0);
	REQUIRE(receive(&h, &commit, CLIENT_GROUP_COMMIT, &ev) == 0);
	client_group_event_free(&ev);
	REQUIRE(receive(&j, &welcome, CLIENT_GROUP_JOINED, &ev) == 0);
	client_group_event_free(&ev);
	/* Gina renames and sets the timer: two entries. */
	REQUIRE(client_group_set_info(g.s, gid, sizeof(gid), "Crew2", 60, &info) == 0);
	REQUIRE(receive(&h, &info, CLIENT_GROUP_INFO, &ev) == 0);
	CHECK_EQ_INT(record(&h, &ev, 2, SOTTO_CHANGE_TIMER, g.address), 0);
	REQUIRE(receive(&iv, &info, CLIENT_GROUP_INFO, &ev) == 0);
	client_group_event_free(&ev);
	/* Jack leaves; Hank commits it: Jack left, in his own name. */
	REQUIRE(client_group_leave(j.s, gid, sizeof(gid), &welcome) == 0);
	REQUIRE(receive(&h, &welcome, CLIENT_GROUP_PROPOSAL, &ev) == 0);
	CHECK(ev.leave_request);
	client_group_event_free(&ev);
	REQUIRE(receive(&iv, &welcome, CLIENT_GROUP_PROPOSAL, &ev) == 0);
	client_group_event_free(&ev);
	REQUIRE(receive(&g, &welcome, CLIENT_GROUP_PROPOSAL, &ev) == 0);
	client_group_event_free(&ev);
	REQUIRE(client_group_commit_pending(h.s, gid, sizeof(gid), &commit) == 0);
	REQUIRE(client_group_commit_done(h.s, gid, sizeof(gid), 1) == 0);
	REQUIRE(receive(&iv, &commit, CLIENT_GROUP_COMMIT, &ev) == 0);
	CHECK(strcmp(ev.sender, h.address) == 0);
	CHECK(ev.removed.n == 1 && ev.removed.v[0].left);
	CHECK_EQ_INT(record(&iv, &ev, 1, SOTTO_CHANGE_LEFT, j.address), 0);
	REQUIRE(receive(&g, &commit, CLIENT_GROUP_COMMIT, &ev) == 0);
	CHECK(ev.removed.n == 1 && ev.removed.v[0].left);
	client_group_event_free(&ev);
	/* Gina removes Ivy: Ivy is told who did. */
	REQUIRE(client_group_remove(g.s, gid, sizeof(gid), iv.address, &commit) == 0);
	REQUIRE(client_group_commit_done(g.s, gid, sizeof(gid), 1) == 0);
	REQUIRE(receive(&iv, &commit, CLIENT_GROUP_REMOVED, &ev) == 0);
	CHECK(strcmp(ev.sender, g.address) == 0);
	CHECK_EQ_INT(record(&iv, &ev, 1, SOTTO_CHANGE_YOU_REMOVED, g.address), 0);
	REQUIRE(receive(&h, &commit, CLIENT_GROUP_COMMIT, &ev) == 0);
	CHECK(ev.removed.n == 1 && !ev.removed.v[0].left);
	CHECK_EQ_INT(record(&h, &ev, 1, SOTTO_CHANGE_REMOVED, g.address), 0);

	/* Ivy's history: each change once, in order, as the public API shows it. */
	REQUIRE(sotto_history(iv.s, NULL, 0, 100, &v, &n) == 0);
	CHECK_EQ_INT(n, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < n && i < sizeof(want) / sizeof(want[0]); i++) {
		CHECK(v[i].content == SOTTO_CONTENT_GROUP_EVENT && v[i].change == want[i]);
		CHECK(v[i].group[0] != '\0' && strcmp(v[i].group_name, "Crew2") == 0);
	}
	if (n == sizeof(want) / sizeof(want[0])) {
		CHECK(strcmp(v[0].peer, g.address) == 0);
		CHECK_EQ_INT(v[0].body_len, strlen(g.address) + strlen(h.address) +
		    strlen(iv.address) + 2);
		CHECK(v[0].flags & SOTTO_MSG_KEY_CHANGED);
		CHECK(strcmp((const char *)v[1].body, "Crew") == 0);
		CHECK(strcmp((const char *)v[2].body, j.address) == 0);
		CHECK(v[2].flags & SOTTO_MSG_KEY_CHANGED);
		CHECK(strcmp(v[3].peer, j.address) == 0);
		CHECK(strcmp((const char *)v[3].body, j.address) == 0);
		CHECK(!(v[3].flags & SOTTO_MSG_KEY_CHANGED));
		CHECK(strcmp(v[4].peer, g.address) == 0);
		CHECK_EQ_INT(v[4].body_len, 0);
	}
	sotto_history_free(v, n);
	bufs_free(&kp_h, &kp_i, &kp_j);
	bufs_free(&commit, &welcome, &info);
	sotto_close(g.s);
	sotto_close(h.s);
	sotto_close(iv.s);
	sotto_close(j.s);
}

TEST(group_note_codec)
{
	struct group_note a, d;
	struct buf b;
	size_t len;

	memset(&a, 0, sizeof(a));
	buf_init_dyn(&b, 4096);
	a.change = SOTTO_CHANGE_ADDED;
	a.expiry = 60;
	a.n = 2;
	a.names[0].p = (const uint8_t *)"bob@example.org";
	a.names[0].len = 15;
	a.names[1].p = (const uint8_t *)"carol@example.org";
	a.names[1].len = 17;
	REQUIRE(group_note_encode(&a, &b) == 0);
	REQUIRE(group_note_decode(b.p, b.len, &d) == 0);
	CHECK(d.change == SOTTO_CHANGE_ADDED && d.expiry == 60 && d.n == 2);
	CHECK(d.names[1].len == 17 && memcmp(d.names[1].p, "carol@example.org", 17) == 0);
	len = b.len;
	buf_u8(&b, 0);          /* trailing bytes */
	CHECK(group_note_decode(b.p, b.len, &d) != 0);
	CHECK_EQ_INT(group_note_decode(b.p, len - 1, &d), SOTTO_ERR_TRUNCATED);
	b.p[len - 3] = 0;       /* a NUL inside a name */
	CHECK_EQ_INT(group_note_decode(b.p, len, &d), SOTTO_ERR_MALFORMED);
	b.p[len - 3] = 'g';
	b.p[1] = SOTTO_CHANGE_LEFT + 1;     /* an unknown change */
	CHECK_EQ_INT(group_note_decode(b.p, len, &d), SOTTO_ERR_MALFORMED);
	b.p[0] = GROUP_NOTE_VERSION + 1;
	CHECK_EQ_INT(group_note_decode(b.p, len, &d), SOTTO_ERR_BAD_VERSION);
	/* What it cannot encode: no change, an empty name, too many. */
	buf_reset(&b);
	a.change = 0;
	CHECK_EQ_INT(group_note_encode(&a, &b), SOTTO_ERR_INVALID_ARG);
	a.change = SOTTO_CHANGE_ADDED;
	a.names[1].len = 0;
	CHECK_EQ_INT(group_note_encode(&a, &b), SOTTO_ERR_INVALID_ARG);
	a.names[1].len = 17;
	a.n = GROUP_NOTE_NAMES_MAX + 1;
	CHECK_EQ_INT(group_note_encode(&a, &b), SOTTO_ERR_INVALID_ARG);
	buf_free(&b);
}

/* Each change in words, cut like snprintf when the buffer is short. */
TEST(group_change_text)
{
	static const char *const two[] = { "bob@x", "carol@x" };
	struct sotto_message m;
	const char *v[4];
	char out[128], names[64];
	size_t n;

	n = sotto_group_change_text(SOTTO_CHANGE_JOINED, "alice@x", two, 2, 0, out, sizeof(out));
	CHECK(strcmp(out, "you were added by alice@x; members: bob@x, carol@x") == 0);
	CHECK_EQ_INT(n, strlen(out));
	sotto_group_change_text(SOTTO_CHANGE_ADDED, "alice@x", two, 1, 0, out, sizeof(out));
	CHECK(strcmp(out, "alice@x added bob@x") == 0);
	sotto_group_change_text(SOTTO_CHANGE_REMOVED, NULL, two + 1, 1, 0, out, sizeof(out));
	CHECK(strcmp(out, "a member removed carol@x") == 0);
	sotto_group_change_text(SOTTO_CHANGE_LEFT, "bob@x", two, 1, 0, out, sizeof(out));
	CHECK(strcmp(out, "bob@x left") == 0);
	sotto_group_change_text(SOTTO_CHANGE_TIMER, "bob@x", NULL, 0, 3600, out, sizeof(out));
	CHECK(strcmp(out, "bob@x set disappearing messages to 3600 s") == 0);
	sotto_group_change_text(SOTTO_CHANGE_TIMER, "bob@x", NULL, 0, 0, out, sizeof(out));
	CHECK(strcmp(out, "bob@x turned disappearing messages off") == 0);
	n = sotto_group_change_text(SOTTO_CHANGE_ADDED, "alice@x", two, 1, 0, out, 6);
	CHECK(strcmp(out, "alice") == 0 && n == strlen("alice@x added bob@x"));
	CHECK_EQ_INT(sotto_group_change_text(SOTTO_CHANGE_LEFT, "b", NULL, 0, 0, NULL, 0), 6);
	/* a history entry's names: one a line, a new name whole */
	memset(&m, 0, sizeof(m));
	m.body = (uint8_t *)"bob@x\ncarol@x";
	m.body_len = 13;
	m.change = SOTTO_CHANGE_JOINED;
	n = sotto_group_change_names(&m, names, sizeof(names), v, 4);
	CHECK(n == 2 && strcmp(v[0], "bob@x") == 0 && strcmp(v[1], "carol@x") == 0);
	CHECK_EQ_INT(sotto_group_change_names(&m, names, sizeof(names), v, 1), 1);
	m.change = SOTTO_CHANGE_RENAMED;
	n = sotto_group_change_names(&m, names, sizeof(names), v, 4);
	CHECK(n == 1 && strcmp(v[0], "bob@x\ncarol@x") == 0);
}

static void
rm_rf(const char *path)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", path);
}

int
main(void)
{
	int r;

	snprintf(tmp_root, sizeof(tmp_root), "/tmp/sotto-test-client-group-%d", (int)getpid());
	rm_rf(tmp_root);
	if (mkdir(tmp_root, 0700) != 0)
		return 1;
	RUN(group_lifecycle_between_four_clients);
	RUN(member_keys_are_checked_against_contacts);
	RUN(competing_commits_roll_back);
	RUN(expired_key_packages_are_pruned);
	RUN(groups_are_found_by_id_or_name);
	RUN(group_content_codec);
	RUN(group_content_file);
	RUN(changes_become_history_entries);
	RUN(group_note_codec);
	RUN(group_change_text);
	sotto_close(alice.s);
	sotto_close(bob.s);
	sotto_close(carol.s);
	sotto_close(dave.s);
	r = check_summary();
	rm_rf(tmp_root);
	return r;
}
