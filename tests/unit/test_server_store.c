#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "tmp_db.h"
#include "server/commit.h"
#include "server/log.h"
#include "server/store.h"

static char dir[TMP_DB_DIR_MAX];
static char path[TMP_DB_PATH_MAX];

static void
fresh_path(void)
{
	tmp_db_make(dir, path, "sotto-store");
}

static void
cleanup(void)
{
	tmp_db_remove(dir, path);
}

static struct store *
open_db(int create)
{
	struct store_open_opts o = { .create = create, .durability_full = 1 };
	struct store *s = NULL;

	if (store_sqlite_open(&s, path, &o) != 0)
		return NULL;
	return s;
}

static void
key(uint8_t k[32], uint8_t v)
{
	memset(k, v, 32);
}

/* A fresh database with the accounts alice (device dk) and bob (device dk2). */
static struct store *
open_alice_bob(uint8_t dk[32], uint8_t dk2[32], int64_t *alice, int64_t *bob)
{
	struct store *s;
	uint8_t ik[32];

	fresh_path();
	if ((s = open_db(1)) == NULL)
		return NULL;
	key(ik, 1), key(dk, 2), key(dk2, 3);
	if (s->ops->account_create(s, "alice", ik, dk, NULL, alice) != 0 ||
	    s->ops->account_create(s, "bob", ik, dk2, NULL, bob) != 0) {
		store_close(s);
		return NULL;
	}
	return s;
}

/* n SENDs of "hello" from device dk to recipient, client message ids cmid0, cmid0 + 1... */
static void
hello_sends(struct store_send *sd, int n, int64_t recipient, const uint8_t dk[32],
    uint8_t cmid0, uint32_t mailbox_max)
{
	memset(sd, 0, (size_t)n * sizeof(*sd));
	for (int i = 0; i < n; i++) {
		sd[i].recipient = recipient;
		memcpy(sd[i].sender_device, dk, 32);
		memset(sd[i].cmid, cmid0 + i, 16);
		sd[i].data = (const uint8_t *)"hello";
		sd[i].len = 5;
		sd[i].mailbox_max = mailbox_max;
	}
}

