#include "suite_signal.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/dh.h"
#include "crypto/hkdf.h"
#include "crypto/hmac.h"
#include "signal_wire.h"
#include "xeddsa.h"

#define MK_LEN 80       /* cipher key 32 || MAC key 32 || IV 16 */
#define AES_BLOCK 16

void
suite_signal_encode_key(uint8_t out[SUITE_SIGNAL_KEY_LEN], const uint8_t u[32])
{
	out[0] = SIGW_KEY_TYPE;
	memcpy(out + 1, u, 32);
}

int
suite_signal_identity_from_secret(struct x3dh_identity *id, const uint8_t sec[32])
{
	int r;

	memset(id, 0, sizeof(*id));
	memcpy(id->dh_sec, sec, DH_SECRET_LEN);
	if ((r = dh_public(id->dh_pub, id->dh_sec)) != 0) {
		x3dh_identity_wipe(id);
		return r;
	}
	memcpy(id->sign_sec, sec, 32);
	suite_signal_encode_key(id->pub, id->dh_pub);
	id->pub_len = SUITE_SIGNAL_KEY_LEN;
	return 0;
}

int
suite_signal_identity_generate(struct x3dh_identity *id)
{
	uint8_t sec[32];
	int r;

	randombytes_buf(sec, sizeof(sec));
	r = suite_signal_identity_from_secret(id, sec);
	sodium_memzero(sec, sizeof(sec));
	return r;
}

static int
sig_ident_to_dh(uint8_t dh_pub[DH_PUBLIC_LEN], const uint8_t *ident, size_t len)
{
	if (len != SUITE_SIGNAL_KEY_LEN || ident[0] != SIGW_KEY_TYPE)
		return SOTTO_ERR_BAD_KEY;
	memcpy(dh_pub, ident + 1, DH_PUBLIC_LEN);
	return 0;
}

/* libsignal signs the serialized key, type byte included; the id is not signed. */
static int
sig_sign_prekey(uint8_t sig[X3DH_SIG_LEN], const struct x3dh_identity *me, uint32_t spk_id,
    const uint8_t spk_pub[DH_PUBLIC_LEN])
{
	uint8_t msg[SUITE_SIGNAL_KEY_LEN];

	(void)spk_id;
	suite_signal_encode_key(msg, spk_pub);
	return xeddsa_sign(sig, me->sign_sec, msg, sizeof(msg));
}

static int
sig_verify_prekey(const uint8_t *ident, size_t ident_len, uint32_t spk_id,
    const uint8_t spk_pub[DH_PUBLIC_LEN], const uint8_t sig[X3DH_SIG_LEN])
{
	uint8_t u[DH_PUBLIC_LEN], msg[SUITE_SIGNAL_KEY_LEN];
	int r;

	(void)spk_id;
	if ((r = sig_ident_to_dh(u, ident, ident_len)) != 0)
		return r;
	suite_signal_encode_key(msg, spk_pub);
	return xeddsa_verify(sig, u, msg, sizeof(msg));
}

static int
sig_kdf_x3dh(uint8_t rk[RATCHET_KEY_LEN], uint8_t ck[RATCHET_KEY_LEN], const uint8_t *dh,
    size_t dh_len)
{
	/* Secret: ikm (the DH outputs), out. */
	uint8_t ikm[32 + X3DH_DH_MAX], out[64];
	static const char info[] = "WhisperText";
	int r;

	if (dh_len > X3DH_DH_MAX)
		return SOTTO_ERR_INVALID_ARG;
	memset(ikm, 0xFF, 32);
	memcpy(ikm + 32, dh, dh_len);
	r = hkdf_sha256(out, sizeof(out), NULL, 0, ikm, 32 + dh_len, (const uint8_t *)info,
	    sizeof(info) - 1);
	if (r == 0) {
		memcpy(rk, out, RATCHET_KEY_LEN);
		memcpy(ck, out + RATCHET_KEY_LEN, RATCHET_KEY_LEN);
	}
	sodium_memzero(ikm, sizeof(ikm));
	sodium_memzero(out, sizeof(out));
	return r;
}

static int
sig_kdf_root(uint8_t rk_out[RATCHET_KEY_LEN], uint8_t ck_out[RATCHET_KEY_LEN],
    const uint8_t rk[RATCHET_KEY_LEN], const uint8_t dh[DH_SHARED_LEN])
{
	uint8_t out[64];        /* secret */
	static const char info[] = "WhisperRatchet";
	int r;

	r = hkdf_sha256(out, sizeof(out), rk, RATCHET_KEY_LEN, dh, DH_SHARED_LEN,
	    (const uint8_t *)info, sizeof(info) - 1);
	if (r == 0) {
		memcpy(rk_out, out, RATCHET_KEY_LEN);
		memcpy(ck_out, out + RATCHET_KEY_LEN, RATCHET_KEY_LEN);
	}
	sodium_memzero(out, sizeof(out));
	return r;
}

