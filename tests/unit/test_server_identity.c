/*
 * The server store's side of issue 18's identity items: an account reset (its mailbox and
 * keys gone, its name kept for the new device's invite) and the login generations that
 * tell a device's store from a copy of it.
 */
#include <string.h>

#include "check.h"
#include "tmp_db.h"
#include "server/store.h"

static char dir[TMP_DB_DIR_MAX];
static char path[TMP_DB_PATH_MAX];

static struct server_store *
fresh_db(void)
{
	struct store_open_opts o = { .create = 1, .durability_full = 0 };
	struct server_store *s = NULL;

	tmp_db_make(dir, path, "sotto-identity");
	if (store_sqlite_open(&s, path, &o) != 0)
		return NULL;
	return s;
}

static void
key(uint8_t k[32], uint8_t v)
{
	memset(k, v, 32);
}

struct names {
	char v[4][STORE_NAME_MAX + 1];
	int64_t id[4];
	size_t n;
};

static int
collect(void *arg, const struct store_account_info *a)
{
	struct names *l = arg;

	if (l->n < 4) {
		memcpy(l->v[l->n], a->name, sizeof(a->name));
		l->id[l->n++] = a->id;
	}
	return 0;
}

TEST(reset_drops_mailbox_and_reserves_name)
{
	struct server_store *s;
	struct store_account a;
	struct store_send sd;
	struct store_envelope env[2];
	struct names l = { 0 };
	uint8_t ik[32], ik2[32], dk[32], dk2[32], dk3[32], tok[32], tok2[32];
	uint64_t dropped = 9;
	int64_t alice = 0, bob = 0, bob2 = 0, other = 0;
	size_t n = 9;

	REQUIRE((s = fresh_db()) != NULL);
	key(ik, 1), key(ik2, 5), key(dk, 2), key(dk2, 3), key(dk3, 4), key(tok, 9), key(tok2, 10);
	REQUIRE(s->ops->account_create(s, "alice", ik, dk, NULL, &alice) == 0);
	REQUIRE(s->ops->account_create(s, "bob", ik, dk2, NULL, &bob) == 0);
	memset(&sd, 0, sizeof(sd));
	sd.recipient = bob;
	memset(sd.cmid, 7, sizeof(sd.cmid));
	sd.data = (const uint8_t *)"sealed to the old key";
	sd.len = 21;
	sd.mailbox_max = 10;
	REQUIRE(s->ops->envelopes_commit(s, &sd, 1) == 0 && sd.result == 0);

	CHECK_EQ_INT(s->ops->account_reset(s, "nobody", tok, 0, &dropped), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(s->ops->account_reset(s, "bob", tok, 0, &dropped), 0);
	CHECK_EQ_INT(dropped, 1);
	CHECK_EQ_INT(s->ops->account_by_name(s, "bob", &a), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(s->ops->account_by_device(s, dk2, &a), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(s->ops->envelopes_list(s, bob, 0, env, 2, &n), 0);
	CHECK_EQ_INT(n, 0);
	/* As after a RECEIVED: the idempotency record is gone. */
	CHECK_EQ_INT(s->ops->sent_get(s, bob, sd.cmid, &other), SOTTO_ERR_NOT_FOUND);
	REQUIRE(s->ops->account_create(s, "carol", ik, dk3, NULL, &other) == 0);
	sd.recipient = other;
	sd.env_id = 0;
	sd.duplicate = 0;
	memset(sd.cmid, 8, sizeof(sd.cmid));
	CHECK_EQ_INT(s->ops->envelopes_commit(s, &sd, 1), 0);
	CHECK_EQ_INT(sd.result, 0);
	CHECK_EQ_INT(s->ops->account_reset(s, "carol", NULL, 0, &dropped), 0);
	CHECK_EQ_INT(s->ops->accounts_list(s, collect, &l), 0);
	CHECK_EQ_INT(l.n, 2);   /* carol deleted: not listed */
	CHECK(strcmp(l.v[0], "alice") == 0 && l.id[0] == alice);
	CHECK(strcmp(l.v[1], "bob") == 0 && l.id[1] == 0);     /* reserved, not registered */

	/* The name takes only its own invite, with or without one for anyone... */
	CHECK_EQ_INT(s->ops->account_create(s, "bob", ik2, dk3, NULL, &bob2), SOTTO_ERR_AUTH);
	CHECK_EQ_INT(s->ops->invite_add(s, tok2, 0, 1), 0);
	CHECK_EQ_INT(s->ops->account_create(s, "bob", ik2, dk3, tok2, &bob2), SOTTO_ERR_AUTH);
	/* ...and that invite registers no other name. */
	CHECK_EQ_INT(s->ops->account_create(s, "mallory", ik2, dk3, tok, &other),
	    SOTTO_ERR_AUTH);
	/* A second reset replaces the reservation's invite. */
	CHECK_EQ_INT(s->ops->account_reset(s, "bob", tok2, 0, &dropped), SOTTO_ERR_EXISTS);
	key(tok2, 11);
	CHECK_EQ_INT(s->ops->account_reset(s, "bob", tok2, 0, &dropped), 0);
	CHECK_EQ_INT(dropped, 0);
	CHECK_EQ_INT(s->ops->account_create(s, "bob", ik2, dk3, tok, &bob2),
	    SOTTO_ERR_INVITE_UNKNOWN);
	CHECK_EQ_INT(s->ops->account_create(s, "bob", ik2, dk3, tok2, &bob2), 0);
	CHECK(bob2 != bob);
	CHECK_EQ_INT(s->ops->account_by_name(s, "bob", &a), 0);
	CHECK_MEM(a.identity_key, ik2, 32);
	/* Used (and kept as used): the name is an ordinary account again. */
	CHECK_EQ_INT(s->ops->account_create(s, "bob", ik2, dk3, tok2, &bob2),
	    SOTTO_ERR_INVITE_USED);

	/* delete: gone, and the name free for anyone. */
	CHECK_EQ_INT(s->ops->account_reset(s, "alice", NULL, 0, &dropped), 0);
	CHECK_EQ_INT(s->ops->account_create(s, "alice", ik2, dk, NULL, &other), 0);
	CHECK(other != alice);
	server_store_close(s);
	tmp_db_remove(dir, path);
}

/* One LOGIN of account presenting gen: its result, and the next generation in *next. */
static int
login(struct server_store *s, int64_t account, uint64_t gen, uint64_t *next)
{
	struct store_login l = { .account = account, .presented = gen };
	int r = s->ops->logins_commit(s, &l, 1);

	if (r != 0)
		return r;
	if (next != NULL)
		*next = l.next;
	return l.result;
}

TEST(login_generations_refuse_the_copy_that_comes_back)
{
	struct server_store *s;
	struct store_login two[2];
	uint8_t ik[32], dk[32];
	uint64_t a = 0, b = 0, a2 = 0, c = 0, d = 0, dropped;
	int64_t id = 0;

	REQUIRE((s = fresh_db()) != NULL);
	key(ik, 1), key(dk, 2);
	REQUIRE(s->ops->account_create(s, "bob", ik, dk, NULL, &id) == 0);
	/* A device that holds none yet, and its first logins. */
	CHECK_EQ_INT(login(s, id, 0, &a), 0);
	CHECK(a > 0);
	CHECK_EQ_INT(login(s, id, a, &a2), 0);
	CHECK(a2 > a);

	/* The store is copied now (both hold a2). The original logs in, stores the new
	 * generation, logs in again: the copy's a2 is revoked. */
	CHECK_EQ_INT(login(s, id, a2, &b), 0);
	CHECK_EQ_INT(login(s, id, b, &c), 0);
	CHECK_EQ_INT(login(s, id, a2, NULL), SOTTO_ERR_DEVICE_CLONED);
	CHECK_EQ_INT(login(s, id, 0, NULL), SOTTO_ERR_DEVICE_CLONED);  /* an older backup */
	CHECK_EQ_INT(login(s, id, c, &d), 0);

	/* A copy that comes back after one login of the other is taken once; then whichever
	 * logs in next goes on, and the other is refused. */
	CHECK_EQ_INT(login(s, id, d, &a), 0);          /* the original: d -> a */
	CHECK_EQ_INT(login(s, id, d, &b), 0);          /* the copy, still at d: taken */
	CHECK_EQ_INT(login(s, id, a, &c), 0);          /* the original proves a */
	CHECK_EQ_INT(login(s, id, b, NULL), SOTTO_ERR_DEVICE_CLONED);   /* the copy */

	/* The original holds c; it logs in and crashes before it stores d: it comes back
	 * with c, still taken, and goes on with what it gets then. */
	CHECK_EQ_INT(login(s, id, c, &d), 0);
	CHECK_EQ_INT(login(s, id, c, &a), 0);
	CHECK_EQ_INT(login(s, id, a, &b), 0);
	/* d (never stored) is revoked by then. */
	CHECK_EQ_INT(login(s, id, d, NULL), SOTTO_ERR_DEVICE_CLONED);

	/* Two processes on one store log in at once with b: both answers are valid, and
	 * whichever one the store kept works next. */
	memset(two, 0, sizeof(two));
	two[0].account = two[1].account = id;
	two[0].presented = two[1].presented = b;
	CHECK_EQ_INT(s->ops->logins_commit(s, two, 2), 0);
	CHECK_EQ_INT(two[0].result, 0);
	CHECK_EQ_INT(two[1].result, 0);
	CHECK(two[0].next != two[1].next);
	CHECK_EQ_INT(login(s, id, two[0].next, &c), 0);

	/* A server database restored from a backup knows less than the device: a
	 * generation beyond any it issued is taken, not a lockout. */
	CHECK_EQ_INT(login(s, id, c + 1000, &d), 0);
	CHECK(d > c + 1000);
	CHECK_EQ_INT(login(s, id, c, NULL), SOTTO_ERR_DEVICE_CLONED);

	/* A reset forgets them: the new device starts from none. */
	CHECK_EQ_INT(s->ops->account_reset(s, "bob", NULL, 0, &dropped), 0);
	CHECK_EQ_INT(s->ops->account_create(s, "bob", ik, dk, NULL, &id), 0);
	CHECK_EQ_INT(login(s, id, 0, &a), 0);
	server_store_close(s);
	tmp_db_remove(dir, path);
}

int
main(void)
{
	RUN(reset_drops_mailbox_and_reserves_name);
	RUN(login_generations_refuse_the_copy_that_comes_back);
	return check_summary();
}
