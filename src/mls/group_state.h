/*
 * A member's whole group state (struct mls_group) as bytes, so that it survives a
 * restart: written after each change and read back into a group that continues exactly
 * where the original was (the next Commit processed, the next message decrypted, our next
 * message sent under the next generation). The bytes hold every secret of the epoch: they
 * are SECRET (the client seals them in its store; docs/STORE.md). Version 2, TLS
 * presentation language (vectors as opaque<V>, integers big-endian):
 *
 *   uint8  version = 2;                   (1: as 2 without the past epochs; still read)
 *   opaque ratchet_tree<V>;               as the ratchet_tree extension carries it
 *   uint32 own_leaf;
 *   opaque group_context<V>;              this epoch's, encoded
 *   opaque interim_transcript_hash<V>;    32 bytes
 *   opaque epoch_secrets<V>;              11 * 32 bytes: joiner, welcome, sender_data,
 *                                         encryption, exporter, external, confirmation,
 *                                         membership, resumption_psk,
 *                                         epoch_authenticator, init
 *   SecretTree:
 *     uint64 stores;                      skipped keys stored so far (their order)
 *     per node of the tree (2 n - 1):     uint8 present; present: secret[32]
 *     per leaf:                           uint8 started; started: handshake and
 *                                         application ratchet { secret[32]; uint32 generation }
 *     uint16 n_skipped (<= MLS_SKIPPED_KEYS_MAX); each: uint32 leaf; uint32 generation;
 *                                         uint8 handshake; key[32]; nonce[12]; uint64 stored
 *   uint8  n_keys (<= MLS_GROUP_NODE_KEYS_MAX); each: uint32 node; secret[32]
 *   uint8  n_resumption (<= MLS_GROUP_RESUMPTION_MAX); each: uint64 epoch; psk[32], in
 *                                         the order of their slots (epoch mod the max)
 *   uint16 n_cached (<= MLS_GROUP_PROPOSALS_MAX); each: ref[32]; uint32 sender;
 *                                         uint16 proposal_type; opaque body<V>
 *   uint8  has_pending_update; 1: secret[32]
 *   uint8  n_past (<= MLS_PAST_EPOCHS_MAX); each, oldest first (group_past.h):
 *     opaque group_context<V>;            its epoch, of this group, before this one and
 *                                         at most MLS_PAST_EPOCHS_MAX back
 *     sender_data_secret[32];
 *     uint32 n_leaves;
 *     SecretTree as above, retired: each started leaf with its application ratchet
 *                                         only, no handshake skipped keys
 *     per leaf:                           uint8 present; present: signature_key[32]
 *
 * Reading checks everything a restored group relies on: the tree decodes and its hash
 * is the GroupContext's, our leaf is in it, every node key of ours is the private key of
 * the tree's public key at that node (and our leaf's is there), the secret tree has the
 * tree's width, ratchet generations and skipped keys are in range, each resumption PSK
 * is of a past epoch in its own slot, each cached proposal parses and names a leaf of the
 * tree, past epochs are in order and in range; anything else is SOTTO_ERR_CORRUPT (or the parser's error), with nothing left
 * allocated. The external PSKs (g->external_psks) are the caller's and not written.
 */
#ifndef SOTTO_MLS_GROUP_STATE_H
#define SOTTO_MLS_GROUP_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "sotto/error.h"
#include "mls/group.h"

#define MLS_GROUP_STATE_VERSION 2
#define MLS_GROUP_STATE_VERSION_1 1   /* no past epochs */
/* Cap on the bytes of one group state; a group whose state would be larger cannot be
 * saved (SOTTO_ERR_TOO_LARGE on the buffer). */
#define MLS_GROUP_STATE_MAX (16u << 20)

/* Appends g's state to out (grow it to MLS_GROUP_STATE_MAX; buf_wipe_free it after). */
int mls_group_state_write(const struct mls_group *g, struct buf *out) SOTTO_MUST_CHECK;
/* A group from bytes written by mls_group_state_write; g is freed on failure. */
int mls_group_state_read(struct mls_group *g, const uint8_t *p, size_t len) SOTTO_MUST_CHECK;

#endif
