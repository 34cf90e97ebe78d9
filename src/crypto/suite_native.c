/*
 * The native suite. Message format (docs/PROTOCOL.md section 4.2):
 *     0x02 || ratchet_pub[32] || pn u32 || n u32 || nonce[24] || XChaCha20-Poly1305(pt)
 * AD = the 65 header bytes || sender identity[32] || receiver identity[32].
 * The nonce is random, not derived from the message key: a sender whose state was rolled
 * back (a restored backup) derives the same key again, and a derived nonce would then
 * encrypt a second plaintext under the same keystream. Version 1 (41-byte header, key and
 * nonce both derived) is still read.
 */
#include "crypto/suite_native.h"

#include <string.h>
#include <sodium.h>

#include "base/cursor.h"
#include "crypto/aead.h"
#include "crypto/hkdf.h"
#include "crypto/kem_prekey.h"
#include "crypto/hmac.h"
#include "crypto/rand.h"

#define LABEL_X3DH "Sotto X3DH v1"
/* PQXDH's info: the application, curve, hash and KEM (at least 8 bytes). */
#define LABEL_PQXDH "Sotto_PQXDH_X25519_SHA-256_ML-KEM-768"
#define LABEL_ROOT "Sotto ratchet root v1"
#define LABEL_ROOT_PQ "Sotto ratchet root ML-KEM-768 v1"   /* a KEM ratchet step */
#define LABEL_MSG "Sotto message keys v1"      /* version 1: key || nonce */
#define LABEL_MSG_2 "Sotto message keys v2"    /* version 2: key only */
#define LABEL_SPK "Sotto signed prekey v1"
#define PREKEY_FLAG_OPK 0x01
#define PREKEY_FLAG_KEM 0x02
#define PREKEY_KEM_LEN (4 + X3DH_KEM_CT_LEN)

_Static_assert(SUITE_NATIVE_HEADER_LEN_1 == 41 && SUITE_NATIVE_HEADER_LEN == 65,
    "native header layout");
_Static_assert(SUITE_NATIVE_NONCE_LEN == AEAD_NONCE_LEN, "the header carries the AEAD nonce");

static int
native_ident_to_dh(uint8_t dh_pub[DH_PUBLIC_LEN], const uint8_t *ident, size_t len)
{
	if (len != SIGN_PUBLIC_LEN)
		return SOTTO_ERR_BAD_KEY;
	return sign_pk_to_dh(dh_pub, ident);
}

static void
native_spk_message(uint8_t m[sizeof(LABEL_SPK) - 1 + 4 + DH_PUBLIC_LEN], uint32_t spk_id,
    const uint8_t spk_pub[DH_PUBLIC_LEN])
{
	struct buf b;

	buf_init_fixed(&b, m, sizeof(LABEL_SPK) - 1 + 4 + DH_PUBLIC_LEN);
	buf_put(&b, LABEL_SPK, sizeof(LABEL_SPK) - 1);
	buf_u32(&b, spk_id);
	buf_put(&b, spk_pub, DH_PUBLIC_LEN);
}

static int
native_sign_prekey(uint8_t sig[X3DH_SIG_LEN], const struct x3dh_identity *me, uint32_t spk_id,
    const uint8_t spk_pub[DH_PUBLIC_LEN])
{
	uint8_t m[sizeof(LABEL_SPK) - 1 + 4 + DH_PUBLIC_LEN];

	native_spk_message(m, spk_id, spk_pub);
	return sign_detached(sig, m, sizeof(m), me->sign_sec);
}

static int
native_verify_prekey(const uint8_t *ident, size_t ident_len, uint32_t spk_id,
    const uint8_t spk_pub[DH_PUBLIC_LEN], const uint8_t sig[X3DH_SIG_LEN])
{
	uint8_t m[sizeof(LABEL_SPK) - 1 + 4 + DH_PUBLIC_LEN];

	if (ident_len != SIGN_PUBLIC_LEN)
		return SOTTO_ERR_BAD_KEY;
	native_spk_message(m, spk_id, spk_pub);
	return sign_verify(sig, m, sizeof(m), ident);
}