static int
sig_kdf_chain(uint8_t ck_out[RATCHET_KEY_LEN], uint8_t mk[RATCHET_KEY_LEN],
    const uint8_t ck[RATCHET_KEY_LEN])
{
	static const uint8_t seed_byte = 0x01, chain_byte = 0x02;
	uint8_t next[HMAC_SHA256_LEN], seed[HMAC_SHA256_LEN];    /* secret */

	hmac_sha256(seed, ck, RATCHET_KEY_LEN, &seed_byte, 1);
	hmac_sha256(next, ck, RATCHET_KEY_LEN, &chain_byte, 1);
	memcpy(mk, seed, RATCHET_KEY_LEN);
	memcpy(ck_out, next, RATCHET_KEY_LEN);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(next, sizeof(next));
	return 0;
}

static int
message_keys(uint8_t keys[MK_LEN], const uint8_t mk[RATCHET_KEY_LEN])
{
	static const char info[] = "WhisperMessageKeys";

	return hkdf_sha256(keys, MK_LEN, NULL, 0, mk, RATCHET_KEY_LEN, (const uint8_t *)info,
	    sizeof(info) - 1);
}

/* MAC = HMAC-SHA256(mac_key, sender || receiver || serialized)[0..8]. */
static int
message_mac(uint8_t mac[HMAC_SHA256_LEN], const uint8_t mac_key[32],
    const struct ratchet_ad *ad, const uint8_t *serialized, size_t len)
{
	uint8_t idents[2 * SUITE_SIGNAL_KEY_LEN];

	if (ad->sender_ident_len != SUITE_SIGNAL_KEY_LEN ||
	    ad->receiver_ident_len != SUITE_SIGNAL_KEY_LEN)
		return SOTTO_ERR_INVALID_ARG;
	memcpy(idents, ad->sender_ident, SUITE_SIGNAL_KEY_LEN);
	memcpy(idents + SUITE_SIGNAL_KEY_LEN, ad->receiver_ident, SUITE_SIGNAL_KEY_LEN);
	hmac_sha256_2(mac, mac_key, 32, idents, sizeof(idents), serialized, len);
	return 0;
}

