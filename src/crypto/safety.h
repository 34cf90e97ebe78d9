/*
 * Safety numbers: Signal's numeric fingerprint (version 0). For each party,
 *     h = version(u16 BE) || key || stable_id;  repeat iterations times: h = SHA-512(h || key)
 * then 30 digits from the first 30 bytes of h: six 5-byte big-endian chunks, each mod 100000
 * as five zero-padded digits. The two 30-digit strings are concatenated smaller first, so
 * both parties see the same 60 digits. The key bytes are a parameter: the native suite passes
 * its 32-byte Ed25519 key, Signal passes 0x05 || X25519.
 */
#ifndef SOTTO_CRYPTO_SAFETY_H
#define SOTTO_CRYPTO_SAFETY_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"
#include "sotto/limits.h"

#define SAFETY_VERSION 0
#define SAFETY_ITERATIONS 5200
#define SAFETY_PARTY_DIGITS 30
#define SAFETY_DIGITS 60
#define SAFETY_FORMATTED_LEN SOTTO_SAFETY_LEN
_Static_assert(SAFETY_FORMATTED_LEN == SAFETY_DIGITS + 11, "12 groups of 5 separated by spaces");
#define SAFETY_KEY_MAX 64
#define SAFETY_ID_MAX 1024

/* out receives 30 digits and a NUL. */
int safety_party_digits(char out[static SAFETY_PARTY_DIGITS + 1], const uint8_t *key,
    size_t key_len, const uint8_t *id, size_t id_len, unsigned iterations) SOTTO_MUST_CHECK;
/* out receives 60 digits and a NUL; identical when local and remote are swapped. */
int safety_number(char out[static SAFETY_DIGITS + 1], const uint8_t *local_key,
    size_t local_key_len, const uint8_t *local_id, size_t local_id_len,
    const uint8_t *remote_key, size_t remote_key_len, const uint8_t *remote_id,
    size_t remote_id_len, unsigned iterations) SOTTO_MUST_CHECK;
/* "12345 67890 ..." (12 groups) and a NUL. */
void safety_format(char out[static SAFETY_FORMATTED_LEN + 1], const char digits[static SAFETY_DIGITS + 1]);

#endif