/* HKDF(salt absent, F || ikm, label, 64) -> rk || ck; F is 32 0xFF bytes (X3DH and
 * PQXDH), so the input never collides with an XEdDSA-style input. */
static int
kdf_agreement(uint8_t rk[RATCHET_KEY_LEN], uint8_t ck[RATCHET_KEY_LEN], const uint8_t *in,
    size_t in_len, const char *label)
{
	uint8_t ikm[32 + X3DH_IKM_MAX];    /* SECRET */
	uint8_t okm[2 * RATCHET_KEY_LEN];  /* SECRET */
	int r;

	if (in_len > X3DH_IKM_MAX)
		return SOTTO_ERR_INVALID_ARG;
	memset(ikm, 0xff, 32);
	memcpy(ikm + 32, in, in_len);
	r = hkdf_sha256(okm, sizeof(okm), NULL, 0, ikm, 32 + in_len, (const uint8_t *)label,
	    strlen(label));
	if (r == 0) {
		memcpy(rk, okm, RATCHET_KEY_LEN);
		memcpy(ck, okm + RATCHET_KEY_LEN, RATCHET_KEY_LEN);
	}
	sodium_memzero(ikm, sizeof(ikm));
	sodium_memzero(okm, sizeof(okm));
	return r;
}

static int
native_kdf_x3dh(uint8_t rk[RATCHET_KEY_LEN], uint8_t ck[RATCHET_KEY_LEN], const uint8_t *dh,
    size_t dh_len)
{
	if (dh_len > X3DH_DH_MAX)
		return SOTTO_ERR_INVALID_ARG;
	return kdf_agreement(rk, ck, dh, dh_len, LABEL_X3DH);
}

static int
native_kdf_pqxdh(uint8_t rk[RATCHET_KEY_LEN], uint8_t ck[RATCHET_KEY_LEN],
    const uint8_t *ikm, size_t ikm_len)
{
	return kdf_agreement(rk, ck, ikm, ikm_len, LABEL_PQXDH);
}

static int
native_verify_kem_prekey(const uint8_t *ident, size_t ident_len, uint32_t id,
    const uint8_t ek[X3DH_KEM_EK_LEN], const uint8_t sig[X3DH_SIG_LEN])
{
	if (ident_len != SIGN_PUBLIC_LEN)
		return SOTTO_ERR_BAD_KEY;
	return kem_prekey_verify(sig, id, ek, ident);
}

static int
native_kdf_root(uint8_t rk_out[RATCHET_KEY_LEN], uint8_t ck_out[RATCHET_KEY_LEN],
    const uint8_t rk[RATCHET_KEY_LEN], const uint8_t dh[DH_SHARED_LEN])
{
	uint8_t okm[2 * RATCHET_KEY_LEN];  /* SECRET */
	int r;

	r = hkdf_sha256(okm, sizeof(okm), rk, RATCHET_KEY_LEN, dh, DH_SHARED_LEN,
	    (const uint8_t *)LABEL_ROOT, sizeof(LABEL_ROOT) - 1);
	if (r == 0) {
		memcpy(rk_out, okm, RATCHET_KEY_LEN);
		memcpy(ck_out, okm + RATCHET_KEY_LEN, RATCHET_KEY_LEN);
	}
	sodium_memzero(okm, sizeof(okm));
	return r;
}

/* KDF_RK_PQ: HKDF(salt = rk, ikm = dh || ss, LABEL_ROOT_PQ, 64) -> rk' || ck. The
 * output is secret if either dh or ss is. */
