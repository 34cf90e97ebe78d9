/*
 * HPKE base mode, RFC 9180 sections 4 (DHKEM), 5.1 (key schedule), 5.2 (encryption) and
 * 5.3 (export), for DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305.
 */
#include "mls/hpke.h"

#include <string.h>
#include <sodium.h>

#include "base/buf.h"
#include "crypto/dh.h"
#include "crypto/hkdf.h"
#include "crypto/hmac.h"
#include "crypto/init.h"

#define KEM_ID 0x0020
#define KDF_ID 0x0001
#define AEAD_ID 0x0003
#define MODE_BASE 0x00

/* suite_id: "KEM" || I2OSP(kem_id, 2) for the KEM, "HPKE" || kem || kdf || aead else. */
static const uint8_t kem_suite[] = { 'K', 'E', 'M', KEM_ID >> 8, KEM_ID & 0xff };
static const uint8_t hpke_suite[] = { 'H', 'P', 'K', 'E', KEM_ID >> 8, KEM_ID & 0xff,
	KDF_ID >> 8, KDF_ID & 0xff, AEAD_ID >> 8, AEAD_ID & 0xff };
#define SUITE_MAX sizeof(hpke_suite)
#define VERSION_LABEL "HPKE-v1"
#define LABEL_MAX 32    /* the longest label below is "shared_secret" */

struct suite {
	const uint8_t *id;
	size_t len;
};

static const struct suite kem = { kem_suite, sizeof(kem_suite) };
static const struct suite hpke = { hpke_suite, sizeof(hpke_suite) };

/* "HPKE-v1" || suite_id || label into prefix; returns its length. Not secret. */
static size_t
labeled_prefix(uint8_t prefix[static sizeof(VERSION_LABEL) + SUITE_MAX + LABEL_MAX],
    const struct suite *s, const char *label)
{
	size_t v = sizeof(VERSION_LABEL) - 1, l = strlen(label);

	memcpy(prefix, VERSION_LABEL, v);
	memcpy(prefix + v, s->id, s->len);
	memcpy(prefix + v + s->len, label, l);
	return v + s->len + l;
}

/* LabeledExtract(salt, label, ikm) = Extract(salt, "HPKE-v1" || suite_id || label || ikm),
 * fed to HMAC in two parts. prk is SECRET. */
static void
labeled_extract(uint8_t prk[static MLS_HASH_LEN], const struct suite *s, const uint8_t *salt,
    size_t salt_len, const char *label, const uint8_t *ikm, size_t ikm_len)
{
	static const uint8_t empty_salt[1];     /* the HMAC key "" needs a pointer too */
	uint8_t prefix[sizeof(VERSION_LABEL) + SUITE_MAX + LABEL_MAX];
	size_t n = labeled_prefix(prefix, s, label);

	if (salt == NULL)
		salt = empty_salt;
	hmac_sha256_2(prk, salt, salt_len, prefix, n, ikm, ikm_len);
}

/* LabeledExpand(prk, label, info, L) = Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id ||
 * label || info, L). out is SECRET. */
static int
labeled_expand(uint8_t *out, size_t out_len, const struct suite *s, const uint8_t *prk,
    const char *label, const uint8_t *info, size_t info_len)
{
	uint8_t prefix[sizeof(VERSION_LABEL) + SUITE_MAX + LABEL_MAX];
	size_t n = labeled_prefix(prefix, s, label);
	struct buf full;
	int r;

	if (out_len > MLS_HPKE_EXPORT_MAX || info_len > MLS_HPKE_INPUT_MAX)
		return SOTTO_ERR_INVALID_ARG;
	buf_init_dyn(&full, 2 + n + info_len);
	buf_u16(&full, (uint16_t)out_len);
	buf_put(&full, prefix, n);
	buf_put(&full, info, info_len);
	if ((r = buf_status(&full)) == 0)
		r = hkdf_sha256_expand(out, out_len, prk, MLS_HASH_LEN, full.p, full.len);
	buf_wipe_free(&full);   /* the exporter context may be a caller's secret */
	return r;
}

int
mls_hpke_derive_keypair(uint8_t pk[static MLS_KEM_PUBLIC_LEN],
    uint8_t sk[static MLS_KEM_SECRET_LEN], const uint8_t *ikm, size_t ikm_len)
{
	uint8_t dkp_prk[MLS_HASH_LEN];     /* SECRET */
	int r;

	if ((r = sotto_crypto_init()) != 0)
		return r;
	labeled_extract(dkp_prk, &kem, NULL, 0, "dkp_prk", ikm, ikm_len);
	if ((r = labeled_expand(sk, MLS_KEM_SECRET_LEN, &kem, dkp_prk, "sk", NULL, 0)) != 0)
		goto out;
	r = dh_public(pk, sk);
out:
	sodium_memzero(dkp_prk, sizeof(dkp_prk));
	if (r != 0)
		sodium_memzero(sk, MLS_KEM_SECRET_LEN);
	return r;
}

