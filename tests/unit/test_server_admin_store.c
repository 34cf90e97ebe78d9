/*
 * The store operations behind the administrator's commands (issue 17): the counts of
 * `sottod status`, the online backup of `sottod backup`, and the domain a database serves.
 * Written against the store interface, for every backend that implements them.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tmp_db.h"
#include "server/log.h"
#include "server/store.h"

static char dir[TMP_DB_DIR_MAX];
static char path[TMP_DB_PATH_MAX];

static int64_t
join(struct server_store *s, const char *name, uint8_t dk_byte)
{
	uint8_t ik[32], dk[32];
	int64_t id = 0;

	memset(ik, 1, sizeof(ik));
	memset(dk, dk_byte, sizeof(dk));
	return s->ops->account_create(s, name, ik, dk, NULL, &id) == 0 ? id : -1;
}

/* n envelopes of len bytes from device dk_byte to recipient. */
static int
send_some(struct server_store *s, int64_t recipient, uint8_t dk_byte, int n, size_t len)
{
	static const uint8_t data[256];
	struct store_send sd[8];

	if (n > 8 || len > sizeof(data))
		return -1;
	memset(sd, 0, sizeof(sd));
	for (int i = 0; i < n; i++) {
		sd[i].recipient = recipient;
		memset(sd[i].cmid, 0x40 + i, 16);
		sd[i].cmid[0] = dk_byte;
		sd[i].data = data;
		sd[i].len = len;
		sd[i].mailbox_max = 100;
	}
	return s->ops->envelopes_commit(s, sd, (size_t)n);
}

TEST(admin_store_stats_count_accounts_and_waiting_envelopes)
{
	struct store_stats st;
	struct server_store *s;
	int64_t alice, bob;

	tmp_db_make(dir, path, "sotto-admin");
	REQUIRE((s = tmp_db_store_open(path, 1)) != NULL);
	CHECK_EQ_INT(s->ops->stats(s, &st), 0);
	CHECK(st.accounts == 0 && st.envelopes == 0 && st.envelope_bytes == 0);
	CHECK(st.pages > 0 && st.page_size >= 512 && st.free_pages <= st.pages);
	REQUIRE((alice = join(s, "alice", 2)) > 0);
	REQUIRE((bob = join(s, "bob", 3)) > 0);
	CHECK_EQ_INT(send_some(s, bob, 2, 3, 100), 0);
	CHECK_EQ_INT(send_some(s, alice, 3, 1, 40), 0);
	CHECK_EQ_INT(s->ops->stats(s, &st), 0);
	CHECK_EQ_INT(st.accounts, 2);
	CHECK_EQ_INT(st.envelopes, 4);
	CHECK_EQ_INT(st.envelope_bytes, 340);
	server_store_close(s);
	tmp_db_remove(dir, path);
}

TEST(admin_store_backup_is_a_whole_database)
{
	char copy[TMP_DB_PATH_MAX + 16];
	struct store_stats st;
	struct store_account a;
	struct server_store *s, *c;
	int64_t bob;

	tmp_db_make(dir, path, "sotto-admin");
	REQUIRE((s = tmp_db_store_open(path, 1)) != NULL);
	REQUIRE(join(s, "alice", 2) > 0);
	REQUIRE((bob = join(s, "bob", 3)) > 0);
	CHECK_EQ_INT(send_some(s, bob, 2, 2, 10), 0);
	snprintf(copy, sizeof(copy), "%s/copy.db", dir);
	CHECK_EQ_INT(s->ops->backup(s, copy), 0);
	/* Not over an existing file. */
	CHECK_EQ_INT(s->ops->backup(s, copy), SOTTO_ERR_EXISTS);
	/* What the source gets afterwards is not in the copy. */
	CHECK_EQ_INT(send_some(s, bob, 4, 1, 10), 0);
	REQUIRE((c = tmp_db_store_open(copy, 0)) != NULL);
	CHECK_EQ_INT(c->ops->stats(c, &st), 0);
	CHECK_EQ_INT(st.accounts, 2);
	CHECK_EQ_INT(st.envelopes, 2);
	CHECK_EQ_INT(c->ops->account_by_name(c, "alice", &a), 0);
	server_store_close(c);
	server_store_close(s);
	unlink(copy);
	snprintf(copy, sizeof(copy), "%s/copy.db-wal", dir);
	unlink(copy);
	snprintf(copy, sizeof(copy), "%s/copy.db-shm", dir);
	unlink(copy);
	tmp_db_remove(dir, path);
}

TEST(admin_store_domain_recorded_once)
{
	char rec[STORE_DOMAIN_MAX + 1];
	struct server_store *s;

	tmp_db_make(dir, path, "sotto-admin");
	REQUIRE((s = tmp_db_store_open(path, 1)) != NULL);
	CHECK_EQ_INT(s->ops->domain_claim(s, "chat.example", rec), 0);
	CHECK(strcmp(rec, "chat.example") == 0);
	CHECK_EQ_INT(s->ops->domain_claim(s, "chat.example", rec), 0);
	CHECK_EQ_INT(s->ops->domain_claim(s, "other.example", rec), SOTTO_ERR_OTHER_DOMAIN);
	CHECK(strcmp(rec, "chat.example") == 0);
	server_store_close(s);
	/* Kept across opens; a name of digits stays itself in meta's integer column. */
	REQUIRE((s = tmp_db_store_open(path, 0)) != NULL);
	CHECK_EQ_INT(s->ops->domain_claim(s, "other.example", rec), SOTTO_ERR_OTHER_DOMAIN);
	server_store_close(s);
	tmp_db_remove(dir, path);
	tmp_db_make(dir, path, "sotto-admin");
	REQUIRE((s = tmp_db_store_open(path, 1)) != NULL);
	CHECK_EQ_INT(s->ops->domain_claim(s, "007", rec), 0);
	CHECK_EQ_INT(s->ops->domain_claim(s, "007", rec), 0);
	CHECK_EQ_INT(s->ops->domain_claim(s, "7", rec), SOTTO_ERR_OTHER_DOMAIN);
	CHECK(strcmp(rec, "007") == 0);
	server_store_close(s);
	tmp_db_remove(dir, path);
}

int
main(void)
{
	log_set_level(LOG_ERROR - 1);
	RUN(admin_store_stats_count_accounts_and_waiting_envelopes);
	RUN(admin_store_backup_is_a_whole_database);
	RUN(admin_store_domain_recorded_once);
	return check_summary();
}
