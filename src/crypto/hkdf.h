/* HKDF-SHA256 (RFC 5869) over HMAC-SHA256. */
#ifndef SOTTO_CRYPTO_HKDF_H
#define SOTTO_CRYPTO_HKDF_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"

#define HKDF_SHA256_PRK_LEN 32
#define HKDF_SHA256_MAX_OUT (255 * 32)

/* salt may be NULL/0 (then HashLen zero bytes, as the RFC says). */
void hkdf_sha256_extract(uint8_t prk[static HKDF_SHA256_PRK_LEN], const uint8_t *salt,
    size_t salt_len, const uint8_t *ikm, size_t ikm_len);
/* Fails with SOTTO_ERR_INVALID_ARG if out_len > HKDF_SHA256_MAX_OUT. */
int hkdf_sha256_expand(uint8_t *out, size_t out_len, const uint8_t *prk, size_t prk_len,
    const uint8_t *info, size_t info_len) SOTTO_MUST_CHECK;
/* Extract then expand; the PRK is wiped. */
int hkdf_sha256(uint8_t *out, size_t out_len, const uint8_t *salt, size_t salt_len,
    const uint8_t *ikm, size_t ikm_len, const uint8_t *info, size_t info_len) SOTTO_MUST_CHECK;

#endif
