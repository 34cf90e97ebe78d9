/*
 * The wire format of libsignal-protocol-c 2.3.3 (protocol version 3), written by hand:
 *
 *   SignalMessage       = 0x33 || pb{1 ratchetKey, 2 counter, 3 previousCounter,
 *                                    4 ciphertext} || mac[8]
 *   PreKeySignalMessage = 0x33 || pb{5 registrationId, 1 preKeyId (optional),
 *                                    6 signedPreKeyId, 2 baseKey, 3 identityKey,
 *                                    4 message (a whole SignalMessage)}
 *
 * mac = HMAC-SHA256(macKey, senderIK || receiverIK || 0x33 || pb)[0..8]; a PreKeySignalMessage
 * has no MAC of its own. Public keys are 0x05 || u (33 bytes) with u canonical
 * (dh_public_check: X25519 ignores bit 255, so an unchecked base key could be altered
 * unnoticed). Decoding reads through struct cur; every length is capped before use; a known
 * field twice, with the wrong wire type, or a missing required field is rejected; unknown
 * fields are skipped as protobuf says.
 */
#ifndef SOTTO_INTEROP_SIGNAL_WIRE_H
#define SOTTO_INTEROP_SIGNAL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "sotto/error.h"

#define SIGW_VERSION 0x33
#define SIGW_MAC_LEN 8
#define SIGW_KEY_LEN 33
#define SIGW_KEY_TYPE 0x05
#define SIGW_CIPHERTEXT_MAX ((1u << 20) + 16)     /* the ratchet's plaintext cap, padded */
#define SIGW_MESSAGE_MAX (SIGW_CIPHERTEXT_MAX + 128)
#define SIGW_PREKEY_MESSAGE_MAX (SIGW_MESSAGE_MAX + 128)

struct sigw_message {
	uint8_t ratchet_key[SIGW_KEY_LEN];
	uint32_t counter;
	uint32_t previous_counter;
	const uint8_t *ciphertext;      /* borrowed from the input */
	size_t ciphertext_len;
};

struct sigw_prekey_message {
	uint32_t registration_id;
	int has_prekey_id;
	uint32_t prekey_id;
	uint32_t signed_prekey_id;
	uint8_t base_key[SIGW_KEY_LEN];
	uint8_t identity_key[SIGW_KEY_LEN];
	const uint8_t *message;         /* the inner SignalMessage, borrowed */
	size_t message_len;
};

/* Appends 0x33 || pb; the caller appends the MAC over what was written. */
void sigw_message_encode(struct buf *b, const struct sigw_message *m);
/* Splits a SignalMessage: *authed_len is the length of 0x33 || pb (the MAC input after the
 * two identity keys) and *mac points at the 8-byte MAC. Checks the version and the keys'
 * type byte. */
int sigw_message_decode(struct sigw_message *m, const uint8_t *in, size_t len,
    size_t *authed_len, const uint8_t **mac) SOTTO_MUST_CHECK;

void sigw_prekey_message_encode(struct buf *b, const struct sigw_prekey_message *m);
int sigw_prekey_message_decode(struct sigw_prekey_message *m, const uint8_t *in, size_t len)
    SOTTO_MUST_CHECK;

#endif
