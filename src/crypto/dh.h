/* X25519 (RFC 7748). */
#ifndef SOTTO_CRYPTO_DH_H
#define SOTTO_CRYPTO_DH_H

#include <stdint.h>

#include "sotto/error.h"

#define DH_PUBLIC_LEN 32
#define DH_SECRET_LEN 32
#define DH_SHARED_LEN 32

/* sec is SECRET. */
int dh_keypair(uint8_t pub[static DH_PUBLIC_LEN], uint8_t sec[static DH_SECRET_LEN]) SOTTO_MUST_CHECK;
int dh_public(uint8_t pub[static DH_PUBLIC_LEN], const uint8_t sec[static DH_SECRET_LEN]) SOTTO_MUST_CHECK;
/* SOTTO_ERR_BAD_KEY unless pub is a canonical encoding (u < 2^255 - 19, so the top bit is
 * clear) and not zero. X25519 ignores the top bit and reduces u mod p, so without this check
 * several byte strings act as the same key and a peer could alter unauthenticated key bytes
 * without changing any derived secret. */
int dh_public_check(const uint8_t pub[static DH_PUBLIC_LEN]) SOTTO_MUST_CHECK;
/* out is SECRET. Returns SOTTO_ERR_CRYPTO (and zeros out) when the result is all zero, which
 * happens for small-order public keys: a peer must not be able to force a known secret. */
int dh_shared(uint8_t out[static DH_SHARED_LEN], const uint8_t sec[static DH_SECRET_LEN],
    const uint8_t pub[static DH_PUBLIC_LEN]) SOTTO_MUST_CHECK;

#endif
