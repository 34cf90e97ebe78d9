/* HMAC-SHA256 (RFC 2104 / RFC 4231) with keys of any length, over libsodium. */
#ifndef SOTTO_CRYPTO_HMAC_H
#define SOTTO_CRYPTO_HMAC_H

#include <stddef.h>
#include <stdint.h>
#include <sodium.h>

#define HMAC_SHA256_LEN 32

/*
 * A key schedule (SECRET): the key's inner and outer pad blocks already absorbed, so that
 * several MACs under one key cost two SHA-256 compressions each instead of four. Copyable.
 */
struct hmac_sha256_key {
	crypto_auth_hmacsha256_state st;
};

void hmac_sha256(uint8_t out[static HMAC_SHA256_LEN], const uint8_t *key, size_t key_len,
    const uint8_t *msg, size_t msg_len);
/* Two-part message: HMAC(key, m1 || m2), without building the concatenation. */
void hmac_sha256_2(uint8_t out[static HMAC_SHA256_LEN], const uint8_t *key, size_t key_len,
    const uint8_t *m1, size_t m1_len, const uint8_t *m2, size_t m2_len);

void hmac_sha256_key_init(struct hmac_sha256_key *k, const uint8_t *key, size_t key_len);
/* HMAC(key, m1 || m2 || m3) under a schedule; k is not changed. Any part may be empty. */
void hmac_sha256_keyed(uint8_t out[static HMAC_SHA256_LEN], const struct hmac_sha256_key *k,
    const uint8_t *m1, size_t m1_len, const uint8_t *m2, size_t m2_len,
    const uint8_t *m3, size_t m3_len);
void hmac_sha256_key_wipe(struct hmac_sha256_key *k);

#endif
