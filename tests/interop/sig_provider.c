#include "sig_provider.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static int
prov_random(uint8_t *data, size_t len, void *user_data)
{
	(void)user_data;
	randombytes_buf(data, len);
	return 0;
}

/* HMAC through EVP_MAC, the OpenSSL 3 interface (HMAC_CTX is deprecated). */
static int
prov_hmac_init(void **ctx, const uint8_t *key, size_t key_len, void *user_data)
{
	EVP_MAC *mac;
	EVP_MAC_CTX *c;
	OSSL_PARAM params[2];
	char digest[] = "SHA256";

	(void)user_data;
	*ctx = NULL;
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return SG_ERR_UNKNOWN;
	c = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	if (c == NULL)
		return SG_ERR_NOMEM;
	params[0] = OSSL_PARAM_construct_utf8_string("digest", digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(c, key, key_len, params) != 1) {
		EVP_MAC_CTX_free(c);
		return SG_ERR_UNKNOWN;
	}
	*ctx = c;
	return 0;
}

static int
prov_hmac_update(void *ctx, const uint8_t *data, size_t len, void *user_data)
{
	(void)user_data;
	return EVP_MAC_update(ctx, data, len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

static int
prov_hmac_final(void *ctx, signal_buffer **output, void *user_data)
{
	uint8_t md[32];
	size_t n = 0;
	signal_buffer *b;

	(void)user_data;
	if (EVP_MAC_final(ctx, md, &n, sizeof(md)) != 1 || n != sizeof(md))
		return SG_ERR_UNKNOWN;
	b = signal_buffer_create(md, n);
	sodium_memzero(md, sizeof(md));
	if (b == NULL)
		return SG_ERR_NOMEM;
	*output = b;
	return 0;
}

static void
prov_hmac_cleanup(void *ctx, void *user_data)
{
	(void)user_data;
	EVP_MAC_CTX_free(ctx);
}

static int
prov_sha512_init(void **ctx, void *user_data)
{
	EVP_MD_CTX *c;

	(void)user_data;
	if ((c = EVP_MD_CTX_new()) == NULL)
		return SG_ERR_NOMEM;
	if (EVP_DigestInit_ex(c, EVP_sha512(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		return SG_ERR_UNKNOWN;
	}
	*ctx = c;
	return 0;
}

static int
prov_sha512_update(void *ctx, const uint8_t *data, size_t len, void *user_data)
{
	(void)user_data;
	return EVP_DigestUpdate(ctx, data, len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

/* Finishes and re-initialises the context, as the callback's contract asks. */
static int
prov_sha512_final(void *ctx, signal_buffer **output, void *user_data)
{
	uint8_t md[64];
	unsigned int n = 0;
	signal_buffer *b;

	(void)user_data;
	if (EVP_DigestFinal_ex(ctx, md, &n) != 1 || n != sizeof(md))
		return SG_ERR_UNKNOWN;
	if (EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) != 1)
		return SG_ERR_UNKNOWN;
	if ((b = signal_buffer_create(md, n)) == NULL)
		return SG_ERR_NOMEM;
	*output = b;
	return 0;
}

static void
prov_sha512_cleanup(void *ctx, void *user_data)
{
	(void)user_data;
	EVP_MD_CTX_free(ctx);
}

static const EVP_CIPHER *
aes_cipher(int cipher, size_t key_len)
{
	if (cipher == SG_CIPHER_AES_CBC_PKCS5) {
		switch (key_len) {
		case 16: return EVP_aes_128_cbc();
		case 24: return EVP_aes_192_cbc();
		case 32: return EVP_aes_256_cbc();
		}
	} else if (cipher == SG_CIPHER_AES_CTR_NOPADDING) {
		switch (key_len) {
		case 16: return EVP_aes_128_ctr();
		case 24: return EVP_aes_192_ctr();
		case 32: return EVP_aes_256_ctr();
		}
	}
	return NULL;
}

static int
aes_run(signal_buffer **output, int cipher, int enc, const uint8_t *key, size_t key_len,
    const uint8_t *iv, size_t iv_len, const uint8_t *in, size_t in_len)
{
	const EVP_CIPHER *evp = aes_cipher(cipher, key_len);
	EVP_CIPHER_CTX *c = NULL;
	uint8_t *out = NULL;
	int n1 = 0, n2 = 0, r = SG_ERR_UNKNOWN;

	if (evp == NULL || iv_len != 16 || in_len > (size_t)INT32_MAX - 32)
		return SG_ERR_INVAL;
	if ((c = EVP_CIPHER_CTX_new()) == NULL || (out = malloc(in_len + 32)) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	if (EVP_CipherInit_ex(c, evp, NULL, key, iv, enc) != 1 ||
	    EVP_CIPHER_CTX_set_padding(c, cipher == SG_CIPHER_AES_CBC_PKCS5) != 1 ||
	    EVP_CipherUpdate(c, out, &n1, in, (int)in_len) != 1 ||
	    EVP_CipherFinal_ex(c, out + n1, &n2) != 1)
		goto out;
	if ((*output = signal_buffer_create(out, (size_t)n1 + (size_t)n2)) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	r = 0;
out:
	if (out != NULL) {
		sodium_memzero(out, in_len + 32);
		free(out);
	}
	EVP_CIPHER_CTX_free(c);
	return r;
}

static int
prov_encrypt(signal_buffer **output, int cipher, const uint8_t *key, size_t key_len,
    const uint8_t *iv, size_t iv_len, const uint8_t *pt, size_t pt_len, void *user_data)
{
	(void)user_data;
	return aes_run(output, cipher, 1, key, key_len, iv, iv_len, pt, pt_len);
}

static int
prov_decrypt(signal_buffer **output, int cipher, const uint8_t *key, size_t key_len,
    const uint8_t *iv, size_t iv_len, const uint8_t *ct, size_t ct_len, void *user_data)
{
	(void)user_data;
	return aes_run(output, cipher, 0, key, key_len, iv, iv_len, ct, ct_len);
}

void
sig_provider_init(signal_crypto_provider *p)
{
	memset(p, 0, sizeof(*p));
	p->random_func = prov_random;
	p->hmac_sha256_init_func = prov_hmac_init;
	p->hmac_sha256_update_func = prov_hmac_update;
	p->hmac_sha256_final_func = prov_hmac_final;
	p->hmac_sha256_cleanup_func = prov_hmac_cleanup;
	p->sha512_digest_init_func = prov_sha512_init;
	p->sha512_digest_update_func = prov_sha512_update;
	p->sha512_digest_final_func = prov_sha512_final;
	p->sha512_digest_cleanup_func = prov_sha512_cleanup;
	p->encrypt_func = prov_encrypt;
	p->decrypt_func = prov_decrypt;
	p->user_data = NULL;
}
