/*
 * Transcript hashes and the confirmation tag (RFC 9420 section 8.2, 6.1):
 *
 *   confirmed[n] = Hash(interim[n-1] || ConfirmedTranscriptHashInput)
 *       ConfirmedTranscriptHashInput = { WireFormat wire_format; FramedContent content;
 *                                        opaque signature<V>; }
 *   confirmation_tag = MAC(confirmation_key, confirmed[n])
 *   interim[n]   = Hash(confirmed[n] || InterimTranscriptHashInput)
 *       InterimTranscriptHashInput = { MAC confirmation_tag; }   (an opaque<V>)
 *
 * The hashes are not secret; the confirmation key is.
 */
#ifndef SOTTO_MLS_TRANSCRIPT_H
#define SOTTO_MLS_TRANSCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"
#include "mls/framing.h"
#include "mls/suite.h"

/* interim_before is interim[n-1]: for a group's first Commit, mls_interim_transcript_hash_0
 * of its epoch 0 (NULL, 0 only for inputs such as the vectors' that give none). */
int mls_confirmed_transcript_hash(uint8_t out[static MLS_HASH_LEN], const uint8_t *interim_before,
    size_t interim_before_len, uint16_t wire_format, const struct mls_framed_content *content,
    const uint8_t *signature, size_t signature_len) SOTTO_MUST_CHECK;
void mls_interim_transcript_hash(uint8_t out[static MLS_HASH_LEN],
    const uint8_t confirmed[static MLS_HASH_LEN], const uint8_t confirmation_tag[static MLS_HASH_LEN]);
/* Epoch 0 of a new group (RFC 9420 8.2, 11): confirmed[0] is empty, its confirmation tag
 * MAC(confirmation_key, "") (into tag), and interim[0] = Hash("" || opaque<V> tag). */
void mls_interim_transcript_hash_0(uint8_t out[static MLS_HASH_LEN],
    uint8_t tag[static MLS_HASH_LEN], const uint8_t confirmation_key[static MLS_HASH_LEN]);
void mls_confirmation_tag(uint8_t out[static MLS_HASH_LEN],
    const uint8_t confirmation_key[static MLS_HASH_LEN], const uint8_t confirmed[static MLS_HASH_LEN]);
/* 0 if tag is the confirmation tag of confirmed under the key, compared in constant time;
 * SOTTO_ERR_AUTH otherwise. */
int mls_confirmation_tag_verify(const uint8_t *tag, size_t tag_len,
    const uint8_t confirmation_key[static MLS_HASH_LEN], const uint8_t confirmed[static MLS_HASH_LEN]) SOTTO_MUST_CHECK;

#endif