/* ExtractAndExpand(dh, kem_context) with kem_context = enc || pkRm. shared is SECRET. */
static int
kem_shared_secret(uint8_t shared[static MLS_KEM_SHARED_LEN], const uint8_t dh[static DH_SHARED_LEN],
    const uint8_t enc[static MLS_HPKE_ENC_LEN], const uint8_t pk_r[static MLS_KEM_PUBLIC_LEN])
{
	uint8_t eae_prk[MLS_HASH_LEN];     /* SECRET */
	uint8_t kem_context[MLS_HPKE_ENC_LEN + MLS_KEM_PUBLIC_LEN];
	int r;

	memcpy(kem_context, enc, MLS_HPKE_ENC_LEN);
	memcpy(kem_context + MLS_HPKE_ENC_LEN, pk_r, MLS_KEM_PUBLIC_LEN);
	labeled_extract(eae_prk, &kem, NULL, 0, "eae_prk", dh, DH_SHARED_LEN);
	r = labeled_expand(shared, MLS_KEM_SHARED_LEN, &kem, eae_prk, "shared_secret",
	    kem_context, sizeof(kem_context));
	sodium_memzero(eae_prk, sizeof(eae_prk));
	return r;
}

int
mls_hpke_info_hash(uint8_t out[static MLS_HASH_LEN], const uint8_t *info, size_t info_len)
{
	if (info_len > MLS_HPKE_INPUT_MAX)
		return SOTTO_ERR_INVALID_ARG;
	labeled_extract(out, &hpke, NULL, 0, "info_hash", info, info_len);
	return 0;
}

/* KeySchedule for mode_base (empty psk and psk_id), section 5.1, from info's hash. */
static int
key_schedule(struct mls_hpke_ctx *ctx, const uint8_t shared[static MLS_KEM_SHARED_LEN],
    const uint8_t info_hash[static MLS_HASH_LEN])
{
	uint8_t ksc[1 + 2 * MLS_HASH_LEN];  /* mode || psk_id_hash || info_hash; not secret */
	uint8_t secret[MLS_HASH_LEN];       /* SECRET */
	int r;

	ksc[0] = MODE_BASE;
	labeled_extract(ksc + 1, &hpke, NULL, 0, "psk_id_hash", NULL, 0);
	memcpy(ksc + 1 + MLS_HASH_LEN, info_hash, MLS_HASH_LEN);
	labeled_extract(secret, &hpke, shared, MLS_KEM_SHARED_LEN, "secret", NULL, 0);
	if ((r = labeled_expand(ctx->key, sizeof(ctx->key), &hpke, secret, "key", ksc,
	    sizeof(ksc))) != 0 ||
	    (r = labeled_expand(ctx->base_nonce, sizeof(ctx->base_nonce), &hpke, secret,
	    "base_nonce", ksc, sizeof(ksc))) != 0 ||
	    (r = labeled_expand(ctx->exporter_secret, sizeof(ctx->exporter_secret), &hpke,
	    secret, "exp", ksc, sizeof(ksc))) != 0)
		mls_hpke_ctx_wipe(ctx);
	ctx->seq = 0;
	sodium_memzero(secret, sizeof(secret));
	return r;
}

/* Both sides: dh = DH(sk, peer), then the shared secret over enc || pkR and the key
 * schedule. */
static int
setup(struct mls_hpke_ctx *ctx, const uint8_t sk[static MLS_KEM_SECRET_LEN],
    const uint8_t peer[static MLS_KEM_PUBLIC_LEN], const uint8_t enc[static MLS_HPKE_ENC_LEN],
    const uint8_t pk_r[static MLS_KEM_PUBLIC_LEN], const uint8_t info_hash[static MLS_HASH_LEN])
{
	uint8_t dh[DH_SHARED_LEN];            /* SECRET */
	uint8_t shared[MLS_KEM_SHARED_LEN];   /* SECRET */
	int r;

	if ((r = dh_shared(dh, sk, peer)) == 0 && (r = kem_shared_secret(shared, dh, enc, pk_r)) == 0)
		r = key_schedule(ctx, shared, info_hash);
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(shared, sizeof(shared));
	return r;
}

int
mls_hpke_setup_base_s_ephemeral(struct mls_hpke_ctx *ctx, uint8_t enc[static MLS_HPKE_ENC_LEN],
    const uint8_t pk_r[static MLS_KEM_PUBLIC_LEN], const uint8_t *info, size_t info_len,
    const uint8_t sk_e[static MLS_KEM_SECRET_LEN])
{
	uint8_t info_hash[MLS_HASH_LEN];
	int r;

	if ((r = sotto_crypto_init()) != 0 || (r = dh_public(enc, sk_e)) != 0 ||
	    (r = mls_hpke_info_hash(info_hash, info, info_len)) != 0)
		return r;
	return setup(ctx, sk_e, pk_r, enc, pk_r, info_hash);
}

