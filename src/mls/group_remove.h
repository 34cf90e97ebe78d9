/*
 * A Remove proposal of ours (RFC 9420 12.1.3) sent as a PrivateMessage of this epoch, so
 * that the delivery service does not learn who proposes to remove whom: how a member
 * leaves (it proposes its own removal, and another member commits the proposal by
 * reference, since nobody may commit their own removal), and how a member asks for a
 * removal it cannot commit itself. The proposal is also cached in g under its reference
 * (we cannot decrypt our own PrivateMessage to cache it as a receiver does), so that a
 * Commit of it is recognised: one that removes us is refused with SOTTO_ERR_STATE.
 */
#ifndef SOTTO_MLS_GROUP_REMOVE_H
#define SOTTO_MLS_GROUP_REMOVE_H

#include <stdint.h>

#include "base/buf.h"
#include "sotto/error.h"
#include "mls/group.h"

/* SOTTO_ERR_INVALID_ARG for a leaf that is not a member. sig_sec is our 64-byte Ed25519
 * key (SECRET). */
int mls_group_propose_remove(struct mls_group *g, const uint8_t sig_sec[static 64], uint32_t leaf,
    struct buf *out) SOTTO_MUST_CHECK;

#endif
