#include "crypto/hmac.h"

#include <sodium.h>

void
hmac_sha256_key_init(struct hmac_sha256_key *k, const uint8_t *key, size_t key_len)
{
	crypto_auth_hmacsha256_init(&k->st, key, key_len);
}

void
hmac_sha256_keyed(uint8_t out[static HMAC_SHA256_LEN], const struct hmac_sha256_key *k,
    const uint8_t *m1, size_t m1_len, const uint8_t *m2, size_t m2_len,
    const uint8_t *m3, size_t m3_len)
{
	crypto_auth_hmacsha256_state st = k->st;   /* SECRET: keyed state */

	if (m1_len > 0)
		crypto_auth_hmacsha256_update(&st, m1, m1_len);
	if (m2_len > 0)
		crypto_auth_hmacsha256_update(&st, m2, m2_len);
	if (m3_len > 0)
		crypto_auth_hmacsha256_update(&st, m3, m3_len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

void
hmac_sha256_key_wipe(struct hmac_sha256_key *k)
{
	sodium_memzero(k, sizeof(*k));
}

void
hmac_sha256_2(uint8_t out[static HMAC_SHA256_LEN], const uint8_t *key, size_t key_len,
    const uint8_t *m1, size_t m1_len, const uint8_t *m2, size_t m2_len)
{
	crypto_auth_hmacsha256_state st;   /* SECRET: keyed state */

	crypto_auth_hmacsha256_init(&st, key, key_len);
	if (m1_len > 0)
		crypto_auth_hmacsha256_update(&st, m1, m1_len);
	if (m2_len > 0)
		crypto_auth_hmacsha256_update(&st, m2, m2_len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

void
hmac_sha256(uint8_t out[static HMAC_SHA256_LEN], const uint8_t *key, size_t key_len,
    const uint8_t *msg, size_t msg_len)
{
	hmac_sha256_2(out, key, key_len, msg, msg_len, NULL, 0);
}
