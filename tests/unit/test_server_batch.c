/* Group commits that touch many mailboxes at once: the per-transaction pending counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "tmp_db.h"
#include "server/log.h"
#include "server/store.h"
#include "waitfor.h"

#define N_ACCTS 300             /* more than the first index (64 entries) holds */

static char dir[TMP_DB_DIR_MAX];
static char path[TMP_DB_PATH_MAX];

static void
cleanup(void)
{
	tmp_db_remove(dir, path);
}

static struct server_store *
open_db_opts(uint32_t max_pages, int ckpt)
{
	struct store_open_opts o = { .create = 1, .durability_full = 0, .max_pages = max_pages,
	    .checkpoint_thread = ckpt };
	struct server_store *s = NULL;

	tmp_db_make(dir, path, "sotto-batch");
	if (store_sqlite_open(&s, path, &o) != 0)
		return NULL;
	return s;
}

static struct server_store *
open_db_max(uint32_t max_pages)
{
	return open_db_opts(max_pages, 0);
}

static struct server_store *
open_db(void)
{
	return open_db_max(0);
}

static long long
file_size(const char *p)
{
	struct stat sb;

	return stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
}

static int
make_accounts(struct server_store *s, int64_t *ids)
{
	uint8_t ik[32], dk[32];
	char name[32];

	for (int i = 0; i < N_ACCTS; i++) {
		memset(ik, 0, sizeof(ik));
		memset(dk, 0, sizeof(dk));
		memcpy(ik, &i, sizeof(i));
		memcpy(dk, &i, sizeof(i));
		dk[31] = 1;
		snprintf(name, sizeof(name), "u%d", i);
		if (s->ops->account_create(s, name, ik, dk, NULL, &ids[i]) != 0)
			return -1;
	}
	return 0;
}

static void
fill(struct store_send *e, int64_t rcpt, uint32_t seq, uint32_t max)
{
	static const uint8_t env[8] = "envelope";

	memset(e, 0, sizeof(*e));
	e->recipient = rcpt;
	memcpy(e->cmid, &seq, sizeof(seq));
	e->data = env;
	e->len = sizeof(env);
	e->ts = 1;
	e->mailbox_max = max;
}

/* Three SENDs to each of 300 mailboxes in one transaction, interleaved, with a cap of two:
 * the third to each is refused, and every count is right afterwards and across batches. */
TEST(batch_counts_many_mailboxes)
{
	static int64_t ids[N_ACCTS];
	static struct store_send sends[3 * N_ACCTS];
	static struct store_del dels[N_ACCTS];
	struct server_store *s = open_db();
	uint64_t n;
	uint32_t seq = 0;
	int limited = 0, stored = 0;

	REQUIRE(s != NULL);
	REQUIRE(make_accounts(s, ids) == 0);
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < N_ACCTS; i++)
			fill(&sends[round * N_ACCTS + i], ids[(i * 7 + round) % N_ACCTS], ++seq, 2);
	CHECK_EQ_INT(s->ops->envelopes_commit(s, sends, 3 * N_ACCTS), 0);
	for (int i = 0; i < 3 * N_ACCTS; i++) {
		if (sends[i].result == SOTTO_ERR_MAILBOX_FULL)
			limited++;
		else if (sends[i].result == 0 && sends[i].env_id > 0)
			stored++;
	}
	CHECK_EQ_INT(stored, 2 * N_ACCTS);
	CHECK_EQ_INT(limited, N_ACCTS);
	for (int i = 0; i < N_ACCTS; i++) {
		CHECK_EQ_INT(s->ops->mailbox_count(s, ids[i], &n), 0);
		CHECK_EQ_INT(n, 2);
	}
	/* One delete per mailbox in one transaction, then a second batch: one more fits. */
	for (int i = 0, k = 0; i < 3 * N_ACCTS && k < N_ACCTS; i++)
		if (sends[i].result == 0 && i < N_ACCTS) {
			dels[k].recipient = sends[i].recipient;
			dels[k++].id = sends[i].env_id;
		}
	CHECK_EQ_INT(s->ops->envelopes_delete(s, dels, N_ACCTS), 0);
	for (int i = 0; i < N_ACCTS; i++)
		fill(&sends[i], ids[N_ACCTS - 1 - i], ++seq, 2);
	fill(&sends[N_ACCTS], ids[0], ++seq, 2);
	CHECK_EQ_INT(s->ops->envelopes_commit(s, sends, N_ACCTS + 1), 0);
	for (int i = 0; i < N_ACCTS; i++)
		CHECK_EQ_INT(sends[i].result, 0);
	CHECK_EQ_INT(sends[N_ACCTS].result, SOTTO_ERR_MAILBOX_FULL);
	for (int i = 0; i < N_ACCTS; i++) {
		CHECK_EQ_INT(s->ops->mailbox_count(s, ids[i], &n), 0);
		CHECK_EQ_INT(n, 2);
	}
	server_store_close(s);
	cleanup();
}

