/*
 * The mail store over the client's encrypted store: the same behaviour as the in-memory
 * one, and what IMAP clients rely on across restarts (UIDVALIDITY, UIDs never reused,
 * flags) after closing and reopening the store file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "client/store.h"
#include "mail/mailstore_store.h"
#include "check.h"
#include "mailstore_contract.h"

#define PASS "mailstore test passphrase"

static char dir[64];
static int
reopen(struct mailstore *ms)
{
	struct store *st;

	if (store_open(dir, (const uint8_t *)PASS, strlen(PASS), &st) != 0)
		return -1;
	if (mailstore_store_open(ms, st, 1) != 0) {
		store_close(st);
		return -1;
	}
	return 0;
}

static void
cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

TEST(mailstore_store_like_mem)
{
	struct mailstore ms;
	struct store *s;

	REQUIRE(store_create(dir, (const uint8_t *)PASS, strlen(PASS), STORE_KDF_TEST_MIN,
	    &s) == 0);
	REQUIRE(mailstore_store_open(&ms, s, 1) == 0);
	mailstore_contract_basics(&ms);
	mailstore_destroy(&ms);
}

/* Expunge removes exactly the named UIDs, even when others carry \Deleted. */
TEST(mailstore_store_expunge_named_only)
{
	struct mailstore ms;
	struct mailstore_msg *list;
	uint32_t uid, named[2] = { 5, 77 };
	size_t n, i;

	REQUIRE(reopen(&ms) == 0);
	for (i = 0; i < 3; i++)
		REQUIRE(ms.ops->append(ms.impl, "Drafts", (const uint8_t *)"d", 1,
		    MAILSTORE_DELETED | MAILSTORE_DRAFT, 40, &uid) == 0);
	/* Drafts: 1, 2, 3 all \Deleted; expunge 2 only (77 does not exist) */
	named[0] = 2;
	CHECK(ms.ops->expunge(ms.impl, "Drafts", named, 2) == 0);
	REQUIRE(ms.ops->list(ms.impl, "Drafts", &list, &n) == 0);
	CHECK(n == 2 && list[0].uid == 1 && list[1].uid == 3);
	CHECK(n == 2 && list[0].flags == (MAILSTORE_DELETED | MAILSTORE_DRAFT) &&
	    list[1].flags == (MAILSTORE_DELETED | MAILSTORE_DRAFT));
	free(list);
	mailstore_destroy(&ms);
}

TEST(mailstore_store_survives_reopen)
{
	struct mailstore ms;
	struct mailstore_status before[4], after;
	struct mailstore_msg *list;
	static const char *names[4] = { "INBOX", "Sent", "Drafts", "Trash" };
	uint8_t *data, *v;
	uint32_t uid;
	size_t n, i;

	REQUIRE(reopen(&ms) == 0);
	for (i = 0; i < 4; i++)
		REQUIRE(ms.ops->status(ms.impl, names[i], &before[i]) == 0);
	CHECK(before[0].uidvalidity != before[1].uidvalidity);
	CHECK(mailstore_store_deliver(&ms, "INBOX", (const uint8_t *)"filed", 5, 0, 50,
	    "bridge.test", (const uint8_t *)"mark", 4, &uid) == 0 && uid == 4);
	mailstore_destroy(&ms);

	REQUIRE(reopen(&ms) == 0);
	for (i = 0; i < 4; i++) {
		CHECK(ms.ops->status(ms.impl, names[i], &after) == 0);
		CHECK_EQ_INT(after.uidvalidity, before[i].uidvalidity);
		CHECK(after.uidnext >= before[i].uidnext);
	}
	CHECK(ms.ops->status(ms.impl, "INBOX", &after) == 0 && after.uidnext == 5 &&
	    after.messages == 3);
	REQUIRE(ms.ops->list(ms.impl, "INBOX", &list, &n) == 0);
	CHECK(n == 3 && list[0].uid == 1 && list[0].flags == MAILSTORE_SEEN &&
	    list[1].uid == 3 && list[1].flags == MAILSTORE_FLAGGED && list[2].uid == 4 &&
	    list[2].internaldate == 50 && list[2].size == 5);
	free(list);
	CHECK(ms.ops->fetch(ms.impl, "INBOX", 4, &data, &n) == 0 && n == 5 &&
	    memcmp(data, "filed", 5) == 0);
	mailstore_release(&ms, data, n);
	CHECK(mailstore_store_setting_get(&ms, "bridge.test", &v, &n) == 0 && n == 4 &&
	    memcmp(v, "mark", 4) == 0);
	store_blob_free(v, n);
	/* expunge everything; the next UID is still new */
	{
		uint32_t all[3] = { 1, 3, 4 };
		CHECK(ms.ops->expunge(ms.impl, "INBOX", all, 3) == 0);
	}
	mailstore_destroy(&ms);
	REQUIRE(reopen(&ms) == 0);
	CHECK(ms.ops->append(ms.impl, "INBOX", (const uint8_t *)"x", 1, 0, 60, &uid) == 0 &&
	    uid == 5);
	CHECK(ms.ops->status(ms.impl, "Drafts", &after) == 0 && after.uidnext == 4 &&
	    after.messages == 2 && after.uidvalidity == before[2].uidvalidity);
	mailstore_destroy(&ms);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	snprintf(dir, sizeof(dir), "/tmp/sotto-ms-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	atexit(cleanup);
	RUN(mailstore_store_like_mem);
	RUN(mailstore_store_expunge_named_only);
	RUN(mailstore_store_survives_reopen);
	return check_summary();
}
