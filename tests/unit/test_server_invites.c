/*
 * Invites in the store (issue 17): a lifetime, a number of registrations, revocation by
 * the id shown in lists or by the token's hash, and the migration of older schemas' invites.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "check.h"
#include "tmp_db.h"
#include "server/log.h"
#include "server/admin.h"
#include "server/store.h"

static char dir[TMP_DB_DIR_MAX];
static char path[TMP_DB_PATH_MAX];

static struct server_store *
open_db(int create)
{
	return tmp_db_store_open(path, create);
}

/* Registers name with a device key made of byte dk, with the invite of hash tok. */
static int
join(struct server_store *s, const char *name, uint8_t dk_byte, const uint8_t tok[32])
{
	uint8_t ik[32], dk[32];
	int64_t id;

	memset(ik, 1, sizeof(ik));
	memset(dk, dk_byte, sizeof(dk));
	return s->ops->account_create(s, name, ik, dk, tok, &id);
}

struct collected {
	struct store_invite_info v[8];
	size_t n;
};

static int
collect(void *arg, const struct store_invite_info *in)
{
	struct collected *c = arg;

	if (c->n < 8)
		c->v[c->n++] = *in;
	return 0;
}

static const struct store_invite_info *
find(const struct collected *c, const uint8_t tok[32])
{
	for (size_t i = 0; i < c->n; i++)
		if (memcmp(c->v[i].id, tok, STORE_INVITE_ID_LEN) == 0)
			return &c->v[i];
	return NULL;
}

TEST(invites_expire_count_uses_and_revoke)
{
	uint8_t once[32], thrice[32], old[32], revoked[32], never[32];
	int64_t now = (int64_t)time(NULL);
	struct collected c = { .n = 0 };
	const struct store_invite_info *in;
	struct server_store *s;

	tmp_db_make(dir, path, "sotto-invites");
	REQUIRE((s = open_db(1)) != NULL);
	memset(once, 0x10, 32);
	memset(thrice, 0x20, 32);
	memset(old, 0x30, 32);
	memset(revoked, 0x40, 32);
	memset(never, 0x50, 32);
	CHECK_EQ_INT(s->ops->invite_add(s, once, now + 3600, 1), 0);
	CHECK_EQ_INT(s->ops->invite_add(s, thrice, now + 3600, 3), 0);
	CHECK_EQ_INT(s->ops->invite_add(s, old, now - 1, 5), 0);
	CHECK_EQ_INT(s->ops->invite_add(s, revoked, now + 3600, 2), 0);
	CHECK_EQ_INT(s->ops->invite_add(s, never, 0, 1), 0);

	CHECK_EQ_INT(join(s, "a1", 1, once), 0);
	CHECK_EQ_INT(join(s, "a2", 2, once), SOTTO_ERR_INVITE_USED);
	CHECK_EQ_INT(join(s, "b1", 3, thrice), 0);
	CHECK_EQ_INT(join(s, "b2", 4, thrice), 0);
	CHECK_EQ_INT(join(s, "b3", 5, thrice), 0);
	CHECK_EQ_INT(join(s, "b4", 6, thrice), SOTTO_ERR_INVITE_USED);
	CHECK_EQ_INT(join(s, "c1", 7, old), SOTTO_ERR_INVITE_EXPIRED);
	/* Revoked by the id a list shows (the hash's first bytes), then by the whole hash. */
	CHECK_EQ_INT(s->ops->invite_revoke(s, revoked, STORE_INVITE_ID_LEN, now), 0);
	CHECK_EQ_INT(s->ops->invite_revoke(s, revoked, 32, now), 0);
	CHECK_EQ_INT(join(s, "d1", 8, revoked), SOTTO_ERR_INVITE_EXPIRED);
	CHECK_EQ_INT(join(s, "e1", 9, never), 0);
	{
		uint8_t none[32];
		memset(none, 0x99, 32);
		CHECK_EQ_INT(s->ops->invite_revoke(s, none, STORE_INVITE_ID_LEN, now),
		    SOTTO_ERR_NOT_FOUND);
		CHECK_EQ_INT(join(s, "f1", 10, none), SOTTO_ERR_INVITE_UNKNOWN);
	}
	/* A failed registration consumed nothing: no such account exists. */
	{
		struct store_account a;
		CHECK_EQ_INT(s->ops->account_by_name(s, "b4", &a), SOTTO_ERR_NOT_FOUND);
		CHECK_EQ_INT(s->ops->account_by_name(s, "d1", &a), SOTTO_ERR_NOT_FOUND);
	}

	CHECK_EQ_INT(s->ops->invites_list(s, collect, &c), 0);
	CHECK_EQ_INT(c.n, 5);
	REQUIRE((in = find(&c, once)) != NULL);
	CHECK_EQ_INT(in->uses, 0);
	CHECK(in->used >= now && in->expires == now + 3600 && in->revoked == 0);
	REQUIRE((in = find(&c, thrice)) != NULL);
	CHECK_EQ_INT(in->uses, 0);
	REQUIRE((in = find(&c, old)) != NULL);
	CHECK_EQ_INT(in->uses, 5);
	CHECK_EQ_INT(in->used, 0);
	REQUIRE((in = find(&c, revoked)) != NULL);
	CHECK_EQ_INT(in->revoked, now);
	CHECK_EQ_INT(in->uses, 2);
	REQUIRE((in = find(&c, never)) != NULL);
	CHECK_EQ_INT(in->expires, 0);
	CHECK(in->name[0] == '\0');
	server_store_close(s);
	tmp_db_remove(dir, path);
}

