/*
 * HKDF-SHA256 with as few SHA-256 compressions as the bytes allow: the all-zero salt's HMAC
 * schedule is computed once per process, and one schedule per PRK serves every expand block.
 */
#include "crypto/hkdf.h"

#include <pthread.h>
#include <string.h>
#include <sodium.h>

#include "crypto/hmac.h"

/* Not secret: the schedule of the RFC's default salt, HashLen zero bytes. */
static struct hmac_sha256_key zero_salt_key;
static pthread_once_t zero_salt_once = PTHREAD_ONCE_INIT;

static void
zero_salt_init(void)
{
	static const uint8_t zero_salt[HKDF_SHA256_PRK_LEN];

	hmac_sha256_key_init(&zero_salt_key, zero_salt, sizeof(zero_salt));
}

void
hkdf_sha256_extract(uint8_t prk[static HKDF_SHA256_PRK_LEN], const uint8_t *salt,
    size_t salt_len, const uint8_t *ikm, size_t ikm_len)
{
	if (salt == NULL || salt_len == 0) {
		(void)pthread_once(&zero_salt_once, zero_salt_init);
		hmac_sha256_keyed(prk, &zero_salt_key, ikm, ikm_len, NULL, 0, NULL, 0);
		return;
	}
	hmac_sha256(prk, salt, salt_len, ikm, ikm_len);
}

int
hkdf_sha256_expand(uint8_t *out, size_t out_len, const uint8_t *prk, size_t prk_len,
    const uint8_t *info, size_t info_len)
{
	struct hmac_sha256_key k;          /* SECRET: schedule of the PRK */
	uint8_t t[HMAC_SHA256_LEN];        /* SECRET: T(i) */
	size_t done = 0, n;
	uint8_t ctr;

	if (out_len > HKDF_SHA256_MAX_OUT || (out == NULL && out_len > 0))
		return SOTTO_ERR_INVALID_ARG;
	if (out_len == 0)
		return 0;
	hmac_sha256_key_init(&k, prk, prk_len);
	for (ctr = 1; done < out_len; ctr++) {
		/* T(i) = HMAC(PRK, T(i-1) || info || i), T(0) empty */
		hmac_sha256_keyed(t, &k, t, ctr > 1 ? sizeof(t) : 0, info, info_len, &ctr, 1);
		n = out_len - done < sizeof(t) ? out_len - done : sizeof(t);
		memcpy(out + done, t, n);
		done += n;
	}
	hmac_sha256_key_wipe(&k);
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