static int
native_kdf_root_pq(uint8_t rk_out[RATCHET_KEY_LEN], uint8_t ck_out[RATCHET_KEY_LEN],
    const uint8_t rk[RATCHET_KEY_LEN], const uint8_t dh[DH_SHARED_LEN],
    const uint8_t ss[MLKEM768_SS_LEN])
{
	uint8_t ikm[DH_SHARED_LEN + MLKEM768_SS_LEN];   /* SECRET */
	uint8_t okm[2 * RATCHET_KEY_LEN];               /* SECRET */
	int r;

	memcpy(ikm, dh, DH_SHARED_LEN);
	memcpy(ikm + DH_SHARED_LEN, ss, MLKEM768_SS_LEN);
	r = hkdf_sha256(okm, sizeof(okm), rk, RATCHET_KEY_LEN, ikm, sizeof(ikm),
	    (const uint8_t *)LABEL_ROOT_PQ, sizeof(LABEL_ROOT_PQ) - 1);
	if (r == 0) {
		memcpy(rk_out, okm, RATCHET_KEY_LEN);
		memcpy(ck_out, okm + RATCHET_KEY_LEN, RATCHET_KEY_LEN);
	}
	sodium_memzero(ikm, sizeof(ikm));
	sodium_memzero(okm, sizeof(okm));
	return r;
}

static int
native_kdf_chain(uint8_t ck_out[RATCHET_KEY_LEN], uint8_t mk[RATCHET_KEY_LEN],
    const uint8_t ck[RATCHET_KEY_LEN])
{
	static const uint8_t one = 0x01, two = 0x02;
	struct hmac_sha256_key k;          /* SECRET: schedule of ck, shared by both MACs */
	uint8_t next[RATCHET_KEY_LEN];     /* SECRET; ck_out may alias ck */

	hmac_sha256_key_init(&k, ck, RATCHET_KEY_LEN);
	hmac_sha256_keyed(mk, &k, &one, 1, NULL, 0, NULL, 0);
	hmac_sha256_keyed(next, &k, &two, 1, NULL, 0, NULL, 0);
	memcpy(ck_out, next, RATCHET_KEY_LEN);
	hmac_sha256_key_wipe(&k);
	sodium_memzero(next, sizeof(next));
	return 0;
}

/* The AEAD key (and for version 1 the nonce) from the message-key seed. Version 2 takes
 * the nonce from the header. */
static int
native_message_keys(uint8_t key[AEAD_KEY_LEN], uint8_t nonce[AEAD_NONCE_LEN],
    const uint8_t *header, size_t header_len, const uint8_t mk[RATCHET_KEY_LEN])
{
	uint8_t out[AEAD_KEY_LEN + AEAD_NONCE_LEN];    /* SECRET */
	int r;

	if (header[0] != SUITE_NATIVE_VERSION_1) {     /* versions 2 and 3: the nonce ends it */
		memcpy(nonce, header + header_len - AEAD_NONCE_LEN, AEAD_NONCE_LEN);
		return hkdf_sha256(key, AEAD_KEY_LEN, NULL, 0, mk, RATCHET_KEY_LEN,
		    (const uint8_t *)LABEL_MSG_2, sizeof(LABEL_MSG_2) - 1);
	}
	r = hkdf_sha256(out, sizeof(out), NULL, 0, mk, RATCHET_KEY_LEN,
	    (const uint8_t *)LABEL_MSG, sizeof(LABEL_MSG) - 1);
	memcpy(key, out, AEAD_KEY_LEN);
	memcpy(nonce, out + AEAD_KEY_LEN, AEAD_NONCE_LEN);
	sodium_memzero(out, sizeof(out));
	return r;
}

/* ad = header || sender identity || receiver identity; returns its length or an error. */
#define NATIVE_AD_MAX (SUITE_NATIVE_HEADER_LEN_PQ_CT + 2 * SIGN_PUBLIC_LEN)

static int
native_ad(uint8_t ad[NATIVE_AD_MAX], const uint8_t *header,
    size_t header_len, const struct ratchet_ad *id)
{
	if (id->sender_ident_len != SIGN_PUBLIC_LEN || id->receiver_ident_len != SIGN_PUBLIC_LEN)
		return SOTTO_ERR_BAD_KEY;
	memcpy(ad, header, header_len);
	memcpy(ad + header_len, id->sender_ident, SIGN_PUBLIC_LEN);
	memcpy(ad + header_len + SIGN_PUBLIC_LEN, id->receiver_ident, SIGN_PUBLIC_LEN);
	return (int)(header_len + 2 * SIGN_PUBLIC_LEN);
}