TEST(store_accounts_and_invites)
{
	struct store *s;
	struct store_account a;
	uint8_t ik[32], dk[32], dk2[32], tok[32], tok2[32];
	int64_t id = 0, id2 = 0;

	fresh_path();
	s = open_db(1);
	REQUIRE(s != NULL);
	key(ik, 1), key(dk, 2), key(dk2, 3), key(tok, 9), key(tok2, 10);
	CHECK_EQ_INT(s->ops->account_create(s, "alice", ik, dk, NULL, &id), 0);
	CHECK(id > 0);
	CHECK_EQ_INT(s->ops->account_create(s, "alice", ik, dk2, NULL, &id2), SOTTO_ERR_EXISTS);
	CHECK_EQ_INT(s->ops->account_create(s, "bob", ik, dk, NULL, &id2), SOTTO_ERR_EXISTS);
	CHECK_EQ_INT(s->ops->account_by_device(s, dk, &a), 0);
	CHECK(strcmp(a.name, "alice") == 0);
	CHECK_EQ_INT(a.id, id);
	CHECK_MEM(a.identity_key, ik, 32);
	CHECK_EQ_INT(s->ops->account_by_name(s, "nobody", &a), SOTTO_ERR_NOT_FOUND);

	/* An invite works once; an unknown token never. */
	CHECK_EQ_INT(s->ops->invite_add(s, tok), 0);
	CHECK_EQ_INT(s->ops->account_create(s, "bob", ik, dk2, tok2, &id2), SOTTO_ERR_AUTH);
	CHECK_EQ_INT(s->ops->account_by_name(s, "bob", &a), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(s->ops->account_create(s, "bob", ik, dk2, tok, &id2), 0);
	key(dk2, 4);
	CHECK_EQ_INT(s->ops->account_create(s, "carol", ik, dk2, tok, &id2), SOTTO_ERR_AUTH);
	/* A failed create does not burn the invite. */
	CHECK_EQ_INT(s->ops->invite_add(s, tok2), 0);
	CHECK_EQ_INT(s->ops->account_create(s, "alice", ik, dk2, tok2, &id2), SOTTO_ERR_EXISTS);
	CHECK_EQ_INT(s->ops->account_create(s, "carol", ik, dk2, tok2, &id2), 0);
	store_close(s);
	cleanup();
}

TEST(store_prekeys_handed_out_once)
{
	struct store *s;
	struct store_signed_prekey spk = { .id = 7 };
	struct store_prekey otpk[3];
	struct store_bundle b;
	uint8_t ik[32], dk[32];
	uint32_t n = 99;
	int64_t id;

	fresh_path();
	s = open_db(1);
	REQUIRE(s != NULL);
	key(ik, 1), key(dk, 2);
	REQUIRE(s->ops->account_create(s, "alice", ik, dk, NULL, &id) == 0);
	CHECK_EQ_INT(s->ops->bundle_take(s, id, &b), SOTTO_ERR_NOT_FOUND);
	memset(spk.key, 5, 32);
	memset(spk.sig, 6, 64);
	for (int i = 0; i < 3; i++) {
		otpk[i].id = 100 + (uint32_t)i;
		memset(otpk[i].key, 0x40 + i, 32);
	}
	CHECK_EQ_INT(s->ops->prekeys_put(s, id, &spk, otpk, 3, 2), SOTTO_ERR_LIMIT);
	CHECK_EQ_INT(s->ops->prekey_count(s, id, &n), 0);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(s->ops->prekeys_put(s, id, &spk, otpk, 3, 10), 0);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(s->ops->bundle_take(s, id, &b), 0);
		CHECK_EQ_INT(b.has_otpk, 1);
		CHECK_EQ_INT(b.otpk.id, 100 + i);
		CHECK_EQ_INT(b.otpk.key[0], 0x40 + i);
		CHECK_EQ_INT(b.remaining, 2 - i);
		CHECK_EQ_INT(b.spk.id, 7);
		CHECK(strcmp(b.account.name, "alice") == 0);
	}
	CHECK_EQ_INT(s->ops->bundle_take(s, id, &b), 0);
	CHECK_EQ_INT(b.has_otpk, 0);
	CHECK_EQ_INT(b.spk.sig[0], 6);
	store_close(s);
	cleanup();
}

TEST(store_envelopes_idempotent_capped_and_deleted)
{
	struct store *s;
	struct store_send sd[4];
	struct store_envelope env[8];
	struct store_del del[2];
	uint8_t dk[32], dk2[32];
	uint64_t pending = 0;
	int64_t alice, bob;
	size_t n = 0;

	REQUIRE((s = open_alice_bob(dk, dk2, &alice, &bob)) != NULL);
	hello_sends(sd, 4, bob, dk, 0, 2);
	memset(sd[1].cmid, 0, 16);      /* a duplicate of sd[0] in the same batch */
	CHECK_EQ_INT(s->ops->envelopes_commit(s, sd, 4), 0);
	CHECK_EQ_INT(sd[0].result, 0);
	CHECK_EQ_INT(sd[0].duplicate, 0);
	CHECK_EQ_INT(sd[1].result, 0);
	CHECK_EQ_INT(sd[1].duplicate, 1);
	CHECK_EQ_INT(sd[1].env_id, sd[0].env_id);
	CHECK_EQ_INT(sd[2].result, 0);
	CHECK_EQ_INT(sd[3].result, SOTTO_ERR_LIMIT);
	CHECK_EQ_INT(s->ops->mailbox_count(s, bob, &pending), 0);
	CHECK_EQ_INT(pending, 2);

	CHECK_EQ_INT(s->ops->envelopes_list(s, bob, 0, env, 8, &n), 0);
	REQUIRE(n == 2);
	CHECK_EQ_INT(env[0].id, sd[0].env_id);
	CHECK_EQ_INT(env[1].id, sd[2].env_id);
	CHECK(env[0].len == 5 && memcmp(env[0].data, "hello", 5) == 0);
	store_envelopes_free(env, n);
	CHECK_EQ_INT(s->ops->envelopes_list(s, bob, sd[0].env_id, env, 8, &n), 0);
	CHECK_EQ_INT(n, 1);
	store_envelopes_free(env, n);

	/* Alice cannot delete Bob's envelopes. */
	del[0].recipient = alice, del[0].id = sd[0].env_id;
	CHECK_EQ_INT(s->ops->envelopes_delete(s, del, 1), 0);
	CHECK_EQ_INT(s->ops->mailbox_count(s, bob, &pending), 0);
	CHECK_EQ_INT(pending, 2);
	del[0].recipient = bob;
	del[1].recipient = bob, del[1].id = sd[0].env_id;  /* twice: counted once */
	CHECK_EQ_INT(s->ops->envelopes_delete(s, del, 2), 0);
	CHECK_EQ_INT(s->ops->mailbox_count(s, bob, &pending), 0);
	CHECK_EQ_INT(pending, 1);
	/* A retry after delivery is still recognised as a duplicate, not stored again. */
	sd[0].mailbox_max = 10;
	CHECK_EQ_INT(s->ops->envelopes_commit(s, sd, 1), 0);
	CHECK_EQ_INT(sd[0].duplicate, 1);
	CHECK_EQ_INT(s->ops->mailbox_count(s, bob, &pending), 0);
	CHECK_EQ_INT(pending, 1);
	store_close(s);

	/* Reopen: everything is still there. */
	s = open_db(0);
	REQUIRE(s != NULL);
	CHECK_EQ_INT(s->ops->envelopes_list(s, bob, 0, env, 8, &n), 0);
	CHECK_EQ_INT(n, 1);
	store_envelopes_free(env, n);
	store_close(s);
	cleanup();
}

