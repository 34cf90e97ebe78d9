/*
 * The live IMAP test (test_imap_live.c: imaplib, curl, raw sockets) run unchanged against
 * the mail store over the client's encrypted store instead of the in-memory one. Its
 * folders are made with the UIDVALIDITY values the script expects (base + index), the way
 * a store that already holds them is opened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/store.h"
#include "mail/mailstore_store.h"

static char live_dir[64];

static void
live_cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", live_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", live_dir);
}

static int
live_store_create(struct mailstore *ms, uint32_t base)
{
	static const char *names[4] = { "INBOX", "Sent", "Drafts", "Trash" };
	struct store_folder f;
	struct store *st;
	uint32_t i;

	snprintf(live_dir, sizeof(live_dir), "/tmp/sotto-imaplive-XXXXXX");
	if (mkdtemp(live_dir) == NULL)
		return -1;
	atexit(live_cleanup);
	if (store_create(live_dir, (const uint8_t *)"pw", 2, STORE_KDF_TEST_MIN, &st) != 0)
		return -1;
	for (i = 0; i < 4; i++) {
		if (store_folder_create(st, names[i], base + i, &f) != 0) {
			store_close(st);
			return -1;
		}
	}
	if (mailstore_store_open(ms, st, 1) != 0) {
		store_close(st);
		return -1;
	}
	return 0;
}

/* Everything below is test_imap_live.c with its store swapped. */
#define mailstore_mem_create live_store_create
#include "test_imap_live.c"