/* Two invites whose ids are equal: revoking by that id names neither; by hash works. */
TEST(invites_revoke_ambiguous_id_refused)
{
	uint8_t a[32], b[32];
	int64_t now = (int64_t)time(NULL);
	struct server_store *s;

	tmp_db_make(dir, path, "sotto-invites");
	REQUIRE((s = open_db(1)) != NULL);
	memset(a, 0x61, 32);
	memcpy(b, a, 32);
	b[31] = 0x62;
	CHECK_EQ_INT(s->ops->invite_add(s, a, 0, 1), 0);
	CHECK_EQ_INT(s->ops->invite_add(s, b, 0, 1), 0);
	CHECK_EQ_INT(s->ops->invite_revoke(s, a, STORE_INVITE_ID_LEN, now), SOTTO_ERR_EXISTS);
	CHECK_EQ_INT(join(s, "x", 1, a), 0);
	CHECK_EQ_INT(s->ops->invite_revoke(s, b, 32, now), 0);
	CHECK_EQ_INT(join(s, "y", 2, b), SOTTO_ERR_INVITE_EXPIRED);
	server_store_close(s);
	tmp_db_remove(dir, path);
}

/* A reset's invite keeps its name reserved and follows the same lifetime rules. */
TEST(invites_reset_name_expires_and_stays_reserved)
{
	uint8_t tok[32], tok2[32];
	int64_t now = (int64_t)time(NULL);
	uint64_t dropped = 0;
	struct server_store *s;

	tmp_db_make(dir, path, "sotto-invites");
	REQUIRE((s = open_db(1)) != NULL);
	CHECK_EQ_INT(join(s, "bob", 1, NULL), 0);
	memset(tok, 0x71, 32);
	CHECK_EQ_INT(s->ops->account_reset(s, "bob", tok, now - 1, &dropped), 0);
	CHECK_EQ_INT(join(s, "bob", 2, tok), SOTTO_ERR_INVITE_EXPIRED);
	/* Expired, the invite still reserves the name. */
	CHECK_EQ_INT(join(s, "bob", 3, NULL), SOTTO_ERR_AUTH);
	memset(tok2, 0x72, 32);
	CHECK_EQ_INT(s->ops->account_reset(s, "bob", tok2, now + 60, &dropped), 0);
	CHECK_EQ_INT(join(s, "bob", 4, tok2), 0);
	server_store_close(s);
	tmp_db_remove(dir, path);
}

/* Schema 8: an invite used before keeps being used; an unused one gets the default
 * lifetime from the migration on, and one use. */