/* AES-256-CBC with PKCS#7; *out is malloc'ed (length in + one block at most). */
static int
aes_cbc(int enc, const uint8_t key[32], const uint8_t iv[16], const uint8_t *in, size_t in_len,
    uint8_t **out, size_t *out_len)
{
	EVP_CIPHER_CTX *c;
	uint8_t *p = NULL;
	int n1 = 0, n2 = 0, r = enc ? SOTTO_ERR_CRYPTO : SOTTO_ERR_DECRYPT;

	*out = NULL;
	*out_len = 0;
	if (in_len > SIGW_CIPHERTEXT_MAX)
		return SOTTO_ERR_TOO_LARGE;
	if ((c = EVP_CIPHER_CTX_new()) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((p = malloc(in_len + AES_BLOCK)) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	if (EVP_CipherInit_ex(c, EVP_aes_256_cbc(), NULL, key, iv, enc) != 1 ||
	    EVP_CipherUpdate(c, p, &n1, in, (int)in_len) != 1 ||
	    EVP_CipherFinal_ex(c, p + n1, &n2) != 1)
		goto out;
	*out = p;
	*out_len = (size_t)n1 + (size_t)n2;
	p = NULL;
	r = 0;
out:
	if (p != NULL) {
		sodium_memzero(p, in_len + AES_BLOCK);
		free(p);
	}
	EVP_CIPHER_CTX_free(c);
	return r;
}

/*
 * libsignal's previousCounter is not the specification's PN (the length of the previous
 * sending chain) but the index of its last message, max(PN - 1, 0). libsignal never reads
 * it (it keeps old receiving chains instead), but our core skips the old chain up to PN, so
 * the suite translates: on receipt PN = wire + 1. When the old chain was empty that derives
 * one key nobody will use, bounded like any skipped key; the alternative would lose the
 * last message of every chain that arrives after the turn.
 */
static uint32_t
pn_to_wire(uint32_t pn)
{
	return pn > 0 ? pn - 1 : 0;
}

static uint32_t
pn_from_wire(uint32_t wire)
{
	return wire < UINT32_MAX ? wire + 1 : wire;
}

static int
sig_seal(struct buf *out, const uint8_t mk[RATCHET_KEY_LEN], const struct ratchet_header *h,
    const struct ratchet_ad *ad, const uint8_t *pt, size_t pt_len)
{
	uint8_t keys[MK_LEN], mac[HMAC_SHA256_LEN];      /* keys: secret */
	uint8_t *ct = NULL;
	size_t ct_len = 0, start = out->len;
	struct sigw_message m;
	int r;

	if ((r = message_keys(keys, mk)) != 0)
		goto out;
	if ((r = aes_cbc(1, keys, keys + 64, pt, pt_len, &ct, &ct_len)) != 0)
		goto out;
	memset(&m, 0, sizeof(m));
	suite_signal_encode_key(m.ratchet_key, h->dh_pub);
	m.counter = h->n;
	m.previous_counter = pn_to_wire(h->pn);
	m.ciphertext = ct;
	m.ciphertext_len = ct_len;
	sigw_message_encode(out, &m);
	if ((r = buf_status(out)) != 0)
		goto out;
	if ((r = message_mac(mac, keys + 32, ad, out->p + start, out->len - start)) != 0)
		goto out;
	buf_put(out, mac, SIGW_MAC_LEN);
	r = buf_status(out);
out:
	sodium_memzero(keys, sizeof(keys));
	free(ct);
	return r;
}

static int
sig_parse_header(struct ratchet_header *h, const uint8_t *msg, size_t len)
{
	struct sigw_message m;
	const uint8_t *mac;
	size_t authed;
	int r;

	if ((r = sigw_message_decode(&m, msg, len, &authed, &mac)) != 0)
		return r;
	memcpy(h->dh_pub, m.ratchet_key + 1, DH_PUBLIC_LEN);
	h->n = m.counter;
	h->pn = pn_from_wire(m.previous_counter);
	return 0;
}

static int
sig_open(struct buf *pt, const uint8_t mk[RATCHET_KEY_LEN], const struct ratchet_header *h,
    const struct ratchet_ad *ad, const uint8_t *msg, size_t len)
{
	uint8_t keys[MK_LEN], mac[HMAC_SHA256_LEN];      /* keys: secret */
	uint8_t *plain = NULL;                           /* secret */
	size_t plain_len = 0, authed;
	const uint8_t *their_mac;
	struct sigw_message m;
	int r;

	if ((r = sigw_message_decode(&m, msg, len, &authed, &their_mac)) != 0)
		return r;
	/* The core hands back the header it parsed from these bytes; a mismatch is its bug. */
	if (memcmp(m.ratchet_key + 1, h->dh_pub, DH_PUBLIC_LEN) != 0 || m.counter != h->n ||
	    pn_from_wire(m.previous_counter) != h->pn)
		return SOTTO_ERR_INTERNAL;
	if ((r = message_keys(keys, mk)) != 0)
		goto out;
	if ((r = message_mac(mac, keys + 32, ad, msg, authed)) != 0)
		goto out;
	if (sodium_memcmp(mac, their_mac, SIGW_MAC_LEN) != 0) {
		r = SOTTO_ERR_DECRYPT;
		goto out;
	}
	if ((r = aes_cbc(0, keys, keys + 64, m.ciphertext, m.ciphertext_len, &plain,
	    &plain_len)) != 0)
		goto out;
	buf_put(pt, plain, plain_len);
	r = buf_status(pt);
out:
	sodium_memzero(keys, sizeof(keys));
	if (plain != NULL) {
		sodium_memzero(plain, plain_len);
		free(plain);
	}
	return r;
}

static int
sig_prekey_wrap(struct buf *out, const struct x3dh_init_info *info, const uint8_t *msg,
    size_t len)
{
	struct sigw_prekey_message m;

	if (info->ident_pub_len != SUITE_SIGNAL_KEY_LEN)
		return SOTTO_ERR_INVALID_ARG;
	memset(&m, 0, sizeof(m));
	m.registration_id = info->registration_id;
	m.has_prekey_id = info->has_opk;
	m.prekey_id = info->opk_id;
	m.signed_prekey_id = info->spk_id;
	suite_signal_encode_key(m.base_key, info->base_pub);
	memcpy(m.identity_key, info->ident_pub, SUITE_SIGNAL_KEY_LEN);
	m.message = msg;
	m.message_len = len;
	sigw_prekey_message_encode(out, &m);
	return buf_status(out);
}

static int
sig_prekey_parse(struct x3dh_init_info *info, const uint8_t **msg, size_t *msg_len,
    const uint8_t *in, size_t len)
{
	struct sigw_prekey_message m;
	int r;

	if ((r = sigw_prekey_message_decode(&m, in, len)) != 0)
		return r;
	memset(info, 0, sizeof(*info));
	info->registration_id = m.registration_id;
	info->spk_id = m.signed_prekey_id;
	info->has_opk = m.has_prekey_id;
	info->opk_id = m.prekey_id;
	memcpy(info->base_pub, m.base_key + 1, DH_PUBLIC_LEN);
	memcpy(info->ident_pub, m.identity_key, SUITE_SIGNAL_KEY_LEN);
	info->ident_pub_len = SUITE_SIGNAL_KEY_LEN;
	*msg = m.message;
	*msg_len = m.message_len;
	return 0;
}

const struct ratchet_suite suite_signal = {
	.name = "signal-v3",
	.id = SUITE_SIGNAL_ID,
	.ident_pub_len = SUITE_SIGNAL_KEY_LEN,
	.ident_to_dh = sig_ident_to_dh,
	.sign_prekey = sig_sign_prekey,
	.verify_prekey = sig_verify_prekey,
	.kdf_x3dh = sig_kdf_x3dh,
	.kdf_root = sig_kdf_root,
	.kdf_chain = sig_kdf_chain,
	.seal = sig_seal,
	.parse_header = sig_parse_header,
	.open = sig_open,
	.prekey_wrap = sig_prekey_wrap,
	.prekey_parse = sig_prekey_parse,
};
