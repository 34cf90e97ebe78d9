#include "crypto/safety.h"

#include <stdio.h>
#include <string.h>
#include <sodium.h>

int
safety_party_digits(char out[static SAFETY_PARTY_DIGITS + 1], const uint8_t *key,
    size_t key_len, const uint8_t *id, size_t id_len, unsigned iterations)
{
	crypto_hash_sha512_state st;
	uint8_t h[crypto_hash_sha512_BYTES];
	const uint8_t version[2] = { 0, SAFETY_VERSION };
	unsigned i;
	int k;

	out[0] = '\0';
	if (key == NULL || key_len == 0 || key_len > SAFETY_KEY_MAX || id_len > SAFETY_ID_MAX ||
	    (id == NULL && id_len > 0) || iterations == 0)
		return SOTTO_ERR_INVALID_ARG;
	/* Round 1 hashes version || key || id || key; every later round hash || key. */
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, version, sizeof(version));
	crypto_hash_sha512_update(&st, key, key_len);
	if (id_len > 0)
		crypto_hash_sha512_update(&st, id, id_len);
	crypto_hash_sha512_update(&st, key, key_len);
	crypto_hash_sha512_final(&st, h);
	for (i = 1; i < iterations; i++) {
		crypto_hash_sha512_init(&st);
		crypto_hash_sha512_update(&st, h, sizeof(h));
		crypto_hash_sha512_update(&st, key, key_len);
		crypto_hash_sha512_final(&st, h);
	}
	for (k = 0; k < SAFETY_PARTY_DIGITS / 5; k++) {
		const uint8_t *c = h + 5 * k;
		uint64_t v = (uint64_t)c[0] << 32 | (uint64_t)c[1] << 24 | (uint64_t)c[2] << 16 |
		    (uint64_t)c[3] << 8 | c[4];

		snprintf(out + 5 * k, 6, "%05u", (unsigned)(v % 100000));
	}
	return 0;
}

int
safety_number(char out[static SAFETY_DIGITS + 1], const uint8_t *local_key,
    size_t local_key_len, const uint8_t *local_id, size_t local_id_len,
    const uint8_t *remote_key, size_t remote_key_len, const uint8_t *remote_id,
    size_t remote_id_len, unsigned iterations)
{
	char l[SAFETY_PARTY_DIGITS + 1], r[SAFETY_PARTY_DIGITS + 1];
	int err;

	out[0] = '\0';
	if ((err = safety_party_digits(l, local_key, local_key_len, local_id, local_id_len,
	    iterations)) != 0 ||
	    (err = safety_party_digits(r, remote_key, remote_key_len, remote_id, remote_id_len,
	    iterations)) != 0)
		return err;
	/* Smaller first: both parties compute the same string. */
	if (strcmp(l, r) <= 0)
		snprintf(out, SAFETY_DIGITS + 1, "%s%s", l, r);
	else
		snprintf(out, SAFETY_DIGITS + 1, "%s%s", r, l);
	return 0;
}

void
safety_format(char out[static SAFETY_FORMATTED_LEN + 1], const char digits[static SAFETY_DIGITS + 1])
{
	size_t g, o = 0;

	for (g = 0; g < SAFETY_DIGITS / 5; g++) {
		if (g > 0)
			out[o++] = ' ';
		memcpy(out + o, digits + 5 * g, 5);
		o += 5;
	}
	out[o] = '\0';
}
