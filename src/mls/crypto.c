/* RFC 9420 section 5.1 (hash-based identifiers, labeled KDF, signing, public-key
 * encryption) and 8 (DeriveSecret, DeriveTreeSecret), cipher suite 3. */
#include "mls/crypto.h"

#include <string.h>
#include <sodium.h>

#include "base/buf.h"
#include "crypto/hkdf.h"
#include "crypto/hmac.h"
#include "crypto/init.h"
#include "crypto/sign.h"
#include "mls/hpke.h"
#include "mls/tls_codec.h"

void
mls_hash(uint8_t out[static MLS_HASH_LEN], const uint8_t *p, size_t len)
{
	crypto_hash_sha256(out, p, len);
}

void
mls_kdf_extract(uint8_t prk[static MLS_HASH_LEN], const uint8_t *salt, size_t salt_len,
    const uint8_t *ikm, size_t ikm_len)
{
	hkdf_sha256_extract(prk, salt, salt_len, ikm, ikm_len);
}

void
mls_mac(uint8_t out[static MLS_HASH_LEN], const uint8_t *key, size_t key_len,
    const uint8_t *msg, size_t len)
{
	hmac_sha256(out, key, key_len, msg, len);
}

/* struct { opaque label<V> = "MLS 1.0 " + label; opaque second<V>; }, the shape of
 * KDFLabel (after its length), SignContent and EncryptContext. The buffer is the caller's
 * and may end up holding a secret context; the caller wipes it. */
static int
put_labeled(struct buf *b, const uint8_t *label, size_t label_len, const uint8_t *second,
    size_t second_len)
{
	size_t plen = sizeof(MLS_LABEL_PREFIX) - 1;

	if (label_len > MLS_LABEL_MAX || second_len > MLS_LABELED_INPUT_MAX)
		return SOTTO_ERR_INVALID_ARG;
	mls_buf_varint(b, plen + label_len);
	buf_put(b, MLS_LABEL_PREFIX, plen);
	buf_put(b, label, label_len);
	mls_buf_opaque(b, second, second_len);
	return buf_status(b);
}

#define STR(label) (const uint8_t *)(label), strlen(label)

#define LABELED_MAX(second) (2 * 4 + sizeof(MLS_LABEL_PREFIX) + MLS_LABEL_MAX + (second))

int
mls_ref_hash(uint8_t out[static MLS_HASH_LEN], const char *label, const uint8_t *value,
    size_t len)
{
	struct buf b;
	size_t llen = strlen(label);
	int r = SOTTO_ERR_INVALID_ARG;

	if (llen > MLS_LABEL_MAX || len > MLS_LABELED_INPUT_MAX)
		return r;
	buf_init_dyn(&b, LABELED_MAX(len));
	mls_buf_opaque(&b, label, llen);
	mls_buf_opaque(&b, value, len);
	if ((r = buf_status(&b)) == 0)
		mls_hash(out, b.p, b.len);
	buf_free(&b);
	return r;
}

int
mls_expand_with_label_raw(uint8_t *out, size_t out_len, const uint8_t secret[static MLS_HASH_LEN],
    const uint8_t *label, size_t label_len, const uint8_t *context, size_t context_len)
{
	struct buf b;
	int r;

	if (out_len > UINT16_MAX)
		return SOTTO_ERR_INVALID_ARG;
	buf_init_dyn(&b, 2 + LABELED_MAX(context_len));
	buf_u16(&b, (uint16_t)out_len);
	if ((r = put_labeled(&b, label, label_len, context, context_len)) == 0)
		r = hkdf_sha256_expand(out, out_len, secret, MLS_HASH_LEN, b.p, b.len);
	buf_wipe_free(&b);
	return r;
}

int
mls_expand_with_label(uint8_t *out, size_t out_len, const uint8_t secret[static MLS_HASH_LEN],
    const char *label, const uint8_t *context, size_t context_len)
{
	return mls_expand_with_label_raw(out, out_len, secret, STR(label), context, context_len);
}

int
mls_derive_secret(uint8_t out[static MLS_HASH_LEN], const uint8_t secret[static MLS_HASH_LEN],
    const char *label)
{
	return mls_expand_with_label(out, MLS_HASH_LEN, secret, label, NULL, 0);
}