int
mls_hpke_setup_base_s_hashed(struct mls_hpke_ctx *ctx, uint8_t enc[static MLS_HPKE_ENC_LEN],
    const uint8_t pk_r[static MLS_KEM_PUBLIC_LEN], const uint8_t info_hash[static MLS_HASH_LEN])
{
	uint8_t sk_e[MLS_KEM_SECRET_LEN];     /* SECRET */
	int r;

	if ((r = sotto_crypto_init()) != 0)
		return r;
	randombytes_buf(sk_e, sizeof(sk_e));
	if ((r = dh_public(enc, sk_e)) == 0)
		r = setup(ctx, sk_e, pk_r, enc, pk_r, info_hash);
	sodium_memzero(sk_e, sizeof(sk_e));
	return r;
}

int
mls_hpke_setup_base_s(struct mls_hpke_ctx *ctx, uint8_t enc[static MLS_HPKE_ENC_LEN],
    const uint8_t pk_r[static MLS_KEM_PUBLIC_LEN], const uint8_t *info, size_t info_len)
{
	uint8_t info_hash[MLS_HASH_LEN];
	int r;

	if ((r = mls_hpke_info_hash(info_hash, info, info_len)) != 0)
		return r;
	return mls_hpke_setup_base_s_hashed(ctx, enc, pk_r, info_hash);
}

int
mls_hpke_setup_base_r(struct mls_hpke_ctx *ctx, const uint8_t enc[static MLS_HPKE_ENC_LEN],
    const uint8_t sk_r[static MLS_KEM_SECRET_LEN], const uint8_t *info, size_t info_len)
{
	uint8_t pk_r[MLS_KEM_PUBLIC_LEN], info_hash[MLS_HASH_LEN];
	int r;

	if ((r = sotto_crypto_init()) != 0 || (r = dh_public(pk_r, sk_r)) != 0 ||
	    (r = mls_hpke_info_hash(info_hash, info, info_len)) != 0)
		return r;
	return setup(ctx, sk_r, enc, enc, pk_r, info_hash);
}

/* ComputeNonce(seq) = base_nonce XOR I2OSP(seq, Nn). nonce is SECRET only as far as the
 * base nonce is; wiped anyway. */
static void
compute_nonce(uint8_t nonce[static MLS_AEAD_NONCE_LEN], const struct mls_hpke_ctx *ctx)
{
	size_t i;

	memcpy(nonce, ctx->base_nonce, MLS_AEAD_NONCE_LEN);
	for (i = 0; i < 8; i++)
		nonce[MLS_AEAD_NONCE_LEN - 1 - i] ^= (uint8_t)(ctx->seq >> (8 * i));
}

int
mls_hpke_seal(struct mls_hpke_ctx *ctx, uint8_t *ct, const uint8_t *aad, size_t aad_len,
    const uint8_t *pt, size_t pt_len)
{
	uint8_t nonce[MLS_AEAD_NONCE_LEN];
	int r = SOTTO_ERR_CRYPTO;

	/* The 96-bit nonce allows more, but a 64-bit counter never wraps into reuse. */
	if (ctx->seq == UINT64_MAX)
		return SOTTO_ERR_LIMIT;
	compute_nonce(nonce, ctx);
	if (crypto_aead_chacha20poly1305_ietf_encrypt(ct, NULL, pt, pt_len, aad, aad_len, NULL,
	    nonce, ctx->key) == 0) {
		ctx->seq++;
		r = 0;
	}
	sodium_memzero(nonce, sizeof(nonce));
	return r;
}

int
mls_hpke_open(struct mls_hpke_ctx *ctx, uint8_t *pt, const uint8_t *aad, size_t aad_len,
    const uint8_t *ct, size_t ct_len)
{
	uint8_t nonce[MLS_AEAD_NONCE_LEN];
	int r = SOTTO_ERR_DECRYPT;

	if (ct_len < MLS_AEAD_TAG_LEN)
		return SOTTO_ERR_TRUNCATED;
	if (ctx->seq == UINT64_MAX)
		return SOTTO_ERR_LIMIT;
	compute_nonce(nonce, ctx);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(pt, NULL, NULL, ct, ct_len, aad, aad_len,
	    nonce, ctx->key) == 0) {
		ctx->seq++;
		r = 0;
	} else if (ct_len > MLS_AEAD_TAG_LEN)
		sodium_memzero(pt, ct_len - MLS_AEAD_TAG_LEN);
	sodium_memzero(nonce, sizeof(nonce));
	return r;
}

int
mls_hpke_export(const struct mls_hpke_ctx *ctx, uint8_t *out, size_t out_len,
    const uint8_t *exporter_context, size_t context_len)
{
	return labeled_expand(out, out_len, &hpke, ctx->exporter_secret, "sec",
	    exporter_context, context_len);
}

void
mls_hpke_ctx_wipe(struct mls_hpke_ctx *ctx)
{
	sodium_memzero(ctx, sizeof(*ctx));
}
