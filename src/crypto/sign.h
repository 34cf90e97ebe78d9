/* Ed25519 (RFC 8032) signatures and the conversion of Ed25519 keys to X25519. */
#ifndef SOTTO_CRYPTO_SIGN_H
#define SOTTO_CRYPTO_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"
#include "crypto/dh.h"

#define SIGN_PUBLIC_LEN 32
#define SIGN_SECRET_LEN 64   /* libsodium's seed || public */
#define SIGN_SEED_LEN 32
#define SIGN_LEN 64

/* sec is SECRET. */
int sign_keypair(uint8_t pub[static SIGN_PUBLIC_LEN], uint8_t sec[static SIGN_SECRET_LEN]) SOTTO_MUST_CHECK;
int sign_seed_keypair(uint8_t pub[static SIGN_PUBLIC_LEN], uint8_t sec[static SIGN_SECRET_LEN],
    const uint8_t seed[static SIGN_SEED_LEN]) SOTTO_MUST_CHECK;
int sign_detached(uint8_t sig[static SIGN_LEN], const uint8_t *msg, size_t len,
    const uint8_t sec[static SIGN_SECRET_LEN]) SOTTO_MUST_CHECK;
/* SOTTO_ERR_BAD_SIGNATURE unless sig is a valid signature of msg by pub. */
int sign_verify(const uint8_t sig[static SIGN_LEN], const uint8_t *msg, size_t len,
    const uint8_t pub[static SIGN_PUBLIC_LEN]) SOTTO_MUST_CHECK;
/* Birational map Edwards -> Montgomery; SOTTO_ERR_BAD_KEY for keys that are not valid points
 * or have small order. */
int sign_pk_to_dh(uint8_t dh_pub[static DH_PUBLIC_LEN], const uint8_t pub[static SIGN_PUBLIC_LEN]) SOTTO_MUST_CHECK;
/* dh_sec is SECRET. */
int sign_sk_to_dh(uint8_t dh_sec[static DH_SECRET_LEN], const uint8_t sec[static SIGN_SECRET_LEN]) SOTTO_MUST_CHECK;

#endif
