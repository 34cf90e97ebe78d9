/*
 * RFC 9420 section 5 and 8 primitives (src/mls/crypto.c) on crypto-basics.json: RefHash,
 * ExpandWithLabel, DeriveSecret, DeriveTreeSecret, SignWithLabel (byte-exact, Ed25519 is
 * deterministic) and VerifyWithLabel, EncryptWithLabel/DecryptWithLabel; then the rejects.
 */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "check.h"
#include "mls_vectors.h"
#include "crypto/init.h"
#include "crypto/sign.h"
#include "mls/crypto.h"
#include "mls/hpke.h"

static const char *
label_of(const json_t *o)
{
	return json_string_value(json_object_get(o, "label"));
}

static int
ref_hash(const json_t *o)
{
	size_t n;
	uint8_t *value = mls_vec_hex(o, "value", &n), out[MLS_HASH_LEN];
	int ok = value != NULL && label_of(o) != NULL;

	VCHECK(ok, ok && mls_ref_hash(out, label_of(o), value, n) == 0);
	ok = ok && mls_vec_eq(o, "out", out, sizeof(out));
	free(value);
	return ok;
}

static int
expand_with_label(const json_t *o)
{
	size_t n;
	uint8_t secret[MLS_HASH_LEN], *context = mls_vec_hex(o, "context", &n), out[255];
	int ok = context != NULL && label_of(o) != NULL &&
	    mls_vec_hex_fixed(o, "secret", secret, sizeof(secret)) == 0;
	uint64_t len = mls_vec_uint(o, "length", &ok);

	VCHECK(ok, ok && len <= sizeof(out) &&
	    mls_expand_with_label(out, len, secret, label_of(o), context, n) == 0);
	ok = ok && mls_vec_eq(o, "out", out, len);
	free(context);
	return ok;
}

static int
derive_secret(const json_t *o)
{
	uint8_t secret[MLS_HASH_LEN], out[MLS_HASH_LEN];
	int ok = label_of(o) != NULL && mls_vec_hex_fixed(o, "secret", secret, sizeof(secret)) == 0;

	VCHECK(ok, ok && mls_derive_secret(out, secret, label_of(o)) == 0);
	return ok && mls_vec_eq(o, "out", out, sizeof(out));
}

static int
derive_tree_secret(const json_t *o)
{
	uint8_t secret[MLS_HASH_LEN], out[255];
	int ok = label_of(o) != NULL && mls_vec_hex_fixed(o, "secret", secret, sizeof(secret)) == 0;
	uint64_t gen = mls_vec_uint(o, "generation", &ok), len = mls_vec_uint(o, "length", &ok);

	VCHECK(ok, ok && gen <= UINT32_MAX && len <= sizeof(out) &&
	    mls_derive_tree_secret(out, len, secret, label_of(o), (uint32_t)gen) == 0);
	return ok && mls_vec_eq(o, "out", out, len);
}

static int
sign_with_label(const json_t *o)
{
	uint8_t seed[SIGN_SEED_LEN], pub[SIGN_PUBLIC_LEN], sec[SIGN_SECRET_LEN];
	uint8_t sig[MLS_SIG_LEN], want[MLS_SIG_LEN];
	size_t n;
	uint8_t *content = mls_vec_hex(o, "content", &n);
	int ok = content != NULL && label_of(o) != NULL &&
	    mls_vec_hex_fixed(o, "priv", seed, sizeof(seed)) == 0 &&
	    mls_vec_hex_fixed(o, "signature", want, sizeof(want)) == 0;

	VCHECK(ok, ok && sign_seed_keypair(pub, sec, seed) == 0);
	ok = ok && mls_vec_eq(o, "pub", pub, sizeof(pub));
	VCHECK(ok, ok && mls_sign_with_label(sig, sec, label_of(o), content, n) == 0);
	ok = ok && mls_vec_eq(o, "signature", sig, sizeof(sig));
	VCHECK(ok, ok && mls_verify_with_label(want, pub, label_of(o), content, n) == 0);
	/* Another label, or a changed byte, does not verify. */
	VCHECK(ok, ok && mls_verify_with_label(want, pub, "SignWithLabeL", content, n) ==
	    SOTTO_ERR_BAD_SIGNATURE);
	want[10] ^= 0x40;
	VCHECK(ok, ok && mls_verify_with_label(want, pub, label_of(o), content, n) ==
	    SOTTO_ERR_BAD_SIGNATURE);
	sodium_memzero(sec, sizeof(sec));
	free(content);
	return ok;
}