TEST(invites_migrate_schema_8)
{
	uint8_t used[32], unused[32];
	int64_t now = (int64_t)time(NULL);
	struct collected c = { .n = 0 };
	const struct store_invite_info *in;
	struct server_store *s;
	sqlite3 *db;

	tmp_db_make(dir, path, "sotto-invites");
	REQUIRE((s = open_db(1)) != NULL);
	server_store_close(s);
	/* Back to schema 8's invites table (the schema before invites expire). */
	REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
	REQUIRE(sqlite3_exec(db, "DROP TABLE invites;"
	    "CREATE TABLE invites(token_hash BLOB PRIMARY KEY, created INTEGER NOT NULL,"
	    " used INTEGER NOT NULL DEFAULT 0, name TEXT);"
	    "INSERT INTO invites VALUES (zeroblob(32), 1000, 2000, NULL);"
	    "INSERT INTO invites VALUES (x'ff"
	    "00000000000000000000000000000000000000000000000000000000000000', 1000, 0, NULL);"
	    /* and schema 8's sender-keyed records and sender columns (schema 10, 11) */
	    "DROP TABLE sent;"
	    "CREATE TABLE sent(cmid BLOB NOT NULL, sender BLOB NOT NULL,"
	    " env_id INTEGER NOT NULL, created INTEGER NOT NULL,"
	    " PRIMARY KEY(cmid, sender)) WITHOUT ROWID;"
	    "ALTER TABLE envelopes DROP COLUMN idem;"
	    "ALTER TABLE envelopes ADD COLUMN sender INTEGER NOT NULL DEFAULT 0;"
	    "ALTER TABLE envelopes ADD COLUMN sender_dev BLOB;"
	    "ALTER TABLE envelopes ADD COLUMN cmid BLOB;"
	    "ALTER TABLE accounts DROP COLUMN delivery;"
	    "ALTER TABLE accounts ADD COLUMN out_count INTEGER NOT NULL DEFAULT 0;"
	    "ALTER TABLE accounts ADD COLUMN out_bytes INTEGER NOT NULL DEFAULT 0;"
	    /* and without schema 12's group token verifiers */
	    "ALTER TABLE groups DROP COLUMN verifier;"
	    "ALTER TABLE groups DROP COLUMN prev_verifier;"
	    "UPDATE meta SET v = 8 WHERE k = 'schema';", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	REQUIRE((s = open_db(0)) != NULL);
	memset(used, 0, 32);
	memset(unused, 0, 32);
	unused[0] = 0xff;
	CHECK_EQ_INT(s->ops->invites_list(s, collect, &c), 0);
	CHECK_EQ_INT(c.n, 2);
	REQUIRE((in = find(&c, unused)) != NULL);
	CHECK_EQ_INT(in->uses, 1);
	CHECK(in->expires >= now + STORE_INVITE_LIFETIME_DEFAULT &&
	    in->expires <= (int64_t)time(NULL) + STORE_INVITE_LIFETIME_DEFAULT);
	REQUIRE((in = find(&c, used)) != NULL);
	CHECK_EQ_INT(in->uses, 0);
	CHECK_EQ_INT(join(s, "u", 1, used), SOTTO_ERR_INVITE_USED);
	CHECK_EQ_INT(join(s, "v", 2, unused), 0);
	CHECK_EQ_INT(join(s, "w", 3, unused), SOTTO_ERR_INVITE_USED);
	server_store_close(s);
	tmp_db_remove(dir, path);
}

/* A token never begins with '-', which a command line would take for an option: 2,000
 * draws (each began with '-' one time in 64 before). */
static void
invite_tokens_never_begin_with_a_dash(void)
{
	char token[INVITE_TOKEN_SIZE];
	uint8_t hash[STORE_TOKEN_HASH_LEN];

	for (int i = 0; i < 2000; i++) {
		admin_invite_make(token, hash);
		CHECK(token[0] != '-');
		CHECK(strlen(token) == INVITE_TOKEN_SIZE - 1);
	}
}

int
main(void)
{
	log_set_level(LOG_ERROR - 1);
	RUN(invites_expire_count_uses_and_revoke);
	RUN(invites_revoke_ambiguous_id_refused);
	RUN(invites_reset_name_expires_and_stays_reserved);
	RUN(invites_migrate_schema_8);
	RUN(invite_tokens_never_begin_with_a_dash);
	return check_summary();
}