/* The header's length for h: version 2, or version 3 with the KEM part. */
static size_t
native_header_len(const struct ratchet_header *h)
{
	if (h->kem_ek == NULL)
		return SUITE_NATIVE_HEADER_LEN;
	return h->kem_ct != NULL ? SUITE_NATIVE_HEADER_LEN_PQ_CT : SUITE_NATIVE_HEADER_LEN_PQ;
}

static int
native_seal(struct buf *out, const uint8_t mk[RATCHET_KEY_LEN], const struct ratchet_header *h,
    const struct ratchet_ad *id, const uint8_t *pt, size_t pt_len)
{
	uint8_t key[AEAD_KEY_LEN], nonce[AEAD_NONCE_LEN];  /* key SECRET */
	uint8_t ad[NATIVE_AD_MAX];
	size_t hlen = native_header_len(h);
	struct buf hb;
	uint8_t *w;
	int r, ad_len;

	if (pt_len > RATCHET_PLAINTEXT_MAX)
		return SOTTO_ERR_TOO_LARGE;
	if ((w = buf_reserve(out, hlen + AEAD_TAG_LEN + pt_len)) == NULL)
		return buf_status(out);
	buf_init_fixed(&hb, w, hlen);
	buf_u8(&hb, h->kem_ek != NULL ? SUITE_NATIVE_VERSION_PQ : SUITE_NATIVE_VERSION);
	buf_put(&hb, h->dh_pub, DH_PUBLIC_LEN);
	buf_u32(&hb, h->pn);
	buf_u32(&hb, h->n);
	if (h->kem_ek != NULL) {
		buf_u8(&hb, h->kem_ct != NULL ? SUITE_NATIVE_KEM_FLAG_CT : 0);
		buf_put(&hb, h->kem_ek, RATCHET_KEM_EK_LEN);
		if (h->kem_ct != NULL)
			buf_put(&hb, h->kem_ct, RATCHET_KEM_CT_LEN);
	}
	rand_bytes(w + hlen - SUITE_NATIVE_NONCE_LEN, SUITE_NATIVE_NONCE_LEN);
	if ((r = buf_status(&hb)) != 0 || hb.len != hlen - SUITE_NATIVE_NONCE_LEN) {
		r = r != 0 ? r : SOTTO_ERR_INTERNAL;
		goto out;
	}
	if ((r = ad_len = native_ad(ad, w, hlen, id)) < 0 ||
	    (r = native_message_keys(key, nonce, w, hlen, mk)) != 0)
		goto out;
	r = aead_seal(w + hlen, pt, pt_len, ad, (size_t)ad_len, nonce, key);
out:
	sodium_memzero(key, sizeof(key));
	return r;
}

/* Parses the header; *hlen receives its length. */
static int
native_parse(struct ratchet_header *h, size_t *hlen, const uint8_t *msg, size_t len)
{
	struct cur c;
	uint8_t version = len >= 1 ? msg[0] : 0, kem_flags = 0;

	memset(h, 0, sizeof(*h));
	*hlen = 0;
	if (len > RATCHET_MSG_MAX)
		return SOTTO_ERR_TOO_LARGE;
	cur_init(&c, msg, len);
	if (len >= 1 && (version = cur_u8(&c)) != SUITE_NATIVE_VERSION &&
	    version != SUITE_NATIVE_VERSION_1 && version != SUITE_NATIVE_VERSION_PQ)
		return SOTTO_ERR_BAD_VERSION;
	cur_copy(&c, h->dh_pub, DH_PUBLIC_LEN);
	h->pn = cur_u32(&c);
	h->n = cur_u32(&c);
	if (version == SUITE_NATIVE_VERSION_PQ) {
		kem_flags = cur_u8(&c);
		h->kem_ek = cur_ref(&c, RATCHET_KEM_EK_LEN);
		if (kem_flags & SUITE_NATIVE_KEM_FLAG_CT)
			h->kem_ct = cur_ref(&c, RATCHET_KEM_CT_LEN);
	}
	if (version != SUITE_NATIVE_VERSION_1)
		(void)cur_ref(&c, SUITE_NATIVE_NONCE_LEN);
	*hlen = len - cur_left(&c);
	(void)cur_ref(&c, AEAD_TAG_LEN);
	if (cur_status(&c) != 0) {
		memset(h, 0, sizeof(*h));
		return cur_status(&c);
	}
	if ((kem_flags & ~SUITE_NATIVE_KEM_FLAG_CT) != 0) {
		memset(h, 0, sizeof(*h));
		return SOTTO_ERR_MALFORMED;
	}
	/* Small-order keys are caught by dh_shared; non-canonical encodings here. (The KEM
	 * key is checked by the encapsulation, FIPS 203 section 7.2.) */
	return dh_public_check(h->dh_pub);
}