static int
encrypt_with_label(const json_t *o)
{
	uint8_t priv[MLS_KEM_SECRET_LEN], pub[MLS_KEM_PUBLIC_LEN], kem[MLS_KEM_PUBLIC_LEN];
	uint8_t h[MLS_HASH_LEN];
	size_t ctx_len, pt_len, ct_len;
	uint8_t *context = mls_vec_hex(o, "context", &ctx_len);
	uint8_t *pt = mls_vec_hex(o, "plaintext", &pt_len), *ct = mls_vec_hex(o, "ciphertext", &ct_len);
	uint8_t *got = NULL, *ct2 = NULL;
	const char *label = label_of(o);
	int ok = context != NULL && pt != NULL && ct != NULL && label != NULL &&
	    mls_vec_hex_fixed(o, "priv", priv, sizeof(priv)) == 0 &&
	    mls_vec_hex_fixed(o, "pub", pub, sizeof(pub)) == 0 &&
	    mls_vec_hex_fixed(o, "kem_output", kem, sizeof(kem)) == 0;

	if (!ok)
		goto out;
	VCHECK(ok, ct_len == pt_len + MLS_AEAD_TAG_LEN);
	got = malloc(ct_len + 1);
	ct2 = malloc(pt_len + MLS_AEAD_TAG_LEN);
	if (!ok || got == NULL || ct2 == NULL) {
		ok = 0;
		goto out;
	}
	/* The vector's ciphertext opens to its plaintext. */
	VCHECK(ok, mls_decrypt_with_label(got, priv, label, context, ctx_len, kem, ct, ct_len) == 0);
	VCHECK(ok, memcmp(got, pt, pt_len) == 0);
	/* Encryption is randomised: ours must open too, and not under another label. */
	VCHECK(ok, mls_encrypt_with_label(kem, ct2, pub, label, context, ctx_len, pt, pt_len) == 0);
	VCHECK(ok, mls_decrypt_with_label(got, priv, label, context, ctx_len, kem, ct2, ct_len) == 0);
	VCHECK(ok, memcmp(got, pt, pt_len) == 0);
	VCHECK(ok, mls_decrypt_with_label(got, priv, "EncryptWithLabeL", context, ctx_len, kem, ct2,
	    ct_len) == SOTTO_ERR_DECRYPT);
	VCHECK(ok, ctx_len > 0 && mls_decrypt_with_label(got, priv, label, context, ctx_len - 1,
	    kem, ct2, ct_len) == SOTTO_ERR_DECRYPT);
	/* In two steps (the context hashed once for many recipients): the same opens; the hash
	 * of another context does not. */
	VCHECK(ok, mls_encrypt_context_hash(h, label, context, ctx_len) == 0);
	VCHECK(ok, mls_encrypt_with_label_hashed(kem, ct2, pub, h, pt, pt_len) == 0);
	VCHECK(ok, mls_decrypt_with_label(got, priv, label, context, ctx_len, kem, ct2, ct_len) == 0);
	VCHECK(ok, memcmp(got, pt, pt_len) == 0);
	VCHECK(ok, ctx_len > 0 && mls_encrypt_context_hash(h, label, context, ctx_len - 1) == 0);
	VCHECK(ok, mls_encrypt_with_label_hashed(kem, ct2, pub, h, pt, pt_len) == 0);
	VCHECK(ok, mls_decrypt_with_label(got, priv, label, context, ctx_len, kem, ct2,
	    ct_len) == SOTTO_ERR_DECRYPT);
out:
	sodium_memzero(priv, sizeof(priv));
	free(context);
	free(pt);
	free(ct);
	free(got);
	free(ct2);
	return ok;
}

static int
crypto_basics_entry(const json_t *e, size_t idx)
{
	int ok = 1;
	(void)idx;

	VCHECK(ok, mls_vec_uint(e, "cipher_suite", &ok) == 3);
	ok &= ref_hash(json_object_get(e, "ref_hash"));
	ok &= expand_with_label(json_object_get(e, "expand_with_label"));
	ok &= derive_secret(json_object_get(e, "derive_secret"));
	ok &= derive_tree_secret(json_object_get(e, "derive_tree_secret"));
	ok &= sign_with_label(json_object_get(e, "sign_with_label"));
	ok &= encrypt_with_label(json_object_get(e, "encrypt_with_label"));
	return ok;
}

TEST(rejects)
{
	uint8_t secret[MLS_HASH_LEN] = { 1 }, out[MLS_HASH_LEN], pt[4];
	uint8_t sk[MLS_KEM_SECRET_LEN] = { 9 }, kem[MLS_KEM_PUBLIC_LEN] = { 0 }, ct[MLS_AEAD_TAG_LEN + 4] = { 0 };
	char long_label[MLS_LABEL_MAX + 2];

	memset(long_label, 'a', sizeof(long_label) - 1);
	long_label[sizeof(long_label) - 1] = '\0';
	CHECK_EQ_INT(mls_derive_secret(out, secret, long_label), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(mls_expand_with_label(out, 65536, secret, "x", NULL, 0), SOTTO_ERR_INVALID_ARG);
	/* A kem_output of zero (small order) is refused before any decryption. */
	CHECK_EQ_INT(mls_decrypt_with_label(pt, sk, "x", NULL, 0, kem, ct, sizeof(ct)), SOTTO_ERR_CRYPTO);
	CHECK_EQ_INT(mls_decrypt_with_label(pt, sk, "x", NULL, 0, kem, ct, MLS_AEAD_TAG_LEN - 1),
	    SOTTO_ERR_TRUNCATED);
}

int
main(void)
{
	if (sotto_crypto_init() != 0)
		return 1;
	mls_vec_run("crypto-basics.json", 1, crypto_basics_entry);
	RUN(rejects);
	return check_summary();
}
