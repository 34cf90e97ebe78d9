#include "xeddsa.h"

#include <openssl/bn.h>
#include <sodium.h>
#include <string.h>

/* hash_1(X) = SHA-512(0xFE || 0xFF * 31 || X), the spec's domain-separated nonce hash. */
static void
nonce_hash(uint8_t out[64], const uint8_t a[32], const uint8_t *msg, size_t msg_len,
    const uint8_t z[64])
{
	crypto_hash_sha512_state st;
	uint8_t prefix[32];

	memset(prefix, 0xFF, sizeof(prefix));
	prefix[0] = 0xFE;
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, prefix, sizeof(prefix));
	crypto_hash_sha512_update(&st, a, 32);
	crypto_hash_sha512_update(&st, msg, msg_len);
	crypto_hash_sha512_update(&st, z, 64);
	crypto_hash_sha512_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

int
xeddsa_sign(uint8_t sig[XEDDSA_SIG_LEN], const uint8_t k[32], const uint8_t *msg,
    size_t msg_len)
{
	/* Secret: kwide, a, z, wide (the nonce hash), r. */
	uint8_t kwide[64], a[32], E[32], A[32], z[64], wide[64], r[32], R[32], h[32], s[32];
	crypto_hash_sha512_state st;
	int ret = SOTTO_ERR_CRYPTO;

	memset(kwide, 0, sizeof(kwide));
	memcpy(kwide, k, 32);
	kwide[0] &= 248;
	kwide[31] &= 127;
	kwide[31] |= 64;
	/* calculate_key_pair: E = kB; a = k or -k so that A = aB has sign bit 0. */
	if (crypto_scalarmult_ed25519_base_noclamp(E, kwide) != 0)
		goto out;
	crypto_core_ed25519_scalar_reduce(a, kwide);
	if (E[31] & 0x80)
		crypto_core_ed25519_scalar_negate(a, a);
	memcpy(A, E, 32);
	A[31] &= 0x7F;

	randombytes_buf(z, sizeof(z));
	nonce_hash(wide, a, msg, msg_len, z);
	crypto_core_ed25519_scalar_reduce(r, wide);
	if (crypto_scalarmult_ed25519_base_noclamp(R, r) != 0)
		goto out;

	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, R, 32);
	crypto_hash_sha512_update(&st, A, 32);
	crypto_hash_sha512_update(&st, msg, msg_len);
	crypto_hash_sha512_final(&st, wide);
	crypto_core_ed25519_scalar_reduce(h, wide);
	crypto_core_ed25519_scalar_mul(s, h, a);
	crypto_core_ed25519_scalar_add(s, s, r);

	memcpy(sig, R, 32);
	memcpy(sig + 32, s, 32);
	ret = 0;
out:
	sodium_memzero(kwide, sizeof(kwide));
	sodium_memzero(a, sizeof(a));
	sodium_memzero(z, sizeof(z));
	sodium_memzero(wide, sizeof(wide));
	sodium_memzero(r, sizeof(r));
	sodium_memzero(&st, sizeof(st));
	return ret;
}

/* y = (u - 1) / (u + 1) mod p, p = 2^255 - 19; rejects u >= p and u = p - 1. Public data
 * only, so OpenSSL's variable-time bignums are fine here. */
int
xeddsa_mont_to_edwards(uint8_t ed[32], const uint8_t u[32])
{
	uint8_t be[32];
	BN_CTX *ctx = BN_CTX_new();
	BIGNUM *p = BN_new(), *x = BN_new(), *num = BN_new(), *den = BN_new(), *y = BN_new();
	int i, r = SOTTO_ERR_BAD_KEY;

	if (ctx == NULL || p == NULL || x == NULL || num == NULL || den == NULL || y == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < 32; i++)
		be[i] = u[31 - i];
	be[0] &= 0x7F;          /* as X25519 does, the top bit of u is ignored */
	if (BN_bin2bn(be, 32, x) == NULL || BN_set_word(p, 1) != 1 ||
	    BN_lshift(p, p, 255) != 1 || BN_sub_word(p, 19) != 1)
		goto out;
	if (BN_cmp(x, p) >= 0)
		goto out;
	if (BN_copy(num, x) == NULL || BN_copy(den, x) == NULL ||
	    BN_add_word(den, 1) != 1 || BN_cmp(den, p) == 0)
		goto out;
	if (BN_mod_sub(num, x, BN_value_one(), p, ctx) != 1 ||
	    BN_mod_inverse(den, den, p, ctx) == NULL ||
	    BN_mod_mul(y, num, den, p, ctx) != 1 ||
	    BN_bn2lebinpad(y, ed, 32) != 32)
		goto out;
	r = 0;
out:
	BN_free(p);
	BN_free(x);
	BN_free(num);
	BN_free(den);
	BN_free(y);
	BN_CTX_free(ctx);
	return r;
}

int
xeddsa_verify(const uint8_t sig[XEDDSA_SIG_LEN], const uint8_t u[32], const uint8_t *msg,
    size_t msg_len)
{
	uint8_t A[32], s2[XEDDSA_SIG_LEN];
	int r;

	if ((r = xeddsa_mont_to_edwards(A, u)) != 0)
		return r;
	memcpy(s2, sig, sizeof(s2));
	A[31] |= s2[63] & 0x80;
	s2[63] &= 0x7F;
	if (crypto_sign_verify_detached(s2, msg, msg_len, A) != 0)
		return SOTTO_ERR_BAD_SIGNATURE;
	return 0;
}