int
mls_derive_tree_secret(uint8_t *out, size_t out_len, const uint8_t secret[static MLS_HASH_LEN],
    const char *label, uint32_t generation)
{
	uint8_t ctx[4] = { (uint8_t)(generation >> 24), (uint8_t)(generation >> 16),
		(uint8_t)(generation >> 8), (uint8_t)generation };

	return mls_expand_with_label(out, out_len, secret, label, ctx, sizeof(ctx));
}

int
mls_sign_with_label(uint8_t sig[static MLS_SIG_LEN], const uint8_t sec[static 64],
    const char *label, const uint8_t *content, size_t len)
{
	struct buf b;
	int r;

	buf_init_dyn(&b, LABELED_MAX(len));
	if ((r = put_labeled(&b, STR(label), content, len)) == 0)
		r = sign_detached(sig, b.p, b.len, sec);
	buf_free(&b);
	return r;
}

int
mls_verify_with_label(const uint8_t sig[static MLS_SIG_LEN],
    const uint8_t pub[static MLS_SIG_PUBLIC_LEN], const char *label, const uint8_t *content,
    size_t len)
{
	struct buf b;
	int r;

	buf_init_dyn(&b, LABELED_MAX(len));
	if ((r = put_labeled(&b, STR(label), content, len)) == 0)
		r = sign_verify(sig, b.p, b.len, pub);
	buf_free(&b);
	return r;
}

int
mls_encrypt_context_hash(uint8_t out[static MLS_HASH_LEN], const char *label,
    const uint8_t *context, size_t context_len)
{
	struct buf info;
	int r;

	buf_init_dyn(&info, LABELED_MAX(context_len));
	if ((r = put_labeled(&info, STR(label), context, context_len)) == 0)
		r = mls_hpke_info_hash(out, info.p, info.len);
	buf_wipe_free(&info);
	return r;
}

int
mls_encrypt_with_label_hashed(uint8_t kem_output[static MLS_KEM_PUBLIC_LEN], uint8_t *ct,
    const uint8_t pub[static MLS_KEM_PUBLIC_LEN], const uint8_t context_hash[static MLS_HASH_LEN],
    const uint8_t *pt, size_t pt_len)
{
	struct mls_hpke_ctx ctx;     /* SECRET */
	int r;

	if ((r = mls_hpke_setup_base_s_hashed(&ctx, kem_output, pub, context_hash)) != 0)
		return r;
	r = mls_hpke_seal(&ctx, ct, NULL, 0, pt, pt_len);
	mls_hpke_ctx_wipe(&ctx);
	return r;
}

int
mls_encrypt_with_label(uint8_t kem_output[static MLS_KEM_PUBLIC_LEN], uint8_t *ct,
    const uint8_t pub[static MLS_KEM_PUBLIC_LEN], const char *label, const uint8_t *context,
    size_t context_len, const uint8_t *pt, size_t pt_len)
{
	uint8_t h[MLS_HASH_LEN];
	int r;

	if ((r = mls_encrypt_context_hash(h, label, context, context_len)) != 0)
		return r;
	return mls_encrypt_with_label_hashed(kem_output, ct, pub, h, pt, pt_len);
}

int
mls_decrypt_with_label(uint8_t *pt, const uint8_t sec[static MLS_KEM_SECRET_LEN],
    const char *label, const uint8_t *context, size_t context_len,
    const uint8_t kem_output[static MLS_KEM_PUBLIC_LEN], const uint8_t *ct, size_t ct_len)
{
	struct mls_hpke_ctx ctx;     /* SECRET */
	struct buf info;
	int r;

	if (ct_len < MLS_AEAD_TAG_LEN)
		return SOTTO_ERR_TRUNCATED;
	buf_init_dyn(&info, LABELED_MAX(context_len));
	if ((r = put_labeled(&info, STR(label), context, context_len)) != 0 ||
	    (r = mls_hpke_setup_base_r(&ctx, kem_output, sec, info.p, info.len)) != 0)
		goto out;
	r = mls_hpke_open(&ctx, pt, NULL, 0, ct, ct_len);
	mls_hpke_ctx_wipe(&ctx);
out:
	buf_wipe_free(&info);
	return r;
}
