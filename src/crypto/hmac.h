/* HMAC-SHA256 (RFC 2104 / RFC 4231) with keys of any length, over libsodium. */
#ifndef SOTTO_CRYPTO_HMAC_H
#define SOTTO_CRYPTO_HMAC_H

#include <stddef.h>
#include <stdint.h>

#define HMAC_SHA256_LEN 32

void hmac_sha256(uint8_t out[static HMAC_SHA256_LEN], const uint8_t *key, size_t key_len,
    const uint8_t *msg, size_t msg_len);
/* Two-part message: HMAC(key, m1 || m2), without building the concatenation. */
void hmac_sha256_2(uint8_t out[static HMAC_SHA256_LEN], const uint8_t *key, size_t key_len,
    const uint8_t *m1, size_t m1_len, const uint8_t *m2, size_t m2_len);

#endif
