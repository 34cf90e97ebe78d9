/*
 * Past epochs of a group, kept to read their late application messages: in a real group a
 * message sent just before another member's Commit arrives after it. When a member enters
 * a new epoch, the one it leaves is kept (struct mls_group_past_epoch, group.h): its
 * GroupContext, sender-data secret, secret tree retired to its application ratchets and
 * their skipped keys (mls_secret_tree_retire), and every leaf's signature key of that
 * epoch. The last MLS_PAST_EPOCHS_MAX are kept, each in slot epoch % MLS_PAST_EPOCHS_MAX;
 * entering an epoch wipes the one that aged out. Only group*.c include this.
 */
#ifndef SOTTO_MLS_GROUP_PAST_H
#define SOTTO_MLS_GROUP_PAST_H

#include <stdint.h>

#include "sotto/error.h"
#include "mls/group.h"
#include "mls/message.h"

/* e set up for g's current epoch, all but its secret tree (may fail: nothing of g changes). */
int mls_group_past_prepare(struct mls_group_past_epoch *e, const struct mls_group *g) SOTTO_MUST_CHECK;
/* e, prepared, takes secrets (moved: *secrets is left empty), retired, and goes into its
 * slot of g, wiping the epoch there. */
void mls_group_past_keep(struct mls_group *g, struct mls_group_past_epoch *e,
    struct mls_secret_tree *secrets);
/* Wipes and frees e. */
void mls_group_past_free(struct mls_group_past_epoch *e);
/* e->gc decoded from e->gc_bytes. */
int mls_group_past_read_context(struct mls_group_past_epoch *e) SOTTO_MUST_CHECK;
/* The kept epoch, or NULL. */
struct mls_group_past_epoch *mls_group_past_find(struct mls_group *g, uint64_t epoch);
/* What mls_private_message_read needs of e (no membership key: past epochs take no
 * PublicMessage). */
void mls_group_past_epoch_keys(struct mls_group_past_epoch *e, struct mls_epoch_keys *ek);

#endif
