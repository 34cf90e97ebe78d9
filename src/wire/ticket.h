/*
 * Resumption tickets: a server gives a logged-in device a pre-shared key and a ticket that
 * only the server can open; the device later logs in with Noise_NNpsk0 (2 X25519 operations
 * per side instead of XX's 4-5) by sending the ticket ahead of its first handshake message.
 *
 * A ticket is stateless, sealed under the server's ticket key (XChaCha20-Poly1305):
 *   nonce (24) || AEAD(ticket_key, ad = "sotto/ticket/v1" || server Ed25519 public key,
 *                      device key (32) || psk (32) || expiry u64 BE unix seconds)
 * 24 + 72 + 16 = TICKET_LEN bytes. The resumption's first frame is exactly
 *   ticket (TICKET_LEN) || NNpsk0 message 1 (e, empty payload: TICKET_MSG1_LEN)
 * and the ticket is the Noise prologue (after TICKET_PROLOGUE), so the handshake is bound
 * to it. Secret: the ticket key, the psk. The ticket itself is opaque but not secret.
 */
#ifndef SOTTO_WIRE_TICKET_H
#define SOTTO_WIRE_TICKET_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"
#include "wire/noise.h"

#define TICKET_KEY_LEN 32
#define TICKET_PSK_LEN 32
#define TICKET_NONCE_LEN 24
#define TICKET_PLAIN_LEN (NOISE_KEY_LEN + TICKET_PSK_LEN + 8)
#define TICKET_LEN (TICKET_NONCE_LEN + TICKET_PLAIN_LEN + 16)
#define TICKET_AD "sotto/ticket/v1"
#define TICKET_PATTERN "NNpsk0"
#define TICKET_PROLOGUE "sotto/resume/1"
#define TICKET_MSG1_LEN (NOISE_KEY_LEN + NOISE_TAG_LEN)  /* e, then the empty payload's tag */
#define TICKET_MSG2_LEN (NOISE_KEY_LEN + NOISE_TAG_LEN)
#define TICKET_FRAME1_LEN (TICKET_LEN + TICKET_MSG1_LEN)

_Static_assert(TICKET_FRAME1_LEN != NOISE_SOTTO_MSG1_LEN, "first frames told apart by size");

/* The server's ticket sealing state; lives in sodium_malloc memory (key is secret). */
struct ticket_key {
	uint8_t key[TICKET_KEY_LEN];    /* secret */
	uint8_t server_pk[32];          /* Ed25519, bound into every ticket */
};

/* What a ticket holds, once opened; psk is secret. */
struct ticket_contents {
	uint8_t device_pk[NOISE_KEY_LEN];
	uint8_t psk[TICKET_PSK_LEN];
	uint64_t expiry;
};

/* Seals a ticket for the device with a fresh random psk (returned in *tc), valid for
 * lifetime seconds from now (0: SOTTO_ERR_UNSUPPORTED). */
int ticket_issue(const struct ticket_key *k, const uint8_t device_pk[NOISE_KEY_LEN],
    uint64_t lifetime, uint64_t now, uint8_t out[TICKET_LEN], struct ticket_contents *tc) SOTTO_MUST_CHECK;
/* Seals given contents (tests: expired or chosen tickets). */
int ticket_seal(const struct ticket_key *k, const struct ticket_contents *tc,
    uint8_t out[TICKET_LEN]) SOTTO_MUST_CHECK;
/* Opens and checks a ticket: SOTTO_ERR_DECRYPT if it was not sealed by this key for this
 * server or was altered, SOTTO_ERR_EXPIRED once now >= expiry. *tc is wiped on failure. */
int ticket_open(const struct ticket_key *k, const uint8_t *t, size_t len, uint64_t now,
    struct ticket_contents *tc) SOTTO_MUST_CHECK;
/* Splits a resumption's first frame into the ticket and the Noise message (exact size). */
int ticket_frame1_parse(const uint8_t *f, size_t len, const uint8_t **ticket,
    const uint8_t **msg1) SOTTO_MUST_CHECK;
void ticket_contents_wipe(struct ticket_contents *tc);

#endif