static int
native_parse_header(struct ratchet_header *h, const uint8_t *msg, size_t len)
{
	size_t hlen;

	return native_parse(h, &hlen, msg, len);
}

static int
native_open(struct buf *pt, const uint8_t mk[RATCHET_KEY_LEN], const struct ratchet_header *h,
    const struct ratchet_ad *id, const uint8_t *msg, size_t len)
{
	uint8_t key[AEAD_KEY_LEN], nonce[AEAD_NONCE_LEN];  /* key SECRET */
	uint8_t ad[NATIVE_AD_MAX];
	struct ratchet_header check;
	struct cur c;
	const uint8_t *hdr, *ct;
	size_t ct_len, hdr_len;
	uint8_t *w, empty = 0;
	int r, ad_len;

	/* Re-parse: open must not trust that h came from these bytes. */
	if ((r = native_parse(&check, &hdr_len, msg, len)) != 0)
		return r;
	if (sodium_memcmp(check.dh_pub, h->dh_pub, DH_PUBLIC_LEN) != 0 || check.n != h->n ||
	    check.pn != h->pn || check.kem_ek != h->kem_ek || check.kem_ct != h->kem_ct)
		return SOTTO_ERR_INVALID_ARG;
	cur_init(&c, msg, len);
	hdr = cur_ref(&c, hdr_len);
	ct = cur_rest(&c, &ct_len);
	if (hdr == NULL || ct == NULL || ct_len < AEAD_TAG_LEN)
		return SOTTO_ERR_TRUNCATED;
	if ((ad_len = native_ad(ad, hdr, hdr_len, id)) < 0)
		return ad_len;
	/* An empty plaintext reserves nothing and may get NULL: test the status, never the
	 * pointer, or an empty message would pass unauthenticated. */
	w = ct_len > AEAD_TAG_LEN ? buf_reserve(pt, ct_len - AEAD_TAG_LEN) : &empty;
	if ((r = buf_status(pt)) != 0)
		return r;
	if ((r = native_message_keys(key, nonce, hdr, hdr_len, mk)) == 0)
		r = aead_open(w, ct, ct_len, ad, (size_t)ad_len, nonce, key);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(nonce, sizeof(nonce));
	return r;
}

/* 0x01 || flags || spk_id u32 || opk_id u32 || base[32] || identity[32]
 * [|| kem_id u32 || kem_ct[1088]] || message (the KEM part with flag 2: PQXDH) */
static int
native_prekey_wrap(struct buf *out, const struct x3dh_init_info *info, const uint8_t *msg,
    size_t len)
{
	if (info->ident_pub_len != SIGN_PUBLIC_LEN)
		return SOTTO_ERR_INVALID_ARG;
	buf_u8(out, SUITE_NATIVE_PREKEY_VERSION);
	buf_u8(out, (uint8_t)((info->has_opk ? PREKEY_FLAG_OPK : 0) |
	    (info->has_kem ? PREKEY_FLAG_KEM : 0)));
	buf_u32(out, info->spk_id);
	buf_u32(out, info->has_opk ? info->opk_id : 0);
	buf_put(out, info->base_pub, DH_PUBLIC_LEN);
	buf_put(out, info->ident_pub, SIGN_PUBLIC_LEN);
	if (info->has_kem) {
		buf_u32(out, info->kem_id);
		buf_put(out, info->kem_ct, X3DH_KEM_CT_LEN);
	}
	buf_put(out, msg, len);
	return buf_status(out);
}