/* Idempotency records: a walk in chunks deletes the old ones; a pruned retry is new. */
TEST(store_sent_records_pruned_in_chunks)
{
	struct store *s;
	struct store_send sd[5];
	struct store_sent_key cur;
	uint8_t dk[32], dk2[32];
	int64_t alice, bob, env_id = 0;
	uint64_t pending = 0;
	size_t n = 99, total = 0;
	int done = 0, steps = 0;

	REQUIRE((s = open_alice_bob(dk, dk2, &alice, &bob)) != NULL);
	hello_sends(sd, 5, bob, dk, 0x40, 100);
	memcpy(sd[3].sender_device, dk2, 32);   /* two senders: the walk crosses between */
	memcpy(sd[4].sender_device, dk2, 32);
	CHECK_EQ_INT(s->ops->envelopes_commit(s, sd, 5), 0);
	/* None is older than a minute ago: one step of 10 walks them all, deletes none. */
	memset(&cur, 0, sizeof(cur));
	CHECK_EQ_INT(s->ops->sent_prune(s, (int64_t)time(NULL) - 60, 10, &cur, &done, &n), 0);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(done, 1);
	CHECK_EQ_INT(s->ops->sent_get(s, dk, sd[0].cmid, &env_id), 0);
	/* All are older than a minute from now: steps of two: 2, 2, 1. */
	do {
		CHECK_EQ_INT(s->ops->sent_prune(s, (int64_t)time(NULL) + 60, 2, &cur, &done, &n),
		    0);
		CHECK(n <= 2);
		total += n;
	} while (!done && ++steps < 10);
	CHECK_EQ_INT(total, 5);
	CHECK_EQ_INT(steps, 2);
	CHECK_EQ_INT(cur.set, 0);
	for (int i = 0; i < 5; i++)
		CHECK_EQ_INT(s->ops->sent_get(s, sd[i].sender_device, sd[i].cmid, &env_id),
		    SOTTO_ERR_NOT_FOUND);
	/* The envelopes themselves stay until RECEIVED. */
	CHECK_EQ_INT(s->ops->mailbox_count(s, bob, &pending), 0);
	CHECK_EQ_INT(pending, 5);
	/* A retry now is a new envelope. */
	sd[0].env_id = 0;
	CHECK_EQ_INT(s->ops->envelopes_commit(s, sd, 1), 0);
	CHECK_EQ_INT(sd[0].duplicate, 0);
	CHECK_EQ_INT(s->ops->mailbox_count(s, bob, &pending), 0);
	CHECK_EQ_INT(pending, 6);
	store_close(s);
	cleanup();
}

