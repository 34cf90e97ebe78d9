/*
 * XEdDSA (Signal's "The XEdDSA and VXEdDSA Signature Schemes", rev. 1) over X25519 keys,
 * for the Signal-v3 suite's signed prekeys. Signing follows the spec. Verification is in
 * a mode compatible with libsignal-protocol-c, which signs with its older curve25519_sign:
 * there the Edwards sign bit of the signer's key travels in bit 7 of sig[63] and the key
 * is not negated. A spec signature always has that bit clear (s < L), so one verifier
 * covers both: take the sign bit from sig[63], clear it, and run a strict Ed25519 verify
 * (libsodium's, which also insists on s < L, which libsignal's verifier does not).
 */
#ifndef SOTTO_INTEROP_XEDDSA_H
#define SOTTO_INTEROP_XEDDSA_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"

#define XEDDSA_SIG_LEN 64

/* k: an X25519 private key (secret; clamped here). */
int xeddsa_sign(uint8_t sig[XEDDSA_SIG_LEN], const uint8_t k[32], const uint8_t *msg,
    size_t msg_len);
/* u: the signer's X25519 public key. 0 if valid, else SOTTO_ERR_BAD_SIGNATURE or
 * SOTTO_ERR_BAD_KEY. */
int xeddsa_verify(const uint8_t sig[XEDDSA_SIG_LEN], const uint8_t u[32], const uint8_t *msg,
    size_t msg_len) SOTTO_MUST_CHECK;
/* The Edwards public key (sign bit clear) that corresponds to Montgomery u. */
int xeddsa_mont_to_edwards(uint8_t ed[32], const uint8_t u[32]) SOTTO_MUST_CHECK;

#endif