static int
native_prekey_parse(struct x3dh_init_info *info, const uint8_t **msg, size_t *msg_len,
    const uint8_t *in, size_t len)
{
	struct cur c;
	uint8_t flags;
	int r;

	memset(info, 0, sizeof(*info));
	*msg = NULL;
	*msg_len = 0;
	if (len > RATCHET_MSG_MAX + 128 + PREKEY_KEM_LEN)
		return SOTTO_ERR_TOO_LARGE;
	cur_init(&c, in, len);
	if (len >= 1 && cur_u8(&c) != SUITE_NATIVE_PREKEY_VERSION)
		return SOTTO_ERR_BAD_VERSION;
	flags = cur_u8(&c);
	info->spk_id = cur_u32(&c);
	info->opk_id = cur_u32(&c);
	cur_copy(&c, info->base_pub, DH_PUBLIC_LEN);
	cur_copy(&c, info->ident_pub, SIGN_PUBLIC_LEN);
	info->ident_pub_len = SIGN_PUBLIC_LEN;
	info->has_kem = (flags & PREKEY_FLAG_KEM) != 0;
	if (info->has_kem) {
		info->kem_id = cur_u32(&c);
		cur_copy(&c, info->kem_ct, X3DH_KEM_CT_LEN);
	}
	*msg = cur_rest(&c, msg_len);
	if ((r = cur_status(&c)) != 0)
		goto fail;
	r = SOTTO_ERR_MALFORMED;
	if ((flags & ~(PREKEY_FLAG_OPK | PREKEY_FLAG_KEM)) != 0 || (!(flags & PREKEY_FLAG_OPK) && info->opk_id != 0))
		goto fail;
	info->has_opk = (flags & PREKEY_FLAG_OPK) != 0;
	/* The base key is not covered by any MAC: only its canonical form is accepted, so it
	 * cannot be altered without changing the X3DH secret. */
	if ((r = dh_public_check(info->base_pub)) != 0)
		goto fail;
	if (*msg_len == 0) {
		r = SOTTO_ERR_TRUNCATED;
		goto fail;
	}
	return 0;
fail:
	memset(info, 0, sizeof(*info));
	*msg = NULL;
	*msg_len = 0;
	return r;
}

const struct ratchet_suite suite_native = {
	.name = "sotto-native-v1",
	.id = SUITE_NATIVE_ID,
	.ident_pub_len = SIGN_PUBLIC_LEN,
	.ident_to_dh = native_ident_to_dh,
	.sign_prekey = native_sign_prekey,
	.verify_prekey = native_verify_prekey,
	.kdf_x3dh = native_kdf_x3dh,
	.kdf_pqxdh = native_kdf_pqxdh,
	.verify_kem_prekey = native_verify_kem_prekey,
	.kdf_root = native_kdf_root,
	.kdf_root_pq = native_kdf_root_pq,
	.kdf_chain = native_kdf_chain,
	.seal = native_seal,
	.parse_header = native_parse_header,
	.open = native_open,
	.prekey_wrap = native_prekey_wrap,
	.prekey_parse = native_prekey_parse,
};

int
suite_native_identity_from_seed(struct x3dh_identity *id, const uint8_t seed[static SIGN_SEED_LEN])
{
	int r;

	memset(id, 0, sizeof(*id));
	id->pub_len = SIGN_PUBLIC_LEN;
	if ((r = sign_seed_keypair(id->pub, id->sign_sec, seed)) != 0 ||
	    (r = sign_pk_to_dh(id->dh_pub, id->pub)) != 0 ||
	    (r = sign_sk_to_dh(id->dh_sec, id->sign_sec)) != 0)
		x3dh_identity_wipe(id);
	return r;
}

int
suite_native_identity_generate(struct x3dh_identity *id)
{
	uint8_t seed[SIGN_SEED_LEN];       /* SECRET */
	int r;

	rand_bytes(seed, sizeof(seed));
	r = suite_native_identity_from_seed(id, seed);
	sodium_memzero(seed, sizeof(seed));
	return r;
}
