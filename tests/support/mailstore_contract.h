/*
 * Test helper: what every mail store backend (bridge/mailstore.h) must do, run the same way
 * against each, so the in-memory model and the encrypted store cannot drift apart.
 */
#ifndef SOTTO_TESTS_MAILSTORE_CONTRACT_H
#define SOTTO_TESTS_MAILSTORE_CONTRACT_H

#include "sotto/mailstore.h"

/*
 * On a fresh store (INBOX, Sent, Drafts, Trash, all empty): the folder list, UIDs never
 * reused after an expunge, status counts, copy, fetch, flags (unknown bits dropped), unknown
 * folders and UIDs, and one watcher call per change. Reports through check.h. Leaves INBOX
 * holding UIDs 1 (\Seen) and 3 (\Flagged), and Trash UID 1, a copy of INBOX 1.
 */
void mailstore_contract_basics(struct mailstore *ms);

#endif
