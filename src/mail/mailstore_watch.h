/*
 * The one watcher of a mail store backend (mailstore_ops.watch): set from the IMAP engine's
 * thread, called after a change from whichever thread made it. The callback runs without
 * the lock, so it may call back into the store.
 */
#ifndef SOTTO_MAIL_MAILSTORE_WATCH_H
#define SOTTO_MAIL_MAILSTORE_WATCH_H

#include <pthread.h>

#include "sotto/mailstore.h"

struct mailstore_watch {
	pthread_mutex_t lock;
	mailstore_watch_fn fn;
	void *arg;
};

/* 0 or SOTTO_ERR_INTERNAL. */
int mailstore_watch_init(struct mailstore_watch *w) SOTTO_MUST_CHECK;
/* Registers fn (NULL removes it). */
void mailstore_watch_set(struct mailstore_watch *w, mailstore_watch_fn fn, void *arg);
/* Tells the watcher, if any, that folder changed. */
void mailstore_watch_notify(struct mailstore_watch *w, const char *folder);
void mailstore_watch_destroy(struct mailstore_watch *w);

#endif
