/*
 * Noise's hash-based functions for BLAKE2b: HMAC with a 128-byte block (RFC 2104) and the
 * HKDF of the Noise specification, section 4.3. HMAC keys (the chaining key and the HKDF
 * temporary key) are secret; every intermediate is wiped.
 */
#include "wire/noise.h"

#include <string.h>

#include <sodium.h>

#define BLAKE2B_BLOCK_LEN 128

_Static_assert(NOISE_HASH_LEN == crypto_generichash_blake2b_BYTES_MAX, "BLAKE2b-512");

void
noise_hmac_blake2b(uint8_t out[NOISE_HASH_LEN], const uint8_t *key, size_t key_len,
    const uint8_t *msg, size_t msg_len)
{
	crypto_generichash_blake2b_state st;
	uint8_t k[BLAKE2B_BLOCK_LEN];
	uint8_t pad[BLAKE2B_BLOCK_LEN];
	uint8_t inner[NOISE_HASH_LEN];
	size_t i;

	memset(k, 0, sizeof(k));
	if (key_len > BLAKE2B_BLOCK_LEN)
		crypto_generichash_blake2b(k, NOISE_HASH_LEN, key, key_len, NULL, 0);
	else if (key_len > 0)
		memcpy(k, key, key_len);

	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x36;
	crypto_generichash_blake2b_init(&st, NULL, 0, NOISE_HASH_LEN);
	crypto_generichash_blake2b_update(&st, pad, sizeof(pad));
	crypto_generichash_blake2b_update(&st, msg, msg_len);
	crypto_generichash_blake2b_final(&st, inner, sizeof(inner));

	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x5c;
	crypto_generichash_blake2b_init(&st, NULL, 0, NOISE_HASH_LEN);
	crypto_generichash_blake2b_update(&st, pad, sizeof(pad));
	crypto_generichash_blake2b_update(&st, inner, sizeof(inner));
	crypto_generichash_blake2b_final(&st, out, NOISE_HASH_LEN);

	sodium_memzero(k, sizeof(k));
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
	sodium_memzero(&st, sizeof(st));
}

void
noise_hkdf(const uint8_t ck[NOISE_HASH_LEN], const uint8_t *ikm, size_t ikm_len,
    uint8_t out1[NOISE_HASH_LEN], uint8_t out2[NOISE_HASH_LEN], uint8_t out3[NOISE_HASH_LEN])
{
	uint8_t temp[NOISE_HASH_LEN];
	uint8_t in[NOISE_HASH_LEN + 1];

	noise_hmac_blake2b(temp, ck, NOISE_HASH_LEN, ikm, ikm_len);
	in[0] = 0x01;
	noise_hmac_blake2b(out1, temp, sizeof(temp), in, 1);
	if (out2 != NULL) {
		memcpy(in, out1, NOISE_HASH_LEN);
		in[NOISE_HASH_LEN] = 0x02;
		noise_hmac_blake2b(out2, temp, sizeof(temp), in, sizeof(in));
	}
	if (out2 != NULL && out3 != NULL) {
		memcpy(in, out2, NOISE_HASH_LEN);
		in[NOISE_HASH_LEN] = 0x03;
		noise_hmac_blake2b(out3, temp, sizeof(temp), in, sizeof(in));
	}
	sodium_memzero(temp, sizeof(temp));
	sodium_memzero(in, sizeof(in));
}

/* ChaChaPoly nonce: 32 zero bits, then the 64-bit counter little-endian. */
static void
noise_nonce(uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES], uint64_t n)
{
	size_t i;

	memset(nonce, 0, 4);
	for (i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

int
noise_encrypt(struct noise_cipher *c, const uint8_t *ad, size_t ad_len,
    const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	unsigned long long clen = 0;

	if (!c->has_key)
		return SOTTO_ERR_STATE;
	if (c->n == UINT64_MAX)
		return SOTTO_ERR_LIMIT;
	if (len > NOISE_PAYLOAD_MAX)
		return SOTTO_ERR_TOO_LARGE;
	noise_nonce(nonce, c->n);
	if (crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, in, len, ad, ad_len, NULL,
	    nonce, c->k) != 0)
		return SOTTO_ERR_CRYPTO;
	c->n++;
	return 0;
}

int
noise_decrypt(struct noise_cipher *c, const uint8_t *ad, size_t ad_len,
    const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	unsigned long long mlen = 0;

	if (!c->has_key)
		return SOTTO_ERR_STATE;
	if (c->n == UINT64_MAX)
		return SOTTO_ERR_LIMIT;
	if (len < NOISE_TAG_LEN)
		return SOTTO_ERR_TRUNCATED;
	if (len > NOISE_MSG_MAX)
		return SOTTO_ERR_TOO_LARGE;
	noise_nonce(nonce, c->n);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &mlen, NULL, in, len, ad, ad_len,
	    nonce, c->k) != 0)
		return SOTTO_ERR_DECRYPT;
	c->n++;
	return 0;
}

void
noise_transport_wipe(struct noise_transport *t)
{
	sodium_memzero(t, sizeof(*t));
}
