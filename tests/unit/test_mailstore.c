#include <stdlib.h>
#include <string.h>

#include "mail/mailbox_uids.h"
#include "mail/mailstore_folders.h"
#include "mail/mailstore_mem.h"
#include "check.h"
#include "mailstore_contract.h"

/* Changes of any folder. */
static void
count_change(void *arg, const char *folder)
{
	(void)folder;
	(*(int *)arg)++;
}

TEST(mailstore_uids_never_reused)
{
	struct mailstore ms;
	struct mailstore_status st;

	REQUIRE(mailstore_mem_create(&ms, 500) == 0);
	mailstore_contract_basics(&ms);
	/* This backend's UIDVALIDITY: the base plus the folder's index. */
	CHECK(ms.ops->status(ms.impl, "INBOX", &st) == 0 && st.uidvalidity == 500);
	CHECK(ms.ops->status(ms.impl, "Trash", &st) == 0 && st.uidvalidity == 503);
	mailstore_destroy(&ms);
}

TEST(mailbox_uids_is_a_sorted_set)
{
	const uint32_t uids[] = { 9, 3, 3, 7, UINT32_MAX };
	struct mailbox_uids u;

	REQUIRE(mailbox_uids_init(&u, uids, 5) == 0);
	CHECK_EQ_INT(u.n, 5);
	for (size_t i = 1; i < u.n; i++)
		CHECK(u.v[i - 1] <= u.v[i]);
	CHECK(mailbox_uids_has(&u, 3) && mailbox_uids_has(&u, 7) && mailbox_uids_has(&u, 9));
	CHECK(mailbox_uids_has(&u, UINT32_MAX));
	CHECK(!mailbox_uids_has(&u, 0) && !mailbox_uids_has(&u, 4) && !mailbox_uids_has(&u, 10));
	mailbox_uids_free(&u);
	CHECK(u.v == NULL && u.n == 0);
	REQUIRE(mailbox_uids_init(&u, NULL, 0) == 0);
	CHECK(!mailbox_uids_has(&u, 0) && !mailbox_uids_has(&u, 1));
	mailbox_uids_free(&u);
}

TEST(mailstore_default_folders_by_exact_name)
{
	struct mailstore_folder out[4];
	size_t n = 9;

	CHECK_EQ_INT(mailstore_folder_index("INBOX"), 0);
	CHECK_EQ_INT(mailstore_folder_index("Sent"), 1);
	CHECK_EQ_INT(mailstore_folder_index("Drafts"), 2);
	CHECK_EQ_INT(mailstore_folder_index("Trash"), 3);
	/* The engine folds INBOX's case before it asks; a backend matches exactly. */
	CHECK_EQ_INT(mailstore_folder_index("inbox"), -1);
	CHECK_EQ_INT(mailstore_folder_index("Trash2"), -1);
	CHECK_EQ_INT(mailstore_folder_index(NULL), -1);
	CHECK(mailstore_folders_default(NULL, out, 2, &n) == 0);
	CHECK_EQ_INT(n, 2);
	CHECK(strcmp(out[1].name, "Sent") == 0 && out[1].role == MAILSTORE_ROLE_SENT);
	CHECK(mailstore_folders_default(NULL, out, 4, &n) == 0);
	CHECK(n == 4 && out[3].role == MAILSTORE_ROLE_TRASH);
}

/* EXPUNGE takes the named UIDs in any order, ignores gone ones, and a removed watcher hears
 * nothing. */
TEST(mailstore_expunge_named_uids_only)
{
	struct mailstore ms;
	struct mailstore_msg *list;
	const uint32_t gone[] = { 4, 1, 99, 4 };
	int changes = 0;
	size_t n;

	REQUIRE(mailstore_mem_create(&ms, 1) == 0);
	for (int i = 0; i < 5; i++)
		REQUIRE(ms.ops->append(ms.impl, "Drafts", (const uint8_t *)"m", 1, 0, i, NULL) == 0);
	ms.ops->watch(ms.impl, count_change, &changes);
	CHECK(ms.ops->expunge(ms.impl, "Drafts", gone, 1) == 0);
	CHECK_EQ_INT(changes, 1);
	ms.ops->watch(ms.impl, NULL, NULL);
	CHECK(ms.ops->expunge(ms.impl, "Drafts", gone, 4) == 0);
	CHECK(ms.ops->expunge(ms.impl, "Nope", gone, 1) == SOTTO_ERR_NOT_FOUND);
	REQUIRE(ms.ops->list(ms.impl, "Drafts", &list, &n) == 0);
	CHECK(n == 3 && list[0].uid == 2 && list[1].uid == 3 && list[2].uid == 5);
	free(list);
	CHECK_EQ_INT(changes, 1);
	mailstore_destroy(&ms);
}

int
main(void)
{
	RUN(mailstore_uids_never_reused);
	RUN(mailbox_uids_is_a_sorted_set);
	RUN(mailstore_default_folders_by_exact_name);
	RUN(mailstore_expunge_named_uids_only);
	return check_summary();
}
