/* XChaCha20-Poly1305 (IETF construction, 24-byte nonce). */
#ifndef SOTTO_CRYPTO_AEAD_H
#define SOTTO_CRYPTO_AEAD_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"

#define AEAD_KEY_LEN 32
#define AEAD_NONCE_LEN 24
#define AEAD_TAG_LEN 16

/* Writes pt_len + AEAD_TAG_LEN bytes to ct (ct may equal pt). key is SECRET. */
int aead_seal(uint8_t *ct, const uint8_t *pt, size_t pt_len, const uint8_t *ad, size_t ad_len,
    const uint8_t nonce[static AEAD_NONCE_LEN], const uint8_t key[static AEAD_KEY_LEN]) SOTTO_MUST_CHECK;
/* Writes ct_len - AEAD_TAG_LEN bytes to pt; SOTTO_ERR_DECRYPT (and pt zeroed) when the tag
 * does not verify, SOTTO_ERR_TRUNCATED when ct_len < AEAD_TAG_LEN. */
int aead_open(uint8_t *pt, const uint8_t *ct, size_t ct_len, const uint8_t *ad, size_t ad_len,
    const uint8_t nonce[static AEAD_NONCE_LEN], const uint8_t key[static AEAD_KEY_LEN]) SOTTO_MUST_CHECK;

#endif
