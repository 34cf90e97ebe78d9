/*
 * The Signal-v3 suite: Sotto's ratchet core speaking the wire format of libsignal-protocol-c
 * 2.3.3, for the interop tests only (never linked into libsotto).
 *
 *   identity key       X25519, encoded 0x05 || u (33 bytes); signs with XEdDSA
 *   signed prekey sig  XEdDSA over 0x05 || spk (33 bytes)
 *   X3DH               HKDF(ikm = 0xFF * 32 || DH1 || DH2 || DH3 [|| DH4], salt = 0^32,
 *                           "WhisperText", 64) -> root key || chain key
 *   root step          HKDF(ikm = DH, salt = RK, "WhisperRatchet", 64) -> RK || CK
 *   chain step         CK' = HMAC(CK, 0x02), seed = HMAC(CK, 0x01)
 *   message keys       HKDF(seed, 0^32, "WhisperMessageKeys", 80) -> AES key, MAC key, IV
 *   cipher             AES-256-CBC with PKCS#7 (OpenSSL), then the 8-byte truncated HMAC
 *                      of signal_wire.h
 */
#ifndef SOTTO_INTEROP_SUITE_SIGNAL_H
#define SOTTO_INTEROP_SUITE_SIGNAL_H

#include <stdint.h>

#include "crypto/ratchet.h"
#include "crypto/x3dh.h"
#include "sotto/error.h"

#define SUITE_SIGNAL_ID 0x33
#define SUITE_SIGNAL_KEY_LEN 33

extern const struct ratchet_suite suite_signal;

/* A fresh X25519 identity in the suite's terms. */
int suite_signal_identity_generate(struct x3dh_identity *id) SOTTO_MUST_CHECK;
/* The same from a given X25519 private key (SECRET), e.g. one libsignal made. */
int suite_signal_identity_from_secret(struct x3dh_identity *id, const uint8_t sec[32])
    SOTTO_MUST_CHECK;
/* 0x05 || u */
void suite_signal_encode_key(uint8_t out[SUITE_SIGNAL_KEY_LEN], const uint8_t u[32]);

#endif
