/*
 * The set of UIDs an EXPUNGE names, as every mail store backend keeps it: sorted once,
 * then asked per message of the folder.
 */
#ifndef SOTTO_MAIL_MAILBOX_UIDS_H
#define SOTTO_MAIL_MAILBOX_UIDS_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"

struct mailbox_uids {
	uint32_t *v;            /* ascending; NULL when empty */
	size_t n;
};

/* A sorted copy of uids (duplicates allowed). 0 or SOTTO_ERR_NOMEM. */
int mailbox_uids_init(struct mailbox_uids *u, const uint32_t *uids, size_t n)
    SOTTO_MUST_CHECK;
/* 1 if uid is in the set, else 0. */
int mailbox_uids_has(const struct mailbox_uids *u, uint32_t uid);
void mailbox_uids_free(struct mailbox_uids *u);

#endif
