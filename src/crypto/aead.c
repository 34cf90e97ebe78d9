#include "crypto/aead.h"

#include <sodium.h>

int
aead_seal(uint8_t *ct, const uint8_t *pt, size_t pt_len, const uint8_t *ad, size_t ad_len,
    const uint8_t nonce[static AEAD_NONCE_LEN], const uint8_t key[static AEAD_KEY_LEN])
{
	unsigned long long clen = 0;

	if (crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &clen, pt, pt_len, ad, ad_len, NULL,
	    nonce, key) != 0)
		return SOTTO_ERR_CRYPTO;
	return 0;
}

int
aead_open(uint8_t *pt, const uint8_t *ct, size_t ct_len, const uint8_t *ad, size_t ad_len,
    const uint8_t nonce[static AEAD_NONCE_LEN], const uint8_t key[static AEAD_KEY_LEN])
{
	unsigned long long plen = 0;

	if (ct_len < AEAD_TAG_LEN)
		return SOTTO_ERR_TRUNCATED;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &plen, NULL, ct, ct_len, ad, ad_len,
	    nonce, key) != 0) {
		if (ct_len > AEAD_TAG_LEN)
			sodium_memzero(pt, ct_len - AEAD_TAG_LEN);
		return SOTTO_ERR_DECRYPT;
	}
	return 0;
}
