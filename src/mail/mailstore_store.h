/*
 * The IMAP bridge's mail store over the client's encrypted store (client/store.h): every
 * mail is a sealed row of the `mail` table, folders are rows of `folders`. INBOX, Sent,
 * Drafts and Trash are created at first use with a random UIDVALIDITY that is then kept in
 * the file, so UIDVALIDITY, UIDNEXT (which only grows) and flags survive restarts.
 *
 * One struct store is not thread safe; this backend serialises every call with a mutex, so
 * the IMAP engine (loop thread) and the bridge's client thread (which files received mail)
 * may share it. The store should be a handle of its own, not one another thread uses.
 */
#ifndef SOTTO_MAIL_MAILSTORE_STORE_H
#define SOTTO_MAIL_MAILSTORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/mailstore.h"

struct store;

/* Serves st as a mailstore. With own, mailstore_destroy closes st. The four folders are
 * created here if missing. */
int mailstore_store_open(struct mailstore *ms, struct store *st, int own) SOTTO_MUST_CHECK;
/*
 * Appends a mail to folder and, in the same transaction, writes the setting name = val
 * (both or neither are stored), then wakes the watcher (IMAP IDLE). name may be NULL
 * (append only).
 */
int mailstore_store_deliver(struct mailstore *ms, const char *folder, const uint8_t *data,
    size_t len, uint32_t flags, int64_t internaldate, const char *name, const uint8_t *val,
    size_t vlen, uint32_t *uid) SOTTO_MUST_CHECK;

/* A setting of the underlying store, under the same lock (*v: free with
 * mailstore_store_setting_free, which wipes it). */
int mailstore_store_setting_get(struct mailstore *ms, const char *name, uint8_t **v,
    size_t *len) SOTTO_MUST_CHECK;
int mailstore_store_setting_put(struct mailstore *ms, const char *name, const uint8_t *v,
    size_t len) SOTTO_MUST_CHECK;
void mailstore_store_setting_free(uint8_t *v, size_t len);

#endif
