/*
 * Mail folders, libsotto's public API for the IMAP engine and the bridge: the mail store
 * the IMAP engine reads and writes, as a table of function pointers. The
 * in-memory backend (mailstore_mem.c) serves the tests; the client's encrypted store
 * implements the same table. A backend owns UID assignment: UIDVALIDITY is chosen once per
 * folder and kept, UIDNEXT only grows, and flags persist, so a backend that keeps those three
 * across restarts gives IMAP clients a stable view.
 *
 * Folder names are NUL-terminated; "INBOX" is matched case-insensitively by the engine and
 * always passed to the backend as "INBOX". Every function returns 0 or a negative sotto_err
 * (SOTTO_ERR_NOT_FOUND for an unknown folder or UID). A backend may be called from several
 * threads; mailstore_mem serialises with a mutex.
 *
 * Mail bytes are plaintext that was end-to-end encrypted: every copy a backend or the
 * engine makes is wiped before it is freed (mailstore_mail_free).
 */
#ifndef SOTTO_MAILSTORE_H
#define SOTTO_MAILSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"

enum {
	MAILSTORE_SEEN = 1u << 0,
	MAILSTORE_ANSWERED = 1u << 1,
	MAILSTORE_FLAGGED = 1u << 2,
	MAILSTORE_DELETED = 1u << 3,
	MAILSTORE_DRAFT = 1u << 4,
	MAILSTORE_FLAGS_ALL = (1u << 5) - 1
};

#define MAILSTORE_FOLDER_MAX 64     /* bytes of a folder name, without the NUL */
#define MAILSTORE_FOLDERS_MAX 32

/* A folder's role, so clients can show Sent/Drafts/Trash (RFC 6154 special use). */
enum mailstore_role {
	MAILSTORE_ROLE_NONE = 0,
	MAILSTORE_ROLE_INBOX,
	MAILSTORE_ROLE_SENT,
	MAILSTORE_ROLE_DRAFTS,
	MAILSTORE_ROLE_TRASH
};

struct mailstore_folder {
	char name[MAILSTORE_FOLDER_MAX + 1];
	enum mailstore_role role;
};

struct mailstore_status {
	uint32_t uidvalidity;   /* never changes for the life of the folder */
	uint32_t uidnext;       /* the next UID append will assign; never decreases */
	uint32_t messages;
	uint32_t unseen;
};

struct mailstore_msg {
	uint32_t uid;
	uint32_t flags;         /* MAILSTORE_* bits */
	int64_t internaldate;   /* unix seconds, when the message arrived */
	uint64_t size;          /* bytes of the raw RFC 5322 message */
};

/* Called after any change to folder (new mail, flags, expunge), possibly from another thread. */
typedef void (*mailstore_watch_fn)(void *arg, const char *folder);

struct mailstore_ops {
	/* Writes up to max folders to out and their count to *n. */
	int (*folders)(void *impl, struct mailstore_folder *out, size_t max, size_t *n);
	int (*status)(void *impl, const char *folder, struct mailstore_status *st);
	/* All messages of folder in ascending UID order, as a malloc'd array (free()). */
	int (*list)(void *impl, const char *folder, struct mailstore_msg **out, size_t *n);
	/* The raw message bytes: decrypted mail. The caller hands them back with
	 * mailstore_release, never free(). */
	int (*fetch)(void *impl, const char *folder, uint32_t uid, uint8_t **data, size_t *len);
	/* Takes back what fetch handed out and wipes it (mailstore_mail_free does). */
	void (*release)(void *impl, uint8_t *data, size_t len);
	int (*set_flags)(void *impl, const char *folder, uint32_t uid, uint32_t flags);
	/* Stores a copy of data; *uid receives the UID assigned (may be NULL). */
	int (*append)(void *impl, const char *folder, const uint8_t *data, size_t len,
	    uint32_t flags, int64_t internaldate, uint32_t *uid);
	int (*copy)(void *impl, const char *from, uint32_t uid, const char *to, uint32_t *new_uid);
	/* Removes the given UIDs for good; UIDs that are already gone are ignored. */
	int (*expunge)(void *impl, const char *folder, const uint32_t *uids, size_t n);
	/* Registers the one watcher (NULL removes it). */
	void (*watch)(void *impl, mailstore_watch_fn fn, void *arg);
	void (*destroy)(void *impl);
};

struct mailstore {
	const struct mailstore_ops *ops;
	void *impl;
};

void mailstore_destroy(struct mailstore *ms);

/* The folders of the open account s (INBOX, Sent, Drafts, Trash, created at first use),
 * on a handle of the store of their own (no passphrase: the keys s unlocked); closed by
 * mailstore_destroy. A received mail is in INBOX as libsotto stores it. */
struct sotto;
int mailstore_store_open_account(struct mailstore *ms, struct sotto *s) SOTTO_MUST_CHECK;
/* Tells the watcher about every folder if another connection of the store committed
 * since the last look (SQLite's data_version: a counter, nothing is read): mail that
 * libsotto filed in another handle or process. Any thread. */
void mailstore_store_refresh(struct mailstore *ms);
/* Gives what ms->ops->fetch handed out back to the backend (NULL is allowed). */
void mailstore_release(struct mailstore *ms, uint8_t *data, size_t len);
/* Wipes len bytes of mail and frees them (NULL is allowed): every backend's release, and
 * every place a backend drops a copy of a mail. impl is unused. */
void mailstore_mail_free(void *impl, uint8_t *data, size_t len);

#endif