/* Deletes and sends in one transaction: both take effect, counts stay right. */
TEST(apply_deletes_and_sends_together)
{
	static int64_t ids[N_ACCTS];
	static struct store_send sends[N_ACCTS];
	struct store_del del[2] = { 0 };
	struct server_store *s = open_db();
	uint64_t n;
	uint32_t seq = 0;
	int rd = -1;

	REQUIRE(s != NULL);
	REQUIRE(make_accounts(s, ids) == 0);
	fill(&sends[0], ids[1], ++seq, 3);
	fill(&sends[1], ids[1], ++seq, 3);
	REQUIRE(s->ops->envelopes_commit(s, sends, 2) == 0);
	del[0].recipient = ids[1];
	del[0].id = sends[0].env_id;
	del[1].recipient = ids[2];      /* not ids[2]'s envelope: ignored */
	del[1].id = sends[1].env_id;
	for (int i = 0; i < 3; i++)
		fill(&sends[i], ids[1], ++seq, 3);
	/* One stored, one deleted: 2 fit next to the remaining one, the third is refused. */
	CHECK_EQ_INT(s->ops->envelopes_apply(s, del, 2, sends, 3, &rd), 0);
	CHECK_EQ_INT(rd, 0);
	CHECK_EQ_INT(sends[0].result, 0);
	CHECK_EQ_INT(sends[1].result, 0);
	CHECK_EQ_INT(sends[2].result, SOTTO_ERR_MAILBOX_FULL);
	CHECK_EQ_INT(s->ops->mailbox_count(s, ids[1], &n), 0);
	CHECK_EQ_INT(n, 3);
	/* Only deletes, only sends. */
	CHECK_EQ_INT(s->ops->envelopes_apply(s, del, 1, sends, 0, &rd), 0);
	CHECK_EQ_INT(rd, 0);
	fill(&sends[0], ids[3], ++seq, 3);
	CHECK_EQ_INT(s->ops->envelopes_apply(s, del, 0, sends, 1, &rd), 0);
	CHECK_EQ_INT(sends[0].result, 0);
	CHECK_EQ_INT(s->ops->mailbox_count(s, ids[3], &n), 0);
	CHECK_EQ_INT(n, 1);
	server_store_close(s);
	cleanup();
}

/* A full database: the sends that do not fit fail, the deletes of the same group commit
 * are still applied (they are what frees space). */
TEST(apply_full_database_keeps_the_deletes)
{
	static int64_t ids[N_ACCTS];
	static struct store_send sends[40];
	static uint8_t big[60000];
	struct store_send one;
	struct store_del del = { 0 };
	struct server_store *s = open_db_max(300);
	uint64_t before, after;
	uint32_t seq = 0;
	int rd = -1, rs, full = 0;

	REQUIRE(s != NULL);
	REQUIRE(make_accounts(s, ids) == 0);
	fill(&one, ids[5], ++seq, 100000);
	REQUIRE(s->ops->envelopes_commit(s, &one, 1) == 0);
	del.recipient = ids[5];
	del.id = one.env_id;
	memset(big, 0x5a, sizeof(big));
	for (int k = 0; k < 100 && !full; k++) {
		fill(&sends[0], ids[6], ++seq, 100000);
		sends[0].data = big;
		sends[0].len = sizeof(big);
		full = s->ops->envelopes_commit(s, sends, 1) != 0;
	}
	REQUIRE(full);
	CHECK_EQ_INT(s->ops->mailbox_count(s, ids[5], &before), 0);
	CHECK_EQ_INT(before, 1);
	for (int i = 0; i < 40; i++) {
		fill(&sends[i], ids[7], ++seq, 100000);
		sends[i].data = big;
		sends[i].len = sizeof(big);
	}
	rs = s->ops->envelopes_apply(s, &del, 1, sends, 40, &rd);
	CHECK(rs != 0);
	CHECK_EQ_INT(rd, 0);
	for (int i = 0; i < 40; i++)
		CHECK(sends[i].result != 0 && sends[i].env_id == 0);
	CHECK_EQ_INT(s->ops->mailbox_count(s, ids[5], &after), 0);
	CHECK_EQ_INT(after, 0);
	CHECK_EQ_INT(s->ops->mailbox_count(s, ids[7], &after), 0);
	CHECK_EQ_INT(after, 0);
	server_store_close(s);
	cleanup();
}

struct grow_wait {
	long long want, size;
};

static int
db_grew(void *arg)
{
	struct grow_wait *w = arg;

	w->size = file_size(path);
	return w->size >= w->want;
}

/* With the checkpoint thread, a long WAL is copied into the database file without any
 * commit doing it, and everything committed reads back after a reopen. */
TEST(checkpoint_thread_copies_the_wal)
{
	static int64_t ids[N_ACCTS];
	static struct store_send sends[16];
	static uint8_t big[30000];
	struct store_open_opts o = { .durability_full = 1 };
	struct server_store *s = open_db_opts(0, 1);
	struct grow_wait g;
	uint64_t n;
	uint32_t seq = 0;

	REQUIRE(s != NULL);
	REQUIRE(make_accounts(s, ids) == 0);
	g.want = file_size(path) + (4ll << 20);
	memset(big, 0x33, sizeof(big));
	/* 20 x 16 x 30 kB: about 2,400 WAL pages, past the checkpoint mark (1,000). */
	for (int k = 0; k < 20; k++) {
		for (int i = 0; i < 16; i++) {
			fill(&sends[i], ids[i], ++seq, 100000);
			sends[i].data = big;
			sends[i].len = sizeof(big);
		}
		REQUIRE(s->ops->envelopes_commit(s, sends, 16) == 0);
	}
	CHECK(wait_until(db_grew, &g, 5000));
	server_store_close(s);
	REQUIRE(store_sqlite_open(&s, path, &o) == 0);
	for (int i = 0; i < 16; i++) {
		CHECK_EQ_INT(s->ops->mailbox_count(s, ids[i], &n), 0);
		CHECK_EQ_INT(n, 20);
	}
	server_store_close(s);
	cleanup();
}

int
main(void)
{
	log_set_level(LOG_ERROR);
	RUN(batch_counts_many_mailboxes);
	RUN(apply_deletes_and_sends_together);
	RUN(apply_full_database_keeps_the_deletes);
	RUN(checkpoint_thread_copies_the_wal);
	return check_summary();
}
