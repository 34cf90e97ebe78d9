/*
 * Sotto's native suite: identities are Ed25519 keys (their X25519 form for X3DH comes from
 * libsodium's birational map), HKDF-SHA256 with Sotto labels, XChaCha20-Poly1305 with the
 * header and both identities as associated data. Byte formats: docs/PROTOCOL.md.
 */
#ifndef SOTTO_CRYPTO_SUITE_NATIVE_H
#define SOTTO_CRYPTO_SUITE_NATIVE_H

#include <stdint.h>

#include "sotto/error.h"
#include "crypto/ratchet.h"
#include "crypto/sign.h"

#define SUITE_NATIVE_ID 1
#define SUITE_NATIVE_VERSION 0x02          /* first byte of every native message sent */
#define SUITE_NATIVE_VERSION_1 0x01        /* nonce derived from the key; still read */
#define SUITE_NATIVE_VERSION_PQ 0x03       /* PQ sessions: the KEM ratchet part in the header */
#define SUITE_NATIVE_PREKEY_VERSION 0x01   /* first byte of a prekey message */
#define SUITE_NATIVE_NONCE_LEN 24          /* random, in every version 2 header */
#define SUITE_NATIVE_HEADER_LEN_1 (1 + DH_PUBLIC_LEN + 4 + 4)
#define SUITE_NATIVE_HEADER_LEN (SUITE_NATIVE_HEADER_LEN_1 + SUITE_NATIVE_NONCE_LEN)
#define SUITE_NATIVE_OVERHEAD (SUITE_NATIVE_HEADER_LEN + 16)
/* Version 3: 0x03 || ratchet_pub[32] || pn u32 || n u32 || u8 kem_flags || ek[1184]
 * [|| ct[1088]] || nonce[24] (kem_flags 1: ct present). */
#define SUITE_NATIVE_KEM_FLAG_CT 0x01
#define SUITE_NATIVE_HEADER_LEN_PQ (SUITE_NATIVE_HEADER_LEN + 1 + RATCHET_KEM_EK_LEN)
#define SUITE_NATIVE_HEADER_LEN_PQ_CT (SUITE_NATIVE_HEADER_LEN_PQ + RATCHET_KEM_CT_LEN)

extern const struct ratchet_suite suite_native;

/* A fresh identity, or one from a 32-byte seed (SECRET). */
int suite_native_identity_generate(struct x3dh_identity *id) SOTTO_MUST_CHECK;
int suite_native_identity_from_seed(struct x3dh_identity *id,
    const uint8_t seed[static SIGN_SEED_LEN]) SOTTO_MUST_CHECK;

#endif
