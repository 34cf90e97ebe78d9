/* An in-memory mail store (tests, and a model of what a persistent backend must keep). */
#ifndef SOTTO_MAIL_MAILSTORE_MEM_H
#define SOTTO_MAIL_MAILSTORE_MEM_H

#include "sotto/mailstore.h"

/* Creates a store with INBOX, Sent, Drafts and Trash; each folder's UIDVALIDITY is
 * uidvalidity_base + its index (a persistent backend stores its own). */
int mailstore_mem_create(struct mailstore *ms, uint32_t uidvalidity_base) SOTTO_MUST_CHECK;

#endif
