/*
 * Application messages of a group (RFC 9420 sections 6.3, 15.2): always PrivateMessages
 * (mls_public_message_check refuses application data in a PublicMessage), signed by the
 * sender's leaf key over FramedContentTBS, encrypted under the sender's application
 * ratchet of the current epoch, empty authenticated_data (nothing the delivery service
 * could read beside the group id, epoch and content type).
 */
#ifndef SOTTO_MLS_GROUP_APPLICATION_H
#define SOTTO_MLS_GROUP_APPLICATION_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "sotto/error.h"
#include "mls/group.h"

/* Content of ours (sender our leaf, this epoch, no authenticated data) of content_type
 * with body, signed (sig receives the signature, which ac points to) and written as a
 * PrivateMessage into out under our next generation of the matching ratchet; ac is the
 * AuthenticatedContent sent. sig_sec is our 64-byte Ed25519 key (SECRET). */
struct mls_authenticated_content;
int mls_group_send_private(struct mls_group *g, const uint8_t sig_sec[static 64],
    uint8_t content_type, const uint8_t *body, size_t len, struct mls_authenticated_content *ac,
    uint8_t sig[static MLS_SIG_LEN], struct buf *out) SOTTO_MUST_CHECK;

/* data (at most MLS_APPLICATION_MAX bytes) as an MLSMessage into out, under our next
 * application generation, which is used up. sig_sec is our 64-byte Ed25519 key (SECRET). */
#define MLS_APPLICATION_MAX (256u * 1024)
int mls_group_send_application(struct mls_group *g, const uint8_t sig_sec[static 64],
    const uint8_t *data, size_t len, struct buf *out) SOTTO_MUST_CHECK;

/* An application message from another member of this epoch or of one of the last
 * MLS_PAST_EPOCHS_MAX epochs (group_past.h; with that epoch's keys; its sender must hold
 * the same leaf with the same signature key now, so that *sender names it in the current
 * tree: a late message of a member removed since, or whose leaf another member took, is
 * SOTTO_ERR_AUTH): decrypted into plain (the
 * caller's, growable; buf_wipe_free it), *data and *data_len then point into it, *sender
 * is the sender's leaf, whose signature was checked. SOTTO_ERR_STATE for another group, a
 * later epoch or an earlier one no longer kept, SOTTO_ERR_PROTOCOL for another content type, SOTTO_ERR_AUTH for a blank sender
 * leaf or our own, SOTTO_ERR_BAD_SIGNATURE, SOTTO_ERR_DECRYPT, SOTTO_ERR_REPLAY and the
 * parse errors. A message that decrypted has used up its generation even if refused
 * afterwards. */
int mls_group_read_application(struct mls_group *g, const uint8_t *msg, size_t len,
    struct buf *plain, const uint8_t **data, size_t *data_len, uint32_t *sender) SOTTO_MUST_CHECK;

#endif
