#include "mailstore_contract.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"

static int notified;

static void
on_change(void *arg, const char *folder)
{
	(void)arg;
	if (strcmp(folder, "INBOX") == 0)
		notified++;
}

void
mailstore_contract_basics(struct mailstore *ms)
{
	struct mailstore_folder folders[MAILSTORE_FOLDERS_MAX];
	struct mailstore_status st;
	struct mailstore_msg *list;
	uint32_t uid = 0, gone[2];
	size_t n;
	uint8_t *data;

	notified = 0;
	CHECK(ms->ops->folders(ms->impl, folders, MAILSTORE_FOLDERS_MAX, &n) == 0 && n == 4);
	CHECK(strcmp(folders[0].name, "INBOX") == 0 && folders[0].role == MAILSTORE_ROLE_INBOX);
	CHECK(strcmp(folders[1].name, "Sent") == 0 && folders[1].role == MAILSTORE_ROLE_SENT);
	CHECK(strcmp(folders[3].name, "Trash") == 0 && folders[3].role == MAILSTORE_ROLE_TRASH);
	ms->ops->watch(ms->impl, on_change, NULL);
	CHECK(ms->ops->append(ms->impl, "INBOX", (const uint8_t *)"a", 1, MAILSTORE_SEEN, 10,
	    &uid) == 0 && uid == 1);
	CHECK(ms->ops->append(ms->impl, "INBOX", (const uint8_t *)"bb", 2, 0, 20, &uid) == 0 &&
	    uid == 2);
	CHECK(ms->ops->append(ms->impl, "Nope", (const uint8_t *)"x", 1, 0, 0, NULL) ==
	    SOTTO_ERR_NOT_FOUND);
	gone[0] = 2;
	CHECK(ms->ops->expunge(ms->impl, "INBOX", gone, 1) == 0);
	CHECK(ms->ops->append(ms->impl, "INBOX", (const uint8_t *)"c", 1, 0, 30, &uid) == 0 &&
	    uid == 3);
	CHECK(ms->ops->status(ms->impl, "INBOX", &st) == 0);
	CHECK(st.uidvalidity != 0);
	CHECK_EQ_INT(st.uidnext, 4);
	CHECK_EQ_INT(st.messages, 2);
	CHECK_EQ_INT(st.unseen, 1);
	REQUIRE(ms->ops->list(ms->impl, "INBOX", &list, &n) == 0);
	CHECK(n == 2 && list[0].uid == 1 && list[1].uid == 3 && list[1].internaldate == 30);
	free(list);
	CHECK(ms->ops->copy(ms->impl, "INBOX", 1, "Trash", &uid) == 0 && uid == 1);
	CHECK(ms->ops->fetch(ms->impl, "Trash", 1, &data, &n) == 0 && n == 1 && data[0] == 'a');
	mailstore_release(ms, data, n);
	CHECK(ms->ops->status(ms->impl, "Trash", &st) == 0 && st.unseen == 0 &&
	    st.messages == 1);
	CHECK(ms->ops->set_flags(ms->impl, "INBOX", 3, MAILSTORE_FLAGGED | 0x100) == 0);
	CHECK(ms->ops->set_flags(ms->impl, "INBOX", 99, MAILSTORE_FLAGGED) ==
	    SOTTO_ERR_NOT_FOUND);
	REQUIRE(ms->ops->list(ms->impl, "INBOX", &list, &n) == 0);
	CHECK(n == 2 && list[1].flags == MAILSTORE_FLAGGED);
	free(list);
	CHECK(ms->ops->fetch(ms->impl, "INBOX", 2, &data, &n) == SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(notified, 5);     /* 3 appends, 1 expunge, 1 flag change */
	ms->ops->watch(ms->impl, NULL, NULL);
}
