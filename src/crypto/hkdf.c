#include "crypto/hkdf.h"

#include <string.h>
#include <sodium.h>

#include "crypto/hmac.h"

void
hkdf_sha256_extract(uint8_t prk[static HKDF_SHA256_PRK_LEN], const uint8_t *salt,
    size_t salt_len, const uint8_t *ikm, size_t ikm_len)
{
	static const uint8_t zero_salt[HKDF_SHA256_PRK_LEN];

	if (salt == NULL || salt_len == 0) {
		salt = zero_salt;
		salt_len = sizeof(zero_salt);
	}
	hmac_sha256(prk, salt, salt_len, ikm, ikm_len);
}

int
hkdf_sha256_expand(uint8_t *out, size_t out_len, const uint8_t *prk, size_t prk_len,
    const uint8_t *info, size_t info_len)
{
	crypto_auth_hmacsha256_state st;   /* SECRET */
	uint8_t t[HMAC_SHA256_LEN];        /* SECRET: T(i) */
	size_t done = 0, n;
	uint8_t ctr;

	if (out_len > HKDF_SHA256_MAX_OUT || (out == NULL && out_len > 0))
		return SOTTO_ERR_INVALID_ARG;
	for (ctr = 1; done < out_len; ctr++) {
		crypto_auth_hmacsha256_init(&st, prk, prk_len);
		if (ctr > 1)
			crypto_auth_hmacsha256_update(&st, t, sizeof(t));
		if (info_len > 0)
			crypto_auth_hmacsha256_update(&st, info, info_len);
		crypto_auth_hmacsha256_update(&st, &ctr, 1);
		crypto_auth_hmacsha256_final(&st, t);
		n = out_len - done < sizeof(t) ? out_len - done : sizeof(t);
		memcpy(out + done, t, n);
		done += n;
	}
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(t, sizeof(t));
	return 0;
}

int
hkdf_sha256(uint8_t *out, size_t out_len, const uint8_t *salt, size_t salt_len,
    const uint8_t *ikm, size_t ikm_len, const uint8_t *info, size_t info_len)
{
	uint8_t prk[HKDF_SHA256_PRK_LEN];  /* SECRET */
	int r;

	hkdf_sha256_extract(prk, salt, salt_len, ikm, ikm_len);
	r = hkdf_sha256_expand(out, out_len, prk, sizeof(prk), info, info_len);
	sodium_memzero(prk, sizeof(prk));
	return r;
}