TEST(store_refuses_corrupt_or_missing)
{
	struct store *s;
	int fd;

	fresh_path();
	CHECK(open_db(0) == NULL);              /* missing and not asked to create */
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, "this is not a database at all, just some text........", 54) == 54);
	close(fd);
	CHECK(open_db(0) == NULL);
	CHECK(open_db(1) == NULL);
	unlink(path);
	s = open_db(1);
	REQUIRE(s != NULL);
	store_close(s);
	/* Damage the header's magic: refused, not replaced. */
	fd = open(path, O_WRONLY);
	REQUIRE(fd >= 0);
	REQUIRE(pwrite(fd, "XXXXXXXX", 8, 0) == 8);
	close(fd);
	CHECK(open_db(0) == NULL);
	cleanup();
}

struct commit_test {
	int done;
	struct commit_item *seen[8];
};

static void
on_done(void *ud, struct commit_item *it)
{
	struct commit_test *t = ud;

	t->seen[t->done++] = it;
}

TEST(commit_group_and_disk_full)
{
	struct store_open_opts o = { .create = 0, .durability_full = 1, .max_pages = 0 };
	struct commit_test t = { 0 };
	struct commit_item it[3];
	struct store_del del = { 0 };
	struct store *s, *w = NULL;
	struct commit *c = NULL;
	uint8_t ik[32], dk[32], dk2[32];
	static uint8_t big[200000];
	uv_loop_t loop;
	int64_t bob;

	fresh_path();
	s = open_db(1);
	REQUIRE(s != NULL);
	key(ik, 1), key(dk, 2), key(dk2, 3);
	REQUIRE(s->ops->account_create(s, "bob", ik, dk2, NULL, &bob) == 0);
	REQUIRE(store_sqlite_open(&w, path, &o) == 0);
	uv_loop_init(&loop);
	REQUIRE(commit_start(&c, &loop, w, on_done, &t) == 0);
	memset(it, 0, sizeof(it));
	for (int i = 0; i < 2; i++) {
		it[i].kind = COMMIT_SEND;
		it[i].send.recipient = bob;
		memcpy(it[i].send.sender_device, dk, 32);
		memset(it[i].send.cmid, i, 16);
		it[i].send.data = (const uint8_t *)"x";
		it[i].send.len = 1;
		it[i].send.mailbox_max = 10;
		commit_submit(c, &it[i]);
	}
	CHECK_EQ_INT(commit_pending(c), 2);
	while (t.done < 2)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK_EQ_INT(it[0].result, 0);
	CHECK(it[0].send.env_id > 0);
	CHECK(it[1].send.env_id > it[0].send.env_id);
	CHECK_EQ_INT(commit_pending(c), 0);
	del.recipient = bob;
	del.id = it[0].send.env_id;
	it[2].kind = COMMIT_DELETE;
	it[2].dels = &del;
	it[2].n_dels = 1;
	commit_submit(c, &it[2]);
	while (t.done < 3)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK_EQ_INT(it[2].result, 0);
	commit_stop(c);
	uv_run(&loop, UV_RUN_DEFAULT);

	/* A database at its page quota: the commit fails and reports it. */
	o.max_pages = 8;
	REQUIRE(store_sqlite_open(&w, path, &o) == 0);
	REQUIRE(commit_start(&c, &loop, w, on_done, &t) == 0);
	it[0].send.data = big;
	it[0].send.len = sizeof(big);
	memset(it[0].send.cmid, 9, 16);
	commit_submit(c, &it[0]);
	commit_stop(c);  /* stop drains: the done callback runs before it returns */
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_EQ_INT(t.done, 4);
	CHECK(it[0].result != 0);
	CHECK(it[0].send.result != 0);
	{
		uint64_t pending = 9;
		CHECK_EQ_INT(s->ops->mailbox_count(s, bob, &pending), 0);
		CHECK_EQ_INT(pending, 1);
	}
	uv_loop_close(&loop);
	store_close(s);
	cleanup();
}

int
main(void)
{
	log_set_level(LOG_ERROR - 1);
	RUN(store_accounts_and_invites);
	RUN(store_prekeys_handed_out_once);
	RUN(store_envelopes_idempotent_capped_and_deleted);
	RUN(store_sent_records_pruned_in_chunks);
	RUN(store_refuses_corrupt_or_missing);
	RUN(commit_group_and_disk_full);
	return check_summary();
}
